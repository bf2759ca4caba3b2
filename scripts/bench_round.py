"""A demo round against the pure compute of the same work, side by side in one run.

    .venv/bin/python scripts/bench_round.py [--json PATH] [--rounds R] [--participants N]
        [--idle-seconds S] [--idle-code CHECKOUT ...]

First runs the demo (``fedledger demo``'s defaults unless told otherwise: 3 oracles,
quorum 2, 10 participants of which 3 malicious, IID MNIST, the MLP, the embedded anvil and
store, global models sealed for members) in this process, and at the end of every round
reads its wall time (the round's ``seconds`` in the demo's report) and the CPU time of
every process of the run (this one, anvil, the gateway, the oracles and the participant
hosts: ``/proc/PID/stat`` of every descendant).

Then it does the same work again in this process, one thread, with no chain, store or
other process: for every round, the update of every participant that submitted in it
(the same data, seed, behaviour and round's global model, read back from the chain; one
``LocalTrainer``, built before the first round and kept across rounds, as a participant
process keeps it), each
oracle's verification of every update on its own validation set
(``oracle.verification.Verifier``, prepared with the round's global model as a node is),
and the FedAvg of the updates the chain accepted, encoded. It checks that it trained the
updates the participants submitted, bit for bit (opened with an oracle's key).

Last, with the demo's chain still up and nothing happening on it, a participant waits for
a round that does not open for --idle-seconds in a process of its own, and its CPU time is
reported (``--idle-code`` runs that probe with another checkout's code, e.g. before a
change, to compare).

Targets (issue 12): a round after the first <= 1.3x the pure compute of the same work;
round 1 <= 2x a later round; the whole demo (set-up, rounds, stop) <= 30 s on 2 cores.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fedledger.threads import thread_environment

# The pure compute runs on one thread, like every process of the demo.
os.environ.update(thread_environment(1, {}))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse
import json
import platform
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from fedledger.chain import UpdateStatus
from fedledger.chain.events import UpdateSubmitted
from fedledger.config import load_config
from fedledger.demo import DemoConfig, DemoObserver, RoundRecord
from fedledger.demo.runner import Demo
from fedledger.ml import ModelWeights, encode, fedavg, load_dataset
from fedledger.ml.training_config import TrainingConfig
from fedledger.participant import derive_seed
from fedledger.participant.behaviours import COPIERS, UNTRAINED, UpdateMaker
from fedledger.queries import read_verdicts

LATER_ROUND_RATIO_TARGET = 1.3
FIRST_ROUND_RATIO_TARGET = 2.0
DEMO_SECONDS_TARGET = 30.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _role(pid: int, root: int) -> str:
    """Which part of the run a process is, from its command line."""
    if pid == root:
        return "demo"
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "other"
    text = b" ".join(words)
    for marker, role in (
        (b"anvil", "anvil"),
        (b"oracle run", "oracles"),
        (b"participant host", "participants"),
        (b"participant run", "participants"),
        (b"gateway", "gateway"),
    ):
        if marker in text:
            return role
    return "other"


def process_tree_cpu_seconds(root: int) -> dict[str, float]:
    """CPU seconds (user + system) of ``root`` and every live descendant of it by role
    (the demo, anvil, oracles, participants, gateway), from /proc (a child in a session
    of its own is still a descendant)."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # exited meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        cpu[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    totals: dict[str, float] = {}
    for pid, seconds in cpu.items():
        ancestor = pid
        while ancestor not in (root, 0, 1) and ancestor in parents:
            ancestor = parents[ancestor]
        if ancestor == root:
            role = _role(pid, root)
            totals[role] = totals.get(role, 0.0) + seconds
    return totals


@dataclass
class DemoRound:
    record: RoundRecord
    cpu_by_role: dict[str, float]

    @property
    def cpu_seconds(self) -> float:
        return sum(self.cpu_by_role.values())


@dataclass
class PureRound:
    round: int
    updates: int
    trainings: int
    verifications: int
    aggregated: int
    wall_seconds: float
    cpu_seconds: float
    identical_updates: int


def run_demo(config: DemoConfig) -> tuple[Demo, list[DemoRound], float, Any]:
    """Run the demo; returns it (still open: its chain and store are read afterwards), its
    rounds with their CPU, and the report's total seconds."""
    rounds: list[DemoRound] = []
    mark: dict[str, float] = {}
    console = Console(stderr=True)

    def round_done(record: RoundRecord) -> None:
        now = process_tree_cpu_seconds(os.getpid())
        spent = {role: now[role] - mark.get(role, 0.0) for role in now}
        rounds.append(DemoRound(record, spent))
        mark.clear()
        mark.update(now)
        console.print(
            f"round {record.round}: {record.seconds:.2f} s, {rounds[-1].cpu_seconds:.2f} s CPU"
        )

    began = time.monotonic()
    observer = DemoObserver(
        stage=lambda line: console.print(f"• [{time.monotonic() - began:5.1f} s] {line}"),
        round_done=round_done,
    )
    demo = Demo(config, load_config(), observer=observer)
    demo.__enter__()
    mark.update(process_tree_cpu_seconds(os.getpid()))
    report = demo.run()
    return demo, rounds, report.seconds, report


def pure_compute(demo: Demo) -> list[PureRound]:
    """The demo's rounds again, in this process, without chain, store or other process."""
    from oracle.verification import Verifier

    config = demo.config
    ledger = demo.ledger
    data = demo.workspace.data_dir
    datasets = [load_dataset(path) for path in sorted(data.glob("participant-*.npz"))]
    validations = [load_dataset(path) for path in sorted(data.glob("oracle-*.npz"))]
    addresses = [str(account.address) for account in demo.cast.participants]
    behaviours = config.behaviours()
    # One maker for all, warmed up first, as a participant process has (its updates are
    # each participant's own: the check below compares them with what was submitted).
    maker = UpdateMaker()
    maker.warm_up(config.architecture)
    verifiers = [Verifier(config.architecture, validation) for validation in validations]
    results = []
    for round_ in range(1, config.rounds + 1):
        info = ledger.coordinator.get_round(round_)
        global_model = demo._fetch(info.global_model)
        events = {
            e.participant: e
            for e in ledger.events(UpdateSubmitted, ledger.deployment.block_number, round=round_)
        }
        accepted = {
            v.participant
            for v in read_verdicts(ledger, round_)
            if v.status == UpdateStatus.ACCEPTED
        }
        submitted = [address for address in addresses if address in events]
        started, started_cpu = time.perf_counter(), time.process_time()
        updates: dict[str, ModelWeights] = {}
        for address in submitted:
            index = addresses.index(address)
            behaviour = behaviours[index]
            if behaviour == "copycat":  # a copy of another's blob: nothing trained
                continue
            source = 0 if behaviour in COPIERS else index
            training = TrainingConfig(
                epochs=config.epochs,
                seed=derive_seed(derive_seed(config.seed, source), round_),
            )
            updates[address] = maker.make(behaviour, global_model, datasets[source], training)
        verifications = 0
        for verifier in verifiers:
            verifier.prepare(global_model)
            for update in updates.values():
                verifier.verify(global_model, update)
                verifications += 1
        chosen = [updates[a] for a in submitted if a in accepted and a in updates]
        if chosen:
            encode(fedavg(chosen))
        wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
        identical = sum(
            1
            for address, update in updates.items()
            if encode(demo._open_update(events[address])) == encode(update)
        )
        trained = sum(1 for a in updates if behaviours[addresses.index(a)] not in UNTRAINED)
        results.append(
            PureRound(
                round_, len(updates), trained, verifications, len(chosen), wall, cpu, identical
            )
        )
    return results


#: What the idle probe runs: a participant waiting for a round that does not open.
IDLE_PROBE = """
import resource, sys, time
from fedledger.cli.context import open_participant
from fedledger.participant import ParticipantError
client = open_participant("demo", sys.argv[1], "local", None, poll_interval=0.25)
after = client.latest_model().round
started = time.monotonic()
cpu = resource.getrusage(resource.RUSAGE_SELF)
try:
    client.wait_for_open_round(after, timeout=float(sys.argv[2]))
except ParticipantError:
    pass
used = resource.getrusage(resource.RUSAGE_SELF)
print(used.ru_utime + used.ru_stime - cpu.ru_utime - cpu.ru_stime, time.monotonic() - started)
"""


def measure_idle(demo: Demo, seconds: float, code_root: Path) -> dict[str, float]:
    """CPU seconds per wall second of a participant waiting for a round that does not
    open (the demo's last round is over; nothing happens on the chain), running the code
    of ``code_root`` (this checkout, or another one to compare with)."""
    import subprocess

    from fedledger.demo.processes import child_environment

    env = child_environment(demo.workspace.root) | {"PYTHONPATH": str(code_root)}
    key = demo.cast.keys[demo.cast.participants[0].address]
    completed = subprocess.run(
        [sys.executable, "-c", IDLE_PROBE, key, str(seconds)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=code_root,
    )
    cpu, wall = (float(v) for v in completed.stdout.split())
    return {"cpu_seconds": cpu, "wall_seconds": wall, "cpu_per_second": cpu / wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results here")
    parser.add_argument("--rounds", type=int, default=DemoConfig.rounds)
    parser.add_argument("--participants", type=int, default=DemoConfig.participants)
    parser.add_argument("--seed", type=int, default=DemoConfig.seed)
    parser.add_argument(
        "--idle-seconds", type=float, default=10.0, help="how long the idle probe waits"
    )
    parser.add_argument(
        "--idle-code",
        type=Path,
        action="append",
        default=None,
        help="checkout whose participant code the idle probe runs (repeat to compare; "
        "default: this one)",
    )
    args = parser.parse_args()
    idle_roots = args.idle_code or [Path(__file__).resolve().parents[1]]
    console = Console()
    with tempfile.TemporaryDirectory(prefix="fedledger-bench-round-") as scratch:
        config = DemoConfig(
            rounds=args.rounds,
            participants=args.participants,
            seed=args.seed,
            out=Path(scratch) / "demo",
        )
        load = os.getloadavg()[0]
        demo, demo_rounds, demo_seconds, _ = run_demo(config)
        try:
            console.print("pure compute of the same rounds ...")
            pure_rounds = pure_compute(demo)
            console.print("a participant waiting for a round that does not open ...")
            idle = {str(root): measure_idle(demo, args.idle_seconds, root) for root in idle_roots}
        finally:
            demo.__exit__(None, None, None)
    report = build_report(args, demo_rounds, demo_seconds, pure_rounds, load)
    report["idle_participant"] = idle
    print_report(console, report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        console.print(f"wrote {args.json}")


def build_report(
    args: argparse.Namespace,
    demo_rounds: list[DemoRound],
    demo_seconds: float,
    pure_rounds: list[PureRound],
    load_before: float,
) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for demo_round, pure in zip(demo_rounds, pure_rounds, strict=True):
        record = demo_round.record
        rows.append(
            {
                "round": record.round,
                "demo_seconds": record.seconds,
                "demo_cpu_seconds": demo_round.cpu_seconds,
                "demo_cpu_seconds_by_role": demo_round.cpu_by_role,
                "pure_seconds": pure.wall_seconds,
                "pure_cpu_seconds": pure.cpu_seconds,
                # The pure compute is one thread: its CPU time is its wall time on a core of
                # its own. Other work on a shared machine stretches its wall time, which
                # would flatter the demo, so the ratio that counts is against its CPU time.
                "ratio": record.seconds / pure.cpu_seconds,
                "ratio_to_pure_wall": record.seconds / pure.wall_seconds,
                "cpu_ratio": demo_round.cpu_seconds / pure.cpu_seconds,
                "trainings": pure.trainings,
                "verifications": pure.verifications,
                "aggregated": pure.aggregated,
                "updates_identical_to_submitted": pure.identical_updates,
                "updates": pure.updates,
            }
        )
    later = rows[1:]
    later_ratio = statistics.median(r["ratio"] for r in later) if later else None
    later_seconds = statistics.median(r["demo_seconds"] for r in later) if later else None
    first_ratio = rows[0]["demo_seconds"] / later_seconds if later_seconds else None
    report: dict[str, Any] = {
        "benchmark": "round",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["scripts/bench_round.py", *sys.argv[1:]]),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "load_average_1min_before": load_before,
        "load_average_1min_after": os.getloadavg()[0],
        "config": {"rounds": args.rounds, "participants": args.participants, "seed": args.seed},
        "rounds": rows,
        "demo_seconds": demo_seconds,
        "later_round_seconds_median": later_seconds,
        "later_round_ratio_median": later_ratio,
        "first_round_over_later": first_ratio,
    }
    report["checks"] = {
        f"later round <= {LATER_ROUND_RATIO_TARGET:g}x pure compute": later_ratio is not None
        and later_ratio <= LATER_ROUND_RATIO_TARGET,
        f"round 1 <= {FIRST_ROUND_RATIO_TARGET:g}x a later round": first_ratio is not None
        and first_ratio <= FIRST_ROUND_RATIO_TARGET,
        f"demo <= {DEMO_SECONDS_TARGET:g} s": demo_seconds <= DEMO_SECONDS_TARGET,
        "pure compute trained the submitted updates": all(
            r["updates_identical_to_submitted"] == r["updates"] for r in rows
        ),
    }
    return report


def print_report(console: Console, report: dict[str, Any]) -> None:
    table = Table(title="A demo round against the pure compute of the same work")
    for column in (
        "round", "demo s", "demo CPU s", "pure s", "pure CPU s", "demo s / pure CPU s",
        "CPU ratio",
        "updates (identical)",
    ):  # fmt: skip
        table.add_column(column, justify="right")
    for row in report["rounds"]:
        table.add_row(
            str(row["round"]),
            f"{row['demo_seconds']:.2f}",
            f"{row['demo_cpu_seconds']:.2f}",
            f"{row['pure_seconds']:.2f}",
            f"{row['pure_cpu_seconds']:.2f}",
            f"{row['ratio']:.2f}x",
            f"{row['cpu_ratio']:.2f}x",
            f"{row['updates']} ({row['updates_identical_to_submitted']})",
        )
    console.print(table)
    roles = sorted({role for row in report["rounds"] for role in row["demo_cpu_seconds_by_role"]})
    by_role = Table(title="The demo's CPU seconds per round, by process")
    for column in ("round", *roles):
        by_role.add_column(column, justify="right")
    for row in report["rounds"]:
        spent = row["demo_cpu_seconds_by_role"]
        by_role.add_row(str(row["round"]), *(f"{spent.get(role, 0.0):.2f}" for role in roles))
    console.print(by_role)
    console.print(
        f"demo {report['demo_seconds']:.1f} s in all; later rounds (median) "
        f"{report['later_round_seconds_median']:.2f} s = "
        f"{report['later_round_ratio_median']:.2f}x the pure compute's CPU time; round 1 = "
        f"{report['first_round_over_later']:.2f}x a later round"
    )
    for root, idle in report.get("idle_participant", {}).items():
        console.print(
            f"idle participant ({root}): {idle['cpu_seconds']:.3f} s CPU in "
            f"{idle['wall_seconds']:.1f} s ({1000 * idle['cpu_per_second']:.1f} ms per second)"
        )
    for name, ok in report["checks"].items():
        console.print(f"{name}: {'met' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
