"""The IPFS backend against a real Kubo daemon (tests/fixtures/ipfs.py)."""

from __future__ import annotations

import base64
import time

import httpx
import pytest

from fedledger.chain.anvil import free_port
from fedledger.storage import (
    BlobCorrupted,
    BlobNotFound,
    BlobStore,
    BlobTooLarge,
    Cid,
    CidProfile,
    IpfsStore,
    StoreUnavailable,
    compute_cid,
)
from fedledger.storage.cid import CHUNK_SIZE
from fedledger.storage.ipfs import CLIENT_GRACE_SECONDS
from tests.fixtures.ipfs import KuboDaemon
from tests.storage.support import SHORT_TIMEOUT, blob, daemon_add

BUSY_MACHINE_SLACK = 2.0
NEVER_ADDED = str(compute_cid(b"no daemon has ever seen these bytes"))


def test_is_a_blob_store(ipfs_store: IpfsStore):
    assert isinstance(ipfs_store, BlobStore)


def test_version_answers(ipfs_store: IpfsStore):
    assert ipfs_store.version() == "0.43.1"


@pytest.mark.parametrize("size", [0, 1_000, CHUNK_SIZE + 1, 3 * 1024 * 1024])
def test_round_trip_returns_the_cidv0_and_the_bytes(ipfs_store: IpfsStore, size: int):
    data = blob(size, seed=2)
    cid = ipfs_store.put(data)
    assert cid == str(compute_cid(data, CidProfile.V0))
    assert ipfs_store.get(cid) == data
    assert ipfs_store.get(str(Cid.parse(cid).to_v1())) == data  # same DAG, CIDv1 form
    assert ipfs_store.has(cid)


@pytest.mark.parametrize("size", [1_000, CHUNK_SIZE + 1])
def test_raw_leaves_profile_round_trip(ipfs_raw_leaves_store: IpfsStore, size: int):
    data = blob(size, seed=3)
    cid = ipfs_raw_leaves_store.put(data)
    assert cid == str(compute_cid(data, CidProfile.V1_RAW_LEAVES))
    assert cid.startswith("bafk" if size <= CHUNK_SIZE else "bafy")
    assert ipfs_raw_leaves_store.get(cid) == data


def test_put_pins(ipfs_store: IpfsStore):
    cid = ipfs_store.put(blob(2_000, seed=4))
    pins = httpx.post(
        f"{ipfs_store.api_url}/api/v0/pin/ls", params={"arg": cid, "type": "recursive"}
    )
    assert pins.status_code == 200, pins.text


def test_pin_of_a_blob_added_unpinned(ipfs_daemon: KuboDaemon, ipfs_store: IpfsStore):
    added = daemon_add(ipfs_daemon, blob(3_000, seed=5))
    pin_ls = f"{ipfs_store.api_url}/api/v0/pin/ls"
    assert httpx.post(pin_ls, params={"arg": added}).status_code == 500  # not pinned yet
    ipfs_store.pin(added)
    assert httpx.post(pin_ls, params={"arg": added}).status_code == 200


def test_missing_blob_fails_within_the_timeout(ipfs_store: IpfsStore):
    started = time.monotonic()
    with pytest.raises(BlobNotFound) as error:
        ipfs_store.get(NEVER_ADDED, timeout=1.0)
    elapsed = time.monotonic() - started
    assert error.value.cid == NEVER_ADDED
    # Bounded: the daemon's own timeout, at worst our client-side one (plus slack for a
    # busy machine; a hang would blow through it).
    assert elapsed < 1.0 + CLIENT_GRACE_SECONDS + BUSY_MACHINE_SLACK, elapsed


def test_missing_blob_uses_the_stores_timeout_by_default(ipfs_store: IpfsStore):
    started = time.monotonic()
    with pytest.raises(BlobNotFound, match="not available"):
        ipfs_store.get(NEVER_ADDED)
    assert time.monotonic() - started < SHORT_TIMEOUT + CLIENT_GRACE_SECONDS + BUSY_MACHINE_SLACK


def test_has_and_pin_of_a_missing_blob(ipfs_store: IpfsStore):
    assert not ipfs_store.has(NEVER_ADDED)
    with pytest.raises(BlobNotFound):
        ipfs_store.pin(NEVER_ADDED)


def test_get_over_the_cap_is_refused_before_download(ipfs_store: IpfsStore):
    data = blob(CHUNK_SIZE * 3, seed=6)
    cid = ipfs_store.put(data)
    with pytest.raises(BlobTooLarge, match="786,432 bytes, over the 786,431-byte cap") as error:
        ipfs_store.get(cid, max_bytes=len(data) - 1)
    assert error.value.limit == len(data) - 1
    assert ipfs_store.get(cid, max_bytes=len(data)) == data


def test_stream_cap_holds_even_if_the_announced_size_lies(ipfs_store: IpfsStore):
    # The size check uses what the root block claims; the streaming cap is the second
    # line of defence against a root that understates it. Exercise it directly.
    cid = Cid.parse(ipfs_store.put(blob(CHUNK_SIZE * 2, seed=7)))
    with pytest.raises(BlobTooLarge, match="more than 1,000 bytes"):
        ipfs_store._cat(cid, limit=1_000, deadline=time.monotonic() + SHORT_TIMEOUT)


def test_put_over_the_cap_is_refused(ipfs_daemon: KuboDaemon):
    with (
        IpfsStore(ipfs_daemon.api_url, max_blob_bytes=100, timeout_seconds=SHORT_TIMEOUT) as store,
        pytest.raises(BlobTooLarge, match="over the 100-byte cap"),
    ):
        store.put(blob(101))


def test_tampered_block_in_the_daemon_is_detected(
    ipfs_daemon: KuboDaemon, ipfs_raw_leaves_store: IpfsStore
):
    # The daemon serves whatever its blockstore holds; only our check stands between a
    # damaged block and the caller. Kubo (flatfs) files each block under the base32 of its
    # multihash, so flip a byte in the blob's (raw) block on disk.
    cid = ipfs_raw_leaves_store.put(blob(1_500, seed=8))
    key = base64.b32encode(Cid.parse(cid).multihash).decode().rstrip("=")
    (block,) = (ipfs_daemon.repo / "blocks").rglob(f"{key}.data")
    damaged = bytearray(block.read_bytes())
    damaged[100] ^= 0x01
    block.write_bytes(bytes(damaged))
    with pytest.raises(BlobCorrupted, match="hash mismatch") as error:
        ipfs_raw_leaves_store.get(cid)
    assert error.value.cid == cid


def test_daemon_down_is_a_clear_error():
    url = f"http://127.0.0.1:{free_port()}"
    with IpfsStore(url, max_blob_bytes=1 << 20, timeout_seconds=SHORT_TIMEOUT) as store:
        for operation in (
            store.version,
            lambda: store.put(b"data"),
            lambda: store.get(NEVER_ADDED),
            lambda: store.pin(NEVER_ADDED),
            lambda: store.has(NEVER_ADDED),
        ):
            with pytest.raises(StoreUnavailable, match=f"no IPFS daemon answers at {url}"):
                operation()


def test_wrong_endpoint_is_a_clear_error(ipfs_store: IpfsStore):
    cid = ipfs_store.put(b"x")
    # An HTTP server that is not the RPC API under this path answers 404.
    with (
        IpfsStore(
            f"{ipfs_store.api_url}/not-the-api",
            max_blob_bytes=100,
            timeout_seconds=SHORT_TIMEOUT,
        ) as store,
        pytest.raises(StoreUnavailable, match="not a Kubo RPC API endpoint"),
    ):
        store.get(cid)
