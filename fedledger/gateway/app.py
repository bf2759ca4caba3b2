"""The gateway's ASGI app over a :class:`fedledger.access.ResourceGate`."""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fedledger.access import Refusal, ResourceGate

#: A signed request is a few hundred bytes; anything much larger is not one.
MAX_BODY_BYTES = 8192
_NO_STORE = {"Cache-Control": "no-store"}


def _refuse(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status, headers=_NO_STORE)


def create_app(gate: ResourceGate, info: dict[str, Any]) -> Starlette:
    """The app; ``info`` is what ``GET /v1/info`` shows (public facts of this gateway)."""

    async def download(request: Request) -> Response:
        text = request.path_params["resource"]
        try:
            resource = bytes.fromhex(text.removeprefix("0x"))
        except ValueError:
            resource = b""
        if len(resource) != 32:
            return _refuse(404, f"{text!r} is not a resource id (0x and 64 hex digits)")
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            return _refuse(401, f"the request body is over {MAX_BODY_BYTES} bytes")
        try:
            body = json.loads(raw)
        except ValueError:
            return _refuse(401, "the request body is not JSON: send a signed download request")
        try:
            served = await run_in_threadpool(gate.serve, resource, body)
        except Refusal as refusal:
            return _refuse(refusal.status, refusal.reason)
        return Response(
            served.data,
            media_type="application/octet-stream",
            headers={"X-Content-Hash": "0x" + served.content_hash.hex(), **_NO_STORE},
        )

    async def show_info(request: Request) -> Response:
        return JSONResponse(info)

    return Starlette(
        routes=[
            Route("/v1/resources/{resource}", download, methods=["POST"]),
            Route("/v1/info", show_info, methods=["GET"]),
        ]
    )
