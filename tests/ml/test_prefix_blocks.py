"""The blocked first-layer product gives exactly the integers of the dense product it
replaced: on its own, and through the whole evaluator on random and extreme models."""

from __future__ import annotations

import numpy as np
import pytest

from fedledger.ml import (
    MNIST_MLP,
    Dataset,
    ExactEvaluator,
    FederatedSplit,
    ModelWeights,
    initial_weights,
)
from fedledger.ml.evaluation import ACTIVATION_FRAC_BITS, ACTIVATION_MAX, quantize
from fedledger.ml.fixedpoint import EXACT_BOUND, check_dot_bound
from fedledger.ml.prefix_blocks import PrefixBlocks
from tests.ml.test_evaluation import reference_logits


def dense_logits(weights: ModelWeights, images: np.ndarray) -> tuple[np.ndarray, int]:
    """The evaluator's path before the blocked product, step for step: dense float64
    products of the whole pixel matrix, in the data set's order."""
    matrix = images.astype(np.float64).reshape(len(images), -1)
    layers = quantize(weights)
    saturated = 0
    for hidden in layers[:-1]:
        accumulator = matrix @ hidden.kernel
        accumulator += hidden.bias
        shift = hidden.accumulator_frac_bits - ACTIVATION_FRAC_BITS
        accumulator += 2.0 ** (shift - 1)
        accumulator *= 2.0**-shift
        np.floor(accumulator, out=accumulator)
        saturated += int(np.count_nonzero(accumulator > ACTIVATION_MAX))
        np.clip(accumulator, 0, ACTIVATION_MAX, out=accumulator)
        matrix = accumulator
    logits = matrix @ layers[-1].kernel
    logits += layers[-1].bias
    return logits.astype(np.int64), saturated


def _extreme_mlp(rng: np.random.Generator) -> ModelWeights:
    """Every unit of both layers at the top of the exact range: the largest float32 weights
    whose absolute sum times the largest input, plus the bias, reaches 2**52 or just under,
    with random signs, but all positive in the first four units (which the fully lit
    images then drive far into the activation ceiling)."""
    arrays = []
    for (fan_in, units), input_max, weight_frac, bias_frac in (
        ((784, 128), 255, 35, 43),
        ((128, 10), ACTIVATION_MAX, 19, 36),
    ):
        # The largest integer kernel entry K with fan_in * input_max * K <= 2**52, cut to 24
        # significant bits so that K * 2**-weight_frac is a float32.
        entry = EXACT_BOUND // (fan_in * input_max)
        entry -= entry % (1 << max(entry.bit_length() - 24, 0))
        slack = EXACT_BOUND - fan_in * input_max * entry
        kernel = np.full((fan_in, units), entry * 2.0**-weight_frac, np.float32)
        kernel[:, 4:] *= rng.choice(np.array([-1, 1], np.float32), (fan_in, units - 4))
        bias_entry = slack - slack % (1 << max(slack.bit_length() - 24, 0))
        bias = np.float32(bias_entry * 2.0**-bias_frac) * rng.choice([-1, 1], units)
        arrays += [kernel, bias.astype(np.float32)]
        layer_kernel = np.rint(kernel.astype(np.float64) * 2.0**weight_frac)
        layer_bias = np.rint(bias.astype(np.float64) * 2.0**bias_frac)
        check_dot_bound(layer_kernel, layer_bias, input_max, "the test's own model")
    return ModelWeights(MNIST_MLP.id, tuple(arrays))


def _random_mlps(rng: np.random.Generator) -> list[ModelWeights]:
    start = initial_weights(MNIST_MLP.id, 3)
    models = [start]
    for scale in (0.01, 1.0, 3.0, 6.0):
        models.append(
            ModelWeights(
                MNIST_MLP.id,
                tuple(
                    (a * scale + rng.normal(0, scale / 20, a.shape)).astype(np.float32)
                    for a in start.arrays
                ),
            )
        )
    models.append(_extreme_mlp(rng))
    return models


@pytest.fixture(scope="module")
def hard_images(mnist_federation: FederatedSplit) -> Dataset:
    """Real validation images plus the corner cases: blank, fully lit at 255, random noise
    and a single lit pixel in each corner."""
    rng = np.random.default_rng(11)
    real = mnist_federation.validation[2].subset(np.arange(400))
    blank = np.zeros((3, 28, 28), np.uint8)
    full = np.full((3, 28, 28), 255, np.uint8)
    noise = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    corners = np.zeros((4, 28, 28), np.uint8)
    for k, (i, j) in enumerate(((0, 0), (0, 27), (27, 0), (27, 27))):
        corners[k, i, j] = 255
    images = np.concatenate([real.images, blank, full, noise, corners])
    labels = np.concatenate([real.labels, rng.integers(0, 10, 15, dtype=np.uint8)])
    order = rng.permutation(len(images))  # the special rows anywhere, not at the end
    return Dataset(images[order], labels[order])


def test_the_evaluator_gives_the_dense_paths_integers(hard_images: Dataset) -> None:
    rng = np.random.default_rng(2)
    evaluator = ExactEvaluator(hard_images, MNIST_MLP.id)
    for weights in _random_mlps(rng):
        expected, saturated = dense_logits(weights, hard_images.images)
        logits = evaluator.logits(weights)
        assert np.array_equal(logits.values, expected)
        assert logits.saturated == saturated
        assert np.array_equal(logits.values, reference_logits(weights, hard_images.images))
        # evaluate() reduces over samples in the blocks' order: the same counts
        result = evaluator.evaluate(weights)
        predictions = np.argmax(expected, axis=1)
        assert result.correct == int(np.count_nonzero(predictions == hard_images.labels))
    assert saturated > 0  # the extreme model (last) drives activations into the ceiling


def test_blocked_product_equals_the_dense_product_at_the_bound(
    mnist_federation: FederatedSplit,
) -> None:
    rng = np.random.default_rng(4)
    pixels = mnist_federation.validation[0].images.reshape(2000, -1).astype(np.float64)
    pixels[7] = 255.0  # one worst-case row
    limit = EXACT_BOUND // 255
    kernel = rng.integers(1, 2**40, (784, 12)).astype(np.float64)
    kernel = np.floor(kernel * (limit / kernel.sum(axis=0)) * (1 - 1e-9))
    kernel[0] += limit - kernel.sum(axis=0)  # every column's L1 norm exactly at the limit
    kernel *= rng.choice([-1.0, 1.0], kernel.shape)
    check_dot_bound(kernel, np.zeros(12), 255, "test")
    blocks = PrefixBlocks(pixels)
    exact = pixels.astype(np.int64) @ kernel.astype(np.int64)  # no float at all
    assert np.array_equal(blocks.product(kernel).astype(np.int64), exact[blocks.row_order])
    assert np.array_equal(pixels @ kernel, (pixels.astype(np.int64) @ kernel.astype(np.int64)))
    assert sorted(blocks.row_order.tolist()) == list(range(2000))
    assert blocks.cells < 0.7 * pixels.size  # it does skip most unlit pixels


@pytest.mark.parametrize("shape", [(1, 5), (40, 1), (300, 50), (97, 784)])
@pytest.mark.parametrize("density", [0.0, 0.05, 0.5, 1.0])
def test_blocks_cover_every_nonzero_of_random_matrices(
    shape: tuple[int, int], density: float
) -> None:
    rng = np.random.default_rng(int(density * 100) + shape[0])
    matrix = rng.integers(1, 256, shape).astype(np.float64)
    matrix[rng.random(shape) >= density] = 0.0
    kernel = rng.integers(-(2**30), 2**30, (shape[1], 7)).astype(np.float64)
    blocks = PrefixBlocks(matrix)
    assert np.array_equal(blocks.product(kernel), (matrix @ kernel)[blocks.row_order])
    reordered = matrix[blocks.row_order][:, blocks.column_order]
    for block in blocks.blocks:  # nothing outside a block's prefix is ever nonzero
        assert not reordered[block.start : block.stop, block.width :].any()
    assert blocks.cells <= matrix.size
    with pytest.raises(ValueError, match="kernel has"):
        blocks.product(kernel[1:])
