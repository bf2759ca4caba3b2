"""IPFS CIDs of blobs, computed exactly as ``ipfs add`` does, and the on-chain content hash.

This module is the one place that knows how bytes become a CID and how a CID becomes the
``bytes32 contentHash`` the contract stores (docs/storage.md, docs/architecture.md).

A blob is cut into 256 KiB chunks. One chunk is the whole DAG; more chunks become the
leaves of a balanced UnixFS tree of dag-pb nodes with at most 174 links each, which is
what Kubo and js-ipfs build by default. Two profiles are supported:

- :attr:`CidProfile.V0` -- ``ipfs add``: leaves are dag-pb UnixFS ``File`` nodes, CIDv0
  (``Qm...``). This is FedLedger's profile: the root is always dag-pb, so its sha2-256
  digest alone (the content hash) names the blob.
- :attr:`CidProfile.V1_RAW_LEAVES` -- ``ipfs add --cid-version=1 --raw-leaves``: leaves
  are raw blocks, CIDv1 in base32 (``bafk...`` for one chunk, ``bafy...`` above).

Only what those two profiles need is implemented: sha2-256 multihashes, the ``dag-pb``
and ``raw`` codecs, and the base58btc / base32 multibase encodings.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from fedledger.storage.errors import InvalidCid

#: Chunk size of Kubo's default chunker (``size-262144``).
CHUNK_SIZE = 256 * 1024
#: Links per dag-pb node of Kubo's balanced layout (``helpers.DefaultLinksPerBlock``).
MAX_LINKS = 174
# Below this many chunks (2 MiB) per thread, starting threads costs more than it saves.
_MIN_CHUNKS_PER_WORKER = 8

DAG_PB = 0x70
RAW = 0x55
SHA2_256 = 0x12
DIGEST_SIZE = 32
_MULTIHASH_PREFIX = bytes([SHA2_256, DIGEST_SIZE])
_UNIXFS_FILE = 2

_BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BASE58_INDEX = {char: value for value, char in enumerate(_BASE58_ALPHABET)}


class CidProfile(enum.Enum):
    """How ``ipfs add`` turns bytes into a DAG; named after the flags that select it."""

    #: ``ipfs add``: CIDv0, dag-pb leaves. The profile whose digest goes on chain.
    V0 = "v0"
    #: ``ipfs add --cid-version=1 --raw-leaves``: CIDv1 (base32), raw leaves.
    V1_RAW_LEAVES = "v1-raw-leaves"


@dataclass(frozen=True)
class Cid:
    """A parsed CID: version, codec (``DAG_PB`` or ``RAW``) and sha2-256 digest.

    ``str(cid)`` is the canonical text: base58btc for CIDv0, base32 for CIDv1, as the
    daemon prints them. Equal DAGs written as CIDv0 and CIDv1 differ only in ``version``.
    """

    version: int
    codec: int
    digest: bytes

    def __post_init__(self) -> None:
        if self.version not in (0, 1):
            raise InvalidCid(f"CID version {self.version} does not exist (0 or 1)")
        if self.codec not in (DAG_PB, RAW):
            raise InvalidCid(
                f"CID codec 0x{self.codec:x} is not supported: FedLedger blobs are "
                "dag-pb (0x70) or raw (0x55)"
            )
        if self.version == 0 and self.codec != DAG_PB:
            raise InvalidCid("a CIDv0 is always dag-pb")
        if len(self.digest) != DIGEST_SIZE:
            raise InvalidCid(f"a sha2-256 digest is 32 bytes, got {len(self.digest)}")

    @classmethod
    def parse(cls, text: str) -> Cid:
        """Parse a CIDv0 (``Qm...``) or a CIDv1 in base32 (``b...``) or base58btc (``z...``)."""
        if not isinstance(text, str) or not text:
            raise InvalidCid(f"{text!r} is not a CID")
        if len(text) == 46 and text.startswith("Qm"):
            multihash = _decode_base58(text)
            return cls(0, DAG_PB, _parse_multihash(multihash, text))
        if text[0] == "b":
            return cls._parse_v1(_decode_base32(text[1:], text), text)
        if text[0] == "z":
            return cls._parse_v1(_decode_base58(text[1:]), text)
        raise InvalidCid(
            f"{text!r} is not a CID: expected a CIDv0 (Qm..., 46 characters) or a CIDv1 "
            "in base32 (b...)"
        )

    @classmethod
    def _parse_v1(cls, raw: bytes, text: str) -> Cid:
        version, offset = _decode_varint(raw, 0, text)
        codec, offset = _decode_varint(raw, offset, text)
        if version != 1:
            raise InvalidCid(f"{text!r}: multibase CIDs must be CIDv1, got version {version}")
        return cls(1, codec, _parse_multihash(raw[offset:], text))

    @property
    def multihash(self) -> bytes:
        return _MULTIHASH_PREFIX + self.digest

    def to_bytes(self) -> bytes:
        """The binary CID, as dag-pb links hold it."""
        if self.version == 0:
            return self.multihash
        return _encode_varint(1) + _encode_varint(self.codec) + self.multihash

    def to_v0(self) -> Cid:
        if self.codec != DAG_PB:
            raise InvalidCid(
                f"{self} names a raw block, which has no CIDv0 form; put the blob with the "
                "CIDv0 profile (the default) to get a content hash for it"
            )
        return Cid(0, DAG_PB, self.digest)

    def to_v1(self) -> Cid:
        return Cid(1, self.codec, self.digest)

    def same_dag(self, other: Cid) -> bool:
        """True if both name the same block (a CIDv0 and its CIDv1 form do)."""
        return self.codec == other.codec and self.digest == other.digest

    def __str__(self) -> str:
        if self.version == 0:
            return _encode_base58(self.multihash)
        return "b" + base64.b32encode(self.to_bytes()).decode("ascii").lower().rstrip("=")


# -- the on-chain mapping --------------------------------------------------------------


def content_hash_from_cid(cid: str) -> bytes:
    """The ``bytes32`` the chain stores for a blob: the digest of its dag-pb root.

    Accepts the CIDv0 and its CIDv1 form (``ipfs cid base32 Qm...``); a raw-codec CID has
    no CIDv0 form and raises :class:`InvalidCid`.
    """
    return Cid.parse(cid).to_v0().digest


def cid_from_content_hash(digest: bytes) -> str:
    """The CIDv0 (``Qm...``) a chain ``bytes32`` content hash stands for."""
    if not isinstance(digest, bytes | bytearray | memoryview):
        raise InvalidCid(f"a content hash is 32 bytes, got {type(digest).__name__}")
    return str(Cid(0, DAG_PB, bytes(digest)))


def content_hash_of_blob(data: bytes | bytearray | memoryview) -> bytes:
    """The content hash of a blob, computed from its bytes (its CIDv0's digest)."""
    return compute_cid(data, CidProfile.V0).digest


# -- computing CIDs ----------------------------------------------------------------------


def compute_cid(data: bytes | bytearray | memoryview, profile: CidProfile = CidProfile.V0) -> Cid:
    """The CID ``ipfs add`` returns for these bytes with the given profile."""
    builder = CidBuilder(profile)
    builder.update(data)
    return builder.finish()


def matches(cid: Cid | str, data: bytes | bytearray | memoryview) -> bool:
    """True if ``data`` is the blob ``cid`` names, whichever supported profile made it.

    A dag-pb CIDv1 may be a raw-leaves DAG or the CIDv1 form of a CIDv0 DAG, so both are
    tried (the likelier first); a raw CID is the sha2-256 of the bytes themselves.
    """
    wanted = cid if isinstance(cid, Cid) else Cid.parse(cid)
    if wanted.codec == RAW:
        return hashlib.sha256(data).digest() == wanted.digest
    order = (
        (CidProfile.V0, CidProfile.V1_RAW_LEAVES)
        if wanted.version == 0
        else (CidProfile.V1_RAW_LEAVES, CidProfile.V0)
    )
    return any(compute_cid(data, profile).same_dag(wanted) for profile in order)


@dataclass(frozen=True)
class _Link:
    """A finished node as its parent links to it."""

    cid: Cid
    tsize: int  # bytes of the node's whole sub-DAG (dag-pb link Tsize)
    file_size: int  # file bytes below it (UnixFS blocksizes entry)


class CidBuilder:
    """Computes a blob's CID from bytes fed in pieces, without holding the blob.

    >>> builder = CidBuilder()
    >>> builder.update(b"hello world\\n")
    >>> str(builder.finish())
    'QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o'
    """

    def __init__(self, profile: CidProfile = CidProfile.V0, *, workers: int | None = None) -> None:
        self.profile = profile
        #: Threads hashing the leaves of a large update (default: one per CPU, at most 8).
        self.workers = workers or min(os.cpu_count() or 1, 8)
        self._leaves: list[_Link] = []
        self._pending = bytearray()
        self._finished = False

    def update(self, data: bytes | bytearray | memoryview) -> None:
        if self._finished:
            raise RuntimeError("CidBuilder.update() after finish()")
        view = memoryview(data).cast("B")
        start = 0
        if self._pending:
            start = min(CHUNK_SIZE - len(self._pending), len(view))
            self._pending += view[:start]
            if len(self._pending) < CHUNK_SIZE:
                return
            self._leaves.append(self._leaf(self._pending))
            self._pending = bytearray()
        # Whole chunks are hashed straight from the caller's buffer, without a copy.
        end = start + (len(view) - start) // CHUNK_SIZE * CHUNK_SIZE
        chunks = [view[offset : offset + CHUNK_SIZE] for offset in range(start, end, CHUNK_SIZE)]
        self._leaves.extend(self._hash_leaves(chunks))
        self._pending += view[end:]

    def _hash_leaves(self, chunks: list[memoryview]) -> list[_Link]:
        # Leaves hash independently and hashlib releases the GIL while it works, so the
        # chunks of a large update are split into one contiguous run per thread.
        workers = min(self.workers, len(chunks) // _MIN_CHUNKS_PER_WORKER)
        if workers < 2:
            return [self._leaf(chunk) for chunk in chunks]
        per_worker = -(-len(chunks) // workers)
        runs = [chunks[first : first + per_worker] for first in range(0, len(chunks), per_worker)]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            hashed = pool.map(lambda run: [self._leaf(chunk) for chunk in run], runs)
            return [leaf for run in hashed for leaf in run]

    def finish(self) -> Cid:
        if self._finished:
            raise RuntimeError("CidBuilder.finish() called twice")
        self._finished = True
        # An empty blob is one empty chunk, as the importers make it.
        if self._pending or not self._leaves:
            self._leaves.append(self._leaf(self._pending))
        # Parents are added level by level until one node remains; one chunk is its own
        # root, with no parent above it (the importers' reduceSingleLeafToSelf).
        level = self._leaves
        while len(level) > 1:
            level = [
                self._parent(level[start : start + MAX_LINKS])
                for start in range(0, len(level), MAX_LINKS)
            ]
        return level[0].cid

    def _leaf(self, chunk: bytes | bytearray | memoryview) -> _Link:
        size = len(chunk)
        if self.profile is CidProfile.V1_RAW_LEAVES:
            digest = hashlib.sha256(chunk).digest()
            return _Link(Cid(1, RAW, digest), size, size)
        # dag-pb PBNode{Data: UnixFS{Type: File, Data: chunk, filesize}}, hashed in three
        # pieces so that the chunk itself is never copied. An empty Data field is omitted.
        size_varint = _encode_varint(size)
        data_field = b"\x12" + size_varint if size else b""
        unixfs_len = 2 + len(data_field) + size + 1 + len(size_varint)
        hasher = hashlib.sha256(
            b"\x0a" + _encode_varint(unixfs_len) + b"\x08" + bytes([_UNIXFS_FILE]) + data_field
        )
        hasher.update(chunk)
        hasher.update(b"\x18" + size_varint)
        block_len = 1 + len(_encode_varint(unixfs_len)) + unixfs_len
        return _Link(Cid(0, DAG_PB, hasher.digest()), block_len, size)

    def _parent(self, children: list[_Link]) -> _Link:
        file_size = sum(child.file_size for child in children)
        unixfs = bytearray(b"\x08" + bytes([_UNIXFS_FILE]) + b"\x18" + _encode_varint(file_size))
        for child in children:
            unixfs += b"\x20" + _encode_varint(child.file_size)  # blocksizes, not packed
        node = bytearray()
        for child in children:
            # PBLink{Hash, Name: "", Tsize}; dag-pb writes Links before Data.
            child_cid = child.cid.to_bytes()
            link = (
                b"\x0a"
                + _encode_varint(len(child_cid))
                + child_cid
                + b"\x12\x00"
                + b"\x18"
                + _encode_varint(child.tsize)
            )
            node += b"\x12" + _encode_varint(len(link)) + link
        node += b"\x0a" + _encode_varint(len(unixfs)) + unixfs
        digest = hashlib.sha256(node).digest()
        version = 0 if self.profile is CidProfile.V0 else 1
        tsize = len(node) + sum(child.tsize for child in children)
        return _Link(Cid(version, DAG_PB, digest), tsize, file_size)


# -- encodings ---------------------------------------------------------------------------


def _parse_multihash(multihash: bytes, text: str) -> bytes:
    code, offset = _decode_varint(multihash, 0, text)
    length, offset = _decode_varint(multihash, offset, text)
    if code != SHA2_256:
        raise InvalidCid(
            f"{text!r} uses multihash 0x{code:x}; FedLedger addresses blobs by sha2-256 only"
        )
    digest = multihash[offset:]
    if length != DIGEST_SIZE or len(digest) != DIGEST_SIZE:
        raise InvalidCid(f"{text!r}: truncated or oversized sha2-256 digest")
    return digest


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _decode_varint(raw: bytes, offset: int, text: str) -> tuple[int, int]:
    value = shift = 0
    for position in range(offset, min(len(raw), offset + 9)):
        byte = raw[position]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position + 1
        shift += 7
    raise InvalidCid(f"{text!r}: malformed varint in the CID")


def _encode_base58(raw: bytes) -> str:
    number = int.from_bytes(raw, "big")
    digits = []
    while number:
        number, remainder = divmod(number, 58)
        digits.append(_BASE58_ALPHABET[remainder])
    leading_zeros = len(raw) - len(raw.lstrip(b"\x00"))
    return "1" * leading_zeros + "".join(reversed(digits))


def _decode_base58(text: str) -> bytes:
    number = 0
    for char in text:
        try:
            number = number * 58 + _BASE58_INDEX[char]
        except KeyError:
            raise InvalidCid(f"{text!r}: {char!r} is not a base58btc character") from None
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    leading_zeros = len(text) - len(text.lstrip("1"))
    return b"\x00" * leading_zeros + body


def _decode_base32(body: str, text: str) -> bytes:
    try:
        return base64.b32decode(body.upper() + "=" * (-len(body) % 8))
    except (binascii.Error, ValueError):
        raise InvalidCid(f"{text!r}: not valid base32") from None
