"""scikit-learn's own estimator checks on every estimator: the autoencoder, the anomaly detectors, the
clusterers and the baselines.

No check is skipped by this file. scikit-learn itself skips one, ``check_array_api_input``, unless the
environment sets SCIPY_ARRAY_API=1; the estimators do not declare array-API support (they convert their
input to NumPy, and the autoencoders then to a torch tensor), so that check does not apply.

``UMAPBaseline`` is checked with ``placement="neighbours"``: its default, umap-learn's own ``transform``,
optimises a batch of new rows together from one random stream, so it fails the sample-order and subset
invariance checks by design (that default stays: it is the UMAP its users get and the comparisons measure).

``PrecomputedEmbedding`` is not checked: it is not a general estimator but a holder for an embedding made
elsewhere, one row per row of the one X it is fitted on, so it cannot be fitted on the data the checks make up
(its contract is tested in test_baselines.py).

The settings are the smallest that run each method: networks of one hidden layer of 8 units trained for
2 epochs, one restart of k-means and of the mixtures, a few fine-tuning iterations for DEC and IDEC.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
import umap  # noqa: F401  its import warns that TensorFlow is missing; imported here, before any warning is an error
from sklearn.base import TransformerMixin, clone
from sklearn.datasets import make_blobs
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    check_transformer_get_feature_names_out,
    check_transformer_get_feature_names_out_pandas,
    parametrize_with_checks,
)

from aelab import Autoencoder
from aelab.anomaly import AutoencoderDetector, BaselineDetector
from aelab.baselines import PCABaseline, RawInput, TSNEBaseline, UMAPBaseline
from aelab.cluster import DEC, IDEC, N2D, AutoencoderGaussianMixture, AutoencoderKMeans
from aelab.parts import Dense, Gaussian, GaussianNoise, L1Code, NeighbourGraph


def tiny_autoencoder(epochs=3, **parts):
    return Autoencoder(encoder=Dense(hidden=(8,)), n_components=2, epochs=epochs, batch_size=32, device="cpu",
                       **parts)


def self_training(method):
    return method(tiny_autoencoder(2), n_clusters=3, update_interval=2, max_iter=4, batch_size=32, n_init=1)


CLUSTERERS_AND_BASELINES = [
    AutoencoderKMeans(tiny_autoencoder(2), n_clusters=3, n_init=1),
    AutoencoderGaussianMixture(tiny_autoencoder(2), n_clusters=3, n_init=1),
    N2D(tiny_autoencoder(2), n_clusters=3, n_init=1),
    self_training(DEC),
    self_training(IDEC),
    RawInput(),
    PCABaseline(),
    TSNEBaseline(),
    UMAPBaseline(placement="neighbours"),
]


DETECTORS = [
    AutoencoderDetector(tiny_autoencoder(), scorer="mse"),
    BaselineDetector("pca", "mse"),
    BaselineDetector("raw", "isolation-forest"),
]
ESTIMATORS = [tiny_autoencoder(), *DETECTORS, *CLUSTERERS_AND_BASELINES]


def estimator_id(estimator) -> str:
    return type(estimator).__name__


@parametrize_with_checks([
    *ESTIMATORS,
    tiny_autoencoder(latent=Gaussian(beta=0.5), corruption=GaussianNoise(0.1), penalties=(L1Code(1e-3),)),
    tiny_autoencoder(penalties=(NeighbourGraph(n_neighbors=5, edge_batch_size=64),)),
])
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=estimator_id)
def test_feature_names(estimator):
    """The feature-name checks scikit-learn runs on its own estimators (check_estimator leaves them out):
    fitted on a DataFrame, the estimator keeps its column names and refuses other columns; a transformer names
    its output columns."""
    name = type(estimator).__name__
    check_dataframe_column_names_consistency(name, estimator)
    if isinstance(estimator, TransformerMixin):
        check_transformer_get_feature_names_out(name, estimator)
        check_transformer_get_feature_names_out_pandas(name, estimator)


COLUMNS = ["height", "width", "depth", "mass", "age"]


def blobs_frame(n_samples: int = 120) -> pd.DataFrame:
    """Three blobs in five named columns, indexed from 100 (so that a lost index shows)."""
    X, _ = make_blobs(n_samples, n_features=len(COLUMNS), centers=3, random_state=0)
    return pd.DataFrame(X, columns=COLUMNS, index=np.arange(100, 100 + n_samples))


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=estimator_id)
def test_fits_and_applies_to_a_dataframe_without_a_warning(estimator):
    frame = blobs_frame()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fitted = clone(estimator).fit(frame)
        for method in ("transform", "predict", "score_samples", "decision_function"):
            if hasattr(fitted, method):
                assert len(getattr(fitted, method)(frame)) == len(frame)
    assert list(fitted.feature_names_in_) == COLUMNS and fitted.n_features_in_ == len(COLUMNS)


TRANSFORMER_COLUMNS = [
    (tiny_autoencoder(), ["autoencoder0", "autoencoder1"]),
    (RawInput(), COLUMNS),
    (PCABaseline(), ["pcabaseline0", "pcabaseline1"]),
    (TSNEBaseline(), ["tsnebaseline0", "tsnebaseline1"]),
    (UMAPBaseline(placement="neighbours"), ["umapbaseline0", "umapbaseline1"]),
]


@pytest.mark.parametrize(("transformer", "columns"), TRANSFORMER_COLUMNS,
                         ids=[estimator_id(t) for t, _ in TRANSFORMER_COLUMNS])
def test_set_output_pandas_names_the_code_columns(transformer, columns):
    frame = blobs_frame()
    fitted = clone(transformer).set_output(transform="pandas").fit(frame)
    code = fitted.transform(frame)
    assert isinstance(code, pd.DataFrame)
    assert list(code.columns) == columns == list(fitted.get_feature_names_out())
    assert code.index.equals(frame.index)


@pytest.mark.parametrize("transformer", [tiny_autoencoder(), PCABaseline()], ids=estimator_id)
def test_inverse_transform_gives_the_input_columns_under_pandas_output(transformer):
    frame = blobs_frame()
    fitted = clone(transformer).set_output(transform="pandas").fit(frame)
    code = fitted.transform(frame)
    decoded = fitted.inverse_transform(code)
    assert isinstance(decoded, pd.DataFrame)
    assert list(decoded.columns) == COLUMNS and decoded.index.equals(frame.index)
    plain = fitted.set_output(transform="default")
    np.testing.assert_array_equal(decoded.to_numpy(), plain.inverse_transform(code.to_numpy()))
    fitted_on_array = clone(transformer).set_output(transform="pandas").fit(frame.to_numpy())
    decoded = fitted_on_array.inverse_transform(fitted_on_array.transform(frame.to_numpy()))
    assert list(decoded.columns) == ["x0", "x1", "x2", "x3", "x4"]  # scikit-learn's names for unnamed columns


def test_a_pipeline_of_a_scaler_and_an_autoencoder_gives_a_named_dataframe():
    frame = blobs_frame()
    pipeline = make_pipeline(StandardScaler(), tiny_autoencoder()).set_output(transform="pandas")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the scaler hands the autoencoder a DataFrame: no feature-name warning
        code = pipeline.fit(frame).transform(frame)
    assert isinstance(code, pd.DataFrame) and list(code.columns) == ["autoencoder0", "autoencoder1"]
    assert code.index.equals(frame.index)
    assert list(pipeline[-1].feature_names_in_) == COLUMNS
    assert list(pipeline.get_feature_names_out()) == ["autoencoder0", "autoencoder1"]
