"""Image data sets: the MNIST files shipped in ``data/mnist`` and a user's own IDX or .npz.

Everything is a :class:`Dataset` of uint8 grey-level images ``(n, 28, 28)`` and uint8
labels 0..9. Images stay integers end to end: the Keras input is derived from them by
:func:`fedledger.ml.architectures.model_input`, and the deterministic evaluator uses the
integers themselves.
"""

from __future__ import annotations

import gzip
import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fedledger.ml.architectures import IMAGE_SHAPE, NUM_CLASSES, PIXEL_MAX

#: The MNIST files shipped in data/mnist and the sha256 of each (see data/mnist/README.md).
MNIST_SHA256 = {
    "train-images.idx3-ubyte.gz": (
        "09c89c64033cd6c0c6fb26bc5c1bb916529c4f79a9c26ecefa9cea3190fee3b4"
    ),
    "train-labels.idx1-ubyte.gz": (
        "0a098e1e67faf87e639dc2520984c23192f49adfc5b5ae33c31f43f244370a67"
    ),
    "t10k-images.idx3-ubyte.gz": (
        "fafb2a59df38750b2930ec39db8b931eedde67d3a4e9bac491266624913103cf"
    ),
    "t10k-labels.idx1-ubyte.gz": (
        "b66dd6c5b02a1f638592691fc0ace63f77971752824b4cfdaf7180e248523f1b"
    ),
}

_IDX_UBYTE = 0x08


class DatasetError(ValueError):
    """A data file is missing, corrupt or not in a format FedLedger reads."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """Labelled images: ``images`` uint8 ``(n, 28, 28)``, ``labels`` uint8 ``(n,)`` in 0..9.

    The arrays are stored read-only so that a data set handed to several clients or oracles
    cannot be changed under them.
    """

    images: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        images, labels = np.asarray(self.images), np.asarray(self.labels)
        if images.dtype != np.uint8 or images.shape[1:] != IMAGE_SHAPE:
            raise DatasetError(
                f"images must be uint8 of shape (n, {IMAGE_SHAPE[0]}, {IMAGE_SHAPE[1]}), "
                f"got {images.dtype} {images.shape}"
            )
        if labels.dtype != np.uint8 or labels.shape != (len(images),):
            raise DatasetError(
                f"labels must be uint8 of shape ({len(images)},), got {labels.dtype} {labels.shape}"
            )
        if labels.size and int(labels.max()) >= NUM_CLASSES:
            raise DatasetError(f"labels must be 0..{NUM_CLASSES - 1}, found {int(labels.max())}")
        object.__setattr__(self, "images", _read_only(images))
        object.__setattr__(self, "labels", _read_only(labels))

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        return f"Dataset({len(self)} images)"

    def subset(self, indices: np.ndarray) -> Dataset:
        """The samples at ``indices``, in that order."""
        return Dataset(self.images[indices], self.labels[indices])

    def class_counts(self) -> np.ndarray:
        """Number of samples of each class, int64 ``(10,)``."""
        return np.bincount(self.labels, minlength=NUM_CLASSES).astype(np.int64)


@dataclass(frozen=True)
class Mnist:
    """The two MNIST splits: 60,000 training and 10,000 test images."""

    train: Dataset
    test: Dataset


def load_mnist(folder: Path) -> Mnist:
    """Read the MNIST files in ``folder`` (the project's is
    :func:`fedledger.config.mnist_directory`) after checking each one's sha256; nothing
    downloads."""
    for name, digest in MNIST_SHA256.items():
        verify_sha256(folder / name, digest)
    return Mnist(
        train=load_idx_dataset(
            folder / "train-images.idx3-ubyte.gz", folder / "train-labels.idx1-ubyte.gz"
        ),
        test=load_idx_dataset(
            folder / "t10k-images.idx3-ubyte.gz", folder / "t10k-labels.idx1-ubyte.gz"
        ),
    )


def verify_sha256(path: Path, expected: str) -> None:
    """Raise DatasetError unless the file exists and its sha256 is ``expected``."""
    if not path.is_file():
        raise DatasetError(f"{path} is missing; restore it from the repository (git checkout)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != expected:
        raise DatasetError(
            f"{path} has sha256 {digest}, expected {expected}: the file is corrupt or was "
            "replaced; restore it from the repository (git checkout)"
        )


def load_dataset(path: Path, labels_path: Path | None = None) -> Dataset:
    """A user's own data: an .npz file, or an IDX images file with its IDX labels file.

    An .npz holds ``images`` and ``labels`` (or ``x`` and ``y``); IDX files may be gzipped.
    """
    path = Path(path)
    if path.suffix == ".npz":
        if labels_path is not None:
            raise DatasetError(f"{path} is an .npz file: it holds its labels, give no labels file")
        return load_npz_dataset(path)
    if labels_path is None:
        raise DatasetError(f"{path} looks like an IDX images file: also give its labels file")
    return load_idx_dataset(path, Path(labels_path))


def load_idx_dataset(images_path: Path, labels_path: Path) -> Dataset:
    """Images ``(n, 28, 28)`` and labels ``(n,)`` from two IDX files (plain or .gz)."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DatasetError(
            f"{images_path} and {labels_path} hold arrays of shapes {images.shape} and "
            f"{labels.shape}; expected (n, 28, 28) images and (n,) labels"
        )
    return _dataset(images, labels, f"{images_path}")


def save_dataset(dataset: Dataset, path: Path) -> Path:
    """Write ``dataset`` as the .npz (``images``, ``labels``) that :func:`load_dataset` reads."""
    with open(path, "wb") as handle:  # a file object: np.savez would append ".npz" to a path
        np.savez(handle, images=dataset.images, labels=dataset.labels)
    return Path(path)


def load_npz_dataset(path: Path) -> Dataset:
    """Images and labels from an .npz with keys ``images``/``labels`` or ``x``/``y``.

    Never unpickles: object arrays are refused (loading them could run code)."""
    expected = "an .npz of numeric arrays 'images' and 'labels' (numpy.savez)"
    try:
        with open(path, "rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc.strerror or exc}") from None
    if magic not in _ZIP_MAGICS:
        raise DatasetError(
            f"{path} is not an .npz archive (damaged, or another kind of file): give {expected}"
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = set(archive.files)
            for image_key, label_key in (("images", "labels"), ("x", "y")):
                if {image_key, label_key} <= keys:
                    return _dataset(archive[image_key], archive[label_key], str(path))
    except DatasetError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc):
            raise DatasetError(
                f"{path} holds Python objects, which are never loaded (that could run code): "
                f"give {expected}"
            ) from None
        raise DatasetError(f"{path} is a damaged .npz archive: give {expected}") from None
    except (OSError, EOFError, zipfile.BadZipFile):
        raise DatasetError(f"{path} is a damaged .npz archive: give {expected}") from None
    raise DatasetError(
        f"{path} has arrays {sorted(keys)}; expected 'images' and 'labels' (or 'x' and 'y')"
    )


#: The first bytes of a zip archive (an .npz is one): a local file header, or an empty one.
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")


def read_idx(path: Path) -> np.ndarray:
    """The unsigned-byte array of an IDX file (``.gz`` is decompressed)."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from exc
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] != _IDX_UBYTE:
        raise DatasetError(f"{path} is not an IDX file of unsigned bytes")
    rank = raw[3]
    header = 4 + 4 * rank
    if rank == 0 or len(raw) < header:
        raise DatasetError(f"{path}: IDX header is truncated")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(rank))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise DatasetError(f"{path}: IDX header announces {expected} bytes, file has {len(raw)}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _dataset(images: np.ndarray, labels: np.ndarray, source: str) -> Dataset:
    """Normalise a user's arrays (any integer-valued dtype, flat or channel-last images)."""
    images, labels = np.asarray(images), np.asarray(labels)
    if len(images) and images.reshape(len(images), -1).shape[1] == np.prod(IMAGE_SHAPE):
        images = images.reshape((len(images), *IMAGE_SHAPE))
    return Dataset(
        _as_uint8(images, source, "images", PIXEL_MAX, "grey levels 0..255 (not scaled to 0..1)"),
        _as_uint8(labels, source, "labels", NUM_CLASSES - 1, f"class numbers 0..{NUM_CLASSES - 1}"),
    )


def _as_uint8(values: np.ndarray, source: str, what: str, maximum: int, meaning: str) -> np.ndarray:
    if values.dtype == np.uint8:
        return values
    valid = values.dtype.kind in "iuf" and (
        values.size == 0
        or (
            values.min() >= 0
            and values.max() <= maximum
            and np.array_equal(values, np.trunc(values))
        )
    )
    if not valid:
        raise DatasetError(f"{source}: {what} must be integer {meaning}; got {values.dtype} values")
    return values.astype(np.uint8)


def _read_only(array: np.ndarray) -> np.ndarray:
    if array.flags.writeable:
        array = array.copy()
        array.flags.writeable = False
    return array
