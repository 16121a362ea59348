"""Readers for user data files: .npy, .npz, .csv, .parquet and folders of images."""

from __future__ import annotations

import os
import struct
import tokenize
import zipfile
import zlib
from pathlib import Path

import numpy as np

from aelab.data.dataset import Dataset
from aelab.extras import import_optional

LABEL_COLUMN_NAMES = ("label", "labels", "y", "target", "class")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_X_KEYS = ("X", "x", "data", "images", "samples")
_Y_KEYS = ("y", "labels", "label", "targets", "target")


def as_labels(values: np.ndarray, where: str) -> tuple[np.ndarray, list[str] | None]:
    """Integer labels 0..k-1 from any label column, with names when they were not integers; ``where`` names the
    column in the error of a column that is not one value per sample."""
    values = np.asarray(values)
    if values.ndim != 1:
        raise ValueError(f"labels in {where} must be one value per sample, got shape {values.shape}")
    if values.dtype.kind in "iu":
        return values.astype(np.int64), None
    if values.dtype.kind == "f" and np.all(np.isfinite(values)) and np.all(values == np.round(values)):
        return values.astype(np.int64), None
    names, codes = np.unique(values.astype(str), return_inverse=True)
    return codes.astype(np.int64), [str(n) for n in names]


def _sample_shape_of(array: np.ndarray) -> tuple[int, ...]:
    return tuple(int(d) for d in array.shape[1:])


def _from_array(X: np.ndarray, y: np.ndarray | None, path: Path, kind: str) -> Dataset:
    if X.ndim < 2:
        raise ValueError(
            f"{path} holds an array of shape {X.shape}; samples must be rows (n_samples, n_features) "
            "or images (n_samples, H, W) / (n_samples, C, H, W)"
        )
    if X.dtype.kind not in "biuf":
        raise ValueError(f"{path} holds values of type {X.dtype}; only numeric arrays can be used as samples")
    if X.shape[0] == 0:
        raise ValueError(f"{path} holds no rows (an array of shape {X.shape}); pass a file with one sample per row")
    sample_shape = _sample_shape_of(X)
    flat = X.reshape(X.shape[0], -1)  # a view for C-contiguous arrays, memory maps included
    label_names = None
    if y is not None:
        y, label_names = as_labels(y, str(path))
    return Dataset(flat, y, sample_shape, name=str(path), source=f"{kind} file {path}", label_names=label_names)


#: What numpy's .npy/.npz readers raise on a damaged file: its header is parsed as a Python literal
#: (SyntaxError, tokenize's TokenError), compressed members are inflated by zlib, and zipfile raises
#: NotImplementedError for a compression method it does not know.
_NPY_ERRORS = (ValueError, OSError, EOFError, SyntaxError, tokenize.TokenError, zlib.error, zipfile.BadZipFile,
               KeyError, struct.error, UnicodeDecodeError, OverflowError, MemoryError, NotImplementedError)


def _npy_header(f, size: int, where: str) -> tuple[tuple[int, ...], np.dtype, bool]:
    """Read and check the header of a .npy stream of ``size`` bytes, stopping before its data."""
    version = np.lib.format.read_magic(f)
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    if version not in readers:
        raise ValueError(f"{where} is .npy format version {version}, which aelab does not read; save it with "
                         "numpy.save")
    shape, fortran_order, dtype = readers[version](f, max_header_size=10_000)
    if dtype.hasobject:
        raise ValueError(f"{where} holds Python objects ({dtype}); only numeric arrays are read (no pickle)")
    n_bytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize if shape else dtype.itemsize
    if n_bytes < 0 or n_bytes > size - f.tell():
        raise ValueError(f"{where} declares shape {shape} of {dtype}, {n_bytes} bytes, but holds "
                         f"{size - f.tell()}; the file is truncated or damaged")
    return shape, dtype, fortran_order


def read_npy(path: Path) -> Dataset:
    """A .npy file, memory-mapped read-only so that large files are never copied whole."""
    try:
        with open(path, "rb") as f:
            _npy_header(f, path.stat().st_size, str(path))
        X = np.load(path, mmap_mode="r", allow_pickle=False)
    except _NPY_ERRORS as e:
        raise ValueError(f"{path} is not a readable numeric .npy array ({type(e).__name__}: {e}); save it with "
                         "numpy.save, or the file is damaged") from None
    return _from_array(X, None, path, "npy")


def _npz_array(archive: zipfile.ZipFile, name: str, where: str) -> np.ndarray:
    info = archive.getinfo(name)
    with archive.open(info) as f:
        _npy_header(f, info.file_size, f"{where} ({name})")
    with archive.open(info) as f:
        return np.lib.format.read_array(f, allow_pickle=False)


def read_npz(path: Path) -> Dataset:
    """A .npz archive: samples under X/x/data/images (or its only array), labels under y/labels/targets.

    Each array's header is checked against the member's size before anything is allocated.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = {name[:-4]: name for name in archive.namelist() if name.endswith(".npy")}
            keys = list(members)
            x_key = next((k for k in _X_KEYS if k in keys), keys[0] if len(keys) == 1 else None)
            if x_key is None:
                raise ValueError(
                    f"{path} holds arrays {keys} and none is named {'/'.join(_X_KEYS)}; "
                    "name the samples array X (and the labels y)"
                )
            y_key = next((k for k in _Y_KEYS if k in keys and k != x_key), None)
            X = _npz_array(archive, members[x_key], str(path))
            y = _npz_array(archive, members[y_key], str(path)) if y_key else None
    except _NPY_ERRORS as e:
        if isinstance(e, ValueError) and str(path) in str(e):
            raise
        raise ValueError(f"{path} could not be read as .npz ({type(e).__name__}: {e}); the file is probably "
                         "damaged") from None
    if y is not None and (y.ndim != 1 or len(y) != len(X)):
        raise ValueError(f"{path}: '{y_key}' has shape {y.shape}, not one label for each of the {len(X)} samples "
                         f"in '{x_key}'")
    return _from_array(X, y, path, "npz")


def _table_to_dataset(frame, path: Path, label_column: str | None, kind: str) -> Dataset:
    """Shared by CSV and Parquet: pick the label column, check the rest is numeric."""
    import pandas as pd

    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    if label_column is None:
        label_column = next((c for c in columns if c.lower() in LABEL_COLUMN_NAMES), None)
    elif label_column not in columns:
        raise ValueError(f"label column '{label_column}' is not in {path}; its columns are {columns[:20]}")
    y = label_names = missing_label = None
    if label_column is not None:
        labels = frame[label_column]
        missing_label = labels.isna().to_numpy()
        if missing_label.all():
            raise ValueError(f"label column '{label_column}' of {path} is empty; pass --label-column with the "
                             "column that holds the labels")
        if missing_label.any():  # those rows become bad rows (below); their stand-in label is never used
            labels = labels.fillna(labels[~missing_label].iloc[0])
        y, label_names = as_labels(labels.to_numpy(), f"column '{label_column}' of {path}")
        frame = frame.drop(columns=[label_column])
    if frame.shape[1] == 0:
        raise ValueError(f"{path} has no feature columns besides the labels")
    if len(set(frame.columns)) != frame.shape[1]:
        repeated = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
        raise ValueError(f"{path} has repeated column names {repeated[:10]}; give every column its own name")
    numeric = {}
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_bool_dtype(values) or not (
            pd.api.types.is_numeric_dtype(values) or pd.api.types.is_object_dtype(values)
                or pd.api.types.is_string_dtype(values)):
            raise ValueError(f"column '{column}' of {path} holds {values.dtype} values, not numbers; convert it "
                             "to numbers or drop it")
        if not pd.api.types.is_numeric_dtype(values):
            # a few non-numeric cells make bad rows (NaN here); a column without any number is not a feature
            coerced = pd.to_numeric(values, errors="coerce")
            present = values.notna().to_numpy()
            if present.any() and coerced.notna().sum() == 0:
                first = int(np.flatnonzero(present)[0])
                raise ValueError(f"column '{column}' of {path} is not numeric (row {first + 1} holds "
                                 f"{values.iloc[first]!r}); convert it to numbers or drop it")
            values = coerced
        numeric[column] = values.to_numpy(dtype=np.float64, na_value=np.nan)
    X = np.column_stack([numeric[c] for c in frame.columns]) if numeric else np.empty((len(frame), 0))
    if missing_label is not None and missing_label.any():
        X[missing_label] = np.nan
    return Dataset(X, y, (X.shape[1],), name=str(path), source=f"{kind} file {path}", label_names=label_names)


def _has_header(path: Path) -> bool:
    with open(path, newline="") as f:
        first = f.readline()
    for cell in first.strip().split(","):
        cell = cell.strip().strip('"')
        if cell == "":
            continue
        try:
            float(cell)
        except ValueError:
            return True
    return False


def read_csv(path: Path, label_column: str | None = None) -> Dataset:
    """A comma-separated file, with or without a header row.

    With a header, a column named label/labels/y/target/class (or ``label_column``) holds the labels.
    """
    import pandas as pd

    try:
        header = _has_header(path)
        try:
            frame = pd.read_csv(path, header=0 if header else None)
        except pd.errors.ParserError:
            frame = _read_csv_with_bad_widths(path, header)
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a text CSV file; pass a comma-separated file of numbers") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise ValueError(f"{path} could not be parsed as CSV: {str(e).strip()}") from None
    if len(frame) == 0:
        raise ValueError(f"{path} holds no rows of data")
    return _table_to_dataset(frame, path, label_column, "csv")


def _read_csv_with_bad_widths(path: Path, header: bool):
    """A CSV whose rows do not all have the header's number of fields: those rows become rows of NaN
    (bad rows, see Dataset.bad_rows) at their place."""
    import csv

    import pandas as pd

    with open(path, newline="", encoding="utf-8") as f:
        records = [row for row in csv.reader(f) if row]
    if not records:
        raise pd.errors.EmptyDataError("the file is empty")
    width = len(records[0])
    columns = records[0] if header else list(range(width))
    if len(set(columns)) != width:
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        raise ValueError(f"{path} has repeated column names {repeated[:10]}; give every column its own name")
    rows = records[1:] if header else records
    cells = [row if len(row) == width else [""] * width for row in rows]
    frame = pd.DataFrame(cells, columns=columns).replace("", np.nan)
    for column in frame.columns:  # whole numeric columns as numbers, as pandas' own reader would give them
        coerced = pd.to_numeric(frame[column], errors="coerce")
        if coerced.notna().sum() == frame[column].notna().sum():
            frame[column] = coerced
    return frame


def read_parquet(path: Path, label_column: str | None = None) -> Dataset:
    """A Parquet table; numeric columns are features, a label column as for CSV."""
    pa = import_optional("pyarrow", "reading Parquet")
    pq = import_optional("pyarrow.parquet", "reading Parquet")

    try:
        # the pandas metadata stored in the file is ignored: a damaged one must not decide how it is read
        frame = pq.read_table(path).to_pandas(ignore_metadata=True)
    except (pa.ArrowException, OSError, ValueError, KeyError, TypeError, IndexError) as e:
        raise ValueError(f"{path} could not be read as Parquet ({e}); the file is probably damaged") from None
    if len(frame) == 0:
        raise ValueError(f"{path} holds no rows of data")
    return _table_to_dataset(frame, path, label_column, "parquet")


def read_image_folder(path: Path) -> Dataset:
    """A folder of PNG/JPEG images, all of one size; one sub-folder per label gives the labels."""
    Image = import_optional("PIL.Image", "reading image folders")
    UnidentifiedImageError = Image.UnidentifiedImageError

    subdirs = sorted(p for p in path.iterdir() if p.is_dir())
    if subdirs:
        groups = [(d.name, sorted(f for f in d.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)) for d in subdirs]
        groups = [(name, files) for name, files in groups if files]
    else:
        files = sorted(f for f in path.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        groups = [("", files)] if files else []
    if not groups:
        raise ValueError(f"{path} holds no .png/.jpg/.jpeg images (directly or one sub-folder per label)")
    images, labels = [], []
    for label, (_, files) in enumerate(groups):
        for f in files:
            try:
                with Image.open(f) as im:
                    im.load()
                    images.append((f, im.copy()))
            # Pillow reports a damaged PNG chunk as a SyntaxError, and an image too large to decode as
            # DecompressionBombError
            except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error,
                    Image.DecompressionBombError) as e:
                raise ValueError(f"image {f} could not be read ({type(e).__name__}: {e}); remove or replace it"
                                 ) from None
            labels.append(label)
    grayscale = all(im.mode in ("1", "L", "I;16", "I", "F", "LA") for _, im in images)
    mode = "L" if grayscale else "RGB"
    first_file, first = images[0]
    arrays = []
    for f, im in images:
        if im.size != first.size:
            raise ValueError(
                f"image {f} is {im.size[0]}x{im.size[1]} but {first_file} is {first.size[0]}x{first.size[1]}; "
                "all images must have one size (resize them first)"
            )
        arrays.append(np.asarray(im.convert(mode), dtype=np.uint8))
    stack = np.stack(arrays)
    if not grayscale:
        stack = stack.transpose(0, 3, 1, 2)  # channels first: (n, C, H, W)
    y = np.asarray(labels, dtype=np.int64) if subdirs else None
    names = [name for name, _ in groups] if subdirs else None
    return Dataset(
        stack.reshape(len(stack), -1),
        y,
        _sample_shape_of(stack),
        name=str(path),
        source=f"image folder {path}",
        label_names=names,
    )


def read_file(path: str | os.PathLike, label_column: str | None = None) -> Dataset:
    """Read any supported data file or image folder, chosen by its suffix."""
    path = Path(path)
    if path.is_dir():
        return read_image_folder(path)
    if not path.exists():
        raise ValueError(f"data path {path} does not exist; pass a built-in name or an existing file")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return read_npy(path)
    if suffix == ".npz":
        return read_npz(path)
    if suffix == ".csv":
        return read_csv(path, label_column)
    if suffix in (".parquet", ".pq"):
        return read_parquet(path, label_column)
    raise ValueError(
        f"{path} has suffix '{suffix}', which aelab does not read; use .npy, .npz, .csv, .parquet "
        "or a folder of PNG/JPEG images"
    )
