"""Admin functions: the oracle set and its quorum, participants, rules, ownership."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from eth_account import Account

from fedledger.chain import (
    Coordinator,
    RewardRule,
    RoundRules,
    UpdateStatus,
    smallest_quorum,
    valid_quorum,
)
from fedledger.chain.errors import (
    AlreadyRegistered,
    Banned,
    EmptyContentHash,
    InvalidQuorum,
    InvalidRoundRules,
    NotBanned,
    NotOracle,
    NotParticipant,
    OracleAlreadyRegistered,
    OracleRejoinTooSoon,
    OracleSetFull,
    OwnableUnauthorizedAccount,
    TrainingAlreadyStarted,
    ZeroAddress,
)
from fedledger.chain.events import (
    OpenEnrolmentChanged,
    OracleAdded,
    OracleRemoved,
    OwnershipTransferred,
    OwnershipTransferStarted,
    ParticipantBanned,
    ParticipantPardoned,
    ParticipantRegistered,
    ParticipantRemoved,
    QuorumChanged,
    RejectionLimitChanged,
    RewardRuleChanged,
    RoundOpened,
    RoundRulesChanged,
)
from tests.fixtures.chain import (
    TEST_ROUND_RULES,
    ZERO_ADDRESS,
    Testbed,
    TestbedFactory,
    content_hash,
)


def new_address(label: str) -> str:
    return Account.from_key(content_hash(label)).address


# ---- oracles and quorum -------------------------------------------------------------


def test_adding_an_oracle_sets_its_index_and_the_quorum(chain_testbed: Testbed) -> None:
    coordinator = chain_testbed.admin.coordinator
    oracle = new_address("oracle-4")
    event = coordinator.add_oracle(oracle, 3).event(OracleAdded)
    assert (event.oracle, event.index, event.size, event.quorum) == (oracle, 3, 4, 3)
    assert coordinator.is_oracle(oracle)
    assert (coordinator.oracle_count(), coordinator.quorum(), coordinator.oracle_index(oracle)) == (
        4,
        3,
        3,
    )
    assert coordinator.oracles()[-1] == oracle
    assert coordinator.max_oracles() == 64


@pytest.mark.parametrize("quorum", [2, 5])  # 2k > n fails for 2 of 4; k <= n fails for 5
def test_the_quorum_must_stay_a_strict_majority_not_above_n(
    chain_testbed: Testbed, quorum: int
) -> None:
    with pytest.raises(InvalidQuorum) as caught:
        chain_testbed.admin.coordinator.add_oracle(new_address("oracle-4"), quorum)
    assert (caught.value.quorum, caught.value.size) == (quorum, 4)


def test_set_quorum_checks_the_same_rule(chain_testbed: Testbed) -> None:
    coordinator = chain_testbed.admin.coordinator
    event = coordinator.set_quorum(3).event(QuorumChanged)
    assert (event.quorum, event.size) == (3, 3)
    assert coordinator.quorum() == 3
    for bad in (0, 1, 4):
        with pytest.raises(InvalidQuorum):
            coordinator.set_quorum(bad)


def test_the_python_quorum_rule_is_the_contracts(chain_testbed: Testbed) -> None:
    """fedledger.chain.valid_quorum (used by the demo, the admin command's default and
    deploy) accepts exactly the k the contract accepts, for the 3 oracles of the testbed."""
    coordinator = chain_testbed.admin.coordinator
    accepted = []
    for k in range(5):
        try:
            coordinator.set_quorum(k)
        except InvalidQuorum:
            continue
        accepted.append(k)
    assert accepted == [k for k in range(5) if valid_quorum(k, 3)] == [2, 3]
    assert [smallest_quorum(n) for n in range(6)] == [0, 1, 2, 2, 3, 3]


def test_oracle_registration_errors(chain_testbed: Testbed) -> None:
    coordinator = chain_testbed.admin.coordinator
    with pytest.raises(OracleAlreadyRegistered):
        coordinator.add_oracle(chain_testbed.oracles[0].address, 3)
    with pytest.raises(ZeroAddress):
        coordinator.add_oracle(ZERO_ADDRESS, 3)
    with pytest.raises(NotOracle):
        coordinator.remove_oracle(new_address("stranger"), 2)
    with pytest.raises(NotOracle):
        coordinator.oracle_index(new_address("stranger"))


def test_removing_an_oracle_drops_its_votes_and_quarantines_its_index(
    chain_testbed: Testbed,
) -> None:
    bed = chain_testbed
    participant = bed.participants[0]
    participant.coordinator.submit_update(1, content_hash("u"), 1)
    leaving = bed.oracles[0]
    leaving.coordinator.vote(1, participant.address, True, 1)
    event = bed.admin.coordinator.remove_oracle(leaving.address, 2).event(OracleRemoved)
    assert (event.oracle, event.index, event.size, event.quorum) == (
        leaving.address,
        0,
        2,
        2,
    )
    assert not bed.admin.coordinator.is_oracle(leaving.address)
    with pytest.raises(NotOracle):
        leaving.coordinator.vote(1, bed.participants[1].address, True, 1)

    # A newcomer must not inherit index 0 while round 1's bitmaps still carry its bit.
    newcomer = bed.as_account(bed.participants[5].signer)
    added = bed.admin.coordinator.add_oracle(newcomer.address, 2).event(OracleAdded)
    assert added.index == 3
    assert not bed.admin.coordinator.has_voted(1, participant.address, newcomer.address)
    # The departed vote stopped counting: only the live set's votes reach k.
    assert bed.admin.coordinator.get_update(1, participant.address).accept_votes == 0
    newcomer.coordinator.vote(1, participant.address, True, 1)
    update = bed.admin.coordinator.get_update(1, participant.address)
    assert (update.accept_votes, update.status) == (1, UpdateStatus.PENDING)
    bed.oracles[1].coordinator.vote(1, participant.address, True, 1)
    assert bed.admin.coordinator.get_update(1, participant.address).status is UpdateStatus.ACCEPTED


def test_a_quarantined_index_is_free_again_in_the_next_round(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    bed.admin.coordinator.remove_oracle(bed.oracles[0].address, 2)
    bed.dev.increase_time(TEST_ROUND_RULES.duration + 1)
    bed.admin.coordinator.close_round()  # empty round: skipped, round 2 opens
    added = bed.admin.coordinator.add_oracle(new_address("next"), 2).event(OracleAdded)
    assert added.index == 0


def test_the_set_is_bounded_at_64_oracles(chain_testbed_factory: TestbedFactory) -> None:
    bed: Testbed = chain_testbed_factory(oracles=1, start=False)
    coordinator = bed.admin.coordinator
    for number in range(2, 65):
        coordinator.add_oracle(new_address(f"oracle-{number}"), number // 2 + 1)
    assert coordinator.oracle_count() == 64
    with pytest.raises(OracleSetFull):
        coordinator.add_oracle(new_address("oracle-65"), 33)


def test_the_last_oracle_leaves_with_quorum_zero(chain_testbed_factory: TestbedFactory) -> None:
    bed: Testbed = chain_testbed_factory(oracles=1, start=False)
    with pytest.raises(InvalidQuorum):
        bed.admin.coordinator.remove_oracle(bed.oracles[0].address, 1)
    bed.admin.coordinator.remove_oracle(bed.oracles[0].address, 0)
    assert (bed.admin.coordinator.oracle_count(), bed.admin.coordinator.oracles()) == (0, [])


# ---- participants -------------------------------------------------------------------


def test_participant_registration_and_removal(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    coordinator = bed.admin.coordinator
    outsider = bed.outsider.address
    assert (
        coordinator.register_participant(outsider).event(ParticipantRegistered).participant
        == outsider
    )
    assert coordinator.get_participant(outsider).registered
    with pytest.raises(AlreadyRegistered):
        coordinator.register_participant(outsider)
    assert (
        coordinator.remove_participant(outsider).event(ParticipantRemoved).participant == outsider
    )
    with pytest.raises(NotParticipant):
        bed.outsider.coordinator.submit_update(1, content_hash("u"), 1)
    with pytest.raises(NotParticipant):
        coordinator.remove_participant(outsider)
    with pytest.raises(ZeroAddress):
        coordinator.register_participant(ZERO_ADDRESS)


def test_batch_registration_emits_one_event_each(chain_testbed: Testbed) -> None:
    addresses = [new_address(f"p{i}") for i in range(5)]
    result = chain_testbed.admin.coordinator.register_participants(addresses)
    assert [event.participant for event in result.events_of(ParticipantRegistered)] == addresses


def test_ban_and_pardon_by_the_admin(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    coordinator = bed.admin.coordinator
    target = bed.participants[0].address
    event = coordinator.ban_participant(target).event(ParticipantBanned)
    assert (event.participant, event.strikes) == (target, 0)
    with pytest.raises(Banned):
        coordinator.ban_participant(target)
    with pytest.raises(Banned):
        bed.participants[0].coordinator.submit_update(1, content_hash("u"), 1)
    assert coordinator.pardon_participant(target).event(ParticipantPardoned).participant == target
    with pytest.raises(NotBanned):
        coordinator.pardon_participant(target)
    bed.participants[0].coordinator.submit_update(1, content_hash("u"), 1)


def test_enrolment_and_rejection_limit_settings(chain_testbed: Testbed) -> None:
    coordinator = chain_testbed.admin.coordinator
    assert coordinator.set_open_enrolment(True).event(OpenEnrolmentChanged).open is True
    assert coordinator.open_enrolment()
    assert coordinator.set_rejection_limit(7).event(RejectionLimitChanged).limit == 7
    assert coordinator.rejection_limit() == 7


# ---- rules and start ----------------------------------------------------------------


def test_round_and_reward_rules(chain_testbed: Testbed) -> None:
    coordinator = chain_testbed.admin.coordinator
    assert coordinator.round_rules() == TEST_ROUND_RULES
    rules = RoundRules(duration=60, aggregation_timeout=30, contribution_target=4)
    changed = coordinator.set_round_rules(rules).event(RoundRulesChanged)
    assert (changed.duration, changed.aggregation_timeout, changed.contribution_target) == (
        60,
        30,
        4,
    )
    assert coordinator.round_rules() == rules
    for bad in (replace(rules, duration=0), replace(rules, aggregation_timeout=0)):
        with pytest.raises(InvalidRoundRules):
            coordinator.set_round_rules(bad)

    reward = RewardRule(base=5, per_score_point=2)
    event = coordinator.set_reward_rule(reward).event(RewardRuleChanged)
    assert (event.base, event.per_score_point) == (5, 2)
    assert coordinator.reward_rule() == reward
    assert coordinator.reward_for(10) == 25


def test_start_training_once_on_a_real_hash(chain_testbed_factory: TestbedFactory) -> None:
    bed: Testbed = chain_testbed_factory(start=False)
    coordinator = bed.admin.coordinator
    with pytest.raises(EmptyContentHash):
        coordinator.start_training(bytes(32))
    opened = coordinator.start_training(content_hash("g")).event(RoundOpened)
    assert (opened.round, opened.global_model) == (1, content_hash("g"))
    with pytest.raises(TrainingAlreadyStarted):
        coordinator.start_training(content_hash("g"))


@pytest.mark.parametrize(
    "call",
    [
        lambda c, a: c.add_oracle(a, 3),
        lambda c, a: c.remove_oracle(a, 1),
        lambda c, a: c.set_quorum(3),
        lambda c, a: c.register_participant(a),
        lambda c, a: c.register_participants([a]),
        lambda c, a: c.remove_participant(a),
        lambda c, a: c.ban_participant(a),
        lambda c, a: c.pardon_participant(a),
        lambda c, a: c.set_open_enrolment(True),
        lambda c, a: c.set_rejection_limit(1),
        lambda c, a: c.start_training(content_hash("g")),
        lambda c, a: c.set_round_rules(TEST_ROUND_RULES),
        lambda c, a: c.set_reward_rule(RewardRule(1, 1)),
    ],
)
def test_admin_functions_refuse_everyone_else(
    chain_testbed: Testbed, call: Callable[[Coordinator, str], object]
) -> None:
    bed = chain_testbed
    for intruder in (bed.outsider, bed.oracles[0], bed.participants[0]):
        with pytest.raises(OwnableUnauthorizedAccount) as caught:
            call(intruder.coordinator, bed.oracles[0].address)
        assert caught.value.account == intruder.address


def test_admin_hand_over_takes_two_steps(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    successor = bed.as_account(bed.participants[3].signer)
    started = bed.admin.coordinator.transfer_ownership(successor.address).event(
        OwnershipTransferStarted
    )
    assert (started.previous_owner, started.new_owner) == (
        bed.admin.address,
        successor.address,
    )
    assert bed.admin.coordinator.owner() == bed.admin.address
    assert bed.admin.coordinator.pending_owner() == successor.address
    with pytest.raises(OwnableUnauthorizedAccount):
        bed.outsider.coordinator.accept_ownership()
    done = successor.coordinator.accept_ownership().event(OwnershipTransferred)
    assert done.new_owner == successor.address
    assert bed.admin.coordinator.owner() == successor.address
    with pytest.raises(OwnableUnauthorizedAccount):
        bed.admin.coordinator.set_rejection_limit(1)
    successor.coordinator.renounce_ownership()
    assert bed.admin.coordinator.owner() == ZERO_ADDRESS


def test_a_removed_oracle_cannot_rejoin_in_the_same_round(chain_testbed: Testbed) -> None:
    """Re-added in the same round, it would get a fresh index and could vote twice on an
    update it already voted on; from the next round on it may rejoin."""
    bed = chain_testbed
    oracle = bed.oracles[0]
    bed.admin.coordinator.remove_oracle(oracle.address, 2)
    with pytest.raises(OracleRejoinTooSoon) as caught:
        bed.admin.coordinator.add_oracle(oracle.address, 2)
    assert (caught.value.oracle, caught.value.round) == (oracle.address, 1)
    bed.dev.increase_time(TEST_ROUND_RULES.duration + 1)
    bed.admin.coordinator.close_round()
    assert bed.admin.coordinator.add_oracle(oracle.address, 2).event(OracleAdded).index == 0
