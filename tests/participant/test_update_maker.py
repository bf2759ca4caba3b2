"""One participant trains every round on one Keras model, and gets the weights a freshly
built model gives from the same global weights."""

from __future__ import annotations

import numpy as np
import pytest

from fedledger.ml import MNIST_MLP, FederatedSplit, ModelWeights, attacks, initial_weights
from fedledger.ml.training_config import TrainingConfig
from fedledger.participant import UpdateMaker, make_update


def _same_bits(a: ModelWeights, b: ModelWeights) -> bool:
    return a.architecture == b.architecture and all(
        x.tobytes() == y.tobytes() for x, y in zip(a.arrays, b.arrays, strict=True)
    )


def test_rounds_reuse_one_model_and_match_fresh_training(
    mnist_federation: FederatedSplit, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fedledger.ml import training

    built: list[str] = []
    build_model = training.build_model

    def counting_build(spec):  # type: ignore[no-untyped-def]
        built.append(spec.id)
        return build_model(spec)

    monkeypatch.setattr(training, "build_model", counting_build)
    data = mnist_federation.clients[0].subset(np.arange(400))
    maker = UpdateMaker()
    assert maker.make("noise", initial_weights(MNIST_MLP.id, 0), data, TrainingConfig(seed=3))
    assert maker.trainer is None and built == []  # attacks without training build nothing

    round_one = initial_weights(MNIST_MLP.id, 0)
    first = maker.make("honest", round_one, data, TrainingConfig(seed=1))
    trainer = maker.trainer
    round_two = first  # the next round's global model
    second = maker.make("honest", round_two, data, TrainingConfig(seed=2))
    flipped = maker.make("sign_flip", round_two, data, TrainingConfig(seed=2))
    assert maker.trainer is trainer and built == [MNIST_MLP.id]  # one model, three trainings

    fresh_first = make_update("honest", round_one, data, TrainingConfig(seed=1))
    fresh_second = make_update("honest", round_two, data, TrainingConfig(seed=2))
    assert len(built) == 3  # make_update builds a model every time
    assert _same_bits(first, fresh_first)
    assert _same_bits(second, fresh_second)
    assert _same_bits(flipped, attacks.sign_flip(round_two, fresh_second))
    assert not _same_bits(first, second)  # the rounds did train from different models
