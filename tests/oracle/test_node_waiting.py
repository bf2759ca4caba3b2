"""An idle node sleeps on the chain's announcements (eth_subscribe over WebSocket, which
anvil serves) instead of polling: it reads the chain every ``idle_interval`` seconds at
most, wakes at once for a submission, and by the chain's clock for the round's close.
(Without a subscription it polls every ``poll_interval`` as before: tests/chain/test_heads.py
has the watcher's fallback.)"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from fedledger.chain import RoundState
from fedledger.chain.heads import RETRY_SECONDS
from fedledger.ml import ModelWeights, encode
from oracle.node import OracleNode
from oracle.settings import StepReport
from tests.oracle.conftest import NodeBed


class _CountingNode(OracleNode):
    """An oracle node that counts its steps (each one reads the chain)."""

    steps = 0

    def step(self) -> StepReport:
        self.steps += 1
        return super().step()


def _counting(node_bed: NodeBed, idle_interval: float, close_after: float = 10.0) -> _CountingNode:
    made = node_bed.node(
        0, poll_interval=0.05, idle_interval=idle_interval, close_after=close_after
    )
    made.__class__ = _CountingNode
    return made  # type: ignore[return-value]


@contextmanager
def _running(node: OracleNode) -> Iterator[threading.Thread]:
    thread = threading.Thread(target=node.run, name="oracle", daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        node.request_stop()
        thread.join(timeout=10)
        assert not thread.is_alive()


def _until(condition, timeout: float, what: str) -> float:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what} not within {timeout:g} s")
        time.sleep(0.02)
    return time.monotonic() - started


def test_an_idle_node_sleeps_on_the_subscription_and_wakes_for_a_submission(
    node_bed: NodeBed, node_honest: list[ModelWeights]
) -> None:
    node = _counting(node_bed, idle_interval=30.0)
    with _running(node):
        # The process's watcher may be new (it subscribes after the first step) or an
        # earlier test's (same anvil, same deployment address), even between two attempts
        # to subscribe: it tries again every RETRY_SECONDS.
        _until(
            lambda: node._subscribed() and node.steps >= 1, RETRY_SECONDS + 15, "the subscription"
        )
        time.sleep(0.5)  # the step after a new subscription, then the idle pause
        before = node.steps
        time.sleep(1.5)
        # At 0.05 s between polls that would be about 30 steps.
        assert node.steps - before <= 2
        blob = encode(node_honest[0])
        submitted = time.monotonic()
        node_bed.submit(0, blob)
        _until(lambda: node_bed.logged("admitted"), 10, "the admission")
        assert time.monotonic() - submitted < 5.0  # woken by the event, not the 30 s net


def test_an_idle_node_wakes_for_the_close_by_the_chains_clock(node_bed: NodeBed) -> None:
    """Nothing is announced when a deadline passes: the node reads the chain's clock and
    sleeps until the close is due (deadline + close_after), not its idle_interval."""
    coordinator = node_bed.bed.admin.coordinator
    deadline = coordinator.latest_model().deadline
    close_after = 1.0
    node_bed.bed.dev.increase_time(deadline - node_bed.bed.client.chain_time() - 2)
    node = _counting(node_bed, idle_interval=60.0, close_after=close_after)
    with _running(node):
        waited = _until(
            lambda: coordinator.get_round(1).state != RoundState.OPEN, 20, "the node's close"
        )
    assert waited < 10.0
    assert node_bed.logged("closed")
