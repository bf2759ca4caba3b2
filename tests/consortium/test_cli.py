"""`fedledger consortium up|status|down` as a person runs it: real geth and Kubo started in
the background by the command, found again through its state file by every command that
names `--network consortium`, and stopped by their PIDs."""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fedledger.chain.keys import dev_account
from fedledger.config import CONFIG_FILE, ProjectConfig, load_config
from fedledger.consortium.network import (
    PORT_OFFSETS,
    PORT_STRIDE,
    block_number,
    read_state,
    stop_recorded,
)
from fedledger.consortium.tools import TOOLS_DIR, pid_alive

ORGS = 3
#: Starting three geth and three Kubo on 2 shared cores, and deploying on 1 s blocks.
PATIENCE = 420


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_base() -> int:
    """A base port whose organisations' ports (base + 10*i + 0..5) are all free now."""
    for base in range(21_000, 60_000, 97):
        ports = [
            base + PORT_STRIDE * i + offset for i in range(ORGS) for offset in PORT_OFFSETS.values()
        ]
        if all(_bindable(port) for port in ports):
            return base
    raise AssertionError("no free range of ports for the consortium")


@pytest.fixture
def consortium_project(tmp_path: Path, chain_config: ProjectConfig) -> ProjectConfig:
    """A project whose `consortium` network starts at a free base port, with the
    repository's contracts, node_modules and tools/bin (geth, Kubo) linked in."""
    raw = copy.deepcopy(chain_config.raw)
    raw["networks"]["consortium"]["port"] = _free_base()
    raw.setdefault("project_structure", {})["build"] = str(chain_config.build_dir)
    root = tmp_path / "project"
    root.mkdir()
    (root / CONFIG_FILE).write_text(yaml.safe_dump(raw))
    (root / "contracts").symlink_to(chain_config.contracts_dir)
    (root / "node_modules").symlink_to(chain_config.node_modules)
    (root / TOOLS_DIR).parent.mkdir(parents=True)
    (root / TOOLS_DIR).symlink_to(chain_config.root / TOOLS_DIR)
    return load_config(root)


def _fedledger(project: ProjectConfig, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fedledger", *arguments],
        env={**os.environ, "FEDLEDGER_ROOT": str(project.root), "COLUMNS": "200"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=PATIENCE,
    )


def test_up_status_and_down_run_the_network_every_command_finds(
    consortium_project: ProjectConfig,
) -> None:
    project = consortium_project
    network = project.network("consortium")
    try:
        started = _fedledger(project, "consortium", "up", "--orgs", str(ORGS))
        assert started.returncode == 0, started.stdout + started.stderr
        assert "running, peered, sealing blocks" in started.stdout
        state = read_state(project, "consortium")
        assert state is not None and len(state.orgs) == ORGS
        pids = [pid for org in state.orgs for pid in (org.geth_pid, org.kubo_pid)]
        assert all(pid is not None and pid_alive(pid) for pid in pids)  # outlived `up`
        # The network entry is organisation 1's geth; its chain is the genesis' chain id.
        assert network.rpc_url == state.orgs[0].rpc_url
        assert state.chain_id == network.chain_id == 4242
        base = network.base_port or network.port
        assert [org.ports["rpc"] for org in state.orgs] == [base, base + 10, base + 20]

        shown = _fedledger(project, "consortium", "status")
        assert shown.returncode == 0, shown.stdout + shown.stderr
        for index, org in enumerate(state.orgs, start=1):
            (row,) = [line for line in shown.stdout.splitlines() if f"org{index} " in line]
            assert org.rpc_url in row and org.ipfs_api in row and "(down)" not in row
            assert f"dev:{index}" in row
            # block, geth peers, Kubo peers: each sees the other two.
            cells = [cell.strip() for cell in row.strip("│ ").split("│")]
            assert int(cells[2].replace(",", "")) >= 1
            assert (cells[3], cells[5]) == (str(ORGS - 1), str(ORGS - 1)), row

        again = _fedledger(project, "consortium", "up")
        assert again.returncode == 0 and "already running (3 organisations)" in again.stdout
        assert read_state(project, "consortium").orgs == state.orgs  # nothing restarted

        # `--network consortium` reaches the network `up` recorded: deploy and read back.
        oracles = [option for i in (1, 2, 3) for option in ("--oracle", dev_account(i).address)]
        deployed = _fedledger(
            project, "deploy", "--network", "consortium", "--key", "dev:0", *oracles,
            "--quorum", "2",
        )  # fmt: skip
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        record = json.loads((project.state_dir / "deployments" / "consortium.json").read_text())
        assert record["chain_id"] == 4242
        status = _fedledger(project, "status", "--network", "consortium", "--json")
        assert status.returncode == 0, status.stdout + status.stderr
        shown_status = json.loads(status.stdout)
        assert shown_status["coordinator"] == record["coordinator"]
        assert [o["address"] for o in shown_status["oracles"]] == [
            dev_account(i).address for i in (1, 2, 3)
        ]
        assert block_number(state.orgs[2].rpc_url) >= 1

        stopped = _fedledger(project, "consortium", "down")
        assert stopped.returncode == 0
        assert f"stopped {2 * ORGS} processes" in stopped.stdout
        assert not any(pid_alive(pid) for pid in pids)  # type: ignore[arg-type]
        after = _fedledger(project, "consortium", "status")
        assert after.returncode == 1
        assert "(down)" in after.stdout and "stopped (start it again with" in after.stdout
    finally:
        leftover = read_state(project, "consortium")
        if leftover is not None:
            stop_recorded(leftover)
