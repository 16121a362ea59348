"""Anomaly scores, thresholds and detectors (aelab.anomaly); the Autoencoder itself only scores."""

import json

import numpy as np
import pytest
from sklearn.datasets import load_digits

from aelab import Autoencoder, load
from aelab.anomaly import (
    DEFAULT_SCORER,
    AutoencoderDetector,
    AutoencoderScorer,
    BaselineDetector,
    ScoreCombination,
    default_autoencoder,
    reconstruction_scores,
    resolve_scorer,
    threshold_from_scores,
)
from aelab.parts import Dense, Gaussian

UNSEEN = 7  # the digit left out of training: the planted anomalies


def small_autoencoder(**params) -> Autoencoder:
    defaults = dict(encoder=Dense(hidden=(32,)), n_components=8, epochs=60, batch_size=32, random_state=0, device="cpu")
    return Autoencoder(**{**defaults, **params})


@pytest.fixture(scope="module")
def digits_split():
    """Digits other than 7 split into training and held-out normal rows, and every 7 as the anomalies."""
    digits = load_digits()
    X = (digits.data / 16.0).astype(np.float32)
    normal = np.flatnonzero(digits.target != UNSEEN)
    rng = np.random.default_rng(0)
    rng.shuffle(normal)
    train, held_out = normal[:1200], normal[1200:]
    return X[train], X[held_out], X[digits.target == UNSEEN]


@pytest.fixture(scope="module")
def fitted_detector(digits_split):
    """A detector whose scores are the autoencoder's own ``score_samples`` (negative mean squared error)."""
    X_train, _, _ = digits_split
    return AutoencoderDetector(small_autoencoder(), scorer="mse", contamination=0.05).fit(X_train)


def test_reconstruction_scores_by_hand():
    X = np.array([[0.0, 1.0], [0.5, 0.5]])
    R = np.array([[0.5, 1.0], [0.5, 0.0]])
    np.testing.assert_allclose(reconstruction_scores(X, R, "mse"), [-0.125, -0.125])
    eps = 1e-7  # predictions of exactly 0 or 1 are clipped
    expected = [(np.log(0.5) + np.log(1 - eps)) / 2, (np.log(0.5) + 0.5 * np.log(eps) + 0.5 * np.log(1 - eps)) / 2]
    np.testing.assert_allclose(reconstruction_scores(X, R, "bce"), expected, rtol=1e-6)
    with pytest.raises(ValueError, match=r"bce scorer needs data in \[0, 1\]"):
        reconstruction_scores(X * 2, R, "bce")


def test_score_combination_averages_scores_standardized_by_their_training_scores():
    # medians 2.5 and 25, interquartile ranges 1.5 and 15
    combination = ScoreCombination().fit([np.array([1.0, 2.0, 3.0, 4.0]), np.array([10.0, 20.0, 30.0, 40.0])])
    np.testing.assert_allclose(combination.score([np.array([4.0, 1.0]), np.array([25.0, 10.0])]),
                               [(1.5 / 1.5 + 0) / 2, (-1.5 / 1.5 - 15 / 15) / 2])


def test_smooth_mse_blurs_the_residual_image_before_squaring():
    X = np.zeros((1, 9))
    R = np.zeros((1, 9))
    R[0, 4] = 1.0  # one wrong pixel in the middle of a 3x3 image
    from scipy.ndimage import gaussian_filter

    blurred = gaussian_filter(-R.reshape(3, 3), sigma=1.0)
    np.testing.assert_allclose(reconstruction_scores(X, R, "smooth-mse"), [-(blurred ** 2).mean()])
    assert reconstruction_scores(X, R, "smooth-mse")[0] > reconstruction_scores(X, R, "mse")[0]
    with pytest.raises(ValueError, match="smooth-mse scorer needs images, but 10 features"):
        reconstruction_scores(np.zeros((1, 10)), np.zeros((1, 10)), "smooth-mse")


def test_auto_scorer_is_smooth_mse_for_images_and_mse_otherwise():
    assert resolve_scorer("auto", 784) == "smooth-mse" and resolve_scorer("auto", 50) == "mse"
    assert resolve_scorer("auto", 50, sample_shape=(5, 10)) == "smooth-mse" and resolve_scorer("lof", 784) == "lof"


def test_threshold_is_the_contamination_quantile():
    assert threshold_from_scores(np.arange(101.0), 0.1) == pytest.approx(10.0)


def test_detector_predict_flags_the_contamination_fraction_of_training_data(digits_split, fitted_detector):
    X_train, _, _ = digits_split
    flagged = np.mean(fitted_detector.predict(X_train) == -1)
    assert flagged == pytest.approx(0.05, abs=1 / len(X_train))
    np.testing.assert_allclose(fitted_detector.decision_function(X_train),
                               fitted_detector.score_samples(X_train) - fitted_detector.offset_)
    assert set(np.unique(fitted_detector.predict(X_train))) == {-1, 1}
    # the mse scorer is the autoencoder's own score_samples, so the threshold is a quantile of those
    np.testing.assert_allclose(fitted_detector.score_samples(X_train),
                               fitted_detector.autoencoder_.score_samples(X_train), rtol=1e-5)


def test_autoencoder_scores_but_holds_no_threshold(digits_split, fitted_detector):
    X_train, held_out, _ = digits_split
    ae = fitted_detector.autoencoder_
    assert "contamination" not in Autoencoder().get_params()
    for name in ("offset_", "score_quantiles_", "predict", "decision_function", "set_threshold"):
        assert not hasattr(ae, name), name
    np.testing.assert_allclose(ae.score_samples(held_out), -ae.reconstruction_error(held_out))
    with pytest.raises(TypeError, match="contamination"):
        Autoencoder(contamination=0.1)


def test_autoencoder_fit_runs_no_scoring_pass_over_its_training_data(monkeypatch):
    X = np.random.default_rng(0).random((64, 12)).astype(np.float32)
    calls = []
    for name in ("score_samples", "reconstruction_error", "reconstruct", "_batched"):
        original = getattr(Autoencoder, name)
        monkeypatch.setattr(Autoencoder, name,
                            lambda self, *a, _name=name, _original=original, **k: calls.append(_name)
                            or _original(self, *a, **k))
    small_autoencoder(epochs=2).fit(X)
    assert calls == []


def test_detector_scores_its_training_data_once_to_set_the_threshold(monkeypatch):
    X = np.random.default_rng(0).random((64, 12)).astype(np.float32)
    scored = []
    original = AutoencoderScorer.score
    monkeypatch.setattr(AutoencoderScorer, "score",
                        lambda self, autoencoder, X: scored.append(len(X)) or original(self, autoencoder, X))
    detector = AutoencoderDetector(small_autoencoder(epochs=2), scorer="mse", contamination=0.25).fit(X)
    assert scored == [64]
    assert detector.offset_ == pytest.approx(np.quantile(detector.autoencoder_.score_samples(X), 0.25), rel=1e-5)


def test_planted_anomalies_are_flagged_far_above_the_contamination_rate(digits_split, fitted_detector):
    _, held_out, sevens = digits_split
    X_test = np.concatenate([held_out, sevens])
    predictions = fitted_detector.predict(X_test)
    flagged_sevens = np.mean(predictions[len(held_out):] == -1)
    flagged_normal = np.mean(predictions[:len(held_out)] == -1)
    assert flagged_sevens > 0.5  # ten times the contamination of 0.05
    assert flagged_normal < 0.15


def test_detector_default_scorer_flags_planted_anomalies(digits_split):
    X_train, held_out, sevens = digits_split
    detector = AutoencoderDetector(small_autoencoder(), contamination=0.05).fit(X_train)
    assert detector.scorer == DEFAULT_SCORER == "auto" and detector.scorer_.kind == "smooth-mse"  # 8x8 images
    predictions = detector.predict(np.concatenate([held_out, sevens]))
    assert np.mean(predictions[len(held_out):] == -1) > 0.5
    assert np.mean(predictions[:len(held_out)] == -1) < 0.15


@pytest.mark.parametrize(("scorer", "minimum_auroc"), [
    ("mse", 0.8), ("bce", 0.7), ("isolation-forest", 0.55), ("lof", 0.7), ("gmm", 0.7), ("combined", 0.7),
])
def test_every_code_scorer_separates_the_unseen_digit(digits_split, scorer, minimum_auroc):
    from sklearn.metrics import roc_auc_score

    X_train, held_out, sevens = digits_split
    detector = AutoencoderDetector(small_autoencoder(epochs=30), scorer=scorer).fit(X_train)
    scores = detector.score_samples(np.concatenate([held_out, sevens]))
    normal = np.r_[np.ones(len(held_out)), np.zeros(len(sevens))]
    assert roc_auc_score(normal, scores) > minimum_auroc
    assert detector.offset_ == pytest.approx(np.quantile(detector.score_samples(X_train), 0.1))


def test_elbo_scorer_needs_a_bernoulli_variational_autoencoder(digits_split):
    X_train, held_out, _ = digits_split
    with pytest.raises(ValueError, match="scorer='elbo' needs a variational autoencoder"):
        AutoencoderDetector(small_autoencoder(), scorer="elbo").fit(X_train)
    detector = AutoencoderDetector(small_autoencoder(epochs=5, latent=Gaussian(), loss="bce"), scorer="elbo")
    scores = detector.fit(X_train).score_samples(held_out)
    assert scores.shape == (len(held_out),) and np.all(scores < 0)  # an ELBO of binary-ish data in nats


@pytest.mark.parametrize(("representation", "scorer"), [
    ("raw", "isolation-forest"), ("raw", "lof"), ("raw", "ocsvm"), ("pca", "mse"), ("pca", "gmm"),
])
def test_baselines_separate_the_unseen_digit(digits_split, representation, scorer):
    from sklearn.metrics import roc_auc_score

    X_train, held_out, sevens = digits_split
    detector = BaselineDetector(representation, scorer, contamination=0.2).fit(X_train)
    scores = detector.score_samples(np.concatenate([held_out, sevens]))
    assert roc_auc_score(np.r_[np.ones(len(held_out)), np.zeros(len(sevens))], scores) > 0.7
    assert np.mean(detector.predict(X_train) == -1) == pytest.approx(0.2, abs=0.01)


def test_baseline_refuses_reconstruction_error_on_raw_input():
    with pytest.raises(ValueError, match="scorer='mse' is not available on the raw representation"):
        BaselineDetector("raw", "mse").fit(np.zeros((10, 3)))


@pytest.mark.parametrize("detector", [AutoencoderDetector, BaselineDetector])
@pytest.mark.parametrize("contamination", [0.0, 0.6, "auto", True])
def test_contamination_out_of_range_says_what_is_allowed(detector, contamination):
    with pytest.raises(ValueError, match=r"contamination must be .* in \(0, 0.5\]"):
        detector(contamination=contamination).fit(np.zeros((10, 3)))


def test_set_threshold_moves_the_offset(digits_split, fitted_detector):
    X_train, held_out, _ = digits_split
    detector = fitted_detector
    before = detector.offset_
    try:
        detector.set_threshold(0.25)
        assert np.mean(detector.predict(X_train) == -1) == pytest.approx(0.25, abs=0.011)
        detector.set_threshold(0.3)
        assert detector.offset_ == pytest.approx(np.interp(0.3, np.linspace(0, 1, 101), detector.score_quantiles_))
        detector.set_threshold(0.5, X=held_out)
        assert detector.offset_ == pytest.approx(np.median(detector.score_samples(held_out)))
        detector.set_threshold(0.1, X=X_train)
        assert np.mean(detector.predict(X_train) == -1) == pytest.approx(0.1, abs=1 / len(X_train))
        with pytest.raises(ValueError, match=r"quantile must be a number in \[0, 1\]"):
            detector.set_threshold(1.5)
    finally:
        detector.offset_ = before


def test_unfitted_detector_predict_says_to_fit_first(digits_split):
    from sklearn.exceptions import NotFittedError

    _, held_out, _ = digits_split
    for method in ("predict", "decision_function", "score_samples"):
        with pytest.raises(NotFittedError, match="not fitted yet"):
            getattr(AutoencoderDetector(small_autoencoder()), method)(held_out)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        AutoencoderDetector(small_autoencoder()).set_threshold(0.1)


def test_saved_autoencoder_holds_no_threshold_and_a_model_with_one_is_refused(digits_split, fitted_detector,
                                                                              tmp_path):
    _, held_out, _ = digits_split
    fitted_detector.autoencoder_.save(tmp_path / "model")
    record = json.loads((tmp_path / "model" / "model.json").read_text())
    assert "contamination" not in record["params"]
    assert not {"offset_", "score_quantiles_"} & set(record["fitted"])
    loaded = load(tmp_path / "model")
    np.testing.assert_array_equal(loaded.score_samples(held_out), fitted_detector.autoencoder_.score_samples(held_out))

    record["fitted"]["offset_"], record["fitted"]["score_quantiles_"] = -0.01, [-0.1, 0.0]
    (tmp_path / "model" / "model.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match=r"unknown fitted attributes \['offset_', 'score_quantiles_'\]"):
        load(tmp_path / "model")
    del record["fitted"]["offset_"], record["fitted"]["score_quantiles_"]
    record["params"]["contamination"] = 0.05
    (tmp_path / "model" / "model.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match=r"unknown \['contamination'\]"):
        load(tmp_path / "model")


def test_default_autoencoder_trains_about_2000_steps():
    ae = default_autoencoder(784, n_samples=6000)
    assert (ae.encoder.hidden, ae.n_components, ae.epochs, ae.batch_size) == ((512, 256), 16, 11, 32)
    assert default_autoencoder(8).n_components == 8
    assert [default_autoencoder(784, n_samples=n).epochs for n in (400, 6000, 10)] == [154, 11, 200]
