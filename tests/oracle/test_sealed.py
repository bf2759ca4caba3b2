"""Opening a sealed update: each way it can fail gets its own vote, or no vote at all."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from fedledger.chain import EncryptionKeyInfo, ReasonCode
from fedledger.crypto import OracleKeyFile, generate_key_pair, seal
from oracle.inspection import Decision
from oracle.sealed import CannotOpen, Submitted, open_update

ORACLE = "0x" + "0a" * 20
SUBMITTED = Submitted(
    chain_id=31337,
    coordinator="0x" + "c0" * 20,
    round=3,
    participant="0x" + "a1" * 20,
    block_number=100,
)
ZERO = bytes(32)


@pytest.fixture
def key_file(tmp_path: Path) -> OracleKeyFile:
    return OracleKeyFile.create(tmp_path / "oracle.json")


def on_chain(current: bytes, previous: bytes = ZERO, rotated: int = 0, block: int = 50):
    return EncryptionKeyInfo(ORACLE, current, previous, rotated, block)


def test_an_update_sealed_for_this_oracle_opens(key_file: OracleKeyFile) -> None:
    sealed = seal(b"weights", SUBMITTED.binding, [key_file.current.public_key])
    assert open_update(
        bytes(sealed), SUBMITTED, key_file, on_chain(key_file.current.public_key)
    ) == (b"weights")


def test_a_copy_submitted_by_another_address_is_not_authentic(key_file: OracleKeyFile) -> None:
    sealed = seal(b"weights", SUBMITTED.binding, [key_file.current.public_key])
    copied = replace(SUBMITTED, participant="0x" + "b2" * 20)
    decision = open_update(bytes(sealed), copied, key_file, on_chain(key_file.current.public_key))
    assert isinstance(decision, Decision)
    assert (decision.accept, decision.reason, decision.check) == (
        False,
        ReasonCode.NOT_AUTHENTIC,
        "not-authentic",
    )
    replayed = replace(SUBMITTED, round=4)
    decision = open_update(bytes(sealed), replayed, key_file, on_chain(key_file.current.public_key))
    assert isinstance(decision, Decision) and decision.reason == ReasonCode.NOT_AUTHENTIC


def test_a_plain_blob_is_malformed(key_file: OracleKeyFile) -> None:
    decision = open_update(
        b"MLW1 plain weights", SUBMITTED, key_file, on_chain(key_file.current.public_key)
    )
    assert isinstance(decision, Decision)
    assert (decision.reason, decision.check) == (ReasonCode.MALFORMED, "not-sealed")


def test_sealed_for_other_keys_only_is_not_a_recipient(key_file: OracleKeyFile) -> None:
    sealed = seal(b"w", SUBMITTED.binding, [generate_key_pair().public_key])
    decision = open_update(
        bytes(sealed), SUBMITTED, key_file, on_chain(key_file.current.public_key)
    )
    assert isinstance(decision, Decision) and decision.reason == ReasonCode.NOT_A_RECIPIENT


def test_the_previous_key_opens_updates_of_its_rotation_round_only(
    key_file: OracleKeyFile,
) -> None:
    old = key_file.current.public_key
    sealed = bytes(seal(b"w", SUBMITTED.binding, [old]))
    rotated = key_file.rotated(current_round=3)
    record = on_chain(rotated.current.public_key, previous=old, rotated=3)
    assert open_update(sealed, SUBMITTED, rotated, record) == b"w"
    # Sealed for the old key in round 4: the chain no longer lists it for that round.
    later = replace(SUBMITTED, round=4)
    sealed_later = bytes(seal(b"w", later.binding, [old]))
    decision = open_update(sealed_later, later, rotated, record)
    assert isinstance(decision, Decision) and decision.reason == ReasonCode.NOT_A_RECIPIENT


def test_an_oracle_without_a_key_on_chain_abstains(key_file: OracleKeyFile) -> None:
    sealed = bytes(seal(b"w", SUBMITTED.binding, [generate_key_pair().public_key]))
    with pytest.raises(CannotOpen, match="fedledger oracle key register") as raised:
        open_update(sealed, SUBMITTED, key_file, on_chain(ZERO))
    assert raised.value.level == "warning"


def test_a_first_key_registered_after_the_submission_abstains(key_file: OracleKeyFile) -> None:
    sealed = bytes(seal(b"w", SUBMITTED.binding, [generate_key_pair().public_key]))
    with pytest.raises(CannotOpen, match="before this oracle registered"):
        open_update(sealed, SUBMITTED, key_file, on_chain(key_file.current.public_key, block=101))


def test_a_key_file_without_the_registered_key_is_the_operators_error(
    key_file: OracleKeyFile, tmp_path: Path
) -> None:
    other = OracleKeyFile.create(tmp_path / "other.json")
    sealed = bytes(seal(b"w", SUBMITTED.binding, [other.current.public_key]))
    with pytest.raises(CannotOpen, match="does not hold its private half") as raised:
        open_update(sealed, SUBMITTED, key_file, on_chain(other.current.public_key))
    assert raised.value.level == "error"
