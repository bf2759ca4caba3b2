"""``fedledger participant submit``: seal a weights file for the oracles, upload it, submit it."""

from __future__ import annotations

from pathlib import Path

import click

from fedledger.cli import render
from fedledger.cli.context import open_participant
from fedledger.cli.options import (
    json_option,
    key_option,
    network_option,
    store_options,
    user_errors,
)
from fedledger.cli.participant.common import (
    DATA,
    rows_table,
    submission_json,
    unsealed_warning,
)

#: Rounds and sample counts are uint64 on chain.
UINT64_MAX = 2**64 - 1


@click.command()
@click.argument("file", type=DATA)
@click.option(
    "--samples",
    type=click.IntRange(min=1, max=UINT64_MAX),
    required=True,
    help="Training samples used.",
)
@click.option(
    "--round",
    "round_",
    type=click.IntRange(min=1, max=UINT64_MAX),
    default=None,
    help="[default: the current round]",
)
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
    """Seal the weights in FILE for the live oracles, upload and submit them for the
    current round (only the oracles can read them; docs/security.md).

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
        render.print_json(submission_json(submission))
        return
    render.console().print(
        rows_table(
            f"submitted to round {submission.round}",
            [
                ("participant", submission.participant),
                ("CID", submission.cid),
                ("content hash", render.hex32(submission.content_hash) or "-"),
                ("samples", f"{submission.num_samples:,}"),
                ("sealed for", f"{len(submission.sealed_for)} oracles (only they can read it)"),
                ("transaction", f"{submission.tx_hash} (gas {submission.gas_used:,})"),
            ],
        )
    )
    warning = unsealed_warning(submission)
    if warning:
        click.echo(warning, err=True)
    hint = render.command_hint("participant status --wait", key=key, network=network)
    render.console().print(f"follow the verdict with: {hint}")
