"""``fedledger consortium up|down|status``: N organisations on this machine, each a geth
Clique signer and a Kubo node, peered over loopback, kept running in the background."""

from __future__ import annotations

import shutil
import time

import click
from rich.table import Table

from fedledger.cli import render
from fedledger.cli.options import project_config, user_errors
from fedledger.config import ProjectConfig

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
    """Run a local consortium: per organisation a geth Clique signer and a Kubo node.

    Every organisation's geth seals blocks (Clique proof of authority) and dials the others
    (static nodes); every Kubo node peers with the others and nobody else. Commands then
    use it with `--network consortium` (organisation 1's geth; FEDLEDGER_RPC_URL picks
    another). geth and Kubo come from `make tools`. docs/consortium.md has the layout and
    how the same runs on separate machines.
    """


@consortium.command()
@click.option("--orgs", type=click.IntRange(1, 9), default=None, help="Organisations [default: 3].")
@click.option(
    "--fresh", is_flag=True, help="Delete the chain and stores of an earlier run and start anew."
)
@network_name_option
def up(orgs: int | None, fresh: bool, network: str) -> None:
    """Start the consortium in the background (or report the one already running).

    A stopped consortium starts again on its existing chain and stores, unless --fresh.
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
    path = write_state(config, group.state())
    click.echo(f"{network}: running, peered, sealing blocks ({time.monotonic() - started:.1f} s)")
    click.echo(f"state: {path}")
    _print_state(config, network)


@consortium.command()
@network_name_option
def down(network: str) -> None:
    """Stop every node of the consortium (chain and stores stay on disk for the next `up`)."""
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
    """Each organisation's nodes, block height and peers. Exits 1 if none runs."""
    config = project_config()
    if not _print_state(config, network):
        raise SystemExit(1)


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
    for column in ("org", "geth RPC", "block", "peers", "Kubo API", "ipfs peers", "oracle key"):
        table.add_column(column)
    any_running = False
    for org in state.orgs:
        info = org_status(org)
        any_running |= info.geth_running or info.kubo_running
        table.add_row(
            org.name,
            org.rpc_url if info.geth_running else f"{org.rpc_url} (down)",
            "-" if info.block is None else f"{info.block:,}",
            "-" if info.peers is None else str(info.peers),
            org.ipfs_api if info.kubo_running else f"{org.ipfs_api} (down)",
            "-" if info.ipfs_peers is None else str(info.ipfs_peers),
            org.oracle_key,
        )
    render.console().print(table)
    if not any_running:
        click.echo(f"{network}: stopped (start it again with `fedledger consortium up`)")
    return any_running
