"""The envelope: readable by its recipients only, bound to chain, coordinator, round, author."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest

from fedledger.crypto import (
    ENVELOPE_MAGIC,
    Binding,
    MalformedEnvelope,
    NotARecipient,
    NotAuthentic,
    generate_key_pair,
    open_envelope,
    parse_envelope,
    seal,
)
from fedledger.crypto.envelope import NONCE_BYTES, STANZA_BYTES, TAG_BYTES

ALICE = "0x" + "a1" * 20
BOB = "0x" + "b2" * 20
COORDINATOR = "0x" + "c3" * 20
BINDING = Binding(chain_id=31337, coordinator=COORDINATOR, round=4, participant=ALICE)


@pytest.fixture(scope="module")
def oracles():
    return [generate_key_pair() for _ in range(3)]


def test_every_recipient_reads_the_plaintext(oracles) -> None:
    plaintext = os.urandom(10_000)
    sealed = seal(plaintext, BINDING, [pair.public_key for pair in oracles])
    assert bytes(sealed[:4]) == ENVELOPE_MAGIC
    assert len(sealed) == 7 + 32 + 3 * STANZA_BYTES + NONCE_BYTES + len(plaintext) + TAG_BYTES
    for pair in oracles:
        assert open_envelope(bytes(sealed), BINDING, [pair.private_key]) == plaintext
    assert plaintext not in bytes(sealed)


def test_two_seals_of_one_plaintext_share_nothing(oracles) -> None:
    keys = [pair.public_key for pair in oracles]
    first, second = seal(b"same update", BINDING, keys), seal(b"same update", BINDING, keys)
    assert parse_envelope(first).ephemeral_key != parse_envelope(second).ephemeral_key
    assert parse_envelope(first).ciphertext != parse_envelope(second).ciphertext


@pytest.mark.parametrize(
    "other",
    [
        replace(BINDING, participant=BOB),
        replace(BINDING, round=5),
        replace(BINDING, coordinator="0x" + "c4" * 20),
        replace(BINDING, chain_id=1),
    ],
    ids=["other-author", "other-round", "other-coordinator", "other-chain"],
)
def test_a_copy_under_any_other_binding_fails_to_authenticate(oracles, other: Binding) -> None:
    sealed = seal(b"alice's update", BINDING, [oracles[0].public_key])
    with pytest.raises(NotAuthentic, match="does not authenticate"):
        open_envelope(sealed, other, [oracles[0].private_key])


def test_a_non_recipient_is_told_so(oracles) -> None:
    sealed = seal(b"x", BINDING, [oracles[0].public_key])
    with pytest.raises(NotARecipient, match=r"sealed for 1 key\(s\)"):
        open_envelope(sealed, BINDING, [oracles[1].private_key])


@pytest.mark.parametrize("where", ["ephemeral", "stanza-key", "wrapped", "nonce", "body"])
def test_any_altered_byte_fails_to_authenticate(oracles, where: str) -> None:
    sealed = bytearray(seal(b"weights" * 100, BINDING, [p.public_key for p in oracles[:2]]))
    offset = {
        "ephemeral": 7,
        "stanza-key": 39 + STANZA_BYTES,
        "wrapped": 39 + 40,
        "nonce": 39 + 2 * STANZA_BYTES,
        "body": len(sealed) - 30,
    }[where]
    sealed[offset] ^= 1
    # Flipping the second stanza's key makes the first recipient's header check fail.
    with pytest.raises(NotAuthentic):
        open_envelope(bytes(sealed), BINDING, [oracles[0].private_key])


def test_a_dropped_stanza_fails_to_authenticate(oracles) -> None:
    sealed = bytes(seal(b"w", BINDING, [p.public_key for p in oracles[:2]]))
    stripped = (
        sealed[:6] + b"\x01" + sealed[7 : 39 + STANZA_BYTES] + sealed[39 + 2 * STANZA_BYTES :]
    )
    assert len(parse_envelope(stripped).recipients) == 1
    with pytest.raises(NotAuthentic):
        open_envelope(stripped, BINDING, [oracles[0].private_key])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"FLEV", "too short"),
        (b"FLW1" + bytes(100), "bad magic"),
        (b"FLEV\x02\x01\x01" + bytes(200), "version 2"),
        (b"FLEV\x01\x09\x01" + bytes(200), "cipher suite 9"),
        (b"FLEV\x01\x01\x00" + bytes(200), "0 recipients"),
        (b"FLEV\x01\x01\x41" + bytes(200), "65 recipients"),
        (b"FLEV\x01\x01\x01" + bytes(100), "truncated"),
    ],
)
def test_malformed_envelopes_say_what_is_wrong(oracles, data: bytes, message: str) -> None:
    with pytest.raises(MalformedEnvelope, match=message):
        open_envelope(data, BINDING, [oracles[0].private_key])


def test_seal_refuses_bad_recipient_lists(oracles) -> None:
    with pytest.raises(ValueError, match="1 to 64 recipients, got 0"):
        seal(b"x", BINDING, [])
    with pytest.raises(ValueError, match="32 bytes, got 31"):
        seal(b"x", BINDING, [bytes(31)])
    with pytest.raises(ValueError, match="20-byte address"):
        seal(b"x", replace(BINDING, participant="0x1234"), [oracles[0].public_key])
    sealed = seal(b"x", BINDING, [oracles[0].public_key, oracles[0].public_key])
    assert len(parse_envelope(sealed).recipients) == 1  # duplicates collapse


# ---- convergent sealing (global models under a non-public policy) --------------------


def test_convergent_sealing_is_deterministic_and_checkable_with_the_plaintext() -> None:
    from fedledger.crypto import (
        GlobalModelBinding,
        matches_convergent,
        seal_convergent,
        seal_global_model,
    )

    pairs = [generate_key_pair() for _ in range(3)]
    keys = [pair.public_key for pair in pairs]
    binding = GlobalModelBinding(31337, "0x" + "11" * 20)
    blob = os.urandom(50_000)
    sealed = seal_convergent(blob, binding, keys)
    # Every oracle gets the same bytes, whatever order it lists the keys in.
    assert seal_convergent(blob, binding, list(reversed(keys))) == sealed
    assert seal_global_model(blob, 31337, "0x" + "11" * 20, keys) == bytes(sealed)
    assert seal_global_model(blob, 31337, "0x" + "11" * 20, None) == blob  # public policy
    assert blob not in bytes(sealed)
    for pair in pairs:
        assert open_envelope(sealed, binding, [pair.private_key]) == blob
    assert matches_convergent(bytes(sealed), blob, binding)
    other = bytearray(blob)
    other[0] ^= 1
    assert not matches_convergent(bytes(sealed), bytes(other), binding)
    assert not matches_convergent(bytes(sealed), blob, GlobalModelBinding(1, "0x" + "11" * 20))
    # Another binding or another plaintext gives unrelated bytes.
    assert seal_convergent(blob, GlobalModelBinding(1, "0x" + "11" * 20), keys) != sealed
    with pytest.raises(NotARecipient):
        open_envelope(sealed, binding, [generate_key_pair().private_key])
