"""`fedledger gateway` (real uvicorn on loopback) against the real test anvil: a purchase
then a download gives the bytes the chain's hash names; every kind of bad request is
refused with its one-line reason; access that expires stops at the chain's time; the
store holds the resource only sealed."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
from eth_account import Account

from fedledger.access import NonceBook, NonceBookError
from fedledger.chain.access import GatewayDomain
from fedledger.crypto import (
    NotARecipient,
    ResourceBinding,
    generate_key_pair,
    is_envelope,
    open_envelope,
)
from fedledger.storage import cid_from_content_hash, content_hash_of_blob
from tests.cli.conftest import Cli
from tests.gateway.conftest import Gateway, Shop, open_shop


def refused(response, status: int) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == status, (response.status_code, response.text[:300])
    reason = response.json()["error"]
    assert isinstance(reason, str) and "\n" not in reason
    return reason


def test_purchase_then_download_gives_the_bytes_the_chain_names(shop: Shop, tmp_path: Path) -> None:
    cli = shop.cli
    before = cli.json("rewards", "access", shop.resource_hex, "--check", "--key", shop.buyer_key)
    assert before["has_access"] is False and before["price"] == str(2 * 10**18)
    assert "holds no access" in cli.fails(
        "rewards", "download", shop.resource_hex, "--key", shop.buyer_key, "-o", str(tmp_path / "x")
    )
    cli.ok("rewards", "access", shop.resource_hex, "--key", shop.buyer_key)
    out = tmp_path / "models" / "supplementary.bin"
    printed = cli.json(
        "rewards", "download", shop.resource_hex, "--key", shop.buyer_key, "-o", str(out)
    )
    assert out.read_bytes() == shop.data
    on_chain = cli.admin.vault.resource_of(shop.resource)
    assert content_hash_of_blob(out.read_bytes()) == on_chain.content_hash
    assert printed["bytes"] == len(shop.data) and printed["gateway"] == shop.gateway.url
    assert not list(out.parent.glob(".*.tmp"))  # the atomic write left nothing behind
    status = cli.json("rewards", "access", shop.resource_hex, "--check", "--key", shop.buyer_key)
    assert status["has_access"] is True and status["expires_at"] is None  # never expires


def test_an_address_without_access_is_refused_403(shop: Shop) -> None:
    outsider = shop.cli.bed.outsider.signer
    reason = refused(shop.gateway.post(shop.resource, shop.signed(outsider).to_json()), 403)
    assert reason.startswith(f"{outsider.address} holds no access to {shop.resource_hex}")
    assert "fedledger rewards access" in reason


def test_a_replayed_nonce_is_refused(shop: Shop) -> None:
    shop.cli.ok("rewards", "access", shop.resource_hex, "--key", shop.buyer_key)
    body = shop.signed().to_json()
    first = shop.gateway.post(shop.resource, body)
    assert first.status_code == 200 and first.content == shop.data
    assert first.headers["X-Content-Hash"] == "0x" + content_hash_of_blob(shop.data).hex()
    reason = refused(shop.gateway.post(shop.resource, body), 401)
    assert "was used already" in reason


def test_a_restarted_gateway_still_refuses_a_nonce_it_served(
    shop: Shop, start_gateway: Callable[..., Gateway]
) -> None:
    shop.cli.ok("rewards", "access", shop.resource_hex, "--key", shop.buyer_key)
    body = shop.signed().to_json()
    assert shop.gateway.post(shop.resource, body).status_code == 200
    shop.gateway.process.terminate()
    assert shop.gateway.process.wait(timeout=30) is not None
    restarted = start_gateway()  # the same key file, so the same registered gateway
    assert restarted.key_file == shop.gateway.key_file
    reason = refused(restarted.post(shop.resource, body), 401)
    assert "was used already" in reason
    fresh = restarted.post(shop.resource, shop.signed().to_json())
    assert fresh.status_code == 200 and fresh.content == shop.data


def test_the_nonce_book_file_keeps_claims_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "book" / "nonces.sqlite"
    first = NonceBook(path)
    assert first.claim("0xAbC", 2**255 + 7, expiry=200, now=100)
    assert not first.claim("0xabc", 2**255 + 7, expiry=200, now=100)  # case is not a new key
    first.close()
    second = NonceBook(path)
    assert not second.claim("0xabc", 2**255 + 7, expiry=200, now=150)
    assert second.claim("0xabc", 2**255 + 8, expiry=200, now=150)
    assert second.claim("0xdef", 2**255 + 7, expiry=200, now=150)
    second.close()
    (tmp_path / "not-a-db").write_bytes(b"garbage" * 100)
    with pytest.raises(NonceBookError, match="move the broken one away"):
        NonceBook(tmp_path / "not-a-db")


def test_an_expired_or_too_long_request_is_refused(shop: Shop) -> None:
    shop.cli.ok("rewards", "access", shop.resource_hex, "--key", shop.buyer_key)
    now = shop.cli.bed.client.chain_time()
    expired = shop.signed(expiry=now - 5).to_json()
    assert "expired" in refused(shop.gateway.post(shop.resource, expired), 401)
    forever = shop.signed(expiry=now + 10**6).to_json()
    assert "ahead of the chain's clock" in refused(shop.gateway.post(shop.resource, forever), 401)


def test_a_signature_for_another_chain_or_deployment_is_refused(shop: Shop) -> None:
    shop.cli.ok("rewards", "access", shop.resource_hex, "--key", shop.buyer_key)
    other_chain = GatewayDomain(shop.domain.chain_id + 1, shop.domain.registry)
    reason = refused(
        shop.gateway.post(shop.resource, shop.signed(domain=other_chain).to_json()), 401
    )
    assert reason.startswith(f"signed for chain {other_chain.chain_id}")
    other_registry = GatewayDomain(shop.domain.chain_id, shop.cli.bed.deployment.vault)
    reason = refused(
        shop.gateway.post(shop.resource, shop.signed(domain=other_registry).to_json()), 401
    )
    assert "signed for the deployment" in reason
    # Signed for another chain but sent claiming this one: the signature does not recover.
    forged = dataclasses.replace(shop.signed(domain=other_chain), domain=shop.domain)
    assert "signature is not" in refused(shop.gateway.post(shop.resource, forged.to_json()), 401)


def test_a_tampered_resource_id_is_refused(shop: Shop) -> None:
    shop.cli.ok("rewards", "access", shop.resource_hex, "--key", shop.buyer_key)
    other = bytes(31) + b"\x01"
    # The URL names another resource than the signed request.
    assert "names resource" in refused(shop.gateway.post(other, shop.signed().to_json()), 401)
    # The request's resource was changed after signing.
    signed = shop.signed(resource=other)
    body = signed.to_json()
    body["request"]["resource"] = shop.resource_hex
    assert "signature is not" in refused(shop.gateway.post(shop.resource, body), 401)
    # A request signed by one key naming another address as the requester.
    body = shop.signed(Account.create()).to_json()
    body["request"]["requester"] = shop.buyer.address
    assert "signature is not" in refused(shop.gateway.post(shop.resource, body), 401)


def test_malformed_requests_are_refused_in_one_line(shop: Shop) -> None:
    assert "not a signed download request" in refused(shop.gateway.post(shop.resource, {}), 401)
    body = shop.signed().to_json()
    body["signature"] = "0x1234"
    assert "65 bytes" in refused(shop.gateway.post(shop.resource, body), 401)
    unknown = bytes(32)
    body = shop.signed(resource=unknown).to_json()
    assert "not a resource the gateways serve" in refused(shop.gateway.post(unknown, body), 404)


def test_access_that_expires_stops_at_the_chain_time(
    cli: Cli,
    start_gateway: Callable[..., Gateway],
    tmp_path: Path,
) -> None:
    timed = open_shop(cli, start_gateway(), tmp_path, duration=3_600)
    cli.ok("rewards", "access", timed.resource_hex, "--key", timed.buyer_key)
    status = cli.json("rewards", "access", timed.resource_hex, "--check", "--key", timed.buyer_key)
    assert status["has_access"] and status["access_duration"] == 3_600
    out = tmp_path / "timed.bin"
    cli.ok("rewards", "download", timed.resource_hex, "--key", timed.buyer_key, "-o", str(out))
    assert out.read_bytes() == timed.data

    cli.ok("chain", "advance", "3601")  # the chain's clock, not the wall clock
    status = cli.json("rewards", "access", timed.resource_hex, "--check", "--key", timed.buyer_key)
    assert status["has_access"] is False and status["expires_at"] is not None
    reason = refused(timed.gateway.post(timed.resource, timed.signed().to_json()), 403)
    assert "expired" in reason and "buy it again" in reason
    assert "expired" in cli.fails(
        "rewards", "download", timed.resource_hex, "--key", timed.buyer_key, "-o", str(out)
    )
    cli.ok("rewards", "access", timed.resource_hex, "--key", timed.buyer_key)  # buys again
    assert timed.gateway.post(timed.resource, timed.signed().to_json()).status_code == 200


def test_the_store_holds_the_resource_only_sealed_for_the_gateway(shop: Shop) -> None:
    info = shop.cli.admin.vault.resource_of(shop.resource)
    store = shop.cli.store
    assert not store.has(cid_from_content_hash(info.content_hash))  # never stored in clear
    sealed = store.get(cid_from_content_hash(info.sealed_blob))
    assert is_envelope(sealed) and shop.data not in sealed
    binding = ResourceBinding(
        shop.cli.bed.client.chain_id, shop.cli.admin.vault.address, shop.resource
    )
    with pytest.raises(NotARecipient):
        open_envelope(sealed, binding, [generate_key_pair().private_key])


def test_the_gateway_without_its_key_file_says_what_to_do(cli: Cli, tmp_path: Path) -> None:
    line = cli.fails("gateway", "--key-file", str(tmp_path / "missing.json"), "--port", "0")
    assert "no encryption key file" in line


def test_status_shows_the_policy_and_the_gateways(shop: Shop) -> None:
    status = shop.cli.json("status")
    assert status["global_model_policy"] == "public"
    assert status["gateways"] == [
        {
            "address": shop.cli.bed.oracles[0].address,
            "url": shop.gateway.url,
            "encryption_key": "0x" + shop.cli.admin.gateways.gateways()[0].encryption_key.hex(),
        }
    ]
    text = shop.cli.ok("status")
    assert f"global models: public; gateways: {shop.cli.bed.oracles[0].address} at" in text
    shop.cli.ok("admin", "remove-gateway", shop.cli.bed.oracles[0].address, "--key", "dev:0")
    assert shop.cli.json("status")["gateways"] == []


def test_admin_gateway_commands_check_their_input(shop: Shop, tmp_path: Path) -> None:
    line = shop.cli.fails(
        "admin",
        "set-gateway",
        shop.cli.bed.oracles[1].address,
        "--encryption-key",
        "0x12",
        "--url",
        "http://x",
        code=2,
    )
    assert "X25519 public key" in line
    shop.cli.ok("admin", "remove-gateway", shop.cli.bed.oracles[0].address)
    blob = tmp_path / "b.bin"
    blob.write_bytes(b"x")
    assert "no gateway is registered" in shop.cli.fails(
        "admin", "add-resource", str(blob), "--price", "1"
    )
