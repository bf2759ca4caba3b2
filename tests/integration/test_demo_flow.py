"""The whole flow on the embedded chain and store: real anvil, three `fedledger oracle run`
processes and eight participants (two honest, one per attack) in two `fedledger
participant host` processes, two rounds.
Everything is checked against the chain and the store, not against the demo's own word."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fedledger.chain import GlobalModelPolicy, ReasonCode, RoundState, UpdateStatus
from fedledger.chain.events import RoundFinalized, Transfer, UpdateAccepted, UpdateSubmitted
from fedledger.config import mnist_directory
from fedledger.crypto import (
    Binding,
    GlobalModelBinding,
    NotARecipient,
    OracleKeyFile,
    generate_key_pair,
    is_envelope,
    matches_convergent,
    open_envelope,
)
from fedledger.ml import (
    ExactEvaluator,
    InvalidWeights,
    ModelWeights,
    decode,
    encode,
    load_mnist,
)
from fedledger.ml.aggregation import bounded_fedavg
from fedledger.queries import read_verdicts
from fedledger.storage import cid_from_content_hash, content_hash_of_blob
from oracle.key_files import default_key_file
from tests.integration.conftest import SMALL, Flow

HONEST = [i for i, b in enumerate(SMALL.behaviours()) if b == "honest"]
MALICIOUS = [i for i, b in enumerate(SMALL.behaviours()) if b != "honest"]
ROUNDS = range(1, SMALL.rounds + 1)


def address(flow: Flow, index: int) -> str:
    return flow.demo.cast.participants[index].address


def opened(flow: Flow, event: UpdateSubmitted) -> ModelWeights:
    """The plaintext of a submitted update, opened with the first oracle's key file."""
    ledger = flow.demo.ledger
    keys = OracleKeyFile.load(
        default_key_file(flow.demo.project, flow.demo.cast.oracles[0].address)
    )
    binding = Binding(
        ledger.deployment.chain_id, ledger.coordinator.address, event.round, event.participant
    )
    blob = flow.demo.store.get(cid_from_content_hash(event.content_hash))
    return decode(open_envelope(blob, binding, [pair.private_key for pair in keys.keys]))


def test_updates_in_the_store_are_sealed(local_flow: Flow) -> None:
    ledger, store = local_flow.demo.ledger, local_flow.demo.store
    for event in ledger.events(UpdateSubmitted, round=1):
        blob = store.get(cid_from_content_hash(event.content_hash))
        with pytest.raises(InvalidWeights):  # nobody without an oracle's key can read it
            decode(blob)


def test_every_round_is_finalized_on_chain(local_flow: Flow) -> None:
    coordinator = local_flow.demo.ledger.coordinator
    assert coordinator.current_round() == SMALL.rounds + 1
    for round_ in ROUNDS:
        assert coordinator.get_round(round_).state == RoundState.FINALIZED
    finalized = local_flow.demo.ledger.events(RoundFinalized)
    assert [event.round for event in finalized] == list(ROUNDS)


def test_honest_updates_are_accepted_and_rewarded_by_the_rule(local_flow: Flow) -> None:
    ledger = local_flow.demo.ledger
    rule = ledger.coordinator.reward_rule()
    assert rule.per_score_point > 0  # the demo rewards the score, not only acceptance
    for index in HONEST:
        participant = address(local_flow, index)
        earned = 0
        for round_ in ROUNDS:
            (verdict,) = read_verdicts(ledger, round_, participant)
            assert verdict.status == UpdateStatus.ACCEPTED
            assert verdict.accept_votes >= SMALL.quorum and verdict.reject_votes == 0
            # The recorded score is the lowest of the k agreeing votes that settled it.
            # It is the gain the update adds in the round's company (0 where an oracle
            # measured none: with no base reward that round pays nothing).
            settling = sorted(vote.score for vote in verdict.votes[: SMALL.quorum])
            assert verdict.score == settling[0] >= 0
            assert verdict.reward == rule.base + rule.per_score_point * verdict.score
            earned += verdict.reward
        assert rule.base == 0 and earned > 0  # only measured usefulness is paid
        assert ledger.coordinator.reward_owed(participant) == earned  # credited, to claim
        info = ledger.coordinator.get_participant(participant)
        assert (info.accepted, info.rejected, info.banned) == (SMALL.rounds, 0, False)


#: Why each attack is rejected: the copiers by their sealing and their plaintext, the
#: others by the verification rule.
EXPECTED_REASON = {"copycat": ReasonCode.NOT_AUTHENTIC, "colluder": ReasonCode.DUPLICATE}


@pytest.mark.parametrize("index", MALICIOUS, ids=[SMALL.behaviours()[i] for i in MALICIOUS])
def test_each_attack_is_rejected_with_its_reason_and_earns_nothing(
    local_flow: Flow, index: int
) -> None:
    ledger = local_flow.demo.ledger
    participant = address(local_flow, index)
    reason = EXPECTED_REASON.get(SMALL.behaviours()[index], ReasonCode.FAILED_VERIFICATION)
    for round_ in ROUNDS:
        (verdict,) = read_verdicts(ledger, round_, participant)
        assert verdict.status == UpdateStatus.REJECTED
        assert verdict.reason == reason
        assert verdict.reward == 0 and verdict.reject_votes >= SMALL.quorum
        assert all(vote.reason == reason for vote in verdict.votes)
    assert ledger.token.balance_of(participant) == 0
    assert ledger.coordinator.reward_owed(participant) == 0
    assert not ledger.events(Transfer, to=participant)  # never minted anything
    info = ledger.coordinator.get_participant(participant)
    assert (info.accepted, info.rejected) == (0, SMALL.rounds)


def test_each_global_model_is_the_exact_bounded_average_of_the_accepted_updates(
    local_flow: Flow,
) -> None:
    """Every step from the round's global model clipped to the median accepted norm, equal
    weights, exact (fedledger.ml.aggregation.bounded_fedavg): what the oracles judged."""
    ledger, store = local_flow.demo.ledger, local_flow.demo.store
    for round_ in ROUNDS:
        accepted = {event.participant for event in ledger.events(UpdateAccepted, round=round_)}
        assert accepted == {address(local_flow, i) for i in HONEST}
        updates = [
            opened(local_flow, event)
            for event in ledger.events(UpdateSubmitted, round=round_)
            if event.participant in accepted
        ]
        produced = ledger.coordinator.get_round(round_ + 1).global_model
        # Under the demo's members policy the chain names the sealed aggregate.
        sealed = local_flow.demo.store.get(cid_from_content_hash(produced))
        start = ledger.coordinator.get_round(round_).global_model
        base = decode(open_global_model(local_flow, store.get(cid_from_content_hash(start))))
        expected = bounded_fedavg(base, updates, [1] * len(updates)).model
        assert open_global_model(local_flow, sealed) == encode(expected)


def open_global_model(flow: Flow, sealed: bytes) -> bytes:
    ledger = flow.demo.ledger
    keys = OracleKeyFile.load(
        default_key_file(flow.demo.project, flow.demo.cast.oracles[0].address)
    )
    binding = GlobalModelBinding(ledger.deployment.chain_id, ledger.coordinator.address)
    return open_envelope(sealed, binding, [pair.private_key for pair in keys.keys])


def test_an_outsider_cannot_read_any_global_model_from_the_store(local_flow: Flow) -> None:
    """The demo runs under the members policy: every round's model, genesis included, is
    stored sealed for the oracles and the gateway, and never in plain."""
    ledger, store = local_flow.demo.ledger, local_flow.demo.store
    assert ledger.gateways.global_model_policy() is GlobalModelPolicy.MEMBERS
    binding = GlobalModelBinding(ledger.deployment.chain_id, ledger.coordinator.address)
    for round_ in range(1, SMALL.rounds + 2):
        digest = ledger.coordinator.get_round(round_).global_model
        sealed = store.get(cid_from_content_hash(digest))
        assert is_envelope(sealed)
        with pytest.raises(InvalidWeights):
            decode(sealed)
        with pytest.raises(NotARecipient):
            open_envelope(sealed, binding, [generate_key_pair().private_key])
        plain = open_global_model(local_flow, sealed)
        assert not store.has(cid_from_content_hash(content_hash_of_blob(plain)))
        assert matches_convergent(sealed, plain, binding)  # what participants check


def test_the_report_has_the_issue_schema_and_agrees_with_the_chain(local_flow: Flow) -> None:
    ledger, store = local_flow.demo.ledger, local_flow.demo.store
    payload = json.loads(local_flow.json_path.read_text())
    assert set(payload) == {"config", "rounds", "participants", "final_test_accuracy"}
    assert payload["config"]["participants"] == SMALL.participants
    assert payload["config"]["seed"] == SMALL.seed

    test = ExactEvaluator(load_mnist(mnist_directory()).test, SMALL.architecture)
    minted = 0
    for record, round_ in zip(payload["rounds"], ROUNDS, strict=True):
        assert set(record) == {
            "round", "global_model_hash", "test_accuracy", "accepted", "rejected",
            "tokens_minted", "gas_used", "seconds",
        }  # fmt: skip
        produced = ledger.coordinator.get_round(round_ + 1).global_model
        assert record["round"] == round_
        assert record["global_model_hash"] == "0x" + produced.hex()
        model = decode(open_global_model(local_flow, store.get(cid_from_content_hash(produced))))
        assert record["test_accuracy"] == test.evaluate(model).accuracy
        verdicts = read_verdicts(ledger, round_)
        assert (
            record["accepted"]
            == len(HONEST)
            == sum(v.status == UpdateStatus.ACCEPTED for v in verdicts)
        )
        assert record["rejected"] == len(MALICIOUS)
        assert int(record["tokens_minted"]) == sum(v.reward for v in verdicts) > 0
        # At least the submissions' and the votes' gas (close and proposals come on top).
        submissions = {e.tx_hash for e in ledger.events(UpdateSubmitted, round=round_)}
        floor = sum(int(ledger.client.wait_for_receipt(tx)["gasUsed"], 16) for tx in submissions)
        assert record["gas_used"] > floor > 0
        assert record["seconds"] > 0
        minted += int(record["tokens_minted"])
    # Every reward granted is credited (to claim) or, once claimed, minted.
    credited = sum(ledger.coordinator.reward_owed(p["address"]) for p in payload["participants"])
    assert minted == ledger.token.total_supply() + credited
    assert payload["final_test_accuracy"] == payload["rounds"][-1]["test_accuracy"]

    behaviours = SMALL.behaviours()
    for index, person in enumerate(payload["participants"]):
        assert set(person) == {"address", "behaviour", "accepted", "rejected", "tokens", "banned"}
        info = ledger.coordinator.get_participant(person["address"])
        assert person["address"] == address(local_flow, index)
        assert person["behaviour"] == behaviours[index]
        assert (person["accepted"], person["rejected"]) == (info.accepted, info.rejected)
        held = ledger.token.balance_of(person["address"])
        assert int(person["tokens"]) == held + ledger.coordinator.reward_owed(person["address"])
        assert person["banned"] == info.banned


def test_the_plot_is_written_next_to_the_report(local_flow: Flow) -> None:
    assert local_flow.plot_path == local_flow.json_path.with_suffix(".png")
    data = local_flow.plot_path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 20_000


def test_verification_keeps_the_model_far_better_than_plain_fedavg(local_flow: Flow) -> None:
    report = local_flow.report
    assert report.rounds[-1].test_accuracy > report.rounds[0].test_accuracy > 0.6
    assert report.genesis_accuracy < 0.2
    for record in report.rounds:
        # The sign-flipped update (x5) and the noise wreck the unverified average (less so
        # since the colluder's copy of an honest update is in it too).
        assert record.plain_fedavg_accuracy is not None
        assert record.plain_fedavg_accuracy < record.test_accuracy - 0.1


def test_the_command_with_the_same_seed_gives_the_same_global_models(
    local_flow: Flow, tmp_path: Path
) -> None:
    """`fedledger demo` in a process of its own, same configuration and seed: the same
    global model hash every round (and the table, the report and the plot)."""
    report_path = tmp_path / "again.json"
    arguments = [
        "--oracles", str(SMALL.oracles), "--quorum", str(SMALL.quorum),
        "--participants", str(SMALL.participants), "--malicious", str(SMALL.malicious),
        "--attacks", ",".join(SMALL.attacks), "--rounds", str(SMALL.rounds),
        "--seed", str(SMALL.seed),
        "--samples-per-participant", str(SMALL.samples_per_participant),
        "--validation-size", str(SMALL.validation_size),
        "--out", str(tmp_path / "run"), "--json", str(report_path),
    ]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "fedledger", "demo", *arguments],
        capture_output=True,
        text=True,
        timeout=300,
        # os.environ, not the process's C environment: pytest loads readline, which sets
        # COLUMNS=80 there, and the tables would be cut to 80 columns as on a terminal.
        env=dict(os.environ),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    again = json.loads(report_path.read_text())
    first = [record.global_model_hash for record in local_flow.report.rounds]
    assert [record["global_model_hash"] for record in again["rounds"]] == first
    assert len(set(first)) == SMALL.rounds  # every round moved the model
    assert report_path.with_suffix(".png").is_file()
    assert "final test accuracy" in done.stdout and "tokens minted" in done.stdout
    for record in local_flow.report.participants:
        assert record.address in done.stdout  # the participants table, addresses uncut
