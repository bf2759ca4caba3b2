"""The records local training takes and reports, importable without Keras.

:mod:`fedledger.ml.training` (which loads TensorFlow) trains with a :class:`TrainingConfig`
and reports :class:`TrainingProgress`; the command line reads their defaults from here
to build its options without paying for TensorFlow's import.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class TrainingConfig:
    """Hyper-parameters of local training: mini-batch SGD with momentum on cross-entropy."""

    epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 0.05
    momentum: float = 0.9
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be at least 1")
        if not self.learning_rate > 0 or not 0 <= self.momentum < 1:
            raise ValueError("learning_rate must be positive and momentum in [0, 1)")


@dataclass(frozen=True)
class TrainingProgress:
    """Where training stands after a batch; loss and accuracy are the epoch's running means."""

    epoch: int
    epochs: int
    batch: int
    batches: int
    loss: float
    accuracy: float


ProgressCallback = Callable[[TrainingProgress], None]
