"""The test accuracy of the global models the rounds produced, on an evaluation set.

The model a round finalized is fetched from the store (checked against the CID its
on-chain hash names) and evaluated with the exact fixed-point evaluator the oracles use,
once per model: the same bytes always give the same accuracy.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fedledger.crypto import EnvelopeError, is_envelope
from fedledger.ml import Dataset, InvalidWeights, decode, load_dataset
from fedledger.ml.evaluation import ExactEvaluator
from fedledger.storage import BlobStore, StorageError, cid_from_content_hash


class ModelAccuracy:
    """``accuracy(content_hash)`` -> 0..1, or None if the model cannot be fetched or read
    (``failures`` says why, per model; such a model is not tried again).

    Under a non-public policy the store holds the global models sealed for the oracles'
    and gateways' keys: ``opener`` (sealed blob -> plaintext, e.g. with an oracle's or a
    gateway's key file) opens them; without one they are failures that say so.
    """

    def __init__(
        self,
        store: BlobStore,
        dataset: Dataset,
        source: Path,
        max_blob_bytes: int | None = None,
        opener: Callable[[bytes], bytes] | None = None,
    ) -> None:
        self.store = store
        self.opener = opener
        self.dataset = dataset
        self.source = source
        self.max_blob_bytes = max_blob_bytes
        self.failures: dict[bytes, str] = {}
        self._evaluators: dict[str, ExactEvaluator] = {}
        self._known: dict[bytes, float] = {}

    @classmethod
    def from_file(
        cls,
        store: BlobStore,
        path: Path,
        max_blob_bytes: int | None = None,
        opener: Callable[[bytes], bytes] | None = None,
    ) -> ModelAccuracy:
        """On the ``.npz`` evaluation set at ``path`` (``images`` uint8 N x 28 x 28, ``labels``);
        :class:`fedledger.ml.DatasetError` says what is wrong with a bad file."""
        return cls(store, load_dataset(path), path, max_blob_bytes, opener)

    def __len__(self) -> int:
        return len(self.dataset)

    def __call__(self, content_hash: bytes) -> float | None:
        if content_hash in self._known:
            return self._known[content_hash]
        if content_hash in self.failures:  # tried once: a store timeout per poll would stall
            return None
        try:
            cid = cid_from_content_hash(content_hash)
            blob = self.store.get(cid, max_bytes=self.max_blob_bytes)
            if is_envelope(blob):
                if self.opener is None:
                    self.failures[content_hash] = (
                        f"{cid} is sealed for the oracles and gateways (a non-public policy): "
                        "give --key-file, an oracle's or a gateway's encryption key file"
                    )
                    return None
                blob = self.opener(blob)
            weights = decode(blob, max_bytes=self.max_blob_bytes)
            evaluator = self._evaluators.get(weights.architecture)
            if evaluator is None:
                evaluator = ExactEvaluator(self.dataset, weights.architecture)
                self._evaluators[weights.architecture] = evaluator
            accuracy = evaluator.evaluate(weights).accuracy
        except (StorageError, InvalidWeights, EnvelopeError) as exc:
            self.failures[content_hash] = str(exc)
            return None
        self._known[content_hash] = accuracy
        return accuracy
