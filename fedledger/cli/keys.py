"""``fedledger keys new|import|list``: encrypted keystores for ``--key PATH``."""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.table import Table

from fedledger.cli import render
from fedledger.cli.options import json_option, project_config, user_errors

#: Where keystores go unless --out says otherwise (under the project's state directory).
KEYS_DIRNAME = "keys"


def _keys_dir() -> Path:
    return project_config().state_dir / KEYS_DIRNAME


def _password() -> str:
    """The new keystore's password: FEDLEDGER_KEYSTORE_PASSWORD, else asked twice."""
    from fedledger.chain.keys import KEYSTORE_PASSWORD_ENV

    password = os.environ.get(KEYSTORE_PASSWORD_ENV)
    if password is None:
        password = click.prompt(
            "Password for the new keystore", hide_input=True, confirmation_prompt=True
        )
    if not password:
        raise click.ClickException(
            f"an empty password would leave the key unprotected: type one, or set "
            f"{KEYSTORE_PASSWORD_ENV}"
        )
    return password


def _write(account_key: bytes | str, out: Path | None, as_json: bool) -> None:
    from eth_account import Account

    from fedledger.chain.keys import write_keystore

    account = Account.from_key(account_key)
    path = out if out is not None else _keys_dir() / f"{account.address}.json"
    with user_errors():
        if path.exists():
            from fedledger.chain.errors import AccountError

            raise AccountError(f"{path} exists: choose another --out, or remove it first")
        written = write_keystore(account, path, _password(), overwrite=False)
    if as_json:
        render.print_json({"address": account.address, "path": str(written)})
        return
    click.echo(f"keystore for {account.address} written to {written}")
    click.echo(
        f"sign with it: --key {written} (password from FEDLEDGER_KEYSTORE_PASSWORD or a prompt)"
    )


out_option = click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Keystore file to write [default: .fedledger/keys/ADDRESS.json]; never overwritten.",
)


@click.group()
def keys() -> None:
    """Create, import and list encrypted keystores (JSON V3, as geth and clef write them).

    A keystore is what `--key PATH` signs with; its password comes from
    FEDLEDGER_KEYSTORE_PASSWORD or a prompt. Keys never live in a configuration file.
    """


@keys.command()
@out_option
@json_option
def new(out: Path | None, as_json: bool) -> None:
    """Create a new random account and write it as an encrypted keystore."""
    import secrets

    _write(secrets.token_bytes(32), out, as_json)


@keys.command("import")
@out_option
@json_option
def import_(out: Path | None, as_json: bool) -> None:
    """Encrypt an existing private key into a keystore. The hex key comes from
    FEDLEDGER_PRIVATE_KEY or a hidden prompt (never from the command line, where the
    shell history would keep it)."""
    from fedledger.chain.keys import PRIVATE_KEY_ENV

    private_key = os.environ.get(PRIVATE_KEY_ENV) or click.prompt(
        "Private key (hex)", hide_input=True
    )
    try:
        key = bytes.fromhex(private_key.strip().removeprefix("0x"))
    except ValueError:
        key = b""
    if len(key) != 32:
        raise click.ClickException(
            "that is not a private key: expected 64 hex digits (32 bytes), optionally 0x-prefixed"
        )
    try:
        _write(key, out, as_json)
    except ValueError as exc:  # a 32-byte value outside the curve's order
        raise click.ClickException(f"that is not a valid private key: {exc}") from None


@keys.command("list")
@click.argument(
    "directory", type=click.Path(file_okay=False, path_type=Path), required=False, default=None
)
@json_option
def list_(directory: Path | None, as_json: bool) -> None:
    """List the keystores in DIRECTORY [default: .fedledger/keys] with their addresses
    (read without their passwords)."""
    from fedledger.chain.errors import AccountError
    from fedledger.chain.keys import keystore_address

    folder = directory if directory is not None else _keys_dir()
    rows: list[dict[str, str | None]] = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            rows.append({"path": str(path), "address": keystore_address(path), "problem": None})
        except AccountError as exc:
            rows.append({"path": str(path), "address": None, "problem": str(exc)})
    if as_json:
        render.print_json(rows)
        return
    if not rows:
        click.echo(f"no keystores in {folder} (create one with `fedledger keys new`)")
        return
    table = Table(title=f"keystores in {folder}", title_justify="left")
    table.add_column("address")
    table.add_column("file")
    for row in rows:
        table.add_row(row["address"] or "[red]not a keystore[/red]", row["path"] or "")
    render.console().print(table)
