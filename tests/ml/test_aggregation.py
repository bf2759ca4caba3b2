"""Equal-weight fixed-point FedAvg: order-free bytes, exact rounding, range guard."""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import Callable
from functools import partial

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
from fedledger.ml.aggregation import RunningFedAvg, bounded_fedavg

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


def reference_fedavg(updates: list[ModelWeights]) -> ModelWeights:
    """fedavg as it was written before RunningFedAvg, in Python integers: per weight,
    round(w * 2**40) summed, (sum + K // 2) // K, scaled back and rounded to float32."""
    count = len(updates)
    bound = min(2**52, 2**62 // count)
    arrays = []
    for index in range(len(updates[0].arrays)):
        total = np.zeros(updates[0].arrays[index].shape, dtype=object)
        for update in updates:
            fixed = np.rint(update.arrays[index].astype(np.float64) * 2.0**40)
            if not np.all(np.abs(fixed) <= bound):
                raise WeightsOutOfRange("reference: out of range")
            total = total + fixed.astype(np.int64).astype(object)
        mean = (total + count // 2) // count
        arrays.append(np.array([float(v) * 2.0**-40 for v in mean.flat]).astype(np.float32))
        arrays[-1] = arrays[-1].reshape(updates[0].arrays[index].shape)
    return ModelWeights(updates[0].architecture, tuple(arrays))


def _running_average(updates: list[ModelWeights]) -> ModelWeights:
    running = RunningFedAvg(updates[0].architecture)
    for update in updates:
        running.add(update)
    assert running.count == len(updates)
    return running.result()


def test_running_fedavg_gives_fedavgs_bytes_on_random_sets() -> None:
    rng = np.random.default_rng(1207)
    base = initial_weights(MNIST_CNN.id, 1)
    refused = 0
    for case in range(40):
        count = int(rng.integers(1, 30))
        scale = float(10.0 ** rng.uniform(-7, 3.6))  # up to 4,000: across the range bound
        updates = [
            ModelWeights(
                MNIST_CNN.id,
                tuple(
                    (a + rng.standard_normal(a.shape) * scale).astype(np.float32)
                    for a in base.arrays
                ),
            )
            for _ in range(count)
        ]
        shuffled = [updates[i] for i in rng.permutation(count)]  # any order
        result = _average_or_refusal(partial(_running_average, shuffled))
        assert result == _average_or_refusal(partial(reference_fedavg, updates)), case
        assert result == _average_or_refusal(partial(fedavg, updates)), case
        if result is WeightsOutOfRange:
            refused += 1
        else:
            assert encode(result) == encode(fedavg(updates)), case
    assert 0 < refused < 40  # both outcomes were compared


def test_running_fedavg_repeats_and_refusals_match_fedavg() -> None:
    updates = _updates(4)
    running = RunningFedAvg(MNIST_MLP.id)
    running.add(updates[0], 3)
    running.add(updates[1], 0)  # not looked at
    running.add(updates[2])
    assert running.count == 4
    assert running.result() == fedavg(updates[:3], repeats=(3, 0, 1))
    assert running.result() == fedavg([updates[0]] * 3 + [updates[2]])
    with pytest.raises(ValueError, match="cannot average"):
        running.add(initial_weights(MNIST_CNN.id, 0))
    with pytest.raises(ValueError, match="0 or more"):
        running.add(updates[3], -1)
    with pytest.raises(ValueError, match="nothing to aggregate"):
        RunningFedAvg(MNIST_MLP.id).result()

    # 2**62 / 2048 = 2**51: 2048 updates may hold weights up to 2048, not one above.
    near = RunningFedAvg(MNIST_CNN.id)
    near.add(_constant(2049.0))  # fine for one update
    with pytest.raises(WeightsOutOfRange, match="2048 updates"):
        near.add(_constant(2000.0), 2047)  # the 2049 seen before breaks the rule for 2048
    assert near.count == 1 and near.result() == _constant(2049.0)  # nothing was added
    with pytest.raises(WeightsOutOfRange, match="the update"):
        near.add(_constant(4097.0))  # beyond 2**52 whatever the count
    near.add(_constant(1.0), 2046)  # 2047 updates: bound 2**62 // 2047 > 2049 * 2**40
    assert near.result() == fedavg([_constant(2049.0), _constant(1.0)], repeats=(1, 2046))


def test_running_fedavg_memory_does_not_grow_with_the_count() -> None:
    """Peak memory while averaging 10 and 120 MLP updates made one at a time: the same,
    about two models' integers, not the updates."""
    rng = np.random.default_rng(9)
    base = initial_weights(MNIST_MLP.id, 0)

    def peak(count: int) -> int:
        tracemalloc.start()
        running = RunningFedAvg(MNIST_MLP.id)
        for _ in range(count):
            noise = tuple(a + np.float32(rng.normal()) * 1e-3 for a in base.arrays)
            running.add(ModelWeights(MNIST_MLP.id, noise))
        running.result()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak

    small, large = peak(10), peak(120)
    model_bytes = sum(a.nbytes for a in base.arrays)
    assert large < small * 1.1 + 65536
    assert large < 12 * model_bytes  # 120 updates would be 120 models


# ---- bounded_fedavg: clipped, capped, weighted FedAvg of deltas ------------------------


def _moved(base: ModelWeights, scale: float, seed: int) -> ModelWeights:
    rng = np.random.default_rng(seed)
    return ModelWeights(
        base.architecture,
        tuple((a + scale * rng.normal(0, 0.01, a.shape)).astype(np.float32) for a in base.arrays),
    )


def _delta_norm(a: ModelWeights, b: ModelWeights) -> float:
    return float(
        np.sqrt(
            sum(
                np.sum((x.astype(np.float64) - y) ** 2)
                for x, y in zip(a.arrays, b.arrays, strict=True)
            )
        )
    )


def test_bounded_fedavg_is_order_free_and_bit_exact() -> None:
    base = initial_weights(MNIST_MLP.id, 0)
    updates = [_moved(base, 1.0 + i, i) for i in range(7)]
    weights = [5, 1, 3, 3, 9, 2, 4]
    first = bounded_fedavg(base, updates, weights)
    order = [3, 0, 6, 1, 5, 2, 4]
    second = bounded_fedavg(base, [updates[i] for i in order], [weights[i] for i in order])
    assert encode(first.model) == encode(second.model)


def test_bounded_fedavg_clips_every_step_to_the_median_norm() -> None:
    """One update 100 times larger than the others moves the aggregate no more than a
    typical one: its delta is clipped to the median norm."""
    base = initial_weights(MNIST_MLP.id, 0)
    honest = [_moved(base, 1.0, i) for i in range(4)]
    boosted = _moved(base, 100.0, 99)
    result = bounded_fedavg(base, [*honest, boosted], [1] * 5)
    median = sorted(result.norms)[2]
    assert result.clip_norm == median
    assert result.clip_factors[4] < 2**16 // 50
    for norm, factor in zip(result.norms, result.clip_factors, strict=True):
        assert (factor == 2**16) == (norm <= median)
    typical = max(_delta_norm(u, base) for u in honest)
    assert _delta_norm(result.model, base) <= typical
    # equal weights, nothing clipped: the plain mean of the deltas, to float32 rounding
    small = [_moved(base, 1.0, 7)] * 3
    plain = bounded_fedavg(base, small, [1, 1, 1])
    assert all(f == 2**16 for f in plain.clip_factors)
    for ours, exact in zip(plain.model.arrays, small[0].arrays, strict=True):
        assert np.allclose(ours, exact, atol=2e-7)


def test_bounded_fedavg_caps_weights_at_the_median_and_skips_zero_weights() -> None:
    base = initial_weights(MNIST_MLP.id, 0)
    updates = [_moved(base, 1.0, i) for i in range(3)]
    capped = bounded_fedavg(base, updates, [1, 1, 1000])
    assert capped.trust == (1, 1, 1)
    equal = bounded_fedavg(base, updates, [1, 1, 1])
    assert encode(capped.model) == encode(equal.model)
    skipped = bounded_fedavg(base, updates, [0, 0, 7])
    alone = bounded_fedavg(base, updates[2:], [7])
    assert encode(skipped.model) == encode(alone.model)
    nothing = bounded_fedavg(base, updates, [0, 0, 0])
    assert nothing.model is base


def test_bounded_fedavg_leaves_out_an_update_that_moves_a_weight_by_16() -> None:
    base = initial_weights(MNIST_MLP.id, 0)
    good = _moved(base, 1.0, 1)
    far = ModelWeights(base.architecture, (base.arrays[0] + 16, *base.arrays[1:]))
    result = bounded_fedavg(base, [good, far], [1, 1])
    assert encode(result.model) == encode(bounded_fedavg(base, [good], [1]).model)
    with pytest.raises(ValueError, match="one weight per update"):
        bounded_fedavg(base, [good], [1, 2])
    with pytest.raises(ValueError, match="negative"):
        bounded_fedavg(base, [good], [-1])
