"""The model architectures FedLedger trains, each defined once under a stable id.

An :class:`Architecture` is plain data: the input shape, the layers and hence the exact
shapes of every weight array. The codec validates blobs against it, the deterministic
evaluator runs it in fixed point, and :mod:`fedledger.ml.keras_models` builds the Keras
model from it, so none of them can disagree about what a model is, and none but the
last needs TensorFlow.

Conventions shared by every architecture (part of what an id names):

- the input is an MNIST image of grey levels 0..255, fed to the model as
  ``pixel / 2**INPUT_FRAC_BITS`` (not ``/ 255``), so that the model input is an exact
  fixed-point number and the evaluator can use the raw pixels as integers;
- every layer but the last is followed by ReLU; the last one outputs the class logits;
- weights come in the order Keras keeps them: per layer the kernel, then the bias.
  Dense kernels are ``(inputs, units)``, convolution kernels ``(k, k, in, filters)``
  (channels last, "valid" padding); a Dense layer after a convolution reads the
  activations flattened in (row, column, channel) order, like ``keras.layers.Flatten``.

Ids end in a version: changing anything above or in a layer list makes a new id.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType

import numpy as np

from fedledger.ml.errors import UnknownArchitecture

#: Model input = pixel / 2**INPUT_FRAC_BITS: an exact binary fraction in [0, 1).
INPUT_FRAC_BITS = 8
#: The largest input pixel value.
PIXEL_MAX = 255
#: Shape of one input image and the number of classes (MNIST).
IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10


@dataclass(frozen=True)
class Dense:
    """A fully connected layer with ``units`` outputs (inputs are flattened first)."""

    units: int


@dataclass(frozen=True)
class Conv2D:
    """A 2-D convolution, ``filters`` square ``kernel_size`` kernels, "valid" padding."""

    filters: int
    kernel_size: int
    stride: int = 1


Layer = Dense | Conv2D


@dataclass(frozen=True)
class Architecture:
    """A model identified by ``id``; everything about its weights follows from the layers."""

    id: str
    description: str
    input_shape: tuple[int, ...]
    layers: tuple[Layer, ...]

    def __post_init__(self) -> None:
        if math.prod(self.input_shape) != math.prod(IMAGE_SHAPE):
            raise ValueError(f"{self.id}: input shape {self.input_shape} does not hold one image")
        last = self.layers[-1] if self.layers else None
        if not isinstance(last, Dense) or last.units != NUM_CLASSES:
            raise ValueError(f"{self.id}: the last layer must be Dense({NUM_CLASSES}) logits")
        _activation_shapes(self.id, self.input_shape, self.layers)  # raises on bad geometry

    @cached_property
    def activation_shapes(self) -> tuple[tuple[int, ...], ...]:
        """Shape of one sample's activations after each layer (before any flattening)."""
        return _activation_shapes(self.id, self.input_shape, self.layers)

    @cached_property
    def layer_input_shapes(self) -> tuple[tuple[int, ...], ...]:
        """Shape of one sample's input to each layer."""
        return (self.input_shape, *self.activation_shapes[:-1])

    @cached_property
    def weight_shapes(self) -> tuple[tuple[int, ...], ...]:
        """Shapes of the weight arrays in codec order: kernel then bias, layer by layer."""
        shapes: list[tuple[int, ...]] = []
        for layer, in_shape in zip(self.layers, self.layer_input_shapes, strict=True):
            if isinstance(layer, Dense):
                shapes += [(math.prod(in_shape), layer.units), (layer.units,)]
            else:
                size = layer.kernel_size
                shapes += [(size, size, in_shape[-1], layer.filters), (layer.filters,)]
        return tuple(shapes)

    @cached_property
    def parameter_count(self) -> int:
        return sum(math.prod(shape) for shape in self.weight_shapes)


def _activation_shapes(
    architecture_id: str, input_shape: tuple[int, ...], layers: tuple[Layer, ...]
) -> tuple[tuple[int, ...], ...]:
    shapes = []
    shape = input_shape
    for layer in layers:
        if isinstance(layer, Dense):
            shape = (layer.units,)
        else:
            if len(shape) != 3:
                raise ValueError(f"{architecture_id}: Conv2D needs (height, width, channels) input")
            height, width, _ = shape
            size, stride = layer.kernel_size, layer.stride
            if height < size or width < size:
                raise ValueError(f"{architecture_id}: kernel {size} larger than input {shape}")
            shape = ((height - size) // stride + 1, (width - size) // stride + 1, layer.filters)
        shapes.append(shape)
    return tuple(shapes)


def model_input(architecture: Architecture, images: np.ndarray) -> np.ndarray:
    """The float32 model input for uint8 images ``(n, 28, 28)``: ``pixel / 256``, reshaped."""
    scaled = images.astype(np.float32) * np.float32(2.0**-INPUT_FRAC_BITS)
    return scaled.reshape((len(images), *architecture.input_shape))


MNIST_MLP = Architecture(
    id="mnist-mlp-784-128-10/v1",
    description="multilayer perceptron: 784 inputs, 128 ReLU units, 10 logits",
    input_shape=(784,),
    layers=(Dense(128), Dense(10)),
)

MNIST_CNN = Architecture(
    id="mnist-cnn-8c5s2-16c3s2-10/v1",
    description=(
        "small CNN: 8 5x5 filters stride 2, 16 3x3 filters stride 2 (ReLU), dense 400 -> 10"
    ),
    input_shape=(28, 28, 1),
    layers=(Conv2D(8, 5, stride=2), Conv2D(16, 3, stride=2), Dense(10)),
)

#: Every architecture this release knows, by id.
ARCHITECTURES: Mapping[str, Architecture] = MappingProxyType(
    {arch.id: arch for arch in (MNIST_MLP, MNIST_CNN)}
)


def get_architecture(architecture_id: str) -> Architecture:
    """The registered architecture, or :class:`UnknownArchitecture` naming the known ids."""
    try:
        return ARCHITECTURES[architecture_id]
    except KeyError:
        known = ", ".join(ARCHITECTURES)
        raise UnknownArchitecture(
            f"unknown architecture {architecture_id!r}; this release knows: {known}"
        ) from None


def as_architecture(architecture: str | Architecture) -> Architecture:
    """``architecture`` itself, or the registered one of that id (see :func:`get_architecture`)."""
    return get_architecture(architecture) if isinstance(architecture, str) else architecture
