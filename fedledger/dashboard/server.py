"""Serving the dashboard with uvicorn, on a socket bound before the server starts (so that
``--port 0`` can say which port it got, and a taken port fails with one clear line)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn


class DashboardServer:
    """A uvicorn server for ``app`` on ``host:port`` (0: any free port). The socket is
    bound here; :meth:`run` serves until Ctrl-C or SIGTERM, :meth:`start` in a thread of
    this process (for scripts) until :meth:`stop`."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((host, port))
        except OSError as exc:
            self._socket.close()
            raise OSError(
                f"cannot listen on {host}:{port} ({exc.strerror}): choose another --port "
                "(0 picks a free one)"
            ) from exc
        self.host = host
        self.port: int = self._socket.getsockname()[1]
        self._server = uvicorn.Server(
            uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        )
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def run(self) -> None:
        """Serve until interrupted (uvicorn handles SIGINT and SIGTERM)."""
        self._server.run(sockets=[self._socket])

    def start(self) -> None:
        """Serve from a background thread; returns once the server accepts connections."""
        self._thread = threading.Thread(target=self.run, name="dashboard", daemon=True)
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the dashboard server stopped while starting")
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._socket.close()
