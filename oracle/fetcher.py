"""Fetch submitted blobs on worker threads, so that one slow or missing blob does not hold
up the verification of the others.

An IPFS node asked for a CID nobody has waits for the whole store timeout
(``storage.timeout_seconds``, 10 s by default) before it says "not found"; fetched one after
the other, a single missing blob would stall every vote behind it. The fetcher runs the
store's ``get`` on a few threads and hands back what has finished; the node decodes,
verifies and votes on its own thread (the verifier is not thread-safe and needs no
parallelism: it is fast and BLAS-bound).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from fedledger.storage import BlobStore

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Fetched(Generic[K]):
    """A finished fetch: the blob, or the exception the store raised, and how long it took."""

    key: K
    blob: bytes | None
    error: Exception | None
    seconds: float


class BlobFetcher(Generic[K]):
    """Runs ``store.get(cid, max_bytes=...)`` for keyed requests on ``workers`` threads."""

    def __init__(self, store: BlobStore, *, max_bytes: int, workers: int = 4) -> None:
        self.store = store
        self.max_bytes = max_bytes
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="oracle-fetch")
        self._in_flight: dict[K, Future[Fetched[K]]] = {}
        self._finished = threading.Event()

    def __contains__(self, key: K) -> bool:
        return key in self._in_flight

    def __len__(self) -> int:
        """Fetches started and not collected yet (running, queued or done)."""
        return len(self._in_flight)

    @property
    def busy(self) -> bool:
        """Whether any fetch has been started and not yet collected."""
        return bool(self._in_flight)

    def start(self, key: K, cid: str) -> None:
        """Start fetching ``cid`` under ``key`` (nothing happens if ``key`` is in flight)."""
        if key in self._in_flight:
            return
        future = self._pool.submit(self._fetch, key, cid)
        future.add_done_callback(lambda _: self._finished.set())
        self._in_flight[key] = future

    def collect(self) -> list[Fetched[K]]:
        """The fetches that finished since the last call, in the order they were started."""
        self._finished.clear()
        done = [key for key, future in self._in_flight.items() if future.done()]
        return [self._in_flight.pop(key).result() for key in done]

    def discard(self, key: K) -> None:
        """Forget a fetch whose result is no longer wanted (it may still run to its end)."""
        future = self._in_flight.pop(key, None)
        if future is not None:
            future.cancel()

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a fetch to finish; True if one has since the
        last wait or collect. Each finish wakes one wait only: a caller that does not
        collect (its chain is down, say) sleeps its full time again rather than spinning."""
        if not self._in_flight or not self._finished.wait(timeout):
            return False
        self._finished.clear()
        return True

    def close(self) -> None:
        """Cancel what has not started; running fetches end with the store's own timeout."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._in_flight.clear()

    def _fetch(self, key: K, cid: str) -> Fetched[K]:
        started = time.perf_counter()
        try:
            blob = self.store.get(cid, max_bytes=self.max_bytes)
        except Exception as exc:  # handed to the node, which decides whose fault it is
            return Fetched(key, None, exc, time.perf_counter() - started)
        return Fetched(key, blob, None, time.perf_counter() - started)
