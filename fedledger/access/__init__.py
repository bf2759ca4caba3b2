"""The gateway's rule: who may download what, checked at the moment of each request.

Role package: :class:`ResourceGate` takes a signed download request (fedledger.chain.access),
checks it (domain, resource, signature, expiry on the chain's clock, nonce), asks the chain
whether the requester holds access now, and opens the resource's sealed blob with the
gateway's key. The HTTP face is fedledger.gateway; docs/security.md has the threat model.
"""

from fedledger.access.gate import (
    NonceBook,
    NonceBookError,
    Refusal,
    ResourceGate,
    Served,
    default_gateway_key_file,
    default_nonce_book,
    seal_resource,
)

__all__ = [
    "NonceBook",
    "NonceBookError",
    "Refusal",
    "ResourceGate",
    "Served",
    "default_gateway_key_file",
    "default_nonce_book",
    "seal_resource",
]
