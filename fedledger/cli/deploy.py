"""``fedledger deploy``: compile, deploy the contract set, write the deployment file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table

from fedledger import units
from fedledger.chain.codes import GlobalModelPolicy, StoragePolicy
from fedledger.chain.compiler import compile_contracts
from fedledger.chain.coordinator import RewardRule, RoundRules
from fedledger.chain.deployment import (
    Deployment,
    DeployParams,
    archive_deployment,
    deployment_history_dir,
    deployment_path,
    load_deployment,
    save_deployment,
)
from fedledger.chain.deployment import deploy as deploy_contracts
from fedledger.chain.errors import DeploymentError
from fedledger.chain.ledger import open_client
from fedledger.chain.timelock import DEFAULT_TIMELOCK_DELAY, TimelockParams
from fedledger.cli import render
from fedledger.cli.options import (
    contribution_target_option,
    key_option,
    network_option,
    project_config,
    rejection_limit_option,
    resolve_key,
    reward_base_option,
    reward_per_logit_option,
    reward_per_score_point,
    round_duration_option,
    user_errors,
    whole_tokens,
)
from fedledger.cli.params import Address, ContentHash, EthAmount, TokenAmount
from fedledger.config import ProjectConfig

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

#: The library's defaults are the command's: one place to change them.
DEFAULTS = DeployParams()


def _option_name(policy: StoragePolicy) -> str:
    return policy.name.lower().replace("_", "-")


_POLICIES = {_option_name(policy): policy for policy in StoragePolicy}
_MODEL_POLICIES = {policy.name.lower(): policy for policy in GlobalModelPolicy}


@click.command()
@network_option
@key_option
@click.option(
    "--storage-policy",
    type=click.Choice(list(_POLICIES)),
    default=_option_name(DEFAULTS.storage_policy),
    show_default=True,
    help="Keep every submission, or delete rejected ones.",
)
@click.option(
    "--global-model-policy",
    type=click.Choice(list(_MODEL_POLICIES)),
    default=DEFAULTS.global_model_policy.name.lower(),
    show_default=True,
    help="Who may read the global models: anyone, members (participants, oracles, admin), "
    "or members and holders of access to the resource `global-model` (fixed at deployment).",
)
@round_duration_option(DEFAULTS.round_rules.duration)
@click.option(
    "--aggregation-timeout",
    default=DEFAULTS.round_rules.aggregation_timeout,
    show_default=True,
    help="Seconds the oracles have to agree on an aggregate before the round may be skipped.",
)
@contribution_target_option(DEFAULTS.round_rules.contribution_target)
@click.option(
    "--verification-grace",
    default=DEFAULTS.round_rules.verification_grace,
    show_default=True,
    help="Seconds after a round closes during which pending updates still take votes.",
)
@reward_base_option(DEFAULTS.reward_rule.base)
@reward_per_logit_option(
    units.per_logit(DEFAULTS.reward_rule.per_score_point), deprecated_per_score=True
)
@click.option(
    "--max-reward",
    type=TokenAmount(),
    default=whole_tokens(DEFAULTS.max_reward_per_update),
    show_default=True,
    help="The most one accepted update can ever earn (fixed for the deployment's life).",
)
@rejection_limit_option(DEFAULTS.rejection_limit)
@click.option(
    "--open-enrolment/--allowlist",
    default=DEFAULTS.open_enrolment,
    show_default=True,
    help="Let any address submit, or only registered participants.",
)
@click.option(
    "--enrolment-stake",
    type=EthAmount(),
    default=None,
    help="ETH an open-enrolment submission deposits; returned unless the update is rejected "
    "[default: none].",
)
@click.option(
    "--timelock/--no-timelock",
    default=None,
    help="Put the admin behind a TimelockController [default: on, except on the embedded "
    "dev chain, where it can be switched on for tests].",
)
@click.option(
    "--timelock-delay",
    type=click.IntRange(min=1),
    default=DEFAULT_TIMELOCK_DELAY,
    show_default=True,
    help="Seconds between scheduling an admin call and executing it.",
)
@click.option(
    "--proposer",
    "proposers",
    type=Address(),
    multiple=True,
    help="An account that may schedule admin calls (repeatable) [default: the deployer].",
)
@click.option(
    "--executor",
    "executors",
    type=Address(),
    multiple=True,
    help="An account that may execute them once ready (repeatable) [default: the deployer].",
)
@click.option(
    "--oracle", "oracles", type=Address(), multiple=True, help="Register an oracle (repeatable)."
)
@click.option("--quorum", type=int, default=None, help="Votes needed, k [default: n // 2 + 1].")
@click.option(
    "--participant",
    "participants",
    type=Address(),
    multiple=True,
    help="Register a participant (repeatable).",
)
@click.option(
    "--genesis",
    type=ContentHash(),
    default=None,
    help="Content hash of the initial model: opens round 1 at once.",
)
@click.option("--token-name", default=DEFAULTS.token_name, show_default=True)
@click.option("--token-symbol", default=DEFAULTS.token_symbol, show_default=True)
def deploy(
    network: str | None,
    key: str | None,
    storage_policy: str,
    global_model_policy: str,
    round_duration: int,
    aggregation_timeout: int,
    contribution_target: int,
    verification_grace: int,
    reward_base: int,
    reward_per_logit: int,
    reward_per_score: int | None,
    max_reward: int,
    rejection_limit: int,
    open_enrolment: bool,
    enrolment_stake: int | None,
    timelock: bool | None,
    timelock_delay: int,
    proposers: tuple[str, ...],
    executors: tuple[str, ...],
    oracles: tuple[str, ...],
    quorum: int | None,
    participants: tuple[str, ...],
    genesis: bytes | None,
    token_name: str,
    token_symbol: str,
) -> None:
    """Compile and deploy the coordinator, reward token and redemption vault.

    The addresses are written to .fedledger/deployments/<network>.json, where every
    other command finds them. The deploying account (--key) becomes the admin: on the
    embedded chain dev account 0 by default; elsewhere a keystore (--key PATH or
    FEDLEDGER_KEYSTORE) or FEDLEDGER_PRIVATE_KEY.

    On every network but the embedded dev chain the admin role then goes to an
    OpenZeppelin TimelockController (--timelock-delay, default 2 days): every admin call is
    announced on chain and takes effect only after the delay (`fedledger admin ...
    --schedule`, then `--execute`).
    """
    config = project_config()
    with user_errors():
        embedded = config.network(network).embedded
    if timelock is False and not embedded:
        raise click.UsageError(
            "the admin of a network other than the embedded dev chain is always behind a "
            "timelock: drop --no-timelock (choose its delay with --timelock-delay)"
        )
    params = DeployParams(
        storage_policy=_POLICIES[storage_policy],
        global_model_policy=_MODEL_POLICIES[global_model_policy],
        round_rules=RoundRules(
            round_duration, aggregation_timeout, contribution_target, verification_grace
        ),
        reward_rule=RewardRule(
            reward_base, reward_per_score_point(reward_per_logit, reward_per_score)
        ),
        max_reward_per_update=max_reward,
        rejection_limit=rejection_limit,
        open_enrolment=open_enrolment,
        enrolment_stake=enrolment_stake or 0,
        timelock=admin_timelock(embedded, timelock, timelock_delay, proposers, executors),
        token_name=token_name,
        token_symbol=token_symbol,
        oracles=oracles,
        quorum=quorum,
        participants=participants,
        genesis_model=genesis,
    )
    with user_errors():
        settings = config.network(network)
        account = resolve_key(settings, key)
        deployment, path, previous = deploy_and_record(config, settings.name, account, params)

    table = Table(title=f"FedLedger on {settings.name} (chain id {deployment.chain_id})")
    table.add_column("contract")
    table.add_column("address")
    table.add_row("FedLedgerCoordinator", deployment.coordinator)
    table.add_row("RewardToken", deployment.token)
    table.add_row("RedemptionVault", deployment.vault)
    if deployment.gateways:
        table.add_row("GatewayRegistry", deployment.gateways)
    if deployment.timelock:
        table.add_row("AdminTimelock", deployment.timelock)
    console = render.console()
    console.print(table)
    admin = deployment.admin
    if deployment.timelock:
        admin = f"{admin} (timelock, delay {units.format_duration(timelock_delay)})"
    console.print(
        f"admin {admin}, storage policy {deployment.storage_policy.name}, global models "
        f"{params.global_model_policy.name.lower()}"
    )
    console.print(f"deployment written to {path}")
    if previous is not None:
        console.print(f"the previous deployment file is kept as {previous}")


def admin_timelock(
    embedded: bool,
    timelock: bool | None = None,
    delay: int = DEFAULT_TIMELOCK_DELAY,
    proposers: tuple[str, ...] = (),
    executors: tuple[str, ...] = (),
) -> TimelockParams | None:
    """The admin's timelock: on every network but the embedded dev chain unless ``timelock``
    says otherwise (`fedledger deploy` and `fedledger consortium up` deploy by this rule)."""
    use_timelock = (not embedded) if timelock is None else timelock
    return TimelockParams(delay, proposers, executors) if use_timelock else None


def deploy_and_record(
    config: ProjectConfig, network: str, account: LocalAccount, params: DeployParams
) -> tuple[Deployment, Path, Path | None]:
    """Compile for ``network``, deploy, and write the deployment file every command reads
    (the previous one is archived): the deployment, its file, the archived file or None."""
    _warn_if_replacing(config, network)
    artifacts = compile_contracts(config, network)
    client = open_client(config, network, artifacts)
    deployment = deploy_contracts(client, account, artifacts, params, network=network)
    previous = archive_deployment(config, network)
    return deployment, save_deployment(config, deployment), previous


def _warn_if_replacing(config: ProjectConfig, network: str) -> None:
    """Say, before anything is sent, that a deployment file of ``network`` will be
    replaced (it is kept in the history, not lost)."""
    current = deployment_path(config, network)
    if not current.is_file():
        return
    try:
        coordinator = load_deployment(config, network).coordinator
    except DeploymentError:
        coordinator = "an unreadable file"
    click.echo(
        f"warning: {current} (coordinator {coordinator}) will be replaced by this "
        f"deployment; the old file moves to {deployment_history_dir(config)}/",
        err=True,
    )
