"""scikit-learn's own estimator checks on Autoencoder and the anomaly detectors.

No check is skipped by this file. scikit-learn itself skips one, ``check_array_api_input``, unless the
environment sets SCIPY_ARRAY_API=1; the estimators do not declare array-API support (Autoencoder converts its
input to NumPy and then to a torch tensor), so that check does not apply.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from aelab import Autoencoder
from aelab.anomaly import AutoencoderDetector, BaselineDetector
from aelab.parts import Dense, Gaussian, GaussianNoise, L1Code


@parametrize_with_checks([
    Autoencoder(encoder=Dense(hidden=(8,)), n_components=2, epochs=3, batch_size=32, device="cpu"),
    Autoencoder(encoder=Dense(hidden=(8,)), latent=Gaussian(beta=0.5), corruption=GaussianNoise(0.1),
                penalties=(L1Code(1e-3),), n_components=2, epochs=3, batch_size=32, device="cpu"),
    AutoencoderDetector(Autoencoder(encoder=Dense(hidden=(8,)), n_components=2, epochs=3, batch_size=32, device="cpu"),
                        scorer="mse"),
    BaselineDetector("pca", "mse"),
    BaselineDetector("raw", "isolation-forest"),
])
def test_sklearn_compatible(estimator, check):
    check(estimator)
