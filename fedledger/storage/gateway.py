"""Fetching a resource's bytes from a gateway with a signed request, hash-checked.

The gateway's HTTP API (fedledger.gateway)::

    POST {url}/v1/resources/0x<resource>   body: a signed download request (JSON)
      200  the bytes (application/octet-stream), X-Content-Hash: 0x<content hash>
      401  {"error": "..."}  the request itself is refused (signature, domain, expiry, nonce)
      403  {"error": "..."}  the requester holds no access to the resource now
      404  {"error": "..."}  the gateways serve no such resource
      503  {"error": "..."}  the gateway cannot read the chain or the store

The caller passes the content hash the chain records; bytes that do not match it are
refused (:class:`BlobCorrupted`), whatever the gateway says.
"""

from __future__ import annotations

from typing import Any

import httpx

from fedledger.storage.cid import cid_from_content_hash, content_hash_of_blob
from fedledger.storage.errors import BlobCorrupted, BlobTooLarge, StorageError, StoreUnavailable


class GatewayRefused(StorageError):
    """The gateway answered with a refusal; ``reason`` is its one line."""

    def __init__(self, status: int, reason: str, url: str) -> None:
        super().__init__(f"the gateway {url} refused ({status}): {reason}")
        self.status = status
        self.reason = reason


def resource_path(resource: bytes) -> str:
    """The path of a resource on a gateway."""
    return f"/v1/resources/0x{resource.hex()}"


def fetch_through_gateway(
    url: str,
    resource: bytes,
    signed_request: dict[str, Any],
    content_hash: bytes | None,
    *,
    max_bytes: int,
    timeout: float = 30.0,
    client: httpx.Client | None = None,
) -> bytes:
    """POST ``signed_request`` for ``resource`` to the gateway at ``url``; the bytes, once
    they match ``content_hash`` (None: the caller checks them, as for a sealed global model,
    whose plaintext it seals again). GatewayRefused, StoreUnavailable or BlobCorrupted else."""
    target = url.rstrip("/") + resource_path(resource)
    try:
        if client is None:
            with httpx.Client(timeout=timeout) as own:
                response = own.post(target, json=signed_request)
        else:
            response = client.post(target, json=signed_request, timeout=timeout)
    except httpx.HTTPError as error:
        raise StoreUnavailable(
            f"cannot reach the gateway at {url} ({type(error).__name__}: {error}): is it "
            "running? (`fedledger status` lists the gateways)"
        ) from error
    if response.status_code != 200:
        try:
            reason = str(response.json()["error"])
        except (ValueError, KeyError, TypeError):
            reason = response.text.strip()[:200] or response.reason_phrase
        raise GatewayRefused(response.status_code, reason, url)
    data = response.content
    if len(data) > max_bytes:
        raise BlobTooLarge(
            f"the gateway sent {len(data)} bytes, more than the {max_bytes}-byte cap",
            cid=None,
            limit=max_bytes,
        )
    if content_hash is not None and content_hash_of_blob(data) != content_hash:
        raise BlobCorrupted(
            f"the gateway {url} sent bytes whose content hash is not the chain's "
            f"0x{content_hash.hex()}: refused (try another gateway)",
            cid=cid_from_content_hash(content_hash),
        )
    return data
