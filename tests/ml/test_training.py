"""Local training: progress reporting, seeded reproducibility, and that it learns."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fedledger.ml import MNIST_CNN, MNIST_MLP, Dataset, ExactEvaluator, FederatedSplit, training
from fedledger.ml.weights import initial_weights


@pytest.fixture(scope="module")
def client_data(mnist_federation: FederatedSplit) -> Dataset:
    return mnist_federation.clients[3]


def test_progress_reports_every_batch_of_every_epoch(client_data: Dataset) -> None:
    reports: list[training.TrainingProgress] = []
    config = training.TrainingConfig(epochs=2, batch_size=100, seed=1)
    training.train_local(initial_weights(MNIST_MLP.id, 0), client_data, config, reports.append)
    batches = math.ceil(len(client_data) / 100)
    assert [(r.epoch, r.batch) for r in reports] == [
        (e, b) for e in (1, 2) for b in range(1, batches + 1)
    ]
    assert all(r.epochs == 2 and r.batches == batches for r in reports)
    assert all(math.isfinite(r.loss) and 0 <= r.accuracy <= 1 for r in reports)
    assert reports[-1].loss < reports[0].loss


@pytest.mark.parametrize("architecture", [MNIST_MLP.id, MNIST_CNN.id])
def test_training_learns_and_is_reproducible_by_seed(
    architecture: str, client_data: Dataset, mnist_federation: FederatedSplit
) -> None:
    start = initial_weights(architecture, 0)
    config = training.TrainingConfig(epochs=1, seed=5)
    first = training.train_local(start, client_data, config)
    assert first.architecture == architecture and first != start
    assert training.train_local(start, client_data, config) == first
    assert training.train_local(start, client_data, training.TrainingConfig(seed=6)) != first
    evaluator = ExactEvaluator(mnist_federation.validation[0], architecture)
    assert evaluator.evaluate(first).correct > evaluator.evaluate(start).correct + 1000
    assert start == initial_weights(architecture, 0)  # the global weights are not touched


def test_bad_settings_are_refused(client_data: Dataset) -> None:
    with pytest.raises(ValueError, match="epochs"):
        training.TrainingConfig(epochs=0)
    with pytest.raises(ValueError, match="momentum"):
        training.TrainingConfig(momentum=1.0)
    with pytest.raises(ValueError, match="empty"):
        training.train_local(initial_weights(MNIST_MLP.id, 0), client_data.subset(np.arange(0)))
