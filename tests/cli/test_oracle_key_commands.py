"""`fedledger oracle key create|register|rotate|show`, and the participant's side: sealing
for the oracles that registered a key, refusing when fewer than k did."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest

from fedledger.crypto import OracleKeyFile
from oracle.key_files import KEY_FILE_DIR, default_key_file
from tests.cli.conftest import ORACLE_KEYS, OUTSIDER_KEY, PARTICIPANT_KEYS, Cli, CliFactory


@pytest.fixture
def keyless(cli_factory: CliFactory) -> Cli:
    """The standard CLI deployment with no oracle key on chain and no key file."""
    cli = cli_factory(encryption_keys=0)
    shutil.rmtree(cli.project.state_dir / KEY_FILE_DIR, ignore_errors=True)
    return cli


def test_create_register_rotate_show(keyless: Cli) -> None:
    cli, oracle = keyless, keyless.bed.oracles[0]
    path = default_key_file(cli.project, oracle.address)
    output = cli.ok("oracle", "key", "create", "--key", ORACLE_KEYS[0])
    assert str(path) in output and "register it" in output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = OracleKeyFile.load(path).current.public_key
    assert "exists; use `fedledger oracle key rotate`" in cli.fails(
        "oracle", "key", "create", "--key", ORACLE_KEYS[0]
    )

    registered = cli.json("oracle", "key", "register", "--key", ORACLE_KEYS[0])
    assert registered["public_key"] == "0x" + first.hex() and registered["gas_used"] > 0
    assert oracle.coordinator.encryption_key_of(oracle.address).current == first
    assert "already this oracle's encryption key" in cli.ok(
        "oracle", "key", "register", "--key", ORACLE_KEYS[0]
    )

    rotated = cli.json("oracle", "key", "rotate", "--key", ORACLE_KEYS[0])
    keys = OracleKeyFile.load(path)
    assert rotated["public_key"] == "0x" + keys.current.public_key.hex()
    assert [(pair.public_key, pair.retired_in_round) for pair in keys.keys[1:]] == [(first, 1)]
    info = oracle.coordinator.encryption_key_of(oracle.address)
    assert (info.current, info.previous, info.rotated_in_round) == (
        keys.current.public_key,
        first,
        1,
    )

    # A second rotation in the round is refused, and the key file is left as it was.
    line = cli.fails("oracle", "key", "rotate", "--key", ORACLE_KEYS[0])
    assert "rotate again next round" in line
    assert OracleKeyFile.load(path).current.public_key == keys.current.public_key

    shown = cli.json("oracle", "key", "show", "--key", ORACLE_KEYS[0])
    assert [row["on_chain"] for row in shown["keys"]] == ["current", "previous"]


def test_bad_key_commands_say_what_to_do(keyless: Cli, tmp_path: Path) -> None:
    cli = keyless
    assert "no encryption key file" in cli.fails(
        "oracle", "key", "register", "--key", ORACLE_KEYS[0]
    )
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "something else"}))
    assert "not a FedLedger oracle encryption key file" in cli.fails(
        "oracle", "key", "register", "--key", ORACLE_KEYS[0], "--key-file", str(bad)
    )
    cli.ok("oracle", "key", "create", "--key", OUTSIDER_KEY)
    assert "not a registered oracle" in cli.fails(
        "oracle", "key", "register", "--key", OUTSIDER_KEY
    ).lower().replace("isn't", "not")


def test_the_participant_refuses_when_fewer_than_k_oracles_have_a_key(
    keyless: Cli, tmp_path: Path
) -> None:
    cli = keyless
    update = tmp_path / "update.flmw"
    update.write_bytes(cli.genesis_blob)
    cli.ok("oracle", "key", "create", "--key", ORACLE_KEYS[0])
    cli.ok("oracle", "key", "register", "--key", ORACLE_KEYS[0])
    line = cli.fails(
        "participant", "submit", str(update), "--samples", "1", "--key", PARTICIPANT_KEYS[0]
    )
    assert "only 1 of 3 oracles have an encryption key and 2 must accept" in line
    assert cli.bed.oracles[1].address in line and "fedledger oracle key register" in line
    assert (
        cli.admin.coordinator.get_participant(cli.bed.participants[0].address).last_submitted_round
        == 0
    )

    cli.ok("oracle", "key", "create", "--key", ORACLE_KEYS[1])
    cli.ok("oracle", "key", "register", "--key", ORACLE_KEYS[1])
    output = cli.ok(
        "participant", "submit", str(update), "--samples", "1", "--key", PARTICIPANT_KEYS[0]
    )
    assert "2 oracles (only they can read it)" in output
    assert "warning: sealed for 2 oracles" in output and cli.bed.oracles[2].address in output
