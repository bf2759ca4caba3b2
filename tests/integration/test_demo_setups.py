"""The demo on the other set-ups: an IPFS node as the store, a chain it did not start
(--rpc), and its clean-up when interrupted; plus the refusals of bad options."""

from __future__ import annotations

import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from fedledger.chain import Anvil, RoundState, UpdateStatus, dev_account, dev_accounts
from fedledger.chain.anvil import rpc_answers
from fedledger.cli import main
from fedledger.config import CONFIG_FILE, ProjectConfig
from fedledger.demo.runner import Demo
from fedledger.queries import read_verdicts
from fedledger.storage import IpfsStore, cid_from_content_hash
from tests.fixtures.chain import TEST_ACCOUNTS
from tests.fixtures.ipfs import KuboDaemon
from tests.integration.conftest import small_config


def test_the_flow_with_an_ipfs_node_as_the_store(
    chain_config: ProjectConfig, ipfs_daemon: KuboDaemon, tmp_path: Path
) -> None:
    config = small_config(
        tmp_path / "run",
        participants=3,
        malicious=1,
        attacks=("sign_flip",),
        rounds=1,
        store="ipfs",
        ipfs_api=ipfs_daemon.api_url,
    )
    with Demo(config, chain_config) as demo:
        report = demo.run()
        ledger = demo.ledger
        verdicts = {v.participant: v for v in read_verdicts(ledger, 1)}
        honest, attacker = demo.cast.participants[:2], demo.cast.participants[2]
        assert all(verdicts[p.address].status == UpdateStatus.ACCEPTED for p in honest)
        assert verdicts[attacker.address].status == UpdateStatus.REJECTED
        assert ledger.token.balance_of(attacker.address) == 0
        produced = ledger.coordinator.get_round(2).global_model
        assert report.rounds[0].global_model_hash == "0x" + produced.hex()

    # Every blob -- genesis, updates, the aggregate -- is held by the IPFS node, and the
    # run directory's embedded store was never written.
    node = IpfsStore(ipfs_daemon.api_url, max_blob_bytes=2**24, timeout_seconds=5)
    with node:
        for digest in [produced, *(v.content_hash for v in verdicts.values())]:
            assert digest is not None and node.has(cid_from_content_hash(digest))
    assert not (config.out / ".fedledger" / "blobs").exists()


def test_the_flow_on_a_chain_the_demo_did_not_start(
    chain_config: ProjectConfig, chain_anvil: Anvil, tmp_path: Path
) -> None:
    """--rpc: the demo funds fresh accounts from the admin's, gives the processes
    keystores, and closes the round as soon as every participant has submitted, long before
    the deadline: its contribution target (the honest participants) counts the updates in
    play, and the oracles vote at close."""
    admin = dev_account(TEST_ACCOUNTS - 2)
    config = small_config(
        tmp_path / "run",
        participants=1,
        malicious=0,
        rounds=1,
        rpc=chain_anvil.rpc_url,
        round_duration=3_600,
        fund_eth=0.5,
    )
    with Demo(config, chain_config, admin=admin) as demo:
        report = demo.run()
        ledger = demo.ledger
        (participant,) = demo.cast.participants
        info = ledger.coordinator.get_round(1)
        assert info.state == RoundState.FINALIZED and info.closed_at < info.deadline
        assert ledger.coordinator.round_rules().contribution_target == 1
        assert ledger.coordinator.owner() == admin.address
        assert participant.address not in {a.address for a in dev_accounts(TEST_ACCOUNTS)}
        assert ledger.coordinator.reward_owed(participant.address) > 0  # credited, to claim
        assert 0 < ledger.client.balance(participant.address) < 5 * 10**17
    assert report.rounds[0].accepted == 1
    keystores = sorted((config.out / "keys").iterdir())
    assert len(keystores) == config.oracles + config.participants
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in keystores)


def _demo_processes(run_directory: Path) -> list[int]:
    """Pids of live processes started for the run directory (they carry FEDLEDGER_ROOT)."""
    marker = f"FEDLEDGER_ROOT={run_directory}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in environ and state != "Z":
            found.append(int(entry.name))
    return found


@pytest.mark.parametrize(
    "signal_number",
    [signal.SIGINT, signal.SIGTERM, signal.SIGHUP],
    ids=["ctrl-c", "term", "hangup"],
)
def test_an_interrupted_demo_stops_its_processes_and_its_chain(
    tmp_path: Path, signal_number: int
) -> None:
    run_directory = tmp_path / "run"
    command = [
        sys.executable, "-m", "fedledger", "demo",
        "--participants", "2", "--malicious", "1", "--rounds", "3",
        "--samples-per-participant", "300", "--validation-size", "200",
        "--out", str(run_directory),
    ]  # fmt: skip
    demo = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert demo.stdout is not None
    seen = []
    for line in demo.stdout:  # until the processes run and round 1 is under way
        seen.append(line)
        if "round 1:" in line:
            break
    else:
        pytest.fail("the demo ended before round 1:\n" + "".join(seen))
    settings = yaml.safe_load((run_directory / CONFIG_FILE).read_text())["networks"]["demo"]
    chain_url = f"{settings['host']}:{settings['port']}"
    # 3 oracles, 2 participants and the gateway
    assert rpc_answers(chain_url) and len(_demo_processes(run_directory)) == 6

    if signal_number == signal.SIGHUP:
        # The terminal closes: nothing reads the output any more.
        demo.stdout.close()
        demo.send_signal(signal_number)
        demo.wait(timeout=60)
        assert demo.returncode == 130
    else:
        demo.send_signal(signal_number)
        output = demo.communicate(timeout=60)[0]
        assert demo.returncode == 130, output
        assert "interrupted" in output and "Traceback" not in output
    deadline = time.monotonic() + 10
    while (
        _demo_processes(run_directory) or rpc_answers(chain_url)
    ) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _demo_processes(run_directory) == []
    assert not rpc_answers(chain_url)


def test_bad_options_are_refused_in_one_line_before_anything_starts(tmp_path: Path) -> None:
    def run(*arguments: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, ["demo", *arguments])
        return result.exit_code, result.output

    code, output = run("--oracles", "3", "--quorum", "1")
    assert code == 1 and "quorum 1 of 3 oracles is invalid" in output
    code, output = run("--attacks", "sign_flip,teleport")
    assert code == 2 and "unknown attack(s) teleport" in output
    code, output = run("--participants", "2", "--malicious", "3")
    assert code == 1 and "3 malicious of 2 participants" in output
    code, output = run("--arch", "resnet")
    assert code == 1 and "unknown architecture 'resnet'" in output

    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    code, output = run("--out", str(precious))
    assert code == 1 and "not a demo run directory" in output
    assert (precious / "thesis.tex").read_text() == "years of work"
    assert len(output.strip().splitlines()) == 1 and "Traceback" not in output


def test_a_second_run_replaces_the_previous_run_directory(
    chain_config: ProjectConfig, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    config = small_config(out, participants=1, malicious=0, rounds=1)
    with Demo(config, chain_config):
        assert (out / "data" / "participant-01.npz").is_file()
        assert any((out / ".fedledger" / "blobs").iterdir())  # the genesis model
    (out / "data" / "stale.npz").write_bytes(b"from an earlier run")
    with Demo(config, chain_config):
        assert not (out / "data" / "stale.npz").exists()
        assert (out / "data" / "participant-01.npz").is_file()
