"""Build the configured blob store from the project configuration."""

from __future__ import annotations

from fedledger.config import ConfigError, ProjectConfig
from fedledger.storage.base import BlobStore
from fedledger.storage.cid import CidProfile
from fedledger.storage.ipfs import IpfsStore
from fedledger.storage.local import LocalStore

#: The values ``storage.default``, ``FEDLEDGER_STORE`` and ``--store`` accept.
STORE_KINDS = ("local", "ipfs")


def open_store(
    config: ProjectConfig,
    *,
    kind: str | None = None,
    ipfs_api: str | None = None,
    profile: CidProfile = CidProfile.V0,
) -> BlobStore:
    """The store ``kind`` (default: ``storage.default``), with the configured limits.

    ``ipfs_api`` overrides ``storage.ipfs_api``. Close the store when done (it is a
    context manager).
    """
    settings = config.storage
    chosen = kind or settings.default
    if chosen == "local":
        return LocalStore(
            settings.local_root, max_blob_bytes=settings.max_blob_bytes, profile=profile
        )
    if chosen == "ipfs":
        return IpfsStore(
            ipfs_api or settings.ipfs_api,
            max_blob_bytes=settings.max_blob_bytes,
            timeout_seconds=settings.timeout_seconds,
            profile=profile,
        )
    raise ConfigError(
        f"unknown store {chosen!r} (storage.default in brownie-config.yaml or "
        f"FEDLEDGER_STORE); choose one of: {', '.join(STORE_KINDS)}"
    )
