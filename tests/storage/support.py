"""Helpers shared by the storage tests."""

from __future__ import annotations

import random
from dataclasses import replace

from fedledger.config import ProjectConfig

#: Timeout of stores that are expected to miss: short, so that the tests stay fast.
SHORT_TIMEOUT = 2.0


def blob(size: int, seed: int = 0) -> bytes:
    """Deterministic, incompressible bytes."""
    return random.Random(seed * 1_000_003 + size).randbytes(size)


def with_storage(config: ProjectConfig, **changes: object) -> ProjectConfig:
    """``config`` with some storage settings changed."""
    return replace(config, storage=replace(config.storage, **changes))
