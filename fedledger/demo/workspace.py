"""The demo's run directory: a project of its own, its data files and its logs.

The demo's processes find the chain, the deployment and the store the way any FedLedger
process does, through a project directory (``FEDLEDGER_ROOT``): the run directory gets a
``brownie-config.yaml`` derived from the real project's, whose default network ``demo``
is the demo's chain and whose store is the demo's store. So a run never touches the
user's own deployment files or blobs, and every process started by the demo could be
started by hand with the same command line::

    FEDLEDGER_ROOT=.fedledger/demo fedledger status

Layout: ``brownie-config.yaml``, ``data/`` (one .npz per participant and per oracle, and
the test images ``test.npz``), ``logs/`` (one per process), ``keys/`` (keystores, with
--rpc only), ``.fedledger/`` (deployment file and, for the embedded store, the blobs), and
the report.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fedledger.config import CONFIG_FILE, ProjectConfig, load_config
from fedledger.demo.errors import DemoError
from fedledger.ml import Dataset, save_dataset

#: Present in every run directory; a directory without it is never wiped.
MARKER = "demo-run.json"
#: The network name the run directory's configuration gives the demo's chain.
NETWORK = "demo"


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def keys_dir(self) -> Path:
        return self.root / "keys"

    @classmethod
    def prepare(cls, out: Path) -> Workspace:
        """An empty run directory at ``out``; the previous run there is removed, anything
        else that is not empty is refused."""
        root = Path(out).expanduser().resolve()
        if root.exists():
            if not root.is_dir():
                raise DemoError(f"--out {out} is a file; give a directory")
            if any(root.iterdir()) and not (root / MARKER).is_file():
                raise DemoError(
                    f"--out {out} is not empty and not a demo run directory; give a new or "
                    "empty directory (the demo replaces what it wrote there before)"
                )
            shutil.rmtree(root)
        root.mkdir(parents=True)
        for folder in ("data", "logs"):
            (root / folder).mkdir()
        (root / MARKER).write_text(json.dumps({"started_at": time.time()}))
        return cls(root)

    def write_project(
        self,
        base: ProjectConfig,
        network: dict[str, Any],
        *,
        store: str,
        ipfs_api: str | None,
    ) -> ProjectConfig:
        """Write the run's ``brownie-config.yaml``: the base project's compiler settings and
        sources, ``network`` as the default network ``demo``, and the store; return it read
        back through :func:`fedledger.config.load_config`."""
        raw = copy.deepcopy(base.raw)
        raw["project_structure"] = {
            "contracts": "contracts",
            "build": str(base.build_dir),  # the artifact cache is keyed by content: shared
        }
        raw["networks"] = {"default": NETWORK, NETWORK: network}
        storage = dict(raw.get("storage", {}))
        storage.update(default=store, local_root=".fedledger/blobs")
        if ipfs_api:
            storage["ipfs_api"] = ipfs_api
        raw["storage"] = storage
        (self.root / CONFIG_FILE).write_text(
            "# Written by `fedledger demo` for this run only.\n" + yaml.safe_dump(raw)
        )
        # Sources compile under their names in the project (so the artifact cache is the
        # base project's); the compiler wrapper and anvil live in node_modules.
        os.symlink(base.contracts_dir, self.root / "contracts")
        os.symlink(base.node_modules, self.root / "node_modules")
        return load_config(root=self.root)

    def write_dataset(self, name: str, dataset: Dataset) -> Path:
        """``data/<name>.npz`` with ``images`` and ``labels``, as fedledger.ml.load_dataset
        reads it."""
        return save_dataset(dataset, self.data_dir / f"{name}.npz")

    def log_path(self, name: str) -> Path:
        return self.logs_dir / f"{name}.log"
