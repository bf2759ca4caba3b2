"""Fixtures for the storage tests: a throw-away project and stores on it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from fedledger.config import CONFIG_FILE, ProjectConfig, find_root, load_config
from fedledger.storage import CidProfile, IpfsStore, LocalStore
from tests.fixtures.ipfs import KuboDaemon
from tests.storage.support import SHORT_TIMEOUT


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ProjectConfig:
    """A project directory with the repository's brownie-config.yaml, used via
    FEDLEDGER_ROOT, so that the local store writes under tmp_path."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(find_root() / CONFIG_FILE, root / CONFIG_FILE)
    monkeypatch.setenv("FEDLEDGER_ROOT", str(root))
    for variable in ("FEDLEDGER_STORE", "FEDLEDGER_IPFS_API"):
        monkeypatch.delenv(variable, raising=False)
    return load_config()


@pytest.fixture
def local_store(project: ProjectConfig) -> Iterator[LocalStore]:
    with LocalStore(project.storage.local_root, max_blob_bytes=64 * 1024 * 1024) as store:
        yield store


@pytest.fixture
def ipfs_store(ipfs_daemon: KuboDaemon) -> Iterator[IpfsStore]:
    """An IpfsStore on the session's daemon, putting with the default (CIDv0) profile."""
    with IpfsStore(
        ipfs_daemon.api_url, max_blob_bytes=64 * 1024 * 1024, timeout_seconds=SHORT_TIMEOUT
    ) as store:
        yield store


@pytest.fixture
def ipfs_raw_leaves_store(ipfs_daemon: KuboDaemon) -> Iterator[IpfsStore]:
    """The same, putting with the CIDv1 raw-leaves profile."""
    with IpfsStore(
        ipfs_daemon.api_url,
        max_blob_bytes=64 * 1024 * 1024,
        timeout_seconds=SHORT_TIMEOUT,
        profile=CidProfile.V1_RAW_LEAVES,
    ) as store:
        yield store
