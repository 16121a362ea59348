import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from aelab import Autoencoder, load
from aelab.estimators import params_record
from aelab.parts import Dense


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return (bunch.data / 16.0).astype(np.float32), bunch.target


def small(**kw):
    params = dict(encoder=Dense(hidden=(32,)), n_components=4, epochs=4, batch_size=64, random_state=0, device="cpu")
    params.update(kw)
    return Autoencoder(**params)


def test_same_random_state_gives_identical_results(digits):
    X, _ = digits
    a, b = small().fit(X), small().fit(X)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    assert a.history_ == b.history_
    c = small(random_state=1).fit(X)
    assert not np.array_equal(a.transform(X), c.transform(X))


def test_save_load_roundtrip_is_identical(digits, tmp_path):
    X, _ = digits
    ae = small().fit(X)
    ae.save(tmp_path / "model")
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == ["model.json", "model.safetensors"]
    loaded = load(tmp_path / "model")
    np.testing.assert_array_equal(loaded.transform(X), ae.transform(X))
    np.testing.assert_array_equal(loaded.reconstruct(X), ae.reconstruct(X))
    assert params_record(loaded) == params_record(ae) and loaded.history_ == ae.history_
    assert loaded.encoder.get_params() == ae.encoder.get_params() and loaded.encoder is not ae.encoder


def test_shapes_outputs_and_history(digits):
    X, _ = digits
    ae = small(epochs=3, patience=None).fit(X)
    assert ae.transform(X).shape == (1797, 4) and ae.transform(X).dtype == np.float32
    assert ae.inverse_transform(ae.transform(X[:5])).shape == (5, 64)
    assert ae.output_activation_ == "sigmoid"
    assert len(ae.history_["train_loss"]) == len(ae.history_["validation_loss"]) == 3 == ae.n_epochs_
    rec = ae.reconstruct(X[:5])
    assert rec.min() >= 0 and rec.max() <= 1
    np.testing.assert_allclose(-ae.score_samples(X[:5]), ((rec - X[:5]) ** 2).mean(axis=1), rtol=1e-5)


def test_training_reduces_reconstruction_error(digits):
    X, _ = digits
    one = small(epochs=1, patience=None).fit(X)
    many = small(epochs=30, patience=None).fit(X)
    assert many.score(X) > one.score(X)
    assert many.history_["train_loss"][-1] < many.history_["train_loss"][0] / 2


def test_no_hidden_layer_and_linear_output_for_unscaled_data():
    X = np.random.default_rng(0).normal(size=(200, 6)) * 5
    ae = Autoencoder(encoder=Dense(hidden=()), n_components=3, epochs=2, random_state=0).fit(X)
    assert ae.output_activation_ == "linear"
    assert [m.__class__.__name__ for m in ae.network_.encoder.modules()].count("Linear") == 1
    assert ae.transform(X).dtype == np.float64


def test_custom_decoder_and_activation(digits):
    X, _ = digits
    ae = small(encoder=Dense(hidden=(40, 20), decoder_hidden=(10,), activation="tanh", code_activation="relu")).fit(X)
    decoder_widths = [m.out_features for m in ae.network_.decoder.modules() if isinstance(m, torch.nn.Linear)]
    assert decoder_widths == [10, 64]
    assert (ae.transform(X) >= 0).all()


def test_early_stopping_keeps_best_weights(digits):
    X, _ = digits
    ae = small(epochs=200, patience=2, learning_rate=0.05).fit(X)
    assert ae.n_epochs_ < 200
    val = ae.history_["validation_loss"]
    assert ae.best_epoch_ == int(np.argmin(val)) + 1


def test_pipeline_and_grid_search(digits):
    X, y = digits
    pipe = Pipeline([("ae", small(n_components=8, epochs=5)), ("clf", LogisticRegression(max_iter=500))])
    search = GridSearchCV(pipe, {"ae__n_components": [2, 8]}, cv=2).fit(X, y)
    assert search.best_params_ == {"ae__n_components": 8}
    assert search.score(X, y) > 0.5


def test_bce_loss(digits):
    X, _ = digits
    ae = small(loss="bce").fit(X)
    assert np.isfinite(ae.score(X))
    with pytest.raises(ValueError, match=r"loss='bce' needs data in \[0, 1\]"):
        small(loss="bce").fit(X * 16)


# ------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("bad, message", [
    (np.array([[0.1, np.nan, 0.2], [0.3, 0.4, 0.5]]),
     r"X contains 1 NaN or infinite value\(s\), the first at row 0, column 1; remove or impute"),
    (np.array([[0.1, np.inf, 0.2], [0.3, 0.4, 0.5]]), r"NaN or infinite"),
    (np.zeros((0, 3)), r"0 sample\(s\)"),
    (np.zeros(5), r"Expected 2D array, got 1D array"),
    (np.zeros((2, 3, 4)), r"Found array with dim 3"),
])
def test_bad_training_input(bad, message):
    with pytest.raises(ValueError, match=message):
        Autoencoder(n_components=1, epochs=1).fit(bad)


def test_feature_count_at_transform_differs_from_fit(digits):
    X, _ = digits
    ae = small().fit(X)
    with pytest.raises(ValueError, match="X has 63 features, but Autoencoder is expecting 64 features as input; "
                                         "pass data with the same columns as in fit"):
        ae.transform(X[:, :63])


def test_latent_larger_than_input():
    message = r"n_components=5 is larger than the input, which has 3 feature\(s\); pass n_components <= 3"
    with pytest.raises(ValueError, match=message):
        Autoencoder(n_components=5).fit(np.zeros((10, 3)))


@pytest.mark.parametrize("params, message", [
    ({"encoder": Dense(hidden=(10, 0))}, r"Dense hidden must hold positive integer widths, got \(10, 0\)"),
    ({"encoder": Dense(activation="swish")}, "Dense activation='swish' is not one of"),
    ({"loss": "l1"}, "loss='l1' is not one of"),
    ({"learning_rate": -1}, "learning_rate must be a number > 0.0, got -1"),
    ({"validation_fraction": 1.0}, r"validation_fraction must be a number >= 0.0 and < 1.0, got 1.0"),
    ({"device": "tpu"}, "unknown device 'tpu'"),
])
def test_bad_parameters(params, message):
    with pytest.raises(ValueError, match=message):
        Autoencoder(n_components=1, epochs=1, **params).fit(np.random.default_rng(0).random((20, 3)))


def test_wrong_code_width_for_inverse_transform(digits):
    X, _ = digits
    with pytest.raises(ValueError, match="the codes have 3 columns but the model's n_components is 4"):
        small().fit(X).inverse_transform(np.zeros((2, 3)))


def test_default_length_follows_the_step_budget_and_is_saved(tmp_path):
    from aelab.estimators import DEFAULT_STEPS, MAX_EPOCHS

    X = np.random.default_rng(0).random((200, 5)).astype(np.float32)
    # 180 training rows in batches of 20: 9 steps an epoch, so the budget needs ceil(DEFAULT_STEPS / 9) epochs
    ae = Autoencoder(encoder=Dense(hidden=(4,)), batch_size=20, patience=1, random_state=0, device="cpu").fit(X)
    assert ae.epochs is None and ae.epochs_ == -(-DEFAULT_STEPS // 9) and ae.n_epochs_ <= ae.epochs_
    ae.save(tmp_path / "m")
    assert load(tmp_path / "m").epochs_ == ae.epochs_
    tiny = Autoencoder(encoder=Dense(hidden=(4,)), batch_size=180, patience=1, random_state=0, device="cpu").fit(X)
    assert tiny.epochs_ == min(MAX_EPOCHS, DEFAULT_STEPS)  # one step an epoch: capped
    assert small(epochs=3).fit(X).epochs_ == 3


def test_a_fit_whose_best_epoch_is_the_last_says_train_longer(digits, caplog):
    X, _ = digits
    with caplog.at_level("DEBUG", logger="aelab.estimators"):
        ae = small(epochs=1, verbose=1).fit(X)
        quiet = small(epochs=1, verbose=0).fit(X)
    assert ae.best_epoch_ == ae.n_epochs_ == quiet.best_epoch_ == 1
    said = "still improving at the last epoch: train longer (epoch 1 of 1 was the best; raise epochs)"
    records = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "aelab.estimators"]
    assert records == [("WARNING", said), ("DEBUG", said)]  # verbose=0 keeps it off a script's stderr
    caplog.clear()
    with caplog.at_level("DEBUG", logger="aelab.estimators"):
        small(epochs=200, patience=2, learning_rate=0.05).fit(X)
    assert [r for r in caplog.records if "still improving" in r.getMessage()] == []


def test_the_default_autoencoder_beats_pca_on_a_curve():
    """Points on a closed curve in 6-D (the first three harmonics of one angle): PCA-2 keeps the first harmonic
    only, while the default autoencoder's 2-D code can hold the angle and decode every harmonic from it."""
    from sklearn.decomposition import PCA

    angle = np.random.default_rng(0).uniform(0, 2 * np.pi, 400)
    X = np.column_stack([f(k * angle) for f in (np.cos, np.sin) for k in (1, 2, 3)]).astype(np.float32) / 2 + 0.5
    X_train, X_test = X[:300], X[300:]
    autoencoder = Autoencoder(n_components=2, random_state=0, device="cpu").fit(X_train)
    pca = PCA(n_components=2).fit(X_train)
    autoencoder_mse = np.mean((autoencoder.reconstruct(X_test) - X_test) ** 2)
    pca_mse = np.mean((pca.inverse_transform(pca.transform(X_test)) - X_test) ** 2)
    assert autoencoder_mse < 0.5 * pca_mse
