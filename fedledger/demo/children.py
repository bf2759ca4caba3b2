"""The command lines of the demo's children: ``fedledger oracle run`` for each oracle and
``fedledger participant run`` for each participant, started in a :class:`ProcessGroup`."""

from __future__ import annotations

from fedledger.demo.cast import Cast
from fedledger.demo.config import DemoConfig
from fedledger.demo.processes import Child, ProcessGroup
from fedledger.demo.workspace import NETWORK, Workspace
from fedledger.participant import derive_seed
from fedledger.participant.behaviours import COPIERS

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
    common = ["--network", NETWORK, "--store", config.store]
    if config.ipfs_api:
        common += ["--ipfs-api", config.ipfs_api]
    for index, account in enumerate(cast.oracles):
        name = f"oracle-{index + 1}"
        arguments = [
            "oracle", "run",
            "--key", cast.keys[account.address],
            "--validation", paths["oracle"][index],
            "--poll-interval", str(POLL_SECONDS),
            "--log-format", "json",
            *common,
        ]  # fmt: skip
        processes.start(name, "oracle", account.address, arguments, workspace.log_path(name))
    behaviours = config.behaviours()
    for index, account in enumerate(cast.participants):
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
        processes.start(name, "participant", account.address, arguments, workspace.log_path(name))
    malicious = ", ".join(b for b in behaviours if b != "honest") or "none"
    return (
        f"started {config.oracles} oracle and {config.participants} participant processes "
        f"(malicious: {malicious}); logs in {workspace.logs_dir}"
    )


def died(child: Child) -> str:
    """What to tell the user about a child that exited when it should not have."""
    return (
        f"{child.name} ({child.address}) exited with status {child.returncode}; its log "
        f"{child.log_path} ends with:\n{child.log_tail()}"
    )
