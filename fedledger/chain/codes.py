"""Reason codes, and the contract enums re-exported, for every Python user.

The contract enums are generated from the compiled AST into :mod:`fedledger.chain.enums`
and re-exported here. :class:`ReasonCode` is Python-side vocabulary and hand-written: the
contract takes a ``uint8`` and only checks that an accept vote carries ``ACCEPTED`` (0)
and a reject vote does not; oracles pick the code and participants read it back from
``UpdateRejected`` events. The one code the contract writes itself, when it rejects the
pending update of a banned participant, is ``BANNED`` (its ``BANNED_REASON`` constant; a
test keeps the two equal).
"""

from __future__ import annotations

from enum import IntEnum

from fedledger.chain.enums import (
    CONTRACT_ENUMS,
    GlobalModelPolicy,
    RoundState,
    SkipReason,
    StoragePolicy,
    UpdateStatus,
)

__all__ = [
    "CONTRACT_ENUMS",
    "GlobalModelPolicy",
    "ReasonCode",
    "RoundState",
    "SkipReason",
    "StoragePolicy",
    "UpdateStatus",
    "reason_name",
]


class ReasonCode(IntEnum):
    """Why an oracle votes to reject an update (``ACCEPTED`` for an accept vote).

    Ordered like the verification pipeline: the first check that fails names the reason.
    """

    ACCEPTED = 0
    NONE = 0  # alias: "no rejection reason"
    UNREACHABLE_BLOB = 1  # the blob could not be fetched from the store in time
    OVERSIZED = 2  # the blob exceeds the size cap
    HASH_MISMATCH = 3  # the fetched bytes do not hash to the submitted content hash
    MALFORMED = 4  # the blob does not decode as a weight file
    WRONG_SHAPE = 5  # tensors missing, extra, or of the wrong shape or dtype
    NON_FINITE = 6  # NaN or infinite weights
    FAILED_VERIFICATION = 7  # decoded fine, but the score on validation data failed the rule
    NOT_AUTHENTIC = 8  # the sealed blob does not authenticate for its on-chain author and round
    NOT_A_RECIPIENT = 9  # the blob is not sealed for this oracle's registered encryption key
    DUPLICATE = 10  # (nearly) the same plaintext as an earlier update of the round
    BANNED = 254  # the participant was banned while its update was pending (set on chain)
    OTHER = 255


def reason_name(code: int) -> str:
    """``7`` -> ``"FAILED_VERIFICATION"``; a code this version does not know (another oracle
    implementation may use more) as ``"code 42"``."""
    try:
        return ReasonCode(code).name
    except ValueError:
        return f"code {code}"
