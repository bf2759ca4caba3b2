"""The dashboard's JSON API, served by the real `fedledger dashboard` (uvicorn on a free
loopback port) against a real anvil: a round followed from its submissions through real
votes to its finalized aggregate, every figure checked against what the chain recorded.
The test acts as the oracles (real transactions) so that each vote lands when it says."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from fedledger.chain import ReasonCode
from fedledger.chain.events import UpdateAccepted
from fedledger.cli import main
from fedledger.config import ProjectConfig
from fedledger.ml import ModelWeights, encode, load_dataset
from fedledger.ml.evaluation import ExactEvaluator
from fedledger.storage import content_hash_from_cid
from tests.dashboard.conftest import Dashboard, wait_for
from tests.fixtures.chain import TEST_ROUND_RULES
from tests.oracle.conftest import SAMPLES, NodeBed

HALF_LOGIT = 1 << 23  # a score of 0.5 logits


def _submission(state: dict[str, Any], address: str) -> dict[str, Any]:
    (found,) = [s for s in state["round"]["submissions"] if s["participant"] == address]
    return found


def test_the_api_follows_a_round_from_submissions_to_its_aggregate(
    dash_bed: NodeBed,
    start_dashboard: Callable[..., Dashboard],
    eval_file: Path,
    node_honest: list[ModelWeights],
    chain_project: ProjectConfig,
) -> None:
    bed = dash_bed.bed
    honest, cheat, late = (bed.participants[i] for i in range(3))
    aggregate = content_hash_from_cid(dash_bed.store.put(encode(node_honest[0])))
    gas = [
        honest.coordinator.submit_update(1, aggregate, SAMPLES).gas_used,
        cheat.coordinator.submit_update(1, bed.hash("a blob nobody stored"), SAMPLES).gas_used,
        late.coordinator.submit_update(1, bed.hash("never voted on"), SAMPLES).gas_used,
    ]
    dashboard = start_dashboard("--eval", str(eval_file), "--refresh", "0.2")

    state = dashboard.json("/api/state")
    assert state["deployment"]["coordinator"] == bed.deployment.coordinator
    assert state["quorum"] == 2
    assert (state["round"]["round"], state["round"]["state"]) == (1, "open")
    assert state["round"]["deadline"] == bed.admin.coordinator.get_round(1).deadline
    assert state["round"]["deadline_text"].endswith("on the chain's clock")
    assert "(in " in state["round"]["deadline_text"]
    assert [s["status"] for s in state["round"]["submissions"]] == ["pending"] * 3
    assert {p["address"] for p in state["participants"]} == {p.address for p in bed.participants}
    assert [o["liveness"] for o in state["oracles"]] == ["behind"] * 3
    assert state["evaluation"]["samples"] == 1_000

    first, second = bed.oracles[:2]
    gas.append(first.coordinator.vote(1, honest.address, True, HALF_LOGIT, 0).gas_used)
    failed = ReasonCode.FAILED_VERIFICATION
    gas.append(first.coordinator.vote(1, cheat.address, False, 0, failed).gas_used)

    def one_vote_each() -> dict[str, Any] | None:
        state = dashboard.json("/api/state")
        return state if _submission(state, honest.address)["accept_votes"] == 1 else None

    state = wait_for(one_vote_each, "first vote on the page's data")
    pending = _submission(state, honest.address)
    assert pending["status"] == "pending"
    assert pending["votes"][0]["oracle_index"] == 0
    assert pending["votes"][0]["score_text"] == "0.500 logits"
    assert pending["verdict_text"].startswith("waiting for votes")
    assert _submission(state, cheat.address)["votes"][0]["reason_text"] == "failed verification"
    assert [o["votes_this_round"] for o in state["oracles"]] == [2, 0, 0]
    assert [o["liveness"] for o in state["oracles"]] == ["live", "behind", "behind"]

    gas.append(second.coordinator.vote(1, honest.address, True, HALF_LOGIT, 0).gas_used)
    gas.append(second.coordinator.vote(1, cheat.address, False, 0, failed).gas_used)

    def settled() -> dict[str, Any] | None:
        state = dashboard.json("/api/state")
        return state if _submission(state, cheat.address)["status"] == "rejected" else None

    state = wait_for(settled, "verdicts on the page's data")
    (accepted,) = bed.admin.events(UpdateAccepted, bed.deployment.block_number)
    verdict = _submission(state, honest.address)
    assert verdict["status"] == "accepted"
    assert verdict["reward"] == str(accepted.reward)
    assert verdict["verdict_text"] == "accepted by 2 of 2 needed votes"
    assert _submission(state, cheat.address)["verdict_text"] == "rejected: failed verification"
    standing = {p["address"]: p for p in state["participants"]}
    assert standing[honest.address]["credited"] == str(accepted.reward)  # to claim
    assert standing[honest.address]["tokens"] == "0"
    assert (standing[cheat.address]["rejected"], standing[cheat.address]["strikes"]) == (1, 1)

    bed.dev.increase_time(TEST_ROUND_RULES.duration + 1)
    gas.append(bed.admin.coordinator.close_round().gas_used)
    # The late update may still take votes until the verification grace ends.
    voting_ends = bed.admin.coordinator.get_round(1).voting_ends
    bed.dev.increase_time(voting_ends - bed.client.chain_time() + 1)
    gas.append(first.coordinator.propose_aggregate(1, aggregate).gas_used)
    gas.append(second.coordinator.propose_aggregate(1, aggregate).gas_used)

    rounds = wait_for(
        lambda: (r := dashboard.json("/api/rounds")) and r[0]["state"] == "finalized" and r,
        "finalized round in the history",
    )
    evaluation = load_dataset(eval_file)
    expected_accuracy = ExactEvaluator(evaluation, node_honest[0].architecture).evaluate(
        node_honest[0]
    )
    first_round = rounds[0]
    assert [r["round"] for r in rounds] == [1, 2]
    assert (first_round["accepted"], first_round["rejected"], first_round["expired"]) == (1, 1, 1)
    assert first_round["tokens_minted"] == str(accepted.reward)
    assert first_round["gas_used"] == sum(gas)
    assert first_round["gas_text"] == f"{sum(gas):,}"
    assert first_round["produced_model"] == "0x" + aggregate.hex()
    assert first_round["accuracy"] == expected_accuracy.accuracy
    assert first_round["duration_seconds"] >= TEST_ROUND_RULES.duration
    assert rounds[1]["state"] == "open"
    assert rounds[1]["global_model"] == "0x" + aggregate.hex()
    state = dashboard.json("/api/state")
    assert [o["liveness"] for o in state["oracles"]] == ["live", "live", "silent"]
    assert [o["proposed_this_round"] for o in state["oracles"]] == [False, False, False]

    detail = dashboard.json("/api/rounds/1")
    assert [s["status"] for s in detail["submissions"]] == ["accepted", "rejected", "expired"]
    assert dashboard.json("/api/oracles") == dashboard.json("/api/state")["oracles"]
    missing = dashboard.get("/api/rounds/99")
    assert missing.status_code == 404
    assert "round 99 does not exist" in missing.json()["error"]

    # `fedledger rounds --json` prints the same records, from the same query code.
    root = {"FEDLEDGER_ROOT": str(chain_project.root)}
    printed = json.loads(_run("rounds", "--json", env=root))
    stable = ("round", "state", "accepted", "rejected", "tokens_minted", "gas_used")
    assert [{k: r[k] for k in stable} for r in printed] == [
        {k: r[k] for k in stable} for r in rounds
    ]
    table = _run("rounds", env=root)
    assert f"round 1 produced 0x{aggregate.hex()}" in table  # whole: it can be copied
    assert f"{sum(gas):,}" in table
    assert "finalized" in table and "open" in table


def _run(*arguments: str, env: dict[str, str]) -> str:
    result = CliRunner().invoke(main, list(arguments), env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_every_way_an_update_settles_is_named_in_words(
    dash_bed: NodeBed, start_dashboard: Callable[..., Dashboard]
) -> None:
    """Verdicts reached by the deciding vote, by a settle() call after the oracle set
    changed, by a ban, and expiries (recorded by settle() or only in the view), each in
    words; pending updates of a closed round take votes until the grace ends, and the
    history says pending, then expired."""
    bed = dash_bed.bed
    voted, by_call, rejected_by_call, banned, expired_call, expired_view = (
        bed.participants[i] for i in range(6)
    )
    for index, participant in enumerate(
        (voted, by_call, rejected_by_call, banned, expired_call, expired_view)
    ):
        participant.coordinator.submit_update(1, bed.hash(f"update {index}"), SAMPLES)
    first, second, third = bed.oracles[:3]
    failed = ReasonCode.FAILED_VERIFICATION
    for oracle in (first, second):
        oracle.coordinator.vote(1, voted.address, True, HALF_LOGIT, 0)
    first.coordinator.vote(1, by_call.address, True, HALF_LOGIT, 0)
    first.coordinator.vote(1, rejected_by_call.address, False, 0, failed)
    bed.admin.coordinator.ban_participant(banned.address)
    first.coordinator.vote(1, banned.address, True, HALF_LOGIT, 0)  # rejected: banned
    # One oracle left, quorum 1 (2k > n): the single votes above are decisive once settled.
    bed.admin.coordinator.remove_oracle(third.address, 2)
    bed.admin.coordinator.remove_oracle(second.address, 1)
    bed.outsider.coordinator.settle(1, by_call.address)
    bed.outsider.coordinator.settle(1, rejected_by_call.address)
    bed.dev.increase_time(TEST_ROUND_RULES.duration + 1)
    bed.admin.coordinator.close_round()
    voting_ends = bed.admin.coordinator.get_round(1).voting_ends

    dashboard = start_dashboard("--refresh", "0.2")
    state = dashboard.json("/api/state")
    assert state["round"]["state"] == "closed"
    assert state["round"]["voting_ends"] == voting_ends
    assert "take votes until" in state["round"]["aggregation_text"]
    words = {s["participant"]: s["verdict_text"] for s in state["round"]["submissions"]}
    settled_by = {s["participant"]: s["settled_by"] for s in state["round"]["submissions"]}
    assert words[voted.address] == "accepted by 2 votes (the quorum is now 1)"
    assert settled_by[voted.address] == "vote"
    assert settled_by[by_call.address] == "settle"
    assert words[by_call.address].startswith("accepted: 1 accept vote(s)")
    assert "settle() call" in words[by_call.address]
    assert words[rejected_by_call.address].startswith("rejected: failed verification (1 reject")
    assert "settle() call" in words[rejected_by_call.address]
    assert settled_by[banned.address] == "ban"
    assert words[banned.address] == (
        "rejected: its participant was banned while the update was pending"
    )
    for address in (expired_call.address, expired_view.address):
        assert words[address].startswith("waiting for votes until ")
        assert "verification grace" in words[address]
    (summary,) = [r for r in state["rounds"] if r["round"] == 1]
    assert (summary["pending"], summary["expired"]) == (2, 0)
    assert summary["unsettled_text"] == "2 pending"

    bed.dev.increase_time(voting_ends - bed.client.chain_time() + 1)
    bed.outsider.coordinator.settle(1, expired_call.address)  # mines a block: a new read

    def expired() -> dict[str, Any] | None:
        state = dashboard.json("/api/state")
        found = _submission(state, expired_call.address)
        return state if found["status"] == "expired" else None

    state = wait_for(expired, "the expiry on the page's data")
    recorded = _submission(state, expired_call.address)
    only_view = _submission(state, expired_view.address)
    assert (recorded["settled_by"], only_view["settled_by"]) == ("settle", "view")
    assert recorded["verdict_text"].startswith("expired: still pending when the round's voting")
    assert recorded["verdict_text"].endswith("recorded by a settle() call")
    assert only_view["status"] == "expired"
    assert "a settle() call records it" in only_view["verdict_text"]
    (summary,) = [r for r in state["rounds"] if r["round"] == 1]
    assert (summary["accepted"], summary["rejected"]) == (2, 2)
    assert (summary["pending"], summary["expired"], summary["expired_recorded"]) == (0, 2, 1)
    assert summary["unsettled_text"] == "2 expired"
