"""Local training of fully connected models in numpy, for an oracle's reference update.

An oracle judges a submitted step against the step it would take itself: one local round
of the same SGD, from the same global model, on its own validation data (FLTrust, Cao et
al., NDSS 2021, uses a small root data set this way). The oracle never imports Keras, so
this is the participants' training (:mod:`fedledger.ml.training`: mini-batch SGD with
momentum on the softmax cross-entropy of the logits, samples shuffled per epoch by
``numpy.random.default_rng(seed)``) written out for stacks of ReLU Dense layers, in
float32 like Keras. It need not match Keras bit for bit: the reference only steers an
oracle's own votes, never the aggregate's bytes.
"""

from __future__ import annotations

import math

import numpy as np

from fedledger.ml.architectures import Architecture, Dense, as_architecture, model_input
from fedledger.ml.datasets import Dataset
from fedledger.ml.training_config import TrainingConfig
from fedledger.ml.weights import ModelWeights


def supports(architecture: str | Architecture) -> bool:
    """Whether :func:`train_dense` can train ``architecture`` (Dense layers only)."""
    return all(isinstance(layer, Dense) for layer in as_architecture(architecture).layers)


def train_dense(
    global_weights: ModelWeights, dataset: Dataset, config: TrainingConfig | None = None
) -> ModelWeights:
    """Train from ``global_weights`` on ``dataset`` as a participant would; returns the
    updated weights. Raises ValueError for an architecture with other than Dense layers
    (check :func:`supports`) or an empty data set."""
    config = config or TrainingConfig()
    spec = global_weights.spec
    if not supports(spec):
        raise ValueError(f"{spec.id} has layers other than Dense; numpy training covers Dense")
    if len(dataset) == 0:
        raise ValueError("cannot train on an empty data set")
    weights = [np.array(a, dtype=np.float32) for a in global_weights.arrays]
    velocity = [np.zeros_like(a) for a in weights]
    inputs = model_input(spec, dataset.images).reshape(len(dataset), -1)
    labels = dataset.labels.astype(np.int64)
    rng = np.random.default_rng(config.seed)
    rate, momentum = np.float32(config.learning_rate), np.float32(config.momentum)
    batches = math.ceil(len(dataset) / config.batch_size)
    for _ in range(config.epochs):
        order = rng.permutation(len(dataset))
        for batch in range(batches):
            chosen = order[batch * config.batch_size : (batch + 1) * config.batch_size]
            gradients = _gradients(weights, inputs[chosen], labels[chosen])
            for w, v, g in zip(weights, velocity, gradients, strict=True):
                v *= momentum
                v -= rate * g
                w += v
    return ModelWeights(spec.id, tuple(weights))


def _gradients(
    weights: list[np.ndarray], inputs: np.ndarray, labels: np.ndarray
) -> list[np.ndarray]:
    """Gradients of the batch's mean cross-entropy, kernel then bias, layer by layer."""
    activations = [inputs]
    for layer in range(0, len(weights) - 2, 2):
        activations.append(np.maximum(activations[-1] @ weights[layer] + weights[layer + 1], 0))
    logits = activations[-1] @ weights[-2] + weights[-1]
    logits -= logits.max(axis=1, keepdims=True)
    probabilities = np.exp(logits)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    error = probabilities
    error[np.arange(len(labels)), labels] -= 1
    error /= np.float32(len(labels))
    gradients: list[np.ndarray] = []
    for layer in range(len(weights) - 2, -1, -2):
        below = activations[layer // 2]
        gradients[:0] = [below.T @ error, error.sum(axis=0)]
        if layer:
            error = (error @ weights[layer].T) * (below > 0)
    return gradients
