"""One Kubo (go-ipfs) daemon, configured for a closed network.

A node talks to nobody but the peers it is told about: no bootstrap list, no AutoConf
(which would fetch one), no MDNS, no DHT or other routing, no AutoTLS, no telemetry, and
every address on 127.0.0.1 (or the host given). Nodes of a consortium find each other
through ``Peering.Peers`` (Kubo keeps those connections up and reconnects after a restart)
and exchange blocks with bitswap, which asks connected peers directly.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import httpx

from fedledger.consortium.tools import LoggedProcess, ProcessFailed

#: ``IPFS_TELEMETRY=off`` keeps Kubo's telemetry plugin from trying to reach its server.
_KUBO_ENV = {"IPFS_TELEMETRY": "off", "GOLOG_LOG_LEVEL": "error"}


@dataclass
class KuboNode(LoggedProcess):
    """A Kubo repository and (while running) its daemon, found again by its ports."""

    executable: Path
    repo: Path
    api_port: int
    swarm_port: int
    gateway_port: int
    host: str = "127.0.0.1"
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

    @property
    def log_path(self) -> Path:
        return self.repo.parent / f"{self.repo.name}.log"

    @property
    def peer_id(self) -> str:
        return str(self._config()["Identity"]["PeerID"])

    @property
    def swarm_address(self) -> str:
        """The multiaddr other nodes dial, with this node's peer id."""
        return f"/ip4/{self.host}/tcp/{self.swarm_port}/p2p/{self.peer_id}"

    # ---- repository ------------------------------------------------------------------

    def init(self) -> Self:
        """Create the repository (once) and write the closed-network configuration."""
        if not (self.repo / "config").is_file():
            self.repo.parent.mkdir(parents=True, exist_ok=True)
            result = subprocess.run(
                [str(self.executable), "init", "--profile=test", "--empty-repo"],
                env=self._env(),
                capture_output=True,
                timeout=120,
            )
            if result.returncode != 0:
                raise ProcessFailed(
                    f"`ipfs init` failed in {self.repo}: {result.stderr.decode(errors='replace')}"
                )
        config = self._config()
        config["Addresses"] = {
            **config.get("Addresses", {}),
            "API": f"/ip4/{self.host}/tcp/{self.api_port}",
            "Gateway": f"/ip4/{self.host}/tcp/{self.gateway_port}",
            "Swarm": [f"/ip4/{self.host}/tcp/{self.swarm_port}"],
            "Announce": [f"/ip4/{self.host}/tcp/{self.swarm_port}"],
            "NoAnnounce": [],
        }
        config["Bootstrap"] = []
        config["AutoConf"] = {"Enabled": False}
        config.setdefault("Discovery", {})["MDNS"] = {"Enabled": False}
        config["Routing"] = {**config.get("Routing", {}), "Type": "none"}
        config["AutoTLS"] = {"Enabled": False}
        swarm = config.setdefault("Swarm", {})
        swarm["DisableNatPortMap"] = True
        swarm["RelayClient"] = {"Enabled": False}
        swarm["RelayService"] = {"Enabled": False}
        swarm["Transports"] = {
            "Network": {
                "QUIC": False,
                "WebTransport": False,
                "WebRTCDirect": False,
                "Websocket": False,
                "TCP": True,
            }
        }
        config.setdefault("Peering", {}).setdefault("Peers", [])
        self._write_config(config)
        return self

    def peer_with(self, others: list[KuboNode]) -> None:
        """Name ``others`` in ``Peering.Peers`` (takes effect at the next start)."""
        config = self._config()
        config["Peering"] = {
            "Peers": [
                {"ID": other.peer_id, "Addrs": [f"/ip4/{other.host}/tcp/{other.swarm_port}"]}
                for other in others
            ]
        }
        self._write_config(config)

    # ---- daemon ----------------------------------------------------------------------

    def start(self, ready_timeout: float = 60.0) -> Self:
        """Start the daemon in its own session; returns once the RPC API answers."""
        if self.running:
            return self
        (self.repo / "api").unlink(missing_ok=True)
        self.launch(
            [str(self.executable), "daemon", "--migrate=false", "--enable-gc=false"],
            env=self._env(),
        )
        self.wait_until(self.answers, "Kubo", f"did not answer at {self.api_url}", ready_timeout)
        return self

    def answers(self) -> bool:
        try:
            return httpx.post(f"{self.api_url}/api/v0/version", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def connect(self, other: KuboNode) -> None:
        """Add ``other`` as a peering peer of the running daemon (and so dial it now)."""
        self.rpc("swarm/peering/add", arg=other.swarm_address)

    def peers(self) -> list[str]:
        """Peer ids this node is connected to."""
        answer = self.rpc("swarm/peers")
        return [str(peer["Peer"]) for peer in answer.get("Peers") or []]

    def wait_for_peers(self, peer_ids: list[str], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            missing = set(peer_ids) - set(self.peers())
            if not missing:
                return
            if time.monotonic() > deadline:
                raise ProcessFailed(
                    f"Kubo at {self.api_url} did not connect to {sorted(missing)} within "
                    f"{timeout:g} s (swarm ports closed?)"
                )
            time.sleep(0.2)

    def rpc(self, command: str, **params: str) -> dict[str, Any]:
        response = httpx.post(f"{self.api_url}/api/v0/{command}", params=params, timeout=30)
        if response.status_code != 200:
            raise ProcessFailed(f"Kubo at {self.api_url} refused {command}: {response.text}")
        text = response.text.strip().splitlines()
        return json.loads(text[-1]) if text else {}

    def __enter__(self) -> Self:
        return self.init().start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ---- internals -------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        return {**os.environ, **_KUBO_ENV, "IPFS_PATH": str(self.repo)}

    def _config(self) -> dict[str, Any]:
        return dict(json.loads((self.repo / "config").read_text()))

    def _write_config(self, config: dict[str, Any]) -> None:
        (self.repo / "config").write_text(json.dumps(config, indent=2))
