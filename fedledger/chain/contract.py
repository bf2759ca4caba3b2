"""The base of the typed contract bindings."""

from __future__ import annotations

from typing import Any, ClassVar, Self, TypeVar

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from fedledger.chain.abi import ContractInterface
from fedledger.chain.client import ChainClient, TxResult
from fedledger.chain.event_base import ChainEvent
from fedledger.chain.exceptions import AccountError, DeploymentError

E = TypeVar("E", bound=ChainEvent)


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

    def __repr__(self) -> str:
        sender = self.account.address if self.account else "read-only"
        return f"{type(self).__name__}({self.address}, as {sender})"

    def with_account(self, account: LocalAccount) -> Self:
        return type(self)(self.client, self.address, account)

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

    def _transact(self, function: str, *args: Any, value: int = 0, min_gas: int = 0) -> TxResult:
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
