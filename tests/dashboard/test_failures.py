"""What the dashboard and `fedledger rounds` do with bad input and a chain that goes away:
one line saying what to do, never a traceback; the page shows the line and keeps polling."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from playwright.sync_api import expect

from fedledger.chain import (
    Anvil,
    ArtifactSet,
    ChainClient,
    DeployParams,
    abi_registry,
    connect_web3,
    deploy,
    dev_accounts,
    save_deployment,
)
from fedledger.chain.anvil import free_port
from fedledger.cli import main
from fedledger.config import ProjectConfig
from tests.dashboard.conftest import Dashboard, wait_for
from tests.fixtures.chain import content_hash, write_project
from tests.oracle.conftest import NodeBed


def _fails(project: ProjectConfig, *arguments: str) -> str:
    result = CliRunner().invoke(main, list(arguments), env={"FEDLEDGER_ROOT": str(project.root)})
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("Error: "), result.output
    return lines[-1]


def test_bad_evaluation_sets_and_ports_are_one_line(
    dash_bed: NodeBed, chain_project: ProjectConfig, tmp_path: Path
) -> None:
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not an npz archive at all")
    for command in ("dashboard", "rounds"):
        assert "no such file" in _fails(chain_project, command, "--eval", str(tmp_path / "no.npz"))
        line = _fails(chain_project, command, "--eval", str(garbage))
        assert "garbage.npz is not an .npz archive" in line and "pickle" not in line
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        line = _fails(chain_project, "dashboard", "--port", port)
    assert f"cannot listen on 127.0.0.1:{port}" in line and "--port" in line
    assert "0<=x<=65535" in _fails(chain_project, "dashboard", "--port", "70000")


def test_without_a_deployment_both_commands_say_to_deploy(
    chain_project: ProjectConfig,
) -> None:
    for command in ("dashboard", "rounds"):
        assert "fedledger deploy" in _fails(chain_project, command)


@pytest.fixture
def own_chain(chain_config: ProjectConfig, chain_artifacts: ArtifactSet, tmp_path: Path) -> Any:
    """A deployment on an anvil of this test's own (the test stops it)."""
    anvil = Anvil.from_config(chain_config, port=free_port(), accounts=5)
    anvil.start()
    root = tmp_path / "project"
    root.mkdir()
    (root / "contracts").symlink_to(chain_config.contracts_dir)
    project = write_project(
        root,
        chain_config,
        anvil={"port": anvil.port, "accounts": anvil.accounts},
        build_dir=chain_config.build_dir,
    )
    client = ChainClient(connect_web3(project.network("anvil")), abi_registry(chain_artifacts))
    accounts = dev_accounts(anvil.accounts)
    params = DeployParams(oracles=(accounts[1].address,), genesis_model=content_hash("genesis"))
    save_deployment(project, deploy(client, accounts[0], chain_artifacts, params, network="anvil"))
    yield anvil, project
    anvil.stop()


def test_a_chain_that_stops_is_one_line_on_the_api_and_on_the_page(
    own_chain: Any, start_dashboard: Callable[..., Dashboard], browser: Any
) -> None:
    anvil, project = own_chain
    dashboard = start_dashboard("--refresh", "0.2", root=project.root)
    page = browser.new_page()
    try:
        page.goto(dashboard.url)
        expect(page.locator("#round-number")).to_have_text("1", timeout=60_000)

        anvil.stop()
        response = wait_for(
            lambda: (r := dashboard.get("/api/state")).status_code == 503 and r,
            "503 from the API",
        )
        error = response.json()["error"]
        assert "cannot reach the chain" in error and "fedledger chain up" in error
        assert "\n" not in error
        expect(page.locator("#problem")).to_contain_text("cannot reach the chain", timeout=60_000)
        expect(page.locator("#round-number")).to_have_text("1")  # the last state stays shown
    finally:
        page.close()
