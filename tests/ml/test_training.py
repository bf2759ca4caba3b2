"""Local training: progress reporting, seeded reproducibility, that it learns, and that a
reused trainer gives what a fresh model gives."""

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


def test_a_reused_trainer_gives_what_a_fresh_model_gives(
    client_data: Dataset, mnist_federation: FederatedSplit
) -> None:
    """One LocalTrainer, after training on other data and with other optimizer settings,
    returns train_local's weights and progress reports bit for bit (benchmarks rely on it)."""
    start = initial_weights(MNIST_MLP.id, 1)
    trainer = training.LocalTrainer(MNIST_MLP.id)
    trainer.train(initial_weights(MNIST_MLP.id, 4), mnist_federation.clients[0])
    for config in (
        training.TrainingConfig(epochs=2, seed=3),  # optimizer state left by the first call
        training.TrainingConfig(learning_rate=0.1, momentum=0.5, seed=1),  # compiled again
        training.TrainingConfig(epochs=2, seed=3),
    ):
        reused: list[training.TrainingProgress] = []
        fresh: list[training.TrainingProgress] = []
        assert trainer.train(start, client_data, config, reused.append) == training.train_local(
            start, client_data, config, fresh.append
        )
        assert reused == fresh
    with pytest.raises(ValueError, match="LocalTrainer of that architecture"):
        trainer.train(initial_weights(MNIST_CNN.id, 0), client_data)


def test_a_warmed_up_trainer_is_traced_and_trains_what_a_fresh_model_trains(
    client_data: Dataset,
) -> None:
    """warm_up compiles and traces the training step (so the first round does not), and
    changes nothing the next training returns."""
    trainer = training.LocalTrainer(MNIST_MLP.id)
    trainer.warm_up()
    assert trainer._model.optimizer.built and trainer._model.train_function is not None
    start = initial_weights(MNIST_MLP.id, 2)
    config = training.TrainingConfig(seed=7)
    assert trainer.train(start, client_data, config) == training.train_local(
        start, client_data, config
    )


def test_bad_settings_are_refused(client_data: Dataset) -> None:
    with pytest.raises(ValueError, match="epochs"):
        training.TrainingConfig(epochs=0)
    with pytest.raises(ValueError, match="momentum"):
        training.TrainingConfig(momentum=1.0)
    with pytest.raises(ValueError, match="empty"):
        training.train_local(initial_weights(MNIST_MLP.id, 0), client_data.subset(np.arange(0)))
