"""The shared js-ipfs launcher (tests/fixtures/ipfs.py) that every test directory uses."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

import tests.fixtures.ipfs as launcher
from tests.fixtures.ipfs import IpfsNotInstalled, JsIpfsDaemon


def test_daemon_is_local_offline_and_fresh(ipfs_daemon: JsIpfsDaemon):
    assert ipfs_daemon.api_url.startswith("http://127.0.0.1:")
    assert ipfs_daemon.process.poll() is None
    bootstrap = httpx.post(f"{ipfs_daemon.api_url}/api/v0/bootstrap/list", timeout=10).json()
    assert bootstrap["Peers"] == []
    assert ipfs_daemon.repo.is_dir() and (ipfs_daemon.repo / "config").is_file()


def test_missing_install_says_to_run_make_setup_ipfs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(launcher, "JSIPFS", tmp_path / "nowhere" / "jsipfs")
    with pytest.raises(IpfsNotInstalled, match="run `make setup-ipfs`"):
        JsIpfsDaemon.start(tmp_path / "repo")
    assert not (tmp_path / "repo").exists()


def test_start_and_stop(tmp_path: Path):
    with JsIpfsDaemon.start(tmp_path / "repo") as daemon:
        assert httpx.post(f"{daemon.api_url}/api/v0/version", timeout=10).status_code == 200
    assert daemon.process.returncode is not None
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"{daemon.api_url}/api/v0/version", timeout=10)
