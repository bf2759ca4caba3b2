"""Typed binding of RedemptionVault: one method per contract function."""

from __future__ import annotations

from fedledger.chain.client import TxResult
from fedledger.chain.contract import OwnableMixin


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

    def has_access(self, resource: bytes | str, account: str) -> bool:
        return bool(self._call("hasAccess", resource, account))
