"""``fedledger oracle key create|register|rotate|show``: the oracle's encryption key.

Participants seal every update for the X25519 keys the live oracles registered on chain
(docs/security.md). The key file holds this oracle's private keys (JSON, mode 0600): the
current one and, after a rotation, the previous one until the round it was replaced in
has ended. Keep it like the wallet keystore and out of any repository.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from fedledger.cli import render
from fedledger.cli.context import open_ledger
from fedledger.cli.options import (
    encryption_key_file_option,
    json_option,
    key_option,
    network_option,
    user_errors,
)
from oracle.key_files import default_key_file

if TYPE_CHECKING:
    from fedledger.chain import FedLedger
    from fedledger.config import ProjectConfig
    from fedledger.crypto import OracleKeyFile

#: ``--key-file``: this oracle's encryption key file.
key_file_option = encryption_key_file_option(
    "This oracle's", ".fedledger/encryption-keys/<oracle address>.json"
)


def load_key_file(config: ProjectConfig, address: str, path: Path | None) -> OracleKeyFile:
    from fedledger.crypto import OracleKeyFile

    with user_errors():
        return OracleKeyFile.load(path or default_key_file(config, address))


@click.group("key")
def key() -> None:
    """Create, register and rotate this oracle's encryption key (participants seal their
    updates for it; only the oracles can read them)."""


@key.command(short_help="Make a new key file (nothing is sent).")
@key_option
@network_option
@key_file_option
def create(key: str | None, network: str | None, key_file: Path | None) -> None:
    """Make a key file with a fresh X25519 key. Then put it on chain with `fedledger
    oracle key register`."""
    from fedledger.crypto import OracleKeyFile

    config, ledger = open_ledger(network, key)
    path = key_file or default_key_file(config, ledger.address)
    with user_errors():
        created = OracleKeyFile.create(path)
    render.console().print(
        f"encryption key 0x{created.current.public_key.hex()} written to {path} (mode 0600); "
        "register it with `fedledger oracle key register`"
    )


@key.command(short_help="Put the key file's current key on chain.")
@key_option
@network_option
@key_file_option
@json_option
def register(key: str | None, network: str | None, key_file: Path | None, as_json: bool) -> None:
    """Register the key file's current key as this oracle's encryption key (the account
    must be a registered oracle)."""
    config, ledger = open_ledger(network, key)
    keys = load_key_file(config, ledger.address, key_file)
    with user_errors():
        on_chain = ledger.coordinator.encryption_key_of(ledger.address)
        if on_chain.current == keys.current.public_key:
            render.console().print(
                f"0x{keys.current.public_key.hex()} is already this oracle's encryption key"
            )
            return
        keys = _retire_replaced(ledger, keys, on_chain.current)
        result = ledger.coordinator.register_encryption_key(keys.current.public_key)
    _report(result, keys, as_json)


@key.command(short_help="Replace the key with a new one (file and chain).")
@key_option
@network_option
@key_file_option
@json_option
def rotate(key: str | None, network: str | None, key_file: Path | None, as_json: bool) -> None:
    """Make a new key, register it, and keep the previous one for the updates of the
    round in progress (it can be dropped once that round has ended). One rotation per
    round."""
    config, ledger = open_ledger(network, key)
    keys = load_key_file(config, ledger.address, key_file)
    with user_errors():
        current_round = ledger.coordinator.current_round()
        rotated = keys.rotated(current_round)
        # The new private key is on disk before its public half goes on chain: a failure
        # in between leaves a key file `register` completes, never a key nobody holds.
        rotated.save()
        try:
            result = ledger.coordinator.register_encryption_key(rotated.current.public_key)
        except Exception:
            keys.save()
            raise
    _report(result, rotated, as_json)


@key.command(short_help="The key file's keys and the key on chain.")
@key_option
@network_option
@key_file_option
@json_option
def show(key: str | None, network: str | None, key_file: Path | None, as_json: bool) -> None:
    """Compare the key file with what the chain holds for this oracle."""
    config, ledger = open_ledger(network, key, sign=True)
    keys = load_key_file(config, ledger.address, key_file)
    with user_errors():
        on_chain = ledger.coordinator.encryption_key_of(ledger.address)
    rows = [
        {
            "public_key": "0x" + pair.public_key.hex(),
            "created_at": pair.created_at,
            "retired_in_round": pair.retired_in_round,
            "on_chain": "current"
            if pair.public_key == on_chain.current
            else "previous"
            if pair.public_key == on_chain.previous
            else "",
        }
        for pair in keys.keys
    ]
    if as_json:
        render.print_json({"oracle": ledger.address, "key_file": str(keys.path), "keys": rows})
        return
    from rich.table import Table

    table = Table(title=f"encryption keys of {ledger.address} ({keys.path})")
    for column in ("public key", "created", "retired in round", "on chain"):
        table.add_column(column, no_wrap=column == "public key")
    for row in rows:
        retired = row["retired_in_round"]
        table.add_row(
            str(row["public_key"]),
            str(row["created_at"]),
            "" if retired is None else str(retired),
            str(row["on_chain"]),
        )
    render.console().print(table)
    if on_chain.current != keys.current.public_key:
        render.console().print(
            "[yellow]the file's current key is not on chain: run `fedledger oracle key "
            "register`[/yellow]"
        )


def _retire_replaced(ledger: FedLedger, keys: OracleKeyFile, replaced: bytes) -> OracleKeyFile:
    """Registering replaces the on-chain key now: if the file holds it, keep it usable for
    the round in progress only (a rotation that stopped before its transaction)."""
    from dataclasses import replace

    from fedledger.crypto import OracleKeyFile

    current_round = ledger.coordinator.current_round()
    updated = tuple(
        replace(pair, retired_in_round=current_round)
        if pair.public_key == replaced and pair is not keys.current
        else pair
        for pair in keys.keys
    )
    if updated != keys.keys:
        keys = OracleKeyFile(keys.path, updated)
        keys.save()
    return keys


def _report(result: Any, keys: OracleKeyFile, as_json: bool) -> None:
    public = "0x" + keys.current.public_key.hex()
    render.report_tx(
        result,
        f"encryption key {public} registered",
        as_json,
        public_key=public,
        key_file=str(keys.path),
    )
