"""Federated averaging that gives the same bytes on every oracle.

Each weight becomes the integer ``round(w * 2**40)`` (:data:`AGGREGATION_FRAC_BITS`), the
integers are summed in int64, the sum is divided by the number of updates with rounding
to nearest (ties upwards), and the result is scaled back by ``2**-40`` and rounded once
to float32. Every step is exact integer arithmetic except the last, which is a single
IEEE round-to-nearest-even of an exactly known value; integer addition is associative
and commutative, so neither the order of the updates nor the machine changes a bit of
the result, and no canonical sort is needed.

Weighting: every accepted update counts once (equal weights). The sample counts a
participant reports cannot be verified, so any weighting by them (FedAvg's ``n_k / n``)
hands influence to whoever claims most; a cap only makes every liar claim the cap.
Weighting by the oracles' score would reward fitting the oracles' validation data and
shrink the share of honest non-IID clients whose local data differs from it. With equal
weights an update's influence is ``1/K`` whatever it claims, and the remaining lever, many
identities, is closed by registration of participants on chain.

:class:`RunningFedAvg` is the same computation over a stream, holding one int64 sum per
weight (0.8 MB for the MLP) instead of every update; its result is fedavg's, byte for byte.
:func:`fedavg` is a RunningFedAvg fed with a list, so the rule lives in one place. The
oracle node aggregates with :func:`bounded_fedavg` (each delta clipped to the round's
median norm, the rule its round judgement weighs updates by), which streams its updates
in two passes for the same reason.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fedledger.ml.errors import WeightsOutOfRange
from fedledger.ml.fixedpoint import to_fixed
from fedledger.ml.weights import ModelWeights

AGGREGATION_FRAC_BITS = 40
#: Magnitude bound of the int64 running sums (headroom for the rounding offset).
_SUM_BOUND = 2**62
#: Every term must stay within this, whatever the count: the mean must convert exactly.
_TERM_BOUND = 2**52


def fedavg(updates: Sequence[ModelWeights], repeats: Sequence[int] | None = None) -> ModelWeights:
    """The equal-weight average of ``updates`` (same architecture), bit-exact.

    ``repeats[i]`` counts update ``i`` that many times, exactly as if it stood in the list
    ``repeats[i]`` times (the sum is ``repeats[i]`` times its integers), at the cost of one
    conversion: an oracle judges an update's share in a round of m contributors as
    ``fedavg([update, global_model], repeats=(1, m - 1))``. An update repeated 0 times is
    not looked at. Default: every update once.

    Raises ValueError for no updates, mixed architectures or bad repeats, and
    :class:`~fedledger.ml.errors.WeightsOutOfRange` when a weight's magnitude reaches
    ``min(2**52, 2**62 / count) * 2**-40``, ``count`` being the number of updates averaged
    (4096 for up to 1,024 updates; weights the exact evaluator accepts are below 515).
    """
    if not updates:
        raise ValueError("nothing to aggregate: fedavg needs at least one update")
    counts = [1] * len(updates) if repeats is None else [int(r) for r in repeats]
    if len(counts) != len(updates) or min(counts) < 0:
        raise ValueError("repeats needs one count of 0 or more per update")
    running = RunningFedAvg(updates[0].architecture)
    for position, (update, times) in enumerate(zip(updates, counts, strict=True)):
        running.add(update, times, name=f"update {position}")
    return running.result()


class RunningFedAvg:
    """:func:`fedavg` one update at a time, in memory that does not grow with the count.

    Holds, per weight, the int64 sum of ``rint(w * 2**40)`` over the updates added, their
    count, and the largest such integer seen. :meth:`result` divides by the count with
    rounding to nearest, ties upwards, and rounds once to float32: fedavg's steps, so the
    bytes are fedavg's for the same updates in any order (integer addition is associative
    and commutative).

    The range rule is fedavg's too: every integer must stay within
    ``min(2**52, 2**62 // count)`` for the final count. Sums cannot overflow while that
    holds (each partial sum is at most count x largest term <= 2**62); :meth:`add` refuses
    an update as soon as the rule is broken for the count so far (the count only grows, so
    fedavg would refuse the final set too) and leaves the sums as they were, so the
    updates added before it still average.
    """

    def __init__(self, architecture: str) -> None:
        self.architecture = architecture
        self.count = 0
        self._sums: list[np.ndarray] | None = None
        self._largest = 0  # largest |rint(w * 2**40)| over every update added

    def add(self, update: ModelWeights, times: int = 1, name: str = "the update") -> None:
        """Count ``update`` ``times`` times (0: not looked at); ``name`` is what an error
        calls it.

        Raises ValueError for another architecture or a negative ``times``, and
        WeightsOutOfRange (nothing added) when a weight is beyond fedavg's range for the
        count including this update.
        """
        if update.architecture != self.architecture:
            raise ValueError(f"cannot average {self.architecture} with {update.architecture}")
        if times < 0:
            raise ValueError("an update is counted 0 or more times")
        if times == 0:
            return
        count = self.count + times
        term_bound = min(_TERM_BOUND, _SUM_BOUND // count)
        fixed = [
            to_fixed(array, AGGREGATION_FRAC_BITS, _TERM_BOUND, f"array {index} of {name}")
            for index, array in enumerate(update.arrays)
        ]
        largest = max(self._largest, *(int(max(f.max(), -f.min(), 0)) for f in fixed))
        if largest > term_bound:
            raise WeightsOutOfRange(
                f"{name} cannot be averaged: over {count} updates the exact sum allows weights "
                f"up to {term_bound * 2.0**-AGGREGATION_FRAC_BITS:.6g} in magnitude, and the "
                f"largest so far is {largest * 2.0**-AGGREGATION_FRAC_BITS:.6g}"
            )
        if self._sums is None:
            self._sums = [np.zeros(f.shape, dtype=np.int64) for f in fixed]
        for total, terms in zip(self._sums, fixed, strict=True):
            total += times * terms.astype(np.int64)
        self.count, self._largest = count, largest

    def result(self) -> ModelWeights:
        """The average of everything added; ValueError if nothing was."""
        if self._sums is None:
            raise ValueError("nothing to aggregate: every update is repeated 0 times")
        averaged = []
        for total in self._sums:
            mean = (total + self.count // 2) // self.count  # floor division: round half up
            scaled = mean.astype(np.float64) * 2.0**-AGGREGATION_FRAC_BITS
            averaged.append(scaled.astype(np.float32))
        return ModelWeights(self.architecture, tuple(averaged))


#: Resolution of the update deltas in :func:`bounded_fedavg` (2**-24) ...
DELTA_FRAC_BITS = 24
#: ... and their largest magnitude (a weight may move by less than 2**DELTA_LIMIT_BITS = 16
#: in one round; an update that moves one further gets weight 0).
DELTA_LIMIT_BITS = 4
#: The clip factor of each update is a fraction in units of 2**-CLIP_FRAC_BITS.
CLIP_FRAC_BITS = 16
#: Norms are measured at 2**-NORM_FRAC_BITS, where every squared delta sum fits int64.
NORM_FRAC_BITS = 16
#: Most bytes of deltas :func:`bounded_fedavg` holds between its two passes; the others are
#: read (and converted) again, so a round of 1,000 MLP updates needs no 800 MB.
CACHE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class BoundedAggregate:
    """The result of :func:`bounded_fedavg` and the integers behind it (for logs/tests)."""

    model: ModelWeights
    clip_norm: int  # the median L2 norm of the weighted deltas, units 2**-NORM_FRAC_BITS
    norms: tuple[int, ...]  # every update's delta norm, same units
    trust: tuple[int, ...]  # every update's weight after the cap at the median weight
    clip_factors: tuple[int, ...]  # units 2**-CLIP_FRAC_BITS (2**16 = unclipped)


def bounded_fedavg(
    global_model: ModelWeights, updates: Sequence[ModelWeights], weights: Sequence[int]
) -> BoundedAggregate:
    """``global + sum_i t_i c_i (u_i - global) / sum_i t_i``: a weighted FedAvg of the
    deltas in which no update can weigh or move the model more than the round's median
    one, in exact integer arithmetic (the same bytes on every oracle, in any order).

    - ``weights`` are the updates' non-negative integer weights (the oracles' agreed
      scores, read from the chain). Each is capped at the median positive weight: an
      update cannot buy more influence than the typical accepted one by looking better
      to the oracles.
    - Every delta is clipped (L2, exact integer norms and an integer square root) to the
      median norm of the positively weighted deltas: ``c_i = min(1, median / |d_i|)``.
      Boosting, "model replacement" and far-reaching noise lose their lever: a round's
      step is a weighted mean of vectors no longer than the typical honest step.
    - An update that moves a weight by 16 or more, or whose weight is 0, is left out;
      with nothing left the result is the global model itself.

    ``updates`` is read in two passes, one update at a time (a lazy sequence that reads
    each from a store works, and memory stays within :data:`CACHE_BYTES` of deltas).
    Deltas are taken at 2**-24 (``rint``), the sum ``sum t_i c_i d_i`` in int64 (bounded:
    ``|d| < 2**28``, ``c <= 2**16``, ``t`` rescaled below ``2**(18 - bits(K))``), the mean
    rounded to nearest (ties up) at 2**-40 and added to the global model's 2**-40
    integers, then scaled and rounded once to float32, as in :func:`fedavg`.
    """
    if len(weights) != len(updates):
        raise ValueError("bounded_fedavg needs one weight per update")
    if min(weights, default=0) < 0:
        raise ValueError("weights cannot be negative")
    mixed = {u.architecture for u in updates} - {global_model.architecture}
    if mixed:
        raise ValueError(
            f"cannot aggregate {sorted(mixed)} updates into {global_model.architecture}"
        )
    limit = 2 ** (DELTA_FRAC_BITS + DELTA_LIMIT_BITS)
    fixed_global = [
        to_fixed(a, DELTA_FRAC_BITS, limit * 2**8, f"global array {i}").astype(np.int64)
        for i, a in enumerate(global_model.arrays)
    ]

    def delta_of(position: int) -> list[np.ndarray] | None:
        """The update's delta at 2**-24, None when it is out of range or moves a weight
        by 16 or more."""
        update = updates[position]
        try:
            fixed = [
                to_fixed(a, DELTA_FRAC_BITS, limit * 2**9, f"array {i} of update {position}")
                for i, a in enumerate(update.arrays)
            ]
        except WeightsOutOfRange:
            return None
        delta = [f.astype(np.int64) - g for f, g in zip(fixed, fixed_global, strict=True)]
        if max(int(np.max(np.abs(d))) if d.size else 0 for d in delta) >= limit:
            return None
        return delta

    # Two passes (the norms, then the sum), so that ``updates`` may be a lazy sequence read
    # one update at a time: the deltas are held only within CACHE_BYTES.
    held: dict[int, list[np.ndarray]] = {}
    held_bytes = 0
    valid: list[bool] = []
    norms: list[int] = []
    for position in range(len(updates)):
        delta = delta_of(position)
        valid.append(delta is not None)
        if delta is None:
            norms.append(0)
            continue
        coarse = [d >> (DELTA_FRAC_BITS - NORM_FRAC_BITS) for d in delta]
        norms.append(math.isqrt(sum(int(c.ravel() @ c.ravel()) for c in coarse)))
        size = sum(d.nbytes for d in delta)
        if held_bytes + size <= CACHE_BYTES:
            held[position] = delta
            held_bytes += size
    usable = [i for i in range(len(updates)) if valid[i] and weights[i] > 0]
    if not usable:
        return BoundedAggregate(global_model, 0, tuple(norms), (0,) * len(updates), ())
    clip_norm = _lower_median([norms[i] for i in usable])
    weight_cap = _lower_median([int(weights[i]) for i in usable])
    trust = [min(int(weights[i]), weight_cap) if i in usable else 0 for i in range(len(updates))]
    trust_bits = max(1, 18 - len(usable).bit_length())
    scale_top = max(trust)
    if scale_top >= 2**trust_bits:  # rescale so that every product stays within int64
        trust = [(t << trust_bits) // (scale_top + 1) for t in trust]
    factors = [
        min(2**CLIP_FRAC_BITS, (clip_norm << CLIP_FRAC_BITS) // n) if n else 2**CLIP_FRAC_BITS
        for n in norms
    ]
    total_trust = sum(trust)
    if total_trust == 0:
        return BoundedAggregate(global_model, clip_norm, tuple(norms), tuple(trust), tuple(factors))
    shift = AGGREGATION_FRAC_BITS - DELTA_FRAC_BITS - CLIP_FRAC_BITS  # 0: the sum is at 2**-40
    totals = [np.zeros(base.shape, dtype=np.int64) for base in global_model.arrays]
    for i in usable:
        if not trust[i]:
            continue
        delta = held.pop(i, None) or delta_of(i)
        assert delta is not None  # it was in range in the first pass
        for total, part in zip(totals, delta, strict=True):
            total += (trust[i] * factors[i]) * part
    averaged = []
    for index, (base, total) in enumerate(zip(global_model.arrays, totals, strict=True)):
        mean = (total + total_trust // 2) // total_trust  # at 2**-(24 + 16) = 2**-40
        if shift:
            mean <<= shift
        anchor = to_fixed(base, AGGREGATION_FRAC_BITS, 2**52, f"global array {index}")
        result = anchor.astype(np.int64) + mean
        if int(np.max(np.abs(result))) > 2**52:
            raise WeightsOutOfRange(f"array {index} of the aggregate leaves the exact range")
        averaged.append(
            (result.astype(np.float64) * 2.0**-AGGREGATION_FRAC_BITS).astype(np.float32)
        )
    model = ModelWeights(global_model.architecture, tuple(averaged))
    return BoundedAggregate(model, clip_norm, tuple(norms), tuple(trust), tuple(factors))


def _lower_median(values: Sequence[int]) -> int:
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2]
