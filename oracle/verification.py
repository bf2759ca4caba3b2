"""The oracle's verification rule: accept an update only if it is a useful, honest-looking
contribution, and score it by how much it helps.

One :class:`Verifier` per oracle, built from the round's architecture and the oracle's
private validation data; ``verify(global_model, update)`` returns a :class:`Verdict`
(accept, integer score, on-chain reason code, and integer diagnostics for logs). Every
decision compares integers from the exact evaluator and fixed-point arithmetic, so the
same inputs give the same verdict on every CPU and thread count, and the module never
imports Keras or TensorFlow.

The checks, in the order they run (the first one that fails names the verdict):

1. **evaluable**: the update is of the round's architecture and inside the exact
   evaluator's range;
2. **moved**: it differs from the global model (a free-rider that returns the global
   model changes nothing);
3. **bounded step**: it moves the weights by at most ``max_relative_step`` of the global
   model's own size (L1 norms of the fixed-point weights): a local epoch fine-tunes a
   model, a boosted or "model replacement" update replaces it;
4. **dormant inputs**: the first-layer weights of pixels that no validation image ever
   lights up stay (almost) where they were. Gradient descent cannot move them on data that
   never activates them; a backdoor keyed to such pixels must move them, and so does noise;
5. **sane alone**: the submitted model, used on its own, loses at most
   ``alone_tolerance`` logits of mean validation margin against the global model. An
   honest non-IID model forgets the classes its owner lacks (a loss of a few logits at
   most); reversed, boosted or label-flipped models are far worse;
6. **useful contribution**: the model FedAvg would produce if the update were averaged
   with ``contributors - 1`` copies of the global model -- the update's share of a round --
   loses at most ``contribution_tolerance`` of mean validation margin. It is
   ``fedavg([update, global_model], repeats=(1, m - 1))``: fedavg's bytes at the cost of
   two models, not m.

The score is the contribution's mean margin gain (floored at 0), so an update that helps
more earns more. See docs/verification.md for why this works on non-IID data, the measured
figures behind the defaults, and what it does not stop.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from fedledger.chain.codes import ReasonCode
from fedledger.ml import (
    Architecture,
    Dataset,
    Evaluation,
    ExactEvaluator,
    ModelWeights,
    WeightsOutOfRange,
    fedavg,
)
from fedledger.ml.architectures import Dense, as_architecture
from fedledger.ml.evaluation import MARGIN_FRAC_BITS
from fedledger.ml.fixedpoint import to_fixed

#: Fraction bits of the fixed-point weights whose differences the distance checks measure.
DISTANCE_FRAC_BITS = 24
#: Largest score (the contract stores a uint32).
MAX_SCORE = 2**32 - 1


class Check(StrEnum):
    """Which rule decided the verdict (``PASSED`` for an accepted update)."""

    PASSED = "passed"
    WRONG_ARCHITECTURE = "wrong-architecture"
    OUT_OF_RANGE = "out-of-range"
    UNCHANGED = "unchanged"
    TOO_FAR = "too-far"
    DORMANT_INPUTS = "dormant-inputs"
    HARMFUL_ALONE = "harmful-alone"
    HARMFUL_CONTRIBUTION = "harmful-contribution"


@dataclass(frozen=True)
class VerifierParams:
    """The rule's constants; every oracle of a deployment should use the same ones.

    Margins are the exact evaluator's clipped logit margins (true class minus best other,
    clipped to +-16); tolerances are in thousandths of a logit of *mean* margin per
    validation sample, so they do not depend on the size of an oracle's validation set.
    The defaults come from the measurements in docs/verification.md (MNIST MLP, one local
    epoch of SGD, IID and Dirichlet(0.5) clients).

    ``max_relative_step``: the L1 distance between update and global model may be at most
    this many thousandths of the global model's L1 norm (default 750; honest one-epoch
    updates measured at most 290 in the first round and below 180 after it, boosted ones
    at 1,840 and more in the first round).

    ``dormant_per_mille``: on pixels that no validation image lights up, the first-layer
    change per pixel may be at most this many thousandths of the average change per pixel
    (default 50; honest updates measured at most 16, BadNets backdoors 169 and more, noise
    about 1,000).

    ``alone_tolerance``: the update used alone may lower the mean margin by at most this
    much (default 4 logits; honest non-IID updates measured down to -2.6; after the first
    one or two rounds sign-flipped ones at -4.1 (IID) and -6.8 (non-IID) and below,
    boosted ones at -7.5 and below).

    ``contributors`` (m): the contribution judged in check 6 is
    ``fedavg([update] + [global] * (m - 1))``, i.e. ``global + (update - global) / m``.

    ``contribution_tolerance``: the contribution may lower the mean margin by at most this
    much (default 0.15 logit; honest updates measured down to -0.10, label-flipping ones at
    -0.17 and below).

    ``score_frac_bits``: the score is the contribution's mean margin gain per validation
    sample in units of ``2**-score_frac_bits`` logits, floored at 0 and capped at uint32.
    """

    max_relative_step: int = 750
    dormant_per_mille: int = 50
    alone_tolerance: int = 4000
    contributors: int = 10
    contribution_tolerance: int = 150
    score_frac_bits: int = 24

    def __post_init__(self) -> None:
        if self.contributors < 1:
            raise ValueError("contributors must be at least 1")
        for name in (
            "max_relative_step",
            "dormant_per_mille",
            "alone_tolerance",
            "contribution_tolerance",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} cannot be negative")
        if not MARGIN_FRAC_BITS <= self.score_frac_bits <= 32:
            raise ValueError(f"score_frac_bits must be between {MARGIN_FRAC_BITS} and 32")


@dataclass(frozen=True)
class Verdict:
    """An oracle's vote on one update, with the integers that led to it.

    ``accept``, ``score`` and ``reason`` are what the oracle sends on chain. The rest is for
    logs, zero where the deciding check came before it was computed: ``check`` (the
    deciding rule); ``distance`` (L1 norm of the weight change, units
    ``2**-DISTANCE_FRAC_BITS``); ``relative_step`` (check 3's distance over the global
    model's L1 norm, in thousandths); ``dormant_per_mille`` (check 3's ratio); ``alone_change``
    and ``contribution_change`` (change of the summed validation margins, units ``2**-16``
    logits, of the update alone and of its contribution); ``correct_change`` (validation
    samples the contribution gets right minus those the global model gets right).
    """

    accept: bool
    score: int
    reason: ReasonCode
    check: Check
    distance: int = 0
    relative_step: int = 0
    dormant_per_mille: int = 0
    alone_change: int = 0
    contribution_change: int = 0
    correct_change: int = 0


@dataclass(frozen=True, eq=False)
class _GlobalContext:
    """What every verification against one global model needs; computed once per model."""

    digest: bytes
    evaluation: Evaluation
    fixed: tuple[np.ndarray, ...]
    norm: int  # L1 norm of ``fixed``


class Verifier:
    """Verifies updates of one architecture on one oracle's validation data.

    Keeps the work done for the last global model it saw (its evaluation and fixed-point
    weights), so the updates of a round cost two evaluations
    each. Not thread-safe: use one per thread.
    """

    def __init__(
        self,
        architecture: str | Architecture,
        validation: Dataset,
        params: VerifierParams | None = None,
    ) -> None:
        self.spec = as_architecture(architecture)
        if len(validation) == 0:
            raise ValueError("the verifier needs a non-empty validation set")
        self.params = params or VerifierParams()
        self._evaluator = ExactEvaluator(validation, self.spec)
        self._dormant = _dormant_inputs(self.spec, validation)
        self._context: _GlobalContext | None = None

    @property
    def dormant_inputs(self) -> np.ndarray:
        """Indices of the first layer's inputs (pixels) that no validation image activates."""
        return self._dormant

    def prepare(self, global_model: ModelWeights) -> None:
        """Do the once-per-round work for ``global_model`` now (its evaluation, fixed-point
        weights and norm), e.g. when the round opens, so that no vote waits for it."""
        self._global_context(global_model)

    def verify(self, global_model: ModelWeights, update: ModelWeights) -> Verdict:
        """The verdict on ``update``, submitted in the round whose model is ``global_model``.

        Raises ValueError if ``global_model`` is not of this verifier's architecture (the
        caller's mistake, not the participant's).
        """
        context = self._global_context(global_model)
        if update.architecture != self.spec.id:
            return _reject(Check.WRONG_ARCHITECTURE)
        try:
            fixed = _fixed_arrays(update)
        except WeightsOutOfRange:
            return _reject(Check.OUT_OF_RANGE)
        changes = [np.abs(u - g) for u, g in zip(fixed, context.fixed, strict=True)]
        facts = {"distance": int(sum(int(c.sum()) for c in changes))}
        if facts["distance"] == 0:
            return _reject(Check.UNCHANGED, **facts)

        facts["relative_step"] = facts["distance"] * 1000 // max(context.norm, 1)
        if facts["distance"] * 1000 > self.params.max_relative_step * context.norm:
            return _reject(Check.TOO_FAR, **facts)

        facts["dormant_per_mille"] = self._dormant_per_mille(changes[0])
        if facts["dormant_per_mille"] > self.params.dormant_per_mille:
            return _reject(Check.DORMANT_INPUTS, **facts)

        try:
            alone = self._evaluator.evaluate(update)
        except WeightsOutOfRange:
            return _reject(Check.OUT_OF_RANGE, **facts)
        baseline = context.evaluation
        facts["alone_change"] = sum(alone.margin_sums) - sum(baseline.margin_sums)
        if self._below(facts["alone_change"], self.params.alone_tolerance):
            return _reject(Check.HARMFUL_ALONE, **facts)

        try:
            share = fedavg([update, global_model], repeats=(1, self.params.contributors - 1))
            contribution = self._evaluator.evaluate(share)
        except WeightsOutOfRange:  # only with thousands of contributors (fedavg's sum bound)
            return _reject(Check.OUT_OF_RANGE, **facts)
        gain = sum(contribution.margin_sums) - sum(baseline.margin_sums)
        facts |= {
            "contribution_change": gain,
            "correct_change": contribution.correct - baseline.correct,
        }
        if self._below(gain, self.params.contribution_tolerance):
            return _reject(Check.HARMFUL_CONTRIBUTION, **facts)
        return Verdict(
            accept=True,
            score=self._score(gain),
            reason=ReasonCode.ACCEPTED,
            check=Check.PASSED,
            **facts,
        )

    def _below(self, margin_change: int, tolerance_millilogits: int) -> bool:
        """Whether a summed margin change (units 2**-16) is a mean loss of more than the
        tolerance (thousandths of a logit per sample); exact, in integers."""
        samples = len(self._evaluator)
        return margin_change * 1000 < -tolerance_millilogits * samples * (1 << MARGIN_FRAC_BITS)

    def _dormant_per_mille(self, first_kernel_change: np.ndarray) -> int:
        """Change per dormant pixel over change per pixel, in thousandths (0 if none moved)."""
        if len(self._dormant) == 0:
            return 0
        per_input = first_kernel_change.reshape(-1, first_kernel_change.shape[-1]).sum(axis=1)
        total = int(per_input.sum())
        if total == 0:
            return 0
        dormant = int(per_input[self._dormant].sum())
        return dormant * len(per_input) * 1000 // (total * len(self._dormant))

    def _score(self, gain: int) -> int:
        """Mean margin gain per validation sample, units 2**-score_frac_bits, in 0..uint32."""
        shift = self.params.score_frac_bits - MARGIN_FRAC_BITS
        mean = (max(gain, 0) << shift) // len(self._evaluator)
        return min(mean, MAX_SCORE)

    def _global_context(self, global_model: ModelWeights) -> _GlobalContext:
        if global_model.architecture != self.spec.id:
            raise ValueError(
                f"the global model is {global_model.architecture}; this verifier checks "
                f"{self.spec.id} updates"
            )
        digest = _digest(global_model)
        if self._context is None or self._context.digest != digest:
            fixed = _fixed_arrays(global_model)
            self._context = _GlobalContext(
                digest=digest,
                evaluation=self._evaluator.evaluate(global_model),
                fixed=fixed,
                norm=int(sum(int(np.abs(a).sum()) for a in fixed)),
            )
        return self._context


def _reject(check: Check, **diagnostics: int) -> Verdict:
    return Verdict(
        accept=False, score=0, reason=ReasonCode.FAILED_VERIFICATION, check=check, **diagnostics
    )


def _digest(weights: ModelWeights) -> bytes:
    hasher = hashlib.sha256(weights.architecture.encode())
    for array in weights.arrays:
        hasher.update(array.tobytes())
    return hasher.digest()


def _fixed_arrays(weights: ModelWeights) -> tuple[np.ndarray, ...]:
    """Every weight as the int64 ``rint(w * 2**DISTANCE_FRAC_BITS)``.

    The bound (|w| < 2**10, far above the evaluator's 515) keeps every difference and every
    L1 sum of up to 2**28 of them inside int64.
    """
    return tuple(
        to_fixed(a, DISTANCE_FRAC_BITS, 2 ** (10 + DISTANCE_FRAC_BITS), f"array {i}").astype(
            np.int64
        )
        for i, a in enumerate(weights.arrays)
    )


def _dormant_inputs(spec: Architecture, validation: Dataset) -> np.ndarray:
    """First-layer input indices (pixels) that are zero in every validation image.

    Only for a Dense first layer, whose kernel rows map one to one to pixels; for a
    convolution every kernel weight sees many positions, and the check is skipped.
    """
    if not isinstance(spec.layers[0], Dense):
        return np.zeros(0, dtype=np.intp)
    lit = validation.images.reshape(len(validation), -1).max(axis=0) > 0
    return np.flatnonzero(~lit)
