"""`fedledger deploy --timelock` and `fedledger admin ... --schedule / --execute` on a real
anvil: the admin's calls are announced on chain and take effect only after the delay."""

from __future__ import annotations

from fedledger.chain import FedLedger, dev_account
from fedledger.chain.deployment import load_deployment
from fedledger.chain.timelock import TimelockParams
from tests.cli.conftest import Cli, CliFactory

DELAY = 600


def test_a_timelocked_admin_schedules_then_executes(cli_factory: CliFactory) -> None:
    cli: Cli = cli_factory(timelock=TimelockParams(delay=DELAY))
    newcomer = dev_account(4).address
    coordinator = cli.admin.coordinator
    refusal = cli.fails("admin", "add-oracle", newcomer, "--quorum", "3", code=2)
    assert "--schedule" in refusal and "--execute" in refusal

    scheduled = cli.json("admin", "add-oracle", newcomer, "--quorum", "3", "--schedule")
    assert scheduled["executable_at"] >= cli.admin.client.chain_time() + DELAY - 5
    assert not coordinator.is_oracle(newcomer)
    early = cli.fails("admin", "add-oracle", newcomer, "--quorum", "3", "--execute")
    assert "TimelockUnexpectedOperationState" in early

    cli.bed.dev.increase_time(DELAY + 1)
    output = cli.ok("admin", "add-oracle", newcomer, "--quorum", "3", "--execute")
    assert output.startswith("executed through the timelock: oracle")
    assert coordinator.is_oracle(newcomer) and coordinator.quorum() == 3

    status = cli.json("status")
    assert status["rules"]["timelock"] == cli.bed.deployment.timelock
    assert status["rules"]["timelock_delay"] == DELAY


def test_schedule_without_a_timelock_is_refused(cli: Cli) -> None:
    line = cli.fails("admin", "set-quorum", "2", "--schedule", code=2)
    assert "no timelock" in line


def test_deploy_puts_the_admin_behind_a_timelock_when_asked(cli: Cli) -> None:
    output = cli.ok(
        "deploy",
        "--timelock",
        "--timelock-delay",
        "3600",
        "--enrolment-stake",
        "0.01",
        "--open-enrolment",
        "--oracle",
        dev_account(1).address,
    )
    assert "AdminTimelock" in output and "delay 60 min" in output
    deployment = load_deployment(cli.project)
    ledger = FedLedger.connect(cli.project)
    assert deployment.timelock is not None and ledger.timelock is not None
    assert ledger.coordinator.owner() == ledger.vault.owner() == deployment.timelock
    assert ledger.timelock.min_delay() == 3600
    assert ledger.coordinator.enrolment_stake() == 10**16
    status = cli.ok("status")
    assert "stake of 0.01 ETH" in status
