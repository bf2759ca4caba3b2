"""Content-addressed blob storage: an embedded directory store and IPFS (Kubo RPC API).

Every part of FedLedger stores and fetches model blobs through :class:`BlobStore`, built
from the configuration by :func:`open_store`; the chain holds each blob's ``bytes32``
content hash: :func:`content_hash_of_blob` computes it from the bytes, and
:func:`content_hash_from_cid` / :func:`cid_from_content_hash` map it to and from the CID;
:func:`store_blob` stores a blob and returns both names. See docs/storage.md.
"""

from fedledger.storage.base import BlobStore, StoredBlob, store_blob
from fedledger.storage.cid import (
    Cid,
    CidBuilder,
    CidProfile,
    cid_from_content_hash,
    compute_cid,
    content_hash_from_cid,
    content_hash_of_blob,
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
from fedledger.storage.gateway import GatewayRefused, fetch_through_gateway, resource_path
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
    "GatewayRefused",
    "InvalidCid",
    "IpfsStore",
    "LocalStore",
    "StorageError",
    "StoreUnavailable",
    "StoredBlob",
    "cid_from_content_hash",
    "compute_cid",
    "content_hash_from_cid",
    "content_hash_of_blob",
    "fetch_through_gateway",
    "open_store",
    "resource_path",
    "store_blob",
]
