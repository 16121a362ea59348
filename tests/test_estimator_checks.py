"""scikit-learn's own estimator checks on Autoencoder.

No check is skipped by this file. scikit-learn itself skips one, ``check_array_api_input``, unless the
environment sets SCIPY_ARRAY_API=1; Autoencoder does not declare array-API support (it converts its input
to NumPy and then to a torch tensor), so that check does not apply.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from aelab import Autoencoder


@parametrize_with_checks([Autoencoder(hidden=(8,), latent_dim=2, epochs=3, batch_size=32, device="cpu")])
def test_sklearn_compatible(estimator, check):
    check(estimator)
