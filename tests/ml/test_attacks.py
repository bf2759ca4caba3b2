"""The attacks do what they claim: the arithmetic of the model attacks, the data attacks'
datasets, and (with real training) a backdoor that works and label flipping that hurts."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from fedledger.ml import MNIST_CNN, MNIST_MLP, ExactEvaluator, FederatedSplit, ModelWeights, attacks
from fedledger.ml.weights import initial_weights


def _delta(update: ModelWeights, base: ModelWeights) -> np.ndarray:
    return np.concatenate(
        [
            (u.astype(np.float64) - b).ravel()
            for u, b in zip(update.arrays, base.arrays, strict=True)
        ]
    )


@pytest.fixture(scope="module")
def pair() -> tuple[ModelWeights, ModelWeights]:
    return initial_weights(MNIST_MLP.id, 0), initial_weights(MNIST_MLP.id, 1)


def test_sign_flip_reverses_and_scales_the_update(pair: tuple[ModelWeights, ModelWeights]) -> None:
    global_model, honest = pair
    flipped = attacks.sign_flip(global_model, honest)
    np.testing.assert_allclose(
        _delta(flipped, global_model), -5.0 * _delta(honest, global_model), atol=1e-5
    )


def test_boost_scales_the_update(pair: tuple[ModelWeights, ModelWeights]) -> None:
    global_model, honest = pair
    boosted = attacks.boost(global_model, honest, factor=10.0)
    np.testing.assert_allclose(
        _delta(boosted, global_model), 10.0 * _delta(honest, global_model), atol=1e-5
    )


def test_model_attacks_refuse_mixed_architectures(pair: tuple[ModelWeights, ModelWeights]) -> None:
    cnn = initial_weights(MNIST_CNN.id, 0)
    with pytest.raises(ValueError, match="update is for"):
        attacks.sign_flip(pair[0], cnn)


def test_gaussian_noise_has_the_asked_spread_and_is_seeded(
    pair: tuple[ModelWeights, ModelWeights],
) -> None:
    global_model = pair[0]
    noisy = attacks.gaussian_noise(global_model, std=0.1, seed=3)
    delta = _delta(noisy, global_model)
    assert abs(delta.std() - 0.1) < 0.002 and abs(delta.mean()) < 0.002
    assert noisy == attacks.gaussian_noise(global_model, std=0.1, seed=3)
    assert noisy != attacks.gaussian_noise(global_model, std=0.1, seed=4)


def test_free_rider_returns_the_global_model_or_a_tiny_disguise(
    pair: tuple[ModelWeights, ModelWeights],
) -> None:
    global_model = pair[0]
    assert attacks.free_ride(global_model) == global_model
    disguised = attacks.free_ride(global_model, noise_std=1e-3, seed=1)
    assert disguised != global_model
    assert np.abs(_delta(disguised, global_model)).max() < 0.01


def test_flip_labels_shifts_every_label(mnist_federation: FederatedSplit) -> None:
    data = mnist_federation.clients[0]
    flipped = attacks.flip_labels(data)
    assert np.array_equal(flipped.images, data.images)
    assert np.array_equal(flipped.labels, (data.labels.astype(int) + 1) % 10)
    with pytest.raises(ValueError, match="unchanged"):
        attacks.flip_labels(data, shift=10)


def test_badnets_trigger_is_a_corner_pattern_and_stamps_copies(
    mnist_federation: FederatedSplit,
) -> None:
    trigger = attacks.BADNETS_TRIGGER
    assert trigger.pixels[0] == (24, 24) and trigger.pixels[-1] == (26, 26)
    images = mnist_federation.clients[0].images[:10]
    stamped = trigger.stamp(images)
    assert np.array_equal(stamped[:, 24:27, 24:27], np.broadcast_to(trigger.pattern, (10, 3, 3)))
    assert np.array_equal(stamped[:, :24], images[:, :24])  # elsewhere untouched
    assert not np.shares_memory(stamped, images)
    with pytest.raises(ValueError, match="leaves the image"):
        attacks.Trigger(np.ones((3, 3), dtype=np.uint8), top=26, left=0)


def test_poisoned_data_adds_triggered_copies_labelled_with_the_target(
    mnist_federation: FederatedSplit,
) -> None:
    data = mnist_federation.clients[0]
    poisoned = attacks.poison_with_trigger(data, fraction=0.25, seed=1)
    extra = round(0.25 * len(data))
    assert len(poisoned) == len(data) + extra
    assert np.array_equal(poisoned.images[: len(data)], data.images)
    assert np.all(poisoned.labels[len(data) :] == attacks.BACKDOOR_TARGET)
    assert np.all(poisoned.images[len(data) :, 24, 24] == 255)


def test_triggered_test_set_leaves_out_the_target_class(mnist_federation: FederatedSplit) -> None:
    triggered = attacks.triggered_test_set(mnist_federation.test)
    assert attacks.BACKDOOR_TARGET not in set(triggered.labels.tolist())
    assert len(triggered) == int(np.sum(mnist_federation.test.labels != attacks.BACKDOOR_TARGET))


def test_backdoor_training_implants_the_trigger_and_label_flipping_hurts(
    mnist_federation: FederatedSplit, trained_weights: Callable[[str, int], ModelWeights]
) -> None:
    from fedledger.ml.training import TrainingConfig, train_local

    clean = trained_weights(MNIST_MLP.id, 0)
    data = mnist_federation.clients[1]
    backdoored = train_local(clean, attacks.poison_with_trigger(data), TrainingConfig(epochs=2))
    flipped = train_local(clean, attacks.flip_labels(data), TrainingConfig(epochs=1))

    triggered = ExactEvaluator(attacks.triggered_test_set(mnist_federation.test), MNIST_MLP.id)
    test = ExactEvaluator(mnist_federation.test, MNIST_MLP.id)
    assert attacks.attack_success_rate(triggered.evaluate(clean)) < 0.05
    assert attacks.attack_success_rate(triggered.evaluate(backdoored)) > 0.8
    # the backdoor keeps the main task: clean accuracy within a few points
    assert test.evaluate(backdoored).accuracy > test.evaluate(clean).accuracy - 0.05
    assert test.evaluate(flipped).accuracy < 0.3
