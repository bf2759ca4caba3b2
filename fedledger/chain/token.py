"""Typed binding of RewardToken (an OpenZeppelin ERC-20): one method per contract function."""

from __future__ import annotations

from fedledger.chain.client import TxResult
from fedledger.chain.contract import ContractBinding


class RewardToken(ContractBinding):
    """The reward token. Only the coordinator that created it can mint."""

    CONTRACT = "RewardToken"

    def name(self) -> str:
        return str(self._call("name"))

    def symbol(self) -> str:
        return str(self._call("symbol"))

    def decimals(self) -> int:
        return int(self._call("decimals"))

    def total_supply(self) -> int:
        return int(self._call("totalSupply"))

    def balance_of(self, account: str) -> int:
        return int(self._call("balanceOf", account))

    def allowance(self, owner: str, spender: str) -> int:
        return int(self._call("allowance", owner, spender))

    def minter(self) -> str:
        return str(self._call("minter"))

    def transfer(self, to: str, amount: int) -> TxResult:
        return self._transact("transfer", to, amount)

    def approve(self, spender: str, amount: int) -> TxResult:
        return self._transact("approve", spender, amount)

    def transfer_from(self, owner: str, to: str, amount: int) -> TxResult:
        return self._transact("transferFrom", owner, to, amount)

    def burn(self, amount: int) -> TxResult:
        return self._transact("burn", amount)

    def burn_from(self, owner: str, amount: int) -> TxResult:
        return self._transact("burnFrom", owner, amount)

    def mint(self, to: str, amount: int) -> TxResult:
        """Reverts with NotMinter for everyone but the coordinator (kept for completeness)."""
        return self._transact("mint", to, amount)
