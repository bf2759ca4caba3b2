"""The command lines of the demo's children, started in a :class:`ProcessGroup`:
``fedledger oracle run`` for each oracle, and ``fedledger participant host`` for the
participants, a few to a process (each with its own key, data, seed and log; one
TensorFlow import per process instead of one per participant)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from fedledger.access import default_gateway_key_file
from fedledger.chain import FedLedger
from fedledger.chain.anvil import free_port
from fedledger.config import ProjectConfig
from fedledger.crypto import EncryptionKeyPair, OracleKeyFile, key_pair_from_secret
from fedledger.demo.cast import Cast
from fedledger.demo.config import DemoConfig
from fedledger.demo.errors import DemoError
from fedledger.demo.processes import Child, ProcessGroup
from fedledger.demo.workspace import NETWORK, Workspace
from fedledger.participant import derive_seed
from fedledger.participant.behaviours import COPIERS
from fedledger.participant.host_plan import HostedParticipant, HostPlan

#: The variable that points a child at its organisation's geth (the demo network's host_env).
RPC_URL_ENV = "FEDLEDGER_RPC_URL"
#: Seconds between two looks at the chain while waiting (the demo's and its children's).
POLL_SECONDS = 0.25


#: Processes the participants are hosted in (one TensorFlow each): one per core of the
#: 2-core machine the demo is made for. On a consortium, one per organisation instead.
PARTICIPANT_PROCESSES = 2
#: Wall-clock seconds the participant processes may take to import TensorFlow and connect.
READY_SECONDS = 180.0


def participant_processes(config: DemoConfig) -> int:
    """How many processes host the participants: participant ``i`` is in process
    ``i % participant_processes(config)``, so on a consortium every participant of a
    process uses the same organisation's nodes."""
    if config.organisations:
        return min(len(config.organisations), config.participants)
    return min(PARTICIPANT_PROCESSES, config.participants)


def _nodes_of(config: DemoConfig, index: int) -> tuple[str, str | None, dict[str, str]]:
    """The store kind, Kubo API and environment of child ``index``: on a consortium, its
    organisation's Kubo and geth (FEDLEDGER_RPC_URL), else the demo's."""
    organisation = config.organisation_of(index)
    if organisation is None:
        return config.store, config.ipfs_api, {}
    rpc_url, ipfs_api = organisation
    return "ipfs", ipfs_api, {RPC_URL_ENV: rpc_url}


def start_oracles(
    processes: ProcessGroup,
    config: DemoConfig,
    cast: Cast,
    workspace: Workspace,
    paths: dict[str, list[str]],
) -> str:
    """Start every oracle process; returns a line saying so."""
    for index, account in enumerate(cast.oracles):
        store, ipfs_api, env = _nodes_of(config, index)
        name = f"oracle-{index + 1}"
        arguments = [
            "oracle", "run",
            "--key", cast.keys[account.address],
            "--validation", paths["oracle"][index],
            "--poll-interval", str(POLL_SECONDS),
            "--log-format", "json",
            "--network", NETWORK, "--store", store,
            *(["--ipfs-api", ipfs_api] if ipfs_api else []),
        ]  # fmt: skip
        processes.start(
            name, "oracle", account.address, arguments, workspace.log_path(name), env=env
        )
    return f"started {config.oracles} oracle processes; logs in {workspace.logs_dir}"


def start_participants(
    processes: ProcessGroup,
    config: DemoConfig,
    cast: Cast,
    workspace: Workspace,
    paths: dict[str, list[str]],
) -> tuple[str, list[Path]]:
    """Start the processes that host the participants (they import TensorFlow and wait
    for round 1); returns a line saying what started and the files they create once
    they are ready (:func:`wait_until_ready`)."""
    behaviours = config.behaviours()
    count = participant_processes(config)
    ready_files = []
    for number in range(count):
        indices = range(number, config.participants, count)
        hosted = []
        for index in indices:
            # A copier's partner is participant 1 (honest): a colluder trains its run again
            # (its data and seed), which is the plaintext a partner would hand over.
            copier = behaviours[index] in COPIERS
            source = 0 if copier else index
            hosted.append(
                HostedParticipant(
                    key=cast.keys[cast.participants[index].address],
                    data=Path(paths["participant"][source]),
                    behaviour=behaviours[index],
                    seed=derive_seed(config.seed, source),
                    log=workspace.log_path(f"participant-{index + 1:02d}"),
                    partner=str(cast.participants[0].address) if copier else None,
                )
            )
        store, ipfs_api, env = _nodes_of(config, number)
        name = f"participants-{number + 1}"
        plan = HostPlan(
            network=NETWORK,
            store=store,
            ipfs_api=ipfs_api,
            architecture=config.architecture,
            rounds=config.rounds,
            epochs=config.epochs,
            poll_interval=POLL_SECONDS,
            ready_file=workspace.logs_dir / f"{name}.ready",
            participants=tuple(hosted),
        )
        plan_path = plan.write(workspace.logs_dir / f"{name}.plan.json")
        addresses = ", ".join(str(cast.participants[i].address) for i in indices)
        processes.start(
            name,
            "participant",
            addresses,
            ["participant", "host", str(plan_path)],
            workspace.log_path(name),
            env=env,
        )
        ready_files.append(plan.ready_file)
    malicious = ", ".join(b for b in behaviours if b != "honest") or "none"
    where = (
        f", spread over {len(config.organisations)} organisations" if config.organisations else ""
    )
    return (
        f"started {config.participants} participants in {count} processes "
        f"(malicious: {malicious}){where}",
        ready_files,
    )


def wait_until_ready(processes: ProcessGroup, ready_files: list[Path]) -> None:
    """Until every participant host has created its ready file (TensorFlow imported, its
    participants connected); DemoError if one dies or takes longer than READY_SECONDS."""
    deadline = time.monotonic() + READY_SECONDS
    while not all(path.exists() for path in ready_files):
        for child in processes.of_role("participant"):
            if child.returncode is not None:
                raise DemoError(died(child))
        if time.monotonic() > deadline:
            raise DemoError(
                f"the participant processes were not ready within {READY_SECONDS:.0f} s; "
                f"see their logs in {ready_files[0].parent}"
            )
        time.sleep(0.1)


def demo_key_pair(config: DemoConfig, owner: str) -> EncryptionKeyPair:
    """The demo's X25519 key of ``owner`` (an oracle's address, or "gateway"), derived from
    the seed: a sealed global model is then the same bytes on every run of the same seed
    (the demo's keys are as public as anvil's dev accounts)."""
    return key_pair_from_secret(f"fedledger-demo/{config.seed}/{owner}".encode())


#: Wall-clock seconds the gateway may take to start answering.
GATEWAY_START_SECONDS = 60.0


def start_gateway(
    processes: ProcessGroup,
    config: DemoConfig,
    ledger: FedLedger,
    project: ProjectConfig,
    workspace: Workspace,
) -> str:
    """Make the gateway's key, register it (the admin runs it), start `fedledger gateway`
    on a free loopback port and return once it answers; a line saying so."""
    keys = OracleKeyFile.create(default_gateway_key_file(project), demo_key_pair(config, "gateway"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    ledger.gateways.set_gateway(ledger.address, keys.current.public_key, url)
    organisation = config.organisation_of(0)
    env: dict[str, str] = {}
    store = ["--store", config.store]
    if organisation is not None:
        env = {RPC_URL_ENV: organisation[0]}
        store = ["--store", "ipfs", "--ipfs-api", organisation[1]]
    elif config.ipfs_api:
        store += ["--ipfs-api", config.ipfs_api]
    arguments = ["gateway", "--port", str(port), "--network", NETWORK, *store]
    child = processes.start(
        "gateway", "gateway", ledger.address, arguments, workspace.log_path("gateway"), env=env
    )
    deadline = time.monotonic() + GATEWAY_START_SECONDS
    while True:
        if child.returncode is not None:
            raise DemoError(died(child))
        try:
            if httpx.get(f"{url}/v1/info", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise DemoError(
                f"the gateway did not answer at {url} within {GATEWAY_START_SECONDS:.0f} s"
            )
        time.sleep(0.2)
    return f"gateway serving at {url} (global models {config.global_model_policy})"


def died(child: Child) -> str:
    """What to tell the user about a child that exited when it should not have."""
    return (
        f"{child.name} ({child.address}) exited with status {child.returncode}; its log "
        f"{child.log_path} ends with:\n{child.log_tail()}"
    )
