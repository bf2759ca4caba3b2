"""The base of the typed contract bindings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Protocol, Self, TypeVar

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from fedledger.chain.abi import ContractInterface
from fedledger.chain.artifacts import ContractArtifact
from fedledger.chain.client import ChainClient, TxResult
from fedledger.chain.event_base import ChainEvent
from fedledger.chain.exceptions import AccountError, DeploymentError

E = TypeVar("E", bound=ChainEvent)


class CallRoute(Protocol):
    """Sends a binding's state-changing calls another way (e.g. through a timelock)."""

    def send(self, target: str, data: bytes, context: str) -> TxResult: ...


class ContractBinding:
    """A deployed contract seen through its ABI, acting as one account.

    Subclasses define one method per contract function: views return Python values or
    dataclasses, state-changing functions return a :class:`TxResult` with the decoded
    events. Reverts raise the exception classes of :mod:`fedledger.chain.errors`.
    A binding made without an account can read but not send; :meth:`with_account` gives
    a copy acting as another account (the nonce bookkeeping is shared through the client).
    """

    #: Name of the contract in the compiled artifacts.
    CONTRACT: ClassVar[str]

    def __init__(
        self, client: ChainClient, address: str, account: LocalAccount | None = None
    ) -> None:
        self.client = client
        self.address = to_checksum_address(address)
        self.account = account
        self.interface: ContractInterface = client.registry[self.CONTRACT]
        #: Where state-changing calls go instead of straight to the contract (None: direct).
        self.route: CallRoute | None = None

    def __repr__(self) -> str:
        sender = self.account.address if self.account else "read-only"
        return f"{type(self).__name__}({self.address}, as {sender})"

    def with_account(self, account: LocalAccount) -> Self:
        return type(self)(self.client, self.address, account)

    def routed(self, route: CallRoute) -> Self:
        """A copy whose state-changing calls are sent through ``route``; views stay direct."""
        copy = type(self)(self.client, self.address, self.account)
        copy.route = route
        return copy

    def events(
        self, event_type: type[E], from_block: int = 0, to_block: int | None = None, **filters: Any
    ) -> list[E]:
        """This contract's events of one type in a block range (see ChainClient.get_events)."""
        return self.client.get_events(event_type, self.address, from_block, to_block, **filters)

    def _call(self, function: str, *args: Any, block: str = "latest") -> Any:
        data = self.interface.encode_call(function, args)
        sender = self.account.address if self.account else None
        raw = self.client.call(
            self.address, data, sender=sender, context=self._context(function), block=block
        )
        if not raw:
            # A view always returns data; none means no contract at the address: the chain
            # was restarted or is another one than the deployment's.
            raise DeploymentError(
                f"no {self.CONTRACT} contract at {self.address} on this chain (was it "
                "restarted, or is it another chain?): redeploy with `fedledger deploy`"
            )
        return self.interface.decode_result(function, raw)

    def _transact(
        self, function: str, *args: Any, value: int = 0, min_gas: int = 0, gas: int | None = None
    ) -> TxResult:
        if self.route is not None:
            data = self.interface.encode_call(function, args)
            return self.route.send(self.address, data, self._context(function))
        if self.account is None:
            raise AccountError(
                f"{self.CONTRACT}.{function} sends a transaction, but this binding has no "
                "account: use .with_account(account)"
            )
        return self.client.transact(
            self.account,
            self.address,
            self.interface.encode_call(function, args),
            value=value,
            gas=gas,
            min_gas=min_gas,
            context=self._context(function),
        )

    def _context(self, function: str) -> str:
        return f"{self.CONTRACT}.{function}"


class OwnableMixin(ContractBinding):
    """The OpenZeppelin Ownable2Step functions shared by the coordinator and the vault."""

    def owner(self) -> str:
        return str(self._call("owner"))

    def pending_owner(self) -> str:
        return str(self._call("pendingOwner"))

    def transfer_ownership(self, new_owner: str) -> TxResult:
        """Start a two-step admin hand-over; ``new_owner`` completes it with accept_ownership."""
        return self._transact("transferOwnership", new_owner)

    def accept_ownership(self) -> TxResult:
        return self._transact("acceptOwnership")

    def renounce_ownership(self) -> TxResult:
        """Give up the admin role for good (no admin function can be called afterwards)."""
        return self._transact("renounceOwnership")


def deploy_contract(
    client: ChainClient, account: LocalAccount, artifact: ContractArtifact, args: Sequence[object]
) -> TxResult:
    """Deploy one compiled contract (any artifact, not only this deployment's) with its
    constructor arguments; the result carries its ``contract_address``."""
    creation = bytes.fromhex(artifact.bytecode[2:])
    constructor_args = ContractInterface(artifact.name, artifact.abi).encode_constructor(args)
    return client.transact(
        account, None, creation + constructor_args, context=f"deploy {artifact.name}"
    )
