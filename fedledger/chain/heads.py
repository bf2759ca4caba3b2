"""Waiting for the chain to change: new block headers pushed by the node over WebSocket
(``eth_subscribe("newHeads")``, which anvil and geth serve), polling as the fallback.

Everything a waiting party looks for (a round opening, a verdict, a settlement) is a
state change, and state changes only in a new block. So instead of reading the chain
every ``poll_interval`` seconds, a waiter takes a mark (:meth:`HeadWatcher.mark`) before
it reads, and then sleeps until a block newer than the mark is announced
(:meth:`HeadWatcher.wait`): an idle process makes no request at all, and a waiting one
reacts as soon as the block is there instead of at its next poll. (A subscription that
comes up counts as a change too: a block announced before it would be missed.)

A waiter that looks for particular events (a round opening, an update settled) can
watch only the blocks that carry them: ``eth_subscribe("logs", filter)``, with the
contract's address and the events' topics (:func:`head_watcher` with ``log_filter``), so
that it is not woken by every vote or submission of the others.

One :class:`HeadWatcher` per process, node URL and filter (:func:`head_watcher`), shared by
every thread: a background thread holds one subscription and wakes every waiter. The WebSocket
URL is the RPC URL with ``ws``/``wss`` for ``http``/``https``: anvil serves both on one
port. Where that fails (geth serves WebSocket on a port of its own, or a provider has
none) or the connection drops, :meth:`HeadWatcher.wait` sleeps the caller's poll interval
as before, and the watcher tries to subscribe again every :data:`RETRY_SECONDS`.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection, connect

#: Seconds between two attempts to subscribe after a failure.
RETRY_SECONDS = 10.0
#: Seconds a subscribed waiter sleeps at most without a new block (a safety net: a head
#: lost in transit costs at most this much delay).
IDLE_SECONDS = 5.0
#: Seconds to open the WebSocket and to confirm the subscription.
CONNECT_SECONDS = 2.0


def websocket_url(rpc_url: str) -> str | None:
    """The WebSocket URL of the node at ``rpc_url`` (same host and port), or None when the
    URL is not HTTP(S) or WebSocket."""
    parts = urlsplit(rpc_url)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None:
        return None
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, ""))


class HeadWatcher:
    """The newest block the node announced, and a way to sleep until a newer one.

    ``latest`` is the newest block number announced (-1 before the first);
    ``subscribed`` is True while a subscription is live. The background thread starts on
    the first :meth:`mark` and is a daemon (it never keeps a process alive).
    """

    def __init__(self, url: str | None, log_filter: dict[str, Any] | None = None) -> None:
        self.url = url
        self.log_filter = log_filter
        self.latest = -1
        self.subscribed = False
        self.heads_seen = 0
        self._generation = 0  # bumped by every head and every new subscription
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()

    def mark(self) -> int:
        """Take before reading the chain; :meth:`wait` then sleeps until it changed."""
        self._start()
        with self._changed:
            return self._generation

    def changed_since(self, mark: int) -> bool:
        """Whether a block (or a new subscription) was announced after ``mark`` was taken:
        for a waiter that sleeps on something else too and checks between naps."""
        with self._changed:
            return self._generation > mark

    def wait(self, mark: int, poll_interval: float) -> None:
        """Return once a block was announced after ``mark`` was taken; without a live
        subscription, after ``poll_interval`` seconds. A subscribed waiter also returns
        after :data:`IDLE_SECONDS` without any new block."""
        self._start()
        now = time.monotonic()
        polled, idle = now + poll_interval, now + max(poll_interval, IDLE_SECONDS)
        with self._changed:
            # A subscription that comes up bumps the generation (so the loop ends); one that
            # drops turns the wait back into a poll.
            while self._generation <= mark:
                left = (idle if self.subscribed else polled) - time.monotonic()
                if left <= 0:
                    return
                self._changed.wait(left)

    def stop(self) -> None:
        self._stopped.set()

    def _start(self) -> None:
        if self._thread is None and self.url is not None:
            with self._changed:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._follow, name="chain-heads", daemon=True
                    )
                    self._thread.start()

    def _follow(self) -> None:
        assert self.url is not None
        while not self._stopped.is_set():
            try:
                with connect(
                    self.url, open_timeout=CONNECT_SECONDS, close_timeout=0.5
                ) as connection:
                    self._subscribe(connection)
                    for message in connection:
                        self._on_message(message)
                        if self._stopped.is_set():
                            return
            except (OSError, WebSocketException, TimeoutError, ValueError, KeyError):
                pass
            self._set_subscribed(False)
            self._stopped.wait(RETRY_SECONDS)

    def _subscribe(self, connection: ClientConnection) -> None:
        params: list[Any] = ["logs", self.log_filter] if self.log_filter else ["newHeads"]
        request = {"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": params}
        connection.send(json.dumps(request))
        reply = json.loads(connection.recv(timeout=CONNECT_SECONDS))
        if "result" not in reply:
            raise ValueError(f"the node refused the subscription: {reply.get('error')}")
        self._set_subscribed(True)

    def _on_message(self, message: str | bytes) -> None:
        payload = json.loads(message)
        result = payload["params"]["result"]  # a header, or a log
        number = int(result["number"] if "number" in result else result["blockNumber"], 16)
        with self._changed:
            self.heads_seen += 1
            self.latest = max(self.latest, number)
            self._generation += 1
            self._changed.notify_all()

    def _set_subscribed(self, subscribed: bool) -> None:
        with self._changed:
            if subscribed and not self.subscribed:
                self._generation += 1
            self.subscribed = subscribed
            self._changed.notify_all()


_watchers: dict[tuple[str, str], HeadWatcher] = {}
_watchers_lock = threading.Lock()


def head_watcher(rpc_url: str, log_filter: dict[str, Any] | None = None) -> HeadWatcher:
    """The process's watcher of the node at ``rpc_url`` (made on first use): of every new
    block, or with ``log_filter`` (``{"address": ..., "topics": [...]}``, as eth_getLogs
    takes it) of the blocks with a matching log."""
    key = (rpc_url, json.dumps(log_filter, sort_keys=True))
    with _watchers_lock:
        watcher = _watchers.get(key)
        if watcher is None:
            watcher = _watchers[key] = HeadWatcher(websocket_url(rpc_url), log_filter)
        return watcher
