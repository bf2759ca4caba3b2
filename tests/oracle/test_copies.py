"""The copy attacks of issue 10 against real oracle nodes on a real chain: a copied blob fails
to authenticate for its submitter, earns nothing and counts as a strike; one training earns
one reward; an update of an earlier round is refused."""

from __future__ import annotations

import numpy as np

from fedledger.chain import ReasonCode, UpdateStatus
from fedledger.ml import ModelWeights, encode
from tests.oracle.conftest import SAMPLES, NodeBed, settle, settle_round


def rejected_for(node_bed: NodeBed, address: str, reason: ReasonCode, round_: int = 1) -> None:
    assert node_bed.status(address, round_) == (UpdateStatus.REJECTED, reason)
    assert node_bed.bed.admin.coordinator.reward_owed(address) == 0
    assert node_bed.bed.admin.coordinator.get_participant(address).strikes == 1


def accepted(node_bed: NodeBed, address: str, round_: int = 1) -> None:
    assert node_bed.status(address, round_)[0] == UpdateStatus.ACCEPTED
    assert node_bed.bed.admin.coordinator.reward_owed(address) > 0


def test_copycat_submitting_anothers_hash_is_not_authentic(
    node_bed: NodeBed, node_honest: list[ModelWeights]
) -> None:
    author = node_bed.submit(0, encode(node_honest[0]))
    digest = node_bed.bed.admin.coordinator.get_update(1, author).content_hash
    copycat = node_bed.submit(1, digest=digest)  # the same bytes, another submitter

    settle_round(node_bed, [node_bed.node(0), node_bed.node(1)])

    accepted(node_bed, author)
    rejected_for(node_bed, copycat, ReasonCode.NOT_AUTHENTIC)
    checks = {r["participant"]: r["check"] for r in node_bed.logged("vote", 0)}
    assert checks[copycat] == "not-authentic"


def test_front_running_the_authors_hash_gets_the_copier_rejected(
    node_bed: NodeBed, node_honest: list[ModelWeights]
) -> None:
    # B reads A's pending submitUpdate (blob already uploaded) and is mined first.
    digest = node_bed.upload(node_bed.seal(0, encode(node_honest[0])))
    front_runner = node_bed.submit(1, digest=digest)
    author = node_bed.submit(0, digest=digest)
    assert list(node_bed.bed.admin.coordinator.get_update(1, front_runner).content_hash) == list(
        digest
    )

    settle_round(node_bed, [node_bed.node(0), node_bed.node(1)])

    rejected_for(node_bed, front_runner, ReasonCode.NOT_AUTHENTIC)
    accepted(node_bed, author)  # judged on its own: the copy is not an "earlier" training


def test_sybil_copies_earn_nothing(node_bed: NodeBed, node_honest: list[ModelWeights]) -> None:
    author = node_bed.submit(0, encode(node_honest[0]))
    digest = node_bed.bed.admin.coordinator.get_update(1, author).content_hash
    sybils = [node_bed.submit(index, digest=digest) for index in range(1, 6)]

    settle_round(node_bed, [node_bed.node(0), node_bed.node(1)])

    accepted(node_bed, author)
    for sybil in sybils:
        rejected_for(node_bed, sybil, ReasonCode.NOT_AUTHENTIC)


def test_one_training_shared_by_a_group_earns_one_reward(
    node_bed: NodeBed, node_honest: list[ModelWeights], node_genesis: ModelWeights
) -> None:
    shared = node_honest[0]
    rng = np.random.default_rng(5)
    # A partner's plaintext, re-sealed under the colluder's own address with a little noise.
    noised = ModelWeights(
        shared.architecture,
        tuple(
            a + (rng.normal(0, 0.05, a.shape) * np.abs(a - g).mean()).astype(np.float32)
            for a, g in zip(shared.arrays, node_genesis.arrays, strict=True)
        ),
    )
    first = node_bed.submit(0, encode(shared))
    exact = node_bed.submit(1, encode(shared))
    near = node_bed.submit(2, encode(noised))
    independent = node_bed.submit(3, encode(node_honest[1]))

    settle_round(node_bed, [node_bed.node(0), node_bed.node(1)])

    accepted(node_bed, first)
    accepted(node_bed, independent)
    rejected_for(node_bed, exact, ReasonCode.DUPLICATE)
    rejected_for(node_bed, near, ReasonCode.DUPLICATE)
    details = {r["participant"]: r.message for r in node_bed.logged("vote", 1)}
    assert first in details[near] and "per mille" in details[near]


def test_an_update_of_an_earlier_round_is_refused(
    node_bed: NodeBed, node_honest: list[ModelWeights]
) -> None:
    nodes = [node_bed.node(0), node_bed.node(1)]
    author = node_bed.submit(0, encode(node_honest[0]))
    digest = node_bed.bed.admin.coordinator.get_update(1, author).content_hash
    settle_round(node_bed, nodes)  # the oracles judge and aggregate; round 2 opens
    accepted(node_bed, author)
    assert node_bed.bed.admin.coordinator.current_round() == 2

    node_bed.participant(0).coordinator.submit_update(2, digest, SAMPLES)  # a replay
    settle(nodes)

    assert node_bed.status(author, 2) == (UpdateStatus.REJECTED, ReasonCode.NOT_AUTHENTIC)


def test_sealing_mistakes_get_their_own_codes(
    node_bed: NodeBed, node_honest: list[ModelWeights]
) -> None:
    plain = node_bed.submit(0, encode(node_honest[0]), sealed=False)
    tampered_blob = bytearray(node_bed.seal(1, encode(node_honest[1])))
    tampered_blob[-5] ^= 1
    tampered = node_bed.submit(1, bytes(tampered_blob), sealed=False)

    settle_round(node_bed, [node_bed.node(0), node_bed.node(1)])

    rejected_for(node_bed, plain, ReasonCode.MALFORMED)
    rejected_for(node_bed, tampered, ReasonCode.NOT_AUTHENTIC)
    checks = {r["participant"]: r["check"] for r in node_bed.logged("vote", 0)}
    assert checks[plain] == "not-sealed"
