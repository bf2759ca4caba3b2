"""``fedledger participant model``: the current round and its global model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from fedledger.cli.participant.common import OUT, rows_table

if TYPE_CHECKING:
    from fedledger.chain import GlobalModel


def _model_json(model: GlobalModel, cid: str | None) -> dict[str, Any]:
    return {
        "round": model.round,
        "state": render.enum_name(model.state),
        "deadline": model.deadline,
        "content_hash": render.hex32(model.content_hash),
        "cid": cid,
    }


@click.command()
@click.option("--out", type=OUT, default=None, help="Fetch the model (hash-checked) into FILE.")
@key_option
@network_option
@store_options
@json_option
def model(
    out: Path | None,
    key: str | None,
    network: str | None,
    store_kind: str | None,
    ipfs_api: str | None,
    as_json: bool,
) -> None:
    """Show the current round and its global model; --out fetches the model.

    Under a non-public global-model policy the stored model is sealed: --out then asks a
    gateway for it with a request signed by --key (a member), and checks the bytes against
    the sealed blob the chain names."""
    from fedledger.storage import cid_from_content_hash

    with (
        open_participant(network, key, store_kind, ipfs_api, sign=key is not None) as client,
        user_errors(),
    ):
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
    render.console().print(rows_table("global model", rows))
