"""voteBatch (many verdicts of one oracle in one transaction) and the credited rewards that
claimRewards mints: the same tally as vote, the races skipped, every revert path."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fedledger.chain import ReasonCode, UpdateStatus, Verdict
from fedledger.chain.errors import (
    EmptyBatch,
    InvalidReasonCode,
    MalformedVerdict,
    NoRewardOwed,
    NotOracle,
    VotingEnded,
    WrongRound,
)
from fedledger.chain.events import (
    RewardPaid,
    Transfer,
    UpdateAccepted,
    UpdateRejected,
    VoteCast,
)
from tests.fixtures.chain import (
    TEST_REWARD_RULE,
    TEST_ROUND_RULES,
    ZERO_ADDRESS,
    Testbed,
    TestbedFactory,
    content_hash,
)


def submit_all(bed: Testbed, count: int) -> list[str]:
    for index in range(count):
        bed.participants[index].coordinator.submit_update(1, content_hash(f"b{index}"), 100)
    return [p.address for p in bed.participants[:count]]


def test_a_batch_tallies_each_verdict_as_a_vote_and_credits_the_rewards(
    chain_testbed: Testbed,
) -> None:
    bed = chain_testbed
    a, b, c = submit_all(bed, 3)
    first = bed.oracles[0].coordinator.vote_batch(
        1,
        [
            Verdict(a, True, 7_000),
            Verdict(b, True, 9_000),
            Verdict(c, False, 100, ReasonCode.FAILED_VERIFICATION),
        ],
    )
    assert [(e.participant, e.accept, e.score) for e in first.events_of(VoteCast)] == [
        (a, True, 7_000),
        (b, True, 9_000),
        (c, False, 100),
    ]
    assert not first.events_of(UpdateAccepted)
    second = bed.oracles[1].coordinator.vote_batch(
        1,
        [
            Verdict(a, True, 8_000),
            Verdict(b, False, 50, ReasonCode.FAILED_VERIFICATION),
            Verdict(c, False, 40, ReasonCode.NON_FINITE),
        ],
    )
    coordinator = bed.admin.coordinator
    accepted = second.event(UpdateAccepted)
    reward = TEST_REWARD_RULE.reward_for(7_000)  # the minimum of the agreeing scores
    assert (accepted.participant, accepted.score, accepted.reward) == (a, 7_000, reward)
    rejected = second.event(UpdateRejected)
    assert (rejected.participant, rejected.score, rejected.reason) == (
        c,
        40,
        ReasonCode.FAILED_VERIFICATION,  # the first reject vote's reason
    )
    assert [coordinator.get_update(1, p).status for p in (a, b, c)] == [
        UpdateStatus.ACCEPTED,
        UpdateStatus.PENDING,  # one accept, one reject: the third oracle decides
        UpdateStatus.REJECTED,
    ]
    # Credited in the participant's record, not minted: no Transfer, no supply yet.
    assert not second.events_of(Transfer)
    assert bed.admin.token.total_supply() == 0
    assert coordinator.reward_owed(a) == reward == coordinator.get_participant(a).reward_owed
    assert coordinator.get_participant(a).accepted == 1
    assert coordinator.get_round(1).accepted == 1 and coordinator.get_round(1).pending == 1


def test_settled_repeated_and_unknown_updates_are_skipped_not_reverted(
    chain_testbed: Testbed,
) -> None:
    bed = chain_testbed
    a, b = submit_all(bed, 2)
    for oracle in bed.oracles[:2]:
        oracle.coordinator.vote(1, a, True, 9_000)  # settled
    bed.oracles[2].coordinator.vote(1, b, True, 9_000)
    outsider = bed.outsider.address  # submitted nothing
    result = bed.oracles[2].coordinator.vote_batch(
        1,
        [
            Verdict(a, True, 9_000),  # settled: skipped
            Verdict(b, True, 9_000),  # already voted on by this oracle: skipped
            Verdict(outsider, True, 9_000),  # no update: skipped
            Verdict(b, True, 1),  # a repeat within the batch: skipped too
        ],
    )
    assert result.events_of(VoteCast) == []
    update = bed.admin.coordinator.get_update(1, b)
    assert (update.accept_votes, update.accept_score) == (1, 9_000)
    settling = bed.oracles[0].coordinator.vote_batch(1, [Verdict(b, True, 8_000)])
    assert settling.event(UpdateAccepted).score == 8_000


def test_a_batch_rejects_a_banned_participants_update(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    (a,) = submit_all(bed, 1)
    bed.admin.coordinator.ban_participant(a)
    result = bed.oracles[0].coordinator.vote_batch(1, [Verdict(a, True, 9_000)])
    assert result.event(UpdateRejected).reason == ReasonCode.BANNED
    assert bed.admin.coordinator.reward_owed(a) == 0


def test_a_batch_reverts_as_a_whole(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    a, b = submit_all(bed, 2)
    oracle = bed.oracles[0].coordinator
    with pytest.raises(InvalidReasonCode):  # an accept verdict with a reason, second in line
        oracle.vote_batch(1, [Verdict(a, True, 1), Verdict(b, True, 1, ReasonCode.NON_FINITE)])
    with pytest.raises(InvalidReasonCode):  # a reject verdict without one
        oracle.vote_batch(1, [Verdict(a, False, 1, ReasonCode.ACCEPTED)])
    assert bed.admin.coordinator.get_update(1, a).voters == 0  # nothing of it stayed
    with pytest.raises(EmptyBatch):
        oracle._transact("voteBatch", 1, [])
    word = Verdict(a, True, 1).word()
    for malformed in (word | 1 << 208, word | 2):  # a high bit set; an accept byte of 2
        with pytest.raises(MalformedVerdict) as caught:
            oracle._transact("voteBatch", 1, [word, malformed])
        assert caught.value.verdict == malformed
    assert bed.admin.coordinator.get_update(1, a).voters == 0
    with pytest.raises(ValueError, match="at least one verdict"):
        oracle.vote_batch(1, [])
    with pytest.raises(NotOracle):
        bed.outsider.coordinator.vote_batch(1, [Verdict(a, True, 1)])
    with pytest.raises(WrongRound):
        oracle.vote_batch(2, [Verdict(a, True, 1)])
    bed.dev.increase_time(TEST_ROUND_RULES.duration + 1)
    bed.admin.coordinator.close_round()
    bed.dev.increase_time(TEST_ROUND_RULES.verification_grace + 1)
    with pytest.raises(VotingEnded):
        oracle.vote_batch(1, [Verdict(a, True, 1)])


def test_claim_rewards_mints_what_was_credited_once(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    a, b = submit_all(bed, 2)
    for oracle in bed.oracles[:2]:
        oracle.coordinator.vote_batch(1, [Verdict(a, True, 7_000), Verdict(b, True, 6_000)])
    reward = TEST_REWARD_RULE.reward_for(7_000)
    holder = bed.participants[0]
    claim = holder.coordinator.claim_rewards()
    assert claim.event(RewardPaid).amount == reward and claim.event(RewardPaid).participant == a
    minted = claim.event(Transfer)
    assert (minted.from_, minted.to, minted.value) == (ZERO_ADDRESS, a, reward)
    assert bed.admin.token.balance_of(a) == reward
    assert bed.admin.coordinator.reward_owed(a) == 0
    assert bed.admin.coordinator.reward_owed(b) == TEST_REWARD_RULE.reward_for(6_000)
    with pytest.raises(NoRewardOwed):
        holder.coordinator.claim_rewards()
    with pytest.raises(NoRewardOwed):
        bed.outsider.coordinator.claim_rewards()


def test_a_credit_too_large_for_the_record_is_paid_at_once(
    chain_testbed_factory: TestbedFactory,
) -> None:
    huge = 2**80  # above the record's uint80
    bed = chain_testbed_factory(
        reward_rule=replace(TEST_REWARD_RULE, base=huge, per_score_point=0),
        max_reward_per_update=huge,
    )
    (a,) = submit_all(bed, 1)
    bed.oracles[0].coordinator.vote(1, a, True, 1)
    result = bed.oracles[1].coordinator.vote(1, a, True, 1)
    assert result.event(UpdateAccepted).reward == huge
    assert result.event(RewardPaid).amount == huge
    assert bed.admin.token.balance_of(a) == huge
    assert bed.admin.coordinator.reward_owed(a) == 0
