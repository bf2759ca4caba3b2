"""The shared Kubo launcher (tests/fixtures/ipfs.py) that every test directory uses."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from fedledger.config import load_config
from fedledger.consortium.tools import ToolMissing, tool_path
from tests.fixtures.ipfs import KuboDaemon


def test_daemon_is_local_closed_and_fresh(ipfs_daemon: KuboDaemon):
    assert ipfs_daemon.api_url.startswith("http://127.0.0.1:")
    assert ipfs_daemon.process.poll() is None
    api = f"{ipfs_daemon.api_url}/api/v0"
    assert httpx.post(f"{api}/bootstrap/list", timeout=10).json()["Peers"] == []
    assert httpx.post(f"{api}/version", timeout=10).json()["Version"] == "0.43.1"
    config = json.loads((ipfs_daemon.repo / "config").read_text())
    assert config["Discovery"]["MDNS"]["Enabled"] is False
    assert config["AutoConf"]["Enabled"] is False
    assert config["Routing"]["Type"] == "none"
    assert all(address.startswith("/ip4/127.0.0.1/") for address in config["Addresses"]["Swarm"])


def test_missing_build_says_to_run_make_tools(tmp_path: Path):
    (tmp_path / "brownie-config.yaml").write_text(
        (Path(__file__).resolve().parents[2] / "brownie-config.yaml").read_text()
    )
    with pytest.raises(ToolMissing, match="run `make tools`"):
        tool_path(load_config(root=tmp_path), "ipfs")


def test_start_and_stop(tmp_path: Path):
    with KuboDaemon.start(tmp_path / "repo") as daemon:
        assert httpx.post(f"{daemon.api_url}/api/v0/version", timeout=10).status_code == 200
    assert daemon.process.returncode is not None
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"{daemon.api_url}/api/v0/version", timeout=10)
