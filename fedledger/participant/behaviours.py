"""How a participant makes its update: honestly, or one of the attacks on purpose.

The attacks are those of :mod:`fedledger.ml.attacks`, so that "a sign-flip attacker" means
the same thing in the benchmark, the tests and the demo. Training imports Keras (and
TensorFlow) only when it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fedledger.ml import Dataset, ModelWeights, attacks

if TYPE_CHECKING:
    from fedledger.ml.training_config import ProgressCallback, TrainingConfig

#: How a participant produces its update. ``honest`` trains on its data; the others are
#: the attacks of :mod:`fedledger.ml.attacks` (the demo's malicious participants).
BEHAVIOURS = ("honest", "sign_flip", "noise", "free_rider", "label_flip")


def derive_seed(seed: int, *path: int) -> int:
    """A seed derived from ``seed`` and a path of integers (a round, a participant's
    index): independent streams, the same on every run."""
    return int(np.random.SeedSequence([seed, *path]).generate_state(1)[0])


def require_behaviour(behaviour: str) -> None:
    if behaviour not in BEHAVIOURS:
        raise ValueError(f"unknown behaviour {behaviour!r}; choose one of {', '.join(BEHAVIOURS)}")


def make_update(
    behaviour: str,
    global_weights: ModelWeights,
    dataset: Dataset,
    config: TrainingConfig,
    progress: ProgressCallback | None = None,
) -> ModelWeights:
    """The weights a participant of ``behaviour`` submits, starting from ``global_weights``.

    ``honest`` trains on ``dataset``; ``sign_flip`` reverses and scales the honest update;
    ``noise`` adds Gaussian noise to the global model; ``free_rider`` returns the global
    model disguised by tiny noise, without training; ``label_flip`` trains on the data
    with every label shifted by one class. Seeds come from ``config.seed``.
    """
    require_behaviour(behaviour)
    if behaviour == "noise":
        return attacks.gaussian_noise(global_weights, attacks.NOISE_STD, config.seed)
    if behaviour == "free_rider":
        return attacks.free_ride(global_weights, attacks.FREE_RIDER_NOISE_STD, config.seed)

    from fedledger.ml.training import train_local  # imports Keras

    data = attacks.flip_labels(dataset) if behaviour == "label_flip" else dataset
    trained = train_local(global_weights, data, config, progress)
    if behaviour == "sign_flip":
        return attacks.sign_flip(global_weights, trained)
    return trained
