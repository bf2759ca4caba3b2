"""The oracle's numpy training (its reference step) against the participants' Keras
training: the same SGD, so the same step up to float rounding; refused where it does not
apply."""

from __future__ import annotations

import numpy as np
import pytest

from fedledger.ml import MNIST_CNN, MNIST_MLP, Dataset, FederatedSplit, training
from fedledger.ml.reference_training import supports, train_dense
from fedledger.ml.weights import ModelWeights, initial_weights


def _step(update: ModelWeights, start: ModelWeights) -> np.ndarray:
    return np.concatenate(
        [(u - s).ravel() for u, s in zip(update.arrays, start.arrays, strict=True)]
    )


@pytest.mark.parametrize(
    "config",
    [
        training.TrainingConfig(seed=3),
        training.TrainingConfig(epochs=2, batch_size=50, learning_rate=0.1, momentum=0.5, seed=1),
    ],
)
def test_numpy_training_takes_the_keras_step(
    config: training.TrainingConfig, mnist_federation: FederatedSplit
) -> None:
    data = mnist_federation.clients[2]
    data = data.subset(np.arange(min(len(data), 310)))  # a partial last batch included
    start = initial_weights(MNIST_MLP.id, 2)
    keras_step = _step(training.LocalTrainer(MNIST_MLP.id).train(start, data, config), start)
    numpy_step = _step(train_dense(start, data, config), start)
    assert np.linalg.norm(keras_step) > 1  # it trained
    np.testing.assert_allclose(numpy_step, keras_step, atol=2e-5)
    other_seed = _step(train_dense(start, data, training.TrainingConfig(seed=9)), start)
    assert np.abs(other_seed - numpy_step).max() > 1e-3  # the sample order is the seed's


def test_numpy_training_is_reproducible_and_leaves_the_start_alone(
    mnist_federation: FederatedSplit,
) -> None:
    start = initial_weights(MNIST_MLP.id, 0)
    data = mnist_federation.validation[0]
    assert train_dense(start, data) == train_dense(start, data)
    assert start == initial_weights(MNIST_MLP.id, 0)


def test_numpy_training_covers_dense_layers_only() -> None:
    assert supports(MNIST_MLP) and supports(MNIST_MLP.id)
    assert not supports(MNIST_CNN)
    blank = Dataset(np.zeros((3, 28, 28), np.uint8), np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match="other than Dense"):
        train_dense(initial_weights(MNIST_CNN.id, 0), blank)
    with pytest.raises(ValueError, match="empty data set"):
        train_dense(initial_weights(MNIST_MLP.id, 0), blank.subset(np.arange(0)))
