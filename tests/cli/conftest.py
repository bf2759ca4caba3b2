"""Fixtures of the command tests: a deployment on the session's test anvil whose genesis
model is a real blob in the test project's embedded store, and a runner for `fedledger`
commands inside that project (``FEDLEDGER_ROOT``).

The test acts as the oracles where a verdict is needed (real votes, on the real chain):
the commands under test only read them.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner, Result

from fedledger.chain import FedLedger, save_deployment
from fedledger.chain.deployment import deployment_path
from fedledger.cli import main
from fedledger.config import ProjectConfig
from fedledger.crypto import generate_key_pair
from fedledger.ml import MNIST_MLP, ModelWeights, encode, initial_weights
from fedledger.storage import LocalStore, content_hash_of_blob
from tests.fixtures.chain import Testbed, TestbedFactory

#: Where the chain fixtures put the roles: dev account 0 is the admin, 1..7 oracles,
#: 8.. participants (tests/fixtures/chain.py).
ORACLE_KEYS = ("dev:1", "dev:2", "dev:3")
PARTICIPANT_KEYS = tuple(f"dev:{index}" for index in range(8, 14))
OUTSIDER_KEY = "dev:39"


@dataclass
class Cli:
    """The test project, its deployment and store, and a way to run commands in it."""

    project: ProjectConfig
    bed: Testbed
    store: LocalStore
    genesis: ModelWeights
    genesis_blob: bytes

    @property
    def admin(self) -> FedLedger:
        return self.bed.admin

    def run(self, *arguments: str) -> Result:
        return CliRunner().invoke(
            main, list(arguments), env={"FEDLEDGER_ROOT": str(self.project.root)}
        )

    def ok(self, *arguments: str) -> str:
        """Run a command that must succeed; its output."""
        result = self.run(*arguments)
        assert result.exit_code == 0, result.output
        return result.output

    def json(self, *arguments: str) -> Any:
        return json.loads(self.ok(*arguments, "--json"))

    def fails(self, *arguments: str, code: int = 1) -> str:
        """Run a command that must fail saying why in one line (after click's usage lines
        for a usage error, code 2); that line."""
        result = self.run(*arguments)
        assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
        lines = result.output.strip().splitlines()
        if code == 1:
            assert len(lines) == 1, result.output
        assert lines[-1].startswith("Error: "), result.output
        return lines[-1]


def deploy_cli_bed(
    project: ProjectConfig,
    factory: TestbedFactory,
    *,
    start: bool = True,
    encryption_keys: int | None = None,
    **overrides: Any,
) -> Cli:
    store = LocalStore(project.storage.local_root, max_blob_bytes=project.storage.max_blob_bytes)
    genesis = initial_weights(MNIST_MLP.id, 0)
    blob = encode(genesis)
    store.put(blob)
    bed = factory(genesis_model=content_hash_of_blob(blob) if start else None, **overrides)
    # Participants seal for the oracles' keys; these tests vote as the oracles themselves.
    for oracle in bed.oracles[:encryption_keys]:
        oracle.coordinator.register_encryption_key(generate_key_pair().public_key)
    # The commands look for the deployment of the project's default network.
    save_deployment(project, dataclasses.replace(bed.deployment, network="anvil"))
    return Cli(project, bed, store, genesis, blob)


CliFactory = Callable[..., Cli]


@pytest.fixture
def cli_factory(
    chain_project: ProjectConfig, chain_testbed_factory: TestbedFactory
) -> Iterator[CliFactory]:
    """``cli_factory(start=True, encryption_keys=None, **deploy_testbed options)`` -> Cli
    (``encryption_keys``: how many oracles register one, default all); the chain is reverted
    and the deployment file removed after the test."""
    yield functools.partial(deploy_cli_bed, chain_project, chain_testbed_factory)
    deployment_path(chain_project).unlink(missing_ok=True)


@pytest.fixture
def cli(cli_factory: CliFactory) -> Cli:
    """3 oracles (k = 2), 6 participants, round 1 open on a real genesis blob."""
    return cli_factory()
