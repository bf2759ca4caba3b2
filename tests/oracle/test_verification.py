"""The verification rule on a small real federation: honest IID and non-IID updates pass,
every attack of fedledger.ml.attacks fails with FAILED_VERIFICATION, more useful updates
score higher, and verdicts are the same integers with 1 and 2 threads."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fedledger.chain.codes import ReasonCode
from fedledger.ml import (
    MNIST_CNN,
    MNIST_MLP,
    Dataset,
    FederatedSplit,
    Mnist,
    ModelWeights,
    attacks,
    encode,
    fedavg,
    federated_split,
    save_dataset,
)
from fedledger.ml.weights import initial_weights
from oracle.verification import (
    MAX_SCORE,
    Check,
    Verdict,
    Verifier,
    VerifierParams,
)
from tests.fixtures.ml import FEDERATION_SEED, FEDERATION_VALIDATION_SIZE
from tests.fixtures.probe import run_probe

#: The reward rule of the tests: 1 token per accepted update plus 1e-7 token per point.
BASE, PER_POINT = 10**18, 10**11


def _train(start: ModelWeights, data: Dataset, seed: int = 0, epochs: int = 1) -> ModelWeights:
    from fedledger.ml.training import TrainingConfig, train_local

    return train_local(start, data, TrainingConfig(epochs=epochs, seed=seed))


@pytest.fixture(scope="module")
def verifier(mnist_federation: FederatedSplit) -> Verifier:
    return Verifier(MNIST_MLP.id, mnist_federation.validation[0])


@pytest.fixture(scope="module")
def global_model(trained_weights: Callable[[str, int], ModelWeights]) -> ModelWeights:
    """A global model some rounds in: the average of the five fixture clients' models."""
    return fedavg([trained_weights(MNIST_MLP.id, client) for client in range(5)])


@pytest.fixture(scope="module")
def non_iid(mnist: Mnist) -> FederatedSplit:
    """Ten Dirichlet(0.5) clients of about 600 images; same oracle sets as the fixture."""
    return federated_split(
        mnist,
        num_clients=10,
        num_oracles=3,
        validation_size=FEDERATION_VALIDATION_SIZE,
        samples_per_client=600,
        alpha=0.5,
        seed=FEDERATION_SEED,
    )


@pytest.fixture(scope="module")
def honest_update(global_model: ModelWeights, mnist_federation: FederatedSplit) -> ModelWeights:
    return _train(global_model, mnist_federation.clients[0], seed=11)


def test_honest_iid_updates_are_accepted(
    verifier: Verifier, global_model: ModelWeights, mnist_federation: FederatedSplit
) -> None:
    for client, data in enumerate(mnist_federation.clients):
        verdict = verifier.verify(global_model, _train(global_model, data, seed=client))
        assert verdict.accept, verdict
        assert verdict.reason == ReasonCode.ACCEPTED and verdict.check == Check.PASSED


def test_honest_non_iid_updates_are_accepted(
    non_iid: FederatedSplit, mnist_federation: FederatedSplit, global_model: ModelWeights
) -> None:
    assert np.array_equal(non_iid.validation[0].labels, mnist_federation.validation[0].labels)
    verifier = Verifier(MNIST_MLP.id, non_iid.validation[0])
    skewed = 0
    for client, data in enumerate(non_iid.clients):
        counts = np.bincount(data.labels, minlength=10)
        skewed += int(np.sum(counts < 0.05 * len(data)) >= 3)  # lacks 3 classes or more
        verdict = verifier.verify(global_model, _train(global_model, data, seed=client))
        assert verdict.accept, (client, counts.tolist(), verdict)
    assert skewed >= 3  # the test really covers clients that lack classes


def _attacked(
    name: str,
    global_model: ModelWeights,
    honest: ModelWeights,
    data: Dataset,
) -> ModelWeights:
    if name == "sign_flip":
        return attacks.sign_flip(global_model, honest)
    if name == "scaling":
        return attacks.boost(global_model, honest)
    if name == "noise":
        return attacks.gaussian_noise(global_model, seed=1)
    if name == "free_rider":
        return attacks.free_ride(global_model)
    if name == "free_rider_disguised":
        return attacks.free_ride(global_model, attacks.FREE_RIDER_NOISE_STD, seed=2)
    if name == "label_flip":
        return _train(global_model, attacks.flip_labels(data), seed=3)
    if name == "backdoor":
        return _train(global_model, attacks.poison_with_trigger(data), seed=4)
    raise AssertionError(name)


@pytest.mark.parametrize(
    ("attack", "check"),
    [
        ("sign_flip", Check.HARMFUL_ALONE),
        ("scaling", Check.HARMFUL_ALONE),
        ("noise", Check.TOO_FAR),
        ("free_rider", Check.UNCHANGED),
        ("free_rider_disguised", Check.DORMANT_INPUTS),
        ("label_flip", Check.HARMFUL_ALONE),
        ("backdoor", Check.DORMANT_INPUTS),
    ],
)
def test_attacks_are_rejected(
    attack: str,
    check: Check,
    verifier: Verifier,
    global_model: ModelWeights,
    honest_update: ModelWeights,
    mnist_federation: FederatedSplit,
) -> None:
    update = _attacked(attack, global_model, honest_update, mnist_federation.clients[1])
    verdict = verifier.verify(global_model, update)
    assert not verdict.accept
    assert verdict.reason == ReasonCode.FAILED_VERIFICATION
    assert verdict.check == check
    assert verdict.score == 0


def test_boosting_in_the_first_round_is_too_far(
    verifier: Verifier, mnist_federation: FederatedSplit
) -> None:
    """From the random initial model a boosted update even looks useful on validation data
    (the initial model is that bad); the bounded step stops it, the honest one passes."""
    start = initial_weights(MNIST_MLP.id, 0)
    honest = _train(start, mnist_federation.clients[3], seed=6)
    accepted = verifier.verify(start, honest)
    boosted = verifier.verify(start, attacks.boost(start, honest))
    assert accepted.accept and accepted.relative_step < verifier.params.max_relative_step // 2
    assert (boosted.accept, boosted.check) == (False, Check.TOO_FAR)
    assert boosted.relative_step > verifier.params.max_relative_step


def test_prepared_and_unprepared_verdicts_agree(
    mnist_federation: FederatedSplit, global_model: ModelWeights, honest_update: ModelWeights
) -> None:
    prepared = Verifier(MNIST_MLP.id, mnist_federation.validation[1])
    prepared.prepare(global_model)
    fresh = Verifier(MNIST_MLP.id, mnist_federation.validation[1])
    assert prepared.verify(global_model, honest_update) == fresh.verify(global_model, honest_update)
    # a new global model replaces the cached one: the verdict follows the model given
    other = initial_weights(MNIST_MLP.id, 3)
    assert prepared.verify(other, honest_update) == fresh.verify(other, honest_update)
    assert prepared.verify(other, honest_update) != prepared.verify(global_model, honest_update)


def test_a_model_outside_the_exact_range_is_rejected(
    verifier: Verifier, global_model: ModelWeights
) -> None:
    huge = ModelWeights(MNIST_MLP.id, tuple(a * 4096 for a in global_model.arrays))
    verdict = verifier.verify(global_model, huge)
    assert (verdict.accept, verdict.reason, verdict.check) == (
        False,
        ReasonCode.FAILED_VERIFICATION,
        Check.OUT_OF_RANGE,
    )


def test_architecture_mismatches(verifier: Verifier, global_model: ModelWeights) -> None:
    cnn = initial_weights(MNIST_CNN.id, 0)
    assert verifier.verify(global_model, cnn).check == Check.WRONG_ARCHITECTURE
    with pytest.raises(ValueError, match="this verifier checks"):
        verifier.verify(cnn, cnn)


def test_more_useful_data_scores_higher_and_earns_more(
    verifier: Verifier, mnist_federation: FederatedSplit
) -> None:
    """Nested shares of one client's data, trained from the same early global model: the
    more data, the larger the contribution's gain, the score and the reward."""
    start = initial_weights(MNIST_MLP.id, 0)
    data = mnist_federation.clients[2]
    verdicts = [
        verifier.verify(start, _train(start, data.subset(np.arange(size)), seed=5))
        for size in (1200, 400, 100)
    ]
    scores = [v.score for v in verdicts]
    assert all(v.accept for v in verdicts), verdicts
    assert scores[0] > scores[1] > scores[2] > 0
    rewards = [BASE + PER_POINT * score for score in scores]
    assert rewards[0] > rewards[1] > rewards[2] > BASE
    assert max(scores) <= MAX_SCORE
    # the score is the contribution's mean margin gain in units of 2**-24 logits
    first = verdicts[0]
    samples = len(mnist_federation.validation[0])
    assert first.score == (first.contribution_change << 8) // samples


def test_in_the_round_judgement_more_useful_data_earns_more_and_a_free_rider_nothing(
    mnist_federation: FederatedSplit,
) -> None:
    """The node's score (the round judgement's measured gain): nested shares of one
    client's data, in the company of four clients trained on all their data, from the
    initial model. The more data, the higher the score and, with the default reward rule
    (no base), the reward, never the other way round; a free-rider in the same round is
    refused and unpaid."""
    from fedledger.chain.deployment import DEFAULT_REWARD_RULE

    start = initial_weights(MNIST_MLP.id, 0)
    company = [_train(start, mnist_federation.clients[c], seed=c) for c in (0, 1, 3, 4)]
    data = mnist_federation.clients[2]
    shares = [_train(start, data.subset(np.arange(size)), seed=5) for size in (1200, 600, 300)]
    rider = attacks.free_ride(start, 1e-3, seed=2)
    verifier = Verifier(MNIST_MLP.id, mnist_federation.validation[0])
    verdicts = verifier.judge_round(start, [*company, *shares, rider]).verdicts
    scores = [v.score for v in verdicts[4:7]]
    assert all(v.accept for v in verdicts[:5]), verdicts
    assert scores[0] > scores[1] >= scores[2], scores
    # From the initial model a shorter step (less data) lowers the equal-weight mean of
    # the round: the half and the quarter share add nothing measurable in this company,
    # so they earn nothing (the quarter is refused as harmful-in-company).
    assert scores[1] == scores[2] == 0
    assert verdicts[6].check == Check.HARMFUL_IN_COMPANY
    rewards = [DEFAULT_REWARD_RULE.reward_for(score) for score in scores]
    assert rewards[0] > rewards[1] >= rewards[2] == 0
    assert (verdicts[-1].accept, verdicts[-1].score) == (False, 0)


def test_dormant_inputs_cover_the_trigger(
    verifier: Verifier, mnist_federation: FederatedSplit
) -> None:
    images = mnist_federation.validation[0].images.reshape(-1, 784)
    dormant = verifier.dormant_inputs
    assert len(dormant) > 50 and not images[:, dormant].any()
    assert images[:, np.setdiff1d(np.arange(784), dormant)].any(axis=0).all()
    trigger = attacks.BADNETS_TRIGGER
    white = [
        r * 28 + c for r, c in trigger.pixels if trigger.pattern[r - trigger.top, c - trigger.left]
    ]
    # MNIST digits rarely reach the bottom right corner: most trigger pixels are dormant
    assert len(set(white) & set(dormant.tolist())) >= 3


def test_parameters_are_checked() -> None:
    with pytest.raises(ValueError, match="contributors"):
        VerifierParams(contributors=0)
    with pytest.raises(ValueError, match="cannot be negative"):
        VerifierParams(alone_tolerance=-1)
    with pytest.raises(ValueError, match="score_frac_bits"):
        VerifierParams(score_frac_bits=40)


def test_verdicts_are_identical_with_one_and_two_threads(
    tmp_path: Path,
    verifier: Verifier,
    global_model: ModelWeights,
    honest_update: ModelWeights,
    mnist_federation: FederatedSplit,
) -> None:
    updates = [
        honest_update,
        attacks.sign_flip(global_model, honest_update),
        attacks.gaussian_noise(global_model, seed=1),
        attacks.free_ride(global_model),
    ]
    validation = mnist_federation.validation[0]
    save_dataset(validation, tmp_path / "validation.npz")
    (tmp_path / "global.bin").write_bytes(encode(global_model))
    paths = []
    for index, update in enumerate(updates):
        paths.append(tmp_path / f"update{index}.bin")
        paths[-1].write_bytes(encode(update))

    def probe(threads: int) -> dict[str, Any]:
        """The probe's report; run_probe checks its thread count and that it has no
        TensorFlow."""
        return run_probe(
            "tests.oracle.verification_probe",
            tmp_path / "validation.npz",
            tmp_path / "global.bin",
            *paths,
            threads=threads,
        )

    one, two = probe(1), probe(2)
    here = [dataclasses.asdict(verifier.verify(global_model, u)) for u in updates]
    assert one["verdicts"] == two["verdicts"] == json.loads(json.dumps(here))
    assert [v["accept"] for v in one["verdicts"]] == [True, False, False, False]


def test_verdict_is_a_frozen_record() -> None:
    verdict = Verdict(accept=True, score=1, reason=ReasonCode.ACCEPTED, check=Check.PASSED)
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdict.score = 2  # type: ignore[misc]
