"""The Keras side: models built from the registry, and the exact evaluator against float Keras."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from fedledger.ml import (
    MNIST_CNN,
    MNIST_MLP,
    ExactEvaluator,
    FederatedSplit,
    ModelWeights,
    get_architecture,
    keras_models,
)
from fedledger.ml.weights import initial_weights

ARCHITECTURES = [MNIST_MLP.id, MNIST_CNN.id]
#: Largest measured |exact logit - float32 Keras logit| is 5.3e-5 (docs/ml.md); bound with margin.
LOGIT_BOUND = 2e-4


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_keras_model_has_the_registered_shapes(architecture: str) -> None:
    spec = get_architecture(architecture)
    model = keras_models.build_model(architecture)
    assert tuple(w.shape for w in model.get_weights()) == spec.weight_shapes
    assert model.count_params() == spec.parameter_count
    weights = initial_weights(architecture, 4)
    keras_models.load_weights(model, weights)
    assert keras_models.extract_weights(model, architecture) == weights


def test_parameter_counts() -> None:
    assert MNIST_MLP.parameter_count == 101_770
    assert MNIST_CNN.parameter_count == 5_386


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_exact_predictions_match_float_keras_on_every_validation_set(
    architecture: str,
    mnist_federation: FederatedSplit,
    trained_weights: Callable[[str, int], ModelWeights],
) -> None:
    weights = trained_weights(architecture, 0)
    predictor = keras_models.FloatPredictor(architecture)
    for validation in mnist_federation.validation:
        floats = predictor.logits(weights, predictor.inputs(validation))
        exact = ExactEvaluator(validation, architecture).logits(weights)
        difference = np.abs(exact.values * 2.0**-exact.frac_bits - floats)
        assert difference.max() <= LOGIT_BOUND
        ordered = np.sort(floats, axis=1)
        gap = ordered[:, -1] - ordered[:, -2]
        disagree = exact.predictions != floats.argmax(axis=1)
        # a disagreement is only possible between near-tied classes, and is rare
        assert not np.any(disagree & (gap > 2 * LOGIT_BOUND))
        assert np.count_nonzero(disagree) <= 1
