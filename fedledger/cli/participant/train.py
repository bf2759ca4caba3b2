"""``fedledger participant train``: train the global model on your data into a file."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from fedledger.cli import render
from fedledger.cli.context import open_participant
from fedledger.cli.options import (
    json_option,
    key_option,
    network_option,
    project_config,
    store_options,
    user_errors,
)
from fedledger.cli.participant.common import (
    DATA,
    OUT,
    progress_bar,
    rows_table,
    training_config,
    training_options,
)

if TYPE_CHECKING:
    from fedledger.ml.training_config import TrainingProgress


@click.command()
@click.option("--data", type=DATA, required=True, help="Your training data (.npz).")
@click.option("--out", type=OUT, required=True, help="Where to write the trained weights.")
@click.option(
    "--model",
    "model_file",
    type=DATA,
    default=None,
    help="Start from this weights file [default: fetch the current global model].",
)
@training_options
@key_option
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
    key: str | None,
    network: str | None,
    store_kind: str | None,
    ipfs_api: str | None,
    as_json: bool,
) -> None:
    """Train the global model on your data and write the update to --out."""
    from fedledger.ml import decode, encode, load_dataset
    from fedledger.storage import compute_cid

    config = training_config(epochs, batch_size, learning_rate, seed)
    project = project_config()
    with user_errors():
        dataset = load_dataset(data)
        if model_file is not None:
            start = decode(model_file.read_bytes(), max_bytes=project.storage.max_blob_bytes)
        else:
            with open_participant(network, key, store_kind, ipfs_api) as client:
                start = client.fetch_global_model().weights
    from fedledger.participant import make_update

    began = time.monotonic()
    last: list[TrainingProgress] = []
    with progress_bar(not as_json and sys.stdout.isatty()) as bar:

        def progress(step: TrainingProgress) -> None:
            last[:] = [step]
            if bar is not None:
                bar(step)

        with user_errors():
            # What `participant run` sends each round, for the honest behaviour.
            trained = make_update("honest", start, dataset, config, progress)
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
        rows_table(
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
