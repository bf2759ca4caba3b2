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


def test_participants_sharing_one_maker_take_turns_and_get_their_own_updates(
    mnist_federation: FederatedSplit,
) -> None:
    """Participants hosted in one process share a maker (one Keras model): trained from
    threads at once, each gets the update it would make alone, and no two make at once."""
    import threading

    class CountingLock:
        def __init__(self) -> None:
            self._lock = threading.Lock()
            self.holders = 0
            self.most = 0

        def __enter__(self) -> None:
            self._lock.acquire()
            self.holders += 1
            self.most = max(self.most, self.holders)

        def __exit__(self, *exc_info: object) -> None:
            self.holders -= 1
            self._lock.release()

    lock = CountingLock()
    maker = UpdateMaker(lock=lock)
    maker.warm_up(MNIST_MLP.id)
    assert maker.trainer is not None  # built before the first round
    start = initial_weights(MNIST_MLP.id, 0)
    work = [
        ("honest", mnist_federation.clients[0].subset(np.arange(300)), 1),
        ("sign_flip", mnist_federation.clients[1].subset(np.arange(300)), 2),
        ("label_flip", mnist_federation.clients[2].subset(np.arange(300)), 3),
    ]
    results: dict[int, ModelWeights] = {}

    def make(index: int) -> None:
        behaviour, data, seed = work[index]
        results[index] = maker.make(behaviour, start, data, TrainingConfig(seed=seed))

    threads = [threading.Thread(target=make, args=(i,)) for i in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert lock.most == 1  # they took turns
    for index, (behaviour, data, seed) in enumerate(work):
        alone = make_update(behaviour, start, data, TrainingConfig(seed=seed))
        assert _same_bits(results[index], alone), behaviour
    assert not _same_bits(results[0], results[2])
