"""The dashboard's ASGI app: the page, its static files and the JSON API behind it.

    GET /                       the page (static/index.html), which polls /api/state
    GET /api/state              everything the page shows, in one document
    GET /api/rounds             the round history (what ``fedledger rounds --json`` prints)
    GET /api/rounds/{n}         one round with every submission, its votes and verdict
    GET /api/participants       every participant's standing
    GET /api/oracles            the oracle set and each oracle's liveness

Amounts are decimal strings of base units with a ``*_text`` field beside them in human
units; times are epoch seconds on the chain's clock with their ``*_text``. A read that
cannot reach the chain answers 503 with ``{"error": "..."}`` saying what to do, a round
that does not exist 404: the page shows the line and keeps polling.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from fedledger.queries import LedgerUnreachable, QueryError

STATIC_DIR = Path(__file__).with_name("static")
#: Every answer is the chain's state of the moment: never cached.
_NO_STORE = {"Cache-Control": "no-store"}


class StateSource(Protocol):
    """What the app serves: :class:`fedledger.queries.LiveLedger` in production."""

    def state(self) -> dict[str, Any]:
        """The whole dashboard document (``/api/state``)."""
        ...

    def round_detail(self, number: int) -> dict[str, Any]:
        """One round and its submissions; :class:`QueryError` if there is no such round."""
        ...


def create_app(source: StateSource) -> Starlette:
    """The app over ``source``. Reads of the chain are blocking: they run in Starlette's
    thread pool, and ``source`` serialises them itself."""

    async def state(request: Request) -> Response:
        return await _answer(source.state)

    async def section(request: Request) -> Response:
        name = request.url.path.rsplit("/", 1)[-1]
        return await _answer(lambda: source.state()[name])

    async def round_detail(request: Request) -> Response:
        number: int = request.path_params["number"]
        return await _answer(lambda: source.round_detail(number))

    async def page(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    return Starlette(
        routes=[
            Route("/", page),
            Route("/api/state", state),
            Route("/api/rounds", section),
            Route("/api/participants", section),
            Route("/api/oracles", section),
            Route("/api/rounds/{number:int}", round_detail),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ]
    )


async def _answer(read: Any) -> Response:
    try:
        payload = await run_in_threadpool(read)
    except LedgerUnreachable as exc:
        return _error(503, str(exc))
    except QueryError as exc:
        return _error(404, str(exc))
    return JSONResponse(payload, headers=_NO_STORE)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=_NO_STORE)
