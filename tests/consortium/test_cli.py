"""`fedledger consortium up|status|down` as a person runs it: real geth, Kubo and oracles
started in the background by the command, found again through its state file by every
command that names `--network consortium`, and stopped by their PIDs."""

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

from fedledger.chain import FedLedger
from fedledger.chain.keys import dev_account
from fedledger.config import CONFIG_FILE, MNIST_DIRECTORY, ProjectConfig, load_config
from fedledger.consortium.network import (
    PORT_OFFSETS,
    PORT_STRIDE,
    block_number,
    read_state,
    stop_recorded,
)
from fedledger.consortium.tools import TOOLS_DIR, pid_alive
from fedledger.crypto import OracleKeyFile
from fedledger.ml import FederatedSplit, load_dataset, save_dataset

ORGS = 3
#: Starting three geth, three Kubo and three oracles on 2 shared cores, deploying on 1 s
#: blocks, training and waiting for 2 confirmations of the votes.
PATIENCE = 420
#: Round 1's length: long enough for the participant to start, train and submit on 2 shared
#: cores after `up`, short enough to wait for (the oracles vote once the round closes).
ROUND_SECONDS = 150
#: The participant's wait for its verdict: the rest of round 1, the close, the judgement and
#: votes 2 blocks deep.
VERDICT_SECONDS = 360


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
    (root / MNIST_DIRECTORY).parent.mkdir(parents=True)  # the oracles' validation data
    (root / MNIST_DIRECTORY).symlink_to(chain_config.root / MNIST_DIRECTORY)
    return load_config(root)


def _fedledger(
    project: ProjectConfig, *arguments: str, rpc_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FEDLEDGER_ROOT": str(project.root), "COLUMNS": "250"}
    if rpc_url is not None:
        env["FEDLEDGER_RPC_URL"] = rpc_url
    return subprocess.run(
        [sys.executable, "-m", "fedledger", *arguments],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=PATIENCE,
    )


def _environment(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def _command_line(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


def test_up_runs_nodes_and_oracles_that_judge_a_submission_and_down_stops_them(
    consortium_project: ProjectConfig, mnist_federation: FederatedSplit, tmp_path: Path
) -> None:
    project = consortium_project
    network = project.network("consortium")
    try:
        # Rounds short enough to wait for: the oracles judge a round's updates at its close.
        started = _fedledger(
            project, "consortium", "up", "--orgs", str(ORGS), "--round-duration",
            str(ROUND_SECONDS),
        )  # fmt: skip
        assert started.returncode == 0, started.stdout + started.stderr
        assert "running, peered, sealing blocks" in started.stdout
        assert f"{ORGS} oracles serve coordinator" in started.stdout
        state = read_state(project, "consortium")
        assert state is not None and len(state.orgs) == ORGS
        pids = [pid for org in state.orgs for pid in org.pids]
        assert len(pids) == 3 * ORGS
        assert all(pid_alive(pid) for pid in pids)  # outlived `up`
        # The network entry is organisation 1's geth; its chain is the genesis' chain id.
        assert network.rpc_url == state.orgs[0].rpc_url
        assert state.chain_id == network.chain_id == 4242
        base = network.base_port or network.port
        assert [org.ports["rpc"] for org in state.orgs] == [base, base + 10, base + 20]

        shown = _fedledger(project, "consortium", "status")
        assert shown.returncode == 0, shown.stdout + shown.stderr
        for index, org in enumerate(state.orgs, start=1):
            (row,) = [
                line
                for line in shown.stdout.splitlines()
                if f"org{index} " in line and org.rpc_url in line
            ]
            assert org.rpc_url in row and org.ipfs_api in row and "(down)" not in row
            assert row.rstrip(" │").endswith("running"), row
            # block, geth peers, Kubo peers: each sees the other two.
            cells = [cell.strip() for cell in row.strip("│ ").split("│")]
            assert int(cells[2].replace(",", "")) >= 1
            assert (cells[3], cells[5]) == (str(ORGS - 1), str(ORGS - 1)), row

        again = _fedledger(project, "consortium", "up")
        assert again.returncode == 0 and "already running (3 organisations)" in again.stdout
        assert read_state(project, "consortium").orgs == state.orgs  # nothing restarted

        # `up` deployed, with every organisation's oracle registered (quorum 2 of 3) and its
        # own key file's public key on chain; `--network consortium` finds that deployment.
        record = json.loads((project.state_dir / "deployments" / "consortium.json").read_text())
        assert record["chain_id"] == 4242
        status = _fedledger(project, "status", "--network", "consortium", "--json")
        assert status.returncode == 0, status.stdout + status.stderr
        shown_status = json.loads(status.stdout)
        assert shown_status["coordinator"] == record["coordinator"]
        oracles = [dev_account(i).address for i in range(1, ORGS + 1)]
        assert [o["address"] for o in shown_status["oracles"]] == oracles
        assert shown_status["quorum"] == 2
        ledger = FedLedger.connect(project, "consortium")
        assert ledger.coordinator.round_rules().duration == ROUND_SECONDS  # up's --round-duration
        key_files = [Path(org.oracle_key_file) for org in state.orgs]  # type: ignore[arg-type]
        assert len(set(key_files)) == ORGS
        for org, key_file, address in zip(state.orgs, key_files, oracles, strict=True):
            assert org.oracle_address == address
            on_chain = ledger.coordinator.encryption_key_of(org.oracle_address)
            assert on_chain.current == OracleKeyFile.load(key_file).current.public_key
            # Each oracle talks to its own organisation's geth and Kubo only, with its own
            # key file and validation data.
            assert org.oracle_pid is not None
            assert _environment(org.oracle_pid)["FEDLEDGER_RPC_URL"] == org.rpc_url
            command = _command_line(org.oracle_pid)
            assert command[command.index("--ipfs-api") + 1] == org.ipfs_api
            assert command[command.index("--key-file") + 1] == str(key_file)
            assert command[command.index("--validation") + 1] == org.validation
        validations = [load_dataset(Path(str(org.validation))) for org in state.orgs]
        assert all(len(v) == 2000 for v in validations)
        assert len({v.images.tobytes() for v in validations}) == ORGS  # not the same data

        # A participant of organisation 2 trains on round 1's genesis model and submits
        # through its own geth and Kubo; the oracles (through theirs) judge it, quorum 2.
        data = save_dataset(mnist_federation.clients[0], tmp_path / "participant.npz")
        second = state.orgs[1]
        submitted = _fedledger(
            project, "participant", "run", "--network", "consortium", "--key", "dev:4",
            "--data", str(data), "--rounds", "1", "--epochs", "1",
            "--timeout", str(VERDICT_SECONDS),
            "--store", "ipfs", "--ipfs-api", second.ipfs_api, "--json",
            rpc_url=second.rpc_url,
        )  # fmt: skip
        assert submitted.returncode == 0, submitted.stdout + submitted.stderr
        outcome = json.loads(submitted.stdout.strip().splitlines()[-1])
        verdict = outcome["verdict"]
        assert verdict["round"] == 1 and verdict["participant"] == dev_account(4).address
        assert verdict["status"] != "pending", verdict
        voters = {vote["oracle"] for vote in verdict["votes"]}
        assert len(voters) >= 2 and voters <= set(oracles), verdict

        shown = _fedledger(project, "consortium", "status")
        for org in state.orgs:
            (row,) = [line for line in shown.stdout.splitlines() if str(org.oracle_address) in line]
            assert f"pid {org.oracle_pid} running" in row, row
        assert block_number(state.orgs[2].rpc_url) >= 1

        stopped = _fedledger(project, "consortium", "down")
        assert stopped.returncode == 0
        assert f"stopped {3 * ORGS} processes" in stopped.stdout
        assert not any(pid_alive(pid) for pid in pids)
        after = _fedledger(project, "consortium", "status")
        assert after.returncode == 1
        assert "(down)" in after.stdout and "stopped (start it again with" in after.stdout
    finally:
        leftover = read_state(project, "consortium")
        if leftover is not None:
            stop_recorded(leftover)
