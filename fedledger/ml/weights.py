"""`ModelWeights`: the unit every part of FedLedger passes around (architecture id + arrays)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fedledger.ml.architectures import Architecture, Conv2D, get_architecture
from fedledger.ml.errors import ShapeMismatch


@dataclass(frozen=True, eq=False)
class ModelWeights:
    """The weights of one model: its architecture id and read-only float32 arrays.

    Construction checks the arrays against the registered architecture (count and shapes,
    :class:`~fedledger.ml.errors.ShapeMismatch` otherwise) and stores read-only float32
    C-ordered arrays, copying only when the input is writable or of another dtype. Values
    are not checked here: a diverged training run may hold NaN, which
    :func:`fedledger.ml.codec.encode` then refuses.

    Two ``ModelWeights`` are equal when their ids and the bits of every value are equal.
    """

    architecture: str
    arrays: tuple[np.ndarray, ...]

    def __post_init__(self) -> None:
        spec = get_architecture(self.architecture)
        expected = spec.weight_shapes
        if len(self.arrays) != len(expected):
            raise ShapeMismatch(
                f"{self.architecture} has {len(expected)} weight arrays, got {len(self.arrays)}"
            )
        frozen = []
        for index, (array, shape) in enumerate(zip(self.arrays, expected, strict=True)):
            frozen.append(_frozen_float32(array, shape, self.architecture, index))
        object.__setattr__(self, "arrays", tuple(frozen))

    @property
    def spec(self) -> Architecture:
        return get_architecture(self.architecture)

    @property
    def parameter_count(self) -> int:
        return sum(array.size for array in self.arrays)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ModelWeights):
            return NotImplemented
        return self.architecture == other.architecture and all(
            a.tobytes() == b.tobytes() for a, b in zip(self.arrays, other.arrays, strict=True)
        )

    __hash__ = None  # type: ignore[assignment]  # mutable-looking payload: not a dict key

    def __repr__(self) -> str:
        return f"ModelWeights({self.architecture!r}, {self.parameter_count} parameters)"


def _frozen_float32(
    array: np.ndarray, shape: tuple[int, ...], architecture: str, index: int
) -> np.ndarray:
    data = np.asarray(array)
    if data.dtype.kind != "f":
        raise TypeError(
            f"weight array {index} of {architecture} has dtype {data.dtype}; "
            "expected floating point values"
        )
    if data.shape != shape:
        raise ShapeMismatch(
            f"weight array {index} of {architecture} has shape {data.shape}, expected {shape}"
        )
    if data.dtype == np.float32 and data.flags.c_contiguous and not data.flags.writeable:
        return data
    frozen = np.array(data, dtype=np.float32, order="C", copy=True)
    frozen.flags.writeable = False
    return frozen


def initial_weights(architecture_id: str, seed: int) -> ModelWeights:
    """Reproducible starting weights: Glorot-uniform kernels and zero biases (Keras' defaults).

    Drawn with numpy only, so an admin can create the first global model without
    TensorFlow; the same seed gives the same bytes for a given numpy version.
    """
    spec = get_architecture(architecture_id)
    rng = np.random.default_rng(seed)
    arrays: list[np.ndarray] = []
    for layer, (kernel_shape, bias_shape) in zip(
        spec.layers, _pairs(spec.weight_shapes), strict=True
    ):
        receptive = layer.kernel_size**2 if isinstance(layer, Conv2D) else 1
        fan_in = math.prod(kernel_shape[:-1])
        fan_out = kernel_shape[-1] * receptive
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        arrays.append(rng.uniform(-limit, limit, size=kernel_shape).astype(np.float32))
        arrays.append(np.zeros(bias_shape, dtype=np.float32))
    return ModelWeights(architecture_id, tuple(arrays))


def _pairs(shapes: Sequence[tuple[int, ...]]) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    return list(zip(shapes[0::2], shapes[1::2], strict=True))
