"""The on-chain enumerations and reason codes, defined once for every Python user.

The contract enums are mirrored member for member (the test-suite compares them with the
Solidity source). :class:`ReasonCode` exists only here: the contract takes a ``uint8``
and only checks that an accept vote carries ``ACCEPTED`` (0) and a reject vote does not;
oracles pick the code and participants read it back from ``UpdateRejected`` events.
"""

from __future__ import annotations

from enum import IntEnum


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
    OTHER = 255


def reason_name(code: int) -> str:
    """``7`` -> ``"FAILED_VERIFICATION"``; a code this version does not know (another oracle
    implementation may use more) as ``"code 42"``."""
    try:
        return ReasonCode(code).name
    except ValueError:
        return f"code {code}"


class StoragePolicy(IntEnum):
    """What happens to the record of an update that is not accepted (fixed at deployment)."""

    ACCEPTED_ONLY = 0  # rejected and disputed records are deleted
    AUDIT_ALL = 1  # every submission is kept with its votes and score


class RoundState(IntEnum):
    NONE = 0
    OPEN = 1  # accepting submissions and votes
    CLOSED = 2  # waiting for k identical aggregate proposals
    FINALIZED = 3  # the aggregate became the next round's global model
    SKIPPED = 4  # ended without a new model; the next round reuses this one's

    @property
    def ended(self) -> bool:
        """Finalized or skipped: the next round is open."""
        return self in (RoundState.FINALIZED, RoundState.SKIPPED)


class UpdateStatus(IntEnum):
    NONE = 0  # never submitted, or deleted under ACCEPTED_ONLY
    PENDING = 1
    ACCEPTED = 2
    REJECTED = 3
    DISPUTED = 4  # the votes split so that neither verdict can reach k
    EXPIRED = 5  # still pending when its round closed


class SkipReason(IntEnum):
    NO_ACCEPTED_UPDATES = 0
    NO_AGREEMENT = 1  # the proposals split so that no aggregate can reach k
    AGGREGATION_TIMEOUT = 2  # the oracles did not agree within the aggregation timeout


#: Solidity enum name -> Python mirror, used to decode ``enum`` values in ABI data.
CONTRACT_ENUMS: dict[str, type[IntEnum]] = {
    "FedLedgerCoordinator.StoragePolicy": StoragePolicy,
    "FedLedgerCoordinator.RoundState": RoundState,
    "FedLedgerCoordinator.UpdateStatus": UpdateStatus,
    "FedLedgerCoordinator.SkipReason": SkipReason,
}
