"""Sealing cost: encrypt and decrypt one MLP update (407 KB) for the round's oracles.

    .venv/bin/python scripts/bench_sealing.py [--json PATH] [--repeat N] [--oracles N]

Seals the encoded weights of the MNIST MLP (784-128-10, 101,770 float32 parameters) for
--oracles X25519 keys (fedledger.crypto: one ephemeral key, one wrap per oracle, AES-256-GCM
over the blob) and opens it as one oracle would. Reports the median per operation as CPU time
of this thread (what one core spends, whatever else the machine runs) and as wall time.
Target (issue 10): seal and open <= 2 ms each on one core. No daemon or chain is needed,
which is why this is a script of its own rather than a part of bench_storage.py.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cryptography

from fedledger.crypto import Binding, generate_key_pair, open_envelope, seal
from fedledger.ml import encode
from fedledger.ml.weights import initial_weights

MLP = "mnist-mlp-784-128-10/v1"
TARGET_MS = 2.0


def measure(action: Callable[[], object], repeat: int) -> dict[str, float]:
    cpu, wall = [], []
    for _ in range(repeat):
        started_cpu, started_wall = time.thread_time(), time.perf_counter()
        action()
        cpu.append(time.thread_time() - started_cpu)
        wall.append(time.perf_counter() - started_wall)
    return {"cpu_ms": statistics.median(cpu) * 1000, "wall_ms": statistics.median(wall) * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results here")
    parser.add_argument("--repeat", type=int, default=200, help="runs per operation (median)")
    parser.add_argument("--oracles", type=int, default=5, help="recipients of the envelope")
    args = parser.parse_args()

    blob = encode(initial_weights(MLP, 0))
    keys = [generate_key_pair() for _ in range(args.oracles)]
    binding = Binding(31337, "0x" + "c0" * 20, 1, "0x" + "a1" * 20)
    sealed = seal(blob, binding, [pair.public_key for pair in keys])
    if open_envelope(sealed, binding, [keys[-1].private_key]) != blob:
        raise SystemExit("opening the envelope did not give the plaintext back")
    results = {
        "seal": measure(
            lambda: seal(blob, binding, [pair.public_key for pair in keys]), args.repeat
        ),
        "open": measure(
            lambda: open_envelope(sealed, binding, [keys[-1].private_key]), args.repeat
        ),
    }
    for name, figures in results.items():
        verdict = "met" if figures["cpu_ms"] <= TARGET_MS else "MISSED"
        print(
            f"{name:5} {len(blob):,} bytes for {args.oracles} oracles: "
            f"{figures['cpu_ms']:.3f} ms CPU, {figures['wall_ms']:.3f} ms wall "
            f"(target <= {TARGET_MS:g} ms: {verdict})"
        )
    print(f"envelope overhead: {len(sealed) - len(blob)} bytes")
    if args.json:
        report = {
            "benchmark": "sealing",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "cryptography": cryptography.__version__,
                "load_average": os.getloadavg(),
            },
            "repeat": args.repeat,
            "oracles": args.oracles,
            "plaintext_bytes": len(blob),
            "envelope_overhead_bytes": len(sealed) - len(blob),
            "results": results,
            "target_ms": TARGET_MS,
            "target_met": all(figures["cpu_ms"] <= TARGET_MS for figures in results.values()),
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
