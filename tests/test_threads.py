"""The thread variables: set in a child's environment, and importable before numpy."""

from __future__ import annotations

import subprocess
import sys

from fedledger.threads import THREAD_VARIABLES, thread_environment


def test_thread_environment_sets_every_variable_over_the_base() -> None:
    base = {"PATH": "/bin", "OMP_NUM_THREADS": "8"}
    assert thread_environment(2, base) == {"PATH": "/bin", **dict.fromkeys(THREAD_VARIABLES, "2")}
    assert base == {"PATH": "/bin", "OMP_NUM_THREADS": "8"}  # the base is not changed


def test_importing_it_loads_no_numeric_library() -> None:
    """Scripts import it to set the variables before numpy loads, which reads them once."""
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, fedledger.threads; "
            "print(sorted({'numpy', 'keras', 'tensorflow'} & set(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert completed.stdout.strip() == "[]"
