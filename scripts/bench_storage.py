"""Storage throughput: put/get through both backends, and CID computation alone.

    .venv/bin/python scripts/bench_storage.py [--json PATH] [--repeat N]

Starts its own Kubo daemon (the one the tests use; `make tools` builds it) and an
embedded store in a temporary directory, moves 1, 10 and 50 MB blobs (1 MB = 10^6 bytes)
through each, and prints a table of MB/s (median of --repeat runs, fresh random bytes
each run so that no store can deduplicate). Targets (docs/storage.md): the CID of 50 MB
in under 0.5 s; the embedded store at least 5x the IPFS RPC path for put and get.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from rich.console import Console
from rich.table import Table

# The Kubo launcher lives with the test fixtures (one copy, shared with pytest).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fedledger.storage import BlobStore, CidProfile, IpfsStore, LocalStore, compute_cid
from tests.fixtures.ipfs import KuboDaemon

T = TypeVar("T")
MB = 1_000_000
SIZES_MB = (1, 10, 50)
CAP_BYTES = 64 * 1024 * 1024
TIMEOUT_SECONDS = 120.0
CID_TARGET_SECONDS = 0.5
SPEEDUP_TARGET = 5.0


@dataclass(frozen=True)
class Measurement:
    backend: str  # local | ipfs | cid
    operation: str  # put | get | v0 | v1-raw-leaves
    size_bytes: int
    seconds: list[float]

    @property
    def median_seconds(self) -> float:
        return statistics.median(self.seconds)

    @property
    def mb_per_second(self) -> float:
        return self.size_bytes / MB / self.median_seconds


def timed(action: Callable[..., T], *args: object) -> tuple[float, T]:
    started = time.perf_counter()
    result = action(*args)
    return time.perf_counter() - started, result


def measure_store(name: str, store: BlobStore, repeat: int) -> list[Measurement]:
    results = []
    for size_mb in SIZES_MB:
        put_times, get_times = [], []
        for _ in range(repeat):
            data = os.urandom(size_mb * MB)
            seconds, cid = timed(store.put, data)
            put_times.append(seconds)
            seconds, fetched = timed(store.get, cid)
            get_times.append(seconds)
            if fetched != data:
                raise SystemExit(f"{name}: get returned different bytes for {cid}")
        results.append(Measurement(name, "put", size_mb * MB, put_times))
        results.append(Measurement(name, "get", size_mb * MB, get_times))
    return results


def measure_cid(repeat: int) -> list[Measurement]:
    results = []
    for size_mb in SIZES_MB:
        data = os.urandom(size_mb * MB)
        for profile in CidProfile:
            times = [timed(compute_cid, data, profile)[0] for _ in range(repeat)]
            results.append(Measurement("cid", profile.value, size_mb * MB, times))
    return results


def summarize(results: list[Measurement]) -> dict[str, object]:
    def median(backend: str, operation: str, size_mb: int) -> float:
        (match,) = (
            m
            for m in results
            if (m.backend, m.operation, m.size_bytes) == (backend, operation, size_mb * MB)
        )
        return match.median_seconds

    speedups = {
        operation: {
            size_mb: median("ipfs", operation, size_mb) / median("local", operation, size_mb)
            for size_mb in SIZES_MB
        }
        for operation in ("put", "get")
    }
    cid_50 = median("cid", CidProfile.V0.value, 50)
    worst_speedup = min(min(by_size.values()) for by_size in speedups.values())
    return {
        "cid_50mb_seconds": cid_50,
        "cid_50mb_target_met": cid_50 < CID_TARGET_SECONDS,
        "local_over_ipfs_speedup": speedups,
        "local_over_ipfs_speedup_min": worst_speedup,
        "speedup_target_met": worst_speedup >= SPEEDUP_TARGET,
    }


def print_report(console: Console, results: list[Measurement], summary: dict[str, object]) -> None:
    table = Table(title="Storage throughput (median)")
    table.add_column("backend")
    table.add_column("operation")
    table.add_column("size", justify="right")
    table.add_column("median s", justify="right")
    table.add_column("MB/s", justify="right")
    for m in results:
        table.add_row(
            m.backend,
            m.operation,
            f"{m.size_bytes // MB} MB",
            f"{m.median_seconds:.4f}",
            f"{m.mb_per_second:,.0f}",
        )
    console.print(table)
    cid_ok = "met" if summary["cid_50mb_target_met"] else "MISSED"
    speed_ok = "met" if summary["speedup_target_met"] else "MISSED"
    console.print(
        f"CID of 50 MB (CIDv0): {summary['cid_50mb_seconds']:.3f} s "
        f"(target < {CID_TARGET_SECONDS} s: {cid_ok})"
    )
    speedups = summary["local_over_ipfs_speedup"]
    assert isinstance(speedups, dict)
    for operation, by_size in speedups.items():
        ratios = ", ".join(f"{size} MB {ratio:.1f}x" for size, ratio in by_size.items())
        console.print(f"local / IPFS {operation}: {ratios}")
    console.print(
        f"slowest local / IPFS ratio: {summary['local_over_ipfs_speedup_min']:.1f}x "
        f"(target >= {SPEEDUP_TARGET:g}x: {speed_ok})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results here")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    args = parser.parse_args()
    console = Console()

    with tempfile.TemporaryDirectory(prefix="fedledger-bench-storage-") as scratch:
        scratch_dir = Path(scratch)
        console.print("starting Kubo ...")
        with KuboDaemon.start(scratch_dir / "ipfs-repo") as daemon:
            local = LocalStore(scratch_dir / "blobs", max_blob_bytes=CAP_BYTES)
            with IpfsStore(
                daemon.api_url, max_blob_bytes=CAP_BYTES, timeout_seconds=TIMEOUT_SECONDS
            ) as ipfs:
                ipfs_version = ipfs.version()
                results = measure_cid(args.repeat)
                results += measure_store("local", local, args.repeat)
                results += measure_store("ipfs", ipfs, args.repeat)

    summary = summarize(results)
    print_report(console, results, summary)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        report = {
            "benchmark": "storage",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "ipfs_daemon": f"Kubo {ipfs_version}",
            },
            "repeat": args.repeat,
            "mb": MB,
            "results": [
                {**asdict(m), "median_seconds": m.median_seconds, "mb_per_second": m.mb_per_second}
                for m in results
            ],
            "summary": summary,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        console.print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
