"""Typed binding of RedemptionVault: one method per contract function."""

from __future__ import annotations

from dataclasses import dataclass

from fedledger.chain.client import TxResult
from fedledger.chain.contract import OwnableMixin

#: The expiry of access that never ends (the contract's type(uint64).max).
ACCESS_FOREVER = 2**64 - 1


@dataclass(frozen=True)
class ResourceInfo:
    """A resource as the vault records it (zeros: unknown)."""

    resource: bytes
    price: int
    content_hash: bytes  # of the bytes a download must match (zeros: a bare access right)
    sealed_blob: bytes  # content hash of the envelope gateways serve it from
    access_duration: int  # seconds per purchase (0: forever)

    @property
    def servable(self) -> bool:
        """Whether gateways can serve it (it was registered with content)."""
        return self.content_hash != bytes(32)


class RedemptionVault(OwnableMixin):
    """Burn reward tokens for pooled ETH (pull payment) or for recorded access rights.

    ``redeem`` and ``purchase_access`` burn with ``burnFrom``: approve the vault on the
    token first (:meth:`fedledger.chain.ledger.FedLedger.redeem` does both).
    """

    CONTRACT = "RedemptionVault"

    def deposit(self, amount_wei: int) -> TxResult:
        """Add ``amount_wei`` of the account's ETH to the pool."""
        return self._transact("deposit", value=amount_wei)

    def redeem(self, amount: int) -> TxResult:
        """Burn ``amount`` tokens for their pro-rata share of the pool, credited to withdraw."""
        return self._transact("redeem", amount)

    def withdraw(self) -> TxResult:
        """Send the account all ETH its redemptions were credited."""
        return self._transact("withdraw")

    def purchase_access(self, resource: bytes | str) -> TxResult:
        """Burn the resource's price in tokens and record the account's access to it."""
        return self._transact("purchaseAccess", resource)

    def set_access_price(self, resource: bytes | str, price: int) -> TxResult:
        """Set the token price of ``resource`` (admin); 0 takes it off sale."""
        return self._transact("setAccessPrice", resource, price)

    def register_resource(
        self,
        resource: bytes,
        price: int,
        content_hash: bytes,
        sealed_blob: bytes,
        access_duration: int = 0,
    ) -> TxResult:
        """Register a resource the gateways serve (admin): price, content, access duration."""
        return self._transact(
            "registerResource", resource, price, content_hash, sealed_blob, access_duration
        )

    def token(self) -> str:
        return str(self._call("token"))

    def total_owed(self) -> int:
        return int(self._call("totalOwed"))

    def pooled_balance(self) -> int:
        return int(self._call("pooledBalance"))

    def quote_redemption(self, amount: int) -> int:
        return int(self._call("quoteRedemption", amount))

    def owed(self, holder: str) -> int:
        return int(self._call("owed", holder))

    def access_price(self, resource: bytes | str) -> int:
        return int(self._call("accessPrice", resource))

    def has_access(self, resource: bytes | str, account: str, block: str = "latest") -> bool:
        """Whether ``account`` holds unexpired access to ``resource`` at the chain's time."""
        return bool(self._call("hasAccess", resource, account, block=block))

    def access_expiry(self, resource: bytes | str, account: str) -> int:
        """When the access ends, chain time (0: never bought; ACCESS_FOREVER: never ends)."""
        return int(self._call("accessExpiry", resource, account))

    def resource_of(self, resource: bytes) -> ResourceInfo:
        return ResourceInfo(resource=bytes(resource), **self._call("resourceOf", resource))
