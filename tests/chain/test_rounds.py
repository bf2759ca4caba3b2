"""Closing rounds, aggregate proposals, finalization and the liveness rules."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fedledger.chain import RoundState, SkipReason
from fedledger.chain.errors import (
    AggregationNotStalled,
    AlreadyProposed,
    EmptyContentHash,
    NotOracle,
    RoundCloseTooEarly,
    RoundNotClosed,
    RoundNotOpen,
    WrongRound,
)
from fedledger.chain.events import (
    AggregateProposed,
    RoundClosed,
    RoundFinalized,
    RoundOpened,
    RoundSkipped,
)
from tests.fixtures.chain import TEST_ROUND_RULES, Testbed, content_hash


def accept_updates(bed: Testbed, count: int, round_: int = 1) -> list[str]:
    """Submit ``count`` updates in ``round_`` and have k oracles accept each."""
    accepted = []
    for participant in bed.participants[:count]:
        participant.coordinator.submit_update(
            round_, content_hash(f"r{round_}-{participant.address}"), 100
        )
        for oracle in bed.oracles[: bed.quorum]:
            oracle.coordinator.vote(round_, participant.address, True, 1_000)
        accepted.append(participant.address)
    return accepted


def close_after_deadline(bed: Testbed) -> None:
    bed.dev.increase_time(TEST_ROUND_RULES.duration + 1)
    bed.admin.coordinator.close_round()


def test_close_before_the_deadline_without_target_is_refused(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    accept_updates(bed, 2)
    assert not bed.outsider.coordinator.can_close_round()
    with pytest.raises(RoundCloseTooEarly) as caught:
        bed.outsider.coordinator.close_round()
    assert (caught.value.in_play, caught.value.target) == (2, 0)
    assert caught.value.deadline == bed.admin.coordinator.latest_model().deadline


def test_anyone_may_close_after_the_deadline(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    accept_updates(bed, 2)
    bed.dev.increase_time(TEST_ROUND_RULES.duration + 1)
    assert bed.outsider.coordinator.can_close_round()
    result = bed.outsider.coordinator.close_round()

    closed = result.event(RoundClosed)
    assert (closed.round, closed.accepted_updates) == (1, 2)
    info = bed.admin.coordinator.get_round(1)
    assert info.state is RoundState.CLOSED
    assert info.closed_at == bed.dev.timestamp()
    with pytest.raises(RoundNotOpen):
        bed.outsider.coordinator.close_round()


def test_meeting_the_contribution_target_allows_an_early_close(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    bed.admin.coordinator.set_round_rules(replace(TEST_ROUND_RULES, contribution_target=2))
    accept_updates(bed, 1)
    with pytest.raises(RoundCloseTooEarly) as caught:
        bed.outsider.coordinator.close_round()
    assert (caught.value.in_play, caught.value.target) == (1, 2)
    bed.participants[1].coordinator.submit_update(1, content_hash("second"), 5)
    bed.oracles[0].coordinator.vote(1, bed.participants[1].address, True, 1)
    bed.oracles[1].coordinator.vote(1, bed.participants[1].address, True, 1)
    assert bed.outsider.coordinator.close_round().event(RoundClosed).accepted_updates == 2


def test_pending_updates_count_toward_the_contribution_target(chain_testbed: Testbed) -> None:
    """The oracles vote at close: submitted updates not yet judged meet the target."""
    bed = chain_testbed
    bed.admin.coordinator.set_round_rules(replace(TEST_ROUND_RULES, contribution_target=2))
    bed.participants[0].coordinator.submit_update(1, content_hash("first"), 5)
    assert not bed.outsider.coordinator.can_close_round()
    with pytest.raises(RoundCloseTooEarly) as caught:
        bed.outsider.coordinator.close_round()
    assert (caught.value.in_play, caught.value.target) == (1, 2)
    bed.participants[1].coordinator.submit_update(1, content_hash("second"), 5)
    assert bed.outsider.coordinator.can_close_round()
    closed = bed.outsider.coordinator.close_round().event(RoundClosed)
    assert (closed.accepted_updates, closed.pending_updates) == (0, 2)
    assert bed.admin.coordinator.get_round(1).state is RoundState.CLOSED


def test_rejected_updates_do_not_count_toward_the_contribution_target(
    chain_testbed: Testbed,
) -> None:
    """An update rejected on arrival leaves the updates in play: junk cannot close a round."""
    bed = chain_testbed
    bed.admin.coordinator.set_round_rules(replace(TEST_ROUND_RULES, contribution_target=2))
    junk, honest = bed.participants[0], bed.participants[1]
    junk.coordinator.submit_update(1, content_hash("junk"), 5)
    for oracle in bed.oracles[: bed.quorum]:
        oracle.coordinator.vote(1, junk.address, False, 0, 1)
    honest.coordinator.submit_update(1, content_hash("honest"), 5)
    assert not bed.outsider.coordinator.can_close_round()
    with pytest.raises(RoundCloseTooEarly) as caught:
        bed.outsider.coordinator.close_round()
    assert (caught.value.in_play, caught.value.target) == (1, 2)


def test_a_round_without_accepted_updates_is_skipped_at_close(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    bed.dev.increase_time(TEST_ROUND_RULES.duration + 1)
    result = bed.outsider.coordinator.close_round()

    assert result.event(RoundClosed).accepted_updates == 0
    skipped = result.event(RoundSkipped)
    assert (skipped.round, skipped.reason) == (1, SkipReason.NO_ACCEPTED_UPDATES)
    opened = result.event(RoundOpened)
    assert (opened.round, opened.global_model) == (2, content_hash("genesis"))
    assert opened.deadline == bed.dev.timestamp() + TEST_ROUND_RULES.duration
    assert bed.admin.coordinator.get_round(1).state is RoundState.SKIPPED
    model = bed.admin.coordinator.latest_model()
    assert (model.round, model.state, model.content_hash) == (
        2,
        RoundState.OPEN,
        content_hash("genesis"),
    )


def test_proposals_before_close_are_refused(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    accept_updates(bed, 1)
    with pytest.raises(RoundNotClosed) as caught:
        bed.oracles[0].coordinator.propose_aggregate(1, content_hash("aggregate"))
    assert caught.value.state is RoundState.OPEN


def test_k_identical_proposals_finalize_and_open_the_next_round(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    accept_updates(bed, 2)
    close_after_deadline(bed)
    aggregate = content_hash("aggregate-1")

    first = bed.oracles[0].coordinator.propose_aggregate(1, aggregate)
    proposed = first.event(AggregateProposed)
    assert (proposed.round, proposed.oracle, proposed.content_hash, proposed.votes) == (
        1, bed.oracles[0].address, aggregate, 1,
    )  # fmt: skip
    assert not first.events_of(RoundFinalized)
    assert bed.admin.coordinator.has_proposed(1, bed.oracles[0].address)
    assert not bed.admin.coordinator.has_proposed(1, bed.oracles[1].address)
    assert bed.admin.coordinator.proposal_votes(1, aggregate) == 1

    second = bed.oracles[1].coordinator.propose_aggregate(1, aggregate)
    assert second.event(AggregateProposed).votes == 2
    assert second.event(RoundFinalized).global_model == aggregate
    assert second.event(RoundOpened).round == 2
    info = bed.admin.coordinator.get_round(1)
    assert (info.state, info.proposals, info.leading_votes) == (RoundState.FINALIZED, 2, 2)
    assert info.proposed(bed.admin.coordinator.oracle_index(bed.oracles[1].address))
    model = bed.admin.coordinator.latest_model()
    assert (model.round, model.state, model.content_hash) == (2, RoundState.OPEN, aggregate)
    # Round 2 runs on the new model, and a late proposal for round 1 is refused.
    accept_updates(bed, 1, round_=2)
    with pytest.raises(WrongRound):
        bed.oracles[2].coordinator.propose_aggregate(1, aggregate)


def test_each_oracle_proposes_once_and_only_oracles_propose(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    accept_updates(bed, 1)
    close_after_deadline(bed)
    bed.oracles[0].coordinator.propose_aggregate(1, content_hash("a"))
    with pytest.raises(AlreadyProposed):
        bed.oracles[0].coordinator.propose_aggregate(1, content_hash("b"))
    with pytest.raises(NotOracle):
        bed.participants[0].coordinator.propose_aggregate(1, content_hash("a"))
    with pytest.raises(EmptyContentHash):
        bed.oracles[1].coordinator.propose_aggregate(1, bytes(32))


def test_proposals_that_can_no_longer_agree_skip_the_round(chain_testbed: Testbed) -> None:
    bed = chain_testbed  # n = 3, k = 2
    accept_updates(bed, 1)
    close_after_deadline(bed)
    bed.oracles[0].coordinator.propose_aggregate(1, content_hash("a"))
    bed.oracles[1].coordinator.propose_aggregate(1, content_hash("b"))
    assert bed.admin.coordinator.get_round(1).state is RoundState.CLOSED  # "a" or "b" can still win
    result = bed.oracles[2].coordinator.propose_aggregate(1, content_hash("c"))

    assert result.event(RoundSkipped).reason is SkipReason.NO_AGREEMENT
    assert not result.events_of(RoundFinalized)
    assert bed.admin.coordinator.get_round(1).state is RoundState.SKIPPED
    model = bed.admin.coordinator.latest_model()
    assert (model.round, model.content_hash) == (2, content_hash("genesis"))


def test_a_silent_aggregation_can_be_skipped_after_the_timeout(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    accept_updates(bed, 1)
    close_after_deadline(bed)
    bed.oracles[0].coordinator.propose_aggregate(1, content_hash("lonely"))
    info = bed.admin.coordinator.get_round(1)
    assert info.voting_ends == info.closed_at + TEST_ROUND_RULES.verification_grace
    with pytest.raises(AggregationNotStalled) as caught:
        bed.outsider.coordinator.skip_stalled_round()
    # The timeout counts from the end of the verification grace, the latest start of
    # aggregation.
    assert caught.value.stalled_after == info.voting_ends + TEST_ROUND_RULES.aggregation_timeout

    bed.dev.increase_time(
        TEST_ROUND_RULES.verification_grace + TEST_ROUND_RULES.aggregation_timeout + 1
    )
    result = bed.outsider.coordinator.skip_stalled_round()
    assert result.event(RoundSkipped).reason is SkipReason.AGGREGATION_TIMEOUT
    assert result.event(RoundOpened).global_model == content_hash("genesis")
    assert bed.admin.coordinator.current_round() == 2


def test_skipping_an_open_round_is_refused(chain_testbed: Testbed) -> None:
    with pytest.raises(RoundNotClosed):
        chain_testbed.outsider.coordinator.skip_stalled_round()


def test_rounds_keep_going(chain_testbed: Testbed) -> None:
    """Three rounds end to end: finalized, skipped (empty), finalized again."""
    bed = chain_testbed
    for round_, aggregate in ((1, "m1"), (2, None), (3, "m3")):
        if aggregate is None:
            bed.dev.increase_time(TEST_ROUND_RULES.duration + 1)
            bed.outsider.coordinator.close_round()
            continue
        accept_updates(bed, 2, round_=round_)
        close_after_deadline(bed)
        for oracle in bed.oracles[:2]:
            oracle.coordinator.propose_aggregate(round_, content_hash(aggregate))
    states = [bed.admin.coordinator.get_round(r).state for r in (1, 2, 3)]
    assert states == [RoundState.FINALIZED, RoundState.SKIPPED, RoundState.FINALIZED]
    assert bed.admin.coordinator.get_round(3).global_model == content_hash("m1")
    assert bed.admin.coordinator.latest_model().content_hash == content_hash("m3")
    assert bed.admin.coordinator.latest_model().round == 4
