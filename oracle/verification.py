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
more earns more.

The oracle node votes with the round judgement instead (:meth:`Verifier.judge_round`, at
close): checks 1-4 and a stale check on arrival, then each step measured against the
oracle's own *reference* step (the participants' training from the global model on its
validation data, :mod:`fedledger.ml.reference_training`), its size against the aligned
steps' median, and its leave-one-out gain in the round's clipped aggregate, which is also
its score. See docs/verification.md for why this works on non-IID data, the measured
figures behind the defaults, and what it does not stop.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
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
from fedledger.ml.reference_training import supports, train_dense
from fedledger.ml.training_config import TrainingConfig

#: Fraction bits of the fixed-point weights whose differences the distance checks measure.
DISTANCE_FRAC_BITS = 24
#: Largest score (the contract stores a uint32).
MAX_SCORE = 2**32 - 1
#: The round judgement compares steps at 2**-(DISTANCE_FRAC_BITS - _COARSE_SHIFT) = 2**-16 ...
_COARSE_SHIFT = 8
#: ... where a step must stay below 2**20 (a weight moves by less than 16), so that every
#: dot product of up to 2**22 coordinates fits int64.
_STEP_LIMIT = 2**20
#: Clip factors are fractions in units of 2**-_CLIP_BITS.
_CLIP_BITS = 16


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
    STALE = "stale"
    MISALIGNED = "misaligned"
    OVERSIZED = "oversized"
    UNDERSIZED = "undersized"
    HARMFUL_IN_COMPANY = "harmful-in-company"
    GUARD = "guard"


class Centre(StrEnum):
    """What the round judgement measures a step's direction against."""

    #: The oracle's own step: the participants' training on its validation data
    #: (architectures of Dense layers; the median for others).
    REFERENCE = "reference"
    #: The coordinate-wise median of the round's admitted steps.
    MEDIAN = "median"


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

    The round judgement (:meth:`Verifier.judge_round`, docs/verification.md):
    ``min_company`` admitted updates at least, else each is judged alone (default 4);
    ``centre``: what a step's direction is measured against (default
    :attr:`Centre.REFERENCE`, the oracle's own step: ``training`` -- the participants'
    local training, default :class:`TrainingConfig`'s -- from the global model on its
    validation data); ``min_alignment``: the cosine (per mille) between a step and the
    centre may not be lower (default 0), nor lower than ``chance_sigmas`` (default 3)
    times the ``1/sqrt(n)`` a random direction on the step's n moved coordinates would
    reach (10 per mille for a whole MLP step, 80 for noise on the 1,418 weights outside
    its first layer); against the reference, honest clients of 200 images measured down
    to 126 with 2 classes each and 34 on Dirichlet(0.1); ``min_norm_ratio`` /
    ``max_norm_ratio``: a step's L2 norm in thousandths of the median norm of the aligned
    steps (defaults 100 and 10,000: a large step is clipped in the aggregate, so the
    upper bound only refuses what no local epoch does; honest Dirichlet(0.1) steps
    measured 11 times apart); ``company_tolerance``: taking the
    update out of the round's clipped aggregate may raise the mean margin by at most this
    (default 0.3 logit; honest 2-class clients measured up to 0.19); ``guard_tolerance``:
    the aggregate may lose at most this much mean margin against the global model
    (default 0.5 logit); ``history``: how many earlier global models the stale check
    remembers (default 3); ``centre_sample``: the round's centre is the median of at
    most this many admitted steps, drawn by the seed :meth:`Verifier.judge_round` is given
    (default 64: 26 MB of steps for the MLP, whatever the round's size).
    """

    max_relative_step: int = 750
    dormant_per_mille: int = 50
    alone_tolerance: int = 4000
    contributors: int = 10
    contribution_tolerance: int = 150
    score_frac_bits: int = 24
    min_company: int = 4
    min_alignment: int = 0
    chance_sigmas: int = 3
    min_norm_ratio: int = 100
    max_norm_ratio: int = 10000
    company_tolerance: int = 300
    guard_tolerance: int = 500
    history: int = 3
    centre_sample: int = 64
    centre: Centre = Centre.REFERENCE
    training: TrainingConfig = field(default_factory=TrainingConfig)

    def __post_init__(self) -> None:
        if self.contributors < 1:
            raise ValueError("contributors must be at least 1")
        for name in (
            "max_relative_step",
            "dormant_per_mille",
            "alone_tolerance",
            "contribution_tolerance",
            "min_norm_ratio",
            "max_norm_ratio",
            "company_tolerance",
            "guard_tolerance",
            "history",
            "chance_sigmas",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} cannot be negative")
        if self.centre_sample < self.min_company:
            raise ValueError("centre_sample must be at least min_company")
        if self.min_company < 2:
            raise ValueError("min_company must be at least 2")
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
    alignment: int = 0
    norm_ratio: int = 0
    company_gain: int = 0


@dataclass(frozen=True)
class RoundJudgement:
    """:meth:`Verifier.judge_round`'s verdicts, one per update in the order given."""

    verdicts: tuple[Verdict, ...]


@dataclass(frozen=True, eq=False)
class _Admitted:
    """An update that passed the checks on its weights alone."""

    update: ModelWeights
    fixed: tuple[np.ndarray, ...]
    facts: dict[str, int]


@dataclass(frozen=True, eq=False)
class Assessment:
    """The part of the round judgement that needs no company, for one update that passed
    the checks on its weights alone (:meth:`Verifier.assess`): the facts so far, the L2
    norm of its coarse step (0 when a weight moves by 16 or more: out of range) and how
    many of the step's coordinates are not 0. The coarse step itself, the one large part,
    is returned beside it for the caller to keep."""

    facts: Mapping[str, int]
    norm: int
    moved: int


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
        self._validation = validation
        self._context: _GlobalContext | None = None
        self._history: list[_GlobalContext] = []  # earlier global models, newest first
        self._reference: tuple[bytes, np.ndarray | None] | None = None  # (model digest, step)

    @property
    def dormant_inputs(self) -> np.ndarray:
        """Indices of the first layer's inputs (pixels) that no validation image activates."""
        return self._dormant

    @property
    def remembered(self) -> int:
        """How many global models the verifier knows: this round's and the earlier ones
        the stale check compares with (0 for a new verifier, e.g. after a restart)."""
        return len(self._history) + (self._context is not None)

    def prepare(self, global_model: ModelWeights) -> None:
        """Do the once-per-round work for ``global_model`` now (its evaluation, fixed-point
        weights and norm, and the reference step the round's judgement compares with),
        e.g. when the round opens, so that no vote waits for it."""
        self._reference_step(global_model)

    def verify(self, global_model: ModelWeights, update: ModelWeights) -> Verdict:
        """The verdict on ``update``, submitted in the round whose model is ``global_model``.

        Raises ValueError if ``global_model`` is not of this verifier's architecture (the
        caller's mistake, not the participant's).
        """
        context = self._global_context(global_model)
        admitted = self._admit(context, update)
        if isinstance(admitted, Verdict):
            return admitted
        facts = admitted.facts
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

    def admit(self, global_model: ModelWeights, update: ModelWeights) -> Verdict | None:
        """The checks on the update's weights alone (range, moved, not stale, bounded step,
        dormant inputs), which need no company: the rejection, or None when the update is
        admitted to the round's judgement (:meth:`judge_round`). An oracle node runs them
        as each update arrives and votes a rejection at once."""
        outcome = self._admit(self._global_context(global_model), update)
        return outcome if isinstance(outcome, Verdict) else None

    def judge_round(
        self, global_model: ModelWeights, updates: Sequence[ModelWeights], *, seed: bytes = b""
    ) -> RoundJudgement:
        """The verdicts on a round's updates, each judged in the company of the others.

        Every update first passes the checks on its weights alone (range, moved, not stale,
        bounded step, dormant inputs). With fewer than ``min_company`` of them left, the
        round has no company to judge by and each is judged alone, as :meth:`verify` does.
        Otherwise (all integers, docs/verification.md):

        - **aligned**: the cosine between the update's step and the centre is at least
          ``min_alignment`` per mille and ``chance_sigmas`` times what chance gives a step
          of its moved coordinates (:meth:`_alignment_floor`). The centre is the oracle's
          own step (FLTrust, Cao et al. 2021): the participants' training from the global
          model on its private validation data, which no submission can move and nobody
          else can compute; noise (a disguised free-rider) is orthogonal to it. For an
          architecture numpy training does not cover, or with ``centre=Centre.MEDIAN``,
          it is the coordinate-wise (lower) median of the admitted steps, over
          ``centre_sample`` of them drawn by ``seed`` when there are more (an oracle node
          passes the hash of the block that closed the round, which nobody knew when
          submitting);
        - **not oversized**: its step's L2 norm is at most ``max_norm_ratio`` per mille of the
          median norm of the aligned steps (the refused cannot move it);
        - **useful in company**: the round's aggregate (every aligned step clipped to the
          median norm, equal weights: :func:`fedledger.ml.aggregation.bounded_fedavg`)
          evaluated with and without the update; taking it out may improve the mean
          validation margin by at most ``company_tolerance``. The gain it adds is its score;
        - **guard**: the aggregate of the accepted updates may lose at most
          ``guard_tolerance`` of mean margin against the global model; if it does, only
          updates with a positive gain stay, and if that still fails, none does.

        Memory does not grow with the round beyond a few integers per update and
        ``centre_sample`` steps: ``updates`` may be a lazy sequence (an oracle node's reads
        its blobs from the store), each item is read a few times, one at a time.

        It is :meth:`assess` on every update then :meth:`judge_assessed`, which a caller
        that keeps each update's coarse step (an oracle node, on arrival) calls directly.
        """
        context = self._global_context(global_model)
        assessments: list[Verdict | Assessment] = []
        held: dict[int, np.ndarray] = {}  # the first centre_sample steps, kept from the pass
        # Only a median centre needs a sample of steps; the reference centre needs none.
        sample_size = self.params.centre_sample if self._reference_step(global_model) is None else 0
        for position in range(len(updates)):
            outcome = self.assess(global_model, updates[position])
            if isinstance(outcome, Verdict):
                assessments.append(outcome)
                continue
            assessments.append(outcome[0])
            if len(held) < sample_size:
                held[position] = outcome[1]

        def step_of(position: int) -> np.ndarray:
            # Handed over once: judge_assessed holds the centre's sample itself.
            step = held.pop(position, None)
            if step is not None:
                return step
            return self._coarse_step(context, _fixed_arrays(updates[position]))[0]

        return self.judge_assessed(global_model, assessments, step_of, updates, seed=seed)

    def assess(
        self, global_model: ModelWeights, update: ModelWeights
    ) -> Verdict | tuple[Assessment, np.ndarray]:
        """The part of :meth:`judge_round` that looks at ``update`` alone: its rejection by
        the checks on its weights alone (as :meth:`admit`), or its :class:`Assessment` and
        its coarse step (int32, one per weight), which :meth:`judge_assessed` asks for
        again at close. An oracle node runs it as each update arrives."""
        context = self._global_context(global_model)
        outcome = self._admit(context, update)
        if isinstance(outcome, Verdict):
            return outcome
        step, norm = self._coarse_step(context, outcome.fixed)
        return Assessment(dict(outcome.facts), norm, int(np.count_nonzero(step))), step

    def judge_assessed(
        self,
        global_model: ModelWeights,
        assessments: Sequence[Verdict | Assessment],
        step_of: Callable[[int], np.ndarray],
        updates: Sequence[ModelWeights],
        *,
        seed: bytes = b"",
    ) -> RoundJudgement:
        """:meth:`judge_round`'s verdicts from each update's :meth:`assess` (in the round's
        order), the same ones: the company-dependent part only. ``step_of(position)`` gives
        back an admitted update's coarse step (each is asked for 3 or 4 times, one at a
        time); ``updates`` are read only when fewer than ``min_company`` were admitted, each
        then judged alone (:meth:`verify`)."""
        context = self._global_context(global_model)
        verdicts: list[Verdict | None] = [None] * len(assessments)
        facts: dict[int, dict[str, int]] = {}  # position -> facts, for the admitted
        norms: dict[int, int] = {}  # position -> L2 norm of the coarse step (0: too far)
        moved: dict[int, int] = {}  # position -> nonzero coordinates of the coarse step
        for position, assessment in enumerate(assessments):
            if isinstance(assessment, Verdict):
                verdicts[position] = assessment
            else:
                facts[position] = dict(assessment.facts)
                norms[position] = assessment.norm
                moved[position] = assessment.moved
        sample_size = self.params.centre_sample
        admitted = list(facts)
        if len(admitted) < self.params.min_company:
            for position in admitted:
                verdicts[position] = self.verify(global_model, updates[position])
            return self._finish(verdicts)

        steps: dict[int, np.ndarray] = {}  # the median's sample, held
        reference = self._reference_step(global_model)
        if reference is not None:
            centre = reference.astype(np.int64)
        else:
            if len(admitted) > sample_size:
                sample = sorted(admitted, key=lambda p: _draw(seed, p))[:sample_size]
            else:
                sample = admitted
            steps = {p: step_of(p) for p in sample}
            centre = _column_median(list(steps.values()))

        def step64(position: int) -> np.ndarray:
            held = steps.get(position)
            return (held if held is not None else step_of(position)).astype(np.int64)

        centre_norm = math.isqrt(int(centre @ centre))
        aligned: list[int] = []
        for position in admitted:
            known = facts[position]
            if norms[position] == 0:
                verdicts[position] = _reject(Check.OUT_OF_RANGE, **known)
                continue
            dot = int(step64(position) @ centre)
            known["alignment"] = dot * 1000 // (norms[position] * centre_norm) if centre_norm else 0
            if known["alignment"] < self._alignment_floor(moved[position]):
                verdicts[position] = _reject(Check.MISALIGNED, **known)
            else:
                aligned.append(position)
        # The round's norm comes from the aligned updates only: updates refused for their
        # direction must not move it (small ones would make honest ones look oversized).
        median_norm = _lower_median([norms[p] for p in aligned])
        kept: list[int] = []  # positions still in the running
        for position in aligned:
            known = facts[position]
            known["norm_ratio"] = norms[position] * 1000 // max(median_norm, 1)
            if known["norm_ratio"] > self.params.max_norm_ratio:
                verdicts[position] = _reject(Check.OVERSIZED, **known)
            elif known["norm_ratio"] < self.params.min_norm_ratio:
                verdicts[position] = _reject(Check.UNDERSIZED, **known)
            else:
                kept.append(position)
        if not kept:
            return self._finish(verdicts)

        base = np.concatenate([g.ravel() for g in context.fixed])

        def clipped_sum(members: list[int]) -> tuple[np.ndarray, dict[int, int]]:
            clip = _lower_median([norms[p] for p in members])
            factors = {p: min(1 << _CLIP_BITS, (clip << _CLIP_BITS) // norms[p]) for p in members}
            total = np.zeros(len(base), dtype=np.int64)
            for p in members:
                total += factors[p] * step64(p)
            return total, factors

        total, factors = clipped_sum(kept)
        whole = self._evaluate_step(global_model, base, total, len(kept))
        gains: dict[int, int] = {}
        for p in kept:
            if len(kept) == 1:
                gains[p] = whole - sum(context.evaluation.margin_sums)
                continue
            without = self._evaluate_step(
                global_model, base, total - factors[p] * step64(p), len(kept) - 1
            )
            gains[p] = whole - without
        del total
        accepted = []
        for p in kept:
            facts[p]["company_gain"] = gains[p]
            if self._below(gains[p], self.params.company_tolerance):
                verdicts[p] = _reject(Check.HARMFUL_IN_COMPANY, **facts[p])
            else:
                accepted.append(p)

        best = sum(context.evaluation.margin_sums)
        for attempt in (accepted, [p for p in accepted if gains[p] > 0], []):
            if not attempt:
                accepted = []
                break
            if attempt == kept:
                margin = whole  # the same set, the same clip: evaluated above
            else:
                margin = self._evaluate_step(
                    global_model, base, clipped_sum(attempt)[0], len(attempt)
                )
            if not self._below(margin - best, self.params.guard_tolerance):
                accepted = attempt
                break
        for p in kept:
            if verdicts[p] is not None:
                continue
            if p in accepted:
                verdicts[p] = Verdict(
                    accept=True,
                    score=self._score(max(gains[p], 0) * len(kept)),
                    reason=ReasonCode.ACCEPTED,
                    check=Check.PASSED,
                    **facts[p],
                )
            else:
                verdicts[p] = _reject(Check.GUARD, **facts[p])
        return self._finish(verdicts)

    def _coarse_step(
        self, context: _GlobalContext, fixed: tuple[np.ndarray, ...]
    ) -> tuple[np.ndarray, int]:
        """An update's step from the global model at 2**-16, clipped to +-_STEP_LIMIT and
        held as int32 (half the memory), and its L2 norm (0 when a weight moves by 16 or
        more: out of range)."""
        step = np.concatenate(
            [((u - g) >> _COARSE_SHIFT).ravel() for u, g in zip(fixed, context.fixed, strict=True)]
        )
        largest = int(np.abs(step).max()) if step.size else 0
        np.clip(step, -_STEP_LIMIT, _STEP_LIMIT, out=step)
        norm = math.isqrt(int(step @ step)) if largest < _STEP_LIMIT else 0
        return step.astype(np.int32), norm

    def _alignment_floor(self, moved: int) -> int:
        """The lowest alignment (per mille) for a step that moved ``moved`` coordinates:
        ``min_alignment``, and ``chance_sigmas`` standard deviations above what chance
        gives (a direction drawn at random on ``moved`` coordinates has a cosine of about
        ``1/sqrt(moved)`` with any fixed one), rounded up. Noise on a few layers is then
        judged by the chance of noise on a few layers, not on the whole model."""
        chance = -(-self.params.chance_sigmas * 1000 // max(math.isqrt(moved), 1))
        return max(self.params.min_alignment, chance)

    def _reference_step(self, global_model: ModelWeights) -> np.ndarray | None:
        """The coarse step of this oracle's own update: ``params.training`` from
        ``global_model`` on the validation data, once per global model. None where numpy
        training does not cover the architecture (the round's median stands in) or the
        step leaves the coarse range."""
        context = self._global_context(global_model)
        if self._reference is None or self._reference[0] != context.digest:
            step: np.ndarray | None = None
            if self.params.centre is Centre.REFERENCE and supports(self.spec):
                trained = train_dense(global_model, self._validation, self.params.training)
                try:
                    step, norm = self._coarse_step(context, _fixed_arrays(trained))
                except WeightsOutOfRange:
                    norm = 0
                if norm == 0:
                    step = None
            self._reference = (context.digest, step)
        return self._reference[1]

    def approve(self, global_model: ModelWeights, aggregate: ModelWeights) -> bool:
        """The guard on a candidate aggregate before it is proposed: whether it loses at most
        ``guard_tolerance`` of mean validation margin against the best of ``global_model``
        and the last ``history`` global models this verifier saw."""
        context = self._global_context(global_model)
        try:
            margin = sum(self._evaluator.evaluate(aggregate).margin_sums)
        except WeightsOutOfRange:
            return False
        best = sum(context.evaluation.margin_sums)
        return not self._below(margin - best, self.params.guard_tolerance)

    def _finish(self, verdicts: list[Verdict | None]) -> RoundJudgement:
        final = tuple(v for v in verdicts if v is not None)
        assert len(final) == len(verdicts)
        return RoundJudgement(final)

    def _evaluate_step(
        self, global_model: ModelWeights, base: np.ndarray, total: np.ndarray, count: int
    ) -> int:
        """Summed validation margin of ``global + total / (count * 2**_CLIP_BITS)`` (``total``
        the clipped steps' sum at the coarse resolution), built in integers."""
        divisor = count << _CLIP_BITS
        mean = (total + divisor // 2) // divisor  # coarse units, rounded half up
        weights = base + (mean << _COARSE_SHIFT)
        arrays, offset = [], 0
        for template in global_model.arrays:
            piece = weights[offset : offset + template.size].reshape(template.shape)
            arrays.append((piece.astype(np.float64) * 2.0**-DISTANCE_FRAC_BITS).astype(np.float32))
            offset += template.size
        try:
            model = ModelWeights(global_model.architecture, tuple(arrays))
            evaluation = self._evaluator.evaluate(model)
        except WeightsOutOfRange:
            return -(1 << 62)
        return sum(evaluation.margin_sums)

    def _admit(self, context: _GlobalContext, update: ModelWeights) -> Verdict | _Admitted:
        """Checks 1-5, which look at the update's weights only: a rejection, or the update's
        fixed-point weights and the facts so far."""
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
        if self._stale(fixed, facts["distance"]):
            return _reject(Check.STALE, **facts)

        facts["relative_step"] = facts["distance"] * 1000 // max(context.norm, 1)
        if facts["distance"] * 1000 > self.params.max_relative_step * context.norm:
            return _reject(Check.TOO_FAR, **facts)

        facts["dormant_per_mille"] = self._dormant_per_mille(changes[0])
        if facts["dormant_per_mille"] > self.params.dormant_per_mille:
            return _reject(Check.DORMANT_INPUTS, **facts)

        return _Admitted(update, fixed, facts)

    def _stale(self, fixed: tuple[np.ndarray, ...], distance: int) -> bool:
        """Whether the update is at most half as far from an earlier round's global model as
        from this round's: it did not start from this round's model (a resubmitted old model
        or update). An honest update ``G + d`` is ``|d + s|`` from the previous model ``G - s``,
        and one epoch's step ``d`` does not undo the last round's step ``s``."""
        for old in self._history:
            far = sum(int(np.abs(u - g).sum()) for u, g in zip(fixed, old.fixed, strict=True))
            if 2 * far <= distance:
                return True
        return False

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
            known = next((c for c in self._history if c.digest == digest), None)
            if self._context is not None:
                self._history = [self._context] + [
                    c for c in self._history if c.digest not in (digest, self._context.digest)
                ]
                del self._history[self.params.history :]
            if known is not None:
                self._context = known
                return known
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


def _draw(seed: bytes, position: int) -> bytes:
    """The rank of ``position`` in the centre's sample drawn by ``seed``."""
    return hashlib.sha256(seed + position.to_bytes(8, "big")).digest()


def _column_median(steps: Sequence[np.ndarray]) -> np.ndarray:
    """The coordinate-wise lower median of ``steps`` (int64), over
    :data:`_MEDIAN_COLUMNS` coordinates at a time: the steps stacked whole would be a
    second copy of the sample (26 MB for 64 MLP steps), and its partition a third."""
    middle = (len(steps) - 1) // 2
    size = steps[0].size
    centre = np.empty(size, dtype=np.int64)
    for first in range(0, size, _MEDIAN_COLUMNS):
        block = np.stack([s[first : first + _MEDIAN_COLUMNS] for s in steps])
        centre[first : first + block.shape[1]] = np.partition(block, middle, axis=0)[middle]
    return centre


#: Coordinates of the centre's median computed at a time (64 int32 steps: 2 MB).
_MEDIAN_COLUMNS = 8192


def _lower_median(values: Sequence[int]) -> int:
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2] if ordered else 0
