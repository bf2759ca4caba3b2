"""OracleKeyRegistry on a real anvil: register, rotate, read the live oracles' keys."""

from __future__ import annotations

import pytest

from fedledger.chain.errors import (
    EmptyEncryptionKey,
    EncryptionKeyRotatedThisRound,
    EncryptionKeyUnchanged,
    NotOracle,
)
from fedledger.chain.events import EncryptionKeyRegistered
from fedledger.crypto import generate_key_pair
from tests.fixtures.chain import TEST_ROUND_RULES, Testbed, TestbedFactory

ZERO = bytes(32)


def fresh_key() -> bytes:
    return generate_key_pair().public_key


def next_round(bed: Testbed) -> None:
    bed.dev.increase_time(TEST_ROUND_RULES.duration + 1)
    bed.admin.coordinator.close_round()  # no accepted update: skipped, the next round opens


def test_an_oracle_registers_its_key_and_participants_read_it(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    oracle = bed.oracles[1]
    key = fresh_key()
    result = oracle.coordinator.register_encryption_key(key)
    event = result.event(EncryptionKeyRegistered)
    assert (event.oracle, event.public_key, event.previous_key, event.round) == (
        oracle.address,
        key,
        ZERO,
        1,
    )
    info = bed.outsider.coordinator.encryption_key_of(oracle.address)
    assert (info.current, info.previous, info.rotated_in_round) == (key, ZERO, 0)
    assert info.registered_at_block == result.block_number
    assert info.valid_keys(1) == (key,)
    assert bed.outsider.coordinator.encryption_keys() == {
        bed.oracles[0].address: ZERO,
        oracle.address: key,
        bed.oracles[2].address: ZERO,
    }


def test_rotation_keeps_the_previous_key_valid_for_its_round(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    oracle = bed.oracles[0]
    first, second, third = fresh_key(), fresh_key(), fresh_key()
    oracle.coordinator.register_encryption_key(first)  # round 1: a first registration
    event = oracle.coordinator.register_encryption_key(second).event(EncryptionKeyRegistered)
    assert (event.public_key, event.previous_key, event.round) == (second, first, 1)
    info = oracle.coordinator.encryption_key_of(oracle.address)
    assert (info.current, info.previous, info.rotated_in_round) == (second, first, 1)
    assert info.valid_keys(1) == (second, first)
    assert info.valid_keys(2) == (second,)
    with pytest.raises(EncryptionKeyRotatedThisRound) as raised:
        oracle.coordinator.register_encryption_key(third)
    assert raised.value.arguments == {"oracle": oracle.address, "round": 1}
    next_round(bed)
    oracle.coordinator.register_encryption_key(third)
    info = oracle.coordinator.encryption_key_of(oracle.address)
    assert (info.current, info.previous, info.rotated_in_round) == (third, second, 2)


def test_before_training_an_oracle_rotates_freely(chain_testbed_factory: TestbedFactory) -> None:
    bed = chain_testbed_factory(oracles=1, start=False)
    coordinator = bed.oracles[0].coordinator
    keys = [fresh_key() for _ in range(3)]
    for key in keys:
        coordinator.register_encryption_key(key)
    info = coordinator.encryption_key_of(bed.oracles[0].address)
    assert (info.current, info.previous, info.rotated_in_round) == (keys[2], keys[1], 0)


def test_only_registered_oracles_register_keys(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    with pytest.raises(NotOracle) as raised:
        bed.participants[0].coordinator.register_encryption_key(fresh_key())
    assert raised.value.arguments == {"account": bed.participants[0].address}
    with pytest.raises(NotOracle):
        bed.outsider.coordinator.register_encryption_key(fresh_key())


def test_the_zero_key_and_an_unchanged_key_are_refused(chain_testbed: Testbed) -> None:
    coordinator = chain_testbed.oracles[0].coordinator
    with pytest.raises(EmptyEncryptionKey):
        coordinator.register_encryption_key(ZERO)
    key = fresh_key()
    coordinator.register_encryption_key(key)
    with pytest.raises(EncryptionKeyUnchanged) as raised:
        coordinator.register_encryption_key(key)
    assert raised.value.arguments["public_key"] == key


def test_a_removed_oracle_drops_out_of_the_live_keys(chain_testbed: Testbed) -> None:
    bed = chain_testbed
    removed = bed.oracles[2]
    key = fresh_key()
    removed.coordinator.register_encryption_key(key)
    bed.admin.coordinator.remove_oracle(removed.address, 2)
    assert removed.address not in bed.outsider.coordinator.encryption_keys()
    assert bed.outsider.coordinator.encryption_key_of(removed.address).current == key
    with pytest.raises(NotOracle):
        removed.coordinator.register_encryption_key(fresh_key())
