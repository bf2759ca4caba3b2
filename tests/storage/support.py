"""Helpers shared by the storage tests."""

from __future__ import annotations

import random
from dataclasses import replace

import httpx

from fedledger.config import ProjectConfig
from fedledger.storage import CidProfile
from tests.fixtures.ipfs import KuboDaemon

#: Timeout of stores that are expected to miss: short, so that the tests stay fast.
SHORT_TIMEOUT = 2.0

# How to ask the daemon for each profile (the flags `ipfs add` takes).
_ADD_PARAMS = {
    CidProfile.V0: {},
    CidProfile.V1_RAW_LEAVES: {"cid-version": "1", "raw-leaves": "true", "cid-base": "base32"},
}


def blob(size: int, seed: int = 0) -> bytes:
    """Deterministic, incompressible bytes."""
    return random.Random(seed * 1_000_003 + size).randbytes(size)


def with_storage(config: ProjectConfig, **changes: object) -> ProjectConfig:
    """``config`` with some storage settings changed."""
    return replace(config, storage=replace(config.storage, **changes))


def daemon_add(daemon: KuboDaemon, data: bytes, profile: CidProfile = CidProfile.V0) -> str:
    """The CID the daemon itself answers to `ipfs add` without pinning (our IpfsStore is
    not involved)."""
    response = httpx.post(
        f"{daemon.api_url}/api/v0/add",
        params={**_ADD_PARAMS[profile], "pin": "false"},
        files={"file": ("blob", data, "application/octet-stream")},
        timeout=120,
    )
    response.raise_for_status()
    return str(response.json()["Hash"])
