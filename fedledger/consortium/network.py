"""A consortium on one machine: N organisations, each a geth Clique signer and a Kubo node,
peered with each other over loopback, and an oracle (``fedledger oracle run``) with its
own account, encryption key file and validation data that talks only to those two.

:class:`Consortium` builds and runs one (tests and benchmarks use it as a context
manager); ``fedledger consortium up|down|status`` keeps one running in the background
and finds it again through a state file (:func:`read_state`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Self

import httpx

from fedledger.chain.anvil import free_port
from fedledger.chain.keys import dev_account, dev_accounts, load_keystore
from fedledger.config import NetworkSettings, ProjectConfig
from fedledger.consortium.geth import LOCAL_SIGNER_PASSWORD, GethNode, clique_genesis
from fedledger.consortium.kubo import KuboNode
from fedledger.consortium.oracle import OracleProcess, last_activity
from fedledger.consortium.tools import ProcessFailed, pid_alive, terminate_pid, tool_path

#: Ports an organisation uses, as offsets from its base: the layout of docs/consortium.md.
PORT_OFFSETS = {"rpc": 0, "ws": 1, "p2p": 2, "ipfs_api": 3, "ipfs_swarm": 4, "ipfs_gateway": 5}
PORT_STRIDE = 10


@dataclass(frozen=True)
class OrgPorts:
    rpc: int
    ws: int
    p2p: int
    ipfs_api: int
    ipfs_swarm: int
    ipfs_gateway: int

    @classmethod
    def from_base(cls, base: int) -> OrgPorts:
        return cls(**{name: base + offset for name, offset in PORT_OFFSETS.items()})

    @classmethod
    def free(cls) -> OrgPorts:
        """Ports nothing listens on right now (tests)."""
        return cls(**{name: free_port() for name in PORT_OFFSETS})


@dataclass
class Organisation:
    """One member: its chain node, its storage node, and its oracle (started only by
    :meth:`Consortium.start_oracles`: tests and benchmarks run oracles of their own)."""

    index: int  # 1..N
    geth: GethNode
    kubo: KuboNode
    oracle: OracleProcess

    @classmethod
    def assemble(
        cls, config: ProjectConfig, network: str, index: int, geth: GethNode, kubo: KuboNode
    ) -> Organisation:
        """Organisation ``index`` of these nodes; its oracle signs with dev account
        ``index`` (dev 0 is the admin) and uses ``org<index>/oracle/`` for its files."""
        oracle = OracleProcess(
            directory=geth.datadir.parent / "oracle",
            network=network,
            root=config.root,
            key=f"dev:{index}",
            address=dev_account(index).address,
            rpc_url=geth.rpc_url,
            ipfs_api=kubo.api_url,
        )
        return cls(index, geth, kubo, oracle)

    @property
    def ports(self) -> OrgPorts:
        return OrgPorts(
            rpc=self.geth.rpc_port,
            ws=self.geth.ws_port,
            p2p=self.geth.p2p_port,
            ipfs_api=self.kubo.api_port,
            ipfs_swarm=self.kubo.swarm_port,
            ipfs_gateway=self.kubo.gateway_port,
        )

    @property
    def name(self) -> str:
        return f"org{self.index}"

    def record(self) -> OrgRecord:
        return OrgRecord(
            name=self.name,
            rpc_url=self.geth.rpc_url,
            ws_url=self.geth.ws_url,
            ipfs_api=self.kubo.api_url,
            enode=self.geth.enode,
            ipfs_peer=self.kubo.swarm_address,
            signer=self.geth.signer.address,
            oracle_key=self.oracle.key,
            validation=str(self.oracle.validation),
            geth_pid=self.geth.pid,
            kubo_pid=self.kubo.pid,
            geth_log=str(self.geth.log_path),
            kubo_log=str(self.kubo.log_path),
            ports=asdict(self.ports),
            oracle_address=self.oracle.address,
            oracle_key_file=str(self.oracle.key_file),
            oracle_pid=self.oracle.pid,
            oracle_log=str(self.oracle.log_path),
        )


@dataclass(frozen=True)
class OrgRecord:
    """What the state file says about one organisation."""

    name: str
    rpc_url: str
    ws_url: str
    ipfs_api: str
    enode: str
    ipfs_peer: str
    signer: str
    oracle_key: str
    validation: str | None
    geth_pid: int | None
    kubo_pid: int | None
    geth_log: str
    kubo_log: str
    ports: dict[str, int]
    # The oracle (absent from the state files of before the oracles: not started then).
    oracle_address: str | None = None
    oracle_key_file: str | None = None
    oracle_pid: int | None = None
    oracle_log: str | None = None

    @property
    def pids(self) -> tuple[int, ...]:
        """Every process of the organisation, the oracle first (it stops before its nodes)."""
        return tuple(
            pid for pid in (self.oracle_pid, self.geth_pid, self.kubo_pid) if pid is not None
        )


@dataclass(frozen=True)
class ConsortiumState:
    network: str
    chain_id: int
    block_period: int
    directory: str
    orgs: tuple[OrgRecord, ...]
    started_at: float = field(default_factory=time.time)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> ConsortiumState:
        raw = json.loads(text)
        raw["orgs"] = tuple(OrgRecord(**org) for org in raw["orgs"])
        return cls(**raw)


class Consortium:
    """N organisations' geth and Kubo nodes, created in ``directory``."""

    def __init__(
        self,
        network: NetworkSettings,
        directory: Path,
        orgs: list[Organisation],
        block_period: int,
    ) -> None:
        self.network = network
        self.directory = directory
        self.orgs = orgs
        self.block_period = block_period

    @classmethod
    def create(
        cls,
        config: ProjectConfig,
        network: NetworkSettings,
        directory: Path,
        *,
        orgs: int = 3,
        ports: Sequence[OrgPorts] | None = None,
        block_period: int | None = None,
    ) -> Self:
        """Initialise every organisation's data directory and repository (no process yet).

        The genesis funds the network's dev accounts (``network.accounts``); organisation
        i's oracle signs with dev account i (dev 0 is the admin), so the ``--key dev:N``
        of the embedded chain works here too.
        """
        if orgs < 1:
            raise ValueError("a consortium needs at least one organisation")
        if network.chain_id is None:
            raise ValueError(f"network {network.name!r} needs a chain_id")
        geth_bin = tool_path(config, "geth")
        ipfs_bin = tool_path(config, "ipfs")
        period = int(block_period or network.block_time or 1)
        plan = (
            list(ports)
            if ports is not None
            else [
                OrgPorts.from_base((network.base_port or network.port) + PORT_STRIDE * i)
                for i in range(orgs)
            ]
        )
        if len(plan) != orgs:
            raise ValueError(f"{orgs} organisations need {orgs} port sets, got {len(plan)}")
        directory.mkdir(parents=True, exist_ok=True)
        members: list[Organisation] = []
        for index, org_ports in enumerate(plan, start=1):
            geth = GethNode.create(
                geth_bin,
                directory / f"org{index}" / "geth",
                network.chain_id,
                (org_ports.rpc, org_ports.ws, org_ports.p2p),
            )
            kubo = KuboNode(
                ipfs_bin,
                directory / f"org{index}" / "ipfs",
                api_port=org_ports.ipfs_api,
                swarm_port=org_ports.ipfs_swarm,
                gateway_port=org_ports.ipfs_gateway,
            )
            members.append(Organisation.assemble(config, network.name, index, geth, kubo))
        funded = [account.address for account in dev_accounts(network.accounts)]
        genesis = clique_genesis(
            network.chain_id, [org.geth.signer.address for org in members], funded, period
        )
        # `geth init` and `ipfs init` take seconds each (more on a busy machine): in parallel.
        with ThreadPoolExecutor(max_workers=2 * len(members)) as pool:
            jobs = [
                pool.submit(
                    org.geth.init,
                    genesis,
                    [other.geth.enode for other in members if other is not org],
                )
                for org in members
            ] + [pool.submit(org.kubo.init) for org in members]
            for job in jobs:
                job.result()
        for org in members:
            org.kubo.peer_with([other.kubo for other in members if other is not org])
        return cls(network, directory, members, period)

    @classmethod
    def reopen(
        cls, config: ProjectConfig, network: NetworkSettings, state: ConsortiumState
    ) -> Self:
        """The consortium a state file describes, on its existing data (after `down`)."""
        directory = Path(state.directory)
        members = []
        for index, record in enumerate(state.orgs, start=1):
            ports = OrgPorts(**record.ports)
            datadir = directory / f"org{index}" / "geth"
            geth = GethNode(
                executable=tool_path(config, "geth"),
                datadir=datadir,
                chain_id=state.chain_id,
                signer=load_keystore(datadir / "keystore" / "signer.json", LOCAL_SIGNER_PASSWORD),
                node_key=bytes.fromhex((datadir / "geth" / "nodekey").read_text().strip()),
                rpc_port=ports.rpc,
                ws_port=ports.ws,
                p2p_port=ports.p2p,
            )
            kubo = KuboNode(
                tool_path(config, "ipfs"),
                directory / f"org{index}" / "ipfs",
                api_port=ports.ipfs_api,
                swarm_port=ports.ipfs_swarm,
                gateway_port=ports.ipfs_gateway,
            )
            members.append(Organisation.assemble(config, network.name, index, geth, kubo))
        return cls(network, directory, members, state.block_period)

    # ---- running ---------------------------------------------------------------------

    def start(self, timeout: float = 90.0) -> Self:
        """Start every node, then wait until all are peered and blocks are being sealed."""
        try:
            for org in self.orgs:
                org.kubo.start()
            # Block 1's in-turn signer starts alone and seals block 1 (difficulty 2). The
            # others start after it, so their handshake sees its higher total difficulty and
            # they sync at once; they seal only once they have block 1. Started together,
            # signers may each seal a block 1 of their own while a fresh node discards
            # propagated blocks: each has then signed its head and waits forever (seen here).
            signers = sorted(org.geth.signer.address.lower() for org in self.orgs)
            in_turn = signers[1 % len(signers)]
            first = next(o for o in self.orgs if o.geth.signer.address.lower() == in_turn)
            rest = [org for org in self.orgs if org is not first]
            first.geth.start(mine=True)
            self._wait_for_height([first], 1, timeout)
            for org in rest:
                org.geth.start(mine=False)
            self.wait_until_connected(timeout, sealing=False)
            self._wait_for_height(rest, 1, timeout)
            for org in rest:
                org.geth.start_sealing()
            self.wait_until_connected(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_until_connected(self, timeout: float = 90.0, *, sealing: bool = True) -> None:
        """Every running geth sees every other running one, every Kubo node its peers,
        and (with ``sealing``) the chain has grown past block 1."""
        deadline = time.monotonic() + timeout
        live = [org for org in self.orgs if org.geth.running]
        for org in live:
            want = len(live) - 1
            while geth_peer_count(org.geth.rpc_url) < want:
                if time.monotonic() > deadline:
                    raise ProcessFailed(
                        f"{org.name}'s geth ({org.geth.rpc_url}) did not connect to its {want} "
                        f"peers within {timeout:g} s; see {org.geth.log_path}"
                    )
                time.sleep(0.2)
        kubos = [org for org in self.orgs if org.kubo.running]
        for org in kubos:
            others = [other.kubo.peer_id for other in kubos if other is not org]
            org.kubo.wait_for_peers(others, max(deadline - time.monotonic(), 1.0))
        if live and sealing:
            start = block_number(live[0].geth.rpc_url)
            while block_number(live[0].geth.rpc_url) < max(start + 1, 2):
                if time.monotonic() > deadline:
                    raise ProcessFailed(
                        f"the consortium chain seals no blocks; see {live[0].geth.log_path}"
                    )
                time.sleep(0.2)

    def _wait_for_height(self, orgs: list[Organisation], height: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for org in orgs:
            while block_number(org.geth.rpc_url) < height:
                if time.monotonic() > deadline:
                    raise ProcessFailed(
                        f"{org.name}'s geth did not reach block {height} within {timeout:g} s; "
                        f"see {org.geth.log_path}"
                    )
                time.sleep(0.2)

    def start_oracles(self, timeout: float = 180.0) -> None:
        """Start every organisation's oracle (their key files, validation data and the
        deployment must exist) and wait until each has logged ``started``."""
        try:
            for org in self.orgs:
                org.oracle.launch_node()
            for org in self.orgs:
                org.oracle.wait_until_started(timeout)
        except BaseException:
            for org in self.orgs:
                org.oracle.stop()
            raise

    def stop(self) -> None:
        for org in self.orgs:
            org.oracle.stop()
        for org in self.orgs:
            org.geth.stop()
            org.kubo.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def state(self) -> ConsortiumState:
        return ConsortiumState(
            network=self.network.name,
            chain_id=int(self.network.chain_id or 0),
            block_period=self.block_period,
            directory=str(self.directory),
            orgs=tuple(org.record() for org in self.orgs),
        )


def network_entry(settings: NetworkSettings, rpc_url: str) -> dict[str, Any]:
    """The consortium network as the project file of a run of its own names it (the
    demo's, a benchmark's): a client finds its organisation's geth in FEDLEDGER_RPC_URL,
    else at ``rpc_url``; chain id, confirmations and compiler are the network's."""
    return {
        "host_env": "FEDLEDGER_RPC_URL",
        "host": rpc_url,
        "chain_id": settings.chain_id,
        "poa": settings.poa,
        "confirmations": settings.confirmations,
        "compiler": dict(settings.compiler),
        # The genesis funds anvil's well-known accounts: `--key dev:N` works here too.
        "dev_accounts": settings.dev_accounts,
        "accounts": settings.accounts,
    }


# ---- the background consortium of `fedledger consortium up` --------------------------


def state_path(config: ProjectConfig, network: str) -> Path:
    return config.state_dir / "consortium" / network / "state.json"


def read_state(config: ProjectConfig, network: str) -> ConsortiumState | None:
    try:
        return ConsortiumState.from_json(state_path(config, network).read_text())
    except (OSError, ValueError, TypeError, KeyError):
        return None


def write_state(config: ProjectConfig, state: ConsortiumState) -> Path:
    path = state_path(config, state.network)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(state.to_json())
    return path


def stop_recorded(state: ConsortiumState) -> int:
    """Stop every process the state file names, by PID, the oracles first; how many were
    running."""
    stopped = 0
    oracles = [org.oracle_pid for org in state.orgs if org.oracle_pid is not None]
    nodes = [pid for org in state.orgs for pid in (org.geth_pid, org.kubo_pid) if pid is not None]
    for pid in oracles + nodes:
        if pid_alive(pid):
            stopped += terminate_pid(pid, timeout=30.0)
    return stopped


@dataclass(frozen=True)
class OrgStatus:
    name: str
    geth_running: bool
    kubo_running: bool
    block: int | None
    peers: int | None
    ipfs_peers: int | None
    oracle_running: bool = False
    #: The oracle's last log record, short (``event: message (round N)``).
    oracle_activity: str | None = None


def org_status(org: OrgRecord) -> OrgStatus:
    geth_up = org.geth_pid is not None and pid_alive(org.geth_pid)
    kubo_up = org.kubo_pid is not None and pid_alive(org.kubo_pid)
    block = peers = ipfs_peers = None
    if geth_up:
        try:
            block = block_number(org.rpc_url)
            peers = geth_peer_count(org.rpc_url)
        except (httpx.HTTPError, ValueError, KeyError):
            pass
    if kubo_up:
        try:
            answer = httpx.post(f"{org.ipfs_api}/api/v0/swarm/peers", timeout=3).json()
            ipfs_peers = len(answer.get("Peers") or [])
        except (httpx.HTTPError, ValueError):
            pass
    oracle_up = org.oracle_pid is not None and pid_alive(org.oracle_pid)
    activity = last_activity(Path(org.oracle_log)) if org.oracle_log else None
    return OrgStatus(org.name, geth_up, kubo_up, block, peers, ipfs_peers, oracle_up, activity)


# ---- small JSON-RPC reads (no ABI, no client: for health checks) ---------------------


def _rpc(url: str, method: str, params: list[Any] | None = None) -> Any:
    response = httpx.post(
        url,
        json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []},
        timeout=5,
    )
    return response.json()["result"]


def block_number(url: str) -> int:
    return int(_rpc(url, "eth_blockNumber"), 16)


def geth_peer_count(url: str) -> int:
    try:
        return int(_rpc(url, "net_peerCount"), 16)
    except (httpx.HTTPError, ValueError, KeyError):
        return 0
