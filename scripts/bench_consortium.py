"""The demo's rounds on a 3-organisation consortium against the same rounds on anvil.

    .venv/bin/python scripts/bench_consortium.py [--json PATH] [--rounds 2] [--participants 4]

Starts its own consortium (3 geth v1.13 Clique signers with 1-second blocks and 3 Kubo
nodes, on free loopback ports, from `make tools`) and runs the demo on it (each oracle and
participant on one organisation's geth and Kubo, 2 confirmations), then the same demo
configuration on a fresh anvil (automine, 0 confirmations). Per round: wall time, blocks,
gas, and the transactions of the round per second of it. Then two measurements on the
consortium alone:

- throughput: N participants send ``submitUpdate`` at once (threads, spread over the three
  organisations' nodes); transactions per second from the first send to the last receipt
  (the same on anvil for comparison);
- blob propagation: a model-sized blob put at organisation 1's Kubo, then fetched (and
  verified against its CID) by the other organisations' Kubo nodes at once; seconds until
  the last has it, which is what an oracle waits for before it can verify an update.

Prints a table and writes the JSON if asked.
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fedledger.chain import (
    Anvil,
    ChainClient,
    DeployParams,
    FedLedger,
    RoundRules,
    abi_registry,
    compile_contracts,
    connect_web3,
    deploy,
    dev_accounts,
)
from fedledger.chain.anvil import free_port
from fedledger.chain.events import RoundFinalized, RoundOpened
from fedledger.chain.keys import dev_account
from fedledger.cli.demo import CONSORTIUM_GRACE_SECONDS
from fedledger.config import NetworkSettings, ProjectConfig, load_config
from fedledger.consortium.network import Consortium, OrgPorts
from fedledger.demo import DemoConfig
from fedledger.demo.runner import Demo
from fedledger.storage import IpfsStore

ORGS = 3
#: The consortium rounds' deadline. A round closes as soon as every participant has
#: submitted (the demo's contribution target on a real chain: the honest participants'
#: updates in play), so a long deadline costs nothing; a short one
#: skips round 1 when the participants' start (TensorFlow, training) outlasts it on a
#: loaded machine (seen: 120 s, the demo's default against a real chain, was too short).
CONSORTIUM_ROUND_SECONDS = 900
BLOB_BYTES = 407_145  # one MNIST MLP update
BLOB_REPEATS = 5


def demo_rounds(config: DemoConfig, base: ProjectConfig, label: str) -> list[dict[str, Any]]:
    """Run the demo; per round its wall time, blocks, gas and transactions per second."""
    admin = dev_account(0)
    rounds = []
    with Demo(config, base, admin=None if config.embedded else admin) as demo:
        report = demo.run()
        ledger = demo.ledger
        start = ledger.deployment.block_number
        opened = {e.round: e.block_number for e in ledger.events(RoundOpened, start)}
        ended = {e.round: e.block_number for e in ledger.events(RoundFinalized, start)}
        for record in report.rounds:
            blocks = ended.get(record.round, opened.get(record.round + 1, 0)) - opened.get(
                record.round, 0
            )
            transactions = _round_transactions(ledger, record.round)
            rounds.append(
                {
                    "network": label,
                    "round": record.round,
                    "seconds": round(record.seconds, 2),
                    "blocks": blocks,
                    "gas": record.gas_used,
                    "transactions": transactions,
                    "tx_per_second": round(transactions / record.seconds, 2),
                    "accepted": record.accepted,
                    "rejected": record.rejected,
                    "test_accuracy": record.test_accuracy,
                }
            )
    return rounds


def _round_transactions(ledger: FedLedger, round_: int) -> int:
    from fedledger.chain.events import (
        AggregateProposed,
        RoundClosed,
        UpdateSubmitted,
        VoteCast,
    )

    start = ledger.deployment.block_number
    hashes = set()
    for event_type in (UpdateSubmitted, VoteCast, RoundClosed, AggregateProposed):
        hashes |= {event.tx_hash for event in ledger.events(event_type, start, round=round_)}
    return len(hashes)


def throughput(base: ProjectConfig, network: NetworkSettings, urls: list[str], count: int) -> dict:
    """``count`` participants submit at once, spread over ``urls``; tx/s to the last receipt."""
    artifacts = compile_contracts(base, network.name)
    registry = abi_registry(artifacts)
    clients = [
        ChainClient(connect_web3(replace(network, rpc_url=url)), registry, receipt_timeout=600)
        for url in urls
    ]
    if network.has_dev_accounts and 4 + count > network.accounts:
        raise SystemExit(
            f"--throughput {count}: the genesis funds {network.accounts} dev accounts "
            f"(networks.{network.name}.accounts), so at most {network.accounts - 4} senders"
        )
    accounts = dev_accounts(4 + count)
    admin, oracles, participants = accounts[0], accounts[1:4], accounts[4:]
    params = DeployParams(
        round_rules=RoundRules(3_600, 1_800, 0),
        oracles=tuple(a.address for a in oracles),
        quorum=2,
        participants=tuple(a.address for a in participants),
        genesis_model=os.urandom(32),
    )
    deployment = deploy(clients[0], admin, artifacts, params, network=network.name)
    ledgers = [
        FedLedger(clients[index % len(clients)], deployment, account)
        for index, account in enumerate(participants)
    ]
    first_block = clients[0].block_number()

    def submit(ledger: FedLedger) -> int:
        return ledger.coordinator.submit_update(1, os.urandom(32), 600).block_number

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=min(count, 24)) as pool:
        blocks = list(pool.map(submit, ledgers))
    seconds = time.perf_counter() - began
    return {
        "transactions": count,
        "seconds": round(seconds, 2),
        "tx_per_second": round(count / seconds, 1),
        "blocks": max(blocks) - first_block,
    }


def blob_propagation(group: Consortium) -> dict:
    """Seconds from a put at organisation 1's Kubo until every other organisation has it."""
    first, *others = group.orgs
    times = []
    for _ in range(BLOB_REPEATS):
        blob = os.urandom(BLOB_BYTES)
        with IpfsStore(first.kubo.api_url, max_blob_bytes=2**24, timeout_seconds=60) as store:
            began = time.perf_counter()
            cid = store.put(blob)
        put_done = time.perf_counter()

        def fetch(api: str, cid: str = cid) -> float:
            with IpfsStore(api, max_blob_bytes=2**24, timeout_seconds=60) as store:
                store.get(cid)  # verified against the CID
            return time.perf_counter()

        with ThreadPoolExecutor(max_workers=len(others)) as pool:
            last = max(pool.map(fetch, [org.kubo.api_url for org in others]))
        times.append({"put": put_done - began, "upload_to_last_oracle": last - began})
    return {
        "blob_bytes": BLOB_BYTES,
        "repeats": BLOB_REPEATS,
        "put_seconds_median": round(statistics.median(t["put"] for t in times), 3),
        "upload_to_last_seconds_median": round(
            statistics.median(t["upload_to_last_oracle"] for t in times), 3
        ),
        "upload_to_last_seconds_max": round(max(t["upload_to_last_oracle"] for t in times), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--participants", type=int, default=4)
    parser.add_argument("--throughput", type=int, default=20, help="submissions sent at once")
    args = parser.parse_args()
    console = Console()
    base = load_config()
    network = base.network("consortium")
    demo_settings = {
        "oracles": ORGS,
        "quorum": 2,
        "participants": args.participants,
        "malicious": 1,
        "rounds": args.rounds,
        "samples_per_participant": 1_000,
        "validation_size": 500,
    }
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["scripts/bench_consortium.py", *sys.argv[1:]]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "network": {
            "orgs": ORGS,
            "block_period_s": network.block_time,
            "confirmations": network.confirmations,
            "round_duration_s": CONSORTIUM_ROUND_SECONDS,
        },
        "demo": demo_settings,
    }
    with tempfile.TemporaryDirectory(prefix="bench-consortium-") as scratch:
        root = Path(scratch)
        console.print(f"starting a {ORGS}-organisation consortium ...")
        group = Consortium.create(
            base, network, root / "nodes", orgs=ORGS, ports=[OrgPorts.free() for _ in range(ORGS)]
        )
        with group:
            organisations = tuple((org.geth.rpc_url, org.kubo.api_url) for org in group.orgs)
            console.print("demo on the consortium ...")
            consortium_config = DemoConfig(
                **demo_settings,
                store="ipfs",
                ipfs_api=organisations[0][1],
                rpc=organisations[0][0],
                consortium=network.name,
                organisations=organisations,
                verification_grace=CONSORTIUM_GRACE_SECONDS,
                round_duration=CONSORTIUM_ROUND_SECONDS,
                out=root / "demo-consortium",
            )
            rounds = demo_rounds(consortium_config, base, "consortium")
            console.print("blob propagation ...")
            results["blob_propagation"] = blob_propagation(group)
            console.print("throughput on the consortium ...")
            urls = [org.geth.rpc_url for org in group.orgs]
            results["throughput"] = {"consortium": throughput(base, network, urls, args.throughput)}
        console.print("demo on anvil ...")
        anvil_config = DemoConfig(
            **demo_settings, verification_grace=CONSORTIUM_GRACE_SECONDS, out=root / "demo-anvil"
        )
        rounds += demo_rounds(anvil_config, base, "anvil")
        anvil_net = base.network("anvil")
        with Anvil.from_config(base, "anvil", port=free_port(), accounts=8 + args.throughput) as a:
            results["throughput"]["anvil"] = throughput(
                base, replace(anvil_net, rpc_url=a.rpc_url), [a.rpc_url], args.throughput
            )
    results["rounds"] = rounds

    table = Table(title="demo rounds: consortium (3 geth, 1 s blocks, 2 confirmations) vs anvil")
    for column in ("network", "round", "seconds", "blocks", "gas", "txs", "tx/s"):
        table.add_column(column, justify="right")
    for row in rounds:
        table.add_row(
            row["network"],
            str(row["round"]),
            f"{row['seconds']:.1f}",
            str(row["blocks"]),
            f"{row['gas']:,}",
            str(row["transactions"]),
            f"{row['tx_per_second']:.2f}",
        )
    console.print(table)
    for row in rounds:
        if row["accepted"] == 0:
            console.print(
                f"[bold red]{row['network']} round {row['round']} accepted no update: its "
                "figures are of a skipped round, not of a demo round[/]"
            )
    console.print(f"throughput: {json.dumps(results['throughput'])}")
    console.print(f"blob propagation: {json.dumps(results['blob_propagation'])}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
        console.print(f"written to {args.json}")


if __name__ == "__main__":
    main()
