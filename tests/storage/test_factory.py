"""open_store builds the configured store with the configured limits."""

from __future__ import annotations

import pytest

from fedledger.config import ConfigError, ProjectConfig, load_config
from fedledger.storage import BlobTooLarge, IpfsStore, LocalStore, open_store
from tests.fixtures.ipfs import KuboDaemon
from tests.storage.support import blob, with_storage


def test_default_is_the_embedded_store_under_the_project(project: ProjectConfig):
    assert project.storage.default == "local"
    with open_store(project) as store:
        assert isinstance(store, LocalStore)
        assert store.root == project.root / ".fedledger" / "blobs"
        cid = store.put(b"in the project")
    assert (project.root / ".fedledger" / "blobs").is_dir()
    with open_store(project) as store:
        assert store.get(cid) == b"in the project"


def test_limits_come_from_the_configuration(project: ProjectConfig, ipfs_daemon: KuboDaemon):
    config = with_storage(project, max_blob_bytes=10, timeout_seconds=1.5)
    with open_store(config, kind="ipfs", ipfs_api=ipfs_daemon.api_url) as store:
        assert isinstance(store, IpfsStore)
        assert (store.max_blob_bytes, store.timeout_seconds) == (10, 1.5)
        with pytest.raises(BlobTooLarge):
            store.put(blob(11))
    with open_store(config, kind="local") as store, pytest.raises(BlobTooLarge):
        store.put(blob(11))


def test_ipfs_api_comes_from_the_configuration_unless_given(
    project: ProjectConfig, ipfs_daemon: KuboDaemon
):
    config = with_storage(project, default="ipfs", ipfs_api=ipfs_daemon.api_url)
    with open_store(config) as store:
        assert isinstance(store, IpfsStore)
        assert store.get(store.put(b"configured")) == b"configured"
    with open_store(config, ipfs_api="http://127.0.0.1:1") as store:
        assert isinstance(store, IpfsStore)
        assert store.api_url == "http://127.0.0.1:1"


def test_environment_chooses_the_store(project: ProjectConfig, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FEDLEDGER_STORE", "ipfs")
    monkeypatch.setenv("FEDLEDGER_IPFS_API", "http://127.0.0.1:5999")
    with open_store(load_config()) as store:
        assert isinstance(store, IpfsStore)
        assert store.api_url == "http://127.0.0.1:5999"


def test_unknown_store_says_what_is_allowed(project: ProjectConfig):
    with pytest.raises(ConfigError, match="choose one of: local, ipfs"):
        open_store(project, kind="s3")
