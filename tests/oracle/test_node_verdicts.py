"""Oracle nodes verify real blobs from a real store and put the right verdict and reason code
on a real chain: honest updates are accepted and rewarded, every kind of bad input is
rejected with its own code and earns nothing, and a store outage is never held against a
participant."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from fedledger.chain import ChainClient, FedLedger, ReasonCode, UpdateStatus, connect_web3
from fedledger.chain.anvil import free_port
from fedledger.config import NetworkSettings
from fedledger.ml import ModelWeights, encode
from fedledger.storage import (
    Cid,
    IpfsStore,
    LocalStore,
    cid_from_content_hash,
    content_hash_of_blob,
)
from tests.fixtures.chain import TEST_REWARD_RULE
from tests.oracle.conftest import (
    NODE_BLOB_CAP,
    NODE_UNREACHABLE_AFTER,
    BadBlobs,
    NodeBed,
    both_stores,
    settle,
    step_until,
)


@both_stores
def test_every_input_gets_its_verdict_and_reason_on_chain(
    node_bed: NodeBed, node_honest: list[ModelWeights], node_bad_blobs: BadBlobs
) -> None:
    bad = node_bad_blobs
    never_uploaded = content_hash_of_blob(b"a blob nobody ever stored")
    expected = {
        node_bed.submit(0, encode(node_honest[0])): ReasonCode.ACCEPTED,
        node_bed.submit(1, encode(node_honest[1])): ReasonCode.ACCEPTED,
        node_bed.submit(2, digest=never_uploaded): ReasonCode.UNREACHABLE_BLOB,
        node_bed.submit(3, bad.malformed): ReasonCode.MALFORMED,
        node_bed.submit(4, bad.truncated): ReasonCode.MALFORMED,
        node_bed.submit(5, bad.wrong_architecture): ReasonCode.WRONG_SHAPE,
        node_bed.submit(6, bad.wrong_shape): ReasonCode.WRONG_SHAPE,
        node_bed.submit(7, bad.nan): ReasonCode.NON_FINITE,
        node_bed.submit(8, bad.infinite): ReasonCode.NON_FINITE,
        node_bed.submit(9, bad.oversized): ReasonCode.OVERSIZED,
        node_bed.submit(10, bad.out_of_range): ReasonCode.FAILED_VERIFICATION,
        node_bed.submit(11, bad.sign_flip): ReasonCode.FAILED_VERIFICATION,
    }
    started = time.monotonic()
    # Two of the three oracles (k = 2) run; the third is down.
    nodes = [node_bed.node(0), node_bed.node(1)]
    settle(nodes)

    # The missing blob was retried for the whole grace period before the verdict.
    assert time.monotonic() - started >= NODE_UNREACHABLE_AFTER
    assert node_bed.logged("retry")
    # What fails on arrival is rejected at once; the rest waits for the close.
    waiting = {node_bed.participant(i).address for i in (0, 1, 11)}
    assert {vote.participant for vote in node_bed.votes()} == set(expected) - waiting
    node_bed.close_round()
    settle(nodes)
    coordinator = node_bed.bed.admin.coordinator
    for address, reason in expected.items():
        status, recorded = node_bed.status(address)
        accepted = reason == ReasonCode.ACCEPTED
        assert status == (UpdateStatus.ACCEPTED if accepted else UpdateStatus.REJECTED), address
        assert recorded == reason, address
        balance = coordinator.reward_owed(address)  # credited at acceptance
        if accepted:
            score = node_bed.bed.admin.coordinator.get_update(1, address).score
            assert score > 0
            cap = node_bed.bed.admin.coordinator.max_reward_per_update()
            assert balance == TEST_REWARD_RULE.reward_for(score, cap=cap)
        else:
            assert balance == 0, f"{reason.name} was rewarded"

    # Both oracles voted once on every update, each with the expected code.
    votes = node_bed.votes()
    assert len(votes) == 2 * len(expected)
    oracles = {node_bed.bed.oracles[0].address, node_bed.bed.oracles[1].address}
    for vote in votes:
        assert vote.oracle in oracles
        assert vote.reason == expected[vote.participant]
        assert vote.accept == (vote.reason == ReasonCode.ACCEPTED)
    # The logs say the same, with the rule that decided.
    logged = {(r.oracle, r["participant"]): r for r in node_bed.logged("vote")}
    assert len(logged) == len(votes)
    for vote in votes:
        record = logged[(vote.oracle, vote.participant)]
        assert record["reason"] == ReasonCode(vote.reason).name
        assert record["content_hash"].startswith("0x")
    flip = logged[(node_bed.bed.oracles[0].address, node_bed.participant(11).address)]
    assert flip["check"] in {"too-far", "harmful-alone", "harmful-contribution"}
    # Each node fetched and decoded the round's global model once, not per update.
    for oracle in (0, 1):
        assert [r["round"] for r in node_bed.logged("model", oracle)].count(1) == 1


def test_a_tampered_blob_is_a_hash_mismatch(
    node_bed: NodeBed, node_honest: list[ModelWeights]
) -> None:
    # The embedded store's files can be edited behind its back; an IPFS node's blocks not.
    blob = bytearray(node_bed.seal(0, encode(node_honest[2])))
    digest = node_bed.upload(bytes(blob))
    assert isinstance(node_bed.store, LocalStore)
    path = node_bed.store.path_for(Cid.parse(cid_from_content_hash(digest)))
    blob[-1] ^= 0xFF  # one flipped weight byte: still decodes, but not what was submitted
    path.write_bytes(bytes(blob))
    address = node_bed.submit(0, digest=digest)

    settle([node_bed.node(0), node_bed.node(1)])

    assert node_bed.status(address) == (UpdateStatus.REJECTED, ReasonCode.HASH_MISMATCH)
    assert node_bed.bed.admin.token.balance_of(address) == 0


def test_a_store_outage_is_never_a_vote_against_the_participant(
    node_bed: NodeBed, node_honest: list[ModelWeights], tmp_path: Path
) -> None:
    # The embedded store (in tmp_path) can be broken and mended in place.
    blobs = tmp_path / "blobs"
    node = node_bed.node(0)
    node.step()  # loads the round's global model while the store works
    digest = node_bed.upload(node_bed.seal(0, encode(node_honest[0])))
    address = node_bed.submit(0, digest=digest)
    # The store breaks: its directory is replaced by a file, so every read fails.
    blobs.rename(tmp_path / "blobs-away")
    blobs.write_text("not a directory")

    deadline = time.monotonic() + 3 * NODE_UNREACHABLE_AFTER
    reports = []
    while time.monotonic() < deadline:
        reports.append(node.step())
        time.sleep(0.05)
    assert any(report.blocked for report in reports)  # the node knows it is held up
    assert node_bed.votes() == []  # well past the unreachable limit, and still no vote
    errors = [r for r in node_bed.logged("error", 0) if r["stage"] == "fetch"]
    assert errors and "cannot read" in errors[0].message
    assert not node_bed.logged("retry")  # no "not found" clock ran during the outage

    blobs.unlink()
    (tmp_path / "blobs-away").rename(blobs)
    step_until([node], lambda: bool(node_bed.logged("admitted", 0)))
    assert node_bed.votes() == []  # admitted: the vote waits for the close
    node_bed.close_round()
    step_until([node], lambda: bool(node_bed.votes()))
    assert [(v.participant, v.accept) for v in node_bed.votes()] == [(address, True)]


def test_a_node_whose_store_is_down_votes_on_nothing_and_once_says_so(
    node_bed: NodeBed, node_honest: list[ModelWeights]
) -> None:
    node_bed.submit(0, encode(node_honest[0]))
    address = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with IpfsStore(address, max_blob_bytes=NODE_BLOB_CAP, timeout_seconds=1) as nobody:
        node = node_bed.node(0, store=nobody)
        assert node.run(once=True) is False  # --once exits 1: work was left undone

    assert node_bed.votes() == []
    [error] = node_bed.logged("error", 0)
    assert error["stage"] == "global-model" and "no IPFS daemon answers" in error.message


def test_a_node_whose_chain_is_down_keeps_trying_and_once_says_so(
    node_bed: NodeBed, chain_network: NetworkSettings
) -> None:
    oracle = node_bed.bed.oracles[0]
    dead = replace(chain_network, rpc_url=f"http://127.0.0.1:{free_port()}")
    unreachable = FedLedger(
        ChainClient(connect_web3(dead), oracle.client.registry), oracle.deployment, oracle.account
    )
    node = node_bed.node(0, ledger=unreachable)

    reports = [node.step(), node.step()]
    assert all(report.blocked and not report.waiting for report in reports)
    errors = node_bed.logged("error", 0)
    # One line for the problem, not one per retry.
    assert [(e["stage"], e["failures"]) for e in errors] == [("chain", 1)]
    assert "cannot reach the chain" in errors[0].message
    assert node.run(once=True) is False
