"""``fedledger participant``: fetch the global model, train, submit, follow the verdict.

fedledger participant model --out global.flmw
fedledger participant train --data mine.npz --out update.flmw
fedledger participant submit update.flmw --samples 5400
fedledger participant status --wait
fedledger participant run --data mine.npz --rounds 5     # all of the above, per round
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from fedledger.cli import render
from fedledger.cli.context import open_ledger, open_participant
from fedledger.cli.options import (
    json_option,
    key_option,
    network_option,
    project_config,
    store_options,
    user_errors,
)
from fedledger.ml.training_config import TrainingConfig
from fedledger.participant import BEHAVIOURS

if TYPE_CHECKING:
    from fedledger.chain import GlobalModel
    from fedledger.ml.training_config import TrainingProgress
    from fedledger.participant import RoundOutcome, Submission, UpdateVerdict

_DATA = click.Path(exists=True, dir_okay=False, path_type=Path)
_OUT = click.Path(dir_okay=False, writable=True, path_type=Path)


@click.group()
def participant() -> None:
    """Fetch the global model, train on your data, submit, and follow the verdict.

    Updates are weight files in FedLedger's canonical format (docs/ml.md); data is an
    .npz with `images` (uint8, n x 28 x 28) and `labels` (uint8). Submissions are signed
    by --key (a keystore, or dev:N on the embedded chain).
    """


def training_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Local training's hyper-parameters (fedledger.ml.training.TrainingConfig)."""
    for option in reversed(
        (
            click.option(
                "--epochs", default=TrainingConfig.epochs, show_default=True, help="Local epochs."
            ),
            click.option("--batch-size", default=TrainingConfig.batch_size, show_default=True),
            click.option(
                "--learning-rate", default=TrainingConfig.learning_rate, show_default=True
            ),
            click.option(
                "--seed",
                default=TrainingConfig.seed,
                show_default=True,
                help="Seed of the sample order.",
            ),
        )
    ):
        command = option(command)
    return command


def _training_config(
    epochs: int, batch_size: int, learning_rate: float, seed: int
) -> TrainingConfig:
    # Training comes next and imports TensorFlow, whose C++ start-up chatter (CPU
    # features, oneDNN) is noise here; a TF_CPP_MIN_LOG_LEVEL the user set still wins.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        return TrainingConfig(
            epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, seed=seed
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@contextmanager
def _progress_bar(enabled: bool) -> Iterator[Callable[[TrainingProgress], None] | None]:
    """A rich progress bar fed by train_local's per-batch callback (None if disabled)."""
    if not enabled:
        yield None
        return
    columns = (
        TextColumn("[bold]training[/bold] epoch {task.fields[epoch]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}  accuracy {task.fields[accuracy]:.4f}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=render.console(), transient=False) as bar:
        task = bar.add_task("train", total=None, epoch="", loss=0.0, accuracy=0.0)

        def update(step: TrainingProgress) -> None:
            bar.update(
                task,
                total=step.epochs * step.batches,
                completed=(step.epoch - 1) * step.batches + step.batch,
                epoch=f"{step.epoch}/{step.epochs}",
                loss=step.loss,
                accuracy=step.accuracy,
            )

        yield update


def _rows(title: str, rows: list[tuple[str, str]]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for label, value in rows:
        table.add_row(label, value)
    return table


def _model_json(model: GlobalModel, cid: str | None) -> dict[str, Any]:
    return {
        "round": model.round,
        "state": render.enum_name(model.state),
        "deadline": model.deadline,
        "content_hash": render.hex32(model.content_hash),
        "cid": cid,
    }


# ---- model -------------------------------------------------------------------------------


@participant.command()
@click.option("--out", type=_OUT, default=None, help="Fetch the model (hash-checked) into FILE.")
@network_option
@store_options
@json_option
def model(
    out: Path | None,
    network: str | None,
    store_kind: str | None,
    ipfs_api: str | None,
    as_json: bool,
) -> None:
    """Show the current round and its global model; --out fetches the model."""
    from fedledger.storage import cid_from_content_hash

    with open_participant(network, None, store_kind, ipfs_api, sign=False) as client, user_errors():
        latest = client.latest_model()
        cid = cid_from_content_hash(latest.content_hash) if latest.round else None
        fetched = client.fetch_global_model(latest) if out is not None else None
        now = client.ledger.client.chain_time()
    if fetched is not None and out is not None:
        out.write_bytes(fetched.blob)
    if as_json:
        payload = _model_json(latest, cid)
        if fetched is not None:
            payload |= {
                "architecture": fetched.weights.architecture,
                "size": len(fetched.blob),
                "out": str(out),
            }
        render.print_json(payload)
        return
    if latest.round == 0:
        render.console().print("training has not started (the admin runs `fedledger admin start`)")
        return
    rows = [
        ("round", str(latest.round)),
        ("state", render.enum_name(latest.state)),
        ("deadline", render.deadline(latest.deadline, now)),
        ("content hash", render.hex32(latest.content_hash) or "-"),
        ("CID", cid or "-"),
    ]
    if fetched is not None:
        rows += [
            ("architecture", fetched.weights.architecture),
            ("written", f"{out} ({len(fetched.blob):,} bytes, hash checked)"),
        ]
    render.console().print(_rows("global model", rows))


# ---- train -------------------------------------------------------------------------------


@participant.command()
@click.option("--data", type=_DATA, required=True, help="Your training data (.npz).")
@click.option("--out", type=_OUT, required=True, help="Where to write the trained weights.")
@click.option(
    "--model",
    "model_file",
    type=_DATA,
    default=None,
    help="Start from this weights file [default: fetch the current global model].",
)
@training_options
@network_option
@store_options
@json_option
def train(
    data: Path,
    out: Path,
    model_file: Path | None,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
    network: str | None,
    store_kind: str | None,
    ipfs_api: str | None,
    as_json: bool,
) -> None:
    """Train the global model on your data and write the update to --out."""
    from fedledger.ml import decode, encode, load_dataset
    from fedledger.storage import compute_cid

    config = _training_config(epochs, batch_size, learning_rate, seed)
    project = project_config()
    with user_errors():
        dataset = load_dataset(data)
        if model_file is not None:
            start = decode(model_file.read_bytes(), max_bytes=project.storage.max_blob_bytes)
        else:
            with open_participant(network, None, store_kind, ipfs_api) as client:
                start = client.fetch_global_model().weights
    from fedledger.ml.training import train_local  # Keras: only once the inputs are good

    began = time.monotonic()
    last: list[TrainingProgress] = []
    with _progress_bar(not as_json and sys.stdout.isatty()) as bar:

        def progress(step: TrainingProgress) -> None:
            last[:] = [step]
            if bar is not None:
                bar(step)

        with user_errors():
            trained = train_local(start, dataset, config, progress)
            blob = encode(trained)
    out.write_bytes(blob)
    seconds = time.monotonic() - began
    cid = compute_cid(blob)
    summary = {
        "out": str(out),
        "architecture": trained.architecture,
        "samples": len(dataset),
        "epochs": config.epochs,
        "loss": last[0].loss if last else None,
        "accuracy": last[0].accuracy if last else None,
        "seconds": round(seconds, 3),
        "cid": str(cid),
        "content_hash": render.hex32(cid.digest),
        "size": len(blob),
    }
    if as_json:
        render.print_json(summary)
        return
    render.console().print(
        _rows(
            "trained",
            [
                ("samples", f"{len(dataset):,}"),
                ("epochs", str(config.epochs)),
                ("loss / accuracy", f"{summary['loss']:.4f} / {summary['accuracy']:.4f}")
                if last
                else ("loss / accuracy", "-"),
                ("time", f"{seconds:.1f} s"),
                ("written", f"{out} ({len(blob):,} bytes)"),
                ("CID", str(cid)),
            ],
        )
    )
    render.console().print(
        f"submit it with: fedledger participant submit {out} --samples {len(dataset)}"
    )


# ---- submit ------------------------------------------------------------------------------


def _submission_json(submission: Submission) -> dict[str, Any]:
    return {
        "round": submission.round,
        "participant": submission.participant,
        "cid": submission.cid,
        "content_hash": render.hex32(submission.content_hash),
        "num_samples": submission.num_samples,
        "tx_hash": submission.tx_hash,
        "block": submission.block_number,
        "gas_used": submission.gas_used,
    }


@participant.command()
@click.argument("file", type=_DATA)
@click.option("--samples", type=click.IntRange(min=1), required=True, help="Training samples used.")
@click.option("--round", "round_", type=int, default=None, help="[default: the current round]")
@key_option
@network_option
@store_options
@json_option
def submit(
    file: Path,
    samples: int,
    round_: int | None,
    key: str | None,
    network: str | None,
    store_kind: str | None,
    ipfs_api: str | None,
    as_json: bool,
) -> None:
    """Upload the weights in FILE and submit them for the current round.

    The file must decode as weights of the global model's architecture (anything else
    would only be rejected by the oracles and count against you).
    """
    from fedledger.ml import decode

    with open_participant(network, key, store_kind, ipfs_api) as client, user_errors():
        weights = decode(file.read_bytes(), max_bytes=client.max_blob_bytes)
        current = client.fetch_global_model()
        if weights.architecture != current.weights.architecture:
            raise click.ClickException(
                f"{file} holds {weights.architecture} weights; round {current.round} trains "
                f"{current.weights.architecture}"
            )
        submission = client.submit(weights, samples, round_)
    if as_json:
        render.print_json(_submission_json(submission))
        return
    render.console().print(
        _rows(
            f"submitted to round {submission.round}",
            [
                ("participant", submission.participant),
                ("CID", submission.cid),
                ("content hash", render.hex32(submission.content_hash) or "-"),
                ("samples", f"{submission.num_samples:,}"),
                ("transaction", f"{submission.tx_hash} (gas {submission.gas_used:,})"),
            ],
        )
    )
    render.console().print("follow the verdict with: fedledger participant status --wait")


# ---- status ------------------------------------------------------------------------------


def _verdict_table(verdict: UpdateVerdict, symbol: str) -> Table:
    table = Table(
        title=(
            f"round {verdict.round}, {verdict.participant}: "
            f"[bold]{render.enum_name(verdict.status)}[/bold]"
        ),
        title_justify="left",
        caption=(
            f"score {verdict.score:,}"
            + (f", reason {verdict.reason_name}" if verdict.reason is not None else "")
            + (f", reward {render.tokens(verdict.reward, symbol)}" if verdict.reward else "")
        ),
        caption_justify="left",
    )
    table.add_column("oracle")
    table.add_column("vote")
    table.add_column("score", justify="right")
    table.add_column("reason")
    for vote in verdict.votes:
        table.add_row(
            vote.oracle,
            "accept" if vote.accept else "reject",
            f"{vote.score:,}",
            "" if vote.accept else vote.reason_name,
        )
    return table


@participant.command()
@click.option("--round", "round_", type=int, default=None, help="[default: your latest submission]")
@click.option("--wait", is_flag=True, help="Wait until the update is settled.")
@click.option("--timeout", type=float, default=300.0, show_default=True, help="With --wait.")
@key_option
@network_option
@json_option
def status(
    round_: int | None,
    wait: bool,
    timeout: float,
    key: str | None,
    network: str | None,
    as_json: bool,
) -> None:
    """Show the verdict on your update: status, score, reason and every oracle's vote."""
    from fedledger.participant import read_verdicts, wait_for_verdict

    _, ledger = open_ledger(network, key)
    with user_errors():
        if round_ is None:
            round_ = ledger.coordinator.get_participant(ledger.address).last_submitted_round
            if round_ == 0:
                raise click.ClickException(
                    f"{ledger.address} has not submitted an update yet "
                    "(`fedledger participant submit`)"
                )
        if wait:
            verdict = wait_for_verdict(ledger, round_, ledger.address, timeout=timeout)
        else:
            (verdict,) = read_verdicts(ledger, round_, ledger.address)
        symbol = ledger.token.symbol()
    if as_json:
        render.print_json(render.verdict_json(verdict))
    else:
        render.console().print(_verdict_table(verdict, symbol))


# ---- run ---------------------------------------------------------------------------------


def _outcome_json(outcome: RoundOutcome) -> dict[str, Any]:
    return {
        "event": "round",
        "round": outcome.round,
        "behaviour": outcome.behaviour,
        "submission": _submission_json(outcome.submission),
        "verdict": render.verdict_json(outcome.verdict),
        "training_seconds": round(outcome.training_seconds, 3),
        "seconds": round(outcome.seconds, 3),
    }


@participant.command()
@click.option("--data", type=_DATA, required=True, help="Your training data (.npz).")
@click.option("--rounds", type=click.IntRange(min=1), default=1, show_default=True)
@click.option(
    "--behaviour",
    type=click.Choice(BEHAVIOURS),
    default="honest",
    show_default=True,
    help="Misbehave on purpose (attacks of fedledger.ml.attacks), to see the oracles at work.",
)
@click.option(
    "--samples",
    type=click.IntRange(min=1),
    default=None,
    help="Sample count to report [default: the size of --data].",
)
@click.option(
    "--timeout",
    type=float,
    default=None,
    help="Give up when a round does not open, or a verdict does not come, within this many "
    "seconds [default: wait].",
)
@click.option("--poll-interval", type=float, default=0.5, show_default=True)
@training_options
@key_option
@network_option
@store_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per round.")
def run(
    data: Path,
    rounds: int,
    behaviour: str,
    samples: int | None,
    timeout: float | None,
    poll_interval: float,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
    key: str | None,
    network: str | None,
    store_kind: str | None,
    ipfs_api: str | None,
    as_json: bool,
) -> None:
    """Take part in --rounds rounds: fetch, train, submit, wait for the verdict, repeat.

    The training seed of each round is derived from --seed and the round number, so a
    rerun trains the same update. A restarted participant resumes after the last round
    it submitted to. Stops when banned.
    """
    from fedledger.ml import load_dataset

    config = _training_config(epochs, batch_size, learning_rate, seed)
    with user_errors():
        dataset = load_dataset(data)
    client = open_participant(network, key, store_kind, ipfs_api, poll_interval=poll_interval)
    out = render.console()
    if not as_json:
        out.print(
            f"{client.address}: {behaviour}, {len(dataset):,} samples, {rounds} round(s); "
            "waiting for an open round"
        )
    show_bar = not as_json and sys.stdout.isatty()
    with client, user_errors(), _progress_bar(show_bar) as bar:
        symbol = client.ledger.token.symbol()
        outcomes = client.run(
            dataset,
            config,
            rounds=rounds,
            behaviour=behaviour,
            num_samples=samples,
            timeout=timeout,
            progress=bar,
        )
        for outcome in outcomes:
            if as_json:
                click.echo(json.dumps(_outcome_json(outcome)))
            else:
                out.print(_outcome_line(outcome, symbol))


def _outcome_line(outcome: RoundOutcome, symbol: str) -> str:
    verdict = outcome.verdict
    text = (
        f"round {outcome.round}: submitted {outcome.submission.cid} "
        f"(trained in {outcome.training_seconds:.1f} s) -> "
        f"[bold]{render.enum_name(verdict.status)}[/bold] "
        f"({verdict.accept_votes} accept / {verdict.reject_votes} reject), "
        f"score {verdict.score:,}"
    )
    if verdict.reason is not None:
        text += f", reason {verdict.reason_name}"
    if verdict.reward:
        text += f", reward {render.tokens(verdict.reward, symbol)}"
    return text
