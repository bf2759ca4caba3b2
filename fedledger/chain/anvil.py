"""The embedded development chain: an anvil process, and the RPC controls of a dev chain.

:class:`Anvil` starts and stops one anvil process (tests, benchmarks and the demo use it
as a context manager). :class:`EmbeddedChain` is the detached variant behind
``fedledger chain up|down|status``: the process outlives the command, and a small state
file under the project's state directory says where it runs. :class:`DevControls` wraps
the development RPC methods (snapshots, time travel, mining) that anvil and Ganache share.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Self

import httpx

from fedledger.chain.exceptions import AnvilError
from fedledger.config import ProjectConfig

ANVIL_PACKAGE = "@foundry-rs/anvil-linux-amd64"


def anvil_executable(config: ProjectConfig) -> Path:
    path = config.node_modules / ANVIL_PACKAGE / "bin" / "anvil"
    if not path.is_file():
        raise AnvilError(f"anvil is not installed at {path}: run `npm ci` (or `make setup`)")
    return path


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (for test chains)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def rpc_answers(url: str, timeout: float = 0.5) -> bool:
    """Whether a JSON-RPC node answers ``eth_chainId`` at ``url``."""
    try:
        response = httpx.post(
            url,
            json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
            timeout=timeout,
        )
        return response.status_code == 200 and "result" in response.json()
    except (httpx.HTTPError, ValueError):
        return False


@dataclass
class Anvil:
    """One anvil process. ``hardfork`` follows the compiler's ``evm_version`` so the chain
    runs exactly the opcodes the contracts were compiled for."""

    executable: Path
    host: str = "127.0.0.1"
    port: int = 8545
    accounts: int = 10
    chain_id: int = 31337
    hardfork: str | None = None
    block_time: float | None = None
    log_path: Path | None = None
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _log: IO[bytes] | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_config(
        cls,
        config: ProjectConfig,
        network: str | None = None,
        *,
        port: int | None = None,
        accounts: int | None = None,
        log_path: Path | None = None,
    ) -> Anvil:
        """An anvil for an ``embedded`` network of ``brownie-config.yaml``; ``port`` and
        ``accounts`` override the network's (a test chain on a free port, with more accounts)."""
        settings = config.network(network)
        if not settings.embedded:
            raise AnvilError(f"network {settings.name!r} is not an embedded chain")
        return cls(
            executable=anvil_executable(config),
            port=settings.port if port is None else port,
            accounts=settings.accounts if accounts is None else accounts,
            chain_id=settings.chain_id or 31337,
            hardfork=config.compiler_for(settings.name).evm_version,
            block_time=settings.block_time,
            log_path=log_path,
        )

    @property
    def rpc_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def command(self) -> list[str]:
        command = [
            str(self.executable),
            "--host", self.host,
            "--port", str(self.port),
            "--accounts", str(self.accounts),
            "--chain-id", str(self.chain_id),
        ]  # fmt: skip
        if self.hardfork:
            command += ["--hardfork", self.hardfork]
        if self.block_time:
            command += ["--block-time", str(self.block_time)]
        return command

    def start(self, timeout: float = 15.0, *, detach: bool = False) -> Self:
        """Start anvil and wait until it answers RPC. ``detach`` lets the process outlive
        this Python process (its own session, output to ``log_path``)."""
        if self.running:
            return self
        if rpc_answers(self.rpc_url):
            raise AnvilError(f"another chain already answers at {self.rpc_url}; pick another port")
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("ab")
        output: IO[bytes] | int = self._log if self._log is not None else subprocess.DEVNULL
        try:
            self._process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=detach,
            )
        except OSError as exc:
            raise AnvilError(f"cannot run {self.executable}: {exc}") from exc
        deadline = time.monotonic() + timeout
        while not rpc_answers(self.rpc_url, timeout=0.25):
            if self._process.poll() is not None:
                code = self._process.returncode
                self._close_log()
                self._process = None
                where = f"; see {self.log_path}" if self.log_path else ""
                raise AnvilError(f"anvil exited with code {code} during start-up{where}")
            if time.monotonic() > deadline:
                self.stop()
                raise AnvilError(f"anvil did not answer at {self.rpc_url} within {timeout:.0f} s")
            time.sleep(0.05)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@dataclass(frozen=True)
class EmbeddedChainInfo:
    """What ``fedledger chain up`` records about the anvil it left running."""

    network: str
    pid: int
    rpc_url: str
    chain_id: int
    log_path: str
    started_at: float


class EmbeddedChain:
    """The detached anvil of one embedded network, found again through its state file."""

    def __init__(self, config: ProjectConfig, network: str | None = None) -> None:
        self.config = config
        self.settings = config.network(network)
        if not self.settings.embedded:
            raise AnvilError(
                f"network {self.settings.name!r} is not embedded: start that node yourself"
            )
        self.state_file = config.state_dir / f"chain-{self.settings.name}.json"
        self.log_path = config.state_dir / f"chain-{self.settings.name}.log"

    def status(self) -> EmbeddedChainInfo | None:
        """The running chain, or None (a stale state file is removed)."""
        info = self._read_state()
        if info is None:
            return None
        if _is_anvil_process(info.pid) and rpc_answers(info.rpc_url):
            return info
        self.state_file.unlink(missing_ok=True)
        return None

    def up(self, timeout: float = 15.0) -> EmbeddedChainInfo:
        """Start the chain in the background, or return the one already running."""
        running = self.status()
        if running is not None:
            return running
        anvil = Anvil.from_config(self.config, self.settings.name, log_path=self.log_path)
        anvil.start(timeout, detach=True)
        assert anvil.pid is not None
        info = EmbeddedChainInfo(
            network=self.settings.name,
            pid=anvil.pid,
            rpc_url=anvil.rpc_url,
            chain_id=anvil.chain_id,
            log_path=str(self.log_path),
            started_at=time.time(),
        )
        anvil._close_log()  # the child keeps its own descriptor
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps(asdict(info), indent=2))
        return info

    def down(self, timeout: float = 10.0) -> bool:
        """Stop the chain; False if none was running."""
        info = self.status()
        self.state_file.unlink(missing_ok=True)
        if info is None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(info.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _is_anvil_process(info.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _is_anvil_process(info.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(info.pid, signal.SIGKILL)
        return True

    def _read_state(self) -> EmbeddedChainInfo | None:
        try:
            return EmbeddedChainInfo(**json.loads(self.state_file.read_text()))
        except (OSError, ValueError, TypeError):
            return None


def _is_anvil_process(pid: int) -> bool:
    """True if ``pid`` is a live anvil (not a zombie, not a reused pid of something else)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0]
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return command.endswith(b"anvil") and state != "Z"


class DevControls:
    """Development-chain RPC methods (anvil and Ganache both answer them)."""

    def __init__(self, rpc: Any) -> None:
        """``rpc`` is a callable ``(method, params) -> result``, e.g. ``ChainClient.rpc``."""
        self._rpc = rpc

    def snapshot(self) -> str:
        return str(self._rpc("evm_snapshot", []))

    def revert(self, snapshot_id: str) -> None:
        if not self._rpc("evm_revert", [snapshot_id]):
            raise AnvilError(f"the chain refused to revert to snapshot {snapshot_id}")

    def increase_time(self, seconds: int) -> None:
        """Move the clock forward and mine a block stamped with the new time."""
        self._rpc("evm_increaseTime", [int(seconds)])
        self.mine()

    def mine(self, blocks: int = 1) -> None:
        for _ in range(blocks):
            self._rpc("evm_mine", [])

    def timestamp(self) -> int:
        """Timestamp of the latest block (see ``ChainClient.chain_time`` for the clock)."""
        return int(self._rpc("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
