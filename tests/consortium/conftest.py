"""A real consortium for the tests: 3 organisations, each a geth v1.13 Clique signer and a
Kubo node, on free loopback ports, started and stopped by PID (fedledger.consortium).

It is one per test session (starting three geth and three Kubo takes a while on 2 shared
cores); tests that kill a node restart it before they end.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from fedledger.config import NetworkSettings, ProjectConfig
from fedledger.consortium.network import Consortium, OrgPorts
from fedledger.consortium.tools import ProcessFailed, ToolMissing

ORGS = 3


@pytest.fixture(scope="session")
def consortium_network(chain_config: ProjectConfig) -> NetworkSettings:
    """The repository's `consortium` network; the URL is organisation 1's (set below)."""
    return chain_config.network("consortium")


@pytest.fixture(scope="session")
def consortium(
    chain_config: ProjectConfig,
    consortium_network: NetworkSettings,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Consortium]:
    ports = [OrgPorts.free() for _ in range(ORGS)]
    try:
        group = Consortium.create(
            chain_config,
            consortium_network,
            tmp_path_factory.mktemp("consortium"),
            orgs=ORGS,
            ports=ports,
        )
        group.start(timeout=180)
    except (ToolMissing, ProcessFailed) as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield group
    finally:
        group.stop()


def org_network(network: NetworkSettings, rpc_url: str) -> NetworkSettings:
    """The consortium network as one organisation's clients see it: through its own geth."""
    return replace(network, rpc_url=rpc_url)
