"""``fedledger chain up|down|status``: the embedded anvil chain, run in the background."""

from __future__ import annotations

import time

import click

from fedledger.chain.anvil import EmbeddedChain, rpc_answers
from fedledger.cli.options import network_option, project_config, user_errors


@click.group()
def chain() -> None:
    """Start, stop and inspect the embedded anvil chain.

    The chain keeps running after `fedledger chain up` returns; its pid, URL and log file
    are recorded under .fedledger/ so that `down` and `status` find it again.
    """


@chain.command()
@network_option
def up(network: str | None) -> None:
    """Start the embedded chain in the background (or report the one already running)."""
    with user_errors():
        embedded = EmbeddedChain(project_config(), network)
        running = embedded.status()
        info = running or embedded.up()
    verb = "already running" if running else "started"
    click.echo(
        f"{info.network}: anvil {verb} at {info.rpc_url} (pid {info.pid}, chain id {info.chain_id})"
    )
    click.echo(f"log: {info.log_path}")


@chain.command()
@network_option
def down(network: str | None) -> None:
    """Stop the embedded chain. Its state is gone: deploy again after the next `up`."""
    with user_errors():
        embedded = EmbeddedChain(project_config(), network)
        stopped = embedded.down()
    click.echo(f"{embedded.settings.name}: {'stopped' if stopped else 'not running'}")


@chain.command()
@network_option
def status(network: str | None) -> None:
    """Say whether the chain runs, and where. Exits with status 1 if it does not."""
    config = project_config()
    with user_errors():
        settings = config.network(network)
    info = EmbeddedChain(config, settings.name).status() if settings.embedded else None
    if info is not None:
        uptime = time.time() - info.started_at
        click.echo(f"{info.network}: running at {info.rpc_url} (pid {info.pid}, up {uptime:.0f} s)")
    elif settings.rpc_url and rpc_answers(settings.rpc_url, timeout=2.0):
        started_elsewhere = " (not started by `fedledger chain up`)" if settings.embedded else ""
        click.echo(f"{settings.name}: a node answers at {settings.rpc_url}{started_elsewhere}")
    else:
        hint = " (start it with `fedledger chain up`)" if settings.embedded else ""
        click.echo(
            f"{settings.name}: no node answers at {settings.rpc_url or '(no URL configured)'}{hint}"
        )
        raise SystemExit(1)


@chain.command()
@click.argument("seconds", type=click.IntRange(min=1))
@network_option
def advance(seconds: int, network: str | None) -> None:
    """Move the development chain's clock SECONDS forward and mine a block stamped with
    the new time, so a round's deadline passes without waiting. Refused on any network
    but the embedded chain, whose clock is real time."""
    from fedledger.chain.abi import AbiRegistry
    from fedledger.chain.anvil import DevControls
    from fedledger.chain.client import ChainClient, connect_web3
    from fedledger.units import format_local_time

    config = project_config()
    with user_errors():
        settings = config.network(network)
        if not settings.embedded:
            raise click.ClickException(
                f"`chain advance` moves the clock of the embedded development chain only; "
                f"{settings.name!r} keeps real time: wait for the deadline instead"
            )
        client = ChainClient(connect_web3(settings, timeout=10.0), AbiRegistry([]))
        DevControls(client.rpc).increase_time(seconds)
        after = client.chain_time()
    click.echo(
        f"{settings.name}: the chain's clock moved {seconds} s forward, to "
        f"{format_local_time(after)}"
    )
