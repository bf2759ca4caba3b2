"""Equal-weight fixed-point FedAvg: order-free bytes, exact rounding, range guard."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

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


def _random_mlp(rng: np.random.Generator, scale: float) -> ModelWeights:
    arrays = (rng.standard_normal(shape) * scale for shape in MNIST_MLP.weight_shapes)
    return ModelWeights(MNIST_MLP.id, tuple(arrays))


def _nudged(weights: ModelWeights, rng: np.random.Generator, scale: float) -> ModelWeights:
    arrays = (a + rng.standard_normal(a.shape) * scale for a in weights.arrays)
    return ModelWeights(weights.architecture, tuple(arrays))


def _average_or_refusal(
    build: Callable[[], ModelWeights],
) -> ModelWeights | type[WeightsOutOfRange]:
    try:
        return build()
    except WeightsOutOfRange:
        return WeightsOutOfRange


def test_repeats_give_the_bytes_of_the_repeated_list_on_random_models() -> None:
    """fedavg([U, G], repeats=(1, m - 1)) (the verifier's contribution check) is
    fedavg([U] + [G] * (m - 1)), byte for byte: global models from 1e-6 to 30 in size,
    updates equal to them, a rounding step away, near or far, 1 to 40 contributors."""
    rng = np.random.default_rng(20261124)
    for case in range(120):
        global_model = _random_mlp(rng, float(10.0 ** rng.uniform(-6, 1.5)))
        step = rng.choice([0.0, 1e-12, 1e-6, 1e-3, 0.1, 10.0])
        update = _nudged(global_model, rng, float(step))
        contributors = int(rng.integers(1, 41))
        reference = fedavg([update, *[global_model] * (contributors - 1)])
        repeated = fedavg([update, global_model], repeats=(1, contributors - 1))
        assert repeated == reference, (case, step)


@pytest.mark.parametrize("contributors", [1, 2, 10, 1024, 1025])
@pytest.mark.parametrize("holder", ["update", "global"])
@pytest.mark.parametrize("factor", [0.999, 1.001, float("nan")])
def test_repeats_refuse_exactly_what_the_repeated_list_refuses(
    contributors: int, holder: str, factor: float
) -> None:
    """One weight just inside or just outside fedavg's range for m inputs (2**52 / 2**40 up
    to 1,024 of them, 2**62 / m / 2**40 above), or NaN: in the update or in the global model."""
    rng = np.random.default_rng(contributors)
    global_model = _random_mlp(rng, 0.1)
    update = _nudged(global_model, rng, 0.01)
    limit = min(2**52, 2**62 // contributors) * 2.0**-40
    arrays = [np.array(a) for a in (update if holder == "update" else global_model).arrays]
    arrays[2][5] = limit * factor
    extreme = ModelWeights(MNIST_MLP.id, tuple(arrays))
    if holder == "update":
        update = extreme
    else:
        global_model = extreme
    expected = _average_or_refusal(lambda: fedavg([update, *[global_model] * (contributors - 1)]))
    repeats = (1, contributors - 1)
    repeated = _average_or_refusal(lambda: fedavg([update, global_model], repeats=repeats))
    assert repeated == expected
    refuses = not factor < 1 and (holder == "update" or contributors > 1)
    assert (expected is WeightsOutOfRange) == refuses


@pytest.mark.parametrize(
    ("repeats", "complaint"),
    [((1,), "one count"), ((1, 2, 3), "one count"), ((1, -1), "0 or more"), ((0, 0), "0 times")],
)
def test_bad_repeats_are_refused(repeats: tuple[int, ...], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        fedavg(_updates(2), repeats=repeats)


def test_an_update_repeated_zero_times_is_not_looked_at() -> None:
    kept, ignored = _updates(2)
    huge = ModelWeights(ignored.architecture, tuple(np.full_like(a, 1e30) for a in ignored.arrays))
    assert fedavg([kept, huge], repeats=(1, 0)) == fedavg([kept])
