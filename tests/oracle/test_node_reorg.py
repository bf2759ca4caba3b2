"""Reorganisations, made on a real anvil with snapshots: a block the node read is replaced
(its events are undone and read again), and a vote whose block is dropped is cast again,
exactly once on the chain that stays."""

from __future__ import annotations

from fedledger.chain import UpdateStatus
from fedledger.chain.events import UpdateSubmitted, VoteCast
from fedledger.ml import ModelWeights, encode
from tests.fixtures.chain import Testbed
from tests.oracle.conftest import NodeBed, step_until


def test_the_event_stream_reports_replaced_blocks_and_waits_for_confirmations(
    chain_testbed: Testbed,
):
    bed = chain_testbed
    stream = bed.admin.event_stream([UpdateSubmitted], confirmations=0)
    deep = bed.admin.event_stream([UpdateSubmitted], confirmations=2)
    assert stream.poll() == []
    snapshot = bed.dev.snapshot()
    first = bed.participants[0]
    first.coordinator.submit_update(1, bed.hash("first"), 600)
    (seen,) = stream.poll()
    assert seen.participant == first.address
    assert deep.poll() == []  # one block deep is not deep enough
    bed.dev.mine(1)
    assert deep.poll() == []
    bed.dev.mine(1)
    assert [event.participant for event in deep.poll()] == [first.address]

    bed.dev.revert(snapshot)  # the blocks since the snapshot are gone
    bed.client.reset()
    second = bed.participants[1]
    second.coordinator.submit_update(1, bed.hash("second"), 600)
    changes = stream.poll_changes()
    assert changes.removed == [seen]
    assert changes.reorg_from == seen.block_number
    assert [event.participant for event in changes.added] == [second.address]
    assert stream.poll_changes().removed == []  # reported once


def test_a_vote_dropped_by_a_reorganisation_is_cast_again_once(
    node_bed: NodeBed, node_honest: list[ModelWeights]
):
    participant = node_bed.submit(0, encode(node_honest[0]))
    dev = node_bed.bed.dev
    dev.mine(1)  # the submission is one block deep: the node (confirmations 1) acts on it
    node = node_bed.node(0, confirmations=1)
    step_until([node], lambda: bool(node_bed.logged("admitted", 0)))
    node_bed.close_round()  # the vote comes at close
    dev.mine(1)  # the close one block deep: the node judges the round
    snapshot = dev.snapshot()
    step_until([node], lambda: bool(node_bed.logged("vote", 0)))
    assert len(node_bed.votes()) == 1

    dev.revert(snapshot)  # the vote's block is replaced by others without it
    node_bed.bed.client.reset()
    dev.mine(3)
    assert node_bed.votes() == []
    oracle = node_bed.bed.oracles[0].address
    step_until([node], lambda: len(node_bed.logged("vote", 0)) == 2)
    dev.mine(2)
    for _ in range(5):  # confirmed now: further steps change nothing
        node.step()
    votes = [vote for vote in node_bed.votes() if vote.oracle == oracle]
    assert [(vote.participant, vote.round) for vote in votes] == [(participant, 1)]
    assert node_bed.logged("reorg", 0)
    assert node_bed.status(participant)[0] == UpdateStatus.PENDING  # one vote of k = 2
    assert all(isinstance(vote, VoteCast) for vote in votes)
