"""Whole rounds with in-process nodes on a real chain and store: two of three oracles judge
the round at close and finalize it on the same, independently computed bounded aggregate;
a node started late (or restarted) catches up from the chain alone and never votes twice."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from fedledger.chain import ReasonCode, RoundState, UpdateStatus
from fedledger.chain.events import AggregateProposed, RoundFinalized
from fedledger.ml import ModelWeights, decode, encode
from fedledger.ml.aggregation import bounded_fedavg
from fedledger.storage import cid_from_content_hash, content_hash_of_blob
from oracle.verification import VerifierParams
from tests.fixtures.chain import TEST_ROUND_RULES
from tests.oracle.conftest import UPLOAD_CAP, BadBlobs, NodeBed, both_stores, settle


@both_stores
def test_two_of_three_oracles_finalize_the_round_on_the_same_aggregate(
    node_bed: NodeBed,
    node_honest: list[ModelWeights],
    node_bad_blobs: BadBlobs,
    node_genesis: ModelWeights,
) -> None:
    honest = [node_bed.submit(index, encode(update)) for index, update in enumerate(node_honest)]
    attacker = node_bed.submit(len(honest), node_bad_blobs.sign_flip)
    nodes = [node_bed.node(0), node_bed.node(1)]  # oracle 2 is down all round
    settle(nodes)
    # Everything passed the checks on arrival: it waits for the close, no vote yet.
    assert node_bed.votes() == []
    for address in [*honest, attacker]:
        assert node_bed.status(address)[0] == UpdateStatus.PENDING

    node_bed.close_round()
    reports = settle(nodes)

    for address in honest:
        assert node_bed.status(address) == (UpdateStatus.ACCEPTED, ReasonCode.ACCEPTED)
    assert node_bed.status(attacker) == (UpdateStatus.REJECTED, ReasonCode.FAILED_VERIFICATION)
    assert [report.proposals for report in reports] == [1, 1]
    admin = node_bed.bed.admin
    start = node_bed.bed.deployment.block_number
    proposals = admin.events(AggregateProposed, start, round=1)
    # The bounded aggregate of the accepted updates, computed here independently.
    aggregate = bounded_fedavg(node_genesis, node_honest, [1] * len(node_honest)).model
    expected = content_hash_of_blob(encode(aggregate))
    assert [p.content_hash for p in proposals] == [expected, expected]
    assert {p.oracle for p in proposals} == {node.address for node in nodes}
    assert [f.global_model for f in admin.events(RoundFinalized, start)] == [expected]
    model = admin.coordinator.latest_model()
    assert (model.round, model.state, model.content_hash) == (2, RoundState.OPEN, expected)
    # The new global model is in the store, and it is the average of the accepted updates.
    stored = node_bed.new_store(UPLOAD_CAP).get(cid_from_content_hash(expected))
    assert decode(stored) == aggregate
    for record in node_bed.logged("propose"):
        assert record["content_hash"] == "0x" + expected.hex()
        assert record["updates"] == len(honest)


def test_a_late_or_restarted_oracle_catches_up_from_the_chain_alone(
    node_bed: NodeBed,
    node_honest: list[ModelWeights],
    node_bad_blobs: BadBlobs,
    node_genesis: ModelWeights,
) -> None:
    # Everything is submitted before any oracle runs.
    honest = [node_bed.submit(index, encode(update)) for index, update in enumerate(node_honest)]
    malformed = node_bed.submit(len(honest), node_bad_blobs.malformed)
    first, second = (oracle.address for oracle in node_bed.bed.oracles[:2])

    settle([node_bed.node(0)])  # the malformed blob is rejected on arrival, the rest waits
    assert [(vote.oracle, vote.participant) for vote in node_bed.votes()] == [(first, malformed)]

    # A restart: a new node for the same oracle finds its vote on chain and casts none.
    skipped = len(node_bed.logged("skip", 0))
    reports = settle([node_bed.node(0)])
    assert reports[0].votes == 0
    assert len(node_bed.votes()) == 1
    assert len(node_bed.logged("skip", 0)) - skipped == 1

    # A second oracle, started late, settles the malformed one with the first one's vote.
    settle([node_bed.node(1)])
    assert node_bed.status(malformed)[0] == UpdateStatus.REJECTED
    assert len(node_bed.votes()) == 2

    # The round closes while no oracle runs; each one, started afterwards, judges the round
    # and votes, and once nothing is pending, proposes.
    node_bed.close_round()
    assert settle([node_bed.node(1)])[0].proposals == 0  # one vote of k = 2 on each
    assert settle([node_bed.node(0)])[0].proposals == 1
    assert [node_bed.status(address)[0] for address in honest] == [UpdateStatus.ACCEPTED] * 4
    assert node_bed.bed.admin.coordinator.latest_model().state == RoundState.CLOSED
    assert settle([node_bed.node(0)])[0].proposals == 0  # restarted: already proposed
    assert settle([node_bed.node(1)])[0].proposals == 1
    votes = node_bed.votes()
    assert Counter(vote.oracle for vote in votes) == {first: 5, second: 5}
    assert len({(vote.oracle, vote.participant) for vote in votes}) == len(votes)
    model = node_bed.bed.admin.coordinator.latest_model()
    aggregate = bounded_fedavg(node_genesis, node_honest, [1] * len(node_honest)).model
    assert (model.round, model.content_hash) == (2, content_hash_of_blob(encode(aggregate)))


def test_nodes_go_on_into_the_next_round_on_the_aggregate_they_proposed(
    node_bed: NodeBed, node_honest: list[ModelWeights], node_genesis: ModelWeights
) -> None:
    # A rule change during round 1 applies to the verifier from round 2 on, for every oracle.
    rules = replace(TEST_ROUND_RULES, contribution_target=4)
    node_bed.bed.admin.coordinator.set_round_rules(rules)
    nodes = [node_bed.node(0), node_bed.node(1)]
    for index, update in enumerate(node_honest[:2]):
        node_bed.submit(index, encode(update))
    settle(nodes)
    node_bed.close_round()
    settle(nodes)
    assert node_bed.bed.admin.coordinator.latest_model().round == 2

    # Round 2 trains from the aggregate: an update identical to it changes nothing and is
    # refused (the verifier's "unchanged" check), which shows the nodes judge against it.
    aggregate = bounded_fedavg(node_genesis, node_honest[:2], [1, 1]).model
    free_rider = node_bed.submit(5, encode(aggregate))
    settle(nodes)
    assert node_bed.status(free_rider, round_=2) == (
        UpdateStatus.REJECTED,
        ReasonCode.FAILED_VERIFICATION,
    )
    checks = {record["check"] for record in node_bed.logged("vote") if record["round"] == 2}
    assert checks == {"unchanged"}
    # Each node loaded each round's model once; round 2's came from its own proposal.
    loaded = [
        (record["round"], record["source"], record["contributors"])
        for record in node_bed.logged("model", 0)
    ]
    default = VerifierParams().contributors
    assert loaded == [(1, "store", default), (2, "own proposal", rules.contribution_target)]


def test_an_account_that_is_not_an_oracle_waits_until_the_admin_adds_it(
    node_bed: NodeBed, node_honest: list[ModelWeights]
) -> None:
    address = node_bed.submit(0, encode(node_honest[0]))
    node = node_bed.node(2, ledger=node_bed.bed.outsider)

    report = node.step()

    assert report.blocked and not report.waiting
    assert len(node_bed.logged("not-oracle")) == 1
    assert node_bed.votes() == []
    node_bed.bed.admin.coordinator.add_oracle(node.address, 3)  # 4 oracles, k = 3
    settle([node])
    assert node_bed.logged("registered")
    # No key on chain: nothing is sealed for this oracle, it cannot judge and says so.
    assert node_bed.votes() == []
    assert "has no encryption key on chain" in node_bed.logged("cannot-open")[0].message
    node_bed.bed.outsider.coordinator.register_encryption_key(
        node.intake.key_file.current.public_key
    )
    later = node_bed.submit(1, encode(node_honest[1]))  # sealed for its key too
    settle([node])
    assert [record["participant"] for record in node_bed.logged("admitted")] == [later]
    node_bed.close_round()
    settle([node])
    assert [(vote.oracle, vote.participant) for vote in node_bed.votes()] == [(node.address, later)]
    assert address != later
