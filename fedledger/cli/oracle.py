"""``fedledger oracle run|status|key``: run an oracle node, see what it did, manage its
encryption key (docs/oracle.md, docs/security.md)."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, TextIO

import click

from fedledger.cli.options import (
    json_option,
    key_option,
    network_option,
    project_config,
    resolve_key,
    store_options,
    user_errors,
)
from fedledger.cli.oracle_key import key as key_commands
from fedledger.cli.oracle_key import key_file_option, load_key_file
from fedledger.cli.render import console, enum_name
from oracle.logs import LogFormat, NodeLog, json_value, stream_sink

if TYPE_CHECKING:  # the modules behind these import web3 and numpy: only when running
    from oracle.status import OracleStatus

_DEFAULTS = {"poll_interval": 0.5, "unreachable_after": 30.0}


@click.group()
def oracle() -> None:
    """Run an oracle node: verify model updates on your own validation data (each round's
    updates judged together at close), vote on each, and propose every round's aggregate.

    An operator needs four things: the key of a registered oracle account (the admin
    registers it), an encryption key file registered on chain (`fedledger oracle key
    create`, then `register`: participants seal their updates for it), a private
    validation set (an .npz file with `images`, uint8 N x 28 x 28, and `labels`), and the
    network's deployment file, which `fedledger deploy` writes. The node keeps no state of
    its own: the chain records what it has voted and proposed, so it can be stopped and
    started at any time. See docs/oracle.md.
    """


oracle.add_command(key_commands)


@oracle.command(short_help="Run the node: verify updates, vote, propose aggregates.")
@key_option
@key_file_option
@click.option(
    "--validation",
    "validation_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="This oracle's private validation data: .npz with `images` and `labels`.",
)
@network_option
@store_options
@click.option(
    "--poll-interval",
    type=click.FloatRange(min=0.01),
    default=_DEFAULTS["poll_interval"],
    show_default=True,
    metavar="SECONDS",
    help="Seconds between polls of the chain.",
)
@click.option(
    "--unreachable-after",
    type=click.FloatRange(min=0),
    default=_DEFAULTS["unreachable_after"],
    show_default=True,
    metavar="SECONDS",
    help="Vote UNREACHABLE_BLOB on an update once the store has answered 'not found' for "
    "its blob this long. Time while the store itself is down never counts.",
)
@click.option(
    "--once",
    is_flag=True,
    help="Do the work available now (check every update, vote on what fails or, once the "
    "round is closed, on every pending update, propose if a closed "
    "round awaits this oracle), then exit: 0 when all of it is done, 1 if an outage of "
    "the store or the chain left some undone.",
)
@click.option(
    "--log-format",
    type=click.Choice([fmt.value for fmt in LogFormat]),
    default=LogFormat.TEXT.value,
    show_default=True,
    help="text: one readable line per event; json: one JSON object per line.",
)
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Append the log to this file instead of writing it to standard output.",
)
def run(
    key: str | None,
    key_file: Path | None,
    validation_path: Path,
    network: str | None,
    store_kind: str | None,
    ipfs_api: str | None,
    poll_interval: float,
    unreachable_after: float,
    once: bool,
    log_format: str,
    log_file: Path | None,
) -> None:
    """Watch the chain, check every update as it arrives (rejecting at once what fails),
    judge the rest together when the round closes and vote, propose each round's aggregate.

    Runs until SIGINT or SIGTERM (finishes the transaction in progress, exits 0), or with
    --once until the work available now is done. Several nodes may run on one machine with
    the same project directory and store; give each its own key, validation data and log.
    """
    from fedledger.chain import FedLedger
    from fedledger.ml import load_dataset
    from fedledger.storage import open_store
    from oracle.node import NodeSettings, OracleNode

    config = project_config()
    with user_errors():
        settings = config.network(network)
    account = resolve_key(settings, key)
    encryption_keys = load_key_file(config, account.address, key_file)
    with user_errors():
        validation = load_dataset(validation_path)
        if len(validation) == 0:
            raise click.ClickException(f"{validation_path} holds no samples")
        ledger = FedLedger.connect(config, settings.name, account=account)
        store = open_store(config, kind=store_kind, ipfs_api=ipfs_api)
    node_settings = NodeSettings.from_config(
        config, settings.name, poll_interval=poll_interval, unreachable_after=unreachable_after
    )
    with ExitStack() as stack:
        stack.callback(store.close)  # also ends fetches still waiting on the store
        stream = _log_stream(stack, log_file)
        log = NodeLog(account.address, [stream_sink(stream, LogFormat(log_format))])
        node = OracleNode(ledger, store, validation, encryption_keys, node_settings, log=log)
        with _stop_on_signals(node.request_stop):
            complete = node.run(once=once)
    if not complete:
        sys.exit(1)


@oracle.command(short_help="This oracle's votes and proposal in the current round.")
@key_option
@network_option
@json_option
def status(key: str | None, network: str | None, as_json: bool) -> None:
    """What this oracle has done in the current round: its votes and its proposal."""
    from fedledger.chain import FedLedger
    from oracle.status import oracle_status

    config = project_config()
    with user_errors():
        settings = config.network(network)
    account = resolve_key(settings, key)
    with user_errors():
        ledger = FedLedger.connect(config, settings.name)
        report = oracle_status(ledger, account.address)
    if as_json:
        click.echo(json.dumps(_status_json(report), indent=2))
    else:
        _print_status(report)


def _log_stream(stack: ExitStack, log_file: Path | None) -> TextIO:
    if log_file is None:
        return sys.stdout
    log_file.parent.mkdir(parents=True, exist_ok=True)
    click.echo(f"logging to {log_file}", err=True)
    return stack.enter_context(log_file.open("a", encoding="utf-8"))


@contextmanager
def _stop_on_signals(request_stop: Callable[[], None]) -> Iterator[None]:
    """SIGINT and SIGTERM ask the node to stop after its current operation; a second signal
    gets the default behaviour (stop at once)."""
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.getsignal(signum) for signum in signals}

    def handle(signum: int, frame: FrameType | None) -> None:
        request_stop()
        for number, handler in previous.items():
            signal.signal(number, handler)

    for signum in signals:
        signal.signal(signum, handle)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _status_json(report: OracleStatus) -> dict[str, object]:
    from fedledger.chain.codes import reason_name

    return {
        "oracle": report.address,
        "registered": report.registered,
        "oracles": report.oracles,
        "quorum": report.quorum,
        "round": report.round,
        "state": enum_name(report.state),
        "deadline": report.deadline,
        "global_model": json_value(report.global_model),
        "proposal": json_value(report.proposal),
        "awaiting_proposal": report.awaiting_proposal,
        "updates": [
            {
                "participant": vote.participant,
                "content_hash": json_value(vote.content_hash),
                "status": enum_name(vote.status),
                "voted": vote.accept is not None,
                "accept": vote.accept,
                "score": vote.score,
                "reason": None if vote.reason is None else reason_name(vote.reason),
                "awaiting_vote": vote.awaiting_vote,
            }
            for vote in report.votes
        ],
    }


def _print_status(report: OracleStatus) -> None:
    from rich.table import Table

    from fedledger.chain import RoundState
    from fedledger.chain.codes import reason_name
    from fedledger.units import format_score, words

    out = console()
    registered = "registered" if report.registered else "[red]not a registered oracle[/red]"
    out.print(
        f"oracle {report.address}: {registered} ({report.oracles} oracles, quorum {report.quorum})"
    )
    out.print(
        f"round {report.round}: {enum_name(report.state)}, global model "
        f"0x{report.global_model.hex()}"
    )
    if report.state == RoundState.CLOSED:
        proposal = f"0x{report.proposal.hex()}" if report.proposal else "[yellow]not yet[/yellow]"
        out.print(f"proposed aggregate: {proposal}")
    table = Table(title=f"updates of round {report.round}")
    table.add_column("participant", no_wrap=True, min_width=42)
    for column in ("status", "my vote", "score", "reason"):
        table.add_column(column)
    for vote in report.votes:
        if vote.accept is None:
            verdict = "[yellow]to vote[/yellow]" if vote.awaiting_vote else "-"
            table.add_row(vote.participant, enum_name(vote.status), verdict, "", "")
            continue
        table.add_row(
            vote.participant,
            enum_name(vote.status),
            "accept" if vote.accept else "reject",
            "" if vote.score is None else format_score(vote.score),
            "" if vote.reason is None else words(reason_name(vote.reason)),
        )
    out.print(table)
