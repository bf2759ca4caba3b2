"""Oracle votes: settling by k agreeing votes, the recorded score, split votes, bans."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fedledger.chain import ReasonCode, StoragePolicy, UpdateStatus
from fedledger.chain.errors import (
    AlreadyVoted,
    InvalidReasonCode,
    NotOracle,
    UnknownUpdate,
    UpdateAlreadySettled,
    VotingEnded,
    WrongRound,
)
from fedledger.chain.events import (
    ParticipantBanned,
    Transfer,
    UpdateAccepted,
    UpdateDisputed,
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


def submit(bed: Testbed, index: int = 0, label: str = "update") -> str:
    participant = bed.participants[index]
    participant.coordinator.submit_update(1, content_hash(f"{label}{index}"), 100)
    return participant.address


def test_a_vote_is_recorded_and_announced(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    participant = submit(bed)
    oracle = bed.oracles[0]
    result = oracle.coordinator.vote(1, participant, True, 9_000)

    cast = result.event(VoteCast)
    assert (cast.round, cast.participant, cast.oracle) == (1, participant, oracle.address)
    assert (cast.accept, cast.score, cast.reason) == (True, 9_000, ReasonCode.ACCEPTED)
    assert not result.events_of(UpdateAccepted)
    update = bed.admin.coordinator.get_update(1, participant)
    assert (update.accept_votes, update.reject_votes, update.status) == (1, 0, UpdateStatus.PENDING)
    index = bed.admin.coordinator.oracle_index(oracle.address)
    assert update.voted(index)
    assert bed.admin.coordinator.has_voted(1, participant, oracle.address)
    assert not bed.admin.coordinator.has_voted(1, participant, bed.oracles[1].address)
    assert not bed.admin.coordinator.has_voted(1, participant, bed.outsider.address)


def test_k_accept_votes_settle_with_the_minimum_score_and_credit_the_reward(
    chain_testbed: Testbed,
) -> None:
    bed = chain_testbed
    participant = submit(bed)
    bed.oracles[0].coordinator.vote(1, participant, True, 7_000)
    result = bed.oracles[1].coordinator.vote(1, participant, True, 9_500)

    reward = TEST_REWARD_RULE.reward_for(7_000)
    accepted = result.event(UpdateAccepted)
    assert (accepted.round, accepted.participant, accepted.score, accepted.reward) == (
        1,
        participant,
        7_000,
        reward,
    )
    # Credited in the participant's record (the slot the count is written to); minted
    # when the participant claims it.
    assert not result.events_of(Transfer)
    assert bed.admin.coordinator.reward_owed(participant) == reward
    assert bed.admin.token.total_supply() == 0
    minted = bed.participants[0].coordinator.claim_rewards().event(Transfer)
    assert (minted.from_, minted.to, minted.value) == (ZERO_ADDRESS, participant, reward)
    assert minted.address == bed.deployment.token
    assert bed.admin.token.balance_of(participant) == reward
    assert bed.admin.token.total_supply() == reward
    update = bed.admin.coordinator.get_update(1, participant)
    assert (update.status, update.score, update.accept_votes) == (UpdateStatus.ACCEPTED, 7_000, 2)
    assert bed.admin.coordinator.get_round(1).accepted == 1
    assert bed.admin.coordinator.get_participant(participant).accepted == 1
    assert bed.admin.coordinator.reward_for(7_000) == reward


def test_a_zero_reward_rule_settles_without_minting(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    bed.admin.coordinator.set_reward_rule(replace(TEST_REWARD_RULE, base=0, per_score_point=0))
    participant = submit(bed)
    bed.oracles[0].coordinator.vote(1, participant, True, 5)
    result = bed.oracles[1].coordinator.vote(1, participant, True, 5)
    assert result.event(UpdateAccepted).reward == 0
    assert not result.events_of(Transfer)
    assert bed.admin.token.total_supply() == 0


def test_k_reject_votes_settle_by_storage_policy(chain_testbed_any_policy: Testbed) -> None:
    bed = chain_testbed_any_policy
    participant = submit(bed)
    bed.oracles[0].coordinator.vote(1, participant, False, 4_000, ReasonCode.NON_FINITE)
    result = bed.oracles[1].coordinator.vote(
        1, participant, False, 3_000, ReasonCode.FAILED_VERIFICATION
    )

    rejected = result.event(UpdateRejected)
    # The recorded reason is the first rejecting vote's; the score the minimum.
    assert (rejected.score, rejected.reason) == (3_000, ReasonCode.NON_FINITE)
    assert not result.events_of(Transfer)
    record = bed.admin.coordinator.get_participant(participant)
    assert (record.rejected, record.strikes, record.banned) == (1, 1, False)
    update = bed.admin.coordinator.get_update(1, participant)
    if bed.params.storage_policy is StoragePolicy.AUDIT_ALL:
        assert (update.status, update.score, update.reason) == (
            UpdateStatus.REJECTED,
            3_000,
            ReasonCode.NON_FINITE,
        )
        assert update.content_hash == content_hash("update0")
    else:
        assert (update.status, update.content_hash, update.voters) == (
            UpdateStatus.NONE,
            bytes(32),
            0,
        )
    # Settled either way: the third oracle has nothing to vote on.
    with pytest.raises(UpdateAlreadySettled):
        bed.oracles[2].coordinator.vote(1, participant, False, 1, ReasonCode.OTHER)


def test_reaching_the_rejection_limit_bans_and_a_pardon_lifts_it(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    bed.admin.coordinator.set_rejection_limit(1)
    participant = submit(bed)
    bed.oracles[0].coordinator.vote(1, participant, False, 0, ReasonCode.MALFORMED)
    result = bed.oracles[1].coordinator.vote(1, participant, False, 0, ReasonCode.MALFORMED)

    banned = result.event(ParticipantBanned)
    assert (banned.participant, banned.strikes) == (participant, 1)
    assert bed.admin.coordinator.get_participant(participant).banned
    bed.admin.coordinator.pardon_participant(participant)
    record = bed.admin.coordinator.get_participant(participant)
    assert (record.banned, record.strikes, record.rejected) == (False, 0, 1)


def test_split_votes_that_cannot_reach_k_dispute_the_update(
    chain_testbed_factory: TestbedFactory,
) -> None:
    for policy in StoragePolicy:
        bed: Testbed = chain_testbed_factory(oracles=4, quorum=3, storage_policy=policy)
        participant = submit(bed)
        bed.oracles[0].coordinator.vote(1, participant, True, 10)
        bed.oracles[1].coordinator.vote(1, participant, False, 10, ReasonCode.WRONG_SHAPE)
        bed.oracles[2].coordinator.vote(1, participant, True, 10)
        assert bed.admin.coordinator.get_update(1, participant).status is UpdateStatus.PENDING
        result = bed.oracles[3].coordinator.vote(1, participant, False, 10, ReasonCode.WRONG_SHAPE)

        disputed = result.event(UpdateDisputed)
        assert (disputed.accept_votes, disputed.reject_votes) == (2, 2)
        assert not result.events_of(UpdateAccepted) and not result.events_of(UpdateRejected)
        expected = UpdateStatus.DISPUTED if policy is StoragePolicy.AUDIT_ALL else UpdateStatus.NONE
        assert bed.admin.coordinator.get_update(1, participant).status is expected
        record = bed.admin.coordinator.get_participant(participant)
        assert (record.accepted, record.rejected, record.strikes) == (0, 0, 0)
        assert bed.admin.token.balance_of(participant) == 0


def test_a_dispute_is_declared_as_soon_as_neither_side_can_reach_k(
    chain_testbed_factory: TestbedFactory,
) -> None:
    bed: Testbed = chain_testbed_factory(oracles=5, quorum=4)
    participant = submit(bed)
    bed.oracles[0].coordinator.vote(1, participant, True, 1)
    bed.oracles[1].coordinator.vote(1, participant, False, 1, ReasonCode.OTHER)
    bed.oracles[2].coordinator.vote(1, participant, True, 1)
    # 2 accept, 1 reject, 2 outstanding: accept can still reach 4.
    assert bed.admin.coordinator.get_update(1, participant).status is UpdateStatus.PENDING
    result = bed.oracles[3].coordinator.vote(1, participant, False, 1, ReasonCode.OTHER)
    # 2 / 2 with one outstanding: neither side can reach 4, so the fifth vote is not awaited.
    assert result.event(UpdateDisputed).reject_votes == 2
    with pytest.raises(UpdateAlreadySettled):
        bed.oracles[4].coordinator.vote(1, participant, True, 1)


def test_an_oracle_votes_once(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    participant = submit(bed)
    oracle = bed.oracles[0]
    oracle.coordinator.vote(1, participant, True, 1)
    with pytest.raises(AlreadyVoted) as caught:
        oracle.coordinator.vote(1, participant, False, 1, ReasonCode.OTHER)
    assert caught.value.oracle == oracle.address
    assert bed.admin.coordinator.get_update(1, participant).reject_votes == 0


def test_only_registered_oracles_vote(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    participant = submit(bed)
    with pytest.raises(NotOracle) as caught:
        bed.participants[1].coordinator.vote(1, participant, True, 1)
    assert caught.value.account == bed.participants[1].address


@pytest.mark.parametrize(
    ("accept", "reason"), [(True, ReasonCode.HASH_MISMATCH), (False, ReasonCode.ACCEPTED)]
)
def test_the_reason_code_must_match_the_verdict(
    chain_testbed: Testbed, accept: bool, reason: ReasonCode
) -> None:
    participant = submit(chain_testbed)
    with pytest.raises(InvalidReasonCode) as caught:
        chain_testbed.oracles[0].coordinator.vote(1, participant, accept, 1, reason)
    assert (caught.value.accept, caught.value.reason) == (accept, reason)


def test_votes_need_an_existing_update_of_the_current_round(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    oracle = bed.oracles[0].coordinator
    with pytest.raises(UnknownUpdate):
        oracle.vote(1, bed.participants[0].address, True, 1)
    participant = submit(bed)
    with pytest.raises(WrongRound):
        oracle.vote(2, participant, True, 1)


def test_updates_pending_after_the_grace_expire_and_take_no_more_votes(
    chain_testbed: Testbed,
) -> None:
    bed = chain_testbed
    accepted, pending = submit(bed, 0), submit(bed, 1)
    for oracle in bed.oracles[:2]:
        oracle.coordinator.vote(1, accepted, True, 1)
    bed.oracles[0].coordinator.vote(1, pending, True, 1)
    bed.dev.increase_time(TEST_ROUND_RULES.duration + 1)
    bed.admin.coordinator.close_round()
    assert bed.admin.coordinator.get_update(1, pending).status is UpdateStatus.PENDING
    bed.dev.increase_time(TEST_ROUND_RULES.verification_grace + 1)

    assert bed.admin.coordinator.get_update(1, pending).status is UpdateStatus.EXPIRED
    assert bed.admin.coordinator.get_update(1, accepted).status is UpdateStatus.ACCEPTED
    with pytest.raises(VotingEnded):
        bed.oracles[1].coordinator.vote(1, pending, True, 1)
    record = bed.admin.coordinator.get_participant(pending)
    assert (record.accepted, record.rejected) == (0, 0)
    assert bed.admin.token.balance_of(pending) == 0
