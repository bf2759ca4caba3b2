"""How a participant makes its update: honestly, or one of the attacks on purpose.

The attacks are those of :mod:`fedledger.ml.attacks`, so that "a sign-flip attacker" means
the same thing in the benchmark, the tests and the demo. Training imports Keras (and
TensorFlow) only when it runs.

A participant that takes part in many rounds keeps one :class:`UpdateMaker`, whose
:class:`~fedledger.ml.training.LocalTrainer` builds and compiles its Keras model once
instead of every round (about 0.3 s a round, more than an epoch on a small client), and
returns the weights a fresh model would, bit for bit.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import numpy as np

from fedledger.ml import Dataset, ModelWeights, attacks

if TYPE_CHECKING:
    from fedledger.ml.training import LocalTrainer
    from fedledger.ml.training_config import ProgressCallback, TrainingConfig

#: How a participant produces its update. ``honest`` trains on its data; the others are
#: the attacks of :mod:`fedledger.ml.attacks` (the demo's malicious participants), and the
#: two copiers: ``copycat`` submits another participant's sealed blob of the round as it is
#: (:meth:`~fedledger.participant.client.ParticipantClient.run` does the copying), and
#: ``colluder`` trains its partner's run again (its partner's data and seed: the plaintext
#: a partner would hand over), adds tiny noise and seals it as its own, after its partner.
BEHAVIOURS = ("honest", "sign_flip", "noise", "free_rider", "label_flip", "copycat", "colluder")
#: The behaviours that submit only after another participant (a partner) has.
COPIERS = ("copycat", "colluder")
#: The behaviours whose update involves no training (no Keras, no TensorFlow).
UNTRAINED = ("noise", "free_rider", "copycat")


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
    """The weights a participant of ``behaviour`` submits, starting from ``global_weights``
    (one update: :meth:`UpdateMaker.make` with a maker of its own)."""
    return UpdateMaker().make(behaviour, global_weights, dataset, config, progress)


class UpdateMaker:
    """Makes one participant's updates round after round with one Keras model.

    The :class:`~fedledger.ml.training.LocalTrainer` is built on the first update that
    trains (attacks without training never import Keras), or by :meth:`warm_up`, and
    rebuilt only if the architecture changes; every training starts from the weights given
    with a fresh optimizer state, so the result is what a freshly built model gives.

    Several participants hosted in one process may share one maker, each with its own data
    and seed: ``lock`` (held while an update is made) makes them take turns, so their
    updates are exactly those they would make alone.
    """

    def __init__(self, lock: contextlib.AbstractContextManager[object] | None = None) -> None:
        self.trainer: LocalTrainer | None = None
        self._lock: contextlib.AbstractContextManager[object] = lock or contextlib.nullcontext()

    def warm_up(self, architecture: str, config: TrainingConfig | None = None) -> None:
        """Import Keras, build the trainer of ``architecture`` and trace its training step
        for ``config``'s optimizer now: a process that starts before the first round pays
        for TensorFlow before it, not in it."""
        with self._lock:
            self._trainer_for(architecture).warm_up(config)

    def make(
        self,
        behaviour: str,
        global_weights: ModelWeights,
        dataset: Dataset,
        config: TrainingConfig,
        progress: ProgressCallback | None = None,
    ) -> ModelWeights:
        """The weights a participant of ``behaviour`` submits, starting from
        ``global_weights``.

        ``honest`` trains on ``dataset``; ``sign_flip`` reverses and scales the honest
        update; ``noise`` adds Gaussian noise to the global model; ``free_rider`` returns
        the global model disguised by tiny noise, without training; ``label_flip`` trains
        on the data with every label shifted by one class; ``colluder`` trains (on its
        partner's data) and adds tiny noise. Seeds come from ``config.seed``.
        """
        require_behaviour(behaviour)
        if behaviour == "copycat":
            raise ValueError("a copycat makes no update: it submits a copy of another's blob")
        with self._lock:
            return self._make(behaviour, global_weights, dataset, config, progress)

    def _make(
        self,
        behaviour: str,
        global_weights: ModelWeights,
        dataset: Dataset,
        config: TrainingConfig,
        progress: ProgressCallback | None,
    ) -> ModelWeights:
        if behaviour == "noise":
            return attacks.gaussian_noise(global_weights, attacks.NOISE_STD, config.seed)
        if behaviour == "free_rider":
            return attacks.free_ride(global_weights, attacks.FREE_RIDER_NOISE_STD, config.seed)
        data = attacks.flip_labels(dataset) if behaviour == "label_flip" else dataset
        trainer = self._trainer_for(global_weights.architecture)
        trained = trainer.train(global_weights, data, config, progress)
        if behaviour == "sign_flip":
            return attacks.sign_flip(global_weights, trained)
        if behaviour == "colluder":
            return attacks.noisy_copy(
                global_weights, trained, attacks.COLLUDER_NOISE_RELATIVE, config.seed + 1
            )
        return trained

    def _trainer_for(self, architecture: str) -> LocalTrainer:
        from fedledger.ml.training import LocalTrainer  # imports Keras

        if self.trainer is None or self.trainer.spec.id != architecture:
            self.trainer = LocalTrainer(architecture)
        return self.trainer
