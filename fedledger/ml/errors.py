"""Why a model's weights were refused, as exception classes an oracle can map to a verdict.

Every refusal is an :class:`InvalidWeights` carrying a :class:`RejectReason`; oracles turn
the reason into the on-chain reason code, so the classes below may grow without the oracle
changing. The codec raises the :class:`CodecError` family; the deterministic evaluator and
the aggregation raise :class:`WeightsOutOfRange` for finite weights too large for their exact
fixed-point arithmetic.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class RejectReason(StrEnum):
    """The coarse reason an oracle reports on chain for refused weights."""

    MALFORMED = "malformed"
    WRONG_SHAPE = "wrong-shape"
    NON_FINITE = "non-finite"
    OVERSIZED = "oversized"
    OUT_OF_RANGE = "out-of-range"


class InvalidWeights(ValueError):
    """Weights (or their encoding) that FedLedger refuses; ``reason`` says which kind."""

    reason: ClassVar[RejectReason] = RejectReason.MALFORMED


class CodecError(InvalidWeights):
    """A blob is not a valid encoding of model weights."""


class OversizedBlob(CodecError):
    """The blob is larger than the caller's size cap."""

    reason = RejectReason.OVERSIZED


class TruncatedBlob(CodecError):
    """The blob ends before its header or its arrays do."""


class TrailingBytes(CodecError):
    """Bytes follow the last array: the encoding would not be canonical."""


class BadMagic(CodecError):
    """The blob does not start with the FedLedger weights magic."""


class UnsupportedVersion(CodecError):
    """The blob's format version is not one this code reads."""


class MalformedHeader(CodecError):
    """A header field is out of its allowed range (empty or non-ASCII id, bad rank)."""


class UnsupportedDType(CodecError):
    """An array's dtype code is not one the format defines."""


class UnknownArchitecture(CodecError):
    """The architecture id is not in the registry of this release."""


class ShapeMismatch(CodecError):
    """The number or shapes of the arrays differ from the architecture's."""

    reason = RejectReason.WRONG_SHAPE


class NonFiniteWeights(CodecError):
    """An array holds NaN or an infinity."""

    reason = RejectReason.NON_FINITE


class WeightsOutOfRange(InvalidWeights):
    """Finite weights too large for exact fixed-point evaluation or aggregation."""

    reason = RejectReason.OUT_OF_RANGE
