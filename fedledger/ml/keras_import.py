"""Keras, imported once, with TensorFlow's native start-up lines kept off the terminal.

Importing TensorFlow prints, from its C++ side and on some CPUs only, absl's "All log
messages before absl::InitializeLog() is called are written to STDERR" and oneDNN's
"custom operations are on" lines. ``TF_CPP_MIN_LOG_LEVEL`` (set in :mod:`fedledger.ml`)
does not reach them, since absl logs them before TensorFlow reads it, and they say nothing a
user can act on. So the import runs with file descriptor 2 pointed at a temporary file;
afterwards every captured line that is not such a start-up line (a real error, a Python
traceback) is written back to stderr, so nothing that matters is lost.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

#: Markers of TensorFlow's start-up lines: absl's pre-initialisation notice, the CPU
#: feature guard and oneDNN's notice.
START_UP_NOISE = ("absl::InitializeLog", "cpu_feature_guard", "oneDNN custom operations")


def is_start_up_noise(line: str) -> bool:
    """Whether ``line`` is one of TensorFlow's native start-up lines."""
    return any(marker in line for marker in START_UP_NOISE)


@contextmanager
def start_up_lines_dropped() -> Iterator[None]:
    """Run the block with native stderr captured, then pass on all but the start-up lines."""
    try:
        descriptor = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # stderr replaced (a test runner, a GUI)
        yield
        return
    sys.stderr.flush()
    saved = os.dup(descriptor)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), descriptor)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, descriptor)
            os.close(saved)
            captured.seek(0)
            kept = [
                line
                for line in captured.read().decode(errors="replace").splitlines(keepends=True)
                if not is_start_up_noise(line)
            ]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


with start_up_lines_dropped():
    import keras

__all__ = ["is_start_up_noise", "keras", "start_up_lines_dropped"]
