"""`fedledger participant model|train|submit|status` against the test chain and store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fedledger.chain import ReasonCode, RoundState, StoragePolicy, UpdateStatus, dev_account
from fedledger.chain.events import UpdateSubmitted
from fedledger.ml import MNIST_CNN, Mnist, attacks, decode, encode, initial_weights
from fedledger.queries import read_verdicts
from fedledger.storage import Cid, cid_from_content_hash, content_hash_of_blob
from tests.cli.conftest import OUTSIDER_KEY, PARTICIPANT_KEYS, Cli, CliFactory


@pytest.fixture
def update_file(cli: Cli, tmp_path: Path) -> Path:
    """A valid update of the genesis model (noise: no training needed)."""
    path = tmp_path / "update.flmw"
    path.write_bytes(encode(attacks.gaussian_noise(cli.genesis, 0.01, seed=1)))
    return path


def test_model_shows_the_round_and_writes_the_model_it_fetched(cli: Cli, tmp_path: Path) -> None:
    shown = cli.json("participant", "model")
    genesis_hash = content_hash_of_blob(cli.genesis_blob)
    assert shown["round"] == 1 and shown["state"] == "open"
    assert shown["content_hash"] == "0x" + genesis_hash.hex()
    assert shown["cid"] == cid_from_content_hash(genesis_hash)

    out = tmp_path / "global.flmw"
    fetched = cli.json("participant", "model", "--out", str(out))
    assert out.read_bytes() == cli.genesis_blob
    assert fetched["architecture"] == cli.genesis.architecture
    table = cli.ok("participant", "model")
    assert "round" in table and shown["cid"] in table and "open" in table


def test_a_tampered_global_model_is_refused(cli: Cli, tmp_path: Path) -> None:
    path = cli.store.path_for(
        Cid.parse(cid_from_content_hash(content_hash_of_blob(cli.genesis_blob)))
    )
    original = path.read_bytes()
    try:
        path.chmod(0o644)
        path.write_bytes(original[:-4] + b"\x00\x00\x80\x7f")  # the last weight becomes +inf
        line = cli.fails("participant", "model", "--out", str(tmp_path / "global.flmw"))
    finally:
        path.write_bytes(original)
    assert "hash mismatch" in line
    assert not (tmp_path / "global.flmw").exists()


def test_train_fetches_the_global_model_and_writes_an_update(
    cli: Cli, mnist: Mnist, tmp_path: Path
) -> None:
    data = tmp_path / "mine.npz"
    np.savez(data, images=mnist.train.images[:256], labels=mnist.train.labels[:256])
    out = tmp_path / "update.flmw"
    summary = cli.json(
        "participant", "train", "--data", str(data), "--out", str(out),
        "--epochs", "2", "--batch-size", "64", "--seed", "5",
    )  # fmt: skip
    trained = decode(out.read_bytes())
    assert trained.architecture == cli.genesis.architecture and trained != cli.genesis
    assert summary["samples"] == 256 and summary["epochs"] == 2
    assert summary["content_hash"] == "0x" + content_hash_of_blob(out.read_bytes()).hex()
    assert 0 <= summary["accuracy"] <= 1

    # From a model file instead of the chain, with the same seed: the same update.
    model = tmp_path / "global.flmw"
    model.write_bytes(cli.genesis_blob)
    again = tmp_path / "again.flmw"
    cli.ok(
        "participant", "train", "--data", str(data), "--out", str(again),
        "--model", str(model), "--epochs", "2", "--batch-size", "64", "--seed", "5",
    )  # fmt: skip
    assert again.read_bytes() == out.read_bytes()


def test_train_refuses_bad_inputs(cli: Cli, tmp_path: Path) -> None:
    scaled = tmp_path / "scaled.npz"
    np.savez(scaled, images=np.full((4, 28, 28), 0.5), labels=np.zeros(4, dtype=np.uint8))
    line = cli.fails("participant", "train", "--data", str(scaled), "--out", str(tmp_path / "u"))
    assert "grey levels 0..255" in line
    line = cli.fails(
        "participant", "train", "--data", str(scaled), "--out", str(tmp_path / "u"),
        "--learning-rate", "0",
        code=2,
    )  # fmt: skip
    assert "learning_rate must be positive" in line


def test_submit_uploads_the_update_and_signs_the_submission(cli: Cli, update_file: Path) -> None:
    blob = update_file.read_bytes()
    shown = cli.json(
        "participant", "submit", str(update_file), "--samples", "600", "--key", PARTICIPANT_KEYS[0]
    )
    participant = dev_account(8).address
    (event,) = cli.admin.events(UpdateSubmitted, round=1)
    # What went to the store and the chain is the update sealed for the three oracles.
    sealed = cli.store.get(shown["cid"])
    assert sealed[:4] == b"FLEV" and blob[:1000] not in sealed
    assert (event.participant, event.content_hash, event.num_samples) == (
        participant,
        content_hash_of_blob(sealed),
        600,
    )
    assert shown["cid"] == cid_from_content_hash(event.content_hash)
    assert shown["tx_hash"] == event.tx_hash and shown["gas_used"] > 0
    assert shown["sealed_for"] == [oracle.address for oracle in cli.bed.oracles]

    line = cli.fails(
        "participant", "submit", str(update_file), "--samples", "600", "--key", PARTICIPANT_KEYS[0]
    )
    assert "already submitted in round 1" in line


def test_submit_says_what_to_run_next_with_the_same_key(cli: Cli, update_file: Path) -> None:
    output = cli.ok("participant", "submit", str(update_file), "--samples", "6", "--key", "dev:9")
    assert "fedledger participant status --wait --key dev:9" in output


def test_submit_refusals_name_the_real_problem(cli: Cli, update_file: Path) -> None:
    before = cli.admin.events(UpdateSubmitted)
    # A round that is not the current one: not "already submitted".
    line = cli.fails(
        "participant", "submit", str(update_file), "--samples", "6", "--round", "5",
        "--key", "dev:9",
    )  # fmt: skip
    assert "round 5 is not the current round (round 1 is open)" in line
    assert "already submitted" not in line
    for bad in ("1e80", str(10**80), "0"):
        line = cli.fails(
            "participant", "submit", str(update_file), "--samples", bad, "--key", "dev:9", code=2
        )
        assert "--samples" in line, line
    assert "Invalid value" in cli.fails(
        "participant", "submit", str(update_file), "--samples", "6", "--round", "-1", code=2
    )
    # After the deadline: said before anything is uploaded, with what opens the next round.
    cli.bed.dev.increase_time(3_601)
    line = cli.fails("participant", "submit", str(update_file), "--samples", "6", "--key", "dev:9")
    assert "submission deadline passed" in line and "fedledger round close --wait" in line
    assert cli.admin.events(UpdateSubmitted) == before


def test_submit_refuses_what_the_oracles_would_reject(cli: Cli, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.flmw"
    garbage.write_bytes(b"these are not weights")
    line = cli.fails("participant", "submit", str(garbage), "--samples", "1", "--key", "dev:8")
    assert "not FedLedger weights" in line
    other = tmp_path / "cnn.flmw"
    other.write_bytes(encode(initial_weights(MNIST_CNN.id, 0)))
    line = cli.fails("participant", "submit", str(other), "--samples", "1", "--key", "dev:8")
    assert f"holds {MNIST_CNN.id} weights" in line and "round 1 trains" in line
    assert cli.admin.events(UpdateSubmitted) == []


def test_submit_from_an_unregistered_account_is_refused_by_the_contract(
    cli: Cli, update_file: Path
) -> None:
    line = cli.fails(
        "participant", "submit", str(update_file), "--samples", "9", "--key", OUTSIDER_KEY
    )
    assert "NotParticipant" in line


def test_status_shows_the_verdict_score_reason_and_votes(cli: Cli, tmp_path: Path) -> None:
    good, bad = tmp_path / "good.flmw", tmp_path / "bad.flmw"
    good.write_bytes(encode(attacks.gaussian_noise(cli.genesis, 0.01, seed=1)))
    bad.write_bytes(encode(attacks.gaussian_noise(cli.genesis, 0.01, seed=2)))
    cli.ok("participant", "submit", str(good), "--samples", "10", "--key", "dev:8")
    cli.ok("participant", "submit", str(bad), "--samples", "10", "--key", "dev:9")
    pending = cli.json("participant", "status", "--key", "dev:8")
    assert pending["status"] == "pending" and pending["votes"] == []
    waited = cli.run("participant", "status", "--key", "dev:8", "--wait", "--timeout", "1")
    assert waited.exit_code == 1 and "Traceback" not in waited.output
    progress, line = waited.output.strip().splitlines()[-2:]
    # What it waits for and how far it is, then why it gave up and what to check.
    assert "waiting for the oracles' votes on round 1: 0 accept / 0 reject of 2 needed" in progress
    assert "no verdict" in line and "0 vote(s) of the 2 needed" in line
    assert "are the oracle nodes running (`fedledger oracle run`)" in line

    accepted, rejected = dev_account(8).address, dev_account(9).address
    first, second, _ = cli.bed.oracles
    first.coordinator.vote(1, accepted, True, 9_000)
    second.coordinator.vote(1, accepted, True, 7_000)
    first.coordinator.vote(1, rejected, False, 0, ReasonCode.HASH_MISMATCH)
    second.coordinator.vote(1, rejected, False, 0, ReasonCode.MALFORMED)

    verdict = cli.json("participant", "status", "--key", "dev:8", "--wait")
    rule = cli.admin.coordinator.reward_rule()
    assert verdict["status"] == "accepted" and verdict["score"] == 7_000
    assert int(verdict["reward"]) == rule.base + 7_000 * rule.per_score_point
    assert [vote["score"] for vote in verdict["votes"]] == [9_000, 7_000]
    assert [vote["oracle"] for vote in verdict["votes"]] == [first.address, second.address]

    verdict = cli.json("participant", "status", "--key", "dev:9", "--round", "1")
    assert (verdict["status"], verdict["reason"], verdict["reason_code"]) == (
        "rejected",
        "HASH_MISMATCH",
        int(ReasonCode.HASH_MISMATCH),
    )
    assert [vote["reason"] for vote in verdict["votes"]] == ["HASH_MISMATCH", "MALFORMED"]
    table = cli.ok("participant", "status", "--key", "dev:9")
    assert "rejected" in table and "hash mismatch" in table and "malformed" in table
    assert f"{7_000 / 2**24:.3f} logits" in cli.ok("participant", "status", "--key", "dev:8")

    line = cli.fails("participant", "status", "--key", "dev:10")
    assert "has not submitted an update yet" in line and "--key dev:10" in line
    # A round it did not submit to: said, not an empty table with "score 0".
    line = cli.fails("participant", "status", "--key", "dev:10", "--round", "1")
    assert "submitted no update in round 1" in line
    assert "Invalid value" in cli.fails(
        "participant", "status", "--key", "dev:8", "--round", "-1", code=2
    )


def test_verdicts_survive_the_deletion_of_rejected_records(
    cli_factory: CliFactory, tmp_path: Path
) -> None:
    """Under AcceptedOnly the rejected record is deleted; the verdict comes from events."""
    cli = cli_factory(storage_policy=StoragePolicy.ACCEPTED_ONLY)
    update = tmp_path / "update.flmw"
    update.write_bytes(encode(attacks.gaussian_noise(cli.genesis, 0.01, seed=3)))
    cli.ok("participant", "submit", str(update), "--samples", "10", "--key", "dev:8")
    participant = dev_account(8).address
    for oracle in cli.bed.oracles[:2]:
        oracle.coordinator.vote(1, participant, False, 3, ReasonCode.NON_FINITE)
    assert cli.admin.coordinator.get_update(1, participant).status == UpdateStatus.NONE
    (verdict,) = read_verdicts(cli.admin, 1, participant)
    assert (verdict.status, verdict.reason, verdict.score) == (
        UpdateStatus.REJECTED,
        ReasonCode.NON_FINITE,
        3,
    )
    (submitted,) = cli.admin.events(UpdateSubmitted, round=1)  # the sealed blob's hash
    assert verdict.content_hash == submitted.content_hash
    shown = cli.json("participant", "status", "--key", "dev:8")
    assert (shown["status"], shown["reason"]) == ("rejected", "NON_FINITE")
    assert cli.admin.coordinator.latest_model().state == RoundState.OPEN
