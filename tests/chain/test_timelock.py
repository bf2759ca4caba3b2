"""The admin behind OpenZeppelin's TimelockController: set-up by deploy(), schedule and
execute, roles, and issue 10's exploit 8 (the admin draining the vault in one step)."""

from __future__ import annotations

import pytest

from fedledger.chain import RewardRule
from fedledger.chain.errors import (
    AccessControlUnauthorizedAccount,
    OwnableUnauthorizedAccount,
    TimelockUnexpectedOperationState,
)
from fedledger.chain.events import CallExecuted, CallScheduled, MinDelayChange
from fedledger.chain.timelock import (
    CANCELLER_ROLE,
    EXECUTOR_ROLE,
    PROPOSER_ROLE,
    Operation,
    TimelockParams,
)
from tests.fixtures.chain import Cast, Testbed, TestbedFactory, content_hash

DELAY = 3_600


def timelocked(factory: TestbedFactory, **params: object) -> Testbed:
    return factory(timelock=TimelockParams(delay=DELAY, **params))  # type: ignore[arg-type]


def test_deploy_hands_both_contracts_to_the_timelock(
    chain_testbed_factory: TestbedFactory,
) -> None:
    bed = timelocked(chain_testbed_factory)
    timelock = bed.admin.timelock
    assert timelock is not None and bed.deployment.timelock == timelock.address
    assert bed.deployment.admin == timelock.address
    assert bed.admin.coordinator.owner() == timelock.address
    assert bed.admin.vault.owner() == timelock.address
    assert bed.admin.gateways.owner() == timelock.address
    assert timelock.min_delay() == DELAY
    changes = bed.admin.client.get_events(MinDelayChange, timelock.address)
    assert [(c.old_duration, c.new_duration) for c in changes] == [(0, 0), (0, DELAY)]
    deployer = bed.admin.address
    assert timelock.has_role(PROPOSER_ROLE, deployer) and timelock.has_role(EXECUTOR_ROLE, deployer)
    # Everything registered at deployment is in place (done before the hand-over).
    assert bed.admin.coordinator.oracle_count() == 3
    assert bed.admin.coordinator.current_round() == 1


def test_exploit_8_the_admin_cannot_act_without_announcing_it(
    chain_testbed_factory: TestbedFactory,
) -> None:
    bed = timelocked(chain_testbed_factory)
    timelock = bed.admin.timelock
    assert timelock is not None
    coordinator = bed.admin.coordinator
    with pytest.raises(OwnableUnauthorizedAccount):
        coordinator.set_reward_rule(RewardRule(10**21, 0))
    with pytest.raises(OwnableUnauthorizedAccount):
        coordinator.remove_oracle(bed.oracles[0].address, 2)

    # Taking over the oracle set must be announced and wait out the delay.
    takeover = Operation(
        coordinator.address,
        coordinator.interface.encode_call("removeOracle", [bed.oracles[0].address, 2]),
    )
    scheduled = timelock.schedule(takeover).event(CallScheduled)
    assert (scheduled.target, scheduled.delay) == (coordinator.address, DELAY)
    with pytest.raises(TimelockUnexpectedOperationState):
        timelock.execute(takeover)
    ready_at = timelock.ready_at(takeover)
    assert ready_at == bed.dev.timestamp() + DELAY

    # Meanwhile every holder can see it coming and redeem at today's rate.
    participant = bed.participants[0]
    participant.coordinator.submit_update(1, content_hash("honest"), 10)
    for oracle in bed.oracles[:2]:
        oracle.coordinator.vote(1, participant.address, True, 1)
    participant.coordinator.claim_rewards()
    bed.outsider.vault.deposit(10**18)
    balance = participant.token.balance_of(participant.address)
    assert participant.redeem(balance).gas_used > 0
    assert participant.vault.owed(participant.address) == 10**18

    bed.dev.increase_time(DELAY + 1)
    executed = timelock.execute(takeover)
    assert executed.events_of(CallExecuted)
    assert not coordinator.is_oracle(bed.oracles[0].address)
    assert timelock.is_done(takeover)


def test_roles_follow_the_options(chain_testbed_factory: TestbedFactory, chain_cast: Cast) -> None:
    proposer, executor = chain_cast.participants[-2:]
    bed = timelocked(
        chain_testbed_factory, proposers=(proposer.address,), executors=(executor.address,)
    )
    timelock = bed.admin.timelock
    assert timelock is not None
    deployer = bed.admin.address
    for role in (PROPOSER_ROLE, CANCELLER_ROLE, EXECUTOR_ROLE):
        assert not timelock.has_role(role, deployer)
    assert timelock.has_role(PROPOSER_ROLE, proposer.address)
    assert timelock.has_role(EXECUTOR_ROLE, executor.address)
    operation = Operation(
        bed.admin.coordinator.address,
        bed.admin.coordinator.interface.encode_call("setRejectionLimit", [7]),
    )
    with pytest.raises(AccessControlUnauthorizedAccount):
        timelock.schedule(operation)
    timelock.with_account(proposer).schedule(operation)
    bed.dev.increase_time(DELAY + 1)
    with pytest.raises(AccessControlUnauthorizedAccount):
        timelock.with_account(proposer).execute(operation)
    timelock.with_account(executor).execute(operation)
    assert bed.admin.coordinator.rejection_limit() == 7
