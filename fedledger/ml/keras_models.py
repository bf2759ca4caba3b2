"""Keras models built from the architecture registry, and weights in and out of them.

Importing this module imports Keras and TensorFlow (about 2.5 s): only participants,
training and benchmarks need it; oracles verify and aggregate with numpy alone.
"""

from __future__ import annotations

import numpy as np

from fedledger.ml.architectures import Architecture, Conv2D, as_architecture, model_input
from fedledger.ml.datasets import Dataset
from fedledger.ml.keras_import import keras
from fedledger.ml.weights import ModelWeights


def build_model(architecture: str | Architecture) -> keras.Sequential:
    """An uncompiled Keras model of the architecture (its initial weights are Keras' own)."""
    spec = as_architecture(architecture)
    stack: list[keras.layers.Layer] = [keras.Input(spec.input_shape)]
    last = len(spec.layers) - 1
    for index, (layer, in_shape) in enumerate(
        zip(spec.layers, spec.layer_input_shapes, strict=True)
    ):
        activation = None if index == last else "relu"
        if isinstance(layer, Conv2D):
            stack.append(
                keras.layers.Conv2D(
                    layer.filters,
                    layer.kernel_size,
                    strides=layer.stride,
                    padding="valid",
                    activation=activation,
                )
            )
        else:
            if len(in_shape) > 1:
                stack.append(keras.layers.Flatten())
            stack.append(keras.layers.Dense(layer.units, activation=activation))
    return keras.Sequential(stack, name=spec.id.replace("/", "_").replace("-", "_"))


def load_weights(model: keras.Model, weights: ModelWeights) -> None:
    """Copy ``weights`` into ``model`` (built by :func:`build_model` for the same id)."""
    model.set_weights(list(weights.arrays))


def extract_weights(model: keras.Model, architecture_id: str) -> ModelWeights:
    """The model's current weights as :class:`ModelWeights` (shapes checked)."""
    return ModelWeights(architecture_id, tuple(model.get_weights()))


class FloatPredictor:
    """The plain float32 Keras path: the reference the exact evaluator is compared with."""

    def __init__(self, architecture: str | Architecture) -> None:
        self.spec = as_architecture(architecture)
        self.model = build_model(self.spec)

    def logits(self, weights: ModelWeights, inputs: np.ndarray) -> np.ndarray:
        """Float32 logits for prepared ``inputs`` (see :meth:`inputs`)."""
        load_weights(self.model, weights)
        return np.asarray(self.model(inputs, training=False))

    def inputs(self, dataset: Dataset) -> np.ndarray:
        """The float32 model input of a data set, prepared once and reused."""
        return model_input(self.spec, dataset.images)
