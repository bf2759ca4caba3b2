"""Exact integer arithmetic carried in float64: what makes every oracle compute the same bits.

A float64 represents every integer of magnitude at most 2**53, and IEEE 754 rounds the
result of ``+``, ``-`` and ``*`` only when the exact result is not representable. So if
the operands of a matrix product are integers and the sum of the absolute values of the
products in every dot product is at most 2**53, then every product and every partial
sum is an integer of magnitude at most 2**53, nothing is ever rounded, and the result is
the exact integer dot product, whatever order, blocking, thread split, vector width or
FMA use the BLAS library chose. Integer results are then bit-identical on every machine,
and BLAS keeps its speed (a float64 GEMM is many times faster than numpy's integer matmul,
which has no BLAS).

This module holds the two primitives and their guards:

- :func:`to_fixed` turns floats into integers ``round(x * 2**frac_bits)`` (exact: the
  scaling by a power of two is exact, ``rint`` is exact) and refuses values whose integer
  would exceed a bound;
- :func:`check_dot_bound` proves the 2**53 condition for ``inputs @ kernel + bias`` from
  the largest input magnitude and the kernel's column L1 norms, before any product is
  computed. We require 2**52 (:data:`EXACT_BOUND`), which leaves room for the rounding
  offset added during requantization.

The one assumption on the BLAS is the classical algorithm (sums of products). Strassen-like
GEMMs would break it; OpenBLAS, MKL, BLIS and Accelerate do not use them for dgemm.
"""

from __future__ import annotations

import numpy as np

from fedledger.ml.errors import WeightsOutOfRange

#: Every value, product and partial sum of the exact arithmetic stays within this bound.
EXACT_BITS = 52
EXACT_BOUND = 2**EXACT_BITS


def to_fixed(values: np.ndarray, frac_bits: int, max_abs: int, what: str) -> np.ndarray:
    """``rint(values * 2**frac_bits)`` as integer-valued float64 (ties to even).

    Raises WeightsOutOfRange when any result exceeds ``max_abs`` in magnitude or a value
    is not finite. ``values`` are float32 or float64: scaling them by a power of two in
    float64 is exact, and so is ``rint``.
    """
    fixed = np.rint(np.multiply(values, 2.0**frac_bits, dtype=np.float64))
    worst = max(float(fixed.max()), -float(fixed.min())) if fixed.size else 0.0
    if not worst <= max_abs:  # also true for NaN
        limit = max_abs * 2.0**-frac_bits
        raise WeightsOutOfRange(
            f"{what} holds a value of magnitude {worst * 2.0**-frac_bits:.6g}; exact fixed-point "
            f"arithmetic allows at most {limit:.6g} here"
        )
    return fixed


def check_dot_bound(kernel: np.ndarray, bias: np.ndarray, input_max: int, what: str) -> None:
    """Prove that ``inputs @ kernel + bias`` is exact for integer inputs ``|x| <= input_max``.

    ``kernel`` (fan_in, outputs) and ``bias`` (outputs,) are integer-valued float64 from
    :func:`to_fixed` with ``max_abs <= EXACT_BOUND // input_max``. For each output unit
    ``k``, every partial sum of ``sum_j x_j * kernel[j, k]`` is bounded by
    ``input_max * sum_j |kernel[j, k]|``; adding the bias keeps it within
    ``input_max * L1_k + |bias_k|``, which must not exceed :data:`EXACT_BOUND`.
    """
    # |kernel| <= EXACT_BOUND // input_max (to_fixed's bound), so the int64 column sums below
    # cannot overflow when this holds.
    if kernel.shape[0] * (EXACT_BOUND // input_max) >= 2**63:
        raise ValueError(f"{what}: fan-in {kernel.shape[0]} too large for the exactness check")
    magnitudes = np.abs(kernel)
    if kernel.shape[0] * float(magnitudes.max(initial=0.0)) <= 2.0**53:
        # Every partial sum of a column is an integer of at most 2**53: the float64 sum is
        # exact, and converts to int64 exactly.
        column_l1 = magnitudes.sum(axis=0).astype(np.int64)
    else:
        column_l1 = magnitudes.astype(np.int64).sum(axis=0)
    bias_magnitudes = np.abs(bias).astype(np.int64)  # <= EXACT_BOUND (to_fixed's bound)
    # input_max * l1 + b <= EXACT_BOUND  <=>  l1 <= (EXACT_BOUND - b) // input_max for
    # integers; written this way, nothing can overflow int64.
    over = column_l1 > (EXACT_BOUND - bias_magnitudes) // input_max
    if over.any():
        worst = max(
            input_max * int(l1) + int(b)
            for l1, b in zip(column_l1[over], bias_magnitudes[over], strict=True)
        )
        raise WeightsOutOfRange(
            f"{what}: a unit's weights are too large for exact evaluation (sum of |weights| "
            f"times the largest input is {worst / EXACT_BOUND:.3g} times the exact range)"
        )
