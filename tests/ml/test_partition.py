"""Client and oracle splits: disjoint, reproducible, balanced where promised."""

from __future__ import annotations

import numpy as np
import pytest

from fedledger.ml import (
    Dataset,
    FederatedSplit,
    Mnist,
    PartitionError,
    dirichlet_partition,
    federated_split,
    iid_partition,
)
from fedledger.ml.partition import shard_partition, stratified_holdout


@pytest.fixture(scope="module")
def indexed_mnist(mnist: Mnist) -> Mnist:
    """MNIST's labels with images that spell their own training index in the first 3 pixels."""
    count = len(mnist.train)
    images = np.zeros((count, 28, 28), np.uint8)
    index = np.arange(count)
    for byte in range(3):
        images[:, 0, byte] = (index >> (8 * byte)) & 0xFF
    return Mnist(Dataset(images, mnist.train.labels), mnist.test)


def _indices(dataset: Dataset) -> np.ndarray:
    pixels = dataset.images[:, 0, :3].astype(np.int64)
    return pixels[:, 0] | pixels[:, 1] << 8 | pixels[:, 2] << 16


def test_iid_partition_covers_everything_once() -> None:
    parts = iid_partition(1003, 10, seed=4)
    assert sorted(len(p) for p in parts) == [100] * 7 + [101] * 3
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(1003))
    again = iid_partition(1003, 10, seed=4)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again, strict=True))
    assert not np.array_equal(parts[0], iid_partition(1003, 10, seed=5)[0])
    with pytest.raises(PartitionError):
        iid_partition(5, 6, seed=0)


def test_dirichlet_partition_is_skewed_reproducible_and_respects_the_minimum(
    mnist: Mnist,
) -> None:
    labels = mnist.train.labels[:20_000]
    parts = dirichlet_partition(labels, 10, alpha=0.3, seed=1, min_samples=200)
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(len(labels)))
    assert min(len(p) for p in parts) >= 200
    again = dirichlet_partition(labels, 10, alpha=0.3, seed=1, min_samples=200)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again, strict=True))
    # non-IID: the typical client's largest class is far above the IID share of 10 %
    skew = [np.bincount(labels[p], minlength=10).max() / len(p) for p in parts]
    assert np.median(skew) > 0.3
    iid_like = dirichlet_partition(labels, 10, alpha=1000.0, seed=1)
    assert max(np.bincount(labels[p], minlength=10).max() / len(p) for p in iid_like) < 0.15
    with pytest.raises(PartitionError, match="raise alpha"):
        dirichlet_partition(labels[:100], 10, alpha=0.01, seed=0, min_samples=9, max_attempts=5)


def test_stratified_holdout_is_balanced_and_disjoint(mnist: Mnist) -> None:
    sets, rest = stratified_holdout(mnist.train.labels, num_sets=3, set_size=1005, seed=2)
    for chosen in sets:
        counts = np.bincount(mnist.train.labels[chosen], minlength=10)
        assert counts.tolist() == [101] * 5 + [100] * 5
    everything = np.concatenate([*sets, rest])
    assert len(everything) == 60_000 and len(np.unique(everything)) == 60_000


def test_federated_split_keeps_clients_oracles_and_test_apart(indexed_mnist: Mnist) -> None:
    split = federated_split(
        indexed_mnist, num_clients=4, num_oracles=3, validation_size=500, alpha=0.5, seed=3
    )
    assert isinstance(split, FederatedSplit) and split.test is indexed_mnist.test
    groups = [_indices(d) for d in (*split.clients, *split.validation)]
    everything = np.concatenate(groups)
    assert len(everything) == 60_000 and len(np.unique(everything)) == 60_000
    for oracle_set in split.validation:
        assert oracle_set.class_counts().tolist() == [50] * 10
    # labels travel with their images
    for dataset in (*split.clients, *split.validation):
        assert np.array_equal(dataset.labels, indexed_mnist.train.labels[_indices(dataset)])


def test_oracle_sets_do_not_depend_on_how_clients_are_cut(indexed_mnist: Mnist) -> None:
    first = federated_split(indexed_mnist, num_clients=3, num_oracles=2, seed=9)
    second = federated_split(
        indexed_mnist, num_clients=7, num_oracles=2, samples_per_client=100, alpha=1.0, seed=9
    )
    for a, b in zip(first.validation, second.validation, strict=True):
        assert np.array_equal(_indices(a), _indices(b))
    assert sum(len(c) for c in second.clients) == 700
    with pytest.raises(PartitionError, match="remain after the oracles"):
        federated_split(indexed_mnist, num_clients=10, num_oracles=2, samples_per_client=6000)


def test_shard_partition_gives_each_client_two_shards_of_sorted_labels() -> None:
    labels = np.repeat(np.arange(10), 100).astype(np.uint8)
    sets = shard_partition(labels, num_clients=10, classes_per_client=2, seed=0)
    together = np.sort(np.concatenate(sets))
    assert np.array_equal(together, np.arange(1000))  # every sample once
    assert all(len(s) == 100 and len(np.unique(labels[s])) <= 2 for s in sets)
    again = shard_partition(labels, num_clients=10, classes_per_client=2, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(sets, again, strict=True))
    with pytest.raises(PartitionError, match="shards"):
        shard_partition(labels[:5], num_clients=10, classes_per_client=2, seed=0)


def test_federated_split_refuses_alpha_and_classes_per_client_together(mnist: Mnist) -> None:
    with pytest.raises(PartitionError, match="not both"):
        federated_split(
            mnist, num_clients=4, num_oracles=1, alpha=0.5, classes_per_client=2, seed=0
        )
