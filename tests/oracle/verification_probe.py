"""Run by test_verification.py in fresh processes with different thread settings.

Usage: python -m tests.oracle.verification_probe VALIDATION.npz GLOBAL.bin UPDATE.bin [...]
Prints JSON: every update's verdict, the BLAS thread count in effect, and whether Keras or
TensorFlow got imported (they must not be).
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from tests.fixtures.probe import print_report


def main(validation_path: str, global_path: str, *update_paths: str) -> None:
    from fedledger.ml import decode, load_dataset
    from oracle.verification import Verifier

    validation = load_dataset(Path(validation_path))
    global_model = decode(Path(global_path).read_bytes())
    verifier = Verifier(global_model.architecture, validation)
    verdicts = [
        dataclasses.asdict(verifier.verify(global_model, decode(Path(p).read_bytes())))
        for p in update_paths
    ]
    print_report({"verdicts": verdicts})


if __name__ == "__main__":
    main(*sys.argv[1:])
