"""FedLedger: a deployment's three contracts, bound to one account, in one object.

    ledger = FedLedger.connect(load_config(), account=dev_account(3))
    model = ledger.coordinator.latest_model()
    ledger.coordinator.submit_update(model.round, content_hash, num_samples=600)

This is what the CLI, the oracle node and the participant client start from.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self, TypeVar

from eth_account.signers.local import LocalAccount

from fedledger.chain.abi import AbiRegistry, ContractInterface
from fedledger.chain.anvil import DevControls
from fedledger.chain.artifacts import ArtifactSet
from fedledger.chain.client import ChainClient, EventStream, TxResult, connect_web3
from fedledger.chain.compiler import compile_contracts, load_artifacts
from fedledger.chain.coordinator import Coordinator
from fedledger.chain.deployment import Deployment, load_deployment
from fedledger.chain.enums import GlobalModelPolicy
from fedledger.chain.event_base import ChainEvent
from fedledger.chain.exceptions import DeploymentError
from fedledger.chain.gateways import GatewayRegistry
from fedledger.chain.timelock import Timelock
from fedledger.chain.token import RewardToken
from fedledger.chain.vault import RedemptionVault
from fedledger.config import ProjectConfig

E = TypeVar("E", bound=ChainEvent)


def abi_registry(artifacts: ArtifactSet) -> AbiRegistry:
    """The decoding registry over every compiled contract that has an ABI."""
    return AbiRegistry([ContractInterface(item.name, item.abi) for item in artifacts if item.abi])


def open_client(
    config: ProjectConfig, network: str | None = None, artifacts: ArtifactSet | None = None
) -> ChainClient:
    """A client for a configured network, decoding with the (compiled or given) artifacts."""
    artifacts = artifacts or compile_contracts(config, network)
    return ChainClient(connect_web3(config.network(network)), abi_registry(artifacts))


class FedLedger:
    """The coordinator, token and vault of one deployment, acting as one account (or
    read-only without one)."""

    def __init__(
        self, client: ChainClient, deployment: Deployment, account: LocalAccount | None = None
    ) -> None:
        self.client = client
        self.deployment = deployment
        self.account = account
        self.coordinator = Coordinator(client, deployment.coordinator, account)
        self.token = RewardToken(client, deployment.token, account)
        self.vault = RedemptionVault(client, deployment.vault, account)
        #: The AdminTimelock that owns the coordinator and the vault, if the deployment has one.
        self.timelock = (
            Timelock(client, deployment.timelock, account) if deployment.timelock else None
        )
        self._gateways = (
            GatewayRegistry(client, deployment.gateways, account) if deployment.gateways else None
        )

    @property
    def gateways(self) -> GatewayRegistry:
        """The deployment's GatewayRegistry; DeploymentError for a deployment older than it."""
        if self._gateways is None:
            raise DeploymentError(
                f"the deployment on {self.deployment.network!r} has no gateway registry (it "
                "predates gateways): run `fedledger deploy` again"
            )
        return self._gateways

    @gateways.setter
    def gateways(self, registry: GatewayRegistry) -> None:
        self._gateways = registry

    @classmethod
    def connect(
        cls,
        config: ProjectConfig,
        network: str | None = None,
        *,
        account: LocalAccount | None = None,
        deployment: Deployment | None = None,
    ) -> FedLedger:
        """Connect to the deployment recorded for ``network`` and check that the chain is
        still the one it was deployed to."""
        deployment = deployment or load_deployment(config, network)
        client = open_client(config, deployment.network, _artifacts_for(config, deployment))
        ledger = cls(client, deployment, account)
        ledger.verify()
        return ledger

    def with_account(self, account: LocalAccount) -> Self:
        """The same deployment and connection, acting as ``account``."""
        return type(self)(self.client, self.deployment, account)

    def verify(self) -> None:
        """Raise DeploymentError if the chain is not the one the deployment was made on
        (a restarted development chain, another network) or the contracts are gone."""
        where = f"network {self.deployment.network!r}"
        if self.client.chain_id != self.deployment.chain_id:
            raise DeploymentError(
                f"{where} has chain id {self.client.chain_id}, the deployment was made on "
                f"{self.deployment.chain_id}: run `fedledger deploy` for this chain"
            )
        if self.client.genesis_hash() != self.deployment.genesis_hash:
            raise DeploymentError(
                f"{where} is a different chain than the one deployed to (it was restarted?): "
                "run `fedledger deploy` again"
            )
        if not self.client.code(self.deployment.coordinator):
            raise DeploymentError(
                f"no contract at {self.deployment.coordinator} on {where}: redeploy"
            )

    @property
    def signer(self) -> LocalAccount:
        """The account this FedLedger acts as; DeploymentError if it is read-only."""
        if self.account is None:
            raise DeploymentError("this FedLedger is read-only: use .with_account(account)")
        return self.account

    @property
    def address(self) -> str:
        """The address of the account this FedLedger acts as."""
        return self.signer.address

    @property
    def addresses(self) -> tuple[str, str, str]:
        return (self.coordinator.address, self.token.address, self.vault.address)

    @property
    def dev(self) -> DevControls:
        """Snapshots, time travel and mining on a development chain."""
        return DevControls(self.client.rpc)

    def events(
        self, event_type: type[E], from_block: int = 0, to_block: int | None = None, **filters: Any
    ) -> list[E]:
        """Events of one type from any of the three contracts, in chain order."""
        return self.client.get_events(
            event_type, list(self.addresses), from_block, to_block, **filters
        )

    def event_stream(
        self,
        event_types: Sequence[type[ChainEvent]],
        from_block: int | None = None,
        *,
        confirmations: int = 0,
    ) -> EventStream:
        """Follow the deployment's events of the given types (from the deployment block)."""
        start = self.deployment.block_number if from_block is None else from_block
        return EventStream(
            self.client, list(self.addresses), event_types, start, confirmations=confirmations
        )

    def global_model_policy(self) -> GlobalModelPolicy:
        """Who may read the global models (PUBLIC for a deployment without a registry)."""
        if self._gateways is None:
            return GlobalModelPolicy.PUBLIC
        return self._gateways.global_model_policy()

    def global_model_recipients(self) -> list[bytes] | None:
        """The keys a global model is sealed for: None under the public policy (stored in
        plain), else the live oracles' current keys and the gateways' keys, sorted. Every
        oracle reads the same list from the same chain state, so all seal the same bytes."""
        if self.global_model_policy() is GlobalModelPolicy.PUBLIC:
            return None
        keys = {key for key in self.coordinator.encryption_keys().values() if any(key)}
        keys.update(gateway.encryption_key for gateway in self.gateways.gateways())
        if not keys:
            raise DeploymentError(
                "the global models are sealed for the oracles and gateways, but none has "
                "registered an encryption key yet"
            )
        return sorted(keys)

    def redeem(self, amount: int) -> TxResult:
        """Approve the vault if needed, then burn ``amount`` tokens for pooled ETH."""
        self._ensure_allowance(amount)
        return self.vault.redeem(amount)

    def purchase_access(self, resource: bytes | str) -> TxResult:
        """Approve the vault if needed, then buy access to ``resource``."""
        self._ensure_allowance(self.vault.access_price(resource))
        return self.vault.purchase_access(resource)

    def _ensure_allowance(self, amount: int) -> None:
        if self.token.allowance(self.address, self.vault.address) < amount:
            self.token.approve(self.vault.address, amount)


def _artifacts_for(config: ProjectConfig, deployment: Deployment) -> ArtifactSet:
    """The ABI the deployment was made from: its cached artifacts, else the current sources
    if they compile to the same key."""
    recorded = load_artifacts(config, deployment.artifacts_key)
    if recorded is not None:
        return recorded
    current = compile_contracts(config, deployment.network)
    if current.key != deployment.artifacts_key:
        raise DeploymentError(
            f"the deployment on {deployment.network!r} was made from other contract sources "
            f"(artifacts {deployment.artifacts_key}, now {current.key}): run `fedledger deploy`"
        )
    return current
