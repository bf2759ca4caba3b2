"""What the ``fedledger participant`` commands share: file arguments, training options, a
training progress bar, and the tables and JSON of a submission."""

from __future__ import annotations

import os
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
from fedledger.ml.training_config import TrainingConfig

if TYPE_CHECKING:
    from fedledger.ml.training_config import TrainingProgress
    from fedledger.participant import Submission

DATA = click.Path(exists=True, dir_okay=False, path_type=Path)
OUT = click.Path(dir_okay=False, writable=True, path_type=Path)


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


def training_config(
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
def progress_bar(enabled: bool) -> Iterator[Callable[[TrainingProgress], None] | None]:
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


def rows_table(title: str, rows: list[tuple[str, str]]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for label, value in rows:
        table.add_row(label, value)
    return table


def submission_json(submission: Submission) -> dict[str, Any]:
    return {
        "round": submission.round,
        "participant": submission.participant,
        "cid": submission.cid,
        "content_hash": render.hex32(submission.content_hash),
        "num_samples": submission.num_samples,
        "tx_hash": submission.tx_hash,
        "block": submission.block_number,
        "gas_used": submission.gas_used,
        "sealed_for": list(submission.sealed_for),
        "not_sealed_for": list(submission.not_sealed_for),
    }


def unsealed_warning(submission: Submission) -> str | None:
    """The warning for live oracles the update could not be sealed for (no key)."""
    if not submission.not_sealed_for:
        return None
    return (
        f"warning: sealed for {len(submission.sealed_for)} oracles; "
        f"{', '.join(submission.not_sealed_for)} registered no encryption key and cannot "
        "judge this update (their operators run `fedledger oracle key register`)"
    )
