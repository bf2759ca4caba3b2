"""Deploy the contract set, and the deployment file every other command reads.

The file lives at ``<state dir>/deployments/<network>.json`` and records the addresses,
the chain it belongs to (chain id and genesis block hash, so a restarted development
chain is recognised) and the artifact key of the compilation it was deployed from.
:func:`load_deployment` is the one reader of that file.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from eth_account.signers.local import LocalAccount

from fedledger import units
from fedledger.chain.artifacts import ArtifactSet
from fedledger.chain.client import ChainClient
from fedledger.chain.codes import StoragePolicy
from fedledger.chain.contract import deploy_contract
from fedledger.chain.coordinator import Coordinator, RewardRule, RoundRules, smallest_quorum
from fedledger.chain.enums import GlobalModelPolicy
from fedledger.chain.exceptions import DeploymentError
from fedledger.chain.gateways import GatewayRegistry
from fedledger.chain.timelock import TimelockParams, install_timelock
from fedledger.chain.vault import RedemptionVault
from fedledger.config import ProjectConfig

#: Participants registered per registerParticipants transaction (keeps each under ~6M gas).
REGISTRATION_BATCH = 200
TOKEN_UNIT = units.TOKEN_UNIT
DEFAULT_ROUND_RULES = RoundRules(duration=600, aggregation_timeout=600, contribution_target=0)
# Only measured usefulness is paid: no base reward (a free-rider or a stale update that
# slipped through would earn it), 100 tokens per logit of the mean validation-margin gain
# the oracles measure, whose score is in units of 2**-24 logits (oracle/verification.py's
# score_frac_bits; tests/chain/test_deployment.py checks the two agree).
DEFAULT_REWARD_RULE = RewardRule(base=0, per_score_point=(100 * TOKEN_UNIT) >> 24)
#: The most one accepted update can ever earn (immutable): bounds what one admin call can do.
DEFAULT_MAX_REWARD = 1_000 * TOKEN_UNIT


@dataclass(frozen=True)
class DeployParams:
    """Everything fixed or configured at deployment. The defaults suit a demo: 10-minute
    rounds, 100 tokens per logit of measured gain and no base reward per accepted update,
    a ban after 3 rejections."""

    admin: str | None = None  # default: the deploying account
    storage_policy: StoragePolicy = StoragePolicy.AUDIT_ALL
    round_rules: RoundRules = DEFAULT_ROUND_RULES
    reward_rule: RewardRule = DEFAULT_REWARD_RULE
    rejection_limit: int = 3
    open_enrolment: bool = False
    enrolment_stake: int = 0  # wei per submission under open enrolment (0: none)
    max_reward_per_update: int = DEFAULT_MAX_REWARD
    token_name: str = "FedLedger Reward"
    token_symbol: str = "FLR"
    oracles: tuple[str, ...] = ()
    quorum: int | None = None  # default: smallest_quorum(n), n // 2 + 1
    participants: tuple[str, ...] = ()
    genesis_model: bytes | None = None  # if given, round 1 opens on it at once
    #: Put the admin role behind a TimelockController once set up (None: the admin key).
    timelock: TimelockParams | None = None
    #: Who may read the global models (GatewayRegistry, immutable).
    global_model_policy: GlobalModelPolicy = GlobalModelPolicy.PUBLIC


@dataclass(frozen=True)
class Deployment:
    """Where a FedLedger deployment lives."""

    network: str
    chain_id: int
    genesis_hash: str
    coordinator: str
    token: str
    vault: str
    deployer: str
    admin: str
    block_number: int
    storage_policy: StoragePolicy
    artifacts_key: str
    deployed_at: float = field(default_factory=time.time)
    timelock: str | None = None  # the AdminTimelock that owns the contracts, if any
    gateways: str | None = None  # the GatewayRegistry (None: deployed before it existed)

    def to_json(self) -> str:
        payload = asdict(self)
        payload["storage_policy"] = self.storage_policy.name
        return json.dumps(payload, indent=2)

    @classmethod
    def from_json(cls, text: str) -> Deployment:
        payload = json.loads(text)
        payload["storage_policy"] = StoragePolicy[payload["storage_policy"]]
        return cls(**payload)


def deploy(
    client: ChainClient,
    account: LocalAccount,
    artifacts: ArtifactSet,
    params: DeployParams = DeployParams(),
    *,
    network: str = "anvil",
) -> Deployment:
    """Deploy the coordinator (which creates the token and the vault), then register the
    given oracles and participants and open round 1 if a genesis model is given."""
    admin = params.admin or account.address
    needs_admin = params.oracles or params.participants or params.genesis_model
    if needs_admin and admin != account.address:
        raise DeploymentError(
            "registering oracles or participants or starting training at deployment needs "
            "the deploying account to be the admin; leave admin unset or do it later"
        )
    coordinator_tx = deploy_contract(
        client,
        account,
        artifacts["FedLedgerCoordinator"],
        [
            admin,
            int(params.storage_policy),
            params.round_rules,
            params.reward_rule,
            params.rejection_limit,
            params.open_enrolment,
            params.enrolment_stake,
            params.max_reward_per_update,
            params.token_name,
            params.token_symbol,
        ],
    )
    assert coordinator_tx.contract_address is not None
    coordinator = Coordinator(client, coordinator_tx.contract_address, account)
    token = coordinator.reward_token()
    vault = coordinator.redemption_vault()
    registry_tx = deploy_contract(
        client,
        account,
        artifacts["GatewayRegistry"],
        [admin, coordinator.address, int(params.global_model_policy)],
    )
    assert registry_tx.contract_address is not None
    gateways = GatewayRegistry(client, registry_tx.contract_address, account)

    configure(coordinator, params)
    timelock = None
    if params.timelock is not None:
        owned = [coordinator, RedemptionVault(client, vault, account), gateways]
        timelock = install_timelock(client, account, artifacts, owned, params.timelock).address
        admin = timelock
    return Deployment(
        network=network,
        chain_id=client.chain_id,
        genesis_hash=client.genesis_hash(),
        coordinator=coordinator.address,
        token=token,
        vault=vault,
        deployer=account.address,
        admin=admin,
        block_number=coordinator_tx.block_number,
        storage_policy=params.storage_policy,
        artifacts_key=artifacts.key,
        timelock=timelock,
        gateways=gateways.address,
    )


def configure(coordinator: Coordinator, params: DeployParams) -> None:
    """Register oracles (growing the quorum with the set), participants, then start."""
    _add_oracles(coordinator, params.oracles, params.quorum)
    for start in range(0, len(params.participants), REGISTRATION_BATCH):
        coordinator.register_participants(params.participants[start : start + REGISTRATION_BATCH])
    if params.genesis_model is not None:
        coordinator.start_training(params.genesis_model)


def _add_oracles(coordinator: Coordinator, oracles: Sequence[str], quorum: int | None) -> None:
    # Each step keeps a valid quorum (the smallest); the final k comes last.
    size = coordinator.oracle_count()
    for oracle in oracles:
        size += 1
        coordinator.add_oracle(oracle, smallest_quorum(size))
    if oracles and quorum is not None and quorum != smallest_quorum(size):
        coordinator.set_quorum(quorum)


def deployment_path(config: ProjectConfig, network: str | None = None) -> Path:
    return config.state_dir / "deployments" / f"{config.network(network).name}.json"


def deployment_history_dir(config: ProjectConfig) -> Path:
    """Where replaced deployment files are kept (``<network>-<time>.json``)."""
    return config.state_dir / "deployments" / "history"


def save_deployment(config: ProjectConfig, deployment: Deployment) -> Path:
    """Write the deployment file; a previous one for the network is moved to the history
    (:func:`archive_deployment`) first, never lost."""
    path = deployment_path(config, deployment.network)
    archive_deployment(config, deployment.network)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(deployment.to_json())
    return path


def archive_deployment(config: ProjectConfig, network: str | None = None) -> Path | None:
    """Move the deployment file of ``network`` into the history directory, named after
    the time it was written; its new path, or None if there was none."""
    path = deployment_path(config, network)
    if not path.is_file():
        return None
    history = deployment_history_dir(config)
    history.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(path.stat().st_mtime))
    target = history / f"{path.stem}-{stamp}.json"
    suffix = 1
    while target.exists():
        suffix += 1
        target = history / f"{path.stem}-{stamp}-{suffix}.json"
    path.rename(target)
    return target


def load_deployment(config: ProjectConfig, network: str | None = None) -> Deployment:
    """The deployment recorded for ``network`` (the default network if None)."""
    path = deployment_path(config, network)
    try:
        return Deployment.from_json(path.read_text())
    except FileNotFoundError:
        raise DeploymentError(
            f"no deployment for network {config.network(network).name!r} ({path} is missing): "
            "run `fedledger deploy` first"
        ) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise DeploymentError(f"{path} is not a valid deployment file ({exc}); redeploy") from exc
