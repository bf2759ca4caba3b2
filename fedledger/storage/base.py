"""The one interface every part of FedLedger stores and fetches blobs through."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Self, runtime_checkable

from fedledger.storage.cid import Cid, content_hash_of_blob, matches
from fedledger.storage.errors import BlobCorrupted, BlobTooLarge


@runtime_checkable
class BlobStore(Protocol):
    """A content-addressed blob store.

    ``put`` returns the blob's CID (CIDv0 unless the store was built with another
    profile); ``get`` accepts that CID, its CIDv1 form or the blob's CIDv1 raw-leaves CID,
    and returns only bytes that hash to it. ``get`` never reads more than ``max_bytes``
    and gives up after ``timeout`` seconds; ``None`` means the store's configured limits
    (``storage.max_blob_bytes``, ``storage.timeout_seconds``). Every failure is a
    :class:`~fedledger.storage.errors.StorageError`. A store is a context manager that
    closes itself.
    """

    def put(self, data: bytes) -> str:
        """Store ``data`` and return its CID."""
        ...

    def get(self, cid: str, *, max_bytes: int | None = None, timeout: float | None = None) -> bytes:
        """The verified bytes of ``cid``."""
        ...

    def has(self, cid: str) -> bool:
        """True if the store holds ``cid`` itself, without fetching it from elsewhere."""
        ...

    def pin(self, cid: str) -> None:
        """Keep ``cid`` from being garbage-collected; raises BlobNotFound if it is absent."""
        ...

    def close(self) -> None:
        """Release connections; the store is unusable afterwards."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc_info: object) -> None: ...


@dataclass(frozen=True)
class StoredBlob:
    """A stored blob's two names: the CID the store returned, and the content hash the
    chain records for it (the digest of its CIDv0, whatever CID profile the store uses)."""

    cid: str
    content_hash: bytes


def store_blob(store: BlobStore, data: bytes) -> StoredBlob:
    """Store ``data`` and name it as the chain does: the one way the participant, the
    oracles and the admin turn a blob into the ``bytes32`` they send."""
    cid = store.put(data)
    return StoredBlob(cid=cid, content_hash=content_hash_of_blob(data))


def check_put_size(size: int, limit: int) -> None:
    """Refuse to store what no reader will accept (the same cap applies on both sides)."""
    if size > limit:
        raise BlobTooLarge(
            f"the blob is {size:,} bytes, over the {limit:,}-byte cap readers enforce "
            "(storage.max_blob_bytes in brownie-config.yaml); shrink it or raise the cap",
            cid=None,
            limit=limit,
        )


def too_large(cid: Cid | str, limit: int, size: int | None = None) -> BlobTooLarge:
    """The error for a blob over the read cap; ``size`` if known, else 'more than'."""
    amount = f"{size:,} bytes" if size is not None else f"more than {limit:,} bytes"
    return BlobTooLarge(
        f"blob {cid} is {amount}, over the {limit:,}-byte cap; nothing beyond the cap was "
        "read (raise storage.max_blob_bytes or pass a larger max_bytes if it is legitimate)",
        cid=str(cid),
        limit=limit,
    )


def verify(cid: Cid, data: bytes, source: str) -> bytes:
    """Return ``data`` if it is the blob ``cid`` names, else raise BlobCorrupted."""
    if not matches(cid, data):
        raise BlobCorrupted(
            f"the {len(data):,} bytes {source} returned for {cid} do not hash to that CID "
            "(hash mismatch): the copy is damaged or was tampered with",
            cid=str(cid),
        )
    return data
