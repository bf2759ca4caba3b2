"""One organisation's oracle: ``fedledger oracle run`` as a background process with its own
account, encryption key file and validation data, talking only to its organisation's geth
(``FEDLEDGER_RPC_URL``) and Kubo (``--ipfs-api``).

The files live in the organisation's directory (``org<i>/oracle/``), next to its geth and
Kubo: a key file that is nobody else's, and a validation set held out of MNIST's training
images, disjoint from every other organisation's.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from fedledger.config import ProjectConfig, mnist_directory
from fedledger.consortium.tools import LoggedProcess, ProcessFailed
from fedledger.ml import load_mnist, save_dataset
from fedledger.ml.partition import stratified_holdout

#: Validation images per organisation's oracle (the demo's default, ``--validation-size``).
VALIDATION_SIZE = 2000
#: Seconds the oracle polls the chain at (its own organisation's geth, on loopback).
POLL_SECONDS = 0.5
#: The variable that points the oracle at its organisation's geth (the network's host_env).
RPC_URL_ENV = "FEDLEDGER_RPC_URL"


@dataclass
class OracleProcess(LoggedProcess):
    """``fedledger oracle run`` for one organisation, and the files it runs with."""

    directory: Path
    network: str
    root: Path
    key: str  # the --key value: dev:N on the local consortium
    address: str
    rpc_url: str
    ipfs_api: str
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    #: Where this start's log begins (its ``started`` line comes after it).
    _log_offset: int = field(default=0, repr=False)

    @property
    def key_file(self) -> Path:
        return self.directory / "encryption-key.json"

    @property
    def validation(self) -> Path:
        return self.directory / "validation.npz"

    @property
    def log_path(self) -> Path:
        return self.directory.parent / "oracle.log"

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "fedledger", "oracle", "run",
            "--network", self.network,
            "--key", self.key,
            "--key-file", str(self.key_file),
            "--validation", str(self.validation),
            "--store", "ipfs", "--ipfs-api", self.ipfs_api,
            "--poll-interval", str(POLL_SECONDS),
            "--log-format", "json",
        ]  # fmt: skip

    def environment(self) -> dict[str, str]:
        """This organisation's geth, and the project the network and deployment come from."""
        return {
            **os.environ,
            RPC_URL_ENV: self.rpc_url,
            "FEDLEDGER_ROOT": str(self.root),
            "PYTHONUNBUFFERED": "1",
        }

    def start(self, ready_timeout: float = 180.0) -> Self:
        """Start the node; returns once it logs ``started`` (it has connected to the chain
        and the store, loaded its key file and data), or raises with its log."""
        self.launch_node()
        self.wait_until_started(ready_timeout)
        return self

    def launch_node(self) -> None:
        """Start the process (if it is not running) without waiting for it."""
        if self.running:
            return
        for needed in (self.key_file, self.validation):
            if not needed.is_file():
                raise ProcessFailed(f"the oracle of {self.directory.parent} needs {needed}")
        self._log_offset = self.log_path.stat().st_size if self.log_path.is_file() else 0
        self.launch(self.command(), env=self.environment())

    def wait_until_started(self, ready_timeout: float = 180.0) -> None:
        offset = self._log_offset
        self.wait_until(
            lambda: any(record.get("event") == "started" for record in self.records(offset)),
            f"the oracle of {self.directory.parent}",
            "did not log `started`",
            ready_timeout,
        )

    def records(self, since: int | None = None) -> list[dict[str, Any]]:
        return log_records(self.log_path, since)


#: Bytes of the log's end read for its last record (the log of a long run is large).
TAIL_BYTES = 65_536


def log_records(path: Path, since: int | None = None) -> list[dict[str, Any]]:
    """The oracle's JSON log records written to ``path`` after byte ``since`` (None: in
    its last :data:`TAIL_BYTES`); other lines, such as a Python warning, are skipped."""
    try:
        with path.open("rb") as log:
            if since is None:
                since = max(path.stat().st_size - TAIL_BYTES, 0)
            log.seek(since)
            text = log.read().decode(errors="replace")
    except OSError:
        return []
    records = []
    for line in text.splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if isinstance(record, dict) and "event" in record:
                records.append(record)
    return records


def last_activity(path: Path) -> str | None:
    """The oracle's last log record, short: ``event: message (round N)``."""
    records = log_records(path)
    if not records:
        return None
    last = records[-1]
    line = f"{last['event']}: {last.get('message', '')}".rstrip(": ")
    return f"{line} (round {last['round']})" if "round" in last else line


def write_validation_sets(
    config: ProjectConfig, paths: Sequence[Path], size: int = VALIDATION_SIZE, seed: int = 0
) -> None:
    """One class-balanced validation set per path, held out of MNIST's training images and
    pairwise disjoint (each organisation's oracle judges on data the others do not have)."""
    mnist = load_mnist(mnist_directory(config.root))
    sets, _ = stratified_holdout(mnist.train.labels, len(paths), size, seed)
    for path, indices in zip(paths, sets, strict=True):
        path.parent.mkdir(parents=True, exist_ok=True)
        save_dataset(mnist.train.subset(indices), path)
