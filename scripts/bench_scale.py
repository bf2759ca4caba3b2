"""One round with N participants on a real chain and three real oracle processes.

    .venv/bin/python scripts/bench_scale.py [--json PATH] [--sizes 10,100,300,1000]
        [--network anvil|consortium]

``--network consortium``: instead of anvil, a fresh 3-organisation consortium per N
(``fedledger.consortium``: 3 geth Clique signers with 1-second blocks and 3 Kubo nodes,
its genesis funding the N participants); oracle i runs on organisation i's geth and Kubo
and acts on events 2 blocks deep; participant j uploads to organisation j mod 3's Kubo;
the round closes once all N are submitted (the contribution target counts the updates in
play, accepted or pending: no clock to move).

For each N: a fresh anvil, a deployment with 3 oracles at quorum 2 and N registered
participants, three ``fedledger oracle run`` processes (one BLAS thread each, the local
store), round 1 opened on the seeded genesis MLP. Then N updates are sent from N dev
accounts, signed locally in this process (no participant processes): each is a real
participant's training (one epoch of the participants' SGD, numpy's
:func:`fedledger.ml.reference_training.train_dense`) from the genesis model on 100 images
of its own, drawn from the training images the oracles do not hold, so it is new, distinct
and passes every check of the verifier, the direction against the oracles' own reference
step included (noise would not: it is orthogonal to it). Blobs are uploaded and the
transactions signed before the clock starts; the submissions (one transaction per
participant) go out in a burst, then their receipts are awaited. Then the chain's clock is
moved to the deadline (on a consortium: the target of N updates in play is met) and the
round closed: the oracles vote at close (they judge the round's updates together), so "to
all settled" includes that judgement; they aggregate and finalize it.

Per N it prints and writes: the time from the last submission to all settled and to
finalized; updates settled per second (N over the time from the last submission to all
settled, as issue 12 measures it, and N over the time from the first submission); gas per
accepted update (its submission, the votes in their batches, the settlement with the
reward's credit; and with a claimRewards added, as for a participant who claims every
round: measured for 20 participants after the round); every call's gas (count, min,
median, max, total); each oracle's CPU milliseconds per update
(its CPU time from the first submission to finalized, over N) and peak memory (VmHWM);
each oracle's CPU while it idles in the open round (milliseconds per second, over 10 s
before the submissions); and the load average (the machine may be shared).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from contextlib import ExitStack, suppress
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fedledger.chain import (
    Anvil,
    DeployParams,
    FedLedger,
    RewardRule,
    RoundRules,
    RoundState,
    StoragePolicy,
    compile_contracts,
    deploy,
    dev_accounts,
    open_client,
    save_deployment,
)
from fedledger.chain.anvil import free_port
from fedledger.chain.errors import RoundCloseTooEarly, RoundNotOpen
from fedledger.chain.events import (
    AggregateProposed,
    RoundClosed,
    UpdateRejected,
    UpdateSubmitted,
    VoteCast,
)
from fedledger.config import ProjectConfig, load_config, mnist_directory
from fedledger.consortium.network import Consortium, OrgPorts, network_entry
from fedledger.consortium.oracle import RPC_URL_ENV
from fedledger.crypto import Binding, OracleKeyFile, seal
from fedledger.demo.processes import ProcessGroup, child_environment
from fedledger.demo.workspace import NETWORK, Workspace
from fedledger.ml import (
    MNIST_MLP,
    Dataset,
    ModelWeights,
    encode,
    federated_split,
    initial_weights,
    load_mnist,
)
from fedledger.ml.reference_training import train_dense
from fedledger.ml.training_config import TrainingConfig
from fedledger.storage import content_hash_from_cid, open_store
from oracle.key_files import default_key_file

ORACLES, QUORUM = 3, 2
SAMPLES_PER_UPDATE = 100  # each update's training images, as its submission claims
POLL_SECONDS = 0.25
SETTLE_TIMEOUT_S = 1800.0
SUBMISSION_GAS_LIMIT = 200_000  # submitUpdate uses about 83,000
CLAIMS_MEASURED = 20  # participants that claim their reward after the round
IDLE_SECONDS = 10.0  # the oracles' idle CPU is measured over this long, before submitting
PRIORITY_FEE = 10**9


def trained_updates(genesis: ModelWeights, pool: Dataset, count: int, seed: int) -> list[bytes]:
    """``count`` encoded updates, each trained from ``genesis`` on ``SAMPLES_PER_UPDATE``
    images of ``pool`` drawn for it alone (its own seed)."""
    blobs = []
    for index in range(count):
        rng = np.random.default_rng([seed, index])
        data = pool.subset(rng.choice(len(pool), SAMPLES_PER_UPDATE, replace=False))
        config = TrainingConfig(seed=index)
        blobs.append(encode(train_dense(genesis, data, config)))
    return blobs


def sign_submissions(ledger: FedLedger, participants: list[Any], cids: list[str]) -> list[str]:
    """One signed ``submitUpdate(1, hash, 100)`` per participant (each a fresh dev account,
    nonce 0), ready to send in a burst: the submissions of N participants arrive as fast as
    the chain takes them, not at the pace of one process waiting for each receipt."""
    interface = ledger.coordinator.interface
    latest = ledger.client.rpc("eth_getBlockByNumber", ["latest", False])
    base_fee = int(latest["baseFeePerGas"], 16)
    raw = []
    for account, cid in zip(participants, cids, strict=True):
        transaction = {
            "type": 2,
            "chainId": ledger.client.chain_id,
            "nonce": 0,
            "to": ledger.coordinator.address,
            "value": 0,
            "gas": SUBMISSION_GAS_LIMIT,
            "maxFeePerGas": 4 * base_fee + PRIORITY_FEE,
            "maxPriorityFeePerGas": PRIORITY_FEE,
            "data": interface.encode_call(
                "submitUpdate", (1, content_hash_from_cid(cid), SAMPLES_PER_UPDATE)
            ),
        }
        raw.append("0x" + account.sign_transaction(transaction).raw_transaction.hex())
    return raw


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_for(condition: Any, timeout: float, what: str, processes: ProcessGroup) -> float:
    """Poll ``condition()`` until true; returns the time.monotonic() it became true."""
    give_up = time.monotonic() + timeout
    while True:
        if condition():
            return time.monotonic()
        for child in processes.exited("oracle"):
            raise SystemExit(f"{child.name} exited ({child.returncode}):\n{child.log_tail()}")
        if time.monotonic() > give_up:
            raise SystemExit(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def call_gas(ledger: FedLedger, round_: int) -> dict[str, list[int]]:
    """Gas of every transaction of the round, by the function it called; a vote (or a
    batch) that settles (its transaction carries UpdateAccepted/UpdateRejected) and the
    proposal that finalizes are told apart from the others."""
    start = ledger.deployment.block_number
    tx_hashes: set[str] = set()
    for event_type in (UpdateSubmitted, VoteCast, RoundClosed, AggregateProposed):
        tx_hashes.update(e.tx_hash for e in ledger.events(event_type, start, round=round_))
    selectors = {
        spec.selector: name for name, spec in ledger.coordinator.interface.functions.items()
    }
    gas: dict[str, list[int]] = {}
    for tx_hash in tx_hashes:
        receipt = ledger.client.wait_for_receipt(tx_hash)
        sent = ledger.client.rpc("eth_getTransactionByHash", [tx_hash])
        name = selectors.get(bytes.fromhex(sent["input"][2:10]), "other")
        events = {type(e).__name__ for e in ledger.client.decode_logs(receipt["logs"])}
        if name in ("vote", "voteBatch") and events & {"UpdateAccepted", "UpdateRejected"}:
            name += "_settling"
        if name == "proposeAggregate" and "RoundFinalized" in events:
            name = "proposeAggregate_finalizing"
        gas.setdefault(name, []).append(int(receipt["gasUsed"], 16))
    return gas


def claim_gas(ledger: FedLedger, participants: list[Any], count: int) -> list[int]:
    """Gas of claimRewards for the first ``count`` participants (each mints its credited
    reward; a first mint to a fresh balance, as for every participant of this run)."""
    used = []
    for account in participants[:count]:
        used.append(ledger.with_account(account).coordinator.claim_rewards().gas_used)
    return used


def start_chain(
    n: int, base: ProjectConfig, network: str, workspace: Workspace, stack: ExitStack
) -> tuple[dict[str, Any], list[tuple[str | None, str | None]]]:
    """A fresh anvil or consortium funding 1 + ORACLES + n dev accounts: the run's network
    entry, and per oracle its (geth RPC, Kubo API), (None, None) on anvil."""
    accounts = 1 + ORACLES + n
    settings = base.network(network)
    if not settings.embedded:
        settings = replace(settings, accounts=max(settings.accounts, accounts))
        group = Consortium.create(
            base,
            settings,
            workspace.root / "nodes",
            orgs=ORACLES,
            ports=[OrgPorts.free() for _ in range(ORACLES)],
        )
        stack.enter_context(group)  # started now, stopped by PID at the end
        nodes: list[tuple[str | None, str | None]] = [
            (org.geth.rpc_url, org.kubo.api_url) for org in group.orgs
        ]
        return network_entry(settings, group.orgs[0].geth.rpc_url), nodes
    anvil = Anvil.from_config(
        base,
        settings.name,
        port=free_port(),
        accounts=accounts,
        log_path=workspace.log_path("anvil"),
    )
    anvil.start(timeout=300)  # hundreds of accounts take a while on a loaded machine
    stack.callback(anvil.stop)
    entry = {
        "host": f"http://{anvil.host}",
        "port": anvil.port,
        "chain_id": anvil.chain_id,
        "embedded": True,
        "accounts": anvil.accounts,
    }
    return entry, [(None, None)] * ORACLES


def run_size(
    n: int, base: ProjectConfig, out: Path, console: Console, network_name: str
) -> dict[str, Any]:
    with ExitStack() as stack:
        workspace = Workspace.prepare(out / f"n{n}")
        console.print(f"N = {n}: starting {network_name} ...")
        network, nodes_of = start_chain(n, base, network_name, workspace, stack)
        consortium = nodes_of[0][1] is not None
        kind = "ipfs" if consortium else "local"
        project = workspace.write_project(base, network, store=kind, ipfs_api=nodes_of[0][1])
        # Participant j uploads to organisation j mod 3's Kubo (one local store on anvil).
        stores = [
            stack.enter_context(open_store(project, kind=kind, ipfs_api=api))
            for _, api in (nodes_of if consortium else nodes_of[:1])
        ]
        accounts = dev_accounts(1 + ORACLES + n)
        admin, oracles, participants = accounts[0], accounts[1 : 1 + ORACLES], accounts[4:]

        split = federated_split(  # one client: every training image the oracles do not hold
            load_mnist(mnist_directory(base.root)),
            num_clients=1,
            num_oracles=ORACLES,
            validation_size=2000,
            seed=0,
        )
        validation = [
            workspace.write_dataset(f"oracle-{i + 1}-validation", data)
            for i, data in enumerate(split.validation)
        ]
        genesis = initial_weights(MNIST_MLP.id, 0)
        genesis_cid = stores[0].put(encode(genesis))
        artifacts = compile_contracts(project)
        client = open_client(project, NETWORK, artifacts)
        params = DeployParams(
            storage_policy=StoragePolicy.ACCEPTED_ONLY,
            round_rules=RoundRules(  # a consortium closes at the target: all N submitted
                duration=86_400,
                aggregation_timeout=3_600,
                contribution_target=n if consortium else 0,
            ),
            reward_rule=RewardRule(base=10 * 10**18, per_score_point=10**12),
            rejection_limit=3,
            oracles=tuple(a.address for a in oracles),
            quorum=QUORUM,
            participants=tuple(a.address for a in participants),
        )
        console.print(f"N = {n}: deploying and registering {n} participants ...")
        deployment = deploy(client, admin, artifacts, params, network=NETWORK)
        save_deployment(project, deployment)
        ledger = FedLedger(client, deployment, admin)
        keys = []  # each oracle's encryption key, where `oracle run` looks for it
        for account in oracles:
            key_file = OracleKeyFile.create(default_key_file(project, account.address))
            ledger.with_account(account).coordinator.register_encryption_key(
                key_file.current.public_key
            )
            keys.append(key_file.current.public_key)

        processes = stack.enter_context(ProcessGroup(child_environment(workspace.root)))
        nodes = []
        for index, account in enumerate(oracles):
            name = f"oracle-{index + 1}"
            rpc_url, ipfs_api = nodes_of[index]
            store = ["--store", kind, *(["--ipfs-api", ipfs_api] if ipfs_api else [])]
            arguments = [
                "oracle", "run", "--key", f"dev:{index + 1}",
                "--validation", str(validation[index]),
                "--poll-interval", str(POLL_SECONDS), "--log-format", "json",
                "--network", NETWORK, *store,
            ]  # fmt: skip
            log = workspace.log_path(name)
            env = {RPC_URL_ENV: rpc_url} if rpc_url else None  # its organisation's geth
            nodes.append(processes.start(name, "oracle", account.address, arguments, log, env=env))
        ledger.coordinator.start_training(content_hash_from_cid(genesis_cid))
        wait_for(
            lambda: all("round opened" in c.log_path.read_text(errors="replace") for c in nodes),
            300,
            "the oracles to see round 1",
            processes,
        )

        updates = trained_updates(genesis, split.clients[0], n, seed=n)
        blobs = [  # sealed for the oracles by each participant, as the client does
            bytes(
                seal(
                    blob,
                    Binding(deployment.chain_id, ledger.coordinator.address, 1, account.address),
                    keys,
                )
            )
            for account, blob in zip(participants, updates, strict=True)
        ]
        cids = [stores[j % len(stores)].put(blob) for j, blob in enumerate(blobs)]
        signed = sign_submissions(ledger, participants, cids)
        # The oracles idle in the open round (nothing submitted yet): their CPU then.
        idle_before = [cpu_seconds(c.process.pid) for c in nodes]
        idle_started = time.monotonic()
        time.sleep(IDLE_SECONDS)
        idle_wall = time.monotonic() - idle_started
        idle_cpu = [
            1e3 * (cpu_seconds(c.process.pid) - b) / idle_wall
            for c, b in zip(nodes, idle_before, strict=True)
        ]
        console.print(f"N = {n}: oracles ready; submitting {n} updates ...")
        cpu_before = [cpu_seconds(c.process.pid) for c in nodes]
        first = time.monotonic()
        hashes = [client.rpc("eth_sendRawTransaction", [raw]) for raw in signed]
        receipts = [client.wait_for_receipt(tx) for tx in hashes]
        last = time.monotonic()
        failed = [r for r in receipts if int(r["status"], 16) != 1]
        if failed:
            raise SystemExit(f"{len(failed)} submission(s) reverted")
        coordinator = ledger.coordinator

        def settled() -> bool:
            if coordinator.get_round(1).accepted >= n:
                return True
            rejected = ledger.events(UpdateRejected, deployment.block_number, round=1)
            if rejected:
                raise SystemExit(f"{len(rejected)} update(s) rejected: see {workspace.logs_dir}")
            return False

        # The oracles vote at close (they judge the round's updates together): the round
        # is closed as soon as every submission is mined.
        if consortium:
            close_at_target(ledger)
        else:
            info = coordinator.get_round(1)
            now = ledger.client.chain_time()
            ledger.dev.increase_time(max(info.deadline - now, 0) + 1)
            coordinator.close_round()
        all_settled = wait_for(settled, SETTLE_TIMEOUT_S, f"{n} updates to settle", processes)
        finalized = wait_for(
            lambda: coordinator.get_round(1).state == RoundState.FINALIZED,
            SETTLE_TIMEOUT_S,
            "the round to finalize",
            processes,
        )
        cpu = [cpu_seconds(c.process.pid) - b for c, b in zip(nodes, cpu_before, strict=True)]
        peaks = [peak_rss_mib(c.process.pid) for c in nodes]
        gas = call_gas(ledger, 1)
        claims = claim_gas(ledger, participants, min(n, CLAIMS_MEASURED))
        verdicts = len(ledger.events(VoteCast, deployment.block_number, round=1))
    voting = ("submitUpdate", "vote", "vote_settling", "voteBatch", "voteBatch_settling")
    per_update = sum(sum(gas.get(k, [])) for k in voting)
    return {
        "network": network_name,
        "participants": n,
        "last_submission_to_all_settled_s": all_settled - last,
        "last_submission_to_finalized_s": finalized - last,
        "submitting_s": last - first,
        # The measure: N over the time from the last submission to all settled.
        "settled_per_second": n / (all_settled - last),
        "settled_per_second_from_first_submission": n / (all_settled - first),
        # The submission, every vote (batched) and the settlement with the reward's credit.
        "gas_per_accepted_update": per_update / n,
        # The same plus one claimRewards per update: a participant claiming every round.
        "gas_per_accepted_update_with_claim": per_update / n + statistics.median(claims),
        "claim_rewards_gas_median": statistics.median(claims),
        "verdicts": verdicts,
        "vote_transactions": sum(len(gas.get(k, [])) for k in voting[1:]),
        "gas_by_call": {
            name: {
                "count": len(values),
                "min": min(values),
                "median": statistics.median(values),
                "max": max(values),
                "total": sum(values),
            }
            for name, values in sorted(gas.items())
        },
        "oracle_cpu_ms_per_update": [1e3 * c / n for c in cpu],
        "oracle_peak_rss_mib": peaks,
        # CPU milliseconds per second of each oracle idle in the open round.
        "oracle_idle_cpu_ms_per_s": idle_cpu,
        "load_average_1min": os.getloadavg()[0],
    }


def close_at_target(ledger: FedLedger) -> None:
    """Close round 1 once the chain lets it (the target met in the latest block: the pending
    block where it is judged may be a block ahead of it)."""
    give_up = time.monotonic() + 120
    while True:
        try:
            with suppress(RoundNotOpen):
                ledger.coordinator.close_round()
            return
        except RoundCloseTooEarly:
            if time.monotonic() > give_up:
                raise
            time.sleep(POLL_SECONDS)


def print_report(console: Console, results: list[dict[str, Any]], network: str) -> None:
    table = Table(title=f"One round, 3 oracles at quorum 2 ({network})")
    for column in (
        "N",
        "last submission to all settled (s)",
        "to finalized (s)",
        "settled / s",
        "gas per accepted update (with a claim)",
        "verdicts / vote txs",
        "oracle CPU per update (ms)",
        "oracle peak memory (MiB)",
        "oracle idle CPU (ms/s)",
        "load",
    ):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(
            str(r["participants"]),
            f"{r['last_submission_to_all_settled_s']:.1f}",
            f"{r['last_submission_to_finalized_s']:.1f}",
            f"{r['settled_per_second']:.1f}",
            f"{r['gas_per_accepted_update']:,.0f} ({r['gas_per_accepted_update_with_claim']:,.0f})",
            f"{r['verdicts']} / {r['vote_transactions']}",
            " / ".join(f"{c:.0f}" for c in r["oracle_cpu_ms_per_update"]),
            " / ".join(f"{m:.0f}" for m in r["oracle_peak_rss_mib"]),
            " / ".join(f"{c:.1f}" for c in r["oracle_idle_cpu_ms_per_s"]),
            f"{r['load_average_1min']:.1f}",
        )
    console.print(table)
    calls = Table(title="Gas by call (median; count in the round)")
    calls.add_column("call")
    for r in results:
        calls.add_column(f"N = {r['participants']}", justify="right")
    names = sorted({name for r in results for name in r["gas_by_call"]})
    for name in names:
        cells = []
        for r in results:
            entry = r["gas_by_call"].get(name)
            cells.append(f"{entry['median']:,.0f} ({entry['count']})" if entry else "-")
        calls.add_row(name, *cells)
    console.print(calls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results here")
    parser.add_argument(
        "--sizes", default="10,100,300,1000", help="comma-separated participant counts"
    )
    parser.add_argument(
        "--network",
        default="anvil",
        help="anvil (the embedded chain), or consortium: 3 geth + 3 Kubo per N",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(".fedledger/bench-scale"),
        help="run directory (replaced on every run)",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    console = Console()
    base = load_config()
    results = []
    for n in sizes:
        results.append(run_size(n, base, args.out.resolve(), console, args.network))
        print_report(console, results, args.network)
        if args.json:  # after every size, so a long run keeps what it measured
            report = {
                "benchmark": "scale",
                "network": args.network,
                "command": " ".join(["scripts/bench_scale.py", *sys.argv[1:]]),
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
                "oracles": ORACLES,
                "quorum": QUORUM,
                "results": results,
            }
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(report, indent=2) + "\n")
    if args.json:
        console.print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
