"""Signed download requests (EIP-712 typed data) that gateways accept.

A requester proves that it controls its key by signing, with its wallet key, a
``Download`` message whose domain names the chain and the deployment's GatewayRegistry::

    domain  = {name: "FedLedger Gateway", version: "1", chainId, verifyingContract: registry}
    Download(bytes32 resource, address requester, uint256 nonce, uint64 expiry)

``expiry`` is a time on the chain's clock (seconds); ``nonce`` any number the requester
never used before (a random 128-bit one). The gateway recovers the signer with its own
domain, so a signature made for another chain or another deployment recovers another
address and is refused. This module is the one codec of that message: the client signs
with :func:`sign_download`, the gateway checks with :func:`recover_requester`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

DOMAIN_NAME = "FedLedger Gateway"
DOMAIN_VERSION = "1"
#: The longest a signed request may stay valid: bounds what a gateway must remember.
MAX_REQUEST_LIFETIME = 600

_TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
    "Download": [
        {"name": "resource", "type": "bytes32"},
        {"name": "requester", "type": "address"},
        {"name": "nonce", "type": "uint256"},
        {"name": "expiry", "type": "uint64"},
    ],
}


class MalformedRequest(ValueError):
    """The request document is not a signed download request of this version."""


@dataclass(frozen=True)
class GatewayDomain:
    """The EIP-712 domain of one deployment's gateways."""

    chain_id: int
    registry: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": self.chain_id,
            "verifyingContract": to_checksum_address(self.registry),
        }


@dataclass(frozen=True)
class DownloadRequest:
    """What the requester signs: this resource, for me, once, until ``expiry``."""

    resource: bytes
    requester: str
    nonce: int
    expiry: int

    def to_json(self) -> dict[str, Any]:
        return {
            "resource": "0x" + self.resource.hex(),
            "requester": to_checksum_address(self.requester),
            "nonce": str(self.nonce),
            "expiry": self.expiry,
        }


@dataclass(frozen=True)
class SignedDownload:
    """A request, the domain it was signed for and the signature: the HTTP body."""

    domain: GatewayDomain
    request: DownloadRequest
    signature: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "domain": self.domain.to_json(),
            "request": self.request.to_json(),
            "signature": "0x" + self.signature.hex(),
        }

    @classmethod
    def from_json(cls, document: Any) -> SignedDownload:
        """Parse the body a client sent; MalformedRequest says what is wrong in one line."""
        try:
            domain, request = document["domain"], document["request"]
            if domain["name"] != DOMAIN_NAME or str(domain["version"]) != DOMAIN_VERSION:
                raise MalformedRequest(
                    f"signed for domain {domain['name']!r} version {domain['version']!r}, "
                    f"not {DOMAIN_NAME!r} version {DOMAIN_VERSION}"
                )
            resource = _hex_bytes(request["resource"], 32, "resource")
            signature = _hex_bytes(document["signature"], 65, "signature")
            return cls(
                GatewayDomain(
                    int(domain["chainId"]), to_checksum_address(domain["verifyingContract"])
                ),
                DownloadRequest(
                    resource,
                    to_checksum_address(request["requester"]),
                    int(request["nonce"]),
                    int(request["expiry"]),
                ),
                signature,
            )
        except MalformedRequest:
            raise
        except (KeyError, TypeError, ValueError) as error:
            raise MalformedRequest(
                f"not a signed download request ({type(error).__name__}: {error}); send "
                '{"domain": ..., "request": {"resource", "requester", "nonce", "expiry"}, '
                '"signature"}'
            ) from None


def _hex_bytes(value: Any, size: int, what: str) -> bytes:
    raw = bytes.fromhex(str(value).removeprefix("0x"))
    if len(raw) != size:
        raise MalformedRequest(f"the {what} must be {size} bytes, got {len(raw)}")
    return raw


def _typed_data(domain: GatewayDomain, request: DownloadRequest) -> dict[str, Any]:
    message = request.to_json()
    message["resource"] = request.resource
    message["nonce"] = request.nonce
    return {
        "types": _TYPES,
        "primaryType": "Download",
        "domain": domain.to_json(),
        "message": message,
    }


def sign_download(
    account: LocalAccount,
    domain: GatewayDomain,
    resource: bytes,
    expiry: int,
    nonce: int | None = None,
) -> SignedDownload:
    """Sign a request for ``resource`` valid until ``expiry`` (chain time) with a fresh
    random nonce (or ``nonce``)."""
    request = DownloadRequest(
        bytes(resource), account.address, secrets.randbits(128) if nonce is None else nonce, expiry
    )
    signable = encode_typed_data(full_message=_typed_data(domain, request))
    signed = account.sign_message(signable)
    return SignedDownload(domain, request, bytes(signed.signature))


def recover_requester(domain: GatewayDomain, request: DownloadRequest, signature: bytes) -> str:
    """The address that signed ``request`` under ``domain`` (any address for a signature
    made under another domain or over other fields: compare it with the requester)."""
    signable = encode_typed_data(full_message=_typed_data(domain, request))
    try:
        return str(Account.recover_message(signable, signature=signature))
    except (ValueError, TypeError) as error:
        raise MalformedRequest(f"the signature cannot be recovered ({error})") from None
