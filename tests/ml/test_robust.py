"""The baseline aggregators match their definitions (Flower's semantics)."""

from __future__ import annotations

import numpy as np
import pytest

from fedledger.ml import MNIST_CNN, ModelWeights, robust
from fedledger.ml.weights import initial_weights


def _models(count: int, seed: int = 0) -> list[ModelWeights]:
    return [initial_weights(MNIST_CNN.id, seed + i) for i in range(count)]


def _flat(model: ModelWeights) -> np.ndarray:
    return np.concatenate([a.ravel().astype(np.float64) for a in model.arrays])


def test_weighted_fedavg_weights_by_claimed_counts() -> None:
    models = _models(3)
    counts = [1, 2, 7]
    expected = sum(c * _flat(m) for c, m in zip(counts, models, strict=True)) / 10
    np.testing.assert_allclose(_flat(robust.weighted_fedavg(models, counts)), expected, atol=1e-7)
    with pytest.raises(ValueError, match="sample count"):
        robust.weighted_fedavg(models, [1, 0, 1])


def test_krum_picks_the_update_with_the_closest_neighbours() -> None:
    base = _models(1)[0]
    rng = np.random.default_rng(0)
    near = [
        ModelWeights(base.architecture, tuple(a + rng.normal(0, s, a.shape) for a in base.arrays))
        for s in (0.01, 0.012, 0.011, 0.013, 0.5, 0.6)
    ]
    chosen = robust.krum(near, num_malicious=2)
    # brute force: n - f - 2 = 2 nearest squared distances
    flat = [_flat(m) for m in near]
    scores = [
        sum(sorted(float(np.sum((a - b) ** 2)) for j, b in enumerate(flat) if j != i)[:2])
        for i, a in enumerate(flat)
    ]
    assert chosen is near[int(np.argmin(scores))]
    assert int(np.argmin(scores)) < 4


def test_median_and_trimmed_mean_are_coordinate_wise() -> None:
    models = _models(5)
    stacked = np.stack([_flat(m) for m in models])
    np.testing.assert_allclose(
        _flat(robust.coordinate_median(models)), np.median(stacked, axis=0), atol=1e-7
    )
    ordered = np.sort(stacked, axis=0)
    np.testing.assert_allclose(
        _flat(robust.trimmed_mean(models, 0.2)), ordered[1:4].mean(axis=0), atol=1e-7
    )
    with pytest.raises(ValueError, match="cannot trim"):
        robust.trimmed_mean(models, 0.5)
