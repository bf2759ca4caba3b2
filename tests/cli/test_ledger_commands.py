"""`fedledger status`, `round`, `rewards` and `admin` against the test chain."""

from __future__ import annotations

import re
import threading
from pathlib import Path

from click.testing import CliRunner

from fedledger.chain import ReasonCode, RoundState, dev_account
from fedledger.chain.deployment import TOKEN_UNIT, deployment_path
from fedledger.cli import main
from fedledger.ml import MNIST_MLP, attacks, encode, initial_weights
from fedledger.storage import cid_from_content_hash, content_hash_of_blob
from tests.cli.conftest import Cli, CliFactory
from tests.fixtures.chain import TEST_ROUND_RULES

ETH = 10**18


def submit(cli: Cli, key: str, seed: int, tmp_path: Path) -> str:
    """Submit a small valid update as dev account ``key``; its address."""
    path = tmp_path / f"update-{seed}.flmw"
    path.write_bytes(encode(attacks.gaussian_noise(cli.genesis, 0.01, seed=seed)))
    cli.ok("participant", "submit", str(path), "--samples", "100", "--key", key)
    return dev_account(int(key.removeprefix("dev:"))).address


def settle(cli: Cli, participant: str, accept: bool, score: int = 500) -> None:
    """Two of the three oracles vote the same way: the update settles."""
    reason = ReasonCode.ACCEPTED if accept else ReasonCode.FAILED_VERIFICATION
    for oracle in cli.bed.oracles[:2]:
        oracle.coordinator.vote(1, participant, accept, score if accept else 0, reason)


# ---- status ------------------------------------------------------------------------------


def test_status_shows_round_submissions_oracles_and_balances(cli: Cli, tmp_path: Path) -> None:
    good = submit(cli, "dev:8", 1, tmp_path)
    bad = submit(cli, "dev:9", 2, tmp_path)
    waiting = submit(cli, "dev:10", 3, tmp_path)
    settle(cli, good, True, score=800)
    settle(cli, bad, False)

    shown = cli.json("status")
    assert shown["current_round"] == 1 and shown["can_close"] is False
    assert shown["round"]["state"] == "open"
    assert shown["round"]["global_model"] == "0x" + content_hash_of_blob(cli.genesis_blob).hex()
    submissions = {s["participant"]: s for s in shown["submissions"]}
    assert list(submissions) == [good, bad, waiting]  # chain order
    assert (submissions[good]["status"], submissions[good]["accept_votes"]) == ("accepted", 2)
    assert (submissions[bad]["status"], submissions[bad]["reason"]) == (
        "rejected",
        "FAILED_VERIFICATION",
    )
    assert submissions[waiting]["status"] == "pending"
    assert [o["address"] for o in shown["oracles"]] == [o.address for o in cli.bed.oracles]
    assert shown["quorum"] == 2
    people = {p["address"]: p for p in shown["participants"]}
    assert list(people) == [p.address for p in cli.bed.participants]
    assert int(people[good]["tokens"]) == cli.admin.token.balance_of(good) == 0  # not claimed
    assert int(people[good]["credited"]) == cli.admin.coordinator.reward_owed(good) > 0
    assert (people[bad]["rejected"], people[bad]["tokens"]) == (1, "0")

    table = cli.ok("status")
    for text in ("round 1", "quorum 2 of 3", good, bad, "accepted", "failed verification"):
        assert text in table
    # Scores in logits (800 units of 2**-24), never the raw integer.
    assert f"{800 / 2**24:.3f} logits" in table


def test_status_at_80_columns_keeps_addresses_whole(cli: Cli, tmp_path: Path) -> None:
    good = submit(cli, "dev:8", 1, tmp_path)
    settle(cli, good, True, score=800)
    result = CliRunner().invoke(
        main, ["status"], env={"FEDLEDGER_ROOT": str(cli.project.root), "COLUMNS": "80"}
    )
    assert result.exit_code == 0, result.output
    table_lines = [line for line in result.output.splitlines() if line[:1] in "│┃┏┡└"]
    assert table_lines and max(len(line) for line in table_lines) <= 80
    for participant in cli.bed.participants:
        assert participant.address in result.output
    for oracle in cli.bed.oracles:
        assert oracle.address in result.output


def test_status_follows_the_chains_clock_past_the_deadline_and_the_close(cli: Cli) -> None:
    assert "not yet: at the deadline" in cli.ok("status")
    cli.bed.dev.increase_time(3_601)  # mines one block; the clock then runs on without blocks
    shown = cli.json("status")
    assert shown["can_close"] is True and shown["round"]["seconds_to_deadline"] < 0
    text = cli.ok("status")
    assert "yes, deadline passed (`fedledger round close --wait`)" in text
    assert " ago)" in text.split("deadline", 1)[1].splitlines()[0]
    cli.ok("round", "close")
    cli.bed.dev.increase_time(120)
    closed = cli.ok("status", "--round", "1")
    closed_line = next(line for line in closed.splitlines() if line.strip().startswith("closed"))
    # 120 s of chain time, plus the second or two the commands themselves take on a busy machine
    assert re.search(r"\b2 min( \d+ s)? ago", closed_line), closed_line


def test_status_of_a_past_round_and_of_one_that_does_not_exist(cli: Cli) -> None:
    cli.bed.dev.increase_time(3_601)
    cli.ok("round", "close")  # no accepted update: skipped, round 2 opens
    past = cli.json("status", "--round", "1")
    assert past["round"]["state"] == "skipped" and past["current_round"] == 2
    assert "round 7 does not exist" in cli.fails("status", "--round", "7")
    for bad in ("0", "-1"):
        assert "rounds run from 1 to 2" in cli.fails("status", "--round", bad)


def test_round_close_follows_a_round_someone_else_closed(cli: Cli) -> None:
    cli.bed.dev.increase_time(3_601)
    cli.admin.coordinator.close_round()  # as an oracle node would: skipped, round 2 opens
    output = cli.ok("round", "close", "--round", "1", "--wait")
    assert "round 1 was already closed" in output and "skipped" in output
    assert "has not opened yet" in cli.fails("round", "close", "--round", "9")
    cli.bed.dev.increase_time(3_601)
    cli.admin.coordinator.close_round()  # round 2 as well
    shown = cli.json("round", "close", "--round", "2", "--wait")
    assert shown["round"] == 2 and shown["state"] == "skipped" and shown["closed_by_someone_else"]
    # Errors speak human units: the deadline as a time, relative to the chain's clock.
    line = cli.fails("round", "close")
    assert "RoundCloseTooEarly" in line and re.search(
        r"deadline=[-0-9]+ [:0-9]+ \S+ \(in \d+ min\)", line
    )


def test_commands_without_a_deployment_say_to_deploy(cli: Cli) -> None:
    deployment_path(cli.project).unlink()
    for command in (["status"], ["participant", "model"], ["rewards", "balance", "--key", "dev:8"]):
        assert "run `fedledger deploy` first" in cli.fails(*command)


# ---- round -------------------------------------------------------------------------------


def test_round_close_waits_for_the_deadline_and_reports_what_happened(
    cli: Cli, tmp_path: Path
) -> None:
    participant = submit(cli, "dev:8", 1, tmp_path)
    settle(cli, participant, True)
    assert "RoundCloseTooEarly" in cli.fails("round", "close")
    cli.bed.dev.increase_time(3_601)
    closed = cli.json("round", "close", "--key", "dev:39")  # anyone may close
    assert (closed["round"], closed["accepted"], closed["state"]) == (1, 1, "closed")
    assert cli.admin.coordinator.get_round(1).state == RoundState.CLOSED

    assert "AggregationNotStalled" in cli.fails("round", "skip")
    # The aggregation timeout counts from the end of the verification grace.
    cli.bed.dev.increase_time(TEST_ROUND_RULES.verification_grace + 1_801)
    skipped = cli.json("round", "skip")
    assert (skipped["round"], skipped["next_round"]) == (1, 2)
    assert cli.admin.coordinator.get_round(1).state == RoundState.SKIPPED


def test_round_close_wait_follows_the_round_to_its_new_global_model(
    cli: Cli, tmp_path: Path
) -> None:
    participant = submit(cli, "dev:8", 1, tmp_path)
    settle(cli, participant, True)
    cli.bed.dev.increase_time(3_601)
    aggregate = content_hash_of_blob(b"the aggregate")

    def propose() -> None:  # the oracles, while the command waits
        for oracle in cli.bed.oracles[:2]:
            oracle.coordinator.propose_aggregate(1, aggregate)

    timer = threading.Timer(1.0, propose)
    timer.start()
    try:
        closed = cli.json("round", "close", "--wait", "--timeout", "30")
    finally:
        timer.join()
    assert (closed["state"], closed["global_model"]) == ("finalized", "0x" + aggregate.hex())
    model = cli.json("participant", "model")
    assert (model["round"], model["content_hash"]) == (2, "0x" + aggregate.hex())


def test_round_close_wait_gives_up_on_silent_oracles(cli: Cli, tmp_path: Path) -> None:
    participant = submit(cli, "dev:8", 1, tmp_path)
    settle(cli, participant, True)
    cli.bed.dev.increase_time(3_601)
    line = cli.fails("round", "close", "--wait", "--timeout", "0.5")
    assert "still closed after 0.5 s" in line and "fedledger round skip" in line


# ---- rewards -----------------------------------------------------------------------------


def test_rewards_balance_deposit_redeem_and_withdraw(cli: Cli, tmp_path: Path) -> None:
    holder = submit(cli, "dev:8", 1, tmp_path)
    settle(cli, holder, True, score=0)
    credited = cli.json("rewards", "balance", "--key", "dev:8")["credited"]
    assert int(credited) == cli.admin.coordinator.reward_rule().base > 0
    claimed = cli.json("rewards", "claim", "--key", "dev:8")
    assert claimed["tokens"] == credited
    assert "NoRewardOwed" in cli.fails("rewards", "claim", "--key", "dev:8")
    tokens = cli.admin.token.balance_of(holder)
    assert tokens == int(credited)

    shown = cli.json("rewards", "balance", "--key", "dev:8")
    assert (int(shown["tokens"]), shown["accepted"], shown["redeemable_wei"]) == (tokens, 1, "0")
    assert cli.json("rewards", "balance", holder)["tokens"] == str(tokens)  # anyone's

    deposit = cli.json("rewards", "deposit", "2", "--key", "dev:0")
    assert deposit["pool_wei"] == str(2 * ETH)
    assert int(cli.json("rewards", "balance", holder)["redeemable_wei"]) == 2 * ETH

    before = cli.admin.client.balance(holder)
    half = tokens // 2
    redeemed = cli.json("rewards", "redeem", str(half / TOKEN_UNIT), "--key", "dev:8")
    assert int(redeemed["payout_wei"]) == ETH  # half of the supply: half of the pool
    assert cli.admin.token.balance_of(holder) == tokens - half
    gained = cli.admin.client.balance(holder) - before
    assert ETH - 10**16 < gained < ETH  # the payout, minus the gas of three transactions

    kept = cli.json("rewards", "redeem", "--all", "--no-withdraw", "--key", "dev:8")
    assert cli.admin.vault.owed(holder) == int(kept["payout_wei"]) == ETH
    text = cli.ok("rewards", "withdraw", "--key", "dev:8")
    assert "withdrew 1 ETH" in text and cli.admin.vault.owed(holder) == 0
    assert "holds no tokens" in cli.fails("rewards", "redeem", "--all", "--key", "dev:8")


def test_rewards_redeem_refusals(cli: Cli) -> None:
    assert "give either AMOUNT or --all" in cli.fails("rewards", "redeem", "--key", "dev:8", code=2)
    assert "InsufficientTokens" in cli.fails("rewards", "redeem", "5", "--key", "dev:8")
    assert "is not a positive amount" in cli.fails("rewards", "deposit", "0", code=2)
    # "inf" and "nan" parse as decimals: refused as amounts, not a crash.
    assert "is not a positive amount" in cli.fails("rewards", "deposit", "inf", code=2)
    assert "is not a non-negative amount" in cli.fails("rewards", "redeem", "nan", code=2)


def test_access_rights_are_priced_by_the_admin_and_bought_with_tokens(
    cli: Cli, tmp_path: Path
) -> None:
    holder = submit(cli, "dev:8", 1, tmp_path)
    settle(cli, holder, True, score=0)
    cli.json("rewards", "claim", "--key", "dev:8")  # acceptance credits, the claim mints
    resource = cid_from_content_hash(content_hash_of_blob(b"a supplementary model"))
    resource_hex = "0x" + content_hash_of_blob(b"a supplementary model").hex()
    check = cli.json("rewards", "access", resource, "--check", "--key", "dev:8")
    assert (check["price"], check["has_access"]) == ("0", False)
    assert "ResourceNotForSale" in cli.fails("rewards", "access", resource, "--key", "dev:8")
    assert "OwnableUnauthorizedAccount" in cli.fails(
        "admin", "set-access-price", resource, "3", "--key", "dev:8"
    )
    cli.ok("admin", "set-access-price", resource_hex, "3")
    before = cli.admin.token.balance_of(holder)
    bought = cli.json("rewards", "access", resource, "--key", "dev:8")
    assert bought["resource"] == resource_hex and bought["price"] == str(3 * TOKEN_UNIT)
    assert cli.admin.vault.has_access(resource_hex, holder)
    assert cli.admin.token.balance_of(holder) == before - 3 * TOKEN_UNIT
    again = cli.ok("rewards", "access", resource, "--key", "dev:8")
    assert "has access" in again  # nothing bought twice
    assert cli.admin.token.balance_of(holder) == before - 3 * TOKEN_UNIT
    assert "neither a 32-byte 0x-hex id nor a CID" in cli.fails(
        "rewards", "access", "0x1234", code=2
    )


def test_tokens_transfer_like_any_erc20(cli: Cli, tmp_path: Path) -> None:
    holder = submit(cli, "dev:8", 1, tmp_path)
    settle(cli, holder, True, score=0)
    cli.json("rewards", "claim", "--key", "dev:8")
    friend = dev_account(20).address
    cli.json("rewards", "transfer", friend, "1.5", "--key", "dev:8")
    assert cli.admin.token.balance_of(friend) == 3 * TOKEN_UNIT // 2
    assert "is not an Ethereum address" in cli.fails("rewards", "transfer", "0x12", "1", code=2)


# ---- admin -------------------------------------------------------------------------------


def test_admin_manages_oracles_and_the_quorum(cli: Cli) -> None:
    newcomer = dev_account(4).address
    added = cli.json("admin", "add-oracle", newcomer)
    assert (added["quorum"], added["oracles"]) == (3, 4)  # the smallest k with 2k > n
    coordinator = cli.admin.coordinator
    assert coordinator.is_oracle(newcomer) and coordinator.quorum() == 3
    assert "InvalidQuorum" in cli.fails("admin", "set-quorum", "2")
    cli.ok("admin", "set-quorum", "4")
    removed = cli.json("admin", "remove-oracle", newcomer, "--quorum", "3")
    assert (removed["quorum"], removed["oracles"]) == (3, 3)
    assert not coordinator.is_oracle(newcomer) and coordinator.quorum() == 3
    assert "OwnableUnauthorizedAccount" in cli.fails(
        "admin", "add-oracle", newcomer, "--key", "dev:8"
    )


def test_admin_manages_participants(cli: Cli, tmp_path: Path) -> None:
    first, second = dev_account(20).address, dev_account(21).address
    coordinator = cli.admin.coordinator
    cli.ok("admin", "register", first, second)
    assert coordinator.get_participant(first).registered
    cli.ok("admin", "remove", first)
    assert not coordinator.get_participant(first).registered
    cli.ok("admin", "ban", second)
    assert coordinator.get_participant(second).banned
    update = tmp_path / "u.flmw"
    update.write_bytes(encode(attacks.gaussian_noise(cli.genesis, 0.01, seed=4)))
    assert "is banned" in cli.fails(
        "participant", "submit", str(update), "--samples", "1", "--key", "dev:21"
    )
    cli.ok("admin", "pardon", second)
    assert not coordinator.get_participant(second).banned
    cli.ok("admin", "open-enrolment", "on")
    assert coordinator.open_enrolment()
    cli.ok("participant", "submit", str(update), "--samples", "1", "--key", "dev:22")
    assert coordinator.get_participant(dev_account(22).address).registered
    assert "AlreadyRegistered" in cli.fails("admin", "register", second)


def test_admin_sets_the_rules(cli: Cli) -> None:
    coordinator = cli.admin.coordinator
    before = coordinator.round_rules()
    rules = cli.json("admin", "set-round-rules", "--duration", "120")
    assert (rules["duration"], rules["aggregation_timeout"]) == (120, before.aggregation_timeout)
    assert coordinator.round_rules().contribution_target == before.contribution_target
    cli.ok("admin", "set-round-rules", "--contribution-target", "4")
    assert coordinator.round_rules().contribution_target == 4

    base_before = coordinator.reward_rule().base
    cli.ok("admin", "set-reward", "--per-score", "0.000001")
    assert coordinator.reward_rule().per_score_point == 10**12
    assert coordinator.reward_rule().base == base_before
    cli.ok("admin", "set-reward", "--base", "2.5")
    assert coordinator.reward_rule().base == 5 * TOKEN_UNIT // 2

    cli.ok("admin", "set-rejection-limit", "0")
    assert coordinator.rejection_limit() == 0
    assert "x>=1" in cli.fails("admin", "set-round-rules", "--duration", "0", code=2)


def test_admin_start_stores_the_genesis_model_and_opens_round_1(
    cli_factory: CliFactory, tmp_path: Path
) -> None:
    cli = cli_factory(start=False)
    assert "training has not started" in cli.ok("participant", "model")
    started = cli.json("admin", "start", "--arch", MNIST_MLP.id, "--seed", "7")
    blob = encode(initial_weights(MNIST_MLP.id, 7))
    assert started["content_hash"] == "0x" + content_hash_of_blob(blob).hex()
    assert cli.store.get(started["cid"]) == blob
    model = cli.admin.coordinator.latest_model()
    assert (model.round, model.state, model.content_hash) == (
        1,
        RoundState.OPEN,
        content_hash_of_blob(blob),
    )
    weights = tmp_path / "other.flmw"
    weights.write_bytes(cli.genesis_blob)
    assert "TrainingAlreadyStarted" in cli.fails("admin", "start", "--model", str(weights))
    assert "give either --model FILE or --arch ID" in cli.fails("admin", "start", code=2)
