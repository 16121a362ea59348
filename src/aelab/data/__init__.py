"""Loading, splitting and scaling data: one entry point, ``load_dataset``."""

from __future__ import annotations

import os
from pathlib import Path

from aelab.data.builtin import BUILTIN, describe_builtin
from aelab.data.dataset import Dataset
from aelab.data.files import read_file
from aelab.data.idx import read_idx
from aelab.data.preprocessing import MinMaxScaling, Split, split_dataset

__all__ = [
    "Dataset", "MinMaxScaling", "Split", "describe_builtin", "load_dataset", "read_idx", "split_dataset",
    "BUILTIN",
]


def load_dataset(
    name_or_path: str | os.PathLike,
    data_dir: str | os.PathLike | None = None,
    label_column: str | None = None,
) -> Dataset:
    """Load a built-in dataset by name or a user file/folder by path.

    Parameters
    ----------
    name_or_path : str or path-like
        A built-in name (``mnist5k``, ``fashion-mnist``, ``mnist``, ``digits``, ``blobs``) or the path of a
        .npy, .npz, .csv or .parquet file or of a folder of PNG/JPEG images.
    data_dir : path-like, optional
        Directory of IDX files for ``fashion-mnist`` and ``mnist`` (else ``$AELAB_DATA_DIR``, and for
        Fashion-MNIST Debian's /usr/share/datasets/fashion-mnist).
    label_column : str, optional
        For CSV and Parquet: the column holding the labels (default: one named label/y/target/class).

    Returns
    -------
    Dataset
        Flattened samples ``X``, labels ``y`` (or None) and ``sample_shape``.

    Examples
    --------
    >>> from aelab.data import load_dataset
    >>> digits = load_dataset("digits")
    >>> digits.X.shape, digits.sample_shape
    ((1797, 64), (8, 8))
    """
    name = str(name_or_path)
    if name in BUILTIN:
        return BUILTIN[name].loader(data_dir)
    path = Path(name).expanduser()
    if path.exists():
        return read_file(path, label_column)
    raise ValueError(
        f"unknown dataset '{name}': it is neither a built-in name ({', '.join(BUILTIN)}) nor an existing "
        "file or folder; run 'aelab datasets' to see what is available"
    )
