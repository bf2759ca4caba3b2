"""Waiting for a new block: the newHeads subscription over WebSocket on a real anvil, and
the polling fallback where a node pushes nothing."""

from __future__ import annotations

import threading
import time

import pytest

from fedledger.chain import ChainClient
from fedledger.chain import heads as heads_module
from fedledger.chain.anvil import Anvil, free_port
from fedledger.chain.client import EventStream
from fedledger.chain.events import RejectionLimitChanged
from fedledger.chain.heads import HeadWatcher, head_watcher, websocket_url
from tests.fixtures.chain import Testbed


def _subscribed(watcher: HeadWatcher) -> HeadWatcher:
    watcher.mark()  # starts the subscription
    deadline = time.monotonic() + 10
    while not watcher.subscribed and time.monotonic() < deadline:
        time.sleep(0.05)
    assert watcher.subscribed, f"no newHeads subscription at {watcher.url}"
    return watcher


def test_the_websocket_url_is_the_rpc_url_with_its_scheme() -> None:
    assert websocket_url("http://127.0.0.1:8545") == "ws://127.0.0.1:8545"
    assert websocket_url("https://node.example/rpc?x=1") == "wss://node.example/rpc?x=1"
    assert websocket_url("ws://127.0.0.1:8546") == "ws://127.0.0.1:8546"
    assert websocket_url("/tmp/geth.ipc") is None


def test_a_waiter_sleeps_until_the_next_block_and_wakes_at_once(
    chain_anvil: Anvil, chain_client: ChainClient
) -> None:
    watcher = _subscribed(HeadWatcher(websocket_url(chain_anvil.rpc_url)))
    try:
        mark = watcher.mark()
        mined_at: list[float] = []

        def mine_later() -> None:
            time.sleep(0.6)
            mined_at.append(time.monotonic())
            chain_client.rpc("evm_mine")

        miner = threading.Thread(target=mine_later)
        started = time.monotonic()
        miner.start()
        assert not watcher.changed_since(mark)
        watcher.wait(mark, poll_interval=0.05)  # a poll interval far shorter than the wait
        woke = time.monotonic()
        miner.join()
        assert watcher.changed_since(mark) and not watcher.changed_since(watcher.mark())
        assert woke - started >= 0.55  # not woken by the poll interval
        assert woke - mined_at[0] < 0.5  # but by the block
        assert watcher.latest == chain_client.block_number()
        assert watcher.mark() > mark
    finally:
        watcher.stop()


def test_a_subscribed_waiter_without_blocks_returns_after_the_idle_limit(
    chain_anvil: Anvil, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(heads_module, "IDLE_SECONDS", 0.4)
    watcher = _subscribed(HeadWatcher(websocket_url(chain_anvil.rpc_url)))
    try:
        started = time.monotonic()
        watcher.wait(watcher.mark(), poll_interval=0.05)
        assert 0.35 <= time.monotonic() - started < 2
    finally:
        watcher.stop()


def test_without_a_websocket_the_waiter_polls() -> None:
    watcher = HeadWatcher(f"ws://127.0.0.1:{free_port()}")  # nothing listens there
    started = time.monotonic()
    watcher.wait(watcher.mark(), poll_interval=0.3)
    assert 0.25 <= time.monotonic() - started < 2
    assert not watcher.subscribed
    unusable = HeadWatcher(None)  # not an HTTP or WebSocket URL: never subscribes
    started = time.monotonic()
    unusable.wait(unusable.mark(), poll_interval=0.2)
    assert 0.15 <= time.monotonic() - started < 2 and not unusable.subscribed
    watcher.stop()


def test_clients_of_one_node_share_the_process_watcher(
    chain_anvil: Anvil, chain_client: ChainClient
) -> None:
    assert chain_client.heads is head_watcher(chain_anvil.rpc_url)
    assert chain_client.heads.url == websocket_url(chain_anvil.rpc_url)


def test_an_event_watcher_wakes_for_its_events_only(chain_testbed: Testbed) -> None:
    """A watcher of the coordinator's RejectionLimitChanged sleeps through blocks without
    one (a mined empty block, a transaction of another kind) and wakes at the one with."""
    client, coordinator = chain_testbed.client, chain_testbed.admin.coordinator
    watcher = _subscribed(client.event_watcher(coordinator.address, [RejectionLimitChanged]))
    mark = watcher.mark()

    def other_blocks_then_the_event() -> None:
        time.sleep(0.3)
        client.rpc("evm_mine")
        coordinator.set_quorum(coordinator.quorum())  # another event, same contract
        time.sleep(0.3)
        coordinator.set_rejection_limit(coordinator.rejection_limit() + 1)

    worker = threading.Thread(target=other_blocks_then_the_event)
    started = time.monotonic()
    worker.start()
    watcher.wait(mark, poll_interval=0.05)
    woke = time.monotonic() - started
    worker.join()
    assert woke >= 0.55  # slept through the empty block and the other event
    assert watcher.latest == client.block_number()  # woken by the block with the event


def test_an_event_stream_sleeps_until_its_events_and_then_reads_them(
    chain_testbed: Testbed,
) -> None:
    client, coordinator = chain_testbed.client, chain_testbed.admin.coordinator
    stream = EventStream(
        client, [coordinator.address], [RejectionLimitChanged], client.block_number() + 1
    )
    _subscribed(stream.watcher)
    mark = stream.mark()
    assert stream.poll() == []

    def another_event_then_ours() -> None:
        time.sleep(0.3)
        coordinator.set_quorum(coordinator.quorum())
        time.sleep(0.3)
        coordinator.set_rejection_limit(coordinator.rejection_limit() + 1)

    worker = threading.Thread(target=another_event_then_ours)
    started = time.monotonic()
    worker.start()
    stream.wait(mark, poll_interval=0.05)
    woke = time.monotonic() - started
    worker.join()
    assert woke >= 0.55
    assert [type(event) for event in stream.poll()] == [RejectionLimitChanged]
