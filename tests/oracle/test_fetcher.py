"""The blob fetcher's wake-ups and the node's back-off: neither may turn a step that cannot
use a fetched blob (a chain that is down) into a busy loop."""

from __future__ import annotations

import time
from pathlib import Path

from fedledger.storage import LocalStore
from oracle.fetcher import BlobFetcher
from oracle.settings import Backoff


def test_a_finished_fetch_wakes_one_wait_and_then_waits_sleep_their_time(tmp_path: Path) -> None:
    store = LocalStore(tmp_path, max_blob_bytes=1 << 20)
    cid = store.put(b"an update")
    fetcher: BlobFetcher[str] = BlobFetcher(store, max_bytes=1 << 20, workers=1)
    try:
        fetcher.start("a", cid)
        assert fetcher.wait(5.0)  # the fetch finished
        started = time.monotonic()
        assert not fetcher.wait(0.2)  # not collected, but already announced: no second wake
        assert time.monotonic() - started >= 0.19
        (fetched,) = fetcher.collect()
        assert fetched.blob == b"an update" and fetched.error is None
        assert not fetcher.busy
    finally:
        fetcher.close()


def test_the_back_off_doubles_to_its_maximum_and_never_overflows() -> None:
    backoff = Backoff(initial=0.5, maximum=10.0)
    assert [backoff.delay(n) for n in (1, 2, 3, 4, 5, 6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0]
    assert backoff.delay(0) == 0.5
    # An outage of days at a fast poll: thousands of failures in a row.
    assert backoff.delay(5_000) == 10.0
    assert backoff.delay(10**9) == 10.0
