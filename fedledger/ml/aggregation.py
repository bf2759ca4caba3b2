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
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fedledger.ml.fixedpoint import to_fixed
from fedledger.ml.weights import ModelWeights

AGGREGATION_FRAC_BITS = 40
#: Magnitude bound of the int64 running sums (headroom for the rounding offset).
_SUM_BOUND = 2**62


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
    architecture = updates[0].architecture
    mixed = {u.architecture for u in updates} - {architecture}
    if mixed:
        raise ValueError(f"cannot average {architecture} with {sorted(mixed)}")
    counts = [1] * len(updates) if repeats is None else [int(r) for r in repeats]
    if len(counts) != len(updates) or min(counts) < 0:
        raise ValueError("repeats needs one count of 0 or more per update")
    count = sum(counts)
    if count == 0:
        raise ValueError("nothing to aggregate: every update is repeated 0 times")
    # Each term within 2**62 / count keeps the sum within 2**62; within 2**52 keeps the
    # mean exactly convertible to float64.
    term_bound = min(2**52, _SUM_BOUND // count)
    averaged = []
    for index in range(len(updates[0].arrays)):
        total = np.zeros(updates[0].arrays[index].shape, dtype=np.int64)
        for position, (update, times) in enumerate(zip(updates, counts, strict=True)):
            if times == 0:
                continue
            fixed = to_fixed(
                update.arrays[index],
                AGGREGATION_FRAC_BITS,
                term_bound,
                f"array {index} of update {position}",
            )
            total += times * fixed.astype(np.int64)
        mean = (total + count // 2) // count  # floor division: round half up, exactly
        scaled = mean.astype(np.float64) * 2.0**-AGGREGATION_FRAC_BITS
        averaged.append(scaled.astype(np.float32))
    return ModelWeights(architecture, tuple(averaged))
