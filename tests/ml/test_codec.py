"""The canonical weights format: exact bytes, round trips, and one error class per defect."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedledger.ml import (
    MNIST_CNN,
    MNIST_MLP,
    BadMagic,
    CodecError,
    MalformedHeader,
    ModelWeights,
    NonFiniteWeights,
    OversizedBlob,
    RejectReason,
    ShapeMismatch,
    TrailingBytes,
    TruncatedBlob,
    UnknownArchitecture,
    UnsupportedDType,
    UnsupportedVersion,
    decode,
    encode,
    encoded_size,
    initial_weights,
)

# The MLP header written out by hand from the format table in docs/ml.md.
MLP_HEADER = (
    b"FLMW"
    + bytes.fromhex("0100")  # version 1
    + bytes.fromhex("1700")  # id length 23
    + b"mnist-mlp-784-128-10/v1"
    + bytes.fromhex("0400")  # 4 arrays
    + bytes.fromhex("01 02 10030000 80000000")  # float32, rank 2, (784, 128)
    + bytes.fromhex("01 01 80000000")  # float32, rank 1, (128,)
    + bytes.fromhex("01 02 80000000 0a000000")  # float32, rank 2, (128, 10)
    + bytes.fromhex("01 01 0a000000")  # float32, rank 1, (10,)
)
# magic, version, id length, id, count; two rank-4 kernels, three biases, one rank-2 kernel
CNN_HEADER_SIZE = 8 + len(MNIST_CNN.id) + 2 + 2 * (2 + 4 * 4) + 3 * (2 + 4) + (2 + 4 * 2)


@pytest.fixture(scope="module")
def cnn_blob() -> bytes:
    return encode(initial_weights(MNIST_CNN.id, 1))


def test_mlp_encoding_matches_the_specified_bytes() -> None:
    weights = initial_weights(MNIST_MLP.id, 3)
    blob = encode(weights)
    assert blob[: len(MLP_HEADER)] == MLP_HEADER
    payload = b"".join(a.astype("<f4").tobytes() for a in weights.arrays)
    assert blob[len(MLP_HEADER) :] == payload
    assert len(blob) == encoded_size(MNIST_MLP.id) == len(MLP_HEADER) + 4 * 101_770


@pytest.mark.parametrize("architecture", [MNIST_MLP.id, MNIST_CNN.id])
def test_round_trip_is_bit_exact_and_canonical(architecture: str) -> None:
    weights = initial_weights(architecture, 11)
    blob = encode(weights)
    decoded = decode(blob)
    assert decoded == weights
    assert decoded.architecture == architecture
    assert all(not a.flags.writeable for a in decoded.arrays)
    assert encode(decoded) == blob
    assert decode(bytearray(blob)) == weights and decode(memoryview(blob)) == weights


def test_negative_zero_survives_the_round_trip() -> None:
    arrays = [np.zeros(shape, np.float32) for shape in MNIST_CNN.weight_shapes]
    arrays[1][0] = -0.0
    weights = ModelWeights(MNIST_CNN.id, tuple(arrays))
    decoded = decode(encode(weights))
    assert np.signbit(decoded.arrays[1][0]) and not np.signbit(decoded.arrays[1][1])
    assert decoded != ModelWeights(MNIST_CNN.id, tuple(np.zeros_like(a) for a in arrays))


def _with(blob: bytes, offset: int, value: bytes) -> bytes:
    return blob[:offset] + value + blob[offset + len(value) :]


def test_size_cap(cnn_blob: bytes) -> None:
    assert decode(cnn_blob, max_bytes=len(cnn_blob)).architecture == MNIST_CNN.id
    with pytest.raises(OversizedBlob) as caught:
        decode(cnn_blob, max_bytes=len(cnn_blob) - 1)
    assert caught.value.reason is RejectReason.OVERSIZED


def test_bad_magic(cnn_blob: bytes) -> None:
    with pytest.raises(BadMagic):
        decode(b"PK\x03\x04" + cnn_blob[4:])
    with pytest.raises(BadMagic):
        decode(b"X")


def test_every_truncation_is_reported_as_truncated(cnn_blob: bytes) -> None:
    assert len(cnn_blob) == encoded_size(MNIST_CNN.id) == CNN_HEADER_SIZE + 4 * 5386
    cuts = [*range(CNN_HEADER_SIZE + 1), CNN_HEADER_SIZE + 4, len(cnn_blob) - 1]
    for cut in cuts:
        with pytest.raises(TruncatedBlob):
            decode(cnn_blob[:cut])


def test_trailing_bytes(cnn_blob: bytes) -> None:
    with pytest.raises(TrailingBytes):
        decode(cnn_blob + b"\x00")


def test_unsupported_version(cnn_blob: bytes) -> None:
    with pytest.raises(UnsupportedVersion, match="version 2"):
        decode(_with(cnn_blob, 4, struct.pack("<H", 2)))


def test_malformed_header_fields(cnn_blob: bytes) -> None:
    with pytest.raises(MalformedHeader):
        decode(_with(cnn_blob, 6, struct.pack("<H", 0)))  # empty id
    with pytest.raises(MalformedHeader):
        decode(_with(cnn_blob, 8, "é".encode("latin-1")))  # non-ASCII id
    first_array = 8 + len(MNIST_CNN.id) + 2
    with pytest.raises(MalformedHeader):
        decode(_with(cnn_blob, first_array + 1, b"\x05"))  # rank 5


def test_unknown_architecture(cnn_blob: bytes) -> None:
    renamed = cnn_blob.replace(b"/v1", b"/v9", 1)
    with pytest.raises(UnknownArchitecture, match="mnist-mlp-784-128-10/v1"):
        decode(renamed)


def test_shape_mismatch(cnn_blob: bytes) -> None:
    count_at = 8 + len(MNIST_CNN.id)
    with pytest.raises(ShapeMismatch) as caught:
        decode(_with(cnn_blob, count_at, struct.pack("<H", 5)))
    assert caught.value.reason is RejectReason.WRONG_SHAPE
    first_dim = count_at + 2 + 2
    with pytest.raises(ShapeMismatch, match=r"\(6, 5, 1, 8\)"):
        decode(_with(cnn_blob, first_dim, struct.pack("<I", 6)))


def test_unsupported_dtype(cnn_blob: bytes) -> None:
    with pytest.raises(UnsupportedDType):
        decode(_with(cnn_blob, 8 + len(MNIST_CNN.id) + 2, b"\x02"))


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_values(cnn_blob: bytes, value: float) -> None:
    poisoned = _with(cnn_blob, len(cnn_blob) - 4, np.float32(value).astype("<f4").tobytes())
    with pytest.raises(NonFiniteWeights, match="array 5 holds 1") as caught:
        decode(poisoned)
    assert caught.value.reason is RejectReason.NON_FINITE
    weights = initial_weights(MNIST_CNN.id, 1)
    arrays = [a.copy() for a in weights.arrays]
    arrays[2][0, 0, 0, 0] = value
    with pytest.raises(NonFiniteWeights):
        encode(ModelWeights(MNIST_CNN.id, tuple(arrays)))


def test_model_weights_checks_shapes_and_freezes_arrays() -> None:
    arrays = [np.ones(shape, np.float64) for shape in MNIST_CNN.weight_shapes]
    weights = ModelWeights(MNIST_CNN.id, tuple(arrays))
    arrays[0][:] = 5  # the caller's array is copied, not shared
    assert weights.arrays[0].dtype == np.float32 and float(weights.arrays[0].max()) == 1.0
    with pytest.raises(ValueError, match="read-only"):
        weights.arrays[0][0, 0, 0, 0] = 2
    with pytest.raises(ShapeMismatch, match="has 6 weight arrays, got 5"):
        ModelWeights(MNIST_CNN.id, tuple(arrays[:5]))
    with pytest.raises(ShapeMismatch, match="expected"):
        ModelWeights(MNIST_CNN.id, (arrays[1], *arrays[1:]))
    with pytest.raises(TypeError, match="floating point"):
        ModelWeights(MNIST_CNN.id, (arrays[0].astype(np.int32), *arrays[1:]))
    with pytest.raises(UnknownArchitecture):
        ModelWeights("mnist-mlp/v0", tuple(arrays))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_blobs_decode_canonically_or_raise_codec_errors(data: st.DataObject) -> None:
    blob = bytearray(encode(initial_weights(MNIST_CNN.id, 2)))
    for _ in range(data.draw(st.integers(1, 4))):
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip":
            position = data.draw(st.integers(0, len(blob) - 1))
            blob[position] ^= data.draw(st.integers(1, 255))
        elif action == "cut":
            start = data.draw(st.integers(0, len(blob)))
            del blob[start : start + data.draw(st.integers(1, 16))]
        else:
            position = data.draw(st.integers(0, len(blob)))
            blob[position:position] = data.draw(st.binary(min_size=1, max_size=8))
    try:
        weights = decode(bytes(blob))
    except CodecError:
        return
    assert encode(weights) == bytes(blob)
