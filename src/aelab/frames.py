"""``inverse_transform`` in the container ``set_output`` asks for, with the input's column names.

scikit-learn's ``set_output(transform="pandas")`` makes ``transform`` return a DataFrame named by
``get_feature_names_out``; the estimators of aelab that decode codes back to the input space give their
``inverse_transform`` the same container, named by the input features, so that a round trip gives back a frame
like the one fitted.
"""

from __future__ import annotations

import numpy as np

# scikit-learn's own reading of an estimator's set_output (or the global set_config) and its container adapters:
# the same rules as for transform, pandas and polars alike
from sklearn.utils._set_output import _get_container_adapter


def input_feature_names(estimator) -> np.ndarray:
    """The fitted estimator's input feature names: ``feature_names_in_``, or ``x0, x1, ...`` when it was fitted
    on an array without names (scikit-learn's convention)."""
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        return np.asarray(names, dtype=object)
    return np.asarray([f"x{i}" for i in range(estimator.n_features_in_)], dtype=object)


def as_input_features(estimator, X_out: np.ndarray, Z) -> np.ndarray:
    """``X_out`` (the output of ``estimator.inverse_transform(Z)``) as the container the estimator's transform
    output is set to, with the input feature names as columns and ``Z``'s index; unchanged for the default
    (NumPy) output."""
    adapter = _get_container_adapter("transform", estimator)
    if adapter is None:
        return X_out
    return adapter.create_container(X_out, Z, columns=lambda: input_feature_names(estimator))
