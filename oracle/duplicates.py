"""One training, one reward: near-identical updates of one round, found with integers.

Two participants who share one training run (or one who copies another's plaintext and
adds a little noise) submit updates whose *steps* from the round's global model are almost
the same. Every oracle turns each update into the fixed-point integer step

    step = rint(update * 2**FRAC_BITS) - rint(global * 2**FRAC_BITS)     (int64)

(scaling a float32 by a power of two is exact, so every machine gets the same integers)
and calls update j a duplicate of an earlier update i of the round when

    1000 * L1(step_j - step_i) <= DUPLICATE_PER_MILLE * max(L1(step_i), L1(step_j))

Independent trainings from one global model on different data differ by far more than
that (docs/security.md has the measured ratios). "Earlier" is on-chain order (block
number, log index), so the first submission of a training is the one that can be paid; the
later ones are rejected with ``DUPLICATE``. Only integers are compared, so every oracle
that holds the same updates reaches the same verdict.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from fedledger.ml import ModelWeights

#: Fixed-point fraction bits of the step (float32 weights have a 24-bit significand).
FRAC_BITS = 24
#: A step within this many thousandths (L1) of an earlier one is a duplicate of it.
DUPLICATE_PER_MILLE = 250


@dataclass(frozen=True, eq=False)
class Step:
    """An update's fixed-point step from the global model, and its L1 norm."""

    values: np.ndarray  # int64, all tensors concatenated
    l1: int

    @classmethod
    def of(cls, update: ModelWeights, global_model: ModelWeights) -> Step:
        values = np.concatenate(
            [
                _fixed(mine) - _fixed(theirs)
                for mine, theirs in zip(update.arrays, global_model.arrays, strict=True)
            ]
        )
        return cls(values, int(np.abs(values).sum()))

    def distance(self, other: Step) -> int:
        return int(np.abs(self.values - other.values).sum())

    def duplicates(self, earlier: Step) -> bool:
        """Whether this step is within DUPLICATE_PER_MILLE of ``earlier``'s."""
        return 1000 * self.distance(earlier) <= DUPLICATE_PER_MILLE * max(self.l1, earlier.l1)

    def per_mille_from(self, earlier: Step) -> int:
        """The distance in thousandths of the larger norm (for logs), rounded down."""
        return 1000 * self.distance(earlier) // max(self.l1, earlier.l1, 1)


def _fixed(array: np.ndarray) -> np.ndarray:
    # Clipped to 2**39 (weights up to 2**15): int64 sums and differences over up to 2**22
    # parameters cannot overflow. Real weights are far smaller; larger ones are outside the
    # exact evaluator's range and rejected by the verifier anyway.
    scaled = np.rint(np.multiply(array.ravel(), 2.0**FRAC_BITS, dtype=np.float64))
    return np.clip(scaled, -(2.0**39), 2.0**39).astype(np.int64)


def first_duplicated(step: Step, earlier: Iterable[tuple[str, Step]]) -> tuple[str, int] | None:
    """The first earlier update (participant, distance per mille) ``step`` duplicates."""
    for participant, other in earlier:
        if step.duplicates(other):
            return participant, step.per_mille_from(other)
    return None
