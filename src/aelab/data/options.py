"""The data options every job shares: which data, where its files are, its labels, its test part, its bad rows."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from aelab.data.dataset import Dataset, checked_rows
from aelab.data.loading import check_data_options, load_dataset
from aelab.data.preprocessing import Split, split_dataset, subset_dataset


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


@dataclass(frozen=True)
class DataOptions:
    """Which data a job reads and how it holds out its test part: the options of ``aelab train``, ``compare``,
    ``cluster``, ``detect`` and ``bench`` that are about the data (``--data``, ``--data-dir``,
    ``--label-column``, ``--test-size``, ``--subset``, ``--skip-bad-rows``).

    A job holds one as its ``data`` field; the job's own ``random_state`` draws the subset and the split.

    Parameters
    ----------
    name : str, default="mnist5k"
        A built-in dataset name or the path of a data file or image folder (see ``aelab.data.load_dataset``).
    data_dir : str, optional
        The folder of IDX files of fashion-mnist and mnist; refused for other data.
    label_column : str, optional
        The column of a CSV or Parquet file that holds the labels; refused for other data.
    test_size : float, default=0.2
        The fraction held out for testing, for data without an official split.
    subset : int, optional
        Keep a fixed random subset of this many samples (the official split is kept).
    skip_bad_rows : bool, default=False
        Drop rows with NaN, infinite, missing or non-numeric values and say how many, instead of stopping.

    Examples
    --------
    >>> from aelab.data import DataOptions
    >>> options = DataOptions("digits", test_size=0.25)
    >>> dataset, skipped = options.load()
    >>> options.split(dataset, random_state=0).description["n_test"]
    449
    """

    name: str = "mnist5k"
    data_dir: str | None = None
    label_column: str | None = None
    test_size: float = 0.2
    subset: int | None = None
    skip_bad_rows: bool = False

    def check(self) -> None:
        """Raise a ValueError (or TypeError) on an option of the wrong type or out of range, or one that would
        do nothing for this data (``aelab.data.check_data_options``), before any work is done."""
        for name in ("name", "data_dir", "label_column"):
            value = getattr(self, name)
            if not isinstance(value, str) and not (value is None and name != "name"):
                raise TypeError(f"{name} must be a string{'' if name == 'name' else ' or None'}, got {value!r}")
        if isinstance(self.test_size, bool) or not isinstance(self.test_size, (int, float)) \
                or not 0.0 < self.test_size < 1.0:
            raise ValueError(f"test_size must be between 0 and 1 (exclusive), got {self.test_size!r}; pass e.g. "
                             "--test-size 0.2")
        if self.subset is not None and (not _is_int(self.subset) or self.subset < 2):
            raise ValueError(f"subset must be an integer >= 2, got {self.subset!r}; pass e.g. --subset 1000")
        if not isinstance(self.skip_bad_rows, bool):
            raise TypeError(f"skip_bad_rows must be True or False, got {self.skip_bad_rows!r}")
        check_data_options(self.name, self.data_dir, self.label_column)

    def load(self, random_state: int = 0, remedy: str | None = None) -> tuple[Dataset, np.ndarray]:
        """The dataset, cut to ``subset`` samples drawn with ``random_state``, and the 1-based numbers of the
        rows skipped.

        With ``skip_bad_rows`` the rows with NaN, infinite, missing or non-numeric values are dropped; without
        it, the first of them is a ValueError that ends with ``remedy`` (by default: pass --skip-bad-rows;
        a job that cannot skip rows passes ``aelab.data.dataset.FIX_BAD_ROWS_REMEDY``).
        """
        self.check()
        dataset = load_dataset(self.name, data_dir=self.data_dir, label_column=self.label_column)
        if self.skip_bad_rows or remedy is None:
            dataset, skipped = checked_rows(dataset, self.skip_bad_rows)
        else:
            dataset.check_finite(remedy)
            skipped = np.empty(0, np.int64)
        if self.subset is not None:
            dataset = subset_dataset(dataset, self.subset, random_state=random_state)
        return dataset, skipped

    def split(self, dataset: Dataset, random_state: int = 0) -> Split:
        """``dataset`` split into its train and test parts (``aelab.data.split_dataset`` with ``test_size``)."""
        return split_dataset(dataset, test_size=self.test_size, random_state=random_state)

    @classmethod
    def from_dict(cls, record: Any) -> DataOptions:
        """The options of a JSON object written from ``dataclasses.asdict``, checked (``check``).

        Raises
        ------
        ValueError
            When ``record`` is not an object of exactly these options, or an option's value is invalid.
        """
        names = {f.name for f in fields(cls)}
        if not isinstance(record, dict) or set(record) != names:
            raise ValueError(f"the data options must be an object with exactly the keys {sorted(names)}")
        options = cls(**record)
        try:
            options.check()
        except TypeError as e:
            raise ValueError(str(e)) from None
        return options
