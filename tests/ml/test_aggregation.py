"""Equal-weight fixed-point FedAvg: order-free bytes, exact rounding, range guard."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from fedledger.ml import (
    MNIST_CNN,
    MNIST_MLP,
    ModelWeights,
    WeightsOutOfRange,
    encode,
    fedavg,
    initial_weights,
)

ULP = 2.0**-40  # one unit of the aggregation's fixed point


def _updates(count: int, architecture: str = MNIST_MLP.id) -> list[ModelWeights]:
    rng = np.random.default_rng(count)
    base = initial_weights(architecture, 0)
    return [
        ModelWeights(
            architecture,
            tuple(a + rng.normal(0, 0.01, a.shape).astype(np.float32) for a in base.arrays),
        )
        for _ in range(count)
    ]


def _constant(value: float, architecture: str = MNIST_CNN.id) -> ModelWeights:
    spec = initial_weights(architecture, 0)
    return ModelWeights(architecture, tuple(np.full_like(a, value) for a in spec.arrays))


def test_input_order_does_not_change_a_byte() -> None:
    updates = _updates(10)
    reference = hashlib.sha256(encode(fedavg(updates))).hexdigest()
    rng = np.random.default_rng(0)
    for _ in range(5):
        shuffled = [updates[i] for i in rng.permutation(len(updates))]
        assert hashlib.sha256(encode(fedavg(shuffled))).hexdigest() == reference


def test_result_is_the_mean_within_one_fixed_point_unit_and_one_float32_rounding() -> None:
    updates = _updates(7)
    result = fedavg(updates)
    assert result.architecture == MNIST_MLP.id
    for index, array in enumerate(result.arrays):
        exact = np.mean([u.arrays[index].astype(np.float64) for u in updates], axis=0)
        tolerance = ULP + np.abs(exact) * 2.0**-24
        assert np.all(np.abs(array.astype(np.float64) - exact) <= tolerance)


def test_identical_updates_average_to_themselves() -> None:
    rng = np.random.default_rng(3)
    base = initial_weights(MNIST_CNN.id, 0)
    # values on a 2**-20 grid are exact in the 2**-40 fixed point
    grid = ModelWeights(
        MNIST_CNN.id,
        tuple(
            np.round(rng.normal(0, 1, a.shape) * 2**20).astype(np.float32) / 2**20
            for a in base.arrays
        ),
    )
    assert fedavg([grid] * 5) == grid
    assert fedavg([grid]) == grid


def test_rounding_is_to_nearest_with_ties_upwards() -> None:
    def mean_of(*values: float) -> float:
        return float(fedavg([_constant(v) for v in values]).arrays[0].flat[0])

    assert mean_of(0.0, ULP) == ULP  # 0.5 units -> 1
    assert mean_of(0.0, -ULP) == 0.0  # -0.5 units -> 0
    assert mean_of(0.0, 0.0, ULP) == 0.0  # 1/3 unit -> 0
    assert mean_of(0.0, ULP, ULP) == ULP  # 2/3 unit -> 1
    assert mean_of(1.0, 2.0, 4.0) == np.float32(7.0 / 3.0)


def test_refusals() -> None:
    with pytest.raises(ValueError, match="at least one update"):
        fedavg([])
    with pytest.raises(ValueError, match="cannot average"):
        fedavg([initial_weights(MNIST_MLP.id, 0), initial_weights(MNIST_CNN.id, 0)])
    assert float(fedavg([_constant(4000.0)]).arrays[0].flat[0]) == 4000.0
    with pytest.raises(WeightsOutOfRange, match="update 0"):
        fedavg([_constant(4097.0)])  # 4097 * 2**40 > 2**52
    many = [_constant(2000.0)] * 2048  # 2**62 / 2048 = 2**51: at most 2048 per weight
    assert float(fedavg(many).arrays[0].flat[0]) == 2000.0
    with pytest.raises(WeightsOutOfRange):
        fedavg([*many[:-1], _constant(2049.0)])
