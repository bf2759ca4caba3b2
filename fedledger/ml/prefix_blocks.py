"""The validation images times a kernel, at the cost of the pixels that are lit.

An MNIST image lights about 19 % of its 784 pixels, and the images of an oracle's
validation set light only about 635 of them at all. The exact evaluator multiplies the same
pixel matrix by a new kernel for every update, so the matrix is reorganised once so that
each product skips most of the zeros while staying one dense BLAS call per block:

- the columns (pixels) are put in one order, chosen greedily from the back: the last
  column is the one lit in the fewest rows, the one before it the one lit in the fewest
  rows that do not already need the last, and so on (about 6 % fewer multiply-adds than
  ordering by how often each column is lit);
- each row (image) needs the prefix of that order up to its last lit pixel (its
  *width*); the rows are sorted by width;
- consecutive rows are cut into blocks, each computed as ``rows @ kernel[prefix]`` with
  the prefix of the block's widest row. Where to cut is chosen by dynamic programming
  over the cost ``rows x width + CALL_COST`` per block.

On the oracles' validation sets this computes about 51 % of the dense product's
multiply-adds in about a dozen calls.

Exactness: each output of a block is the dot product of the row with the kernel column
over a subset of its terms, and every term left out is a product with a zero pixel, i.e.
exactly zero. When the dense product is exact (integer operands whose absolute products
sum to at most 2**53 in every dot product, the bound the evaluator proves, see
:mod:`fedledger.ml.fixedpoint`), every partial sum of any subset of its terms is an integer
of at most that magnitude, so the blocked product is exact too and equals the dense one
integer for integer. The only difference a skipped zero term could make is the sign of a
zero result (``-0.0`` against ``0.0``), which the evaluator's next step (adding the bias,
or the conversion of the logits to int64) erases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The fixed cost of one BLAS call and its packing, in multiply-add "cells" of one row and
#: one column of the left operand (a cell is a row of the kernel, ``outputs`` multiply-adds).
#: Only speed depends on it, never a result.
CALL_COST = 2000
#: Blocks are cut at multiples of this many rows (keeps the dynamic programme small).
CUT_STEP = 8


@dataclass(frozen=True, eq=False)
class RowBlock:
    """Rows ``start:stop`` of the reordered matrix, restricted to the first ``width``
    columns of the column order (every other entry of these rows is zero)."""

    start: int
    stop: int
    width: int
    matrix: np.ndarray


class PrefixBlocks:
    """A fixed matrix with many zeros, stored for repeated exact products ``matrix @ kernel``.

    The product comes back with its rows in :attr:`row_order` (row ``i`` of the result is
    row ``row_order[i]`` of the dense product): callers that reduce over rows permute their
    labels once instead of permuting every result back.
    """

    def __init__(self, matrix: np.ndarray) -> None:
        if matrix.ndim != 2:
            raise ValueError("PrefixBlocks needs a 2-d matrix")
        lit = matrix != 0
        self.shape = matrix.shape
        self.column_order = _column_order(lit)
        lit = lit[:, self.column_order]
        columns = np.arange(1, matrix.shape[1] + 1)
        widths = np.where(lit, columns, 0).max(axis=1, initial=0)
        self.row_order = np.argsort(widths, kind="stable")
        widths = widths[self.row_order]
        self.blocks = tuple(
            RowBlock(
                start,
                stop,
                width,
                np.ascontiguousarray(
                    matrix[self.row_order[start:stop]][:, self.column_order[:width]]
                ),
            )
            for start, stop, width in _cuts(widths)
        )
        self.width = max((b.width for b in self.blocks), default=0)

    @property
    def cells(self) -> int:
        """Entries of the left operand the product reads (the dense product: rows x columns)."""
        return sum((b.stop - b.start) * b.width for b in self.blocks)

    def product(self, kernel: np.ndarray) -> np.ndarray:
        """``(matrix @ kernel)[row_order]`` as float64, exact when the dense product is."""
        if kernel.shape[0] != self.shape[1]:
            raise ValueError(
                f"the kernel has {kernel.shape[0]} rows; the matrix has {self.shape[1]} columns"
            )
        rows = kernel[self.column_order[: self.width]]
        result = np.empty((self.shape[0], kernel.shape[1]), dtype=np.float64)
        for block in self.blocks:
            np.matmul(block.matrix, rows[: block.width], out=result[block.start : block.stop])
        return result


def _column_order(lit: np.ndarray) -> np.ndarray:
    """Columns ordered so that the rows' widths are small: built from the back, each step
    puts before the columns placed so far the column lit in the fewest rows that none of
    them is lit in (those rows' widths would grow). Columns never lit end up last.

    ``pending[c]`` counts the rows lit in column ``c`` that no placed column is lit in; it
    is updated only for the rows a placed column newly claims, so the whole order costs
    one pass over the matrix.
    """
    pending = lit.sum(axis=0, dtype=np.int64)
    claimed = np.zeros(lit.shape[0], dtype=bool)
    placed = np.iinfo(np.int64).max
    order = []
    for _ in range(lit.shape[1]):
        column = int(np.argmin(pending))
        order.append(column)
        rows = lit[:, column] & ~claimed
        claimed |= rows
        pending -= lit[rows].sum(axis=0, dtype=np.int64)
        pending[column] = placed
    return np.array(order[::-1], dtype=np.intp)


def _cuts(widths: np.ndarray) -> list[tuple[int, int, int]]:
    """Blocks ``(start, stop, width)`` over rows sorted by ``widths`` that minimise
    ``sum(rows x width + CALL_COST)`` among cuts at multiples of :data:`CUT_STEP`."""
    count = len(widths)
    if count == 0:
        return []
    points = np.array([*range(0, count, CUT_STEP), count])
    best = np.zeros(len(points))
    previous = np.zeros(len(points), dtype=np.intp)
    for end in range(1, len(points)):
        width = widths[points[end] - 1]  # the widest row of any block ending here
        costs = best[:end] + (points[end] - points[:end]) * width + CALL_COST
        previous[end] = int(np.argmin(costs))
        best[end] = costs[previous[end]]
    cuts, end = [], len(points) - 1
    while end:
        start = previous[end]
        cuts.append((int(points[start]), int(points[end]), int(widths[points[end] - 1])))
        end = start
    return cuts[::-1]
