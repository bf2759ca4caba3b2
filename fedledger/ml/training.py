"""Local training for participants: global weights + local data -> updated weights (Keras).

Importing this module imports Keras and TensorFlow. :func:`train_local` builds and
compiles a fresh model on every call, which costs about 0.2 s of tracing on top of the
epochs; a process that trains many updates of one architecture (a benchmark, a simulation)
keeps a :class:`LocalTrainer`, whose one model starts every call with a fresh optimizer
state and so returns the same weights, bit for bit.

Reproducibility: the only randomness is the order of the samples, drawn per epoch from
``numpy.random.default_rng(config.seed)`` (Keras' global seeds are never touched). On one
machine with the same TensorFlow build and thread settings, the same call gives the same
weights; across machines float rounding may differ, which the protocol does not need to
prevent: oracles verify the submitted bytes, not the training.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from fedledger.ml.architectures import IMAGE_SHAPE, Architecture, as_architecture, model_input
from fedledger.ml.datasets import Dataset
from fedledger.ml.keras_import import keras
from fedledger.ml.keras_models import build_model, extract_weights, load_weights
from fedledger.ml.training_config import ProgressCallback, TrainingConfig, TrainingProgress
from fedledger.ml.weights import ModelWeights, initial_weights


def train_local(
    global_weights: ModelWeights,
    dataset: Dataset,
    config: TrainingConfig | None = None,
    progress: ProgressCallback | None = None,
) -> ModelWeights:
    """Train from ``global_weights`` on ``dataset``; returns the updated weights.

    :meth:`LocalTrainer.train` on a model built for this one call; ``progress`` is called
    after every batch (the CLI draws a progress bar with it).
    """
    return LocalTrainer(global_weights.spec).train(global_weights, dataset, config, progress)


class LocalTrainer:
    """Local training on one Keras model of one architecture, built once.

    Every :meth:`train` call starts from the weights it is given, with the optimizer's
    momentum buffers and iteration count at zero, so it returns the weights a freshly built
    and compiled model would (what :func:`train_local` does), bit for bit; a change of
    learning rate or momentum compiles the model again.
    """

    def __init__(self, architecture: str | Architecture) -> None:
        self.spec = as_architecture(architecture)
        self._model = build_model(self.spec)
        self._compiled_for: tuple[float, float] | None = None  # (learning rate, momentum)

    def train(
        self,
        global_weights: ModelWeights,
        dataset: Dataset,
        config: TrainingConfig | None = None,
        progress: ProgressCallback | None = None,
    ) -> ModelWeights:
        """Train from ``global_weights`` (of this trainer's architecture) on ``dataset``
        with ``config`` (default: :class:`TrainingConfig`'s defaults); returns the updated
        weights. ``progress`` is called after every batch."""
        config = config or TrainingConfig()
        if len(dataset) == 0:
            raise ValueError("cannot train on an empty data set")
        if global_weights.architecture != self.spec.id:
            raise ValueError(
                f"this trainer trains {self.spec.id}; the weights given are "
                f"{global_weights.architecture} (use a LocalTrainer of that architecture)"
            )
        model = self._model
        load_weights(model, global_weights)
        self._fresh_optimizer(config)
        inputs = model_input(self.spec, dataset.images)
        labels = dataset.labels.astype(np.int64)
        batches = math.ceil(len(dataset) / config.batch_size)
        rng = np.random.default_rng(config.seed)
        for epoch in range(1, config.epochs + 1):
            order = rng.permutation(len(dataset))
            callbacks = [_Reporter(progress, epoch, config.epochs, batches)] if progress else []
            model.fit(
                inputs[order],
                labels[order],
                batch_size=config.batch_size,
                epochs=1,
                shuffle=False,
                verbose=0,
                callbacks=callbacks,
            )
        return extract_weights(model, self.spec.id)

    def warm_up(self, config: TrainingConfig | None = None) -> None:
        """Train once on ``batch_size + 1`` blank images (a full batch and a partial one),
        so that Keras compiles and traces its training step now rather than in the first
        real :meth:`train`. Changes nothing a later call returns: each starts from the
        weights it is given with a fresh optimizer state."""
        config = replace(config or TrainingConfig(), epochs=1)
        count = config.batch_size + 1
        blank = Dataset(
            np.zeros((count, *IMAGE_SHAPE), dtype=np.uint8), np.zeros(count, dtype=np.uint8)
        )
        self.train(initial_weights(self.spec.id, 0), blank, config)

    def _fresh_optimizer(self, config: TrainingConfig) -> None:
        """Compile for ``config``'s optimizer, or put the compiled one back to its start."""
        settings = (config.learning_rate, config.momentum)
        if settings != self._compiled_for:
            self._model.compile(
                optimizer=keras.optimizers.SGD(config.learning_rate, momentum=config.momentum),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=["accuracy"],
            )
            self._compiled_for = settings
            return
        optimizer = self._model.optimizer
        optimizer.iterations.assign(0)
        if optimizer.built:  # its variables exist once it has taken a step
            for buffer in optimizer.momentums:
                buffer.assign(np.zeros(buffer.shape, dtype=buffer.dtype))


class _Reporter(keras.callbacks.Callback):
    """Turns Keras' per-batch logs into TrainingProgress calls."""

    def __init__(self, progress: ProgressCallback, epoch: int, epochs: int, batches: int) -> None:
        super().__init__()
        self._progress = progress
        self._epoch, self._epochs, self._batches = epoch, epochs, batches

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        self._progress(
            TrainingProgress(
                epoch=self._epoch,
                epochs=self._epochs,
                batch=batch + 1,
                batches=self._batches,
                loss=float(logs.get("loss", math.nan)),
                accuracy=float(logs.get("accuracy", math.nan)),
            )
        )
