"""The aggregators users would pick instead of verification: the benchmark's baselines.

Sample-weighted FedAvg (McMahan et al., 2017), Krum (Blanchard et al., 2017),
coordinate-wise median and trimmed mean (Yin et al., 2018), with the semantics of
Flower's ``flwr.server.strategy.aggregate`` (``aggregate``, ``aggregate_krum`` with
``to_keep=0``, ``aggregate_median``, ``aggregate_trimmed_avg``). Flower itself cannot be
installed next to FedLedger's pinned dependencies (docs/verification.md says why), so
these are written here; ``tests/ml/test_robust_flower.py`` runs them and Flower 1.41.0's
functions (in a venv of its own) on the same inputs: Krum and the median agree bit for
bit, FedAvg and the trimmed mean up to Flower's float32 rounding (ours sums in float64).

These run in plain float arithmetic: they are comparison points for the benchmark, not
something oracles must agree on bit for bit (that is :func:`fedledger.ml.fedavg`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fedledger.ml.weights import ModelWeights


def _stack(updates: Sequence[ModelWeights]) -> list[np.ndarray]:
    """Per weight array, the updates stacked along a new first axis (float64)."""
    if not updates:
        raise ValueError("nothing to aggregate: no updates")
    architectures = {u.architecture for u in updates}
    if len(architectures) != 1:
        raise ValueError(f"cannot aggregate different architectures: {sorted(architectures)}")
    return [
        np.stack([u.arrays[i] for u in updates]).astype(np.float64)
        for i in range(len(updates[0].arrays))
    ]


def _weights(architecture: str, arrays: Sequence[np.ndarray]) -> ModelWeights:
    return ModelWeights(architecture, tuple(a.astype(np.float32) for a in arrays))


def weighted_fedavg(updates: Sequence[ModelWeights], sample_counts: Sequence[int]) -> ModelWeights:
    """FedAvg as published: the average weighted by each client's (claimed) sample count."""
    if len(sample_counts) != len(updates) or min(sample_counts, default=0) < 1:
        raise ValueError("one positive sample count per update is needed")
    counts = np.asarray(sample_counts, dtype=np.float64)
    shares = counts / counts.sum()
    return _weights(
        updates[0].architecture,
        [np.tensordot(shares, stacked, axes=1) for stacked in _stack(updates)],
    )


def krum(updates: Sequence[ModelWeights], num_malicious: int) -> ModelWeights:
    """The update whose ``n - f - 2`` nearest neighbours (squared Euclidean distance over
    all weights) are closest in sum; ties go to the first such update."""
    flat = np.stack(
        [np.concatenate([a.ravel() for a in u.arrays]).astype(np.float64) for u in updates]
    )
    squared_norms = np.einsum("ij,ij->i", flat, flat)
    distances = squared_norms[:, None] + squared_norms[None, :] - 2.0 * flat @ flat.T
    np.maximum(distances, 0.0, out=distances)
    np.fill_diagonal(distances, 0.0)
    neighbours = max(1, len(updates) - num_malicious - 2)
    # Row i sorted: position 0 is the update itself (distance 0), as in Flower.
    scores = np.sort(distances, axis=1)[:, 1 : neighbours + 1].sum(axis=1)
    return updates[int(np.argmin(scores))]


def coordinate_median(updates: Sequence[ModelWeights]) -> ModelWeights:
    """The coordinate-wise median (mean of the two middle values for an even count)."""
    return _weights(
        updates[0].architecture, [np.median(stacked, axis=0) for stacked in _stack(updates)]
    )


def trimmed_mean(updates: Sequence[ModelWeights], proportion: float) -> ModelWeights:
    """Coordinate-wise mean after dropping the ``int(proportion * n)`` smallest and largest
    values of each coordinate (``scipy.stats.trim_mean``'s rule)."""
    count = len(updates)
    cut = int(proportion * count)
    if not 0 <= proportion < 0.5 or cut >= count - cut:
        raise ValueError(f"cannot trim {proportion:.0%} from each end of {count} updates")
    trimmed = []
    for stacked in _stack(updates):
        ordered = np.sort(stacked, axis=0)
        trimmed.append(ordered[cut : count - cut].mean(axis=0))
    return _weights(updates[0].architecture, trimmed)
