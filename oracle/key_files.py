"""Where an oracle's encryption key file lives by default: one place for the command line,
the demo and the tests."""

from __future__ import annotations

from pathlib import Path

from fedledger.config import ProjectConfig

#: The folder under the project's state directory (.fedledger/) holding key files.
KEY_FILE_DIR = "encryption-keys"


def default_key_file(config: ProjectConfig, address: str) -> Path:
    """``.fedledger/encryption-keys/<oracle address>.json`` in the project."""
    return config.state_dir / KEY_FILE_DIR / f"{address}.json"
