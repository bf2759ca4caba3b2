"""``fedledger consortium up|down|status``: N organisations on this machine, each a geth
Clique signer, a Kubo node and an oracle, peered over loopback, kept running in the
background, and the deployment their oracles serve."""

from __future__ import annotations

import shutil
import time
from dataclasses import replace
from typing import TYPE_CHECKING

import click
from rich.table import Table

from fedledger.cli import render
from fedledger.cli.options import project_config, round_duration_option, user_errors
from fedledger.config import NetworkSettings, ProjectConfig

if TYPE_CHECKING:
    from fedledger.chain import Deployment
    from fedledger.consortium.network import Consortium, ConsortiumState

#: The local consortium's admin: dev account 0 (the oracles are dev 1..N, the
#: registered participants the dev accounts after them).
ADMIN_KEY = "dev:0"
#: The seed of the genesis model `up` deploys with (the demo's default seed).
GENESIS_SEED = 0

NETWORK_NAME = "consortium"

network_name_option = click.option(
    "--network",
    default=NETWORK_NAME,
    show_default=True,
    metavar="NAME",
    help="The consortium network of brownie-config.yaml.",
)


@click.group()
def consortium() -> None:
    """Run a local consortium: per organisation a geth Clique signer, a Kubo node and an
    oracle.

    Every organisation's geth seals blocks (Clique proof of authority) and dials the others
    (static nodes); every Kubo node peers with the others and nobody else; every oracle
    (`fedledger oracle run`, dev account i, its own key file and validation data) talks
    only to its own organisation's geth and Kubo and serves the deployment `up` makes.
    Commands then use it with `--network consortium` (organisation 1's geth;
    FEDLEDGER_RPC_URL picks another). geth and Kubo come from `make tools`.
    docs/consortium.md has the layout and how the same runs on separate machines.
    """


@consortium.command()
@click.option("--orgs", type=click.IntRange(1, 9), default=None, help="Organisations [default: 3].")
@click.option(
    "--quorum",
    type=click.IntRange(min=1),
    default=None,
    help="Agreeing oracles a verdict needs, k [default: n // 2 + 1, 2 of 3].",
)
@round_duration_option(
    None,
    help="Seconds each round of a new deployment takes submissions; the oracles judge a "
    "round's updates once it closes, so verdicts come after it [default: `fedledger "
    "deploy`'s].",
)
@click.option(
    "--fresh", is_flag=True, help="Delete the chain and stores of an earlier run and start anew."
)
@network_name_option
def up(
    orgs: int | None, quorum: int | None, round_duration: int | None, fresh: bool, network: str
) -> None:
    """Start the consortium in the background (or report the one already running).

    Deploys the contracts (admin dev:0) with every organisation's oracle registered, its
    encryption key on chain and round 1 open on a seeded genesis model, unless the
    deployment file already names a deployment on this chain; registers dev accounts
    N+1.. as participants; then starts the oracles. A stopped consortium starts again on
    its existing chain, stores and deployment, unless --fresh.
    """
    from fedledger.consortium.network import (
        PORT_STRIDE,
        Consortium,
        OrgPorts,
        read_state,
        state_path,
        write_state,
    )
    from fedledger.consortium.tools import ProcessFailed, ToolMissing

    config = project_config()
    with user_errors():
        settings = config.network(network)
    running = _running_state(config, network)
    if running is not None:
        click.echo(f"{network}: already running ({len(running.orgs)} organisations)")
        _restart_stopped_oracles(config, settings, running)
        _print_state(config, network)
        return
    count = orgs or settings.orgs
    directory = state_path(config, network).parent / "nodes"
    previous = read_state(config, network)
    if fresh or previous is None or len(previous.orgs) != count:
        shutil.rmtree(directory, ignore_errors=True)
    try:
        if directory.exists() and previous is not None:
            group = Consortium.reopen(config, settings, previous)
        else:
            base = settings.base_port or settings.port
            click.echo(f"{network}: creating {count} organisations in {directory}")
            group = Consortium.create(
                config,
                settings,
                directory,
                orgs=count,
                ports=[OrgPorts.from_base(base + PORT_STRIDE * i) for i in range(count)],
            )
        started = time.monotonic()
        click.echo(f"{network}: starting {count} geth signers and {count} Kubo nodes ...")
        group.start()
    except (ToolMissing, ProcessFailed, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    path = write_state(config, group.state())  # `down` finds the nodes from here on
    click.echo(f"{network}: running, peered, sealing blocks ({time.monotonic() - started:.1f} s)")
    try:
        deployment = _deployment_for_oracles(config, settings, group, quorum, round_duration)
        click.echo(f"{network}: starting {count} oracles ...")
        group.start_oracles()
    except BaseException as exc:
        group.stop()
        if isinstance(exc, ProcessFailed):
            raise click.ClickException(str(exc)) from exc
        raise
    write_state(config, group.state())
    click.echo(
        f"{network}: {count} oracles serve coordinator {deployment.coordinator} "
        f"({time.monotonic() - started:.1f} s)"
    )
    click.echo(f"state: {path}")
    _print_state(config, network)


@consortium.command()
@network_name_option
def down(network: str) -> None:
    """Stop every oracle and node of the consortium by PID (chain, stores, key files and
    deployment stay on disk for the next `up`)."""
    from fedledger.consortium.network import read_state, stop_recorded

    config = project_config()
    state = read_state(config, network)
    if state is None:
        click.echo(f"{network}: not running")
        return
    stopped = stop_recorded(state)
    click.echo(f"{network}: stopped {stopped} processes")


@consortium.command()
@network_name_option
def status(network: str) -> None:
    """Each organisation's nodes, block height and peers, and its oracle (process, last
    log record). Exits 1 if none runs."""
    config = project_config()
    if not _print_state(config, network):
        raise SystemExit(1)


def _deployment_for_oracles(
    config: ProjectConfig,
    settings: NetworkSettings,
    group: Consortium,
    quorum: int | None,
    round_duration: int | None,
) -> Deployment:
    """The deployment the consortium's oracles serve: the recorded one if it lives on this
    chain and registers every organisation's oracle, else a new one (`fedledger deploy`'s
    code, with its rules); either way each oracle's key file exists and its public key is
    on chain, and each has its validation data."""
    from fedledger.admin import seeded_genesis
    from fedledger.chain import DeployParams, FedLedger, dev_account, smallest_quorum
    from fedledger.chain.deployment import DEFAULT_ROUND_RULES
    from fedledger.chain.errors import DeploymentError
    from fedledger.cli.deploy import admin_timelock, deploy_and_record
    from fedledger.cli.options import resolve_key
    from fedledger.consortium.oracle import write_validation_sets
    from fedledger.crypto import OracleKeyFile
    from fedledger.ml import MNIST_MLP
    from fedledger.storage import open_store

    oracles = [org.oracle for org in group.orgs]
    missing = [oracle.validation for oracle in oracles if not oracle.validation.is_file()]
    if missing:
        click.echo(f"{settings.name}: writing {len(missing)} oracles' validation data (MNIST)")
        with user_errors():
            write_validation_sets(config, [oracle.validation for oracle in oracles])
    for oracle in oracles:
        if not oracle.key_file.is_file():
            OracleKeyFile.create(oracle.key_file)
    ledger: FedLedger | None = None
    with user_errors():
        try:
            ledger = FedLedger.connect(config, settings.name)
            registered = set(ledger.coordinator.oracles())
            if not {oracle.address for oracle in oracles} <= registered:
                click.echo(
                    f"{settings.name}: the recorded deployment ({ledger.address}) does not "
                    "register every organisation's oracle: deploying anew"
                )
                ledger = None
        except DeploymentError:
            ledger = None
        if ledger is None:
            admin = resolve_key(settings, ADMIN_KEY)
            click.echo(
                f"{settings.name}: deploying (admin {admin.address}, {len(oracles)} oracles, "
                f"quorum {quorum or smallest_quorum(len(oracles))}) and opening round 1 ..."
            )
            with open_store(config, kind="ipfs", ipfs_api=group.orgs[0].kubo.api_url) as store:
                genesis = seeded_genesis(store, MNIST_MLP.id, GENESIS_SEED)
            first_participant = len(oracles) + 1
            params = DeployParams(
                oracles=tuple(oracle.address for oracle in oracles),
                quorum=quorum,
                participants=tuple(
                    dev_account(index).address
                    for index in range(first_participant, settings.accounts)
                ),
                genesis_model=genesis.content_hash,
                round_rules=replace(
                    DEFAULT_ROUND_RULES, duration=round_duration or DEFAULT_ROUND_RULES.duration
                ),
                timelock=admin_timelock(settings.embedded),
            )
            deployment, path, _ = deploy_and_record(config, settings.name, admin, params)
            click.echo(f"{settings.name}: deployment written to {path}")
            ledger = FedLedger.connect(config, settings.name, deployment=deployment)
        for oracle in oracles:
            keys = OracleKeyFile.load(oracle.key_file)
            if ledger.coordinator.encryption_key_of(oracle.address).current != (
                keys.current.public_key
            ):
                account = resolve_key(settings, oracle.key)
                ledger.with_account(account).coordinator.register_encryption_key(
                    keys.current.public_key
                )
    return ledger.deployment


def _restart_stopped_oracles(
    config: ProjectConfig, settings: NetworkSettings, state: ConsortiumState
) -> None:
    """Start again the oracles of a running consortium whose process has exited."""
    from fedledger.consortium.network import Consortium, write_state
    from fedledger.consortium.tools import ProcessFailed, pid_alive

    group = Consortium.reopen(config, settings, state)
    stopped = [
        (org, record)
        for org, record in zip(group.orgs, state.orgs, strict=True)
        if record.oracle_pid is None or not pid_alive(record.oracle_pid)
    ]
    if not stopped or not all(org.oracle.key_file.is_file() for org, _ in stopped):
        return
    click.echo(f"{settings.name}: starting {len(stopped)} stopped oracles ...")
    try:
        for org, _ in stopped:
            org.oracle.start()
    except ProcessFailed as exc:
        raise click.ClickException(str(exc)) from exc
    pids = {org.name: org.oracle.pid for org, _ in stopped}
    orgs = tuple(
        replace(record, oracle_pid=pids[record.name]) if record.name in pids else record
        for record in state.orgs
    )
    write_state(config, replace(state, orgs=orgs))


def _running_state(config: ProjectConfig, network: str):  # type: ignore[no-untyped-def]
    from fedledger.consortium.network import org_status, read_state

    state = read_state(config, network)
    if state is None:
        return None
    statuses = [org_status(org) for org in state.orgs]
    if any(s.geth_running or s.kubo_running for s in statuses):
        return state
    return None


def _print_state(config: ProjectConfig, network: str) -> bool:
    from fedledger.consortium.network import org_status, read_state

    state = read_state(config, network)
    if state is None:
        click.echo(f"{network}: not running (start it with `fedledger consortium up`)")
        return False
    table = Table(
        title=f"{network}: chain id {state.chain_id}, block period {state.block_period} s"
    )
    for column in ("org", "geth RPC", "block", "peers", "Kubo API", "ipfs peers", "oracle"):
        table.add_column(column)
    any_running = False
    infos = [org_status(org) for org in state.orgs]
    for org, info in zip(state.orgs, infos, strict=True):
        any_running |= info.geth_running or info.kubo_running or info.oracle_running
        table.add_row(
            org.name,
            org.rpc_url if info.geth_running else f"{org.rpc_url} (down)",
            "-" if info.block is None else f"{info.block:,}",
            "-" if info.peers is None else str(info.peers),
            org.ipfs_api if info.kubo_running else f"{org.ipfs_api} (down)",
            "-" if info.ipfs_peers is None else str(info.ipfs_peers),
            "running" if info.oracle_running else "(down)",
        )
    render.console().print(table)
    oracles = Table(title=f"{network}: oracles (each on its own organisation's geth and Kubo)")
    for column in ("org", "oracle", "key", "process", "last log"):
        oracles.add_column(column)
    for org, info in zip(state.orgs, infos, strict=True):
        process = "-" if org.oracle_pid is None else f"pid {org.oracle_pid}"
        oracles.add_row(
            org.name,
            org.oracle_address or "-",
            org.oracle_key,
            f"{process} " + ("running" if info.oracle_running else "(down)"),
            info.oracle_activity or "-",
        )
    render.console().print(oracles)
    if not any_running:
        click.echo(f"{network}: stopped (start it again with `fedledger consortium up`)")
    return any_running
