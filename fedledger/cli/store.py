"""``fedledger store``: put, get and compute CIDs of blobs (docs/storage.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console

from fedledger.cli import render
from fedledger.cli.options import store_options, user_errors
from fedledger.config import ProjectConfig, load_config
from fedledger.storage import (
    CidBuilder,
    CidProfile,
    content_hash_from_cid,
    open_store,
)
from fedledger.storage.base import check_put_size

# Large reads let CidBuilder hash a piece's chunks on several cores.
_READ_CHUNK = 16 * 1024 * 1024


@click.group()
def store() -> None:
    """Put, get and compute CIDs of blobs.

    The embedded store (a directory, storage.local_root) is the default; --store ipfs
    talks to an IPFS node's RPC API. CIDs are those `ipfs add` gives: CIDv0 (Qm...), whose
    digest is the bytes32 content hash the chain stores.
    """


def _describe(config: ProjectConfig, store_kind: str | None, ipfs_api: str | None) -> str:
    if (store_kind or config.storage.default) == "ipfs":
        return f"ipfs ({ipfs_api or config.storage.ipfs_api})"
    return f"local ({config.storage.local_root})"


@store.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@store_options
@click.option("-q", "--quiet", is_flag=True, help="Print only the CID.")
def put(file: Path, store_kind: str | None, ipfs_api: str | None, quiet: bool) -> None:
    """Store FILE and print its CID and content hash."""
    with user_errors():
        config = load_config()
        # Refuse an oversized file before reading it into memory.
        check_put_size(file.stat().st_size, config.storage.max_blob_bytes)
        with open_store(config, kind=store_kind, ipfs_api=ipfs_api) as blob_store:
            cid = blob_store.put(file.read_bytes())
    if quiet:
        click.echo(cid)
        return
    _print_rows(
        ("CID", cid),
        ("content hash", "0x" + content_hash_from_cid(cid).hex()),
        ("size", f"{file.stat().st_size:,} bytes"),
        ("store", _describe(config, store_kind, ipfs_api)),
    )


@store.command()
@click.argument("cid")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, writable=True, allow_dash=True, path_type=Path),
    help="Where to write the blob ('-' for standard output).",
)
@store_options
def get(cid: str, output: Path, store_kind: str | None, ipfs_api: str | None) -> None:
    """Fetch CID, verify it, and write it to --output."""
    with user_errors():
        config = load_config()
        with open_store(config, kind=store_kind, ipfs_api=ipfs_api) as blob_store:
            data = blob_store.get(cid.strip())
    if str(output) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    output.write_bytes(data)
    Console(stderr=True, soft_wrap=True).print(
        f"wrote {len(data):,} bytes to {output} (verified against {cid.strip()}, "
        f"from {_describe(config, store_kind, ipfs_api)})"
    )


@store.command(name="cid")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def cid_command(file: Path) -> None:
    """Compute FILE's CIDs and content hash without storing it."""
    builders = {profile: CidBuilder(profile) for profile in CidProfile}
    with file.open("rb") as blob:
        while chunk := blob.read(_READ_CHUNK):
            for builder in builders.values():
                builder.update(chunk)
    cids = {profile: builder.finish() for profile, builder in builders.items()}
    _print_rows(
        ("CIDv0", str(cids[CidProfile.V0])),
        ("content hash", "0x" + cids[CidProfile.V0].digest.hex()),
        ("CIDv1 raw leaves", str(cids[CidProfile.V1_RAW_LEAVES])),
        ("size", f"{file.stat().st_size:,} bytes"),
    )


def _print_rows(*rows: tuple[str, str]) -> None:
    console = render.console()  # never breaks a CID or a hash across lines
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        console.print(f"[bold]{label:<{width}}[/bold]  {value}", highlight=False)
