"""Run by test_round_judgement.py in fresh processes with different thread settings.

Usage: python -m tests.oracle.round_probe VALIDATION.npz PREVIOUS.bin GLOBAL.bin UPDATE.bin...
Prints JSON: the round's verdicts, the sha256 of the bounded aggregate of the accepted
updates, the BLAS thread count in effect, and whether Keras or TensorFlow got imported.
"""

from __future__ import annotations

import dataclasses
import hashlib
import sys
from pathlib import Path

from tests.fixtures.probe import print_report


def main(validation_path: str, previous_path: str, global_path: str, *update_paths: str) -> None:
    from fedledger.ml import decode, encode, load_dataset
    from fedledger.ml.aggregation import bounded_fedavg
    from oracle.verification import Verifier

    validation = load_dataset(Path(validation_path))
    previous = decode(Path(previous_path).read_bytes())
    global_model = decode(Path(global_path).read_bytes())
    verifier = Verifier(global_model.architecture, validation)
    verifier.prepare(previous)
    updates = [decode(Path(p).read_bytes()) for p in update_paths]
    judged = verifier.judge_round(global_model, updates)
    kept = [u for u, v in zip(updates, judged.verdicts, strict=True) if v.accept]
    aggregate = bounded_fedavg(global_model, kept, [1] * len(kept)).model
    print_report(
        {
            "verdicts": [dataclasses.asdict(v) for v in judged.verdicts],
            "aggregate": hashlib.sha256(encode(aggregate)).hexdigest(),
        }
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
