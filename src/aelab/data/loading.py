"""``load_dataset``: a built-in dataset by name, or a user's file or folder by path; and the checks that its
``data_dir`` and ``label_column`` mean something for the data."""

from __future__ import annotations

import os
from pathlib import Path

from aelab.data.builtin import BUILTIN
from aelab.data.dataset import Dataset
from aelab.data.files import read_file

#: The built-in datasets read from a directory of IDX files, the only ones ``data_dir`` is for.
IDX_BUILTINS = ("fashion-mnist", "mnist")
#: The file suffixes whose columns ``label_column`` can name.
TABLE_SUFFIXES = (".csv", ".parquet", ".pq")


def reads_label_column(name_or_path: str | os.PathLike) -> bool:
    """Whether ``label_column`` means something for this data: a CSV or Parquet file."""
    name = str(name_or_path)
    return name not in BUILTIN and Path(name).suffix.lower() in TABLE_SUFFIXES and not Path(name).is_dir()


def reads_data_dir(name_or_path: str | os.PathLike) -> bool:
    """Whether ``data_dir`` means something for this data: a built-in dataset of IDX files."""
    return str(name_or_path) in IDX_BUILTINS


def check_data_options(name_or_path: str | os.PathLike, data_dir: str | os.PathLike | None = None,
                       label_column: str | None = None) -> None:
    """Refuse ``data_dir`` or ``label_column`` where they would be ignored, so that they never silently do nothing.

    Raises
    ------
    ValueError
        ``label_column`` for data other than a CSV or Parquet file, or ``data_dir`` for data other than
        fashion-mnist and mnist.
    """
    name = str(name_or_path)
    what = f"the built-in dataset {name}" if name in BUILTIN else name
    if label_column is not None and not reads_label_column(name):
        raise ValueError(f"--label-column {label_column} (label_column) names a column of a CSV or Parquet file, but "
                         f"{what} has no named columns (its labels, if any, come with it); leave out --label-column")
    if data_dir is not None and not reads_data_dir(name):
        raise ValueError(f"--data-dir (data_dir) is where the IDX files of {' and '.join(IDX_BUILTINS)} are read "
                         f"from, and {what} does not use it; leave out --data-dir")


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
        Refused for other data, where it would do nothing (see ``check_data_options``); so is ``data_dir``
        for data other than ``fashion-mnist`` and ``mnist``.

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
        check_data_options(name, data_dir, label_column)
        return BUILTIN[name].loader(data_dir)
    path = Path(name).expanduser()
    if path.exists():
        check_data_options(path, data_dir, label_column)
        return read_file(path, label_column)
    raise ValueError(
        f"unknown dataset '{name}': it is neither a built-in name ({', '.join(BUILTIN)}) nor an existing "
        "file or folder; run 'aelab datasets' to see what is available"
    )
