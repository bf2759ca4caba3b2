"""Careless and hostile input: each gets one line saying what to do, and nothing happens.

(The keystore cases are in test_keys_and_clock.py; --samples, --round and a deadline
that passed in test_participant_commands.py; `participant status --wait` with no oracle
running in its test_status_shows_the_verdict_score_reason_and_votes.)
"""

from __future__ import annotations

from pathlib import Path

import yaml
from eth_utils import to_checksum_address

from fedledger.config import CONFIG_FILE, ConfigError, load_config
from tests.cli.conftest import Cli

HOLDER = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"


def test_amounts_beyond_uint256_and_negative_ones_are_refused(cli: Cli) -> None:
    for arguments in (("redeem", "1e80"), ("transfer", HOLDER, "1e80"), ("deposit", "1e80")):
        line = cli.fails("rewards", *arguments, "--key", "dev:8", code=2)
        assert "more than can exist" in line, line
    for arguments in (("redeem", "-1"), ("transfer", HOLDER, "-1"), ("deposit", "-1")):
        line = cli.fails("rewards", *arguments, "--key", "dev:8", code=2)
        assert "amounts cannot be negative" in line and "No such option" not in line, line


def test_an_address_with_a_wrong_checksum_is_refused_and_nothing_is_sent(cli: Cli) -> None:
    # One letter's case flipped: still 40 hex digits, but not the EIP-55 spelling.
    flipped = HOLDER.replace("d34AAf", "d34aAf")
    assert flipped != HOLDER and flipped.lower() == HOLDER.lower()
    supply = cli.admin.token.total_supply()
    line = cli.fails("rewards", "transfer", flipped, "1", "--key", "dev:8", code=2)
    assert "wrong EIP-55 checksum" in line and "copy the address again" in line
    assert cli.admin.token.total_supply() == supply
    # All lower case carries no checksum: taken as is.
    assert HOLDER in cli.ok("rewards", "balance", HOLDER.lower())
    assert to_checksum_address(HOLDER.lower()) == HOLDER
    assert "not an Ethereum address" in cli.fails("rewards", "balance", "0x1234", code=2)


def test_a_negative_blob_cap_in_the_config_is_refused(cli: Cli) -> None:
    path = cli.project.root / CONFIG_FILE
    original = path.read_text()
    raw = yaml.safe_load(original)
    try:
        for bad in (-5, 0, "lots"):
            raw["storage"]["max_blob_bytes"] = bad
            path.write_text(yaml.safe_dump(raw))
            try:
                load_config(cli.project.root)
            except ConfigError as exc:
                assert "storage.max_blob_bytes" in str(exc) and "positive" in str(exc)
            else:
                raise AssertionError(f"max_blob_bytes {bad!r} was accepted")
            assert "storage.max_blob_bytes" in cli.fails("status")
    finally:
        path.write_text(original)


def test_a_garbage_npz_is_one_line_that_never_suggests_unpickling(cli: Cli, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"\x80\x04 not an archive at all")
    out = tmp_path / "update.flmw"
    line = cli.fails("participant", "train", "--data", str(garbage), "--out", str(out))
    assert "garbage.npz is not an .npz archive" in line, line
    assert "pickle" not in line
    assert not out.exists()
