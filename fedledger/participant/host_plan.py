"""The plan of a process that hosts several participants (``fedledger participant host``,
the demo's participant processes): the network and store they share, and each one's own
key, data, behaviour, seed and log file. A JSON file::

    {"network": "demo", "store": "local", "ipfs_api": null, "architecture": "...",
     "rounds": 5, "epochs": 1, "poll_interval": 0.25, "ready_file": "...",
     "participants": [{"key": "dev:4", "data": "...npz", "behaviour": "honest",
                       "seed": 123, "partner": null, "log": "...log"}, ...]}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class HostedParticipant:
    """One participant of a plan."""

    key: str
    data: Path
    behaviour: str
    seed: int
    log: Path
    partner: str | None = None

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> HostedParticipant:
        return cls(
            key=str(entry["key"]),
            data=Path(entry["data"]),
            behaviour=str(entry["behaviour"]),
            seed=int(entry["seed"]),
            log=Path(entry["log"]),
            partner=entry.get("partner"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "data": str(self.data),
            "behaviour": self.behaviour,
            "seed": self.seed,
            "log": str(self.log),
            "partner": self.partner,
        }


@dataclass(frozen=True)
class HostPlan:
    """What one host process runs (written by the demo, read by ``participant host``)."""

    network: str
    store: str
    ipfs_api: str | None
    architecture: str
    rounds: int
    epochs: int
    poll_interval: float
    ready_file: Path
    participants: tuple[HostedParticipant, ...]

    def write(self, path: Path) -> Path:
        payload = {
            "network": self.network,
            "store": self.store,
            "ipfs_api": self.ipfs_api,
            "architecture": self.architecture,
            "rounds": self.rounds,
            "epochs": self.epochs,
            "poll_interval": self.poll_interval,
            "ready_file": str(self.ready_file),
            "participants": [p.to_json() for p in self.participants],
        }
        path.write_text(json.dumps(payload, indent=2) + "\n")
        return path

    @classmethod
    def read(cls, path: Path) -> HostPlan:
        payload = json.loads(path.read_text())
        return cls(
            network=payload["network"],
            store=payload["store"],
            ipfs_api=payload.get("ipfs_api"),
            architecture=payload["architecture"],
            rounds=int(payload["rounds"]),
            epochs=int(payload["epochs"]),
            poll_interval=float(payload["poll_interval"]),
            ready_file=Path(payload["ready_file"]),
            participants=tuple(HostedParticipant.from_json(p) for p in payload["participants"]),
        )
