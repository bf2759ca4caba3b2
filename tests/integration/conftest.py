"""Fixtures of the end-to-end tests: small demo runs with real anvil, real oracle and
participant processes and a real store, kept alive while the tests read the chain.

The configuration is the demo's with every attack present and little data, so that a
run takes seconds of training; :data:`SMALL` is what the tests rely on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fedledger.config import ProjectConfig
from fedledger.demo import DemoConfig, DemoReport
from fedledger.demo.runner import Demo

#: Two honest participants and one of each attack, two rounds, 600 images each.
SMALL = DemoConfig(
    oracles=3,
    quorum=2,
    participants=8,
    malicious=6,
    attacks=("sign_flip", "noise", "free_rider", "label_flip", "copycat", "colluder"),
    rounds=2,
    seed=3,
    samples_per_participant=600,
    validation_size=500,
)


def small_config(out: Path, **changes: Any) -> DemoConfig:
    return dataclasses.replace(SMALL, out=out, **changes)


@dataclass(frozen=True)
class Flow:
    """A finished demo run whose chain and store are still up."""

    demo: Demo
    report: DemoReport
    json_path: Path
    plot_path: Path


@pytest.fixture(scope="module")
def local_flow(
    chain_config: ProjectConfig, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flow]:
    """:data:`SMALL` on the embedded chain and store, run once per test module."""
    out = tmp_path_factory.mktemp("local-flow")
    with Demo(small_config(out / "run"), chain_config) as demo:
        report = demo.run()
        json_path, plot_path = report.write(out / "report.json")
        yield Flow(demo, report, json_path, plot_path)
