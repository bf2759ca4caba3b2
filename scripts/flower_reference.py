"""Flower's aggregation functions on inputs written by FedLedger's tests: the reference
peer of :mod:`fedledger.ml.robust`.

    .venv-flower/bin/python scripts/flower_reference.py CASES.npz RESULTS.npz

Flower (``flwr``) cannot share FedLedger's environment (docs/verification.md says which
pins conflict), so it lives in ``.venv-flower`` (``make setup-flower``, pinned by
``scripts/flower-requirements.txt``) and this script runs there: it imports numpy, the
standard library and, in :func:`flower_aggregate` only, ``flwr`` -- never ``fedledger``.
``tests/ml/test_robust_flower.py`` writes the cases with :func:`save_cases`, runs this
script in a subprocess and reads :func:`load_results`; both sides use this module for the
file format, so it is written once.

Each :class:`Case` is one call of a function of ``flwr.server.strategy.aggregate``, with
the client arrays in the dtype the caller chose (Flower computes in that dtype).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

#: The functions of ``flwr.server.strategy.aggregate`` a case may call. ``aggregate`` is
#: FedAvg's ``inplace=False`` path, ``aggregate_inplace`` its default (``inplace=True``).
FUNCTIONS = (
    "aggregate",
    "aggregate_inplace",
    "aggregate_krum",
    "aggregate_median",
    "aggregate_trimmed_avg",
)
#: The distributions whose versions the results report, to catch a stale environment.
REPORTED_DISTRIBUTIONS = ("flwr", "numpy")


@dataclass(frozen=True)
class Case:
    """One call of a Flower aggregation function: ``function(results, ...)`` where
    ``results`` pairs each client's arrays with its ``num_examples``."""

    name: str
    function: str
    clients: tuple[tuple[np.ndarray, ...], ...]
    num_examples: tuple[int, ...]
    num_malicious: int = 0  # aggregate_krum
    to_keep: int = 0  # aggregate_krum: 0 is Krum, k > 0 Multi-Krum of the k best
    proportiontocut: float = 0.0  # aggregate_trimmed_avg, cut from each end

    def __post_init__(self) -> None:
        if self.function not in FUNCTIONS:
            raise ValueError(f"unknown Flower function {self.function!r}; one of {FUNCTIONS}")
        if len(self.clients) != len(self.num_examples):
            raise ValueError(f"case {self.name}: one num_examples per client is needed")


@dataclass(frozen=True)
class Outcome:
    """What Flower returned for one case (``arrays``), or the ``ValueError`` it raised."""

    name: str
    arrays: tuple[np.ndarray, ...] | None
    error: str | None


@dataclass(frozen=True)
class Results:
    outcomes: tuple[Outcome, ...]
    versions: dict[str, str]

    def __getitem__(self, name: str) -> Outcome:
        for outcome in self.outcomes:
            if outcome.name == name:
                return outcome
        raise KeyError(f"no Flower result for case {name!r}")


def _write_npz(path: Path, manifest: object, arrays: dict[str, np.ndarray]) -> None:
    # Any, not ndarray: np.savez also takes allow_pickle=bool by keyword.
    contents: dict[str, Any] = {"manifest": np.array(json.dumps(manifest)), **arrays}
    # Through a file object: np.savez would append ".npz" to a path without it.
    with path.open("wb") as file:
        np.savez(file, **contents)


def save_cases(path: Path, cases: Sequence[Case]) -> None:
    """Write the cases to a .npz; an array that several cases share is stored once."""
    arrays: dict[str, np.ndarray] = {}
    keys: dict[bytes, str] = {}

    def key(array: np.ndarray) -> str:
        content = np.ascontiguousarray(array)
        digest = hashlib.sha256(f"{content.dtype.str}{content.shape}".encode())
        digest.update(content.data)
        name = keys.setdefault(digest.digest(), f"array{len(keys)}")
        arrays[name] = content
        return name

    manifest = [
        {
            "name": case.name,
            "function": case.function,
            "clients": [[key(array) for array in client] for client in case.clients],
            "num_examples": list(case.num_examples),
            "num_malicious": case.num_malicious,
            "to_keep": case.to_keep,
            "proportiontocut": case.proportiontocut,
        }
        for case in cases
    ]
    _write_npz(path, manifest, arrays)


def load_cases(path: Path) -> list[Case]:
    with np.load(path, allow_pickle=False) as data:
        manifest = json.loads(data["manifest"].item())
        stored = {key: data[key] for key in data.files if key != "manifest"}
        return [
            Case(
                name=entry["name"],
                function=entry["function"],
                clients=tuple(tuple(stored[key] for key in client) for client in entry["clients"]),
                num_examples=tuple(entry["num_examples"]),
                num_malicious=entry["num_malicious"],
                to_keep=entry["to_keep"],
                proportiontocut=entry["proportiontocut"],
            )
            for entry in manifest
        ]


def save_results(path: Path, results: Results) -> None:
    manifest = {
        "versions": results.versions,
        "outcomes": [
            {
                "name": outcome.name,
                "error": outcome.error,
                "layers": None if outcome.arrays is None else len(outcome.arrays),
            }
            for outcome in results.outcomes
        ],
    }
    arrays = {
        f"case{i}/layer{layer}": array
        for i, outcome in enumerate(results.outcomes)
        for layer, array in enumerate(outcome.arrays or ())
    }
    _write_npz(path, manifest, arrays)


def load_results(path: Path) -> Results:
    with np.load(path, allow_pickle=False) as data:
        manifest = json.loads(data["manifest"].item())
        outcomes = tuple(
            Outcome(
                name=entry["name"],
                arrays=None
                if entry["layers"] is None
                else tuple(data[f"case{i}/layer{layer}"] for layer in range(entry["layers"])),
                error=entry["error"],
            )
            for i, entry in enumerate(manifest["outcomes"])
        )
    return Results(outcomes=outcomes, versions=manifest["versions"])


def flower_aggregate(case: Case) -> list[np.ndarray]:
    """``case.function`` of ``flwr.server.strategy.aggregate`` on the case's inputs, called
    the way Flower's strategies (FedAvg, Krum, FedMedian, FedTrimmedAvg) call it."""
    from flwr.common import Code, FitRes, Status, ndarrays_to_parameters
    from flwr.server.strategy import aggregate as flower

    results = [
        ([np.array(a) for a in arrays], n)  # copies: aggregate_* may return or alter them
        for arrays, n in zip(case.clients, case.num_examples, strict=True)
    ]
    if case.function == "aggregate":
        return flower.aggregate(results)
    if case.function == "aggregate_inplace":
        # FedAvg's default path takes (ClientProxy, FitRes) pairs; it never uses the proxy.
        fit_results = [
            (None, FitRes(Status(Code.OK, ""), ndarrays_to_parameters(arrays), n, {}))
            for arrays, n in results
        ]
        return flower.aggregate_inplace(fit_results)
    if case.function == "aggregate_krum":
        return flower.aggregate_krum(results, case.num_malicious, case.to_keep)
    if case.function == "aggregate_median":
        return flower.aggregate_median(results)
    return flower.aggregate_trimmed_avg(results, case.proportiontocut)


def run(cases: Sequence[Case]) -> Results:
    """Every case through Flower; a ``ValueError`` (Flower refusing the input) is recorded,
    anything else propagates."""
    outcomes = []
    for case in cases:
        try:
            arrays = tuple(np.asarray(a) for a in flower_aggregate(case))
        except ValueError as error:
            outcomes.append(Outcome(case.name, None, f"ValueError: {error}"))
        else:
            outcomes.append(Outcome(case.name, arrays, None))
    versions = {name: version(name) for name in REPORTED_DISTRIBUTIONS}
    return Results(outcomes=tuple(outcomes), versions=versions)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", type=Path, help="input .npz written by save_cases")
    parser.add_argument("results", type=Path, help="output .npz, read by load_results")
    args = parser.parse_args(argv)
    save_results(args.results, run(load_cases(args.cases)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
