"""The live-set tally and settle(), the verification grace after close, bans of pending
updates, the enrolment stake, the reward cap, and the vault the coordinator creates."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fedledger.chain import ReasonCode, RewardRule, StoragePolicy, UpdateStatus
from fedledger.chain.codes import SkipReason
from fedledger.chain.coordinator import required_stake
from fedledger.chain.errors import (
    AggregationNotStarted,
    InvalidRoundRules,
    NoStakeToWithdraw,
    NothingToAggregate,
    NothingToSettle,
    RewardAboveCap,
    TrainingNotStarted,
    UnknownUpdate,
    UpdateAlreadySettled,
    VotingEnded,
    WrongRound,
    WrongStake,
)
from fedledger.chain.events import (
    AggregateProposed,
    Deposited,
    RoundClosed,
    RoundFinalized,
    RoundSkipped,
    StakeDeposited,
    StakeForfeited,
    StakeReturned,
    StakeWithdrawn,
    UpdateAccepted,
    UpdateDisputed,
    UpdateExpired,
    UpdateRejected,
)
from tests.fixtures.chain import TEST_ROUND_RULES, Testbed, TestbedFactory, content_hash

STAKE = 10**16
GRACE = TEST_ROUND_RULES.verification_grace


def submit(bed: Testbed, index: int = 0, stake: int = 0) -> str:
    participant = bed.participants[index]
    participant.coordinator.submit_update(1, content_hash(f"u{index}"), 100, stake=stake)
    return participant.address


def close(bed: Testbed) -> None:
    bed.dev.increase_time(TEST_ROUND_RULES.duration + 1)
    bed.outsider.coordinator.close_round()


# ---- the live tally and settle ----------------------------------------------------------


def test_settle_accepts_when_a_quorum_change_lets_the_live_votes_reach_k(
    chain_testbed_factory: TestbedFactory,
) -> None:
    bed = chain_testbed_factory(oracles=5, quorum=3)
    participant = submit(bed)
    for oracle in bed.oracles[:2]:
        oracle.coordinator.vote(1, participant, True, 9_000)
    with pytest.raises(NothingToSettle):
        bed.outsider.coordinator.settle(1, participant)
    bed.admin.coordinator.remove_oracle(bed.oracles[4].address, 3)
    bed.admin.coordinator.remove_oracle(bed.oracles[3].address, 2)
    accepted = bed.outsider.coordinator.settle(1, participant).event(UpdateAccepted)
    assert (accepted.participant, accepted.score) == (participant, 9_000)
    assert bed.admin.coordinator.live_oracles() == 0b00111
    with pytest.raises(UpdateAlreadySettled):
        bed.outsider.coordinator.settle(1, participant)


def test_settle_disputes_when_no_live_oracle_is_left_to_decide(
    chain_testbed_factory: TestbedFactory,
) -> None:
    bed = chain_testbed_factory(oracles=5, quorum=3)
    participant = submit(bed)
    bed.oracles[0].coordinator.vote(1, participant, True, 1)
    bed.oracles[1].coordinator.vote(1, participant, True, 1)
    bed.oracles[2].coordinator.vote(1, participant, False, 1, ReasonCode.FAILED_VERIFICATION)
    bed.oracles[3].coordinator.vote(1, participant, False, 1, ReasonCode.FAILED_VERIFICATION)
    bed.admin.coordinator.remove_oracle(bed.oracles[4].address, 3)  # the one who could decide
    disputed = bed.outsider.coordinator.settle(1, participant).event(UpdateDisputed)
    assert (disputed.accept_votes, disputed.reject_votes) == (2, 2)


def test_settle_refuses_unknown_future_and_pre_training_updates(
    chain_testbed: Testbed, chain_testbed_factory: TestbedFactory
) -> None:
    bed = chain_testbed
    with pytest.raises(UnknownUpdate):
        bed.outsider.coordinator.settle(1, bed.participants[0].address)
    with pytest.raises(WrongRound):
        bed.outsider.coordinator.settle(2, bed.participants[0].address)
    fresh = chain_testbed_factory(start=False)
    with pytest.raises(TrainingNotStarted):
        fresh.outsider.coordinator.settle(1, fresh.participants[0].address)


def test_a_removed_oracles_proposal_stops_counting(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    participant = submit(bed)
    for oracle in bed.oracles[:2]:
        oracle.coordinator.vote(1, participant, True, 1)
    close(bed)
    aggregate = content_hash("aggregate")
    bed.oracles[0].coordinator.propose_aggregate(1, aggregate)
    bed.admin.coordinator.remove_oracle(bed.oracles[0].address, 2)
    assert bed.admin.coordinator.proposal_votes(1, aggregate) == 0
    second = bed.oracles[1].coordinator.propose_aggregate(1, aggregate)
    assert second.event(AggregateProposed).votes == 1 and not second.events_of(RoundFinalized)
    third = bed.oracles[2].coordinator.propose_aggregate(1, aggregate)
    assert third.event(RoundFinalized).global_model == aggregate


# ---- the verification grace ---------------------------------------------------------------


def test_pending_updates_take_votes_during_the_grace_and_block_aggregation(
    chain_testbed: Testbed,
) -> None:
    bed = chain_testbed
    accepted, pending = submit(bed, 0), submit(bed, 1)
    for oracle in bed.oracles[:2]:
        oracle.coordinator.vote(1, accepted, True, 1)
    bed.dev.increase_time(TEST_ROUND_RULES.duration + 1)
    closed = bed.outsider.coordinator.close_round().event(RoundClosed)
    assert (closed.accepted_updates, closed.pending_updates) == (1, 1)
    info = bed.admin.coordinator.get_round(1)
    assert closed.voting_ends == info.voting_ends == info.closed_at + GRACE
    assert info.pending == 1
    assert bed.admin.coordinator.voting_open(1)
    assert not bed.admin.coordinator.aggregation_open(1)
    with pytest.raises(AggregationNotStarted) as caught:
        bed.oracles[0].coordinator.propose_aggregate(1, content_hash("early"))
    assert (caught.value.pending, caught.value.voting_ends) == (1, info.voting_ends)

    bed.oracles[0].coordinator.vote(1, pending, True, 1)
    bed.oracles[1].coordinator.vote(1, pending, True, 1)  # settles: nothing pending any more
    assert bed.admin.coordinator.get_round(1).accepted == 2
    assert bed.admin.coordinator.aggregation_open(1)
    bed.oracles[0].coordinator.propose_aggregate(1, content_hash("agg"))


def test_after_the_grace_votes_end_and_settle_expires(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    accepted, pending = submit(bed, 0), submit(bed, 1)
    for oracle in bed.oracles[:2]:
        oracle.coordinator.vote(1, accepted, True, 1)
    close(bed)
    bed.dev.increase_time(GRACE + 1)
    assert not bed.admin.coordinator.voting_open(1)
    assert bed.admin.coordinator.aggregation_open(1)
    with pytest.raises(VotingEnded):
        bed.oracles[0].coordinator.vote(1, pending, True, 1)
    expired = bed.outsider.coordinator.settle(1, pending).event(UpdateExpired)
    assert expired.participant == pending
    assert bed.admin.coordinator.get_update(1, pending).status is UpdateStatus.EXPIRED
    bed.oracles[0].coordinator.propose_aggregate(1, content_hash("agg"))


def test_a_closed_round_whose_pending_updates_all_fail_is_skipped(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    pending = submit(bed)
    close(bed)
    assert bed.admin.coordinator.get_round(1).state.name == "CLOSED"
    bed.oracles[0].coordinator.vote(1, pending, False, 1, ReasonCode.NON_FINITE)
    result = bed.oracles[1].coordinator.vote(1, pending, False, 1, ReasonCode.NON_FINITE)
    assert result.event(RoundSkipped).reason is SkipReason.NO_ACCEPTED_UPDATES
    assert bed.admin.coordinator.current_round() == 2


def test_nothing_accepted_after_the_grace_is_skipped_by_anyone(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    submit(bed)
    close(bed)
    bed.dev.increase_time(GRACE + 1)
    with pytest.raises(NothingToAggregate):
        bed.oracles[0].coordinator.propose_aggregate(1, content_hash("agg"))
    skipped = bed.outsider.coordinator.skip_stalled_round().event(RoundSkipped)
    assert skipped.reason is SkipReason.NO_ACCEPTED_UPDATES


# ---- bans of pending updates ------------------------------------------------------------------


def test_settle_rejects_a_banned_participants_pending_update(
    chain_testbed_any_policy: Testbed,
) -> None:
    bed = chain_testbed_any_policy
    participant = submit(bed)
    bed.oracles[0].coordinator.vote(1, participant, True, 1)
    bed.admin.coordinator.ban_participant(participant)
    rejected = bed.outsider.coordinator.settle(1, participant).event(UpdateRejected)
    assert rejected.reason == ReasonCode.BANNED == bed.admin.coordinator.banned_reason()
    record = bed.admin.coordinator.get_participant(participant)
    assert (record.accepted, record.rejected, record.strikes) == (0, 0, 0)
    expected = (
        UpdateStatus.REJECTED
        if bed.params.storage_policy is StoragePolicy.AUDIT_ALL
        else UpdateStatus.NONE
    )
    assert bed.admin.coordinator.get_update(1, participant).status is expected


# ---- the enrolment stake ----------------------------------------------------------------------


def open_bed(factory: TestbedFactory, **overrides: object) -> Testbed:
    """Open enrolment with a stake; its two registered participants pay it too."""
    return factory(participants=2, open_enrolment=True, enrolment_stake=STAKE, **overrides)


def test_the_stake_is_required_exactly_under_open_enrolment(
    chain_testbed: Testbed, chain_testbed_factory: TestbedFactory
) -> None:
    with pytest.raises(WrongStake) as caught:
        submit(chain_testbed, stake=1)  # allowlist only: no value
    assert (caught.value.required, caught.value.sent) == (0, 1)
    bed = open_bed(chain_testbed_factory)
    newcomer = bed.outsider
    assert required_stake(newcomer.coordinator) == STAKE == newcomer.coordinator.enrolment_stake()
    with pytest.raises(WrongStake):
        newcomer.coordinator.submit_update(1, content_hash("x"), 1)
    result = newcomer.coordinator.submit_update(1, content_hash("x"), 1, stake=STAKE)
    assert result.event(StakeDeposited).amount == STAKE
    assert bed.client.w3.eth.get_balance(bed.admin.coordinator.address) == STAKE
    assert bed.admin.coordinator.get_update(1, newcomer.address).staked


def test_an_accepted_update_returns_the_stake_to_withdraw(
    chain_testbed_factory: TestbedFactory,
) -> None:
    bed = open_bed(chain_testbed_factory)
    newcomer = bed.outsider
    newcomer.coordinator.submit_update(1, content_hash("x"), 1, stake=STAKE)
    bed.oracles[0].coordinator.vote(1, newcomer.address, True, 1)
    result = bed.oracles[1].coordinator.vote(1, newcomer.address, True, 1)
    assert result.event(StakeReturned).amount == STAKE
    assert bed.admin.coordinator.returned_stake(newcomer.address) == STAKE
    assert not bed.admin.coordinator.get_update(1, newcomer.address).staked
    before = bed.client.w3.eth.get_balance(newcomer.address)
    withdrawn = newcomer.coordinator.withdraw_stake()
    assert withdrawn.event(StakeWithdrawn).amount == STAKE
    fee = (
        withdrawn.gas_used
        * bed.client.w3.eth.get_transaction_receipt(withdrawn.tx_hash)["effectiveGasPrice"]
    )
    assert bed.client.w3.eth.get_balance(newcomer.address) == before + STAKE - fee
    assert bed.admin.coordinator.returned_stake(newcomer.address) == 0
    with pytest.raises(NoStakeToWithdraw):
        newcomer.coordinator.withdraw_stake()


@pytest.mark.parametrize("policy", list(StoragePolicy), ids=lambda p: p.name.lower())
def test_a_rejected_update_forfeits_the_stake_to_the_vault(
    chain_testbed_factory: TestbedFactory, policy: StoragePolicy
) -> None:
    bed = open_bed(chain_testbed_factory, storage_policy=policy)
    newcomer = bed.outsider
    newcomer.coordinator.submit_update(1, content_hash("x"), 1, stake=STAKE)
    bed.oracles[0].coordinator.vote(1, newcomer.address, False, 1, ReasonCode.MALFORMED)
    result = bed.oracles[1].coordinator.vote(1, newcomer.address, False, 1, ReasonCode.MALFORMED)
    assert result.event(StakeForfeited).amount == STAKE
    deposited = result.event(Deposited)
    assert (deposited.sponsor, deposited.amount) == (bed.admin.coordinator.address, STAKE)
    assert bed.admin.vault.pooled_balance() == STAKE
    assert bed.admin.coordinator.returned_stake(newcomer.address) == 0


def test_disputed_and_expired_updates_return_the_stake(
    chain_testbed_factory: TestbedFactory,
) -> None:
    bed = open_bed(chain_testbed_factory, oracles=4, quorum=3)
    split, silent = bed.participants
    split.coordinator.submit_update(1, content_hash("split"), 1, stake=STAKE)
    silent.coordinator.submit_update(1, content_hash("silent"), 1, stake=STAKE)
    bed.oracles[0].coordinator.vote(1, split.address, True, 1)
    bed.oracles[1].coordinator.vote(1, split.address, True, 1)
    bed.oracles[2].coordinator.vote(1, split.address, False, 1, ReasonCode.MALFORMED)
    result = bed.oracles[3].coordinator.vote(1, split.address, False, 1, ReasonCode.MALFORMED)
    assert result.events_of(UpdateDisputed) and result.event(StakeReturned).amount == STAKE
    close(bed)
    bed.dev.increase_time(GRACE + 1)
    expired_result = bed.outsider.coordinator.settle(1, silent.address)
    assert expired_result.event(StakeReturned).amount == STAKE
    assert bed.admin.coordinator.returned_stake(silent.address) == STAKE


# ---- the reward cap and the vault -------------------------------------------------------------


def test_the_reward_cap_bounds_every_reward_and_the_base(
    chain_testbed_factory: TestbedFactory,
) -> None:
    bed = chain_testbed_factory(max_reward_per_update=50, reward_rule=RewardRule(10, 1))
    coordinator = bed.admin.coordinator
    assert coordinator.max_reward_per_update() == 50
    rewards = [coordinator.reward_for(score) for score in (30, 41, 10**6)]
    assert rewards == [40, 50, 50]
    with pytest.raises(RewardAboveCap) as caught:
        coordinator.set_reward_rule(RewardRule(51, 0))
    assert (caught.value.base, caught.value.cap) == (51, 50)
    coordinator.set_reward_rule(RewardRule(50, 0))
    assert replace(coordinator.reward_rule(), per_score_point=0).reward_for(9, cap=50) == 50


def test_the_coordinator_creates_the_vault_for_its_token(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    vault = bed.admin.coordinator.redemption_vault()
    assert vault == bed.deployment.vault
    assert bed.admin.vault.token() == bed.admin.coordinator.reward_token()
    assert bed.admin.vault.owner() == bed.admin.address


def test_without_oracles_nothing_is_settled(chain_testbed_factory: TestbedFactory) -> None:
    bed = chain_testbed_factory(oracles=1, quorum=1)
    participant = submit(bed)
    bed.admin.coordinator.remove_oracle(bed.oracles[0].address, 0)
    with pytest.raises(NothingToSettle):  # k = 0 must not accept without a single vote
        bed.outsider.coordinator.settle(1, participant)
    assert bed.admin.token.balance_of(participant) == 0
    assert bed.admin.coordinator.reward_owed(participant) == 0


def test_the_verification_grace_must_be_positive(chain_testbed: Testbed) -> None:
    rules = replace(TEST_ROUND_RULES, verification_grace=0)
    with pytest.raises(InvalidRoundRules) as caught:
        chain_testbed.admin.coordinator.set_round_rules(rules)
    assert caught.value.verification_grace == 0
    changed = replace(TEST_ROUND_RULES, verification_grace=42)
    chain_testbed.admin.coordinator.set_round_rules(changed)
    assert chain_testbed.admin.coordinator.round_rules() == changed
