"""Splitting MNIST among federated clients and oracles, seeded and reproducible.

:func:`federated_split` is the usual entry point: it holds out one class-balanced
validation set per oracle from the 60,000 training images, gives the rest to the clients
(IID, non-IID by a Dirichlet(alpha) draw of each client's class mix, or a few classes per
client by label shards, McMahan et al. 2017) and keeps the
10,000 test images apart, so the three never share an image. The same arguments give the
same split for a given numpy version; the oracle sets depend only on the seed, their
number and size, not on how the clients are cut.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fedledger.ml.architectures import NUM_CLASSES
from fedledger.ml.datasets import Dataset, Mnist

Seed = int | np.random.SeedSequence


class PartitionError(ValueError):
    """The requested split is impossible with the data at hand; the message says what to change."""


@dataclass(frozen=True)
class FederatedSplit:
    """Disjoint data for a simulated federation: per-client data, per-oracle validation, test."""

    clients: tuple[Dataset, ...]
    validation: tuple[Dataset, ...]
    test: Dataset


def iid_partition(num_samples: int, num_clients: int, seed: Seed) -> tuple[np.ndarray, ...]:
    """Shuffle ``range(num_samples)`` and cut it into ``num_clients`` near-equal index sets."""
    if not 1 <= num_clients <= num_samples:
        raise PartitionError(f"cannot split {num_samples} samples among {num_clients} clients")
    order = np.random.default_rng(seed).permutation(num_samples)
    return tuple(np.sort(part) for part in np.array_split(order, num_clients))


def dirichlet_partition(
    labels: np.ndarray,
    num_clients: int,
    alpha: float,
    seed: Seed,
    *,
    min_samples: int = 10,
    max_attempts: int = 1000,
) -> tuple[np.ndarray, ...]:
    """Non-IID index sets: each class is shared among clients in Dirichlet(alpha) proportions.

    Small ``alpha`` (0.1) gives each client few classes, large ``alpha`` (100) approaches
    IID. Draws are repeated until every client holds at least ``min_samples`` samples (the
    usual practice since Hsu et al., 2019), so no client is left without data.
    """
    if alpha <= 0:
        raise PartitionError(f"alpha must be positive, got {alpha}")
    if num_clients < 1 or num_clients * min_samples > len(labels):
        raise PartitionError(
            f"{len(labels)} samples cannot give {num_clients} clients {min_samples} samples each"
        )
    rng = np.random.default_rng(seed)
    by_class = [np.flatnonzero(labels == c) for c in range(NUM_CLASSES)]
    for _ in range(max_attempts):
        parts: list[list[np.ndarray]] = [[] for _ in range(num_clients)]
        for members in by_class:
            shuffled = rng.permutation(members)
            shares = rng.dirichlet(np.full(num_clients, alpha))
            cuts = (np.cumsum(shares)[:-1] * len(shuffled)).astype(np.int64)
            for client, chunk in enumerate(np.split(shuffled, cuts)):
                parts[client].append(chunk)
        sets = tuple(np.sort(np.concatenate(chunks)) for chunks in parts)
        if min(len(s) for s in sets) >= min_samples:
            return sets
    raise PartitionError(
        f"no Dirichlet({alpha}) draw in {max_attempts} gave all {num_clients} clients "
        f"{min_samples} samples; raise alpha, lower min_samples or use fewer clients"
    )


def shard_partition(
    labels: np.ndarray, num_clients: int, classes_per_client: int, seed: Seed
) -> tuple[np.ndarray, ...]:
    """Pathological non-IID index sets (McMahan et al., 2017): the samples sorted by label
    are cut into ``num_clients * classes_per_client`` equal shards and every client gets
    ``classes_per_client`` of them at random, so it holds (at most) that many classes."""
    shards = num_clients * classes_per_client
    if classes_per_client < 1 or shards > len(labels):
        raise PartitionError(
            f"cannot cut {len(labels)} samples into {num_clients} x {classes_per_client} shards"
        )
    rng = np.random.default_rng(seed)
    by_label = np.argsort(labels, kind="stable")
    pieces = np.array_split(by_label, shards)
    order = rng.permutation(shards)
    return tuple(
        np.sort(np.concatenate([pieces[s] for s in order[k::num_clients]]))
        for k in range(num_clients)
    )


def stratified_holdout(
    labels: np.ndarray, num_sets: int, set_size: int, seed: Seed
) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """``num_sets`` disjoint class-balanced index sets of ``set_size``, and the indices left.

    Each set holds ``set_size // 10`` samples of every class; the remainder goes one sample
    each to the lowest class numbers.
    """
    quotas = np.full(NUM_CLASSES, set_size // NUM_CLASSES)
    quotas[: set_size % NUM_CLASSES] += 1
    rng = np.random.default_rng(seed)
    sets: list[list[np.ndarray]] = [[] for _ in range(num_sets)]
    taken = []
    for c in range(NUM_CLASSES):
        members = rng.permutation(np.flatnonzero(labels == c))
        need = num_sets * int(quotas[c])
        if need > len(members):
            raise PartitionError(
                f"class {c} has {len(members)} samples, {num_sets} sets of {set_size} need {need}"
            )
        for index, chunk in enumerate(np.split(members[:need], num_sets)):
            sets[index].append(chunk)
        taken.append(members[:need])
    rest = np.setdiff1d(np.arange(len(labels)), np.concatenate(taken), assume_unique=True)
    return tuple(np.sort(np.concatenate(chunks)) for chunks in sets), rest


def federated_split(
    mnist: Mnist,
    *,
    num_clients: int,
    num_oracles: int,
    validation_size: int = 2000,
    samples_per_client: int | None = None,
    alpha: float | None = None,
    classes_per_client: int | None = None,
    seed: int = 0,
    min_samples: int = 10,
) -> FederatedSplit:
    """Client data, oracle validation sets and the test set, pairwise disjoint.

    ``alpha=None`` splits IID, otherwise by :func:`dirichlet_partition`;
    ``classes_per_client`` (instead of ``alpha``) by :func:`shard_partition`.
    ``samples_per_client`` draws a pool of ``num_clients * samples_per_client`` images for
    the clients (default: every training image not held out for the oracles).
    """
    oracle_seed, pool_seed, client_seed = np.random.SeedSequence(seed).spawn(3)
    oracle_sets, rest = stratified_holdout(
        mnist.train.labels, num_oracles, validation_size, oracle_seed
    )
    pool = rest
    if samples_per_client is not None:
        wanted = num_clients * samples_per_client
        if wanted > len(rest):
            raise PartitionError(
                f"{num_clients} clients x {samples_per_client} samples = {wanted}, but only "
                f"{len(rest)} training images remain after the oracles' validation sets"
            )
        pool = np.sort(np.random.default_rng(pool_seed).choice(rest, wanted, replace=False))
    if alpha is not None and classes_per_client is not None:
        raise PartitionError("give alpha or classes_per_client, not both")
    if classes_per_client is not None:
        client_sets = shard_partition(
            mnist.train.labels[pool], num_clients, classes_per_client, client_seed
        )
    elif alpha is None:
        client_sets = iid_partition(len(pool), num_clients, client_seed)
    else:
        client_sets = dirichlet_partition(
            mnist.train.labels[pool], num_clients, alpha, client_seed, min_samples=min_samples
        )
    return FederatedSplit(
        clients=tuple(mnist.train.subset(pool[indices]) for indices in client_sets),
        validation=tuple(mnist.train.subset(indices) for indices in oracle_sets),
        test=mnist.test,
    )
