"""Near-identical updates are found with integers; independent trainings are not."""

from __future__ import annotations

import numpy as np

from fedledger.ml import MNIST_MLP, Mnist, ModelWeights, initial_weights
from fedledger.ml.reference_training import train_dense
from fedledger.ml.training_config import TrainingConfig
from oracle.duplicates import (
    DUPLICATE_PER_MILLE,
    SKETCH_BLOCK,
    SketchBook,
    Step,
    first_duplicated,
)


def noisy(update: ModelWeights, base: ModelWeights, relative: float, seed: int) -> ModelWeights:
    """``update`` plus Gaussian noise of ``relative`` times its step's mean magnitude."""
    rng = np.random.default_rng(seed)
    arrays = tuple(
        a + (rng.normal(0, relative, a.shape) * np.abs(a - b).mean()).astype(np.float32)
        for a, b in zip(update.arrays, base.arrays, strict=True)
    )
    return ModelWeights(update.architecture, arrays)


def test_copies_and_lightly_noised_copies_are_duplicates(
    node_genesis: ModelWeights, node_honest: list[ModelWeights]
) -> None:
    original = Step.of(node_honest[0], node_genesis)
    assert Step.of(node_honest[0], node_genesis).duplicates(original)
    for relative in (0.01, 0.1, 0.2):
        copy = Step.of(noisy(node_honest[0], node_genesis, relative, seed=3), node_genesis)
        assert copy.duplicates(original), relative
        assert copy.per_mille_from(original) < DUPLICATE_PER_MILLE


def test_independent_trainings_are_not_duplicates(
    node_genesis: ModelWeights, node_honest: list[ModelWeights]
) -> None:
    steps = [Step.of(update, node_genesis) for update in node_honest]
    for j, step in enumerate(steps):
        for i in range(j):
            assert not step.duplicates(steps[i])
            assert step.per_mille_from(steps[i]) > 2 * DUPLICATE_PER_MILLE


def test_the_first_duplicated_earlier_update_is_named(
    node_genesis: ModelWeights, node_honest: list[ModelWeights]
) -> None:
    earlier = [
        ("0xA", Step.of(node_honest[1], node_genesis)),
        ("0xB", Step.of(node_honest[0], node_genesis)),
    ]
    copy = Step.of(noisy(node_honest[0], node_genesis, 0.05, seed=1), node_genesis)
    found = first_duplicated(copy, earlier)
    assert found is not None and found[0] == "0xB"
    assert first_duplicated(Step.of(node_honest[2], node_genesis), earlier) is None


def test_the_step_is_the_same_integers_from_any_array_layout(
    node_genesis: ModelWeights, node_honest: list[ModelWeights]
) -> None:
    step = Step.of(node_honest[0], node_genesis)
    assert step.values.dtype == np.int64
    again = Step.of(
        ModelWeights(
            node_honest[0].architecture, tuple(np.asfortranarray(a) for a in node_honest[0].arrays)
        ),
        node_genesis,
    )
    assert np.array_equal(step.values, again.values) and step.l1 == again.l1


def test_sketches_rule_out_independent_trainings_and_keep_every_copy(
    node_genesis: ModelWeights, node_honest: list[ModelWeights]
) -> None:
    """The sketch's bound is a true lower bound, loose enough to leave every duplicate open
    and tight enough to rule independent trainings out without their full steps."""
    steps = [Step.of(update, node_genesis) for update in node_honest]
    for j, step in enumerate(steps):
        for i in range(j):
            assert step.sketch.lower_bound(steps[i].sketch) <= step.distance(steps[i])
            assert not step.sketch.may_duplicate(steps[i].sketch)
    for relative in (0.0, 0.1, 0.2):
        copy = Step.of(noisy(node_honest[0], node_genesis, relative, seed=5), node_genesis)
        assert copy.sketch.lower_bound(steps[0].sketch) <= copy.distance(steps[0])
        assert copy.sketch.may_duplicate(steps[0].sketch)
    sums = steps[0].sketch.block_sums  # a quarter of the weights, in half the bytes each
    assert sums.dtype == np.int32 and sums.size == -(-steps[0].values.size // SKETCH_BLOCK)


def test_sketches_rule_out_alike_honest_trainings_from_one_model(mnist: Mnist) -> None:
    """Honest one-epoch steps of 500 IID images each from one model are alike (about 0.6 of
    their L1 apart, where independent noise would be 1.4): the sketch must still rule every
    pair out alone, or a round reads every earlier step again for each update (quadratic)."""
    genesis = initial_weights(MNIST_MLP.id, 0)
    steps = []
    for client in range(6):
        chosen = np.random.default_rng([11, client]).choice(len(mnist.train), 500, replace=False)
        trained = train_dense(genesis, mnist.train.subset(chosen), TrainingConfig(seed=client))
        steps.append(Step.of(trained, genesis))
    for j, step in enumerate(steps):
        for i in range(j):
            assert 1000 * step.distance(steps[i]) < 700 * max(step.l1, steps[i].l1)  # alike
            assert not step.sketch.may_duplicate(steps[i].sketch)


def test_first_duplicated_on_sketches_reads_only_candidates_in_chain_order(
    node_genesis: ModelWeights, node_honest: list[ModelWeights]
) -> None:
    full = {
        "0xA": Step.of(node_honest[1], node_genesis),
        "0xB": Step.of(node_honest[0], node_genesis),
        "0xC": Step.of(noisy(node_honest[0], node_genesis, 0.01, seed=2), node_genesis),
    }
    read: list[str] = []

    def full_step(participant: str) -> Step:
        read.append(participant)
        return full[participant]

    earlier = [(p, s.sketch) for p, s in full.items()]
    copy = Step.of(noisy(node_honest[0], node_genesis, 0.05, seed=1), node_genesis)
    assert first_duplicated(copy, earlier, full_step) == first_duplicated(copy, list(full.items()))
    assert first_duplicated(copy, earlier, full_step)[0] == "0xB"  # type: ignore[index]
    assert "0xA" not in read  # ruled out by its sketch alone
    read.clear()
    assert first_duplicated(Step.of(node_honest[2], node_genesis), earlier, full_step) is None
    assert read == []


def test_the_sketch_book_leaves_open_exactly_the_pairs_the_sketches_do(
    node_genesis: ModelWeights, node_honest: list[ModelWeights]
) -> None:
    steps = {f"0x{i}": Step.of(update, node_genesis) for i, update in enumerate(node_honest)}
    steps["0xcopy"] = Step.of(noisy(node_honest[0], node_genesis, 0.05, seed=4), node_genesis)
    book = SketchBook()
    for participant, step in steps.items():
        book.add(participant, step.sketch)
    for step in steps.values():
        expected = {p for p, other in steps.items() if step.sketch.may_duplicate(other.sketch)}
        assert book.open_pairs(step.sketch) == expected
    assert book.open_pairs(steps["0x0"].sketch) == {"0x0", "0xcopy"}


def test_the_sketch_book_is_exact_over_many_chunks_and_wide_block_sums() -> None:
    """More rows than one chunk of open_pairs, near-duplicates at the limit either side,
    and a sketch whose block sums need int64: the book answers as the pairwise rule, and
    gives back every sketch it holds."""
    rng = np.random.default_rng(7)
    base = rng.integers(-(2**20), 2**20, size=(20, 64)) * 16
    steps = {}
    for i in range(150):
        values = base[i % 20] + rng.integers(-(2**18), 2**18, size=64) * (1 + i // 20)
        steps[f"0x{i}"] = Step(values.astype(np.int64).ravel(), int(np.abs(values).sum()))
    wide = np.full(64, 2**33, dtype=np.int64)
    steps["0xwide"] = Step(wide, int(np.abs(wide).sum()))
    book = SketchBook()
    for participant, step in steps.items():
        book.add(participant, step.sketch)
    assert len(book) == len(steps)
    for participant, step in steps.items():
        again = book.get(participant)
        assert again.l1 == step.sketch.l1 and again.size == step.sketch.size
        assert np.array_equal(again.block_sums, step.sketch.block_sums)
        assert again.block_sums.dtype == step.sketch.block_sums.dtype
    opened = 0
    for step in [*list(steps.values())[::7], steps["0xwide"]]:
        expected = {p for p, other in steps.items() if step.sketch.may_duplicate(other.sketch)}
        assert book.open_pairs(step.sketch) == expected
        opened += len(expected) > 1
    assert opened  # some pairs are left open, not only a step with itself
