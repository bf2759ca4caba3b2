"""CIDs computed in Python equal the daemon's, and the content-hash mapping is a bijection."""

from __future__ import annotations

import base64
import hashlib
import itertools

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedledger.storage import (
    Cid,
    CidBuilder,
    CidProfile,
    InvalidCid,
    cid_from_content_hash,
    compute_cid,
    content_hash_from_cid,
    content_hash_of_blob,
)
from fedledger.storage.cid import CHUNK_SIZE, DAG_PB, MAX_LINKS, RAW, matches
from tests.fixtures.ipfs import KuboDaemon
from tests.storage.support import blob, daemon_add

# The sizes the issue lists: below, at and just above one chunk, several chunks, and
# one leaf more than a single dag-pb node can link (a second tree level).
SIZES = {
    "1 B": 1,
    "1,000 B": 1_000,
    "one chunk": CHUNK_SIZE,
    "one chunk + 1": CHUNK_SIZE + 1,
    "1 MiB": 1024 * 1024,
    "5 MB": 5_000_000,
    "two levels": MAX_LINKS * CHUNK_SIZE + 1,
}
# Well-known CIDs Kubo gives (docs and countless examples): independent of our daemon.
HELLO = b"hello world\n"
HELLO_V0 = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
EMPTY_V0 = "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"
EMPTY_RAW = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"


@pytest.mark.parametrize("profile", list(CidProfile), ids=lambda profile: profile.value)
@pytest.mark.parametrize("size", list(SIZES.values()), ids=list(SIZES))
def test_cid_equals_the_daemons(ipfs_daemon: KuboDaemon, size: int, profile: CidProfile):
    data = blob(size)
    assert str(compute_cid(data, profile)) == daemon_add(ipfs_daemon, data, profile)


def test_empty_blob_cids_equal_the_daemons(ipfs_daemon: KuboDaemon):
    assert daemon_add(ipfs_daemon, b"", CidProfile.V0) == EMPTY_V0
    assert daemon_add(ipfs_daemon, b"", CidProfile.V1_RAW_LEAVES) == EMPTY_RAW
    assert str(compute_cid(b"", CidProfile.V0)) == EMPTY_V0
    assert str(compute_cid(b"", CidProfile.V1_RAW_LEAVES)) == EMPTY_RAW


def test_two_level_size_really_builds_two_levels(ipfs_daemon: KuboDaemon):
    # The root of 175 leaves links a full node of 174 leaves and a node holding the last
    # one; if it linked leaves directly, the test above would not cover the second level.
    cid = daemon_add(ipfs_daemon, blob(SIZES["two levels"]), CidProfile.V0)
    response = httpx.post(
        f"{ipfs_daemon.api_url}/api/v0/files/stat", params={"arg": f"/ipfs/{cid}"}, timeout=30
    )
    assert response.json()["Blocks"] == 2


def test_well_known_kubo_cids():
    assert str(compute_cid(HELLO)) == HELLO_V0
    assert str(compute_cid(b"")) == EMPTY_V0
    assert str(compute_cid(b"", CidProfile.V1_RAW_LEAVES)) == EMPTY_RAW


def test_one_chunk_raw_leaves_cid_is_the_raw_block_and_larger_is_dag_pb():
    one_chunk = compute_cid(blob(CHUNK_SIZE), CidProfile.V1_RAW_LEAVES)
    assert (one_chunk.codec, str(one_chunk)[:4]) == (RAW, "bafk")
    assert one_chunk.digest == hashlib.sha256(blob(CHUNK_SIZE)).digest()
    larger = compute_cid(blob(CHUNK_SIZE + 1), CidProfile.V1_RAW_LEAVES)
    assert (larger.codec, str(larger)[:4]) == (DAG_PB, "bafy")


@settings(max_examples=40, deadline=None)
@given(
    size=st.integers(min_value=0, max_value=3 * CHUNK_SIZE + 10),
    cuts=st.lists(st.integers(min_value=0, max_value=3 * CHUNK_SIZE + 10), max_size=6),
    profile=st.sampled_from(list(CidProfile)),
)
def test_builder_fed_in_pieces_equals_one_shot(size: int, cuts: list[int], profile: CidProfile):
    data = blob(size, seed=1)
    builder = CidBuilder(profile)
    bounds = sorted({0, size, *(cut for cut in cuts if cut < size)})
    for start, end in itertools.pairwise(bounds):
        builder.update(data[start:end])
    assert builder.finish() == compute_cid(data, profile)


@pytest.mark.parametrize("profile", list(CidProfile), ids=lambda profile: profile.value)
def test_parallel_leaf_hashing_gives_the_same_cid(profile: CidProfile):
    data = blob(40 * CHUNK_SIZE + 5, seed=2)  # enough chunks for four threads
    builders = [CidBuilder(profile, workers=workers) for workers in (1, 4)]
    for builder in builders:
        builder.update(data)
    assert builders[0].finish() == builders[1].finish() == compute_cid(data, profile)


def test_builder_refuses_use_after_finish():
    builder = CidBuilder()
    builder.finish()
    with pytest.raises(RuntimeError):
        builder.update(b"x")
    with pytest.raises(RuntimeError):
        builder.finish()


# -- the on-chain mapping -------------------------------------------------------------


def test_content_hash_is_the_digest_inside_the_cidv0_and_maps_back():
    digest = content_hash_from_cid(HELLO_V0)
    assert len(digest) == 32
    assert digest == content_hash_of_blob(HELLO)
    assert cid_from_content_hash(digest) == HELLO_V0


def test_content_hash_of_the_cidv1_form_is_the_same():
    v1 = str(Cid.parse(HELLO_V0).to_v1())
    assert v1.startswith("bafy")
    assert content_hash_from_cid(v1) == content_hash_from_cid(HELLO_V0)


@given(digest=st.binary(min_size=32, max_size=32))
def test_content_hash_mapping_is_a_bijection(digest: bytes):
    cid = cid_from_content_hash(digest)
    assert cid.startswith("Qm") and len(cid) == 46
    assert content_hash_from_cid(cid) == digest


def test_content_hash_refuses_a_raw_cid_with_advice():
    with pytest.raises(InvalidCid, match="no CIDv0 form"):
        content_hash_from_cid(EMPTY_RAW)


@pytest.mark.parametrize("digest", [b"", b"\x00" * 31, b"\x00" * 33])
def test_content_hash_must_be_32_bytes(digest: bytes):
    with pytest.raises(InvalidCid, match="32 bytes"):
        cid_from_content_hash(digest)


# -- parsing ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", [HELLO_V0, EMPTY_RAW, str(Cid.parse(HELLO_V0).to_v1())])
def test_parse_and_print_round_trip(text: str):
    assert str(Cid.parse(text)) == text


def test_base58_cidv1_as_js_ipfs_prints_it_without_cid_base():
    # `add?cid-version=1` without cid-base=base32 answers in base58btc (z...).
    assert Cid.parse("zb2rhi36Gc9GJWijLEL6zW45MBux5FcFv5gJmjXA7VAMozEXY") == compute_cid(
        HELLO, CidProfile.V1_RAW_LEAVES
    )


def _cidv1_text(codec: int, multihash: bytes) -> str:
    raw = bytes([1, codec]) + multihash
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("", "not a CID"),
        ("hello", "not a CID"),
        ("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff50", "not a base58btc character"),
        ("b!!!!", "not valid base32"),
        (_cidv1_text(DAG_PB, b"\x00\x04abcd"), "multihash 0x0;"),  # identity
        (_cidv1_text(DAG_PB, b"\xa0\xe4\x02\x20" + bytes(32)), "multihash 0xb220"),  # blake2b
        (_cidv1_text(0x71, b"\x12\x20" + bytes(32)), "codec 0x71"),  # dag-cbor
        (_cidv1_text(DAG_PB, b"\x12\x20" + bytes(31)), "truncated"),
    ],
)
def test_parse_rejects_what_is_not_a_supported_cid(text: str, complaint: str):
    with pytest.raises(InvalidCid, match=complaint):
        Cid.parse(text)


def test_invalid_cid_is_a_value_error():
    assert issubclass(InvalidCid, ValueError)


# -- verification -----------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1_000, CHUNK_SIZE + 1])
def test_matches_accepts_every_cid_of_the_blob_and_nothing_else(size: int):
    data = blob(size)
    v0 = compute_cid(data, CidProfile.V0)
    raw_leaves = compute_cid(data, CidProfile.V1_RAW_LEAVES)
    for cid in (v0, v0.to_v1(), raw_leaves):
        assert matches(cid, data)
        assert not matches(cid, data + b"!")
