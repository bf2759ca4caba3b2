"""One go-ethereum v1.13 Clique signer, and the genesis of a consortium's chain.

Why these settings (docs/consortium.md has the long form):

- Clique proof-of-authority: v1.13.15 is the last geth that seals Clique blocks.
- The genesis stops before Shanghai (no ``shanghaiTime``) and has no terminal total
  difficulty: geth 1.13's Clique cannot pass Shanghai with several signers, and a passed
  TTD stops block production. Contracts for this chain compile for ``paris``.
- No discovery, no NAT: a node dials exactly its ``StaticNodes`` (the other
  organisations' enodes) and redials them after either side restarts.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_keys import keys

from fedledger.chain.anvil import rpc_answers
from fedledger.chain.keys import write_keystore
from fedledger.consortium.tools import LoggedProcess, ProcessFailed

#: Ether (wei) every funded account starts with.
FUNDING = 10**24
GAS_LIMIT = 30_000_000
#: Password of the signer keystores of a *local* consortium (the files stay on this machine).
LOCAL_SIGNER_PASSWORD = "local-consortium-signer"


def clique_genesis(
    chain_id: int, signers: Sequence[str], funded: Sequence[str], period: int
) -> dict[str, Any]:
    """A Clique genesis with ``signers`` authorised from block 0 and ``funded`` holding
    ether. Every fork up to London at block 0, and nothing after it (see module docs)."""
    extra = "0x" + "00" * 32 + "".join(s.lower().removeprefix("0x") for s in signers) + "00" * 65
    forks = [
        "homesteadBlock",
        "eip150Block",
        "eip155Block",
        "eip158Block",
        "byzantiumBlock",
        "constantinopleBlock",
        "petersburgBlock",
        "istanbulBlock",
        "muirGlacierBlock",
        "berlinBlock",
        "londonBlock",
        "arrowGlacierBlock",
        "grayGlacierBlock",
    ]
    return {
        "config": {
            "chainId": chain_id,
            **{fork: 0 for fork in forks},
            "clique": {"period": period, "epoch": 30_000},
        },
        # Now, not 0: from a genesis in 1970 the signers would race through decades of
        # one-second slots, forking as they go.
        "timestamp": hex(int(time.time())),
        "difficulty": "0x1",
        "gasLimit": hex(GAS_LIMIT),
        "extradata": extra,
        "alloc": {
            address.lower().removeprefix("0x"): {"balance": hex(FUNDING)} for address in funded
        },
    }


def enode_id(node_key: bytes) -> str:
    """The 64-byte public key (hex) that names a node with this p2p key."""
    return keys.PrivateKey(node_key).public_key.to_hex().removeprefix("0x")


@dataclass
class GethNode(LoggedProcess):
    """One organisation's geth: data directory, signer account, ports; the process while it
    runs. The data directory survives a stop, so a restarted node syncs from where it was."""

    executable: Path
    datadir: Path
    chain_id: int
    signer: LocalAccount
    node_key: bytes
    rpc_port: int
    ws_port: int
    p2p_port: int
    host: str = "127.0.0.1"
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    #: geth flushes its database on SIGTERM.
    stop_timeout: ClassVar[float] = 30.0

    @classmethod
    def create(cls, executable: Path, datadir: Path, chain_id: int, ports: Sequence[int]) -> Self:
        """A node with a fresh signer key and p2p key (``ports``: rpc, ws, p2p)."""
        rpc, ws, p2p = ports
        return cls(
            executable=executable,
            datadir=datadir,
            chain_id=chain_id,
            signer=Account.create(),
            node_key=bytes(Account.create().key),
            rpc_port=rpc,
            ws_port=ws,
            p2p_port=p2p,
        )

    @property
    def rpc_url(self) -> str:
        return f"http://{self.host}:{self.rpc_port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.ws_port}"

    @property
    def enode(self) -> str:
        return f"enode://{enode_id(self.node_key)}@{self.host}:{self.p2p_port}"

    @property
    def log_path(self) -> Path:
        return self.datadir.parent / f"{self.datadir.name}.log"

    def init(self, genesis: dict[str, Any], static_nodes: Sequence[str]) -> Self:
        """Write genesis, keys and peers into the data directory and ``geth init`` it."""
        self.datadir.mkdir(parents=True, exist_ok=True)
        genesis_file = self.datadir / "genesis.json"
        genesis_file.write_text(json.dumps(genesis, indent=2))
        write_keystore(self.signer, self.datadir / "keystore" / "signer.json", self._password())
        self._password_file().write_text(self._password())
        (self.datadir / "geth").mkdir(exist_ok=True)
        (self.datadir / "geth" / "nodekey").write_text(self.node_key.hex())
        nodes = ", ".join(json.dumps(node) for node in static_nodes)
        (self.datadir / "config.toml").write_text(
            f"[Node.P2P]\nStaticNodes = [{nodes}]\nTrustedNodes = [{nodes}]\n"
        )
        result = subprocess.run(
            [str(self.executable), "--datadir", str(self.datadir), "init", str(genesis_file)],
            capture_output=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise ProcessFailed(
                f"`geth init` failed in {self.datadir}: {result.stderr.decode(errors='replace')}"
            )
        return self

    def command(self, *, mine: bool = True) -> list[str]:
        address = self.signer.address
        sealing = ["--mine"] if mine else []
        return [
            str(self.executable),
            "--config", str(self.datadir / "config.toml"),
            "--datadir", str(self.datadir),
            "--networkid", str(self.chain_id),
            "--port", str(self.p2p_port),
            "--nodiscover", "--nat", "none", "--maxpeers", "50",
            "--http", "--http.addr", self.host, "--http.port", str(self.rpc_port),
            "--http.api", "eth,net,web3,clique,admin,txpool,miner",
            "--ws", "--ws.addr", self.host, "--ws.port", str(self.ws_port),
            "--ws.api", "eth,net,web3",
            "--authrpc.port", "0",
            "--ipcdisable",
            "--syncmode", "full", "--gcmode", "archive",
            *sealing, "--miner.etherbase", address,
            "--unlock", address, "--password", str(self._password_file()),
            "--allow-insecure-unlock",
            "--rpc.txfeecap", "0",
            "--verbosity", "2",
        ]  # fmt: skip

    def start(self, ready_timeout: float = 60.0, *, mine: bool = True) -> Self:
        """Start geth in its own session; returns once its RPC answers. ``mine=False``
        starts it without sealing (:meth:`start_sealing` later): signers of a new chain
        that seal before they are peered each make their own block 1 and, each having
        signed its head, wait for the others forever."""
        if self.running:
            return self
        self.launch(self.command(mine=mine))
        self.wait_until(
            lambda: rpc_answers(self.rpc_url, timeout=0.5),
            "geth",
            f"did not answer at {self.rpc_url}",
            ready_timeout,
        )
        return self

    def start_sealing(self) -> None:
        """Begin sealing blocks (``miner_start``)."""
        response = httpx.post(
            self.rpc_url,
            json={"jsonrpc": "2.0", "id": 1, "method": "miner_start", "params": []},
            timeout=30,
        ).json()
        if "error" in response:
            raise ProcessFailed(f"geth at {self.rpc_url} refused miner_start: {response['error']}")

    def _password(self) -> str:
        return LOCAL_SIGNER_PASSWORD

    def _password_file(self) -> Path:
        return self.datadir / "signer.password"
