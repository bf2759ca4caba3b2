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

:class:`RunningFedAvg` is the same computation over a stream: an oracle adds each accepted
update as it is settled and drops it, holding one int64 sum per weight (0.8 MB for the MLP)
instead of every update until the round closes; its result is fedavg's, byte for byte.
:func:`fedavg` is a RunningFedAvg fed with a list, so the rule lives in one place.
"""

from __future__ import annotations

from collections.abc import Sequence

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
