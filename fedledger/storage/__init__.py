"""Content-addressed blob storage: an embedded directory store and IPFS (Kubo RPC API).

Every part of FedLedger stores and fetches model blobs through :class:`BlobStore`, built
from the configuration by :func:`open_store`; the chain holds each blob's ``bytes32``
content hash, mapped to and from its CID by :func:`content_hash` and
:func:`cid_from_content_hash`. See docs/storage.md.
"""

from fedledger.storage.base import BlobStore
from fedledger.storage.cid import (
    Cid,
    CidBuilder,
    CidProfile,
    cid_from_content_hash,
    compute_cid,
    content_hash,
    content_hash_of,
)
from fedledger.storage.errors import (
    BlobCorrupted,
    BlobNotFound,
    BlobTooLarge,
    InvalidCid,
    StorageError,
    StoreUnavailable,
)
from fedledger.storage.factory import STORE_KINDS, open_store
from fedledger.storage.ipfs import IpfsStore
from fedledger.storage.local import LocalStore

__all__ = [
    "STORE_KINDS",
    "BlobCorrupted",
    "BlobNotFound",
    "BlobStore",
    "BlobTooLarge",
    "Cid",
    "CidBuilder",
    "CidProfile",
    "InvalidCid",
    "IpfsStore",
    "LocalStore",
    "StorageError",
    "StoreUnavailable",
    "cid_from_content_hash",
    "compute_cid",
    "content_hash",
    "content_hash_of",
    "open_store",
]
