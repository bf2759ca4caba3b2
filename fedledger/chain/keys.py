"""Where signing keys come from. Never from a config file.

In order of precedence:

1. an encrypted eth-account keystore (JSON V3): the ``keystore`` argument or
   ``$FEDLEDGER_KEYSTORE``, with its password from ``$FEDLEDGER_KEYSTORE_PASSWORD`` or a
   prompt the caller supplies (the CLI asks interactively);
2. a hex private key in ``$FEDLEDGER_PRIVATE_KEY``;
3. on the embedded development chain only: the well-known anvil dev accounts, derived
   from anvil's public test mnemonic (worthless anywhere else, so refused elsewhere).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path

from eth_account import Account
from eth_account.hdaccount import key_from_seed, seed_from_mnemonic
from eth_account.signers.local import LocalAccount

from fedledger.chain.errors import AccountError
from fedledger.config import NetworkSettings

#: anvil's (and Hardhat's) public development mnemonic.
DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_DERIVATION_PATH = "m/44'/60'/0'/0/{index}"

PRIVATE_KEY_ENV = "FEDLEDGER_PRIVATE_KEY"
KEYSTORE_ENV = "FEDLEDGER_KEYSTORE"
KEYSTORE_PASSWORD_ENV = "FEDLEDGER_KEYSTORE_PASSWORD"


def dev_account(index: int) -> LocalAccount:
    """Dev account ``index`` of the embedded chain (anvil's account list, same order)."""
    return Account.from_key(_dev_key(index))


def dev_accounts(count: int) -> list[LocalAccount]:
    return [dev_account(index) for index in range(count)]


@lru_cache(maxsize=256)
def _dev_key(index: int) -> bytes:
    # The seed derivation (PBKDF2, 2048 rounds) dominates; cache per index.
    seed = _dev_seed()
    return key_from_seed(seed, DEV_DERIVATION_PATH.format(index=index))


@lru_cache(maxsize=1)
def _dev_seed() -> bytes:
    return seed_from_mnemonic(DEV_MNEMONIC, "")


def load_keystore(path: Path, password: str) -> LocalAccount:
    """Decrypt a JSON V3 keystore file (as written by geth, clef or eth-account)."""
    try:
        encrypted = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise AccountError(f"cannot read keystore {path}: {exc}") from exc
    try:
        return Account.from_key(Account.decrypt(encrypted, password))
    except ValueError as exc:
        raise AccountError(f"cannot decrypt keystore {path}: wrong password?") from exc


def write_keystore(account: LocalAccount, path: Path, password: str) -> Path:
    """Encrypt ``account`` into a keystore file readable only by its owner."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    encrypted = Account.encrypt(account.key, password)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(encrypted, handle)
    return path


def resolve_account(
    network: NetworkSettings,
    *,
    keystore: Path | None = None,
    password_prompt: Callable[[], str] | None = None,
    dev_index: int = 0,
    environ: Mapping[str, str] | None = None,
) -> LocalAccount:
    """The signing account for ``network`` (see the module docstring for the order)."""
    env = os.environ if environ is None else environ
    keystore_path = keystore or (Path(env[KEYSTORE_ENV]) if env.get(KEYSTORE_ENV) else None)
    if keystore_path is not None:
        password = env.get(KEYSTORE_PASSWORD_ENV)
        if password is None:
            if password_prompt is None:
                raise AccountError(
                    f"keystore {keystore_path} needs a password: set {KEYSTORE_PASSWORD_ENV} "
                    "or run interactively"
                )
            password = password_prompt()
        return load_keystore(keystore_path, password)

    private_key = env.get(PRIVATE_KEY_ENV)
    if private_key:
        try:
            return Account.from_key(private_key.strip())
        except ValueError as exc:
            raise AccountError(f"{PRIVATE_KEY_ENV} is not a valid private key: {exc}") from None

    if network.embedded:
        if not 0 <= dev_index < network.accounts:
            raise AccountError(
                f"dev account {dev_index} does not exist: the embedded chain has "
                f"{network.accounts} accounts (0..{network.accounts - 1})"
            )
        return dev_account(dev_index)
    raise AccountError(
        f"network {network.name!r} needs a signing key: pass --key PATH (or set "
        f"{KEYSTORE_ENV}), or set {PRIVATE_KEY_ENV}; dev accounts exist only on the "
        "embedded chain"
    )
