"""The in-memory record every loader returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: What to do about bad rows where the command or function can drop them.
SKIP_BAD_ROWS_REMEDY = "fix or remove them, or pass --skip-bad-rows (skip_bad_rows=True) to drop them"
#: Where it cannot: the studies and the clustering command.
FIX_BAD_ROWS_REMEDY = "fix or remove them first"
#: The largest magnitude a float32 holds: a larger value becomes infinity when the model reads it.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def bad_values(X: np.ndarray) -> np.ndarray:
    """True where a value of ``X`` is NaN, infinite or too large for float32 (it would become infinity).

    Integer arrays never hold such values. Every check of user data for unusable values goes through here.

    Examples
    --------
    >>> bad_values(np.array([[0.5, np.nan], [1e300, -2.0]])).tolist()
    [[False, True], [True, False]]
    """
    X = np.asarray(X)
    if X.dtype.kind != "f":
        return np.zeros(X.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        return ~(np.abs(X) <= FLOAT32_MAX)  # NaN compares False, so it is bad too


def first_bad_value(X: np.ndarray, row_offset: int = 0) -> str:
    """Where the first bad value of ``X`` is (see ``bad_values``), 1-based as in the file, and what it holds:
    ``"row 6, column 3 holds 1e+300, beyond float32's range (|x| > 3.4e38)"``. ``row_offset`` is the 0-based
    number of ``X``'s first row in the file."""
    X = np.asarray(X)
    rows, columns = np.nonzero(bad_values(X))
    if not len(rows):
        raise ValueError("first_bad_value needs an array holding a bad value")
    value = float(X[rows[0], columns[0]])
    where = f"row {int(rows[0]) + row_offset + 1}, column {int(columns[0]) + 1} holds {value!r}"
    return where + (", beyond float32's range (|x| > 3.4e38)" if np.isfinite(value) else "")


@dataclass
class Dataset:
    """Samples as rows, their labels when known, and the shape of one sample.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features)
        One flattened sample per row. May be a read-only memory map for large ``.npy`` files.
    y : ndarray of shape (n_samples,) or None
        Integer class labels, or None when the data has none.
    sample_shape : tuple of int
        Shape of one sample before flattening: ``(28, 28)`` for grayscale images, ``(C, H, W)`` for colour
        images, ``(n_features,)`` for tabular data.
    name : str
        The built-in name or the path the data was read from.
    source : str
        Where the data was read from, for the record.
    n_train : int or None
        When the data comes with an official train/test split, the number of leading rows that form the
        training part; None otherwise.
    label_names : list of str or None
        Human-readable names for the label values 0..k-1, when known.
    rows : ndarray of shape (n_samples,) or None
        The 0-based index of each sample in the data as read, where bad rows were dropped or a subset was
        taken; None when the samples are the data's rows 0..n_samples-1 (see ``row_index``).
    """

    X: np.ndarray
    y: np.ndarray | None
    sample_shape: tuple[int, ...]
    name: str
    source: str
    n_train: int | None = None
    label_names: list[str] | None = field(default=None)
    rows: np.ndarray | None = field(default=None)

    def __post_init__(self) -> None:
        if self.X.ndim != 2:
            raise ValueError(f"Dataset X must be 2-D (n_samples, n_features), got shape {self.X.shape}")
        if int(np.prod(self.sample_shape)) != self.X.shape[1]:
            raise ValueError(
                f"sample_shape {self.sample_shape} holds {int(np.prod(self.sample_shape))} values but X has "
                f"{self.X.shape[1]} features per row"
            )
        if self.y is not None and len(self.y) != len(self.X):
            raise ValueError(f"{len(self.y)} labels for {len(self.X)} samples; they must match one to one")
        if self.rows is not None and len(self.rows) != len(self.X):
            raise ValueError(f"{len(self.rows)} row indices for {len(self.X)} samples; they must match one to one")

    def row_index(self) -> np.ndarray:
        """The 0-based index of each sample in the data as read (before bad rows were dropped or a subset
        taken)."""
        return np.arange(self.n_samples) if self.rows is None else np.asarray(self.rows)

    def bad_rows(self) -> np.ndarray:
        """Indices (0-based) of the rows holding NaN, infinity or values too large for float32 (see
        ``bad_values``; readers turn missing, non-numeric and wrongly sized rows of a table into NaN rows)."""
        bad = []
        for start in range(0, self.n_samples, 65536):  # in blocks, so memory maps are never loaded whole
            block = np.asarray(self.X[start:start + 65536])
            bad.append(np.flatnonzero(bad_values(block).any(axis=1)) + start)
        return np.concatenate(bad) if bad else np.empty(0, np.int64)

    def check_finite(self, remedy: str = SKIP_BAD_ROWS_REMEDY) -> None:
        """Raise ValueError naming the first bad rows (1-based, as in the file; see ``bad_rows``) and ``remedy``."""
        bad = self.bad_rows()
        if len(bad):
            first = first_bad_value(np.asarray(self.X[bad[0]:bad[0] + 1]), int(bad[0]))
            raise ValueError(
                f"{self.name}: {first}; {len(bad)} bad row(s) with NaN, infinite, missing or non-numeric values or "
                f"the wrong number of fields (rows {_first_rows(bad)}); {remedy}"
            )

    def without_bad_rows(self) -> tuple[Dataset, np.ndarray]:
        """This dataset less its bad rows, and the 1-based numbers of the rows dropped."""
        bad = self.bad_rows()
        if not len(bad):
            return self, bad
        if len(bad) == self.n_samples:
            raise ValueError(f"{self.name}: all {self.n_samples} rows are bad (NaN, infinite, missing or "
                             "non-numeric values, or beyond float32's range); check the file's format")
        keep = np.setdiff1d(np.arange(self.n_samples), bad)
        n_train = None if self.n_train is None else int(np.sum(keep < self.n_train))
        dataset = Dataset(np.asarray(self.X[keep]), None if self.y is None else self.y[keep], self.sample_shape,
                          self.name, self.source, n_train, self.label_names, rows=self.row_index()[keep])
        return dataset, bad + 1

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def is_image(self) -> bool:
        """True when one sample is a 2-D (H, W) or 3-D (C, H, W) image."""
        return len(self.sample_shape) >= 2


def _first_rows(rows: np.ndarray, shown: int = 10) -> str:
    numbers = [str(int(r) + 1) for r in rows[:shown]]
    return ", ".join(numbers) + (" ..." if len(rows) > shown else "")


def checked_rows(dataset: Dataset, skip_bad_rows: bool = False) -> tuple[Dataset, np.ndarray]:
    """``dataset`` if all its rows are finite; else, with ``skip_bad_rows``, the dataset less its bad rows and
    their 1-based numbers; without it, a ValueError naming the first of them."""
    if skip_bad_rows:
        return dataset.without_bad_rows()
    dataset.check_finite()
    return dataset, np.empty(0, np.int64)


def skipped_message(name: str, rows) -> str:
    """One line saying how many bad rows were dropped (``rows``: their 1-based numbers), and the first of them."""
    rows = np.asarray(rows, dtype=np.int64)
    return f"{name}: skipped {len(rows)} bad row(s) (rows {_first_rows(rows - 1)})"
