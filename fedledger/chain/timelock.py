"""The admin behind a delay: a binding of AdminTimelock (OpenZeppelin's TimelockController),
the set-up that makes it the owner of the coordinator and the vault, and the routing that
sends an admin call through it (schedule now, execute after the delay).

Set-up (:func:`install_timelock`): the timelock is deployed with a zero delay and the
deploying account as a temporary proposer and executor, both contracts' ownership is
handed to it (Ownable2Step: ``transferOwnership`` by the deployer, ``acceptOwnership`` by
the timelock, as one zero-delay batch that also raises the delay to its final value), and
the deployer then renounces every role it was not asked to keep. From then on no call of
the admin takes effect sooner than ``min_delay`` after it was announced on chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from fedledger.chain.artifacts import ArtifactSet
from fedledger.chain.client import ChainClient, TxResult
from fedledger.chain.contract import ContractBinding, deploy_contract

#: The delay `fedledger deploy` gives the timelock unless told otherwise: two days.
DEFAULT_TIMELOCK_DELAY = 2 * 24 * 3600
ZERO_SALT = bytes(32)
PROPOSER_ROLE = keccak(text="PROPOSER_ROLE")
EXECUTOR_ROLE = keccak(text="EXECUTOR_ROLE")
CANCELLER_ROLE = keccak(text="CANCELLER_ROLE")


@dataclass(frozen=True)
class TimelockParams:
    """How the admin's timelock is set up at deployment (empty lists: the deployer)."""

    delay: int = DEFAULT_TIMELOCK_DELAY
    proposers: tuple[str, ...] = ()
    executors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Operation:
    """One call the timelock schedules and later executes; ``id`` is its on-chain key."""

    target: str
    data: bytes
    salt: bytes = ZERO_SALT
    value: int = 0
    predecessor: bytes = ZERO_SALT


class Timelock(ContractBinding):
    """AdminTimelock: schedule, execute and inspect delayed admin operations."""

    CONTRACT = "AdminTimelock"

    def schedule(self, operation: Operation, delay: int | None = None) -> TxResult:
        """Announce ``operation``; it can execute ``delay`` (default: the minimum) later."""
        delay = self.min_delay() if delay is None else delay
        return self._transact("schedule", *_operation_args(operation), delay, min_gas=_SCHEDULE_GAS)

    def execute(self, operation: Operation) -> TxResult:
        """Run a scheduled operation whose delay has passed."""
        return self._transact(
            "execute", *_operation_args(operation), value=operation.value, min_gas=_EXECUTE_GAS
        )

    def schedule_batch(self, operations: Sequence[Operation], delay: int) -> TxResult:
        return self._transact("scheduleBatch", *_batch_args(operations), delay)

    def execute_batch(self, operations: Sequence[Operation]) -> TxResult:
        return self._transact("executeBatch", *_batch_args(operations))

    def cancel(self, operation_id: bytes) -> TxResult:
        return self._transact("cancel", operation_id)

    def operation_id(self, operation: Operation) -> bytes:
        return bytes(self._call("hashOperation", *_operation_args(operation)))

    def ready_at(self, operation: Operation) -> int:
        """The timestamp from which the operation may execute (0: not scheduled, 1: done)."""
        return self.timestamp_of(self.operation_id(operation))

    def timestamp_of(self, operation_id: bytes) -> int:
        """:meth:`ready_at` of an operation known by its id."""
        return int(self._call("getTimestamp", operation_id))

    def is_done(self, operation: Operation) -> bool:
        return bool(self._call("isOperationDone", self.operation_id(operation)))

    def min_delay(self) -> int:
        return int(self._call("getMinDelay"))

    def has_role(self, role: bytes, account: str) -> bool:
        return bool(self._call("hasRole", role, account))

    def renounce_role(self, role: bytes, account: str) -> TxResult:
        return self._transact("renounceRole", role, account)


@dataclass(frozen=True)
class TimelockRoute:
    """Routes admin calls through the timelock: ``schedule`` announces each call,
    ``execute`` runs the same call once its delay has passed (same target, data and salt:
    the same operation id)."""

    timelock: Timelock
    mode: str  # "schedule" or "execute"
    salt: bytes = ZERO_SALT

    def send(self, target: str, data: bytes, context: str) -> TxResult:
        operation = Operation(target, data, self.salt)
        if self.mode == "schedule":
            return self.timelock.schedule(operation)
        if self.mode == "execute":
            return self.timelock.execute(operation)
        raise ValueError(f"unknown timelock mode {self.mode!r} for {context}")

    def operation(self, target: str, data: bytes) -> Operation:
        return Operation(target, data, self.salt)


_SCHEDULE_GAS = 150_000
_EXECUTE_GAS = 400_000  # the routed admin call runs inside it (an oracle change, a batch...)


def _operation_args(operation: Operation) -> tuple[Any, ...]:
    return (
        operation.target,
        operation.value,
        operation.data,
        operation.predecessor,
        operation.salt,
    )


def _batch_args(operations: Sequence[Operation]) -> tuple[Any, ...]:
    return (
        [op.target for op in operations],
        [op.value for op in operations],
        [op.data for op in operations],
        ZERO_SALT,
        ZERO_SALT,
    )


def install_timelock(
    client: ChainClient,
    account: LocalAccount,
    artifacts: ArtifactSet,
    owned: Sequence[ContractBinding],
    params: TimelockParams,
) -> Timelock:
    """Deploy the timelock and make it the owner of every contract in ``owned`` (each an
    Ownable2Step binding acting as the deployer, their current owner)."""
    deployer = account.address
    proposers = list(dict.fromkeys([*params.proposers, deployer]))
    executors = list(dict.fromkeys([*params.executors, deployer]))
    tx = deploy_contract(
        client, account, artifacts["AdminTimelock"], [0, proposers, executors, _ZERO_ADDRESS]
    )
    assert tx.contract_address is not None
    timelock = Timelock(client, tx.contract_address, account)
    for binding in owned:
        binding._transact("transferOwnership", timelock.address)
    accept = [
        Operation(binding.address, binding.interface.encode_call("acceptOwnership", []))
        for binding in owned
    ]
    raise_delay = Operation(
        timelock.address, timelock.interface.encode_call("updateDelay", [params.delay])
    )
    batch = [*accept, raise_delay]
    timelock.schedule_batch(batch, 0)
    timelock.execute_batch(batch)
    wanted = {
        PROPOSER_ROLE: params.proposers or (deployer,),
        CANCELLER_ROLE: params.proposers or (deployer,),
        EXECUTOR_ROLE: params.executors or (deployer,),
    }
    for role, keep in wanted.items():
        if deployer not in keep:
            timelock.renounce_role(role, deployer)
    return timelock


_ZERO_ADDRESS = "0x" + "00" * 20
