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

import pytest
from sklearn.base import TransformerMixin
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
from aelab.parts import Dense, Gaussian, GaussianNoise, L1Code


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


@parametrize_with_checks([
    tiny_autoencoder(),
    tiny_autoencoder(latent=Gaussian(beta=0.5), corruption=GaussianNoise(0.1), penalties=(L1Code(1e-3),)),
    AutoencoderDetector(tiny_autoencoder(), scorer="mse"),
    BaselineDetector("pca", "mse"),
    BaselineDetector("raw", "isolation-forest"),
    *CLUSTERERS_AND_BASELINES,
])
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", CLUSTERERS_AND_BASELINES, ids=lambda estimator: type(estimator).__name__)
def test_feature_names(estimator):
    """The feature-name checks scikit-learn runs on its own estimators (check_estimator leaves them out):
    fitted on a DataFrame, the estimator keeps its column names and refuses other columns; a transformer names
    its output columns."""
    name = type(estimator).__name__
    check_dataframe_column_names_consistency(name, estimator)
    if isinstance(estimator, TransformerMixin):
        check_transformer_get_feature_names_out(name, estimator)
        check_transformer_get_feature_names_out_pandas(name, estimator)
