"""The genesis model: round 1's global model, checked, stored, and named as the chain does."""

from __future__ import annotations

from dataclasses import dataclass

from fedledger.chain import FedLedger, TxResult
from fedledger.crypto import seal_global_model
from fedledger.ml import ModelWeights, decode, encode, initial_weights
from fedledger.storage import BlobStore, store_blob


@dataclass(frozen=True)
class Genesis:
    """A genesis model in the store: its weights, its CID and the content hash that
    ``startTraining`` records (of the sealed blob under a non-public policy)."""

    weights: ModelWeights
    cid: str
    content_hash: bytes
    sealed: bool = False


def seeded_genesis(
    store: BlobStore, architecture: str, seed: int, *, ledger: FedLedger | None = None
) -> Genesis:
    """Seeded initial weights of ``architecture`` (the same on every run), stored (sealed
    as ``ledger``'s global-model policy says, when given)."""
    weights = initial_weights(architecture, seed)
    return _store(store, weights, encode(weights), ledger)


def genesis_from_blob(
    store: BlobStore, blob: bytes, *, max_bytes: int, ledger: FedLedger | None = None
) -> Genesis:
    """A weights file given by the admin: refused unless it decodes as valid weights
    (``InvalidWeights``), then stored as it is (or sealed, as for :func:`seeded_genesis`)."""
    return _store(store, decode(blob, max_bytes=max_bytes), blob, ledger)


def _store(
    store: BlobStore, weights: ModelWeights, blob: bytes, ledger: FedLedger | None
) -> Genesis:
    recipients = ledger.global_model_recipients() if ledger is not None else None
    if ledger is not None:
        blob = seal_global_model(
            blob, ledger.client.chain_id, ledger.coordinator.address, recipients
        )
    stored = store_blob(store, blob)
    return Genesis(weights, stored.cid, stored.content_hash, recipients is not None)


def start_training(ledger: FedLedger, genesis: Genesis) -> TxResult:
    """Open round 1 on ``genesis`` (once per deployment; the admin signs)."""
    return ledger.coordinator.start_training(genesis.content_hash)
