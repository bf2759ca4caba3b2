"""The oracle's key file: create, load, rotate (previous key readable for its round)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from fedledger.crypto import Binding, KeyFileError, OracleKeyFile, open_envelope, seal


def test_create_writes_a_private_file_and_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "oracle-key.json"
    created = OracleKeyFile.create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert OracleKeyFile.load(path).current.public_key == created.current.public_key
    with pytest.raises(KeyFileError, match="exists; use `fedledger oracle key rotate`"):
        OracleKeyFile.create(path)


def test_rotation_keeps_the_previous_key_for_its_round_only(tmp_path: Path) -> None:
    first = OracleKeyFile.create(tmp_path / "k.json")
    second = first.rotated(current_round=3)
    assert second.current.public_key != first.current.public_key
    assert [p.public_key for p in second.usable_in(3)] == [
        second.current.public_key,
        first.current.public_key,
    ]
    assert [p.public_key for p in second.usable_in(4)] == [second.current.public_key]
    binding = Binding(1, "0x" + "11" * 20, 3, "0x" + "22" * 20)
    sealed = seal(b"made for the old key", binding, [first.current.public_key])
    assert open_envelope(sealed, binding, [p.private_key for p in second.usable_in(3)]) == (
        b"made for the old key"
    )
    third = second.rotated(current_round=5)  # the key retired in round 3 is dropped
    assert len(third.keys) == 2
    third.save()
    assert [p.retired_in_round for p in OracleKeyFile.load(third.path).keys] == [None, 5]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no encryption key file"),
        ("{", "cannot read the key file"),
        ('{"format": "other"}', "not a FedLedger oracle encryption key file"),
        ('{"format": "fedledger-oracle-encryption-keys", "version": 9}', "version 9"),
        ('{"format": "fedledger-oracle-encryption-keys", "version": 1, "keys": [{}]}', "damaged"),
    ],
)
def test_bad_key_files_say_what_to_do(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "k.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(KeyFileError, match=message):
        OracleKeyFile.load(path)


def test_a_tampered_public_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    OracleKeyFile.create(path)
    document = json.loads(path.read_text())
    document["keys"][0]["public_key"] = "0x" + "00" * 32
    path.write_text(json.dumps(document))
    with pytest.raises(KeyFileError, match="does not match its private key"):
        OracleKeyFile.load(path)
