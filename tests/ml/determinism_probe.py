"""Run by test_determinism.py in fresh processes with different thread settings.

Usage: python -m tests.ml.determinism_probe VALIDATION.npz BLOB [BLOB ...]
Prints JSON: the exact evaluation of every blob on the validation set, the sha256 of the
encoded FedAvg of the blobs of each architecture (in the order given), the BLAS thread
count in effect, and whether Keras or TensorFlow got imported (they must not be).
"""

from __future__ import annotations

import dataclasses
import hashlib
import sys
from pathlib import Path

from tests.fixtures.probe import print_report


def main(validation_path: str, *blob_paths: str) -> None:
    from fedledger.ml import ExactEvaluator, decode, encode, fedavg, load_dataset

    validation = load_dataset(Path(validation_path))
    updates = [decode(Path(path).read_bytes()) for path in blob_paths]
    evaluators = {u.architecture: ExactEvaluator(validation, u.architecture) for u in updates}
    evaluations = [dataclasses.asdict(evaluators[u.architecture].evaluate(u)) for u in updates]
    aggregates = {
        architecture: hashlib.sha256(
            encode(fedavg([u for u in updates if u.architecture == architecture]))
        ).hexdigest()
        for architecture in sorted(evaluators)
    }
    print_report({"evaluations": evaluations, "aggregates": aggregates})


if __name__ == "__main__":
    main(*sys.argv[1:])
