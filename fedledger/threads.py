"""The thread counts of the numeric libraries: OpenBLAS, MKL, OpenMP and TensorFlow.

Each library reads its variable once, when it loads, so a thread count is set in the
environment of a new process, or in this one before numpy or TensorFlow is imported.
This module therefore imports nothing but the standard library: a script can import it
first and set the variables before the rest.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

#: Environment variables that set the thread counts of BLAS, OpenMP and TensorFlow.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
)


def thread_environment(threads: int, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with every thread variable set to
    ``threads``, for a child process whose numeric libraries must use that many threads."""
    environment = os.environ if base is None else base
    return {**environment, **{name: str(threads) for name in THREAD_VARIABLES}}
