"""From a submitted blob, or the failure to fetch it, to the vote the oracle casts.

An update that passes every check here and the verifier's checks on its weights alone
(:func:`assess_update`) gets no vote yet: it waits for the round's judgement at close
(:meth:`oracle.verification.Verifier.judge_round`, run by :mod:`oracle.voting`), whose
verdicts :func:`decision_of` turns into votes.

The checks run cheapest first and the first failure names the on-chain reason code
(docs/oracle.md has the table):

====================================================  ======================
what failed                                           reason code
====================================================  ======================
blob not found, still, ``unreachable_after`` seconds  ``UNREACHABLE_BLOB``
after the store first answered "not found"            (decided by the node)
blob over the size cap (store or decoder)             ``OVERSIZED``
bytes do not hash to the content hash                 ``HASH_MISMATCH``
not a weights blob: bad magic, version, header,       ``MALFORMED``
truncated, trailing bytes, unknown dtype
another architecture than the round's global model,   ``WRONG_SHAPE``
or tensors of the wrong count or shape
NaN or infinite weights                               ``NON_FINITE``
finite but outside the exact evaluator's range, or    ``FAILED_VERIFICATION``
rejected by the verification rule
====================================================  ======================

A store that is down (:class:`~fedledger.storage.StoreUnavailable`, or any other storage
failure that does not prove the submitter wrong) is the oracle's own problem and never
becomes a vote: :func:`storage_rejection` returns None for it and the node tries again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from fedledger.chain.codes import ReasonCode
from fedledger.ml import (
    InvalidWeights,
    ModelWeights,
    RejectReason,
    UnknownArchitecture,
    decode,
)
from fedledger.storage import BlobCorrupted, BlobTooLarge, InvalidCid, StorageError
from oracle.verification import Assessment, Check, Verdict, Verifier

#: The weight refusals of fedledger.ml, as on-chain reason codes. Out-of-range weights are
#: well-formed but unverifiable, which the verifier itself reports as FAILED_VERIFICATION.
WEIGHTS_REASONS: Mapping[RejectReason, ReasonCode] = MappingProxyType(
    {
        RejectReason.MALFORMED: ReasonCode.MALFORMED,
        RejectReason.WRONG_SHAPE: ReasonCode.WRONG_SHAPE,
        RejectReason.NON_FINITE: ReasonCode.NON_FINITE,
        RejectReason.OVERSIZED: ReasonCode.OVERSIZED,
        RejectReason.OUT_OF_RANGE: ReasonCode.FAILED_VERIFICATION,
    }
)

#: The ``check`` of a decision that did not reach the verifier.
UNREACHABLE = "unreachable"
HASH_MISMATCH = "hash-mismatch"


@dataclass(frozen=True)
class Decision:
    """The vote on one update and why.

    ``accept``, ``score`` and ``reason`` go on chain. ``check`` names the deciding rule: a
    :class:`~oracle.verification.Check` value for verdicts of the verification rule, else
    the intake step that refused the blob (``unreachable``, ``oversized``,
    ``hash-mismatch``, ``malformed``, ``wrong-shape``, ``wrong-architecture``,
    ``non-finite``, ``out-of-range``). ``detail`` is the human-readable cause,
    ``diagnostics`` the verifier's integers.
    """

    accept: bool
    score: int
    reason: ReasonCode
    check: str
    detail: str = ""
    diagnostics: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def reject(cls, reason: ReasonCode, check: str, detail: str) -> Decision:
        return cls(accept=False, score=0, reason=reason, check=check, detail=detail)


def storage_rejection(error: StorageError) -> Decision | None:
    """The vote a failed fetch earns the submitter, or None if the failure does not prove
    them wrong (the store is down, or the blob is not there yet: fetch again later)."""
    if isinstance(error, BlobTooLarge):
        return Decision.reject(ReasonCode.OVERSIZED, RejectReason.OVERSIZED.value, str(error))
    if isinstance(error, BlobCorrupted | InvalidCid):
        return Decision.reject(ReasonCode.HASH_MISMATCH, HASH_MISMATCH, str(error))
    return None


def unreachable(detail: str) -> Decision:
    return Decision.reject(ReasonCode.UNREACHABLE_BLOB, UNREACHABLE, detail)


def decode_update(
    blob: bytes, global_model: ModelWeights, *, max_bytes: int
) -> ModelWeights | Decision:
    """The weights in ``blob`` if they are an update of ``global_model``'s architecture,
    else the reject vote the blob earns."""
    try:
        update = decode(blob, max_bytes=max_bytes)
    except UnknownArchitecture as exc:
        # A well-formed header naming a model this release does not know is still an
        # update for another architecture than the round's.
        return Decision.reject(ReasonCode.WRONG_SHAPE, Check.WRONG_ARCHITECTURE.value, str(exc))
    except InvalidWeights as exc:
        return Decision.reject(WEIGHTS_REASONS[exc.reason], exc.reason.value, str(exc))
    if update.architecture != global_model.architecture:
        return Decision.reject(
            ReasonCode.WRONG_SHAPE,
            Check.WRONG_ARCHITECTURE.value,
            f"the update is a {update.architecture} model; the round trains "
            f"{global_model.architecture}",
        )
    return update


def assess_update(
    update: ModelWeights, global_model: ModelWeights, verifier: Verifier
) -> Decision | tuple[Assessment, np.ndarray]:
    """The reject vote of the checks that need no company (the update's weights alone:
    :meth:`~oracle.verification.Verifier.assess`), or the update's assessment and coarse
    step: it waits for the round's judgement at close."""
    outcome = verifier.assess(global_model, update)
    return decision_of(outcome) if isinstance(outcome, Verdict) else outcome


def decision_of(verdict: Verdict) -> Decision:
    """The vote on chain (and the diagnostics for the log) of a verifier's verdict."""
    diagnostics = {
        name: value
        for name, value in dataclasses.asdict(verdict).items()
        if name not in ("accept", "score", "reason", "check")
    }
    return Decision(
        accept=verdict.accept,
        score=verdict.score,
        reason=verdict.reason,
        check=verdict.check.value,
        diagnostics=diagnostics,
    )
