"""Gas of every call in the round workflow, per storage policy, quorum and round size.

    .venv/bin/python scripts/bench_gas.py [--json PATH]

Starts its own anvil (with the compiler's hardfork), and for each storage policy
(AcceptedOnly, AuditAll), each k-of-n (1/1, 2/3, 3/5, 5/7) and each round size (10 and
100 participants) deploys a fresh set and plays one full round: every participant
submits, k oracles vote on every update (all accepted but the last, which k oracles
reject), the round closes after its deadline, k oracles propose the same aggregate.
Then the liveness paths (an empty round skipped at close, a round whose oracles stay
silent skipped after the aggregation timeout), and a sponsor's deposit, a participant's
redemption, withdrawal and access purchase. The deployment's own gas is reported too.

Once, on k = 2 of 3 under AuditAll (the "extras"): the calls issue 10 added. settle (an
update expired after the verification grace, a banned participant's update rejected, one
accepted after a quorum change), the enrolment stake (a staked submission, the settling
accept that returns it, the settling reject that forfeits it to the vault, withdrawStake),
an oracle's encryption key registration and rotation, and a timelocked admin call
(schedule, execute) on a deployment whose admin is an AdminTimelock.

The batched settlement path (issue 12), on k = 2 of 3 under AcceptedOnly for 10, 100 and
1000 participants: every participant submits, each of the k oracles casts its verdicts in
voteBatch transactions of up to BATCH verdicts, all accepted (the reward credited), then
participants claim their rewards (claimRewards, a first mint to a fresh balance). Gas per
accepted update, everything included: its submission plus the round's voteBatch gas over
the updates; and that plus one claim, for a participant who claims every round.

Each figure is the receipt's gasUsed; for calls made many times in a round (submissions,
votes) it is the largest one seen, so the targets are checked against the worst case.
Gas does not depend on timing: two runs give the same numbers.

Targets (issue 12): gas per accepted update, everything included, <= 120,000 at k = 2,
the same within 5% for 10 and 1000 participants.
Targets (issue 2): submitUpdate <= 90,000; vote <= 60,000; vote_settling <= 130,000;
closeRound <= 60,000; proposeAggregate_finalizing <= 150,000, and the same within 5% for
10 and 100 participants. Prints a table and the checks, and writes the JSON if asked:
``{"configurations": {"<name>": {"<call>": gas, ...}, ...}, "targets": ..., "checks": ...}``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fedledger.chain import (
    Anvil,
    ArtifactSet,
    ChainClient,
    DeployParams,
    DevControls,
    FedLedger,
    ReasonCode,
    RewardRule,
    RoundRules,
    StoragePolicy,
    TxResult,
    Verdict,
    abi_registry,
    compile_contracts,
    connect_web3,
    deploy,
    dev_accounts,
)
from fedledger.chain.anvil import free_port
from fedledger.chain.compiler import npm_package_version
from fedledger.chain.timelock import Operation, TimelockParams
from fedledger.config import NetworkSettings, load_config

QUORUMS = ((1, 1), (2, 3), (3, 5), (5, 7))  # (k, n)
ROUND_SIZES = (10, 100)
ROUND_RULES = RoundRules(
    duration=3_600, aggregation_timeout=600, contribution_target=0, verification_grace=300
)
STAKE = 10**16
TIMELOCK_DELAY = 3_600
REWARD_RULE = RewardRule(base=10 * 10**18, per_score_point=10**15)
TARGETS = {
    "submitUpdate": 90_000,
    "vote": 60_000,
    "vote_settling": 130_000,
    "closeRound": 60_000,
    "proposeAggregate_finalizing": 150_000,
}
SAME_ACROSS_SIZES = ("proposeAggregate_finalizing", 0.05)
#: The batched path: sizes, verdicts per voteBatch, target per accepted update, spread.
BATCHED_SIZES = (10, 100, 1000)
BATCH = 100
PER_UPDATE_TARGET = 120_000
CLAIMS = 10
#: Columns of the printed table, in workflow order.
COLUMNS = (
    "submitUpdate", "vote", "vote_settling", "vote_settling_reject", "closeRound",
    "proposeAggregate", "proposeAggregate_finalizing", "closeRound_empty", "skipStalledRound",
    "claimRewards", "deposit", "redeem", "withdraw", "purchaseAccess",
)  # fmt: skip


@dataclass(frozen=True)
class Configuration:
    policy: StoragePolicy
    quorum: int
    oracles: int
    participants: int

    @property
    def name(self) -> str:
        policy = "AcceptedOnly" if self.policy is StoragePolicy.ACCEPTED_ONLY else "AuditAll"
        return f"{policy} k={self.quorum}/n={self.oracles} participants={self.participants}"


def configurations() -> Iterator[Configuration]:
    for policy in (StoragePolicy.ACCEPTED_ONLY, StoragePolicy.AUDIT_ALL):
        for quorum, oracles in QUORUMS:
            for participants in ROUND_SIZES:
                yield Configuration(policy, quorum, oracles, participants)


class GasLog:
    """Largest gasUsed per call name."""

    def __init__(self) -> None:
        self.gas: dict[str, int | None] = {}

    def record(self, call: str, result: TxResult) -> TxResult:
        self.gas[call] = max(self.gas.get(call) or 0, result.gas_used)
        return result

    def absent(self, call: str) -> None:
        """A call this configuration cannot make (no non-settling vote when k = 1)."""
        self.gas.setdefault(call, None)


def play_round(
    client: ChainClient, artifacts: ArtifactSet, config: Configuration
) -> dict[str, int | None]:
    accounts = dev_accounts(1 + config.oracles + config.participants + 1)
    admin, sponsor = accounts[0], accounts[-1]
    oracle_accounts = accounts[1 : 1 + config.oracles]
    participant_accounts = accounts[1 + config.oracles : -1]
    log = GasLog()

    params = DeployParams(
        storage_policy=config.policy,
        round_rules=ROUND_RULES,
        reward_rule=REWARD_RULE,
        oracles=tuple(account.address for account in oracle_accounts),
        quorum=config.quorum,
        participants=tuple(account.address for account in participant_accounts),
        genesis_model=hashlib.sha256(b"genesis").digest(),
    )
    deployment = deploy(client, admin, artifacts, params)
    # anvil mines one transaction per block: the deployment's block gas is its own.
    block = client.rpc("eth_getBlockByNumber", [hex(deployment.block_number), False])
    log.gas["deploy_coordinator_and_token"] = int(block["gasUsed"], 16)
    ledger = FedLedger(client, deployment, admin)
    dev = ledger.dev
    oracles = [ledger.with_account(account) for account in oracle_accounts]
    participants = [ledger.with_account(account) for account in participant_accounts]

    for index, participant in enumerate(participants):
        # Real content hashes (sha2-256 digests): calldata costs more for non-zero bytes.
        digest = hashlib.sha256(f"update-{index}".encode()).digest()
        log.record("submitUpdate", participant.coordinator.submit_update(1, digest, 600))
    for index, participant in enumerate(participants):
        reject = index == len(participants) - 1
        for position, oracle in enumerate(oracles[: config.quorum]):
            settling = position == config.quorum - 1
            if reject:
                result = oracle.coordinator.vote(
                    1, participant.address, False, 10, ReasonCode.FAILED_VERIFICATION
                )
                log.record("vote_settling_reject" if settling else "vote", result)
            else:
                result = oracle.coordinator.vote(1, participant.address, True, 9_000)
                log.record("vote_settling" if settling else "vote", result)
    if config.quorum == 1:
        log.absent("vote")
        log.absent("proposeAggregate")

    dev.increase_time(ROUND_RULES.duration + 1)
    log.record("closeRound", ledger.coordinator.close_round())
    aggregate = hashlib.sha256(b"aggregate").digest()
    for position, oracle in enumerate(oracles[: config.quorum]):
        finalizing = position == config.quorum - 1
        result = oracle.coordinator.propose_aggregate(1, aggregate)
        log.record("proposeAggregate_finalizing" if finalizing else "proposeAggregate", result)
    assert ledger.coordinator.latest_model().content_hash == aggregate, "the round did not finalize"

    # The liveness paths: round 2 gets no update (skipped at close), round 3's oracles
    # stay silent after the close (skipped after the aggregation timeout).
    dev.increase_time(ROUND_RULES.duration + 1)
    log.record("closeRound_empty", ledger.coordinator.close_round())
    participants[0].coordinator.submit_update(3, hashlib.sha256(b"round 3").digest(), 600)
    for oracle in oracles[: config.quorum]:
        oracle.coordinator.vote(3, participants[0].address, True, 9_000)
    dev.increase_time(ROUND_RULES.duration + 1)
    ledger.coordinator.close_round()
    dev.increase_time(ROUND_RULES.verification_grace + ROUND_RULES.aggregation_timeout + 1)
    log.record("skipStalledRound", ledger.coordinator.skip_stalled_round())

    holder = participants[0]
    log.record("claimRewards", holder.coordinator.claim_rewards())  # rounds 1 and 3
    log.record("deposit", ledger.with_account(sponsor).vault.deposit(10**18))
    balance = holder.token.balance_of(holder.address)
    holder.token.approve(deployment.vault, balance)
    log.record("redeem", holder.vault.redeem(balance // 2))
    log.record("withdraw", holder.vault.withdraw())
    resource = hashlib.sha256(b"supplementary model").digest()
    ledger.vault.set_access_price(resource, balance // 4)
    log.record("purchaseAccess", holder.vault.purchase_access(resource))
    return log.gas


EXTRA_COLUMNS = (
    "settle_expire", "settle_banned", "settle_accept", "submitUpdate_staked",
    "vote_settling_returns_stake", "vote_settling_forfeits_stake", "withdrawStake",
    "registerEncryptionKey", "registerEncryptionKey_rotate", "timelock_schedule",
    "timelock_execute", "deploy_timelock_setup",
)  # fmt: skip


def play_extras(client: ChainClient, artifacts: ArtifactSet) -> dict[str, int | None]:
    """The calls issue 10 added, on k = 2 of 3 under AuditAll."""
    accounts = dev_accounts(1 + 5 + 6)
    admin, oracle_accounts, people = accounts[0], accounts[1:6], accounts[6:]
    log = GasLog()
    genesis = hashlib.sha256(b"genesis").digest()
    base = DeployParams(
        round_rules=ROUND_RULES,
        reward_rule=REWARD_RULE,
        oracles=tuple(account.address for account in oracle_accounts),
        quorum=3,
        participants=tuple(account.address for account in people),
        genesis_model=genesis,
    )
    ledger = FedLedger(client, deploy(client, admin, artifacts, base), admin)
    oracles = [ledger.with_account(account) for account in oracle_accounts]
    parts = [ledger.with_account(account) for account in people]

    def submit(index: int, round_: int = 1, stake: int = 0) -> TxResult:
        digest = hashlib.sha256(f"extra-{round_}-{index}".encode()).digest()
        return parts[index].coordinator.submit_update(round_, digest, 600, stake=stake)

    log.record("registerEncryptionKey", oracles[0].coordinator.register_encryption_key(
        hashlib.sha256(b"key 1").digest()
    ))  # fmt: skip
    # Round 1: two oracles accept (k = 3 of 5), two leave: settle accepts on the live set.
    submit(0)
    for oracle in oracles[:2]:
        oracle.coordinator.vote(1, parts[0].address, True, 9_000)
    ledger.coordinator.remove_oracle(oracles[4].address, 3)
    ledger.coordinator.remove_oracle(oracles[3].address, 2)
    log.record("settle_accept", ledger.coordinator.settle(1, parts[0].address))
    submit(1)
    ledger.coordinator.ban_participant(parts[1].address)
    log.record("settle_banned", ledger.coordinator.settle(1, parts[1].address))
    submit(2)
    ledger.dev.increase_time(ROUND_RULES.duration + 1)
    ledger.coordinator.close_round()
    ledger.dev.increase_time(ROUND_RULES.verification_grace + 1)
    log.record("settle_expire", ledger.coordinator.settle(1, parts[2].address))
    log.record("registerEncryptionKey_rotate", oracles[0].coordinator.register_encryption_key(
        hashlib.sha256(b"key 2").digest()
    ))  # fmt: skip

    # The stake: open enrolment with a stake, 3 oracles, k = 2.
    staked = replace(base, oracles=base.oracles[:3], quorum=2, open_enrolment=True)
    staked = replace(staked, enrolment_stake=STAKE)
    ledger = FedLedger(client, deploy(client, admin, artifacts, staked), admin)
    oracles = [ledger.with_account(account) for account in oracle_accounts[:3]]
    parts = [ledger.with_account(account) for account in people]
    log.record("submitUpdate_staked", submit(3, stake=STAKE))
    submit(4, stake=STAKE)
    for position, oracle in enumerate(oracles[:2]):
        result = oracle.coordinator.vote(1, parts[3].address, True, 9_000)
        if position == 1:
            log.record("vote_settling_returns_stake", result)
        result = oracle.coordinator.vote(
            1, parts[4].address, False, 0, ReasonCode.FAILED_VERIFICATION
        )
        if position == 1:
            log.record("vote_settling_forfeits_stake", result)
    log.record("withdrawStake", parts[3].coordinator.withdraw_stake())

    # The timelock: a deployment whose admin is an AdminTimelock.
    timelocked = replace(base, timelock=TimelockParams(delay=TIMELOCK_DELAY))
    first = client.block_number() + 1
    ledger = FedLedger(client, deploy(client, admin, artifacts, timelocked), admin)
    assert ledger.timelock is not None
    setup = 0
    for number in range(first, client.block_number() + 1):
        block = client.rpc("eth_getBlockByNumber", [hex(number), False])
        setup += int(block["gasUsed"], 16)
    log.gas["deploy_timelock_setup"] = setup  # the whole deployment, set-up and hand-over
    operation = Operation(
        ledger.coordinator.address, ledger.coordinator.interface.encode_call("setQuorum", [4])
    )
    log.record("timelock_schedule", ledger.timelock.schedule(operation))
    ledger.dev.increase_time(TIMELOCK_DELAY + 1)
    log.record("timelock_execute", ledger.timelock.execute(operation))
    return log.gas


def play_batched(client: ChainClient, artifacts: ArtifactSet, size: int) -> dict[str, float]:
    """One round of ``size`` accepted updates settled by k = 2 of 3 oracles in batches."""
    accounts = dev_accounts(1 + 3 + size)
    admin, oracle_accounts, people = accounts[0], accounts[1:4], accounts[4:]
    params = DeployParams(
        storage_policy=StoragePolicy.ACCEPTED_ONLY,
        round_rules=ROUND_RULES,
        reward_rule=REWARD_RULE,
        oracles=tuple(account.address for account in oracle_accounts),
        quorum=2,
        participants=(),
        genesis_model=hashlib.sha256(b"genesis").digest(),
    )
    ledger = FedLedger(client, deploy(client, admin, artifacts, params), admin)
    addresses = [account.address for account in people]
    for start in range(0, size, 200):  # admin set-up, not part of the round's cost
        ledger.coordinator.register_participants(addresses[start : start + 200])
    submissions = []
    for index, account in enumerate(people):
        digest = hashlib.sha256(f"batched-{index}".encode()).digest()
        submissions.append(
            ledger.with_account(account).coordinator.submit_update(1, digest, 600).gas_used
        )
    batches: list[int] = []
    for oracle_account in oracle_accounts[:2]:
        oracle = ledger.with_account(oracle_account).coordinator
        for start in range(0, size, BATCH):
            verdicts = [Verdict(a, True, 9_000) for a in addresses[start : start + BATCH]]
            batches.append(oracle.vote_batch(1, verdicts).gas_used)
    assert ledger.coordinator.get_round(1).accepted == size, "not every update was accepted"
    claims = [
        ledger.with_account(account).coordinator.claim_rewards().gas_used
        for account in people[:CLAIMS]
    ]
    per_update = (sum(submissions) + sum(batches)) / size
    claim = max(claims)
    return {
        "submitUpdate_max": max(submissions),
        "voteBatch_transactions": len(batches),
        "voteBatch_total": sum(batches),
        "voteBatch_per_verdict": sum(batches) / (2 * size),
        "claimRewards_max": claim,
        "gas_per_accepted_update": per_update,
        "gas_per_accepted_update_with_claim": per_update + claim,
    }


def check_batched(batched: dict[str, dict[str, float]]) -> list[dict[str, object]]:
    checks: list[dict[str, object]] = []
    per_update = {size: batched[str(size)]["gas_per_accepted_update"] for size in BATCHED_SIZES}
    worst_size = max(per_update, key=per_update.__getitem__)
    checks.append({
        "check": f"gas per accepted update (k = 2, batched) <= {PER_UPDATE_TARGET:,}",
        "worst": round(per_update[worst_size]),
        "where": f"{worst_size} participants",
        "ok": per_update[worst_size] <= PER_UPDATE_TARGET,
    })  # fmt: skip
    small, large = per_update[BATCHED_SIZES[0]], per_update[BATCHED_SIZES[-1]]
    spread = abs(large - small) / small
    checks.append({
        "check": f"gas per accepted update within 5% for {BATCHED_SIZES[0]} vs "
        f"{BATCHED_SIZES[-1]} participants",
        "worst": f"{small:,.0f} vs {large:,.0f} ({spread:.2%})",
        "where": "k=2/n=3 AcceptedOnly",
        "ok": spread <= 0.05,
    })  # fmt: skip
    return checks


def check_targets(results: dict[str, dict[str, int | None]]) -> list[dict[str, object]]:
    checks: list[dict[str, object]] = []
    for call, limit in TARGETS.items():
        worst_name, worst = max(
            (
                (name, gas[call])
                for name, gas in results.items()
                if gas.get(call) is not None and name != "extras"
            ),
            key=lambda item: item[1] or 0,
        )
        checks.append(
            {
                "check": f"{call} <= {limit:,}",
                "worst": worst,
                "where": worst_name,
                "ok": (worst or 0) <= limit,
            }
        )
    staked = results.get("extras", {}).get("submitUpdate_staked")
    if staked is not None:
        limit = TARGETS["submitUpdate"]
        checks.append(
            {
                "check": f"submitUpdate with the stake <= {limit:,}",
                "worst": staked,
                "where": "extras",
                "ok": staked <= limit,
            }
        )
    call, tolerance = SAME_ACROSS_SIZES
    for config in configurations():
        if config.participants != ROUND_SIZES[0]:
            continue
        small = results[config.name][call]
        large = results[
            Configuration(config.policy, config.quorum, config.oracles, ROUND_SIZES[-1]).name
        ][call]
        assert small is not None and large is not None
        spread = abs(large - small) / small
        checks.append({
            "check": f"{call} within {tolerance:.0%} for {ROUND_SIZES[0]} vs "
            f"{ROUND_SIZES[-1]} participants",
            "worst": f"{small:,} vs {large:,} ({spread:.2%})",
            "where": config.name.rsplit(" participants", 1)[0],
            "ok": spread <= tolerance,
        })  # fmt: skip
    return checks


def print_report(
    results: dict[str, dict[str, int | None]], checks: list[dict[str, object]]
) -> None:
    console = Console(width=max(Console().width, 132))
    for policy in (StoragePolicy.ACCEPTED_ONLY, StoragePolicy.AUDIT_ALL):
        chosen = [config for config in configurations() if config.policy is policy]
        title = chosen[0].name.split(" ", 1)[0]
        table = Table(title=f"Gas per call, {title}: largest in the round, by k/n and participants")
        table.add_column("call")
        for config in chosen:
            table.add_column(
                f"{config.quorum}/{config.oracles}, {config.participants}", justify="right"
            )
        for call in COLUMNS:
            cells = [results[config.name].get(call) for config in chosen]
            table.add_row(call, *(f"{gas:,}" if gas is not None else "-" for gas in cells))
        console.print(table)
    if "extras" in results:
        table = Table(title="Gas of the calls issue 10 added (AuditAll, k = 2/3 or 3/5)")
        table.add_column("call")
        table.add_column("gas", justify="right")
        for call in EXTRA_COLUMNS:
            gas = results["extras"].get(call)
            table.add_row(call, f"{gas:,}" if gas is not None else "-")
        console.print(table)
    for check in checks:
        mark = "[green]ok[/green]" if check["ok"] else "[red]MISSED[/red]"
        worst = f"{check['worst']:,}" if isinstance(check["worst"], int) else check["worst"]
        console.print(f"{mark}  {check['check']}: {worst} ({check['where']})")


def print_batched(batched: dict[str, dict[str, float]]) -> None:
    table = Table(title=f"Batched settlement, k = 2 of 3, AcceptedOnly (voteBatch of {BATCH})")
    table.add_column("participants", justify="right")
    for column in (
        "submitUpdate", "voteBatch txs", "gas per verdict", "claimRewards",
        "per accepted update", "with a claim every round",
    ):  # fmt: skip
        table.add_column(column, justify="right")
    for size, row in batched.items():
        table.add_row(
            size,
            f"{row['submitUpdate_max']:,.0f}",
            f"{row['voteBatch_transactions']:.0f}",
            f"{row['voteBatch_per_verdict']:,.0f}",
            f"{row['claimRewards_max']:,.0f}",
            f"{row['gas_per_accepted_update']:,.0f}",
            f"{row['gas_per_accepted_update_with_claim']:,.0f}",
        )
    Console(width=max(Console().width, 132)).print(table)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--json", type=Path, help="write the results to this file")
    args = parser.parse_args()

    config = load_config()
    artifacts = compile_contracts(config)
    accounts = max(1 + max(n for _, n in QUORUMS) + max(ROUND_SIZES) + 1, 4 + max(BATCHED_SIZES))
    anvil = Anvil.from_config(config, port=free_port(), accounts=accounts)
    results: dict[str, dict[str, int | None]] = {}
    with anvil:
        network = NetworkSettings(
            name="bench", rpc_url=anvil.rpc_url, chain_id=anvil.chain_id, embedded=True
        )
        client = ChainClient(connect_web3(network), abi_registry(artifacts))
        dev = DevControls(client.rpc)
        for configuration in configurations():
            snapshot = dev.snapshot()
            results[configuration.name] = play_round(client, artifacts, configuration)
            dev.revert(snapshot)
            client.reset()
        results["extras"] = play_extras(client, artifacts)
        batched: dict[str, dict[str, float]] = {}
        for size in BATCHED_SIZES:
            snapshot = dev.snapshot()
            batched[str(size)] = play_batched(client, artifacts, size)
            dev.revert(snapshot)
            client.reset()

    checks = check_targets(results) + check_batched(batched)
    print_batched(batched)
    print_report(results, checks)
    if args.json:
        payload = {
            "benchmark": "gas",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "environment": {
                "chain": f"anvil {npm_package_version(config, '@foundry-rs/anvil-linux-amd64')}",
                "hardfork": config.compiler.evm_version,
                "solc": config.compiler.solc_version,
                "optimizer_runs": config.compiler.optimizer_runs
                if config.compiler.optimizer_enabled
                else None,
                "python": platform.python_version(),
            },
            "configurations": results,
            "batched": batched,
            "targets": {**TARGETS, "gas_per_accepted_update_k2": PER_UPDATE_TARGET},
            "checks": checks,
            "all_targets_met": all(check["ok"] for check in checks),
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2))
    return 0 if all(check["ok"] for check in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
