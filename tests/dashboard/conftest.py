"""Fixtures of the dashboard tests: a deployment recorded in the test project (where
`fedledger dashboard` finds it) whose genesis model is in the project's store, in-process
oracle nodes to produce real verdicts, the real `fedledger dashboard` command serving on
a free loopback port, and headless Debian Chromium driven by Playwright.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from fedledger.chain import save_deployment
from fedledger.chain.deployment import deployment_path
from fedledger.config import ProjectConfig
from fedledger.ml import Mnist, ModelWeights, encode, save_dataset
from fedledger.storage import LocalStore, content_hash_from_cid
from oracle.key_files import KEY_FILE_DIR
from tests.cli.conftest import cli, cli_factory  # noqa: F401  (fixtures used here)
from tests.fixtures.chain import TestbedFactory
from tests.fixtures.servers import Servers
from tests.oracle.conftest import (  # noqa: F401  (fixtures used here)
    NODE_PARTICIPANTS,
    UPLOAD_CAP,
    NodeBed,
    node_bad_blobs,
    node_genesis,
    node_honest,
    node_validation,
    register_encryption_keys,
)

#: How long a test waits for the server, the chain or the page before it fails.
PATIENCE = 60.0
#: Test images the dashboard evaluates each round's model on (small: fast, still exact).
EVAL_SAMPLES = 1_000
CHROMIUM = Path("/usr/bin/chromium")
#: Chromium's flags on a closed network (docs/TOOLCHAIN: without the networking ones it
#: keeps trying to reach Google's services).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def eval_file(tmp_path_factory: pytest.TempPathFactory, mnist: Mnist) -> Path:
    """MNIST test images as the .npz `--eval` reads."""
    folder = tmp_path_factory.mktemp("eval")
    return save_dataset(mnist.test.subset(np.arange(EVAL_SAMPLES)), folder / "test.npz")


@pytest.fixture
def dash_bed(
    chain_project: ProjectConfig,
    chain_testbed_factory: TestbedFactory,
    node_genesis: ModelWeights,  # noqa: F811
    node_validation: list,  # noqa: F811
) -> Iterator[NodeBed]:
    """3 oracles (k = 2), round 1 open on a real genesis blob in the project's store, the
    deployment recorded for the project's default network; removed after the test."""

    def new_store(cap: int) -> LocalStore:
        return LocalStore(chain_project.storage.local_root, max_blob_bytes=cap)

    store = new_store(UPLOAD_CAP)
    genesis = content_hash_from_cid(store.put(encode(node_genesis)))
    bed = chain_testbed_factory(participants=NODE_PARTICIPANTS, genesis_model=genesis)
    save_deployment(chain_project, replace(bed.deployment, network="anvil"))
    folder = chain_project.state_dir / KEY_FILE_DIR
    shutil.rmtree(folder, ignore_errors=True)  # the project outlives each test's chain
    keys = register_encryption_keys(bed, folder)
    yield NodeBed(bed, store, new_store, node_validation, keys)
    deployment_path(chain_project).unlink(missing_ok=True)


@dataclass
class Dashboard:
    """A running `fedledger dashboard` and the URL it printed."""

    process: subprocess.Popen[str]
    url: str

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path.lstrip("/"), timeout=30)

    def json(self, path: str) -> Any:
        response = self.get(path)
        assert response.status_code == 200, response.text
        return response.json()


def wait_for(
    condition: Callable[[], Any], what: str, timeout: float = PATIENCE, pause: float = 0.1
) -> Any:
    """``condition()``'s first truthy value; fails after ``timeout`` naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout:g} s")
        time.sleep(pause)


@pytest.fixture
def start_dashboard(chain_project: ProjectConfig, servers: Servers) -> Callable[..., Dashboard]:
    """``start_dashboard(*options, root=None)`` runs `fedledger dashboard --port 0 *options`
    in the test project (or the project at ``root``) and returns once its API answers;
    stopped (by PID) after the test."""

    def start(*options: str, root: Path | None = None) -> Dashboard:
        process, url = servers.start(
            ["dashboard", "--port", "0", *options],
            root or chain_project.root,
            r"(http://127\.0\.0\.1:\d+/)",  # the URL line, printed before serving
            lines=1,
        )
        dashboard = Dashboard(process, url)
        wait_for(lambda: _answers(dashboard), "answer from the dashboard's API")
        return dashboard

    return start


def _answers(dashboard: Dashboard) -> bool:
    if dashboard.process.poll() is not None:
        raise AssertionError(f"the dashboard exited with {dashboard.process.returncode}")
    try:
        return dashboard.get("/api/state").status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium (never a downloaded browser), for the whole session."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise AssertionError(f"{CHROMIUM} is missing: `make setup-browser` installs it")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()
