"""Verification-grade evaluation: integer results that are identical on every oracle.

The model runs in fixed point on integer-valued float64, exact by the argument in
:mod:`fedledger.ml.fixedpoint`. Layer ``l`` receives integers ``a`` (``|a| <= A``) that
stand for ``a * 2**-f``:

- first layer: the raw pixels, ``A = 255``, ``f = INPUT_FRAC_BITS = 8``: exactly the
  model input ``pixel / 256`` the Keras model is trained on;
- later layers: requantized activations, ``A = ACTIVATION_MAX = 2**24 - 1``,
  ``f = ACTIVATION_FRAC_BITS = 17``.

The kernel gets ``s = 52 - bit_length(A) - L1_BITS`` fraction bits (35 after pixels, 19
after activations) and the bias ``f + s``, so ``acc = a @ kernel + bias`` is the exact
pre-activation times ``2**(f + s)`` provided ``A * sum_j |kernel[j, k]| + |bias[k]| <=
2**52`` for every unit ``k``, checked before any product is computed
(:func:`~fedledger.ml.fixedpoint.check_dot_bound`). In model units this admits any unit
whose absolute weights sum to about ``2**L1_BITS = 512`` (trained MNIST models: 8 to 60);
larger weights raise :class:`~fedledger.ml.errors.WeightsOutOfRange`, the same on every
oracle since the check is exact.

A hidden layer's accumulator becomes the next layer's input by
``clip(floor((acc + 2**(r-1)) / 2**r), 0, ACTIVATION_MAX)`` with ``r = f + s - 17``:
round to nearest, ReLU, and saturation at ``2**7 = 128`` in model units (activations of
trained models stay far below; each clipped value is counted in
:attr:`Evaluation.saturated`). Every step is exact in float64. The last layer's
accumulator is the logits times ``2**(f + s)``; the prediction is the arg-max, ties going
to the lowest class number. Convolutions are the same matrix product over im2col patches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from fedledger.ml.architectures import (
    INPUT_FRAC_BITS,
    NUM_CLASSES,
    PIXEL_MAX,
    Architecture,
    Conv2D,
    Layer,
    as_architecture,
)
from fedledger.ml.datasets import Dataset
from fedledger.ml.errors import ShapeMismatch
from fedledger.ml.fixedpoint import EXACT_BITS, EXACT_BOUND, check_dot_bound, to_fixed
from fedledger.ml.prefix_blocks import PrefixBlocks
from fedledger.ml.weights import ModelWeights

ACTIVATION_FRAC_BITS = 17
ACTIVATION_MAX = 2**24 - 1
#: log2 of the largest admitted sum of a unit's absolute weights (model units).
L1_BITS = 9
#: Margins are reported in units of 2**-16 logits, clipped to +-16 logits.
MARGIN_FRAC_BITS = 16
MARGIN_CLIP = 16 << MARGIN_FRAC_BITS


@dataclass(frozen=True)
class Evaluation:
    """Integer results of one model on one validation set; equal on every oracle.

    ``confusion[t][p]`` counts samples of true class ``t`` predicted as ``p``.
    ``margin_sums[t]`` adds, over the samples of class ``t``, the true class's logit minus
    the best other logit, clipped to +-16 and in units of 2**-16: a finer, integer
    loss-like signal than the counts (higher is better). ``saturated`` counts hidden
    activations clipped at the top of the fixed-point range (0 for sane models).
    """

    architecture: str
    confusion: tuple[tuple[int, ...], ...]
    margin_sums: tuple[int, ...]
    saturated: int

    @property
    def total(self) -> int:
        return sum(self.per_class_total)

    @property
    def correct(self) -> int:
        return sum(self.per_class_correct)

    @property
    def per_class_total(self) -> tuple[int, ...]:
        return tuple(sum(row) for row in self.confusion)

    @property
    def per_class_correct(self) -> tuple[int, ...]:
        return tuple(row[c] for c, row in enumerate(self.confusion))

    @property
    def accuracy(self) -> float:
        """For display only: verdicts must compare the integer counts."""
        return self.correct / self.total if self.total else 0.0


@dataclass(frozen=True, eq=False)
class FixedLogits:
    """Exact logits: ``values`` (int64, ``(n, 10)``) stand for ``values * 2**-frac_bits``."""

    values: np.ndarray
    frac_bits: int
    saturated: int

    @property
    def predictions(self) -> np.ndarray:
        """Arg-max class per sample; on a tie the lowest class number."""
        return np.argmax(self.values, axis=1)


@dataclass(frozen=True, eq=False)
class FixedLayer:
    """One layer in fixed point: integer-valued float64 kernel ``(fan_in, outputs)`` and bias."""

    kernel: np.ndarray
    bias: np.ndarray
    input_frac_bits: int
    weight_frac_bits: int

    @property
    def accumulator_frac_bits(self) -> int:
        return self.input_frac_bits + self.weight_frac_bits


def quantize(weights: ModelWeights) -> tuple[FixedLayer, ...]:
    """The model in fixed point, after proving every layer's products exact.

    Raises :class:`~fedledger.ml.errors.WeightsOutOfRange` for weights outside the exact
    range (NaN and infinities included).
    """
    spec = weights.spec
    layers = []
    input_max, input_frac = PIXEL_MAX, INPUT_FRAC_BITS
    for index, layer in enumerate(spec.layers):
        kernel, bias = weights.arrays[2 * index], weights.arrays[2 * index + 1]
        weight_frac = EXACT_BITS - input_max.bit_length() - L1_BITS
        name = f"layer {index} ({type(layer).__name__})"
        fixed_kernel = to_fixed(
            kernel.reshape(-1, kernel.shape[-1]),
            weight_frac,
            EXACT_BOUND // input_max,
            f"{name} kernel",
        )
        # Biases get the same 2**L1_BITS bound as a unit's weights, so every weight the
        # evaluator admits is below 515 in magnitude (fedavg relies on that bound).
        bias_frac = input_frac + weight_frac
        bias_bound = min(EXACT_BOUND, 2 ** (L1_BITS + bias_frac))
        fixed_bias = to_fixed(bias, bias_frac, bias_bound, f"{name} bias")
        check_dot_bound(fixed_kernel, fixed_bias, input_max, name)
        layers.append(FixedLayer(fixed_kernel, fixed_bias, input_frac, weight_frac))
        input_max, input_frac = ACTIVATION_MAX, ACTIVATION_FRAC_BITS
    return tuple(layers)


@dataclass(frozen=True, eq=False)
class ExactForward:
    """One exact forward pass, samples in the data set's order: ``layers[l]`` is layer
    ``l``'s fixed-point form, ``hidden_inputs[l - 1]`` layer ``l``'s left operand for
    ``l >= 1`` (requantized activations at ACTIVATION_FRAC_BITS, integer-valued float64),
    ``logits`` the result."""

    layers: tuple[FixedLayer, ...]
    hidden_inputs: tuple[np.ndarray, ...]
    logits: FixedLogits


class ExactEvaluator:
    """Evaluates models of one architecture on one validation set, exactly.

    The first layer's input matrix is built once here. For a Dense first layer it is kept
    as :class:`~fedledger.ml.prefix_blocks.PrefixBlocks`, which skip the unlit pixels
    (about 6.6 MB and half the multiply-adds of the dense product for the MLP at 2,000
    images); the samples are then processed in the blocks' row order, with the labels
    permuted to match once here. A convolution's im2col patches (57.6 MB for the CNN) stay
    dense and in sample order, which the next layer's reshape needs.
    """

    def __init__(self, dataset: Dataset, architecture: str | Architecture) -> None:
        self.spec = as_architecture(architecture)
        self.labels = dataset.labels.astype(np.intp)
        pixels = dataset.images.astype(np.float64).reshape(len(dataset), *self.spec.input_shape)
        first_input = _layer_matrix(pixels, self.spec.layers[0])
        self._first_blocks: PrefixBlocks | None = None
        self._first_input: np.ndarray | None = None
        if isinstance(self.spec.layers[0], Conv2D):
            self._first_input = first_input
            self._row_order = np.arange(len(self.labels))
        else:
            self._first_blocks = PrefixBlocks(first_input)
            self._row_order = self._first_blocks.row_order
        self._ordered_labels = self.labels[self._row_order]

    def __len__(self) -> int:
        return len(self.labels)

    def logits(self, weights: ModelWeights) -> FixedLogits:
        """The exact fixed-point logits of every sample, in the data set's order."""
        ordered = self._ordered_logits(weights)
        values = _restore_rows(ordered.values, self._row_order)
        return FixedLogits(values, ordered.frac_bits, ordered.saturated)

    def evaluate(self, weights: ModelWeights) -> Evaluation:
        """Confusion matrix, per-class margins and saturation count of ``weights``."""
        logits = self._ordered_logits(weights)
        labels = self._ordered_labels
        pairs = labels * NUM_CLASSES + logits.predictions
        confusion = np.bincount(pairs, minlength=NUM_CLASSES**2).reshape(NUM_CLASSES, NUM_CLASSES)
        return Evaluation(
            architecture=self.spec.id,
            confusion=tuple(tuple(int(v) for v in row) for row in confusion),
            margin_sums=tuple(int(v) for v in _margin_sums(logits, labels)),
            saturated=logits.saturated,
        )

    def forward(self, weights: ModelWeights) -> ExactForward:
        """The exact forward pass in the data set's sample order: every layer's fixed-point
        form, the inputs of the layers after the first, and the logits (what a backward
        pass in the same integers needs; the first layer's input is the pixels)."""
        layers, hidden, ordered = self._ordered_forward(weights, keep_inputs=True)
        if self._first_blocks is not None:  # Dense layers: rows back to the data's order
            hidden = [_restore_rows(matrix, self._row_order) for matrix in hidden]
        values = _restore_rows(ordered.values, self._row_order)
        logits = FixedLogits(values, ordered.frac_bits, ordered.saturated)
        return ExactForward(layers=layers, hidden_inputs=tuple(hidden), logits=logits)

    def _ordered_logits(self, weights: ModelWeights) -> FixedLogits:
        """The logits with the samples in ``self._row_order``."""
        return self._ordered_forward(weights, keep_inputs=False)[2]

    def _ordered_forward(
        self, weights: ModelWeights, keep_inputs: bool
    ) -> tuple[tuple[FixedLayer, ...], list[np.ndarray], FixedLogits]:
        if weights.architecture != self.spec.id:
            raise ShapeMismatch(
                f"weights are for {weights.architecture}, this evaluator runs {self.spec.id}"
            )
        layers = quantize(weights)
        # Hidden layers: the product without the bias; _requantize adds the bias together
        # with its rounding offset (one pass over the accumulator fewer).
        accumulator, saturated = self._first_product(layers[0]), 0
        inputs = []
        for index, layer in enumerate(layers[1:]):
            saturated += _requantize(accumulator, layers[index])
            activations = accumulator.reshape(len(self), *self.spec.activation_shapes[index])
            matrix = _layer_matrix(activations, self.spec.layers[index + 1])
            if keep_inputs:
                inputs.append(matrix)
            accumulator = matrix @ layer.kernel
        accumulator += layers[-1].bias
        logits = accumulator.astype(np.int64)
        return layers, inputs, FixedLogits(logits, layers[-1].accumulator_frac_bits, saturated)

    def _first_product(self, layer: FixedLayer) -> np.ndarray:
        """The first layer's ``inputs @ kernel`` (no bias), exact by quantize's bound."""
        if self._first_blocks is None:
            assert self._first_input is not None
            return self._first_input @ layer.kernel
        return self._first_blocks.product(layer.kernel)  # exact: see PrefixBlocks


def _restore_rows(ordered: np.ndarray, row_order: np.ndarray) -> np.ndarray:
    """Rows given in ``row_order`` put back in their original order."""
    restored = np.empty_like(ordered)
    restored[row_order] = ordered
    return restored


def _layer_matrix(activations: np.ndarray, layer: Layer) -> np.ndarray:
    """The left operand of ``layer``'s product: flattened samples, or im2col patches."""
    count = activations.shape[0]
    if not isinstance(layer, Conv2D):
        return activations.reshape(count, -1)
    size, stride = layer.kernel_size, layer.stride
    # windows: (n, out_h, out_w, channels, k, k) -> patches in Keras' (k, k, channels) order
    windows = sliding_window_view(activations, (size, size), axis=(1, 2))[:, ::stride, ::stride]
    patches = windows.transpose(0, 1, 2, 4, 5, 3)
    return patches.reshape(-1, size * size * activations.shape[3])


def _requantize(accumulator: np.ndarray, layer: FixedLayer) -> int:
    """In place: add ``layer``'s bias to its product ``accumulator``, round to nearest at
    ``2**shift``, ReLU, saturate; returns the clip count.

    Exact: the bias and the offset ``2**(shift - 1)`` are integers of at most 2**52 and
    2**51, so their float64 sum is exact; ``|product + bias| <= 2**52`` (quantize's bound),
    so adding that sum to the product gives ``product + bias + offset`` exactly, below
    2**53; scaling by a power of two and floor are exact.
    """
    shift = layer.accumulator_frac_bits - ACTIVATION_FRAC_BITS
    accumulator += layer.bias + 2.0 ** (shift - 1)
    accumulator *= 2.0**-shift
    np.floor(accumulator, out=accumulator)
    saturated = int(np.count_nonzero(accumulator > ACTIVATION_MAX))
    np.clip(accumulator, 0, ACTIVATION_MAX, out=accumulator)
    return saturated


def _margin_sums(logits: FixedLogits, labels: np.ndarray) -> np.ndarray:
    values = logits.values
    rows = np.arange(len(labels))
    others = values.copy()
    others[rows, labels] = np.iinfo(np.int64).min
    margins = values[rows, labels] - others.max(axis=1)
    margins >>= logits.frac_bits - MARGIN_FRAC_BITS  # floor division by a power of two
    np.clip(margins, -MARGIN_CLIP, MARGIN_CLIP, out=margins)
    sums = np.zeros(NUM_CLASSES, dtype=np.int64)
    np.add.at(sums, labels, margins)
    return sums
