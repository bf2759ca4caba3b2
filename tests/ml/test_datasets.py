"""MNIST from data/mnist (hash-checked) and a user's own IDX or .npz files."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from fedledger.config import mnist_directory
from fedledger.ml import Dataset, DatasetError, Mnist, load_dataset, load_mnist, save_dataset
from fedledger.ml.datasets import MNIST_SHA256, read_idx


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def test_mnist_has_the_published_sizes_and_classes(mnist: Mnist) -> None:
    assert len(mnist.train) == 60_000 and len(mnist.test) == 10_000
    assert mnist.train.images.shape == (60_000, 28, 28) and mnist.train.images.dtype == np.uint8
    assert mnist.train.class_counts().tolist() == [
        5923,
        6742,
        5958,
        6131,
        5842,
        5421,
        5918,
        6265,
        5851,
        5949,
    ]
    assert mnist.test.class_counts().sum() == 10_000
    assert int(mnist.train.images.max()) == 255 and not mnist.train.images.flags.writeable


def test_a_corrupt_mnist_file_is_refused(tmp_path: Path) -> None:
    for name in MNIST_SHA256:
        shutil.copy(mnist_directory() / name, tmp_path / name)
    damaged = tmp_path / "t10k-labels.idx1-ubyte.gz"
    content = bytearray(damaged.read_bytes())
    content[100] ^= 0x01
    damaged.write_bytes(bytes(content))
    with pytest.raises(DatasetError, match=r"t10k-labels.*expected b66dd6c5"):
        load_mnist(tmp_path)
    damaged.unlink()
    with pytest.raises(DatasetError, match="missing"):
        load_mnist(tmp_path)


def test_idx_files_plain_and_gzipped(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 7, dtype=np.uint8)
    (tmp_path / "img.idx").write_bytes(_idx_bytes(images))
    with gzip.open(tmp_path / "lab.idx.gz", "wb") as handle:
        handle.write(_idx_bytes(labels))
    dataset = load_dataset(tmp_path / "img.idx", tmp_path / "lab.idx.gz")
    assert np.array_equal(dataset.images, images) and np.array_equal(dataset.labels, labels)
    with pytest.raises(DatasetError, match="also give its labels file"):
        load_dataset(tmp_path / "img.idx")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x00\x00\x0d\x01" + (3).to_bytes(4, "big") + b"\x00" * 12, "not an IDX file"),
        (b"\x00\x00\x08\x02" + (3).to_bytes(4, "big"), "truncated"),
        (b"\x00\x00\x08\x01" + (3).to_bytes(4, "big") + b"\x01\x02", "announces 11 bytes"),
    ],
)
def test_bad_idx_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.idx"
    path.write_bytes(content)
    with pytest.raises(DatasetError, match=message):
        read_idx(path)


def test_npz_with_either_key_pair_and_flat_or_channel_images(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (5, 28, 28))
    labels = rng.integers(0, 10, 5)
    np.savez(tmp_path / "a.npz", images=images.reshape(5, 784), labels=labels)
    np.savez(tmp_path / "b.npz", x=images.reshape(5, 28, 28, 1).astype(np.float64), y=labels)
    for name in ("a.npz", "b.npz"):
        dataset = load_dataset(tmp_path / name)
        assert dataset.images.dtype == np.uint8 and np.array_equal(dataset.images, images)
        assert np.array_equal(dataset.labels, labels)


def test_a_saved_dataset_loads_back_unchanged(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (7, 28, 28)).astype(np.uint8)
    labels = rng.integers(0, 10, 7).astype(np.uint8)
    path = save_dataset(Dataset(images, labels), tmp_path / "client")  # no suffix added
    assert path == tmp_path / "client" and path.is_file()
    loaded = load_dataset(path.rename(tmp_path / "client.npz"))
    assert np.array_equal(loaded.images, images) and np.array_equal(loaded.labels, labels)


def test_npz_refusals_say_what_to_do(tmp_path: Path) -> None:
    np.savez(tmp_path / "scaled.npz", x=np.full((2, 28, 28), 0.5), y=np.zeros(2))
    with pytest.raises(DatasetError, match=r"grey levels 0..255 \(not scaled to 0..1\)"):
        load_dataset(tmp_path / "scaled.npz")
    np.savez(tmp_path / "keys.npz", pixels=np.zeros((2, 28, 28)), y=np.zeros(2))
    with pytest.raises(DatasetError, match=r"\['pixels', 'y'\].*'images' and 'labels'"):
        load_dataset(tmp_path / "keys.npz")
    np.savez(tmp_path / "labels.npz", x=np.zeros((2, 28, 28), np.uint8), y=np.array([3, 10]))
    with pytest.raises(DatasetError, match=r"class numbers 0\.\.9"):
        load_dataset(tmp_path / "labels.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match=r"not an \.npz archive") as refused:
        load_dataset(tmp_path / "junk.npz")
    assert "pickle" not in str(refused.value)  # never suggest loading it unsafely
    np.savez(tmp_path / "objects.npz", images=np.array([object()]), labels=np.zeros(1))
    with pytest.raises(DatasetError, match=r"Python objects, which are never loaded") as refused:
        load_dataset(tmp_path / "objects.npz")
    assert "allow_pickle" not in str(refused.value)


def test_dataset_validates_and_subsets() -> None:
    images = np.arange(3 * 784, dtype=np.uint32).reshape(3, 28, 28).astype(np.uint8)
    dataset = Dataset(images, np.array([2, 0, 2], np.uint8))
    assert dataset.class_counts().tolist() == [1, 0, 2, 0, 0, 0, 0, 0, 0, 0]
    picked = dataset.subset(np.array([2, 0]))
    assert np.array_equal(picked.images, images[[2, 0]]) and picked.labels.tolist() == [2, 2]
    with pytest.raises(DatasetError, match="uint8 of shape"):
        Dataset(images.astype(np.int16), dataset.labels)
    with pytest.raises(DatasetError, match=r"labels must be 0\.\.9"):
        Dataset(images, np.array([1, 2, 10], np.uint8))
