"""The coarse steps of a round's admitted updates, kept on disk until the round's judgement.

An oracle node assesses each update as it arrives (:meth:`oracle.verification.Verifier.assess`)
and the round's judgement at close (:meth:`~oracle.verification.Verifier.judge_assessed`)
asks for every admitted update's coarse step 3 or 4 times. Held in memory they would be
0.4 MB each for the MLP (400 MB at N = 1,000); read again from the store, each read is a
fetch, a content-hash check, an envelope opened and the weights decoded and converted
again. A :class:`StepSpool` writes each step once to an unnamed temporary file (gone
when the node closes it or dies; nothing in it is the node's memory of what was decided:
after a restart the node reads and assesses the round again) and reads it back with
``pread``, which the page cache serves without growing the process's resident memory.

Steps are stored as int16 when every coordinate fits (each weight moves by less than 0.5,
2**15 steps of the coarse 2**-16: the usual case for an honest update), else as int32: 200 MB for
1,000 MLP updates. The file is made where :mod:`tempfile` makes it (``TMPDIR``, else
``/tmp``); on a tmpfs that is memory, so a node there should set ``TMPDIR`` to a disk.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class _Where:
    offset: int
    size: int  # coordinates
    dtype: np.dtype


class StepSpool:
    """Coarse steps by participant, written once, read back as int32 (as they were put)."""

    def __init__(self) -> None:
        # Open for the round, closed by close(): no with block spans that.
        self._file = tempfile.TemporaryFile(prefix="fedledger-steps-")  # noqa: SIM115
        self._where: dict[str, _Where] = {}
        self._end = 0

    def __contains__(self, participant: object) -> bool:
        return participant in self._where

    def __len__(self) -> int:
        return len(self._where)

    @property
    def bytes_written(self) -> int:
        return self._end

    def put(self, participant: str, step: np.ndarray) -> None:
        """Keep ``step`` (an int32 vector) for ``participant``, replacing an earlier one."""
        if step.dtype != np.int32 or step.ndim != 1:
            raise ValueError(f"a coarse step is a flat int32 vector, not {step.dtype} {step.shape}")
        narrow = np.iinfo(np.int16)
        fits = not step.size or (narrow.min <= int(step.min()) and int(step.max()) <= narrow.max)
        stored = step.astype(np.int16) if fits else step
        data = stored.tobytes()
        written = os.pwrite(self._file.fileno(), data, self._end)
        if written != len(data):
            raise OSError(f"short write to the step spool: {written} of {len(data)} bytes")
        self._where[participant] = _Where(self._end, step.size, stored.dtype)
        self._end += len(data)

    def get(self, participant: str) -> np.ndarray:
        """The step put for ``participant``, as int32 (KeyError if none was)."""
        where = self._where[participant]
        length = where.size * where.dtype.itemsize
        data = os.pread(self._file.fileno(), length, where.offset)
        if len(data) != length:
            raise OSError(f"short read from the step spool: {len(data)} of {length} bytes")
        return np.frombuffer(data, dtype=where.dtype).astype(np.int32)

    def discard(self, participant: str) -> None:
        self._where.pop(participant, None)

    def close(self) -> None:
        """Free the file (its space goes back to the disk)."""
        self._where.clear()
        self._file.close()
