"""Exact evaluation and FedAvg give the same integers and bytes in fresh processes with 1 and
2 threads, whatever the order of the updates, and without importing Keras or TensorFlow."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fedledger.ml import (
    MNIST_CNN,
    MNIST_MLP,
    ExactEvaluator,
    FederatedSplit,
    ModelWeights,
    encode,
    fedavg,
)
from tests.fixtures.probe import run_probe

UPDATES = [
    (MNIST_MLP.id, 0),
    (MNIST_MLP.id, 1),
    (MNIST_MLP.id, 2),
    (MNIST_CNN.id, 0),
    (MNIST_CNN.id, 1),
]


@pytest.fixture(scope="module")
def probe_inputs(
    tmp_path_factory: pytest.TempPathFactory,
    mnist_federation: FederatedSplit,
    trained_weights: Callable[[str, int], ModelWeights],
) -> tuple[Path, list[Path]]:
    folder = tmp_path_factory.mktemp("determinism")
    validation = mnist_federation.validation[1]
    np.savez(folder / "validation.npz", images=validation.images, labels=validation.labels)
    blobs = []
    for architecture, client in UPDATES:
        path = folder / f"{architecture.replace('/', '_')}-{client}.bin"
        path.write_bytes(encode(trained_weights(architecture, client)))
        blobs.append(path)
    return folder / "validation.npz", blobs


def _probe(threads: int, validation: Path, blobs: list[Path]) -> dict[str, Any]:
    """The probe's report; run_probe checks its thread count and that it has no TensorFlow."""
    return run_probe("tests.ml.determinism_probe", validation, *blobs, threads=threads)


def test_same_integers_and_bytes_with_one_and_two_threads_in_any_order(
    probe_inputs: tuple[Path, list[Path]],
) -> None:
    validation, blobs = probe_inputs
    one = _probe(1, validation, blobs)
    two = _probe(2, validation, blobs)
    two_reversed = _probe(2, validation, blobs[::-1])
    assert one["evaluations"] == two["evaluations"] == two_reversed["evaluations"][::-1]
    assert one["aggregates"] == two["aggregates"] == two_reversed["aggregates"]
    assert len(one["evaluations"]) == 5 and sorted(one["aggregates"]) == [
        MNIST_CNN.id,
        MNIST_MLP.id,
    ]
    assert all(
        e["saturated"] == 0 and sum(map(sum, e["confusion"])) == 2000 for e in one["evaluations"]
    )


def test_this_process_agrees_with_the_probes(
    probe_inputs: tuple[Path, list[Path]],
    mnist_federation: FederatedSplit,
    trained_weights: Callable[[str, int], ModelWeights],
) -> None:
    """This process has TensorFlow loaded and its own thread settings; neither the integers
    nor the aggregate's bytes change."""
    validation, blobs = probe_inputs
    probe = _probe(1, validation, blobs)
    updates = [trained_weights(architecture, client) for architecture, client in UPDATES]
    here = [
        dataclasses.asdict(
            ExactEvaluator(mnist_federation.validation[1], u.architecture).evaluate(u)
        )
        for u in updates
    ]
    assert json.loads(json.dumps(here)) == probe["evaluations"]
    mlp_aggregate = hashlib.sha256(encode(fedavg(updates[:3]))).hexdigest()
    assert probe["aggregates"][MNIST_MLP.id] == mlp_aggregate
