"""The exact evaluator: equal to an independent integer implementation, bounds enforced."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import numpy as np
import pytest

from fedledger.ml import (
    MNIST_CNN,
    MNIST_MLP,
    Dataset,
    Evaluation,
    ExactEvaluator,
    FederatedSplit,
    ModelWeights,
    RejectReason,
    ShapeMismatch,
    WeightsOutOfRange,
    initial_weights,
)
from fedledger.ml.architectures import Conv2D
from fedledger.ml.fixedpoint import EXACT_BOUND, check_dot_bound

ARCHITECTURES = [MNIST_MLP.id, MNIST_CNN.id]


def reference_logits(weights: ModelWeights, images: np.ndarray) -> np.ndarray:
    """The fixed-point model of docs/ml.md in int64 numpy (no BLAS, no float), written
    independently of the evaluator: direct convolution sums instead of im2col."""
    spec = weights.spec
    values = images.astype(np.int64).reshape(len(images), *spec.input_shape)
    input_max, input_frac = 255, 8
    for index, layer in enumerate(spec.layers):
        kernel, bias = weights.arrays[2 * index], weights.arrays[2 * index + 1]
        weight_frac = 52 - input_max.bit_length() - 9
        q_kernel = np.rint(kernel.astype(np.float64) * 2.0**weight_frac).astype(np.int64)
        q_bias = np.rint(bias.astype(np.float64) * 2.0 ** (input_frac + weight_frac))
        if isinstance(layer, Conv2D):
            size, stride = layer.kernel_size, layer.stride
            out_h, out_w, _ = spec.activation_shapes[index]
            acc = np.zeros((len(images), out_h, out_w, layer.filters), np.int64)
            for di in range(size):
                for dj in range(size):
                    window = values[
                        :, di : di + stride * out_h : stride, dj : dj + stride * out_w : stride
                    ]
                    acc += np.einsum("nhwc,cf->nhwf", window, q_kernel[di, dj])
        else:
            acc = values.reshape(len(images), -1) @ q_kernel
        acc = acc + q_bias.astype(np.int64)
        if index == len(spec.layers) - 1:
            return acc
        shift = input_frac + weight_frac - 17
        values = np.clip((acc + (1 << (shift - 1))) >> shift, 0, 2**24 - 1)
        input_max, input_frac = 2**24 - 1, 17
    raise AssertionError("no layers")


@pytest.fixture(scope="module")
def validation(mnist_federation: FederatedSplit) -> Dataset:
    return mnist_federation.validation[0]


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_logits_equal_an_independent_integer_implementation(
    architecture: str, validation: Dataset, trained_weights: Callable[[str, int], ModelWeights]
) -> None:
    weights = trained_weights(architecture, 0)
    sample = validation.subset(np.arange(300))
    logits = ExactEvaluator(sample, architecture).logits(weights)
    assert logits.values.dtype == np.int64
    assert np.array_equal(logits.values, reference_logits(weights, sample.images))
    assert logits.frac_bits == 17 + 19  # hidden activations x last-layer weights


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_evaluation_counts_are_consistent(
    architecture: str, validation: Dataset, trained_weights: Callable[[str, int], ModelWeights]
) -> None:
    weights = trained_weights(architecture, 0)
    evaluator = ExactEvaluator(validation, architecture)
    result = evaluator.evaluate(weights)
    predictions = evaluator.logits(weights).predictions
    assert result.total == len(validation) == 2000
    assert list(result.per_class_total) == validation.class_counts().tolist()
    assert result.correct == int(np.count_nonzero(predictions == validation.labels))
    for c in range(10):
        mine = validation.labels == c
        assert result.per_class_correct[c] == int(np.count_nonzero(predictions[mine] == c))
    assert result.accuracy > 0.85 and result.saturated == 0
    assert all(m > 0 for m in result.margin_sums)  # a trained model is right by a margin
    assert evaluator.evaluate(weights) == result
    assert (
        json.loads(json.dumps(dataclasses.asdict(result)))["confusion"][3][3]
        == (result.confusion[3][3])
    )


def test_zero_model_ties_go_to_class_zero(validation: Dataset) -> None:
    zeros = ModelWeights(
        MNIST_MLP.id, tuple(np.zeros(s, np.float32) for s in MNIST_MLP.weight_shapes)
    )
    result = ExactEvaluator(validation, MNIST_MLP.id).evaluate(zeros)
    counts = validation.class_counts().tolist()
    assert [row[0] for row in result.confusion] == counts
    assert result.correct == counts[0]
    assert result.margin_sums == (0,) * 10


def test_margins_are_clipped_integer_logit_differences(validation: Dataset) -> None:
    arrays = [np.zeros(s, np.float32) for s in MNIST_MLP.weight_shapes]
    arrays[3][:] = np.arange(10, dtype=np.float32) * 0.25  # logits = 0, 0.25, ..., 2.25
    arrays[3][9] = 40.0  # class 9 wins by 37.75: clipped to 16
    result = ExactEvaluator(validation, MNIST_MLP.id).evaluate(
        ModelWeights(MNIST_MLP.id, tuple(arrays))
    )
    counts = validation.class_counts()
    unit = 2**16
    expected = [int(counts[c]) * int((c * 0.25 - 40.0) * unit) for c in range(9)]
    expected.append(int(counts[9]) * 16 * unit)
    assert list(result.margin_sums) == [
        max(e, -16 * unit * int(counts[c])) for c, e in enumerate(expected)
    ]
    assert result.correct == int(counts[9])


def test_saturated_activations_are_counted(validation: Dataset) -> None:
    arrays = [np.zeros(s, np.float32) for s in MNIST_MLP.weight_shapes]
    arrays[1][:5] = 200.0  # five hidden units at 200, above the 128 ceiling
    arrays[1][5:10] = 100.0
    result = ExactEvaluator(validation, MNIST_MLP.id).evaluate(
        ModelWeights(MNIST_MLP.id, tuple(arrays))
    )
    assert result.saturated == 5 * len(validation)


def _mlp_with_first_column_l1(l1: float) -> ModelWeights:
    arrays = [np.zeros(s, np.float32) for s in MNIST_MLP.weight_shapes]
    arrays[0][:, 7] = np.float32(l1 / 784)
    arrays[0][::2, 7] *= -1  # the sign does not matter, the sum of magnitudes does
    return ModelWeights(MNIST_MLP.id, tuple(arrays))


def test_weights_beyond_the_exact_range_are_refused(
    validation: Dataset, trained_weights: Callable[[str, int], ModelWeights]
) -> None:
    evaluator = ExactEvaluator(validation.subset(np.arange(50)), MNIST_MLP.id)
    evaluator.evaluate(_mlp_with_first_column_l1(513.0))  # 255 * 513 * 2**35 < 2**52
    with pytest.raises(WeightsOutOfRange, match="layer 0") as caught:
        evaluator.evaluate(_mlp_with_first_column_l1(514.1))
    assert caught.value.reason is RejectReason.OUT_OF_RANGE
    trained = trained_weights(MNIST_MLP.id, 0)
    scaled = ModelWeights(MNIST_MLP.id, tuple(a * 1000 for a in trained.arrays))
    with pytest.raises(WeightsOutOfRange):
        evaluator.evaluate(scaled)
    arrays = [a.copy() for a in trained.arrays]
    arrays[3][2] = np.nan
    with pytest.raises(WeightsOutOfRange, match="layer 1"):
        evaluator.evaluate(ModelWeights(MNIST_MLP.id, tuple(arrays)))
    arrays[3][2] = 600.0  # a bias above the 512 bound of its layer
    with pytest.raises(WeightsOutOfRange, match="bias"):
        evaluator.evaluate(ModelWeights(MNIST_MLP.id, tuple(arrays)))


def test_the_bound_check_is_tight_and_makes_blas_exact() -> None:
    rng = np.random.default_rng(5)
    limit = EXACT_BOUND // 255
    kernel = rng.integers(1, 2**40, (300, 6)).astype(np.float64)
    kernel *= (limit / kernel.sum(axis=0)) * (1 - 1e-9)
    kernel = np.floor(kernel)
    kernel[0] += limit - kernel.sum(axis=0)  # every column's L1 is exactly the limit
    kernel[1::2] *= -1
    slack = EXACT_BOUND - 255 * limit  # 16: room left for the bias
    check_dot_bound(kernel, np.full(6, float(slack)), 255, "test")
    with pytest.raises(WeightsOutOfRange):
        check_dot_bound(kernel, np.full(6, float(slack + 1)), 255, "test")
    inputs = rng.integers(200, 256, (64, 300)).astype(np.float64)
    inputs[:, ::2] = 255  # the worst case: all positive terms at the largest input
    exact = np.array(
        [
            [sum(int(x) * int(k) for x, k in zip(row, col, strict=True)) for col in kernel.T]
            for row in inputs
        ],
        dtype=object,
    )
    assert np.array_equal((inputs @ kernel).astype(np.int64).astype(object), exact)


def test_weights_of_another_architecture_are_refused(validation: Dataset) -> None:
    evaluator = ExactEvaluator(validation.subset(np.arange(10)), MNIST_MLP.id)
    with pytest.raises(ShapeMismatch, match="this evaluator runs mnist-mlp"):
        evaluator.evaluate(initial_weights(MNIST_CNN.id, 0))


def test_evaluation_is_a_plain_integer_record() -> None:
    confusion = tuple(tuple(3 if i == j else 1 for j in range(10)) for i in range(10))
    result = Evaluation("x", confusion, (0,) * 10, 0)
    assert result.total == 120 and result.correct == 30
    assert result.per_class_total == (12,) * 10 and result.per_class_correct == (3,) * 10
    assert hash(result) == hash(Evaluation("x", confusion, (0,) * 10, 0))
