"""``fedledger gateway``: the HTTP face of fedledger.access (Starlette, served by uvicorn).

    POST /v1/resources/0x<resource>   a signed download request -> the resource's bytes
    GET  /v1/info                     chain id, registry, policy, this gateway's key

Refusals are 401 (the request: signature, domain, expiry, nonce), 403 (no access now),
404 (no such resource) or 503 (chain or store unreachable), each with ``{"error": "..."}``.
"""

from fedledger.gateway.app import create_app

__all__ = ["create_app"]
