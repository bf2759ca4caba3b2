"""``fedledger oracle run`` and ``status`` as real processes against a real chain and the
embedded store: JSON logs, ``--once``, a clean stop on SIGTERM/SIGINT, and an oracle killed
with SIGKILL mid-round that restarts into a finalized round without a double vote."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from fedledger.chain import ReasonCode, RoundState, UpdateStatus, save_deployment
from fedledger.chain.events import AggregateProposed, RoundFinalized
from fedledger.cli import main
from fedledger.config import ProjectConfig
from fedledger.ml import Dataset, ModelWeights, encode, save_dataset
from fedledger.ml.aggregation import bounded_fedavg
from fedledger.storage import LocalStore, content_hash_from_cid, content_hash_of_blob
from fedledger.threads import thread_environment
from oracle.key_files import KEY_FILE_DIR
from oracle.node import NodeSettings
from tests.fixtures.chain import TestbedFactory
from tests.oracle.conftest import (
    NODE_PARTICIPANTS,
    UPLOAD_CAP,
    BadBlobs,
    NodeBed,
    register_encryption_keys,
)

#: How long a test waits for a process or the chain before it fails.
PATIENCE = 60.0


@pytest.fixture(scope="session")
def validation_files(
    tmp_path_factory: pytest.TempPathFactory, node_validation: list[Dataset]
) -> list[Path]:
    """Each oracle's validation set as the .npz file `--validation` reads."""
    folder = tmp_path_factory.mktemp("validation")
    paths = []
    for index, dataset in enumerate(node_validation):
        paths.append(save_dataset(dataset, folder / f"oracle-{index}.npz"))
    return paths


@pytest.fixture
def cli_bed(
    chain_project: ProjectConfig,
    chain_testbed_factory: TestbedFactory,
    node_genesis: ModelWeights,
    node_validation: list[Dataset],
) -> NodeBed:
    """A deployment recorded in the test project (where `fedledger` finds it), whose genesis
    model is in the project's embedded store."""

    def new_store(cap: int) -> LocalStore:
        return LocalStore(chain_project.storage.local_root, max_blob_bytes=cap)

    store = new_store(UPLOAD_CAP)
    genesis = content_hash_from_cid(store.put(encode(node_genesis)))
    bed = chain_testbed_factory(participants=NODE_PARTICIPANTS, genesis_model=genesis)
    save_deployment(chain_project, replace(bed.deployment, network="anvil"))
    # In the project's default place: `fedledger oracle run` finds them without --key-file.
    folder = chain_project.state_dir / KEY_FILE_DIR
    shutil.rmtree(folder, ignore_errors=True)  # the project outlives each test's chain
    keys = register_encryption_keys(bed, folder)
    return NodeBed(bed, store, new_store, node_validation, keys)


@dataclass
class OracleProcess:
    """A running ``fedledger oracle run`` and its JSON log file."""

    process: subprocess.Popen[bytes]
    log_path: Path

    def records(self) -> list[dict[str, Any]]:
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines()]

    def wait_for(self, event: str) -> dict[str, Any]:
        found = wait_until(
            lambda: next((r for r in self.records() if r["event"] == event), None),
            f"a {event!r} log record",
            self,
        )
        return found

    def stop(self, signum: int = signal.SIGTERM) -> int:
        self.process.send_signal(signum)
        return self.process.wait(PATIENCE)


def wait_until(condition: Callable[[], Any], what: str, *running: OracleProcess) -> Any:
    deadline = time.monotonic() + PATIENCE
    while True:
        value = condition()
        if value:
            return value
        for oracle in running:
            if oracle.process.poll() is not None:
                raise AssertionError(
                    f"waiting for {what}: the oracle exited with {oracle.process.returncode}; "
                    f"its log: {oracle.records()}"
                )
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {PATIENCE:g} s")
        time.sleep(0.05)


def oracle_command(index: int, validation: Path, *options: str) -> list[str]:
    """``fedledger oracle run`` for test oracle ``index`` (dev account index + 1)."""
    return [
        sys.executable, "-m", "fedledger", "oracle", "run",
        "--key", f"dev:{index + 1}",
        "--validation", str(validation),
        "--poll-interval", "0.1",
        "--unreachable-after", "1",
        "--log-format", "json",
        *options,
    ]  # fmt: skip


@pytest.fixture
def oracle_env(chain_project: ProjectConfig) -> dict[str, str]:
    # One BLAS/OpenMP thread per oracle process, as the demo runs them (2 shared cores).
    return {**thread_environment(1), "FEDLEDGER_ROOT": str(chain_project.root)}


@pytest.fixture
def start_oracle(
    cli_bed: NodeBed, validation_files: list[Path], oracle_env: dict[str, str], tmp_path: Path
) -> Iterator[Callable[[int], OracleProcess]]:
    """``start_oracle(index)`` runs oracle ``index`` until the test stops it; anything still
    running at the end is killed (before the chain is reverted)."""
    started: list[OracleProcess] = []

    def start(index: int) -> OracleProcess:
        log_path = tmp_path / f"oracle-{index}-{len(started)}.jsonl"
        command = oracle_command(index, validation_files[index], "--log-file", str(log_path))
        process = subprocess.Popen(
            command,
            env=oracle_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / f"oracle-{index}-{len(started)}.err").open("wb"),
        )
        started.append(OracleProcess(process, log_path))
        return started[-1]

    yield start
    for oracle in started:
        if oracle.process.poll() is None:
            oracle.process.kill()
            oracle.process.wait()


def run_once(
    index: int, validation: Path, env: dict[str, str]
) -> tuple[int, list[dict[str, Any]], str]:
    result = subprocess.run(
        oracle_command(index, validation, "--once"),
        env=env,
        capture_output=True,
        timeout=PATIENCE,
        check=False,
    )
    stdout = result.stdout.decode()
    return result.returncode, [json.loads(line) for line in stdout.splitlines()], stdout


def cli(env: dict[str, str], *args: str) -> Any:
    return CliRunner().invoke(main, list(args), env=env)


def test_help_explains_the_commands() -> None:
    group = CliRunner().invoke(main, ["oracle", "--help"])
    assert group.exit_code == 0
    assert "run" in group.output and "status" in group.output
    assert "validation" in group.output
    run = CliRunner().invoke(main, ["oracle", "run", "--help"])
    assert run.exit_code == 0
    for option in (
        "--key",
        "--validation",
        "--network",
        "--store",
        "--ipfs-api",
        "--poll-interval",
        "--once",
        "--log-format",
        "--log-file",
        "--unreachable-after",
    ):
        assert option in run.output


def test_the_commands_defaults_are_the_node_settings_defaults() -> None:
    """The command repeats two NodeSettings defaults as literals (importing oracle.node would
    load web3 and numpy for `--help`); they must stay equal."""
    from fedledger.cli.oracle import run

    defaults = {param.name: param.default for param in run.params}
    settings = NodeSettings()
    assert defaults["poll_interval"] == settings.poll_interval
    assert defaults["unreachable_after"] == settings.unreachable_after


def test_once_does_the_available_work_and_exits(
    cli_bed: NodeBed,
    node_genesis: ModelWeights,
    node_honest: list[ModelWeights],
    node_bad_blobs: BadBlobs,
    validation_files: list[Path],
    oracle_env: dict[str, str],
) -> None:
    honest = [cli_bed.submit(index, encode(update)) for index, update in enumerate(node_honest[:2])]
    malformed = cli_bed.submit(2, node_bad_blobs.malformed)
    oracle = cli_bed.bed.oracles[0].address

    code, records, stdout = run_once(0, validation_files[0], oracle_env)

    assert code == 0, stdout
    for record in records:  # every line of stdout is one JSON object with the common keys
        assert {"ts", "level", "oracle", "event", "message"} <= record.keys()
        assert record["oracle"] == oracle
    assert records[0]["event"] == "started" and records[-1]["event"] == "stopped"
    # The malformed blob is rejected on arrival; the honest updates wait for the close.
    votes = {r["participant"]: r for r in records if r["event"] == "vote"}
    assert set(votes) == {malformed}
    assert {r["participant"] for r in records if r["event"] == "admitted"} == set(honest)
    assert (votes[malformed]["accept"], votes[malformed]["reason"]) == (False, "MALFORMED")
    assert Counter(vote.oracle for vote in cli_bed.votes()) == {oracle: 1}

    status = cli(oracle_env, "oracle", "status", "--key", "dev:1", "--json")
    assert status.exit_code == 0, status.output
    report = json.loads(status.output)
    assert (report["oracle"], report["registered"], report["round"]) == (oracle, True, 1)
    voted = {u["participant"]: u["voted"] for u in report["updates"]}
    assert voted == {malformed: True, **dict.fromkeys(honest, False)}

    # The second oracle settles the malformed one. Once the round is closed, each --once
    # judges the round and votes; the second of them proposes.
    assert run_once(1, validation_files[1], oracle_env)[0] == 0
    assert cli_bed.status(malformed) == (UpdateStatus.REJECTED, ReasonCode.MALFORMED)
    cli_bed.close_round()
    assert run_once(1, validation_files[1], oracle_env)[0] == 0
    code, records, stdout = run_once(0, validation_files[0], oracle_env)
    assert code == 0, stdout
    votes = {r["participant"]: r for r in records if r["event"] == "vote"}
    assert set(votes) == set(honest)
    for address in honest:
        assert (votes[address]["accept"], votes[address]["reason"]) == (True, "ACCEPTED")
        assert cli_bed.status(address) == (UpdateStatus.ACCEPTED, ReasonCode.ACCEPTED)
    [proposal] = [r for r in records if r["event"] == "propose"]
    aggregate = bounded_fedavg(node_genesis, node_honest[:2], [1, 1]).model
    expected = content_hash_of_blob(encode(aggregate))
    assert (proposal["round"], proposal["content_hash"]) == (1, "0x" + expected.hex())
    report = json.loads(cli(oracle_env, "oracle", "status", "--key", "dev:1", "--json").output)
    assert (report["state"], report["proposal"]) == ("closed", "0x" + expected.hex())
    assert not any(u["awaiting_vote"] for u in report["updates"])
    # A node that is not a registered oracle says so.
    outsider = cli(oracle_env, "oracle", "status", "--key", "dev:20", "--json")
    assert json.loads(outsider.output)["registered"] is False
    table = cli(oracle_env, "oracle", "status", "--key", "dev:1")
    assert table.exit_code == 0 and "0x" + expected.hex() in table.output


def test_a_bad_validation_file_is_refused_with_a_clear_message(
    cli_bed: NodeBed, oracle_env: dict[str, str], tmp_path: Path
) -> None:
    bogus = tmp_path / "validation.npz"
    bogus.write_bytes(b"not an npz archive")
    result = cli(oracle_env, "oracle", "run", "--key", "dev:1", "--validation", str(bogus))
    assert result.exit_code == 1
    assert "is not an .npz archive" in result.output and "pickle" not in result.output


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_node_cleanly_and_a_restart_finishes_the_work(
    cli_bed: NodeBed,
    node_honest: list[ModelWeights],
    start_oracle: Callable[[int], OracleProcess],
    validation_files: list[Path],
    oracle_env: dict[str, str],
    signum: int,
) -> None:
    oracle = start_oracle(0)
    oracle.wait_for("catch-up")  # the node is in its loop, following the chain
    submitted = [cli_bed.submit(index, encode(update)) for index, update in enumerate(node_honest)]
    oracle.wait_for("admitted")
    cli_bed.close_round()
    oracle.wait_for("vote")

    assert oracle.stop(signum) == 0  # mid-round, maybe mid-work: still a clean exit
    records = oracle.records()
    assert records[-1]["event"] == "stopped"
    assert all(r["level"] != "error" for r in records), records

    assert run_once(0, validation_files[0], oracle_env)[0] == 0
    votes = cli_bed.votes()
    assert sorted(vote.participant for vote in votes) == sorted(submitted)  # once each


def test_an_oracle_killed_mid_round_restarts_into_a_finalized_round_without_double_votes(
    cli_bed: NodeBed,
    node_genesis: ModelWeights,
    node_honest: list[ModelWeights],
    node_bad_blobs: BadBlobs,
    start_oracle: Callable[[int], OracleProcess],
) -> None:
    # Oracles 0 and 1 run, oracle 2 is down: with k = 2 every verdict needs both.
    killed, survivor = start_oracle(0), start_oracle(1)
    for oracle in (killed, survivor):
        oracle.wait_for("catch-up")
    honest = [cli_bed.submit(index, encode(update)) for index, update in enumerate(node_honest[:3])]
    wait_until(lambda: any(r["event"] == "admitted" for r in killed.records()), "a check", killed)
    killed.process.kill()  # SIGKILL: no chance to finish anything
    killed.process.wait(PATIENCE)

    # While it is down, more updates arrive and the round closes; the survivor judges the
    # round and votes, but nothing can settle without the killed oracle.
    late = cli_bed.submit(3, encode(node_honest[3]))
    attacker = cli_bed.submit(4, node_bad_blobs.sign_flip)
    everyone = [*honest, late, attacker]
    survivor_address = cli_bed.bed.oracles[1].address
    wait_until(
        lambda: sum(r["event"] == "admitted" for r in survivor.records()) == len(everyone),
        "the surviving oracle's checks",
        survivor,
    )
    cli_bed.close_round()
    wait_until(
        lambda: (
            {v.participant for v in cli_bed.votes() if v.oracle == survivor_address}
            >= set(everyone)
        ),
        "the surviving oracle's votes",
        survivor,
    )
    assert cli_bed.status(late)[0] == UpdateStatus.PENDING

    restarted = start_oracle(0)
    admin = cli_bed.bed.admin
    start = cli_bed.bed.deployment.block_number
    wait_until(lambda: admin.events(RoundFinalized, start), "the round finalized", restarted)

    # No oracle voted twice on anything; both voted on everything.
    votes = Counter((vote.oracle, vote.participant) for vote in cli_bed.votes())
    oracles = [cli_bed.bed.oracles[0].address, survivor_address]
    assert votes == {(oracle, p): 1 for oracle in oracles for p in everyone}
    for address in [*honest, late]:
        assert cli_bed.status(address) == (UpdateStatus.ACCEPTED, ReasonCode.ACCEPTED)
    assert cli_bed.status(attacker) == (UpdateStatus.REJECTED, ReasonCode.FAILED_VERIFICATION)
    aggregate = bounded_fedavg(node_genesis, node_honest, [1] * len(node_honest)).model
    expected = content_hash_of_blob(encode(aggregate))
    proposals = admin.events(AggregateProposed, start, round=1)
    assert sorted(p.oracle for p in proposals) == sorted(oracles)
    assert {p.content_hash for p in proposals} == {expected}
    model = admin.coordinator.latest_model()
    assert (model.round, model.state, model.content_hash) == (2, RoundState.OPEN, expected)
    # The restarted node read the round back from the chain alone and checked every update.
    checked = {r["participant"] for r in restarted.records() if r["event"] == "admitted"}
    assert checked == set(everyone)
    for oracle in (restarted, survivor):
        assert oracle.stop() == 0
