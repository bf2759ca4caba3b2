"""The step spool gives back every coarse step exactly as it was put, in the narrow or the
wide form, and forgets what it is told to."""

from __future__ import annotations

import os

import numpy as np
import pytest

from oracle.spool import StepSpool


def test_steps_come_back_exactly_narrow_or_wide() -> None:
    rng = np.random.default_rng(1)
    narrow = rng.integers(-(2**15), 2**15, size=1000).astype(np.int32)
    wide = narrow.copy()
    wide[17] = 2**15  # one coordinate beyond int16: stored as int32
    spool = StepSpool()
    spool.put("0xA", narrow)
    spool.put("0xB", wide)
    spool.put("0xC", np.zeros(0, dtype=np.int32))
    assert spool.bytes_written == 2 * narrow.size + 4 * wide.size
    for participant, step in (("0xA", narrow), ("0xB", wide)):
        again = spool.get(participant)
        assert again.dtype == np.int32 and np.array_equal(again, step)
    assert spool.get("0xC").size == 0
    spool.put("0xA", wide)  # put again (a reorganisation): the later step wins
    assert np.array_equal(spool.get("0xA"), wide)
    spool.discard("0xB")
    assert "0xB" not in spool and len(spool) == 2
    with pytest.raises(KeyError):
        spool.get("0xB")
    descriptor = spool._file.fileno()
    spool.close()
    with pytest.raises(OSError):
        os.fstat(descriptor)  # the file is gone with it


def test_only_flat_int32_steps_are_taken() -> None:
    spool = StepSpool()
    with pytest.raises(ValueError, match="int32"):
        spool.put("0xA", np.zeros(4, dtype=np.int64))
    with pytest.raises(ValueError, match="int32"):
        spool.put("0xA", np.zeros((2, 2), dtype=np.int32))
    spool.close()
