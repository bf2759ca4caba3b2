"""The one canonical byte format of model weights (format version 1).

Every integer is little-endian; there is no padding and no optional field, so a given
:class:`~fedledger.ml.weights.ModelWeights` has exactly one encoding and
``encode(decode(blob)) == blob`` for every blob that decodes::

    offset        size   field
    0             4      magic b"FLMW" (FedLedger Model Weights)
    4             2      format version, uint16 = 1
    6             2      L: length of the architecture id, uint16, 1..255
    8             L      architecture id, ASCII, e.g. b"mnist-mlp-784-128-10/v1"
    8+L           2      n: number of arrays, uint16
    10+L          ...    n array headers, one after the other:
                           1 byte  dtype code (1 = float32, little-endian)
                           1 byte  d: number of dimensions, 1..4
                           4*d     dimensions, uint32 each
    H             ...    payload: the n arrays in header order, C order, no gaps

The architecture id fixes the count and shapes of the arrays; the header repeats them so
a blob is self-describing and a decoder can refuse a wrong shape before reading values.
:func:`decode` reads the header field by field and raises the first failure (all are
:class:`~fedledger.ml.errors.CodecError`): size cap (:class:`OversizedBlob`), magic
(:class:`BadMagic`), version (:class:`UnsupportedVersion`), id length and characters
(:class:`MalformedHeader`), architecture (:class:`UnknownArchitecture`), array count
(:class:`ShapeMismatch`), then per array its dtype code (:class:`UnsupportedDType`),
rank (:class:`MalformedHeader`) and shape (:class:`ShapeMismatch`), then the payload
length (:class:`TruncatedBlob`, :class:`TrailingBytes`) and the values
(:class:`NonFiniteWeights`). A blob that ends inside a header field raises
:class:`TruncatedBlob` at that field. ``docs/ml.md`` has a worked example.
"""

from __future__ import annotations

import struct

import numpy as np

from fedledger.ml.architectures import get_architecture
from fedledger.ml.errors import (
    BadMagic,
    MalformedHeader,
    NonFiniteWeights,
    OversizedBlob,
    ShapeMismatch,
    TrailingBytes,
    TruncatedBlob,
    UnsupportedDType,
    UnsupportedVersion,
)
from fedledger.ml.weights import ModelWeights

MAGIC = b"FLMW"
FORMAT_VERSION = 1
#: dtype code -> numpy dtype. Version 1 defines float32 only.
DTYPE_CODES = {1: np.dtype("<f4")}
MAX_ID_LENGTH = 255
MAX_RANK = 4

_FIXED = struct.Struct("<4sHH")  # magic, version, id length
_U16 = struct.Struct("<H")
_ARRAY_HEAD = struct.Struct("<BB")  # dtype code, rank
_FLOAT32_CODE = 1


def encode(weights: ModelWeights) -> bytes:
    """The canonical bytes of ``weights``; refuses NaN and infinities (NonFiniteWeights)."""
    for index, array in enumerate(weights.arrays):
        _require_finite(array, index)
    arch_id = weights.architecture.encode("ascii")
    parts = [_FIXED.pack(MAGIC, FORMAT_VERSION, len(arch_id)), arch_id]
    parts.append(_U16.pack(len(weights.arrays)))
    for array in weights.arrays:
        parts.append(_ARRAY_HEAD.pack(_FLOAT32_CODE, array.ndim))
        parts.append(struct.pack(f"<{array.ndim}I", *array.shape))
    parts.extend(array.astype("<f4", copy=False).tobytes() for array in weights.arrays)
    return b"".join(parts)


def decode(blob: bytes | bytearray | memoryview, *, max_bytes: int | None = None) -> ModelWeights:
    """Parse and validate a blob; any defect raises a CodecError subclass naming it.

    ``max_bytes`` is the caller's cap (oracles pass ``storage.max_blob_bytes`` from the
    project configuration); without it only the architecture's exact size is enforced.
    """
    data = memoryview(blob).cast("B")
    if max_bytes is not None and len(data) > max_bytes:
        raise OversizedBlob(f"blob is {len(data)} bytes, over the cap of {max_bytes}")
    reader = _Reader(data)

    magic = bytes(data[: len(MAGIC)])
    if magic != MAGIC[: len(magic)]:  # a short blob that matches so far is only truncated
        raise BadMagic(f"blob starts with {magic!r}, not {MAGIC!r}: not FedLedger weights")
    _, version, id_length = reader.unpack(_FIXED, "fixed header")
    if version != FORMAT_VERSION:
        raise UnsupportedVersion(
            f"weights format version {version}; this release reads version {FORMAT_VERSION}"
        )
    if not 1 <= id_length <= MAX_ID_LENGTH:
        raise MalformedHeader(f"architecture id length {id_length} is outside 1..{MAX_ID_LENGTH}")
    raw_id = reader.take(id_length, "architecture id")
    try:
        arch_id = raw_id.decode("ascii")
    except UnicodeDecodeError:
        raise MalformedHeader(f"architecture id {raw_id!r} is not ASCII") from None
    spec = get_architecture(arch_id)

    (count,) = reader.unpack(_U16, "array count")
    expected = spec.weight_shapes
    if count != len(expected):
        raise ShapeMismatch(f"{arch_id} has {len(expected)} weight arrays, blob has {count}")
    dtypes = []
    for index, shape in enumerate(expected):
        code, rank = reader.unpack(_ARRAY_HEAD, f"header of array {index}")
        if code not in DTYPE_CODES:
            raise UnsupportedDType(
                f"array {index} has dtype code {code}; known: {list(DTYPE_CODES)}"
            )
        if not 1 <= rank <= MAX_RANK:
            raise MalformedHeader(f"array {index} has rank {rank}, outside 1..{MAX_RANK}")
        dims = reader.unpack(struct.Struct(f"<{rank}I"), f"shape of array {index}")
        if dims != shape:
            raise ShapeMismatch(f"array {index} of {arch_id} has shape {dims}, expected {shape}")
        dtypes.append(DTYPE_CODES[code])

    payload = sum(
        int(np.prod(shape)) * dtype.itemsize for shape, dtype in zip(expected, dtypes, strict=True)
    )
    remaining = len(data) - reader.offset
    if remaining < payload:
        raise TruncatedBlob(f"payload is {remaining} bytes, {arch_id} needs {payload}")
    if remaining > payload:
        raise TrailingBytes(f"{remaining - payload} bytes follow the last array")

    arrays = []
    for index, (shape, dtype) in enumerate(zip(expected, dtypes, strict=True)):
        size = int(np.prod(shape))
        # astype copies into an aligned native-endian array (the payload may sit at an odd offset)
        raw = np.frombuffer(data, dtype=dtype, count=size, offset=reader.offset)
        array = raw.astype(np.float32).reshape(shape)
        reader.offset += size * dtype.itemsize
        _require_finite(array, index)
        array.flags.writeable = False
        arrays.append(array)
    return ModelWeights(arch_id, tuple(arrays))


def encoded_size(architecture_id: str) -> int:
    """The exact length of every valid blob of this architecture."""
    spec = get_architecture(architecture_id)
    shapes = spec.weight_shapes
    header = _FIXED.size + len(architecture_id) + _U16.size
    header += sum(_ARRAY_HEAD.size + 4 * len(shape) for shape in shapes)
    return header + 4 * spec.parameter_count


def _require_finite(array: np.ndarray, index: int) -> None:
    finite = np.isfinite(array)
    if not finite.all():
        bad = int(array.size - np.count_nonzero(finite))
        raise NonFiniteWeights(f"array {index} holds {bad} NaN or infinite values")


class _Reader:
    """Sequential reads from the header that raise TruncatedBlob past the end."""

    def __init__(self, data: memoryview) -> None:
        self.data = data
        self.offset = 0

    def take(self, size: int, what: str) -> bytes:
        end = self.offset + size
        if end > len(self.data):
            raise TruncatedBlob(
                f"blob ends inside the {what} (offset {self.offset}, {len(self.data)} bytes)"
            )
        chunk = bytes(self.data[self.offset : end])
        self.offset = end
        return chunk

    def unpack(self, layout: struct.Struct, what: str) -> tuple[int, ...]:
        return layout.unpack(self.take(layout.size, what))
