"""The nodes vote at close: on a real chain and store, updates that fail the checks on their
weights alone are rejected as they arrive, the rest wait for the round's judgement in each
other's company (honest two-class clients accepted, misaligned and free-riding
ones rejected), every oracle proposes the same bounded aggregate and the round finalizes;
a node restarted in the verification grace votes on nothing twice; a stale update is
rejected on arrival, also by a node that never saw the earlier round."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from fedledger.chain import ReasonCode, RoundState, UpdateStatus
from fedledger.chain.events import AggregateProposed, RoundFinalized
from fedledger.ml import ModelWeights, attacks, encode, fedavg
from fedledger.ml.aggregation import bounded_fedavg
from fedledger.storage import content_hash_of_blob
from tests.oracle.conftest import TWO_CLASS_CLIENTS, NodeBed, settle, step_until


@pytest.fixture(scope="module")
def node_genesis(rounds: dict[str, Any]) -> ModelWeights:
    """Round 1 starts from the two-class federation's first global model (the node bed
    stores it as the genesis blob)."""
    return rounds["first"]


def _bad_updates(first: ModelWeights, honest: list[ModelWeights]) -> dict[str, ModelWeights]:
    noisy = attacks.gaussian_noise(first, 1e-3, seed=3)
    return {
        # the honest clients' mean step reversed: against the oracle's own step
        "misaligned": attacks.sign_flip(first, fedavg(honest), 1.5),
        # no training: the global model plus noise off the first layer
        "free-rider": ModelWeights(first.architecture, (first.arrays[0], *noisy.arrays[1:])),
    }


def test_votes_wait_for_the_close_and_judge_the_round_in_company(
    node_bed: NodeBed, rounds: dict[str, Any]
) -> None:
    first, honest = rounds["first"], rounds["updates"]
    bad = _bad_updates(first, honest)
    addresses = [node_bed.submit(i, encode(update)) for i, update in enumerate(honest)]
    attackers = {
        name: node_bed.submit(TWO_CLASS_CLIENTS + i, encode(update))
        for i, (name, update) in enumerate(bad.items())
    }
    nodes = [node_bed.node(0), node_bed.node(1)]  # oracle 2 is down all round
    settle(nodes)

    # Every update passed the checks on arrival: no vote before the close.
    assert node_bed.votes() == []
    assert len(node_bed.logged("admitted")) == 2 * len(addresses + list(attackers.values()))

    node_bed.close_round()
    # Oracle 0 judges and votes, then restarts in the grace (oracle 1 has not voted yet).
    step_until([nodes[0]], lambda: len(node_bed.votes()) == len(honest) + len(bad))
    assert {vote.oracle for vote in node_bed.votes()} == {node_bed.bed.oracles[0].address}
    restarted = node_bed.node(0)
    reports = settle([restarted])
    assert reports[0].votes == 0
    assert len(node_bed.votes()) == len(honest) + len(bad)

    reports = settle([restarted, nodes[1]])
    votes = node_bed.votes()
    assert Counter(vote.oracle for vote in votes) == {
        node_bed.bed.oracles[0].address: len(honest) + len(bad),
        node_bed.bed.oracles[1].address: len(honest) + len(bad),
    }
    assert len({(vote.oracle, vote.participant) for vote in votes}) == len(votes)
    # Each judgement came from what the nodes kept on arrival: no update read again.
    judged = node_bed.logged("judged")
    assert len(judged) == 2 and all(record["reads"] == 0 for record in judged)
    for address in addresses:  # the skewed two-class clients, every one
        assert node_bed.status(address) == (UpdateStatus.ACCEPTED, ReasonCode.ACCEPTED)
    for address in attackers.values():
        assert node_bed.status(address) == (UpdateStatus.REJECTED, ReasonCode.FAILED_VERIFICATION)
    checks = {
        (record["participant"], record["check"])
        for record in node_bed.logged("vote")
        if record["participant"] in attackers.values()
    }
    assert checks == {
        (attackers["misaligned"], "misaligned"),
        (attackers["free-rider"], "misaligned"),  # noise: orthogonal to the oracle's step
    }

    # Both oracles proposed the same bytes: the bounded aggregate of the accepted updates,
    # computed here independently; the round finalized on it.
    expected = content_hash_of_blob(encode(bounded_fedavg(first, honest, [1] * len(honest)).model))
    start = node_bed.bed.deployment.block_number
    proposals = node_bed.bed.admin.events(AggregateProposed, start, round=1)
    assert [p.content_hash for p in proposals] == [expected, expected]
    assert [f.global_model for f in node_bed.bed.admin.events(RoundFinalized, start)] == [expected]
    model = node_bed.bed.admin.coordinator.latest_model()
    assert (model.round, model.state, model.content_hash) == (2, RoundState.OPEN, expected)

    # Round 2: the round-1 global model resubmitted is stale, rejected on arrival (no
    # close), by the nodes that ran and by one that never saw round 1.
    stale = node_bed.submit(0, encode(first))
    settle([restarted, nodes[1], node_bed.node(2)])
    assert node_bed.status(stale, round_=2) == (
        UpdateStatus.REJECTED,
        ReasonCode.FAILED_VERIFICATION,
    )
    round_two = [record for record in node_bed.logged("vote") if record["round"] == 2]
    assert {record["check"] for record in round_two} == {"stale"}
    assert node_bed.bed.admin.coordinator.latest_model().state == RoundState.OPEN
