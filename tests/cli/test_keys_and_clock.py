"""`fedledger keys` (encrypted keystores) and `fedledger chain advance` (the dev clock)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from click.testing import CliRunner, Result
from eth_account import Account

from fedledger.cli import main
from tests.cli.conftest import Cli

PASSWORD = "correct horse battery staple"


def run(cli: Cli, *arguments: str, input: str | None = None, **env: str) -> Result:
    environment = {"FEDLEDGER_ROOT": str(cli.project.root), **env}
    return CliRunner().invoke(main, list(arguments), env=environment, input=input)


def test_keys_new_writes_an_encrypted_keystore_that_signs(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "me.json"
    result = run(cli, "keys", "new", "--out", str(out), input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert f"--key {out}" in result.output
    keystore = json.loads(out.read_text())
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    address = Account.from_key(Account.decrypt(keystore, PASSWORD)).address
    assert address in result.output
    # The keystore signs: `rewards balance --key` answers for its address.
    balance = run(cli, "rewards", "balance", "--key", str(out), input=f"{PASSWORD}\n")
    assert balance.exit_code == 0, balance.output
    assert address in balance.output
    # Never overwritten.
    again = run(cli, "keys", "new", "--out", str(out), FEDLEDGER_KEYSTORE_PASSWORD=PASSWORD)
    assert again.exit_code == 1 and "exists" in again.output
    assert json.loads(out.read_text()) == keystore


def test_keys_import_and_list(cli: Cli) -> None:
    key = "0x" + "11" * 32
    expected = Account.from_key(key).address
    imported = run(
        cli,
        "keys",
        "import",
        "--json",
        FEDLEDGER_PRIVATE_KEY=key,
        FEDLEDGER_KEYSTORE_PASSWORD=PASSWORD,
    )
    assert imported.exit_code == 0, imported.output
    written = json.loads(imported.output)
    assert written["address"] == expected
    assert Path(written["path"]).parent == cli.project.state_dir / "keys"
    (cli.project.state_dir / "keys" / "junk.json").write_text('{"not": "a keystore"}')
    listing = run(cli, "keys", "list", "--json")
    rows = {Path(row["path"]).name: row for row in json.loads(listing.output)}
    assert rows[f"{expected}.json"]["address"] == expected
    assert rows["junk.json"]["address"] is None and "not a keystore" in rows["junk.json"]["problem"]
    table = run(cli, "keys", "list")
    assert expected in table.output and "not a keystore" in table.output
    bad = run(cli, "keys", "import", input="0x1234\n", FEDLEDGER_KEYSTORE_PASSWORD=PASSWORD)
    assert bad.exit_code == 1 and "expected 64 hex digits" in bad.output


def test_a_file_that_is_not_a_keystore_is_refused_before_the_password(
    cli: Cli, tmp_path: Path
) -> None:
    not_keystore = tmp_path / "config.json"
    not_keystore.write_text('{"hello": "world"}')
    # No input: a password prompt would abort instead of this line.
    for path, why in ((not_keystore, "not a keystore"), (Path("/etc/passwd"), "not JSON")):
        line = cli.fails("rewards", "balance", "--key", str(path))
        assert why in line and "fedledger keys new" in line, line
        assert "password" not in line.lower()


def test_chain_advance_moves_the_dev_clock_past_the_deadline(cli: Cli) -> None:
    before = cli.json("status")
    assert before["can_close"] is False
    output = cli.ok("chain", "advance", "3601")
    assert "moved 3601 s forward" in output
    after = cli.json("status")
    assert after["chain_time"] >= before["chain_time"] + 3601
    assert after["can_close"] is True
    assert "yes, deadline passed (`fedledger round close" in cli.ok("status")


def test_chain_advance_is_refused_off_the_dev_chain(cli: Cli) -> None:
    line = cli.fails("chain", "advance", "60", "--network", "ganache")
    assert "embedded development chain only" in line
    assert "Invalid value" in cli.fails("chain", "advance", "0", code=2)
