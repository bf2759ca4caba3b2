"""Fixtures of the oracle-node tests: a deployment whose genesis model is a real blob in a real
store (the embedded store in a temporary directory, or the Kubo test daemon), trained
updates and attacks on it, and in-process nodes with small validation sets.

The node tests drive :class:`oracle.node.OracleNode` in-process where they can (fast,
and the log records can be inspected), and run ``fedledger oracle run`` as real
subprocesses for the command line, signals and restarts (test_node_cli.py).
"""

from __future__ import annotations

import contextlib
import struct
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fedledger.chain import FedLedger, ReasonCode, UpdateStatus
from fedledger.chain.errors import RoundNotOpen
from fedledger.chain.events import VoteCast
from fedledger.crypto import Binding, OracleKeyFile, seal
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
)
from fedledger.ml.weights import initial_weights
from fedledger.storage import BlobStore, IpfsStore, LocalStore, content_hash_from_cid
from oracle.logs import LogRecord, NodeLog
from oracle.node import NodeSettings, OracleNode, StepReport
from oracle.settings import Backoff
from tests.fixtures.chain import TEST_ROUND_RULES, Testbed, TestbedFactory
from tests.fixtures.ipfs import KuboDaemon
from tests.fixtures.ml import FEDERATION_SEED, FEDERATION_VALIDATION_SIZE

#: Validation samples per oracle: small keeps every verification at a few milliseconds.
NODE_VALIDATION_SIZE = 500
#: The nodes' blob size cap (the MLP's blobs are 407,145 bytes) and the participants'.
NODE_BLOB_CAP = 1024 * 1024
UPLOAD_CAP = 4 * 1024 * 1024
#: Seconds a blob may stay missing before the nodes vote UNREACHABLE_BLOB.
NODE_UNREACHABLE_AFTER = 1.0
#: Participants registered in the node deployments.
NODE_PARTICIPANTS = 14
SAMPLES = 600
#: Clients of the two-class federation (McMahan et al.'s shards: two classes each).
TWO_CLASS_CLIENTS = 10


@pytest.fixture(scope="session")
def two_classes(mnist: Mnist) -> FederatedSplit:
    """Ten clients of 300 images holding two classes each (McMahan et al.'s shards)."""
    return federated_split(
        mnist,
        num_clients=TWO_CLASS_CLIENTS,
        num_oracles=3,
        validation_size=FEDERATION_VALIDATION_SIZE,
        samples_per_client=300,
        classes_per_client=2,
        seed=FEDERATION_SEED,
    )


@pytest.fixture(scope="session")
def rounds(two_classes: FederatedSplit) -> dict[str, Any]:
    """Two rounds of honest FedAvg on the two-class clients: the first round's global model,
    its honest updates, the second's global model, and the second round's honest updates."""
    from fedledger.ml.training import LocalTrainer, TrainingConfig

    trainer = LocalTrainer(MNIST_MLP)
    first = initial_weights(MNIST_MLP.id, 0)
    updates = [
        trainer.train(first, data, TrainingConfig(seed=c))
        for c, data in enumerate(two_classes.clients)
    ]
    second = fedavg(updates)
    honest = [
        trainer.train(second, data, TrainingConfig(seed=100 + c))
        for c, data in enumerate(two_classes.clients)
    ]
    return {"first": first, "updates": updates, "second": second, "honest": honest}


@pytest.fixture(scope="session")
def node_genesis(trained_weights: Callable[[str, int], ModelWeights]) -> ModelWeights:
    """The round-1 global model: an MLP trained two epochs on fixture client 0."""
    return trained_weights(MNIST_MLP.id, 0)


@pytest.fixture(scope="session")
def node_honest(node_genesis: ModelWeights, mnist_federation: FederatedSplit) -> list[ModelWeights]:
    """Four honest updates: one epoch from the genesis model on fixture clients 1 to 4."""
    from fedledger.ml.training import TrainingConfig, train_local

    return [
        train_local(node_genesis, mnist_federation.clients[client], TrainingConfig(seed=client))
        for client in range(1, 5)
    ]


@pytest.fixture(scope="session")
def node_validation(mnist_federation: FederatedSplit) -> list[Dataset]:
    """The three fixture oracles' validation sets, cut to NODE_VALIDATION_SIZE samples."""
    keep = np.arange(NODE_VALIDATION_SIZE)
    return [validation.subset(keep) for validation in mnist_federation.validation]


@dataclass(frozen=True)
class BadBlobs:
    """Blobs that must each be rejected with one reason code."""

    malformed: bytes
    truncated: bytes
    wrong_architecture: bytes
    wrong_shape: bytes
    nan: bytes
    infinite: bytes
    oversized: bytes
    out_of_range: bytes
    sign_flip: bytes


@pytest.fixture(scope="session")
def node_bad_blobs(node_genesis: ModelWeights, node_honest: list[ModelWeights]) -> BadBlobs:
    honest = encode(node_honest[0])
    header = len(honest) - 4 * node_genesis.parameter_count  # payload starts here
    # The first array's header: the id ends at 8 + len(id), then the array count (2
    # bytes), the dtype code and rank (1 byte each), then the dimensions.
    first_dimension = 8 + len(MNIST_MLP.id) + 2 + 2
    huge = [np.array(array) for array in node_genesis.arrays]
    huge[0][0, 0] = 1e6  # finite, far outside the exact evaluator's range
    return BadBlobs(
        malformed=b"this is not a model blob" * 10,
        truncated=honest[:-10],
        wrong_architecture=encode(initial_weights(MNIST_CNN.id, 0)),
        wrong_shape=_patch(honest, first_dimension, struct.pack("<I", 783)),
        nan=_patch(honest, header + 40, struct.pack("<f", float("nan"))),
        infinite=_patch(honest, header + 80, struct.pack("<f", float("-inf"))),
        oversized=np.random.default_rng(0).bytes(NODE_BLOB_CAP + 1),
        out_of_range=encode(ModelWeights(node_genesis.architecture, tuple(huge))),
        sign_flip=encode(attacks.sign_flip(node_genesis, node_honest[0])),
    )


def _patch(blob: bytes, offset: int, data: bytes) -> bytes:
    return blob[:offset] + data + blob[offset + len(data) :]


@pytest.fixture
def node_store_kind(request: pytest.FixtureRequest) -> str:
    """The embedded store, unless a test parametrizes it (indirect) with "ipfs" too."""
    return str(getattr(request, "param", "local"))


#: ``@both_stores``: run the test against the embedded store and the Kubo daemon.
both_stores = pytest.mark.parametrize("node_store_kind", ["local", "ipfs"], indirect=True)


@pytest.fixture
def node_store_factory(
    node_store_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[[int], BlobStore]]:
    """``factory(cap)``: a new client of this test's store (a directory, or the daemon)."""
    opened: list[BlobStore] = []
    if node_store_kind == "ipfs":
        daemon: KuboDaemon = request.getfixturevalue("ipfs_daemon")

        def factory(cap: int) -> BlobStore:
            opened.append(IpfsStore(daemon.api_url, max_blob_bytes=cap, timeout_seconds=1.0))
            return opened[-1]
    else:

        def factory(cap: int) -> BlobStore:
            opened.append(LocalStore(tmp_path / "blobs", max_blob_bytes=cap))
            return opened[-1]

    yield factory
    for store in opened:
        store.close()


@dataclass
class NodeBed:
    """A deployment on a real genesis blob, a store, and in-process oracle nodes."""

    bed: Testbed
    store: BlobStore  # the participants' client of the store
    new_store: Callable[[int], BlobStore]
    validation: list[Dataset]
    key_files: list[OracleKeyFile]  # one per oracle, registered on chain
    records: list[LogRecord] = field(default_factory=list)

    def participant(self, index: int) -> FedLedger:
        return self.bed.participants[index]

    def upload(self, blob: bytes) -> bytes:
        return content_hash_from_cid(self.store.put(blob))

    def seal(self, index: int, blob: bytes, round_: int | None = None) -> bytes:
        """``blob`` sealed by participant ``index`` for every oracle's key, as the client
        does (for the current round unless ``round_`` is given)."""
        participant = self.participant(index)
        round_ = participant.coordinator.current_round() if round_ is None else round_
        binding = Binding(
            self.bed.deployment.chain_id,
            participant.coordinator.address,
            round_,
            participant.address,
        )
        # The live oracles' keys, read from the chain as the participant client does.
        keys = [key for key in participant.coordinator.encryption_keys().values() if any(key)]
        return bytes(seal(blob, binding, keys))

    def submit(
        self,
        index: int,
        blob: bytes | None = None,
        *,
        digest: bytes | None = None,
        sealed: bool = True,
    ) -> str:
        """Seal ``blob`` for the oracles (unless ``sealed`` is False), upload it and submit it
        for participant ``index`` in the current round (only ``digest`` when given); returns
        the participant's address."""
        if blob is not None:
            digest = self.upload(self.seal(index, blob) if sealed else blob)
        assert digest is not None
        participant = self.participant(index)
        round_ = participant.coordinator.current_round()
        participant.coordinator.submit_update(round_, digest, SAMPLES)
        return participant.address

    def node(
        self,
        oracle: int,
        store: BlobStore | None = None,
        *,
        ledger: FedLedger | None = None,
        **settings: object,
    ) -> OracleNode:
        """A fresh in-process node for oracle ``oracle`` (a restart, if one ran before), or
        for another account (``ledger``) with that oracle's validation data."""
        options: dict[str, object] = {
            "poll_interval": 0.05,
            "unreachable_after": NODE_UNREACHABLE_AFTER,
            "max_blob_bytes": NODE_BLOB_CAP,
            "retry": Backoff(initial=0.05, maximum=0.25),
            **settings,
        }
        ledger = ledger or self.bed.oracles[oracle]
        return OracleNode(
            ledger,
            store or self.new_store(NODE_BLOB_CAP),
            self.validation[oracle],
            self.key_files[oracle],
            NodeSettings(**options),  # type: ignore[arg-type]
            log=NodeLog(ledger.address, [self.records.append]),
        )

    def close_round(self) -> None:
        self.bed.dev.increase_time(TEST_ROUND_RULES.duration + 1)
        # A running node may get there first: nodes close overdue rounds themselves.
        with contextlib.suppress(RoundNotOpen):
            self.bed.admin.coordinator.close_round()

    def votes(self, round_: int = 1) -> list[VoteCast]:
        return self.bed.admin.events(VoteCast, self.bed.deployment.block_number, round=round_)

    def status(self, address: str, round_: int = 1) -> tuple[UpdateStatus, ReasonCode]:
        update = self.bed.admin.coordinator.get_update(round_, address)
        return update.status, ReasonCode(update.reason)

    def logged(self, event: str, oracle: int | None = None) -> list[LogRecord]:
        address = None if oracle is None else self.bed.oracles[oracle].address
        return [
            record
            for record in self.records
            if record.event == event and (address is None or record.oracle == address)
        ]


@pytest.fixture
def node_bed(
    chain_testbed_factory: TestbedFactory,
    node_store_factory: Callable[[int], BlobStore],
    node_genesis: ModelWeights,
    node_validation: list[Dataset],
    tmp_path: Path,
) -> NodeBed:
    """3 oracles with k = 2, each with an encryption key registered, NODE_PARTICIPANTS
    participants, round 1 open on the genesis model, which is in the store; reverted after
    the test."""
    store = node_store_factory(UPLOAD_CAP)
    genesis = content_hash_from_cid(store.put(encode(node_genesis)))
    bed = chain_testbed_factory(participants=NODE_PARTICIPANTS, genesis_model=genesis)
    key_files = register_encryption_keys(bed, tmp_path / "encryption-keys")
    return NodeBed(bed, store, node_store_factory, node_validation, key_files)


def register_encryption_keys(bed: Testbed, folder: Path) -> list[OracleKeyFile]:
    """A key file per oracle in ``folder`` (named by address, where `fedledger oracle run`
    looks by default when ``folder`` is the project's), each key registered on chain."""
    key_files = []
    for oracle in bed.oracles:
        keys = OracleKeyFile.create(folder / f"{oracle.address}.json")
        oracle.coordinator.register_encryption_key(keys.current.public_key)
        key_files.append(keys)
    return key_files


def settle(
    nodes: Sequence[OracleNode], *, timeout: float = 60.0, pause: float = 0.02
) -> list[StepReport]:
    """Step every node until none has work under way (what ``run(once=True)`` does for one
    node), and return each node's last report."""
    deadline = time.monotonic() + timeout
    while True:
        reports = [node.step() for node in nodes]
        if not any(report.waiting for report in reports):
            return reports
        if time.monotonic() > deadline:
            raise AssertionError(f"the nodes still had work after {timeout:g} s: {reports}")
        time.sleep(pause)


def settle_round(
    node_bed: NodeBed, nodes: Sequence[OracleNode], *, timeout: float = 60.0
) -> list[StepReport]:
    """Settle the nodes' checks on arrival, close the round and settle again: the nodes
    judge the round, vote at close and (with k of them) aggregate it."""
    settle(nodes, timeout=timeout)
    node_bed.close_round()
    return settle(nodes, timeout=timeout)


def step_until(
    nodes: Sequence[OracleNode], condition: Callable[[], bool], *, timeout: float = 30.0
) -> None:
    """Step every node until ``condition()`` holds (for work an outage holds up, which
    :func:`settle` does not wait for)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached within {timeout:g} s")
        for node in nodes:
            node.step()
        time.sleep(0.02)
