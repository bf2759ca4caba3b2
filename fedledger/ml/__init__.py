"""Machine learning for FedLedger: data, models, the weight codec, exact evaluation and FedAvg.

Everything importable from this package needs numpy only, so oracle nodes run without
TensorFlow. Training and the Keras models live in :mod:`fedledger.ml.training` and
:mod:`fedledger.ml.keras_models`, which import Keras when they are imported.
See docs/ml.md for the formats and the determinism argument.
"""

import os

# TensorFlow's C++ start-up lines (absl's "log messages before absl::InitializeLog()", CPU
# features, oneDNN) say nothing a user can act on: keep only its errors, in every process
# that may import Keras through this package. A TF_CPP_MIN_LOG_LEVEL the user set wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from fedledger.ml.aggregation import RunningFedAvg, fedavg
from fedledger.ml.architectures import (
    ARCHITECTURES,
    MNIST_CNN,
    MNIST_MLP,
    Architecture,
    get_architecture,
    model_input,
)
from fedledger.ml.codec import decode, encode, encoded_size
from fedledger.ml.datasets import (
    Dataset,
    DatasetError,
    Mnist,
    load_dataset,
    load_mnist,
    save_dataset,
)
from fedledger.ml.errors import (
    BadMagic,
    CodecError,
    InvalidWeights,
    MalformedHeader,
    NonFiniteWeights,
    OversizedBlob,
    RejectReason,
    ShapeMismatch,
    TrailingBytes,
    TruncatedBlob,
    UnknownArchitecture,
    UnsupportedDType,
    UnsupportedVersion,
    WeightsOutOfRange,
)
from fedledger.ml.evaluation import Evaluation, ExactEvaluator
from fedledger.ml.partition import (
    FederatedSplit,
    PartitionError,
    dirichlet_partition,
    federated_split,
    iid_partition,
)
from fedledger.ml.weights import ModelWeights, initial_weights

__all__ = [
    "ARCHITECTURES",
    "MNIST_CNN",
    "MNIST_MLP",
    "Architecture",
    "BadMagic",
    "CodecError",
    "Dataset",
    "DatasetError",
    "Evaluation",
    "ExactEvaluator",
    "FederatedSplit",
    "InvalidWeights",
    "MalformedHeader",
    "Mnist",
    "ModelWeights",
    "NonFiniteWeights",
    "OversizedBlob",
    "PartitionError",
    "RejectReason",
    "RunningFedAvg",
    "ShapeMismatch",
    "TrailingBytes",
    "TruncatedBlob",
    "UnknownArchitecture",
    "UnsupportedDType",
    "UnsupportedVersion",
    "WeightsOutOfRange",
    "decode",
    "dirichlet_partition",
    "encode",
    "encoded_size",
    "fedavg",
    "federated_split",
    "get_architecture",
    "iid_partition",
    "initial_weights",
    "load_dataset",
    "load_mnist",
    "model_input",
    "save_dataset",
]
