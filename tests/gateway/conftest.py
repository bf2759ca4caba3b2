"""Fixtures of the gateway tests: the real `fedledger gateway` served by uvicorn on a free
loopback port (a process of its own, stopped by PID), registered on the session's test
anvil, and a resource the admin sells through it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from fedledger.chain import FedLedger
from fedledger.chain.access import GatewayDomain, SignedDownload, sign_download
from fedledger.storage import resource_path
from tests.chain.test_token_and_vault import earn
from tests.cli.conftest import Cli, CliFactory, cli, cli_factory  # noqa: F401  (fixtures)
from tests.fixtures.servers import Servers

PATIENCE = 60.0
#: The resource's size: about the MLP model's (407 KB), random bytes.
RESOURCE_BYTES = 407_000
PRICE_TOKENS = "2"


@dataclass
class Gateway:
    """A running `fedledger gateway`: its process and URL."""

    process: subprocess.Popen[str]
    url: str
    key_file: Path

    def post(self, resource: bytes, body: Any) -> httpx.Response:
        return httpx.post(self.url.rstrip("/") + resource_path(resource), json=body, timeout=30)


@pytest.fixture
def start_gateway(
    cli: Cli,  # noqa: F811
    tmp_path: Path,
    servers: Servers,
) -> Callable[..., Gateway]:
    """``start_gateway(*options)`` creates a key file, runs `fedledger gateway --port 0`
    in the test project and returns once it printed its URL; stopped after the test."""

    def start(*options: str, name: str = "gateway") -> Gateway:
        key_file = tmp_path / f"{name}.json"
        cli.ok("gateway", "key", "--key-file", str(key_file))
        process, url = servers.start(
            ["gateway", "--port", "0", "--key-file", str(key_file), *options],
            cli.project.root,
            r" at (http://127\.0\.0\.1:\d+/)",
        )
        return Gateway(process, url, key_file)

    return start


@dataclass
class Shop:
    """A deployment with a registered gateway and a resource on sale through it."""

    cli: Cli
    gateway: Gateway
    resource: bytes
    data: bytes
    buyer: FedLedger  # dev:8, holds tokens
    buyer_key: str

    @property
    def resource_hex(self) -> str:
        return "0x" + self.resource.hex()

    @property
    def domain(self) -> GatewayDomain:
        deployment = self.cli.bed.deployment
        assert deployment.gateways is not None
        return GatewayDomain(deployment.chain_id, deployment.gateways)

    def signed(self, account: Any = None, **overrides: Any) -> SignedDownload:
        """A request by ``account`` (default the buyer) for the resource, valid 2 minutes."""
        chain_now = self.cli.bed.client.chain_time()
        options: dict[str, Any] = {
            "domain": self.domain,
            "resource": self.resource,
            "expiry": chain_now + 120,
        }
        options.update(overrides)
        return sign_download(account or self.buyer.signer, **options)


def register_gateway(cli: Cli, gateway: Gateway, address: str) -> None:  # noqa: F811
    public = cli.ok("gateway", "key", "--key-file", str(gateway.key_file)).split()[3]
    cli.ok(
        "admin",
        "set-gateway",
        address,
        "--encryption-key",
        public,
        "--url",
        gateway.url,
        "--key",
        "dev:0",
    )


def open_shop(
    cli: Cli,  # noqa: F811
    gateway: Gateway,
    tmp_path: Path,
    *,
    duration: int = 0,
) -> Shop:
    """Register ``gateway``, have dev:8 earn tokens, put a random blob on sale."""
    register_gateway(cli, gateway, cli.bed.oracles[0].address)
    buyer = earn(cli.bed, 0)
    data = os.urandom(RESOURCE_BYTES)
    source = tmp_path / "supplementary.bin"
    source.write_bytes(data)
    added = cli.json(
        "admin",
        "add-resource",
        str(source),
        "--price",
        PRICE_TOKENS,
        "--duration",
        str(duration),
        "--key",
        "dev:0",
    )
    resource = bytes.fromhex(added["resource"].removeprefix("0x"))
    return Shop(cli, gateway, resource, data, buyer, "dev:8")


@pytest.fixture
def shop(cli: Cli, start_gateway: Callable[..., Gateway], tmp_path: Path) -> Shop:  # noqa: F811
    return open_shop(cli, start_gateway(), tmp_path)
