"""What can go wrong when storing or fetching a blob.

Every failure is a :class:`StorageError`; the subclasses are distinct because callers act
on them differently. An oracle turns them into different on-chain reason codes: a blob
that is too large or does not match its CID is the submitter's fault, a store that is down
is the oracle's own problem and must not become a verdict against anyone.

Messages are written for the person at the terminal: they say what happened and what to do.
"""

from __future__ import annotations


class StorageError(Exception):
    """Base class of every storage failure."""


class InvalidCid(StorageError, ValueError):
    """The text is not a CID FedLedger can address (sha2-256, dag-pb or raw), or a content
    hash is not 32 bytes."""


class BlobNotFound(StorageError):
    """No blob with this CID is held by the store, or it did not arrive within the timeout."""

    def __init__(self, message: str, *, cid: str) -> None:
        super().__init__(message)
        self.cid = cid


class BlobTooLarge(StorageError):
    """The blob exceeds the size cap; nothing beyond the cap was read."""

    def __init__(self, message: str, *, cid: str | None, limit: int) -> None:
        super().__init__(message)
        self.cid = cid
        self.limit = limit


class BlobCorrupted(StorageError):
    """The bytes the store returned do not hash to the CID asked for (hash mismatch)."""

    def __init__(self, message: str, *, cid: str) -> None:
        super().__init__(message)
        self.cid = cid


class StoreUnavailable(StorageError):
    """The store cannot be reached or refuses to work (daemon down, disk unwritable)."""
