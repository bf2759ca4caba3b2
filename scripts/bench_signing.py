"""Transaction signing: eth-keys' native secp256k1 (coincurve) against its pure-Python backend.

    .venv/bin/python scripts/bench_signing.py [--json PATH] [--count N]

Every transaction FedLedger sends (a vote, a submission, a proposal) is signed locally with
eth-account, which signs through eth-keys; eth-keys uses coincurve (libsecp256k1) when it is
installed and falls back to pure Python otherwise. Each backend is timed in a fresh process
(``ECC_BACKEND_CLASS`` chooses it): --count EIP-1559 transactions shaped like an oracle's
vote, signed one after the other, then the same signatures verified by recovering the
sender. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BACKENDS = {
    "coincurve (default)": None,
    "pure Python": "eth_keys.backends.NativeECCBackend",
}
#: calldata of a vote(round, participant, accept, score, reason): selector + 5 words.
VOTE_DATA = "0x" + "ab" * 4 + "00" * 160


def child(count: int) -> None:
    from eth_account import Account
    from eth_keys import backends

    from fedledger.chain.keys import dev_account

    account = dev_account(0)
    transactions = [
        {
            "type": 2,
            "chainId": 31337,
            "nonce": nonce,
            "to": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
            "value": 0,
            "gas": 200_000,
            "maxFeePerGas": 2_000_000_000,
            "maxPriorityFeePerGas": 1_000_000_000,
            "data": VOTE_DATA,
        }
        for nonce in range(count)
    ]
    account.sign_transaction(transactions[0])  # warm-up
    signing, signing_cpu, signed = [], [], []
    for transaction in transactions:
        started, started_cpu = time.perf_counter(), time.process_time()
        signed.append(account.sign_transaction(transaction))
        signing.append(time.perf_counter() - started)
        signing_cpu.append(time.process_time() - started_cpu)
    recovering = []
    for item in signed:
        started = time.perf_counter()
        sender = Account.recover_transaction(item.raw_transaction)
        recovering.append(time.perf_counter() - started)
        if sender != account.address:
            raise SystemExit("a signature did not recover its sender")
    report = {
        "backend": str(backends.get_backend().__class__.__name__),
        "sign_us": 1e6 * statistics.median(signing),
        "sign_us_min": 1e6 * min(signing),
        # CPU time of the whole batch over the count: a clock tick is 10 ms, too coarse for
        # one signature, and on a shared machine it is steadier than the wall clock.
        "sign_cpu_us": 1e6 * sum(signing_cpu) / count,
        "recover_us": 1e6 * statistics.median(recovering),
        "signatures": count,
    }
    json.dump(report, sys.stdout)


def run_child(backend: str | None, count: int) -> dict[str, Any]:
    environment = {k: v for k, v in os.environ.items() if k != "ECC_BACKEND_CLASS"}
    if backend:
        environment["ECC_BACKEND_CLASS"] = backend
    completed = subprocess.run(
        [sys.executable, __file__, "--child", "--count", str(count)],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(completed.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results here")
    parser.add_argument("--count", type=int, default=300, help="transactions per backend")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.count)
        return
    console = Console()
    results = {name: run_child(backend, args.count) for name, backend in BACKENDS.items()}
    table = Table(title=f"Signing {args.count} vote transactions (median per transaction)")
    for column in (
        "backend",
        "eth-keys class",
        "sign (µs)",
        "sign, CPU time (µs)",
        "recover sender (µs)",
    ):
        table.add_column(column, justify="left" if column.endswith("class") else "right")
    for name, result in results.items():
        table.add_row(
            name,
            result["backend"],
            f"{result['sign_us']:,.0f}",
            f"{result['sign_cpu_us']:,.0f}",
            f"{result['recover_us']:,.0f}",
        )
    console.print(table)
    native, pure = results["coincurve (default)"], results["pure Python"]
    speedup = pure["sign_cpu_us"] / native["sign_cpu_us"]
    console.print(f"signing with coincurve takes {speedup:.0f}x less CPU time")
    if native["backend"] != "CoinCurveECCBackend":
        console.print("coincurve is NOT in use: install the pinned coincurve (make setup)")
    if args.json:
        report = {
            "benchmark": "signing",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
            "load_average_1min": os.getloadavg()[0],
            "results": results,
            "speedup": speedup,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        console.print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
