"""The command lines of the demo's children: ``fedledger oracle run`` for each oracle and
``fedledger participant run`` for each participant, started in a :class:`ProcessGroup`."""

from __future__ import annotations

import time

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

#: The variable that points a child at its organisation's geth (the demo network's host_env).
RPC_URL_ENV = "FEDLEDGER_RPC_URL"
#: Seconds between two looks at the chain while waiting (the demo's and its children's).
POLL_SECONDS = 0.25


def start_children(
    processes: ProcessGroup,
    config: DemoConfig,
    cast: Cast,
    workspace: Workspace,
    paths: dict[str, list[str]],
) -> str:
    """Start every oracle and participant process; returns a line saying what started."""

    def nodes_of(index: int) -> tuple[list[str], dict[str, str]]:
        """The store options and environment of child ``index``: on a consortium, its
        organisation's Kubo and geth (FEDLEDGER_RPC_URL), else the demo's."""
        organisation = config.organisation_of(index)
        if organisation is None:
            api = ["--ipfs-api", config.ipfs_api] if config.ipfs_api else []
            return ["--network", NETWORK, "--store", config.store, *api], {}
        rpc_url, ipfs_api = organisation
        options = ["--network", NETWORK, "--store", "ipfs", "--ipfs-api", ipfs_api]
        return options, {RPC_URL_ENV: rpc_url}

    for index, account in enumerate(cast.oracles):
        common, env = nodes_of(index)
        name = f"oracle-{index + 1}"
        arguments = [
            "oracle", "run",
            "--key", cast.keys[account.address],
            "--validation", paths["oracle"][index],
            "--poll-interval", str(POLL_SECONDS),
            "--log-format", "json",
            *common,
        ]  # fmt: skip
        processes.start(
            name, "oracle", account.address, arguments, workspace.log_path(name), env=env
        )
    behaviours = config.behaviours()
    for index, account in enumerate(cast.participants):
        common, env = nodes_of(index)
        name = f"participant-{index + 1:02d}"
        # A copier's partner is participant 1 (honest): a colluder trains its run again
        # (its data and seed), which is the plaintext a partner would hand over.
        copier = behaviours[index] in COPIERS
        source = 0 if copier else index
        arguments = [
            "participant", "run",
            "--data", paths["participant"][source],
            "--rounds", str(config.rounds),
            "--behaviour", behaviours[index],
            "--epochs", str(config.epochs),
            "--seed", str(derive_seed(config.seed, source)),
            "--key", cast.keys[account.address],
            "--poll-interval", str(POLL_SECONDS),
            "--json",
            *common,
        ]  # fmt: skip
        if copier:
            arguments += ["--partner", str(cast.participants[0].address)]
        processes.start(
            name, "participant", account.address, arguments, workspace.log_path(name), env=env
        )
    malicious = ", ".join(b for b in behaviours if b != "honest") or "none"
    where = (
        f", spread over {len(config.organisations)} organisations" if config.organisations else ""
    )
    return (
        f"started {config.oracles} oracle and {config.participants} participant processes "
        f"(malicious: {malicious}){where}; logs in {workspace.logs_dir}"
    )


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
