"""``inverse_transform`` in the container of its input, with the input's column names.

scikit-learn's ``set_output(transform="pandas")`` makes ``transform`` return a DataFrame named by
``get_feature_names_out``; the estimators of aelab that decode codes back to the input space give their
``inverse_transform`` the container of the codes it is given (a pandas DataFrame, or a polars DataFrame),
named by the input features, so that a round trip gives back a frame like the one fitted.
"""

from __future__ import annotations

import numpy as np


def input_feature_names(estimator) -> np.ndarray:
    """The fitted estimator's input feature names: ``feature_names_in_``, or ``x0, x1, ...`` when it was fitted
    on an array without names (scikit-learn's convention)."""
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        return np.asarray(names, dtype=object)
    return np.asarray([f"x{i}" for i in range(estimator.n_features_in_)], dtype=object)


def as_input_features(estimator, X_out: np.ndarray, Z):
    """``X_out`` (the output of ``estimator.inverse_transform(Z)``) in ``Z``'s container: a pandas DataFrame
    with ``Z``'s index, or a polars DataFrame, with the input feature names as columns; unchanged when ``Z`` is
    an array."""
    module = type(Z).__module__.partition(".")[0]
    if module == "pandas" and hasattr(Z, "columns"):
        import pandas as pd

        return pd.DataFrame(X_out, index=Z.index, columns=list(input_feature_names(estimator)))
    if module == "polars" and hasattr(Z, "columns"):
        import polars as pl

        return pl.DataFrame(X_out, schema=[str(n) for n in input_feature_names(estimator)], orient="row")
    return X_out
