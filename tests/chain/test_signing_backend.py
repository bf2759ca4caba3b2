"""Transactions are signed with native secp256k1 (coincurve), not eth-keys' pure Python,
and the native signatures are the same bytes (RFC 6979 nonces are deterministic)."""

from __future__ import annotations

from eth_account import Account
from eth_keys import KeyAPI, backends
from eth_utils import keccak

from fedledger.chain.keys import dev_account


def test_eth_keys_signs_with_coincurve_and_agrees_with_pure_python() -> None:
    assert backends.is_coincurve_available(), "install the pinned coincurve (constraints.txt)"
    assert type(backends.get_backend()).__name__ == "CoinCurveECCBackend"
    account = dev_account(1)
    transaction = {
        "type": 2,
        "chainId": 31337,
        "nonce": 7,
        "to": dev_account(2).address,
        "value": 1,
        "gas": 21_000,
        "maxFeePerGas": 2_000_000_000,
        "maxPriorityFeePerGas": 1_000_000_000,
    }
    signed = account.sign_transaction(transaction)  # through the default backend
    assert Account.recover_transaction(signed.raw_transaction) == account.address
    digest = keccak(b"a vote")
    native = KeyAPI(backends.CoinCurveECCBackend()).PrivateKey(account.key)
    pure = KeyAPI(backends.NativeECCBackend()).PrivateKey(account.key)
    assert native.sign_msg_hash(digest).to_bytes() == pure.sign_msg_hash(digest).to_bytes()
    through_account = account.unsafe_sign_hash(digest)
    direct = native.sign_msg_hash(digest)
    assert (through_account.r, through_account.s) == (direct.r, direct.s)
