"""``fedledger demo``: federated learning on MNIST, end to end, with one command."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click
from rich.console import Group
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table

from fedledger.chain import DeployParams
from fedledger.cli import render
from fedledger.cli.options import (
    contribution_target_option,
    key_option,
    project_config,
    rejection_limit_option,
    resolve_key,
    reward_base_option,
    reward_per_logit_option,
    round_duration_option,
    user_errors,
)
from fedledger.config import ProjectConfig
from fedledger.demo import ATTACKS, DemoConfig, DemoObserver, DemoReport, RoundRecord, run_demo
from fedledger.demo.config import (
    ARCH_ALIASES,
    EMBEDDED_ROUND_SECONDS,
    PARTITIONS,
    RPC_ROUND_SECONDS,
)
from fedledger.storage import STORE_KINDS

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

DEFAULTS = DemoConfig()
#: The verification grace of a consortium demo's rounds: the oracles judge each round's
#: updates at close and vote then. Aggregation starts as soon as nothing is pending, so a
#: grace longer than the judgement and its votes need costs nothing.
CONSORTIUM_GRACE_SECONDS = 60
#: The demo deploys with the default token.
SYMBOL = DeployParams().token_symbol


def _attack_list(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    attacks = tuple(item.strip() for item in value.split(",") if item.strip())
    unknown = [attack for attack in attacks if attack not in ATTACKS]
    if unknown:
        raise click.BadParameter(
            f"unknown attack(s) {', '.join(unknown)}; choose from {', '.join(ATTACKS)}"
        )
    return attacks


@click.command()
@click.option("--oracles", default=DEFAULTS.oracles, show_default=True, help="Oracle nodes, n.")
@click.option("--quorum", default=DEFAULTS.quorum, show_default=True, help="Agreeing votes, k.")
@click.option("--participants", default=DEFAULTS.participants, show_default=True)
@click.option(
    "--malicious",
    default=DEFAULTS.malicious,
    show_default=True,
    help="How many of the participants attack (the last ones).",
)
@click.option(
    "--attacks",
    default=",".join(DEFAULTS.attacks),
    show_default=True,
    callback=_attack_list,
    help=f"Attacks the malicious participants cycle through: {', '.join(ATTACKS)}.",
)
@click.option("--rounds", default=DEFAULTS.rounds, show_default=True)
@click.option(
    "--seed", default=DEFAULTS.seed, show_default=True, help="Seeds data, model, training."
)
@click.option(
    "--partition", type=click.Choice(PARTITIONS), default=DEFAULTS.partition, show_default=True
)
@click.option(
    "--alpha", default=DEFAULTS.alpha, show_default=True, help="Dirichlet alpha (non-IID skew)."
)
@click.option(
    "--arch",
    default=DEFAULTS.arch,
    show_default=True,
    help=f"Model: {', '.join(ARCH_ALIASES)} or a registered architecture id.",
)
@click.option(
    "--epochs", default=DEFAULTS.epochs, show_default=True, help="Local epochs per round."
)
@click.option(
    "--samples-per-participant",
    type=int,
    default=None,
    help="Images per participant [default: all training images not held out for oracles].",
)
@click.option(
    "--validation-size",
    default=DEFAULTS.validation_size,
    show_default=True,
    help="Validation images per oracle (held out of MNIST's training set).",
)
@click.option(
    "--store",
    "store_kind",
    type=click.Choice(STORE_KINDS),
    default=DEFAULTS.store,
    show_default=True,
    help="The embedded store, or an IPFS node (--ipfs-api).",
)
@click.option("--ipfs-api", default=None, metavar="URL", help="Kubo RPC API (with --store ipfs).")
@click.option(
    "--rpc",
    default=None,
    metavar="URL",
    help="Use this chain instead of starting anvil (its deadlines are waited for).",
)
@click.option(
    "--network",
    "consortium",
    default=None,
    metavar="NAME",
    help="Run on the consortium `fedledger consortium up` started (e.g. consortium), with a "
    "deployment and oracle processes of the demo's own (not up's): each oracle and "
    "participant uses one organisation's geth and Kubo.",
)
@key_option
@round_duration_option(
    None,
    help=f"Seconds per round [default: {EMBEDDED_ROUND_SECONDS} on the embedded chain, whose "
    f"clock the demo moves; {RPC_ROUND_SECONDS} with --rpc].",
)
@contribution_target_option(
    None,
    help="Updates in play (submitted and not rejected) that allow closing a round early "
    "[default: 0 on the embedded chain, whose clock the demo moves; with --rpc the honest "
    "participants, so the demo closes each round once every participant has submitted].",
)
@reward_base_option(DEFAULTS.reward_base)
@reward_per_logit_option(DEFAULTS.reward_per_logit)
@rejection_limit_option(DEFAULTS.rejection_limit)
@click.option(
    "--global-model-policy",
    type=click.Choice(["public", "members", "holders"]),
    default=DEFAULTS.global_model_policy,
    show_default=True,
    help="Who may read the global models; the demo's gateway serves them to its participants.",
)
@click.option(
    "--fund-eth",
    default=DEFAULTS.fund_eth,
    show_default=True,
    help="ETH the admin sends each account the demo creates (with --rpc).",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the report here, and the plot next to it (.png) [default: OUT/demo.json].",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Run directory: data, logs, deployment, blobs [default: .fedledger/demo].",
)
def demo(
    oracles: int,
    quorum: int,
    participants: int,
    malicious: int,
    attacks: tuple[str, ...],
    rounds: int,
    seed: int,
    partition: str,
    alpha: float,
    arch: str,
    epochs: int,
    samples_per_participant: int | None,
    validation_size: int,
    store_kind: str,
    ipfs_api: str | None,
    rpc: str | None,
    consortium: str | None,
    key: str | None,
    round_duration: int | None,
    contribution_target: int | None,
    reward_base: int,
    reward_per_logit: int,
    rejection_limit: int,
    global_model_policy: str,
    fund_eth: float,
    json_path: Path | None,
    out: Path | None,
) -> None:
    """Run federated learning on MNIST end to end: a chain, n oracle nodes, N participants
    (some malicious), R rounds; print a table per round and write a JSON report and plot.

    With no options it starts its own anvil and uses the embedded store, and stops
    everything when done (or on Ctrl-C). --store ipfs --ipfs-api URL uses an IPFS node;
    --rpc URL a running chain (the admin signs with --key, FEDLEDGER_KEYSTORE or
    FEDLEDGER_PRIVATE_KEY, and funds the accounts the demo creates).
    """
    base = project_config()
    organisations: tuple[tuple[str, str], ...] = ()
    if consortium is not None:
        organisations = _consortium_nodes(base, consortium)
        rpc, ipfs_api, store_kind = organisations[0][0], organisations[0][1], "ipfs"
    with user_errors():
        config = DemoConfig(
            oracles=oracles,
            quorum=quorum,
            participants=participants,
            malicious=malicious,
            attacks=attacks,
            rounds=rounds,
            seed=seed,
            partition=partition,
            alpha=alpha,
            arch=arch,
            epochs=epochs,
            samples_per_participant=samples_per_participant,
            validation_size=validation_size,
            store=store_kind,
            ipfs_api=ipfs_api,
            rpc=rpc,
            consortium=consortium,
            organisations=organisations,
            verification_grace=CONSORTIUM_GRACE_SECONDS if consortium else None,
            round_duration=round_duration,
            contribution_target=contribution_target,
            reward_base=reward_base,
            reward_per_logit=reward_per_logit,
            rejection_limit=rejection_limit,
            global_model_policy=global_model_policy,
            fund_eth=fund_eth,
            out=out or base.state_dir / "demo",
            json_path=json_path,
        )
        admin: LocalAccount | None
        if consortium is not None:
            admin = resolve_key(base.network(consortium), key)
        else:
            admin = _rpc_admin(rpc, key) if rpc else None
    console = render.console()
    table = _round_table()
    status = Spinner("dots", "starting")

    def stage(message: str) -> None:
        console.print(f"[dim]•[/dim] {message}")
        status.update(text=message)

    def progress(message: str) -> None:
        status.update(text=message)

    observer = DemoObserver(
        stage=stage, progress=progress, round_done=lambda record: _add_round(table, record)
    )
    try:
        with (
            _sigterm_as_interrupt(),
            Live(Group(table, status), console=console, refresh_per_second=4, transient=True),
            user_errors(),
        ):
            report = run_demo(config, base, admin=admin, observer=observer)
    except KeyboardInterrupt:
        console.print("[bold red]interrupted[/bold red]: every process and the chain were stopped")
        sys.exit(130)
    target = config.json_path or config.out / "demo.json"
    json_file, plot_file = report.write(target)
    _print_report(report, json_file, plot_file)


def _consortium_nodes(base: ProjectConfig, network: str) -> tuple[tuple[str, str], ...]:
    """Each running organisation's (geth RPC, Kubo API), from `consortium up`'s state."""
    from fedledger.consortium.network import org_status, read_state

    with user_errors():
        base.network(network)
    state = read_state(base, network)
    if state is None or not all(org_status(org).geth_running for org in state.orgs):
        raise click.ClickException(
            f"the consortium {network!r} is not running: start it with "
            f"`fedledger consortium up --network {network}`"
        )
    return tuple((org.rpc_url, org.ipfs_api) for org in state.orgs)


def _rpc_admin(rpc: str, key: str | None) -> LocalAccount:
    from fedledger.cli.options import resolve_key
    from fedledger.config import NetworkSettings

    network = NetworkSettings(name="demo", rpc_url=rpc, chain_id=None)
    return resolve_key(network, key)


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM and SIGHUP (the terminal was closed) like Ctrl-C, so that the demo's
    clean-up (its processes, its chain) runs either way."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            # The terminal is gone: what the clean-up prints would fail to be written and
            # abort it half-way. Send it nowhere instead.
            devnull = os.open(os.devnull, os.O_WRONLY)
            for descriptor in (1, 2):
                os.dup2(devnull, descriptor)
        raise KeyboardInterrupt

    handled = (signal.SIGTERM, signal.SIGHUP)
    previous = {signum: signal.signal(signum, interrupt) for signum in handled}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _round_table() -> Table:
    table = Table(title="rounds", title_justify="left")
    for name in (
        "round",
        "test accuracy",
        "plain FedAvg",
        "accepted",
        "rejected",
        "tokens minted",
        "gas used",
        "seconds",
    ):
        table.add_column(name, justify="right")
    return table


def _add_round(table: Table, record: RoundRecord) -> None:
    plain = record.plain_fedavg_accuracy
    table.add_row(
        str(record.round) + ("" if record.state == "finalized" else f" ({record.state})"),
        f"{100 * record.test_accuracy:.2f} %",
        "-" if plain is None else f"{100 * plain:.2f} %",
        str(record.accepted),
        str(record.rejected),
        render.tokens(record.tokens_minted, SYMBOL, places=2),
        f"{record.gas_used:,}",
        f"{record.seconds:.1f}",
    )


def _print_report(report: DemoReport, json_file: Path, plot_file: Path) -> None:
    console = render.console()
    table = _round_table()
    for record in report.rounds:
        _add_round(table, record)
    table.caption = (
        f"genesis model: {100 * report.genesis_accuracy:.2f} %; plain FedAvg = every submitted "
        "update averaged, attackers included"
    )
    console.print(table)
    people = Table(title="participants", title_justify="left")
    for name in ("", "address", "behaviour", "accepted", "rejected", "tokens", "banned"):
        people.add_column(
            name, justify="right" if name in ("accepted", "rejected", "tokens") else "left"
        )
    for index, person in enumerate(report.participants):
        people.add_row(
            f"P{index + 1:02d}",
            person.address,
            person.behaviour,
            str(person.accepted),
            str(person.rejected),
            render.tokens(person.tokens, SYMBOL, places=2),
            "yes" if person.banned else "",
        )
    console.print(people)
    console.print(
        f"final test accuracy [bold]{100 * report.final_test_accuracy:.2f} %[/bold] after "
        f"{len(report.rounds)} rounds, {report.seconds:.0f} s"
    )
    console.print(f"report {json_file}, plot {plot_file}")
