"""The genesis model: round 1's global model, checked, stored, and named as the chain does."""

from __future__ import annotations

from dataclasses import dataclass

from fedledger.chain import FedLedger, TxResult
from fedledger.ml import ModelWeights, decode, encode, initial_weights
from fedledger.storage import BlobStore, store_blob


@dataclass(frozen=True)
class Genesis:
    """A genesis model in the store: its weights, its CID and the content hash that
    ``startTraining`` records."""

    weights: ModelWeights
    cid: str
    content_hash: bytes


def seeded_genesis(store: BlobStore, architecture: str, seed: int) -> Genesis:
    """Seeded initial weights of ``architecture`` (the same on every run), stored."""
    weights = initial_weights(architecture, seed)
    stored = store_blob(store, encode(weights))
    return Genesis(weights, stored.cid, stored.content_hash)


def genesis_from_blob(store: BlobStore, blob: bytes, *, max_bytes: int) -> Genesis:
    """A weights file given by the admin: refused unless it decodes as valid weights
    (``InvalidWeights``), then stored as it is."""
    weights = decode(blob, max_bytes=max_bytes)
    stored = store_blob(store, blob)
    return Genesis(weights, stored.cid, stored.content_hash)


def start_training(ledger: FedLedger, genesis: Genesis) -> TxResult:
    """Open round 1 on ``genesis`` (once per deployment; the admin signs)."""
    return ledger.coordinator.start_training(genesis.content_hash)
