"""``fedledger rounds``: every round of the deployment in one table (the dashboard's round
history, from the same query: :mod:`fedledger.queries.rounds`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.table import Table

from fedledger import units
from fedledger.cli import render
from fedledger.cli.context import open_ledger
from fedledger.cli.options import json_option, network_option, store_options, user_errors

if TYPE_CHECKING:
    from fedledger.chain import FedLedger
    from fedledger.config import ProjectConfig
    from fedledger.queries.accuracy import ModelAccuracy
    from fedledger.queries.rounds import RoundSummary

F = TypeVar("F", bound=Callable[..., Any])


def eval_option(command: F) -> F:
    """``--eval FILE.npz`` (the evaluation set the rounds' global models are scored on) and
    ``--key-file`` (to open them where the policy seals them)."""
    command = click.option(
        "--key-file",
        "eval_key_file",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="With --eval on a deployment whose global models are sealed (policy members or "
        "holders): an oracle's or a gateway's encryption key file, to open them.",
    )(command)
    return click.option(
        "--eval",
        "eval_path",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        metavar="FILE.npz",
        help="Evaluation set (an .npz with `images`, uint8 N x 28 x 28, and `labels`, as "
        "`fedledger demo` writes in its data directory): adds the test accuracy of the "
        "global model each finalized round produced, fetched from the store.",
    )(command)


def open_accuracy(
    config: ProjectConfig,
    ledger: FedLedger,
    eval_path: Path | None,
    key_file: Path | None,
    store_kind: str | None,
    ipfs_api: str | None,
) -> ModelAccuracy | None:
    """The accuracy of the rounds' models on ``--eval`` (None without it); the store is
    opened only then, and sealed models with the ``--key-file`` given."""
    if eval_path is None:
        if key_file is not None:
            raise click.ClickException("--key-file opens models for --eval: give --eval too")
        return None
    from fedledger.queries.accuracy import ModelAccuracy
    from fedledger.storage import open_store

    if not eval_path.is_file():
        raise click.ClickException(f"--eval {eval_path}: no such file")
    opener = None if key_file is None else sealed_model_opener(ledger, key_file)
    with user_errors():
        store = open_store(config, kind=store_kind, ipfs_api=ipfs_api)
        return ModelAccuracy.from_file(store, eval_path, config.storage.max_blob_bytes, opener)


def sealed_model_opener(ledger: FedLedger, key_file: Path) -> Callable[[bytes], bytes]:
    """Opens a sealed global model of ``ledger``'s deployment with ``key_file``'s keys."""
    from fedledger.crypto import GlobalModelBinding, OracleKeyFile, open_envelope

    with user_errors():
        keys = OracleKeyFile.load(key_file)
    binding = GlobalModelBinding(ledger.client.chain_id, ledger.coordinator.address)
    private_keys = [pair.private_key for pair in keys.keys]
    return lambda sealed: open_envelope(sealed, binding, private_keys)


@click.command()
@network_option
@eval_option
@store_options
@json_option
def rounds(
    network: str | None,
    eval_path: Path | None,
    eval_key_file: Path | None,
    store_kind: str | None,
    ipfs_api: str | None,
    as_json: bool,
) -> None:
    """Show every round so far: its state, accepted and rejected updates, tokens minted,
    gas used by all its transactions, when it ended and how long it took, then the global
    model each finalized round produced (read from the chain's events; no key needed).

    --json prints the same records as the dashboard's /api/rounds: token amounts as decimal
    strings of base units, times as epoch seconds of the chain's clock, and the human
    fields beside them (*_text).
    """
    from fedledger.queries.rounds import read_round_history

    config, ledger = open_ledger(network, sign=False)
    accuracy = open_accuracy(config, ledger, eval_path, eval_key_file, store_kind, ipfs_api)
    with user_errors():
        history = read_round_history(ledger, accuracy)
        now = ledger.client.chain_time()
        symbol = ledger.token.symbol()
    if as_json:
        render.print_json([summary.to_json(now, symbol) for summary in history])
        return
    out = render.console()
    out.print(_table(ledger.deployment.network, history, now, symbol, accuracy is not None))
    # The hashes on lines of their own, whole (a table would cut them): they can be copied.
    for summary in history:
        if summary.produced_model is not None:
            out.print(f"round {summary.round} produced 0x{summary.produced_model.hex()}")
        elif summary.skip_reason is not None:
            out.print(f"round {summary.round} {summary.to_json(now, symbol)['skip_reason_text']}")


def _table(
    network: str, history: list[RoundSummary], now: int, symbol: str, with_accuracy: bool
) -> Table:
    table = Table(
        title=f"rounds on {network} (chain clock {units.format_local_time(now)})",
        title_justify="left",
    )
    columns = ["round", "state", "accepted", "rejected", "unsettled", "tokens minted", "gas"]
    columns += ["ended", "took"] + (["accuracy"] if with_accuracy else [])
    for column in columns:
        table.add_column(column, justify="left" if column in ("state", "ended") else "right")
    for summary in history:
        fields = summary.to_json(now, symbol)
        row = [
            str(summary.round),
            fields["state_text"],
            str(summary.accepted),
            str(summary.rejected),
            str(summary.unsettled),
            fields["tokens_minted_text"],
            fields["gas_text"],
            units.format_relative(summary.ended_at, now) if summary.ended_at else "-",
            fields["duration_text"],
        ]
        table.add_row(*row, *([fields["accuracy_text"] or "-"] if with_accuracy else []))
    if not history:
        table.caption = "no round yet: the admin opens round 1 with `fedledger admin start`"
    else:
        table.caption = (
            "unsettled: pending until the verification grace after close ends, expired after; "
            "times on the "
            "chain's clock; `fedledger status --round N` lists a round's submissions"
        )
    return table
