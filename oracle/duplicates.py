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

A node does not keep every step of the round (0.8 MB each for the MLP): it keeps a
:class:`Sketch` per update, the step's exact L1 norm and its sums over consecutive blocks
of :data:`SKETCH_BLOCK` weights (100 KB for the MLP). By the triangle inequality

    L1(step_j - step_i) >= sum_b |block_b(step_j) - block_b(step_i)|  and  >= |L1_j - L1_i|

so a pair whose lower bound already exceeds the limit is *not* a duplicate, exactly, and
only the pairs left (the candidates) are compared on their full steps, which the node
reads again (:func:`first_duplicated`). The verdict is the full rule's, on every oracle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from fedledger.ml import ModelWeights

#: Fixed-point fraction bits of the step (float32 weights have a 24-bit significand).
FRAC_BITS = 24
#: A step within this many thousandths (L1) of an earlier one is a duplicate of it.
DUPLICATE_PER_MILLE = 250
#: Weights per block of a :class:`Sketch`. Where two steps differ like noise, their block
#: bound is about 1/sqrt(SKETCH_BLOCK) of their distance. Honest one-epoch steps from one
#: global model are alike, not independent: measured 0.59-0.95 of the larger L1 apart
#: (MLP, 100 and 500 images each), so their bound is 0.33-0.60 of it with blocks of 4,
#: above the 0.25 limit, and every pair is told apart from the sketches alone. With
#: blocks of 16 it was 0.17-0.33: half the pairs of 100-image steps and all of 500-image
#: ones stayed open and were read again in full, which made a round's work quadratic.
SKETCH_BLOCK = 4


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

    @cached_property
    def sketch(self) -> Sketch:
        """The compact summary a node keeps of this step for the rest of the round."""
        size = self.values.size
        padded = -size % SKETCH_BLOCK
        values = np.concatenate([self.values, np.zeros(padded, dtype=np.int64)])
        sums = values.reshape(-1, SKETCH_BLOCK).sum(axis=1)
        # Exact either way: int32 when every block sum fits (a quarter of the memory).
        if sums.size and int(np.abs(sums).max()) < 2**31:
            sums = sums.astype(np.int32)
        return Sketch(sums, self.l1, size)


@dataclass(frozen=True, eq=False)
class Sketch:
    """A step's exact L1 norm and exact block sums: enough to rule most pairs out."""

    block_sums: np.ndarray  # int32 or int64, one per SKETCH_BLOCK weights
    l1: int
    size: int  # weights in the step

    def lower_bound(self, other: Sketch) -> int:
        """A lower bound of the L1 distance between the two steps (exact integers)."""
        if self.size != other.size:
            return 0  # not comparable (cannot happen within a round): check in full
        blocks = int(np.abs(self.block_sums.astype(np.int64) - other.block_sums).sum())
        return max(blocks, abs(self.l1 - other.l1))

    def may_duplicate(self, earlier: Sketch) -> bool:
        """False only when the steps are certainly not duplicates of each other."""
        return 1000 * self.lower_bound(earlier) <= DUPLICATE_PER_MILLE * max(self.l1, earlier.l1)


def _fixed(array: np.ndarray) -> np.ndarray:
    # Clipped to 2**39 (weights up to 2**15): int64 sums and differences over up to 2**22
    # parameters cannot overflow. Real weights are far smaller; larger ones are outside the
    # exact evaluator's range and rejected by the verifier anyway.
    scaled = np.rint(np.multiply(array.ravel(), 2.0**FRAC_BITS, dtype=np.float64))
    return np.clip(scaled, -(2.0**39), 2.0**39).astype(np.int64)


class SketchBook:
    """The sketches of a round's updates in one matrix, so that one update's lower bounds
    against all of them are one vectorised pass (the rule per pair is Sketch's).

    The book is the node's only copy of a round's sketches (:meth:`get` gives one back). Its
    rows are int32 while every block sum fits (a sketch that does not turns the book to
    int64), held and compared :data:`_CHUNK_ROWS` at a time: at N = 1,000 MLP updates the
    book is 100 MB, and the pass's temporaries stay near 3 MB instead of twice the book in
    int64.
    """

    def __init__(self) -> None:
        self._rows: dict[str, int] = {}
        # Rows in chunks of _CHUNK_ROWS: the book grows by one chunk, never by a copy of
        # itself (doubling a 100 MB matrix would hold both for a moment).
        self._chunks: list[np.ndarray] = []
        self._dtype: type[np.integer] = np.int32
        self._l1: list[int] = []  # exact Python ints, by row
        self._size = 0  # weights per step
        self._width = 0  # block sums per step

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, participant: object) -> bool:
        return participant in self._rows

    def add(self, participant: str, sketch: Sketch) -> None:
        if participant in self._rows:
            return
        width = sketch.block_sums.size
        if not self._rows:
            self._size, self._width = sketch.size, width
        elif width != self._width or sketch.size != self._size:
            raise ValueError("every sketch of a round has the same size")
        if not np.can_cast(sketch.block_sums.dtype, self._dtype):
            self._dtype = np.int64
            self._chunks = [chunk.astype(np.int64) for chunk in self._chunks]
        row = len(self._rows)
        if row == len(self._chunks) * _CHUNK_ROWS:
            self._chunks.append(np.zeros((_CHUNK_ROWS, width), dtype=self._dtype))
        self._chunks[-1][row % _CHUNK_ROWS] = sketch.block_sums
        self._l1.append(sketch.l1)
        self._rows[participant] = row

    def get(self, participant: str) -> Sketch:
        """The sketch added for ``participant`` (KeyError if none was)."""
        row = self._rows[participant]
        sums = self._chunks[row // _CHUNK_ROWS][row % _CHUNK_ROWS].copy()
        if sums.dtype != np.int32 and sums.size and int(np.abs(sums).max()) < 2**31:
            sums = sums.astype(np.int32)  # as Step.sketch made it
        return Sketch(sums, self._l1[row], self._size)

    def open_pairs(self, sketch: Sketch) -> set[str]:
        """The participants whose sketch leaves a duplicate with ``sketch`` open."""
        count = len(self._rows)
        if not count or sketch.block_sums.size != self._width:
            return set(self._rows)
        mine = sketch.block_sums.astype(np.int64)
        blocks = np.empty(count, dtype=np.int64)
        for index, stored in enumerate(self._chunks):
            first = index * _CHUNK_ROWS
            chunk = stored[: count - first].astype(np.int64)
            np.subtract(chunk, mine, out=chunk)
            np.abs(chunk, out=chunk)
            blocks[first : first + len(chunk)] = chunk.sum(axis=1)
        # A float filter that can only let too many rows through (its error is far below
        # 1 %), then the exact rule in Python integers on the few rows left.
        l1 = np.array(self._l1, dtype=np.float64)
        bound = np.maximum(blocks.astype(np.float64), np.abs(l1 - float(sketch.l1)))
        limit = DUPLICATE_PER_MILLE * np.maximum(l1, float(sketch.l1))
        maybe = np.flatnonzero(1000 * bound <= limit * 1.01 + 1.0)
        participants = list(self._rows)
        open_rows = set()
        for row in maybe.tolist():
            other_l1 = self._l1[row]
            exact = max(int(blocks[row]), abs(sketch.l1 - other_l1))
            if 1000 * exact <= DUPLICATE_PER_MILLE * max(sketch.l1, other_l1):
                open_rows.add(participants[row])
        return open_rows


#: Rows of a SketchBook compared at a time (16 MLP sketches: 3.3 MB as int64).
_CHUNK_ROWS = 16


def first_duplicated(
    step: Step,
    earlier: Iterable[tuple[str, Step | Sketch]],
    full_step: Callable[[str], Step | None] | None = None,
) -> tuple[str, int] | None:
    """The first earlier update (participant, distance per mille) ``step`` duplicates.

    An earlier update given by its :class:`Sketch` is compared in full only when the sketch
    leaves the pair open; ``full_step(participant)`` then reads its step again (None: it
    cannot be read now, and the pair is left out, as an update this oracle cannot open).
    """
    for participant, other in earlier:
        if isinstance(other, Sketch):
            if not step.sketch.may_duplicate(other):
                continue
            if full_step is None:
                raise ValueError("a sketch leaves the pair open: pass full_step to read it")
            loaded = full_step(participant)
            if loaded is None:
                continue
            other = loaded
        if step.duplicates(other):
            return participant, step.per_mille_from(other)
    return None
