"""The on-chain half of FedLedger: compile, run a dev chain, deploy, and typed bindings.

Start from :class:`FedLedger` (a deployment's coordinator, token and vault acting as one
account), :func:`compile_contracts`, :func:`deploy` and :class:`Anvil`. Reverts raise the
exceptions of :mod:`fedledger.chain.errors`, named after the contracts' custom errors;
events decode into the dataclasses of :mod:`fedledger.chain.events`; reason codes and
the contract enums live in :mod:`fedledger.chain.codes`.
"""

from fedledger.chain.anvil import Anvil, DevControls, EmbeddedChain
from fedledger.chain.artifacts import ArtifactSet, ContractArtifact
from fedledger.chain.client import ChainClient, EventStream, StreamChanges, TxResult, connect_web3
from fedledger.chain.codes import (
    GlobalModelPolicy,
    ReasonCode,
    RoundState,
    SkipReason,
    StoragePolicy,
    UpdateStatus,
)
from fedledger.chain.compiler import compile_contracts
from fedledger.chain.coordinator import (
    Coordinator,
    EncryptionKeyInfo,
    GlobalModel,
    ParticipantInfo,
    RewardRule,
    RoundInfo,
    RoundRules,
    UpdateInfo,
    Verdict,
    smallest_quorum,
    valid_quorum,
)
from fedledger.chain.deployment import (
    Deployment,
    DeployParams,
    deploy,
    load_deployment,
    save_deployment,
)
from fedledger.chain.exceptions import ChainError, ContractRevert
from fedledger.chain.gateways import GatewayInfo, GatewayRegistry
from fedledger.chain.keys import dev_account, dev_accounts, resolve_account
from fedledger.chain.ledger import FedLedger, abi_registry, open_client
from fedledger.chain.token import RewardToken
from fedledger.chain.vault import ACCESS_FOREVER, RedemptionVault, ResourceInfo

__all__ = [
    "ACCESS_FOREVER",
    "Anvil",
    "ArtifactSet",
    "ChainClient",
    "ChainError",
    "ContractArtifact",
    "ContractRevert",
    "Coordinator",
    "DeployParams",
    "Deployment",
    "DevControls",
    "EmbeddedChain",
    "EncryptionKeyInfo",
    "EventStream",
    "FedLedger",
    "GatewayInfo",
    "GatewayRegistry",
    "GlobalModel",
    "GlobalModelPolicy",
    "ParticipantInfo",
    "ReasonCode",
    "RedemptionVault",
    "ResourceInfo",
    "RewardRule",
    "RewardToken",
    "RoundInfo",
    "RoundRules",
    "RoundState",
    "SkipReason",
    "StoragePolicy",
    "StreamChanges",
    "TxResult",
    "UpdateInfo",
    "UpdateStatus",
    "Verdict",
    "abi_registry",
    "compile_contracts",
    "connect_web3",
    "deploy",
    "dev_account",
    "dev_accounts",
    "load_deployment",
    "open_client",
    "resolve_account",
    "save_deployment",
    "smallest_quorum",
    "valid_quorum",
]
