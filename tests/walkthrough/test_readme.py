"""The README's walkthrough, run as written: its fenced bash blocks, parsed from README.md,
in one shell on a fresh project with its own embedded anvil, the way a person types them.

So the README cannot drift from the code. The only preparation is what the README says
comes before: the data files a `make demo` run leaves in `.fedledger/demo/data/` (made
here with the demo's own split, smaller, to keep the test fast).
"""

from __future__ import annotations

import copy
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from fedledger.chain.anvil import free_port
from fedledger.config import CONFIG_FILE, ProjectConfig, mnist_directory
from fedledger.ml import federated_split, load_mnist, save_dataset

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
#: The walkthrough: every bash block from this heading to the next top-level one.
SECTION_START = "## The three roles and their commands"
SECTION_END = "\n## "
#: Wall-clock limit of the whole walkthrough (about three minutes on an idle 2-core
#: machine, over ten when it is shared with other work).
WALKTHROUGH_SECONDS = 1_500


def walkthrough_blocks(readme: str) -> list[str]:
    start = readme.index(SECTION_START)
    end = readme.find(SECTION_END, start + len(SECTION_START))
    section = readme[start : end if end != -1 else None]
    return re.findall(r"^```bash\n(.*?)^```", section, flags=re.S | re.M)


def test_the_walkthrough_is_what_the_readme_says() -> None:
    """The parser sees the blocks a reader sees, in order (a guard on the test itself)."""
    blocks = walkthrough_blocks(README.read_text())
    assert blocks[0].startswith("source .venv/bin/activate")
    joined = "\n".join(blocks)
    commands = ("deploy", "oracle run", "participant submit", "round close", "rewards redeem",
                "chain down")  # fmt: skip
    for command in commands:
        assert f"fedledger {command}" in joined, command
    assert joined.index("set-access-price") < joined.index("rewards access")
    assert joined.index("rewards access") < joined.index("rewards redeem")
    assert joined.index("rewards transfer") < joined.index("rewards redeem")


@pytest.fixture
def fresh_project(tmp_path: Path, chain_config: ProjectConfig) -> Iterator[Path]:
    """A project directory like a fresh clone (configuration, contracts, tools, venv),
    its embedded chain on a free port, and the demo's data files."""
    root = tmp_path / "clone"
    root.mkdir()
    raw = copy.deepcopy(chain_config.raw)
    raw["networks"]["anvil"]["port"] = free_port()
    # The compiled artifacts are cached by content: sharing the build directory only
    # saves the compilation.
    raw.setdefault("project_structure", {})["build"] = str(chain_config.build_dir)
    (root / CONFIG_FILE).write_text(yaml.safe_dump(raw))
    for name in ("contracts", "node_modules", ".venv", "data"):
        (root / name).symlink_to(REPO / name)
    data = root / ".fedledger" / "demo" / "data"
    data.mkdir(parents=True)
    split = federated_split(
        load_mnist(mnist_directory(REPO)),
        num_clients=2,
        num_oracles=3,
        validation_size=400,
        samples_per_client=1_000,
        alpha=None,
        seed=0,
    )
    for index, dataset in enumerate(split.clients):
        save_dataset(dataset, data / f"participant-{index + 1:02d}.npz")
    for index, dataset in enumerate(split.validation):
        save_dataset(dataset, data / f"oracle-{index + 1}-validation.npz")
    yield root
    # Whatever the walkthrough left running: its chain (started detached by `chain up`).
    subprocess.run(
        [sys.executable, "-m", "fedledger", "chain", "down"],
        cwd=root,
        env=_environment(),
        capture_output=True,
        timeout=60,
    )


def _environment() -> dict[str, str]:
    keep = {name: value for name, value in os.environ.items() if not name.startswith("FEDLEDGER_")}
    return {**keep, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1", "COLUMNS": "100"}


@pytest.mark.slow
@pytest.mark.timeout(WALKTHROUGH_SECONDS + 120)
def test_the_readme_walkthrough_runs_as_written(fresh_project: Path, tmp_path: Path) -> None:
    script = "\n".join(["set -eo pipefail", *walkthrough_blocks(README.read_text())])
    before = {path.name for path in fresh_project.iterdir()}
    shell = subprocess.Popen(
        ["bash", "-c", script],
        cwd=fresh_project,
        env=_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its background oracles are in its process group
    )
    try:
        output, _ = shell.communicate(timeout=WALKTHROUGH_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(shell.pid, signal.SIGKILL)
        output, _ = shell.communicate()
        pytest.fail(f"the walkthrough did not finish in {WALKTHROUGH_SECONDS} s:\n{output}")
    finally:
        if shell.poll() is None:
            os.killpg(shell.pid, signal.SIGKILL)
    (tmp_path / "walkthrough.out").write_text(output)  # for a person reading a failure
    logs = {p.name: p.read_text() for p in (fresh_project / ".fedledger" / "logs").glob("*")}
    assert shell.returncode == 0, "".join(f"\n--- {n}\n{t}" for n, t in logs.items()) + output
    assert "Traceback" not in output
    # TensorFlow's start-up lines are silenced on `train` and `run`.
    for noise in ("absl::InitializeLog", "cpu_feature_guard", "oneDNN"):
        assert noise not in output, noise
    for name, text in logs.items():
        assert "Traceback" not in text, (name, text)
    # What the reader is told happens, happened.
    assert "follow the verdict with: fedledger participant status --wait --key dev:4" in output
    assert re.search(r"round 1 finalized: new global model 0x[0-9a-f]{64}", output), output
    # `participant run` shows the round's progress while it waits.
    assert re.search(r"round 1 open: \d of \d update\(s\) settled, \d+ vote\(s\) seen", output)
    assert "bought access to 0x" in output and "sent 1.5 FLR to" in output
    assert re.search(r"burned [0-9.,]+ FLR for [0-9.,]+ ETH", output), output
    # Nothing written outside .fedledger/ (no global.flmw, update.flmw in the root).
    assert {path.name for path in fresh_project.iterdir()} - before == set()


def _fedledger(root: Path, *arguments: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "fedledger", *arguments],
        cwd=root,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.slow
def test_an_oracle_node_survives_chain_down_and_up_with_one_clear_line(
    fresh_project: Path,
) -> None:
    """`chain down` / `chain up` under a running `oracle run` (issue 13, item 3): the node
    says once that the chain is another one and must be redeployed, and keeps running."""
    _fedledger(fresh_project, "chain", "up")
    _fedledger(fresh_project, "deploy", "--oracle", "0x70997970C51812dc3A010C7d01b50e0d17dc79C8")
    _fedledger(fresh_project, "admin", "start", "--arch", "mnist-mlp-784-128-10/v1")
    _fedledger(fresh_project, "oracle", "key", "create", "--key", "dev:1")  # `run` reads it
    log = fresh_project / ".fedledger" / "oracle.log"
    validation = fresh_project / ".fedledger" / "demo" / "data" / "oracle-1-validation.npz"
    with open(log, "w") as handle:
        node = subprocess.Popen(
            [sys.executable, "-m", "fedledger", "oracle", "run", "--key", "dev:1",
             "--validation", str(validation), "--poll-interval", "0.2"],
            cwd=fresh_project, env=_environment(), stdout=handle, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_for(lambda: "global model loaded" in log.read_text(), "the node to start", node)
        _fedledger(fresh_project, "chain", "down")
        _wait_for(lambda: "cannot reach the chain" in log.read_text(), "the outage line", node)
        _fedledger(fresh_project, "chain", "up")
        _wait_for(lambda: "different chain" in log.read_text(), "the different-chain line", node)
        time.sleep(3)  # several more polls: still one line, still running
        text = log.read_text()
        assert node.poll() is None, text
        assert "Traceback" not in text and "InsufficientDataBytes" not in text, text
        assert len([line for line in text.splitlines() if "different chain" in line]) == 1, text
        assert len([line for line in text.splitlines() if "cannot reach" in line]) == 1, text
    finally:
        node.send_signal(signal.SIGTERM)
        node.wait(60)


def _wait_for(condition: Callable[[], bool], what: str, process: subprocess.Popen[bytes]) -> None:
    give_up = time.monotonic() + 120
    while not condition():
        assert process.poll() is None, f"the node exited while waiting for {what}"
        assert time.monotonic() < give_up, f"no {what} within 120 s"
        time.sleep(0.2)
