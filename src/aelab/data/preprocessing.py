"""Deterministic train/test splitting and [0, 1] scaling fitted on the training part: ``MinMaxScaling``, the
record a run folder keeps, and ``RangeScaler``, the same scaling as a scikit-learn transformer."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted, validate_data

from aelab.data.dataset import Dataset


@dataclass
class Split:
    """The training and test parts of a dataset, with how they were made.

    ``train_index`` and ``test_index`` index the dataset's samples; ``test_rows`` is the index of each test
    sample in the data as read (``Dataset.row_index``; for a streamed file, in the file).
    """

    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray | None
    y_test: np.ndarray | None
    train_index: np.ndarray
    test_index: np.ndarray
    description: dict[str, Any]
    test_rows: np.ndarray


def split_dataset(dataset: Dataset, test_size: float = 0.2, random_state: int = 0) -> Split:
    """Split ``dataset`` into train and test parts, the same way every time.

    Data with an official split (Fashion-MNIST, MNIST with both IDX pairs) keep it; other data are shuffled
    with ``random_state`` and split stratified by label when every class has two samples or more.
    """
    n = dataset.n_samples
    if dataset.n_train is not None:
        train_index = np.arange(dataset.n_train)
        test_index = np.arange(dataset.n_train, n)
        description = {"kind": "official", "n_train": len(train_index), "n_test": len(test_index)}
    else:
        if not 0.0 < test_size < 1.0:
            raise ValueError(f"test_size must be between 0 and 1 (exclusive), got {test_size}")
        n_test = int(round(n * test_size))
        if n_test < 1 or n - n_test < 1:
            raise ValueError(
                f"{n} samples cannot be split with test_size={test_size}: both parts need a sample at least"
            )
        from sklearn.model_selection import train_test_split

        stratify = None
        if dataset.y is not None:
            counts = np.bincount(dataset.y - dataset.y.min())
            counts = counts[counts > 0]
            if counts.min() >= 2 and len(counts) <= n_test and len(counts) <= n - n_test:
                stratify = dataset.y
        train_index, test_index = train_test_split(
            np.arange(n), test_size=n_test, random_state=random_state, shuffle=True, stratify=stratify
        )
        train_index, test_index = np.sort(train_index), np.sort(test_index)
        description = {
            "kind": "random",
            "test_size": test_size,
            "random_state": random_state,
            "stratified": stratify is not None,
            "n_train": len(train_index),
            "n_test": len(test_index),
        }
    y = dataset.y
    return Split(
        X_train=np.asarray(dataset.X[train_index]),
        X_test=np.asarray(dataset.X[test_index]),
        y_train=None if y is None else y[train_index],
        y_test=None if y is None else y[test_index],
        train_index=train_index,
        test_index=test_index,
        description=description,
        test_rows=dataset.row_index()[test_index],
    )



def subset_dataset(dataset: Dataset, n_samples: int, random_state: int = 0) -> Dataset:
    """A fixed random subset of ``n_samples`` rows, in their original order.

    Data with an official train/test split keep it: each part contributes in proportion to its size. A
    subset at least as large as the data returns the data unchanged.
    """
    from dataclasses import replace

    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 2:
        raise ValueError(f"the subset size must be an integer >= 2, got {n_samples!r}")
    n = dataset.n_samples
    if n_samples >= n:
        return dataset
    rng = np.random.default_rng(random_state)
    if dataset.n_train is not None:
        n_train = min(max(1, round(n_samples * dataset.n_train / n)), n_samples - 1)
        keep = np.concatenate([np.sort(rng.choice(dataset.n_train, n_train, replace=False)),
                               dataset.n_train + np.sort(rng.choice(n - dataset.n_train, n_samples - n_train,
                                                                    replace=False))])
    else:
        n_train = None
        keep = np.sort(rng.choice(n, n_samples, replace=False))
    return replace(dataset, X=np.asarray(dataset.X[keep]), y=None if dataset.y is None else dataset.y[keep],
                   n_train=n_train, rows=dataset.row_index()[keep],
                   source=f"{dataset.source} (random subset of {n_samples}, seed {random_state})")

@dataclass
class MinMaxScaling:
    """Affine map of the training data's range onto [0, 1].

    Images are scaled by one global minimum and maximum (so that a border pixel that is always black stays
    comparable to the others); tabular data are scaled per feature. Constant features map to 0.
    """

    data_min: np.ndarray
    data_max: np.ndarray
    per_feature: bool

    @classmethod
    def fit(cls, X: np.ndarray, per_feature: bool) -> MinMaxScaling:
        X = np.asarray(X)
        if per_feature:
            return cls(X.min(axis=0).astype(np.float64), X.max(axis=0).astype(np.float64), True)
        return cls(np.array([X.min()], dtype=np.float64), np.array([X.max()], dtype=np.float64), False)

    @property
    def data_range(self) -> np.ndarray:
        """What ``transform`` divides by: ``data_max - data_min``, and 1 for a constant feature."""
        span = self.data_max - self.data_min
        return np.where(span > 0, span, 1.0)

    def transform(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if self.per_feature and X.shape[1] != len(self.data_min):
            raise ValueError(
                f"X has {X.shape[1]} features but the scaling was fitted on {len(self.data_min)}; "
                "pass data with the same columns as in training"
            )
        return ((X - self.data_min) / self.data_range).astype(np.float32)

    def inverse_transform(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, dtype=np.float64) * self.data_range + self.data_min

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "minmax",
            "per_feature": self.per_feature,
            "data_min": self.data_min.tolist(),
            "data_max": self.data_max.tolist(),
        }

    @classmethod
    def from_dict(cls, record: dict[str, Any], n_features: int | None = None) -> MinMaxScaling:
        """The scaling written by ``to_dict``, checked field by field.

        ``data_min`` and ``data_max`` must be lists of finite numbers of the same length (``n_features`` when
        per feature and ``n_features`` is given, else 1) with ``data_min <= data_max``; equal values are a
        constant feature, as ``fit`` writes them, and map to 0. Raises ValueError naming the field.
        """
        if not isinstance(record, dict):
            raise ValueError(f"scaling must be an object, got {type(record).__name__}")
        if record.get("kind") != "minmax":
            raise ValueError(f"unknown scaling kind {record.get('kind')!r}; expected 'minmax'")
        per_feature = record.get("per_feature")
        if not isinstance(per_feature, bool):
            raise ValueError(f"scaling.per_feature must be true or false, got {per_feature!r}")
        expected = (n_features if per_feature else 1) if n_features is not None else None
        bounds = {}
        for name in ("data_min", "data_max"):
            values = record.get(name)
            if not isinstance(values, list) or not values or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                raise ValueError(f"scaling.{name} must be a non-empty list of numbers, got {_shown(values)}")
            try:
                array = np.asarray(values, dtype=np.float64)
            except OverflowError:  # an integer too large for a float
                array = np.asarray([float(v) if abs(v) < 2**1023 else np.inf for v in values])
            if not np.isfinite(array).all():
                index = int(np.flatnonzero(~np.isfinite(array))[0])
                raise ValueError(f"scaling.{name}[{index}] is {_shown(values[index])}; every bound must be a finite "
                                 "number")
            if expected is not None and len(array) != expected:
                what = f"{expected} features" if per_feature else "one global range (per_feature is false)"
                raise ValueError(f"scaling.{name} holds {len(array)} values but the model has {what}")
            bounds[name] = array
        data_min, data_max = bounds["data_min"], bounds["data_max"]
        if len(data_min) != len(data_max):
            raise ValueError(f"scaling.data_min holds {len(data_min)} values but scaling.data_max holds "
                             f"{len(data_max)}; they must have one value per feature each")
        if not per_feature and len(data_min) != 1:
            raise ValueError(f"scaling.data_min holds {len(data_min)} values but per_feature is false, which needs "
                             "one global range")
        inverted = np.flatnonzero(data_min > data_max)
        if len(inverted):
            i = int(inverted[0])
            raise ValueError(f"scaling.data_min[{i}] = {float(data_min[i])!r} is above scaling.data_max[{i}] = "
                             f"{float(data_max[i])!r}; the minimum cannot exceed the maximum")
        return cls(data_min, data_max, per_feature)


def _shown(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


class RangeScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """The [0, 1] scaling of ``aelab train`` as a scikit-learn transformer: the training range of each feature,
    or of all features together for images, mapped onto [0, 1].

    The first step of the Pipeline a run folder loads as (``aelab.load``). ``transform`` computes in float64
    and returns float32, the values the run's autoencoder was trained on; ``inverse_transform`` returns
    values in the data's units, in the dtype it is given. NaN passes through (the autoencoder refuses it
    naming the row and column).

    Parameters
    ----------
    per_feature : bool, default=True
        True scales each feature by its own range (tables); False scales every feature by one global minimum
        and maximum (images, so that a border pixel that is always black stays comparable to the others).

    Attributes
    ----------
    scaling_ : MinMaxScaling
        The fitted minimum and maximum (one of each per feature, or one in all).
    n_features_in_ : int
        Number of features seen in fit.

    Examples
    --------
    >>> import numpy as np
    >>> RangeScaler(per_feature=False).fit(np.array([[0.0, 255.0], [51.0, 102.0]])).transform([[255.0, 0.0]])
    array([[1., 0.]], dtype=float32)
    """

    def __init__(self, per_feature=True):
        self.per_feature = per_feature

    def fit(self, X, y=None):
        """Learn the minimum and maximum of ``X`` (``y`` is ignored); returns self."""
        if not isinstance(self.per_feature, (bool, np.bool_)):
            raise ValueError(f"per_feature must be True or False, got {self.per_feature!r}")
        X = validate_data(self, X, reset=True, dtype=[np.float64, np.float32], ensure_all_finite="allow-nan")
        X = X.astype(np.float64)
        if not self.per_feature:
            X = X.reshape(-1, 1)
        # NaN is a missing value: the range is that of the values present, as in scikit-learn's MinMaxScaler
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a feature of NaN only: its range is [0, 0]
            low, high = np.nan_to_num(np.nanmin(X, axis=0)), np.nan_to_num(np.nanmax(X, axis=0))
        self.scaling_ = MinMaxScaling(low, high, bool(self.per_feature))
        return self

    @classmethod
    def from_scaling(cls, scaling: MinMaxScaling, n_features: int) -> RangeScaler:
        """The fitted transformer of a ``MinMaxScaling`` (as a run folder records it) for ``n_features`` features."""
        expected = n_features if scaling.per_feature else 1
        if len(scaling.data_min) != expected:
            raise ValueError(f"the scaling holds {len(scaling.data_min)} range(s) but {n_features} features need "
                             f"{expected}; pass the scaling fitted on these features")
        scaler = cls(per_feature=scaling.per_feature)
        scaler.scaling_ = scaling
        scaler.n_features_in_ = int(n_features)
        return scaler

    def transform(self, X):
        """``X`` scaled as the training data were: float32, the training part within [0, 1]."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32], ensure_all_finite="allow-nan")
        return self.scaling_.transform(X)

    def inverse_transform(self, X):
        """Scaled values back in the data's units, in the dtype of ``X`` (computed in float64)."""
        check_is_fitted(self)
        X = check_array(X, dtype=[np.float64, np.float32], ensure_all_finite="allow-nan")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features but RangeScaler was fitted on {self.n_features_in_}; "
                             "pass data with the same columns as in fit")
        return self.scaling_.inverse_transform(X).astype(X.dtype, copy=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.input_tags.allow_nan = True
        return tags
