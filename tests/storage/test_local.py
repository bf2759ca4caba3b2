"""The embedded store: round trips, atomic writes, verification on read, size cap."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fedledger.storage import (
    BlobCorrupted,
    BlobNotFound,
    BlobStore,
    BlobTooLarge,
    Cid,
    CidProfile,
    LocalStore,
    StoreUnavailable,
    compute_cid,
)
from fedledger.storage.cid import CHUNK_SIZE
from tests.storage.support import blob

SIZES = [0, 1, 1_000, CHUNK_SIZE + 1, 3 * 1024 * 1024]


def test_is_a_blob_store(local_store: LocalStore):
    assert isinstance(local_store, BlobStore)


@pytest.mark.parametrize("size", SIZES)
def test_round_trip_returns_the_cidv0_and_the_bytes(local_store: LocalStore, size: int):
    data = blob(size)
    cid = local_store.put(data)
    assert cid == str(compute_cid(data, CidProfile.V0))
    assert local_store.get(cid) == data
    assert local_store.has(cid)


@pytest.mark.parametrize("size", [1_000, CHUNK_SIZE + 1])
def test_every_cid_of_the_blob_finds_it(local_store: LocalStore, size: int):
    data = blob(size)
    cid = Cid.parse(local_store.put(data))
    for other in (cid.to_v1(), compute_cid(data, CidProfile.V1_RAW_LEAVES)):
        assert local_store.get(str(other)) == data


def test_v1_profile_store_returns_raw_leaves_cids(local_store: LocalStore):
    store = LocalStore(local_store.root, max_blob_bytes=1 << 20, profile=CidProfile.V1_RAW_LEAVES)
    data = blob(1_000)
    assert store.put(data) == str(compute_cid(data, CidProfile.V1_RAW_LEAVES))
    assert local_store.get(str(compute_cid(data))) == data  # its CIDv0 finds it too


def test_put_is_idempotent(local_store: LocalStore):
    data = blob(2_000)
    assert local_store.put(data) == local_store.put(data)
    assert local_store.get(local_store.put(data)) == data


def test_missing_blob_is_not_found(local_store: LocalStore):
    missing = str(compute_cid(b"never stored"))
    assert not local_store.has(missing)
    with pytest.raises(BlobNotFound, match="not in the local store") as error:
        local_store.get(missing)
    assert error.value.cid == missing
    with pytest.raises(BlobNotFound):
        local_store.pin(missing)


def test_pin_of_a_present_blob_succeeds(local_store: LocalStore):
    cid = local_store.put(b"keep me")
    local_store.pin(cid)
    assert local_store.get(cid) == b"keep me"


@pytest.mark.parametrize("size", [1_000, CHUNK_SIZE + 1])
def test_tampered_file_is_detected_not_returned(local_store: LocalStore, size: int):
    data = blob(size)
    cid = local_store.put(data)
    path = local_store.path_for(Cid.parse(cid))
    tampered = bytearray(path.read_bytes())
    tampered[size // 2] ^= 0x01
    path.write_bytes(bytes(tampered))
    with pytest.raises(BlobCorrupted, match="hash mismatch") as error:
        local_store.get(cid)
    assert error.value.cid == cid
    # The raw-leaves name is a hard link to the same file: also caught.
    with pytest.raises(BlobCorrupted):
        local_store.get(str(compute_cid(data, CidProfile.V1_RAW_LEAVES)))


def test_truncated_file_is_detected(local_store: LocalStore):
    cid = local_store.put(blob(5_000))
    path = local_store.path_for(Cid.parse(cid))
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(BlobCorrupted):
        local_store.get(cid)


def test_put_again_repairs_a_damaged_blob(local_store: LocalStore):
    data = blob(5_000)
    cid = local_store.put(data)
    local_store.path_for(Cid.parse(cid)).write_bytes(b"garbage")
    local_store.put(data)
    assert local_store.get(cid) == data


def test_get_over_the_cap_fails_without_reading(local_store: LocalStore):
    cid = local_store.put(blob(10_000))
    with pytest.raises(BlobTooLarge, match="10,000 bytes, over the 9,999-byte cap") as error:
        local_store.get(cid, max_bytes=9_999)
    assert error.value.limit == 9_999
    assert local_store.get(cid, max_bytes=10_000) == blob(10_000)


def test_a_huge_file_under_a_cid_is_refused_before_reading(local_store: LocalStore):
    # A sparse 64 GiB file: reading it would exhaust memory, so only a size check
    # before the read lets this test pass.
    cid = compute_cid(b"hostile")
    path = local_store.path_for(cid)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as sparse:
        sparse.truncate(64 << 30)
    with pytest.raises(BlobTooLarge):
        local_store.get(str(cid))


def test_default_cap_is_the_stores(local_store: LocalStore):
    store = LocalStore(local_store.root, max_blob_bytes=100)
    cid = local_store.put(blob(101))
    with pytest.raises(BlobTooLarge):
        store.get(cid)
    with pytest.raises(BlobTooLarge, match="over the 100-byte cap"):
        store.put(blob(101))
    assert not any(local_store.root.rglob(".*.tmp"))


def test_files_are_named_by_digest_and_no_temporaries_remain(local_store: LocalStore):
    data = blob(CHUNK_SIZE + 1)
    cid = Cid.parse(local_store.put(data))
    raw_leaves = compute_cid(data, CidProfile.V1_RAW_LEAVES)
    files = sorted(path for path in local_store.root.rglob("*") if path.is_file())
    assert files == sorted(local_store.path_for(c) for c in (cid, raw_leaves))
    assert files[0].name in (cid.digest.hex(), raw_leaves.digest.hex())
    assert files[0].parent.name == files[0].name[:2]
    assert os.path.samefile(local_store.path_for(cid), local_store.path_for(raw_leaves))


def test_a_failed_write_leaves_no_blob_and_no_temporary(
    local_store: LocalStore, monkeypatch: pytest.MonkeyPatch
):
    # A crash between writing and renaming must leave nothing a reader could mistake
    # for the blob: inject the failure at the fsync before the rename.
    def failing_fsync(descriptor: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    data = blob(1_000)
    with pytest.raises(StoreUnavailable, match="Input/output error"):
        local_store.put(data)
    monkeypatch.undo()
    assert not local_store.has(str(compute_cid(data)))
    assert [p for p in local_store.root.rglob("*") if p.is_file()] == []


def test_unwritable_root_is_a_clear_error(tmp_path: Path):
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    store = LocalStore(not_a_directory, max_blob_bytes=1 << 20)
    with pytest.raises(StoreUnavailable, match="cannot write to the local store"):
        store.put(b"data")
