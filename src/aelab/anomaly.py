"""Anomaly scores of autoencoders and of baselines on raw input or PCA, selectable by name.

Every score is "higher = more normal", like scikit-learn's ``score_samples``. A scorer is fitted on the
normal (training) data and then scores any data:

========================  ==================================================================================
``mse``, ``bce``          negative per-sample reconstruction error (mean squared error, binary cross-entropy)
``smooth-mse``            images only: the mean square of the residual image (data - reconstruction) blurred by
                          a Gaussian of 1 pixel, which weighs missing or extra shapes over thin misalignments
``isolation-forest``      IsolationForest on the representation (the code, the raw input or PCA's code)
``lof``                   LocalOutlierFactor(novelty=True) on the representation
``ocsvm``                 one-class SVM (RBF kernel, gamma="scale", nu=0.1) on the representation
``gmm``                   log-likelihood under a Gaussian mixture fitted to the representation
``elbo``                  the variational autoencoder's evidence lower bound (``latent=Gaussian()``, ``loss="bce"``)
``combined``              the mean of the mse and gmm scores, each standardized by its training scores
========================  ==================================================================================

``AutoencoderDetector`` scores through an autoencoder; ``BaselineDetector`` scores raw input or PCA the same
way, as the baseline to beat. Both are scikit-learn outlier detectors, and the only place of aelab that holds
an anomaly threshold: ``fit`` sets ``offset_`` at the ``contamination`` quantile of the scores of its training
data (as IsolationForest does), ``decision_function`` is ``score_samples - offset_`` and ``predict`` gives +1
(normal) or -1 (anomaly). ``Autoencoder`` itself only scores (``score_samples``).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin, clone
from sklearn.utils.validation import check_is_fitted, validate_data

from aelab.estimators import Autoencoder
from aelab.names import DEFAULT_SCORER, SCORERS
from aelab.parts.encoders import Dense
from aelab.training import epochs_for_steps

#: The scorers (``aelab.names.SCORERS``), and the ones each representation supports.
RECONSTRUCTION_SCORERS = ("mse", "smooth-mse", "bce")
#: Standard deviation, in pixels, of the Gaussian blur of the residual image for ``smooth-mse``.
SMOOTHING_SIGMA = 1.0
DENSITY_SCORERS = ("isolation-forest", "lof", "ocsvm", "gmm")
#: What ``combined`` averages: the reconstruction error and the likelihood of the code.
COMBINED = ("mse", "gmm")
REPRESENTATIONS = ("raw", "pca")
#: The detector's default (``DEFAULT_SCORER``), ``auto``: ``smooth-mse`` for images (the scorer that won the
#: one-class benchmark on MNIST and Fashion-MNIST, docs/benchmarks.md), ``mse`` for other data.
DEFAULT_IMAGE_SCORER = "smooth-mse"
GMM_COMPONENTS = 4
#: The default autoencoder's batch size and training length in gradient steps.
DEFAULT_BATCH_SIZE = 32
DEFAULT_STEPS = 2000
_EPS = 1e-7


def check_contamination(contamination) -> float:
    """``contamination`` as a float in (0, 0.5], or a ValueError saying what is allowed."""
    ok = isinstance(contamination, numbers.Real) and not isinstance(contamination, bool)
    if not ok or not 0.0 < contamination <= 0.5:
        raise ValueError(f"contamination must be the expected fraction of anomalies, a number in (0, 0.5], "
                         f"got {contamination!r}")
    return float(contamination)


def resolve_scorer(scorer: str, n_features: int, sample_shape: tuple[int, ...] | None = None) -> str:
    """``scorer``, with ``auto`` resolved: ``smooth-mse`` for images (``sample_shape``, or square flat rows of
    at least 8 x 8 pixels), ``mse`` otherwise."""
    if scorer != "auto":
        return scorer
    side = int(round(np.sqrt(n_features)))
    is_image = (sample_shape is not None and len(sample_shape) in (2, 3)) or (side * side == n_features and side >= 8)
    return DEFAULT_IMAGE_SCORER if is_image else "mse"


def check_scorer(scorer: str, allowed: Sequence[str] = SCORERS) -> str:
    if scorer not in allowed:
        raise ValueError(f"scorer={scorer!r} is not one of {', '.join(map(repr, allowed))}")
    return scorer


def threshold_from_scores(scores: np.ndarray, contamination: float) -> float:
    """The score below which a fraction ``contamination`` of ``scores`` lies: the offset of ``predict``."""
    return float(np.quantile(np.asarray(scores, dtype=np.float64), contamination))


def score_quantiles(scores: np.ndarray, n: int = 101) -> np.ndarray:
    """``n`` evenly spaced quantiles (0 to 1) of ``scores``: what ``set_threshold`` reads quantiles from."""
    return np.quantile(np.asarray(scores, dtype=np.float64), np.linspace(0.0, 1.0, n))


def image_shape_of(n_features: int, sample_shape: tuple[int, ...] | None = None) -> tuple[int, ...]:
    """The (H, W) or (C, H, W) shape of one flat sample: ``sample_shape``, or a square grayscale image."""
    if sample_shape is not None and len(sample_shape) in (2, 3):
        return tuple(int(d) for d in sample_shape)
    side = int(round(np.sqrt(n_features)))
    if side * side != n_features:
        raise ValueError(f"the smooth-mse scorer needs images, but {n_features} features are not a square image; "
                         "use scorer='mse' for other data")
    return (side, side)


def reconstruction_scores(X: np.ndarray, reconstruction: np.ndarray, kind: str,
                          sample_shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Negative per-sample reconstruction error (mean over features): ``mse``, ``smooth-mse`` (the residual
    image blurred first; ``sample_shape`` or square images) or ``bce`` for data in [0, 1]."""
    X = np.asarray(X, dtype=np.float64)
    reconstruction = np.asarray(reconstruction, dtype=np.float64)
    if kind == "mse":
        return -((X - reconstruction) ** 2).mean(axis=1)
    if kind == "smooth-mse":
        from scipy.ndimage import gaussian_filter

        shape = image_shape_of(X.shape[1], sample_shape)
        residual = (X - reconstruction).reshape(len(X), *shape)
        sigma = (0,) * (1 + len(shape) - 2) + (SMOOTHING_SIGMA, SMOOTHING_SIGMA)  # not across samples or channels
        return -(gaussian_filter(residual, sigma=sigma) ** 2).reshape(len(X), -1).mean(axis=1)
    if kind == "bce":
        if X.min() < 0 or X.max() > 1:
            raise ValueError(f"the bce scorer needs data in [0, 1] but they range over [{X.min():.4g}, "
                             f"{X.max():.4g}]; scale the data or use scorer='mse'")
        p = np.clip(reconstruction, _EPS, 1 - _EPS)
        return (X * np.log(p) + (1 - X) * np.log1p(-p)).mean(axis=1)
    raise ValueError(f"{kind!r} is not a reconstruction scorer; choose one of {', '.join(RECONSTRUCTION_SCORERS)}")


class DensityScorer:
    """One of ``DENSITY_SCORERS`` fitted to a representation (rows of codes); ``score`` is higher = more normal.

    Parameters
    ----------
    kind : {"isolation-forest", "lof", "ocsvm", "gmm"}
    random_state : int
    """

    def __init__(self, kind: str, random_state: int = 0):
        self.kind = check_scorer(kind, DENSITY_SCORERS)
        self.random_state = random_state

    def fit(self, Z: np.ndarray) -> DensityScorer:
        from sklearn.ensemble import IsolationForest
        from sklearn.mixture import GaussianMixture
        from sklearn.neighbors import LocalOutlierFactor
        from sklearn.svm import OneClassSVM

        Z = np.asarray(Z, dtype=np.float64)
        if self.kind == "isolation-forest":
            model = IsolationForest(n_estimators=200, random_state=self.random_state)
        elif self.kind == "lof":
            model = LocalOutlierFactor(n_neighbors=min(20, len(Z) - 1), novelty=True)
        elif self.kind == "ocsvm":
            model = OneClassSVM(kernel="rbf", gamma="scale", nu=0.1)
        else:
            # a full covariance per component needs enough samples per dimension; fall back to diagonal
            covariance = "full" if len(Z) >= 10 * GMM_COMPONENTS * Z.shape[1] else "diag"
            model = GaussianMixture(n_components=min(GMM_COMPONENTS, len(Z)), covariance_type=covariance,
                                    reg_covar=1e-4, random_state=self.random_state)
        self.model_ = model.fit(Z)
        return self

    def score(self, Z: np.ndarray) -> np.ndarray:
        return np.asarray(self.model_.score_samples(np.asarray(Z, dtype=np.float64)), dtype=np.float64)


class ScoreCombination:
    """Averages several scores after standardizing each by the median and interquartile range of its training
    scores, so that scores of different units (squared errors, log-likelihoods) weigh alike.
    """

    def fit(self, training_scores: Sequence[np.ndarray]) -> ScoreCombination:
        self.center_, self.spread_ = [], []
        for s in training_scores:
            s = np.asarray(s, dtype=np.float64)
            q1, median, q3 = np.quantile(s, [0.25, 0.5, 0.75])
            self.center_.append(float(median))
            self.spread_.append(float(q3 - q1) if q3 > q1 else (float(np.std(s)) or 1.0))
        return self

    def score(self, scores: Sequence[np.ndarray]) -> np.ndarray:
        if len(scores) != len(self.center_):
            raise ValueError(f"expected {len(self.center_)} scores to combine, got {len(scores)}")
        return np.mean([(np.asarray(s, dtype=np.float64) - center) / spread
                        for s, center, spread in zip(scores, self.center_, self.spread_, strict=True)], axis=0)


class AutoencoderScorer:
    """One scorer of a fitted autoencoder: ``fit(autoencoder, X)`` on normal data, then ``score(autoencoder, X)``.

    Several scorers can share one trained autoencoder (the one-class benchmark does).

    Parameters
    ----------
    kind : str
        One of ``SCORERS`` except ``ocsvm``.
    random_state : int
    """

    def __init__(self, kind: str, random_state: int = 0):
        self.kind = check_scorer(kind, tuple(s for s in SCORERS if s != "ocsvm"))
        self.random_state = random_state

    def fit(self, autoencoder, X: np.ndarray) -> AutoencoderScorer:
        if self.kind == "elbo" and not autoencoder.has_elbo:
            raise ValueError("scorer='elbo' needs a variational autoencoder with a Bernoulli likelihood; pass "
                             "Autoencoder(latent=Gaussian(), loss='bce', ...) as autoencoder")
        self.density_ = self.combination_ = None
        if self.kind in DENSITY_SCORERS or self.kind == "combined":
            kind = "gmm" if self.kind == "combined" else self.kind
            self.density_ = DensityScorer(kind, self.random_state).fit(autoencoder.transform(X))
        if self.kind == "combined":
            self.combination_ = ScoreCombination().fit(self._components(autoencoder, X))
        return self

    def _components(self, autoencoder, X: np.ndarray) -> list[np.ndarray]:
        reconstruction = autoencoder.reconstruct(X)
        return [reconstruction_scores(X, reconstruction, "mse"), self.density_.score(autoencoder.transform(X))]

    def score(self, autoencoder, X: np.ndarray) -> np.ndarray:
        if self.kind in RECONSTRUCTION_SCORERS:
            shape = getattr(autoencoder, "sample_shape_", None)
            return reconstruction_scores(X, autoencoder.reconstruct(X), self.kind, shape)
        if self.kind == "elbo":
            return autoencoder.elbo(X, n_samples=4, random_state=self.random_state).astype(np.float64)
        if self.kind == "combined":
            return self.combination_.score(self._components(autoencoder, X))
        return self.density_.score(autoencoder.transform(X))


class _Detector(OutlierMixin, BaseEstimator):
    """What both detectors share: the threshold from ``contamination``, ``decision_function``, ``predict``.

    As in IsolationForest, ``fit`` sets ``offset_`` from the scores of its own training data, and
    ``decision_function(X) = score_samples(X) - offset_``.
    """

    def _fit_threshold(self, X: np.ndarray) -> None:
        """Set ``offset_`` and ``score_quantiles_`` from the scores of the training samples ``X`` (validated by
        ``fit``: scored by ``_scores``, which checks nothing again)."""
        scores = self._scores(X)
        self.offset_ = threshold_from_scores(scores, self.contamination_)
        self.score_quantiles_ = score_quantiles(scores)

    def decision_function(self, X) -> np.ndarray:
        """``score_samples(X) - offset_``: negative for anomalies, positive for normal samples."""
        return self.score_samples(X) - self.offset_

    def predict(self, X) -> np.ndarray:
        """+1 for normal samples, -1 for anomalies (a score below ``offset_``)."""
        return np.where(self.decision_function(X) < 0, -1, 1)

    def set_threshold(self, quantile: float, X=None):
        """Move the threshold ``offset_`` to the ``quantile`` of the training scores (interpolated in
        ``score_quantiles_``), or of ``score_samples(X)`` when ``X`` (normal data, e.g. a validation set) is given.

        ``set_threshold(0.01)`` flags about 1% of data like the training data. Returns self.
        """
        check_is_fitted(self)
        if not isinstance(quantile, numbers.Real) or isinstance(quantile, bool) or not 0.0 <= quantile <= 1.0:
            raise ValueError(f"quantile must be a number in [0, 1], the fraction of the scores to flag, "
                             f"got {quantile!r}")
        if X is not None:
            self.offset_ = threshold_from_scores(self.score_samples(X), quantile)
        else:
            grid = np.linspace(0.0, 1.0, len(self.score_quantiles_))
            self.offset_ = float(np.interp(quantile, grid, self.score_quantiles_))
        return self


class AutoencoderDetector(_Detector):
    """Anomaly detector that scores samples through an autoencoder trained on normal data.

    Parameters
    ----------
    autoencoder : Autoencoder or None, default=None
        The (unfitted) autoencoder to train; it is cloned in ``fit``. None: ``default_autoencoder``, a dense
        autoencoder (512, 256) with a 16-D code trained for about 2,000 steps of 32 samples.
    scorer : str, default="auto"
        ``auto``: ``smooth-mse`` for images (square flat rows), ``mse`` otherwise. Or one of ``SCORERS``
        except ``ocsvm``: ``mse``/``smooth-mse``/``bce`` (reconstruction error), ``isolation-forest``,
        ``lof`` or ``gmm`` (on the code), ``elbo`` (variational autoencoders with ``loss="bce"``) or
        ``combined`` (``mse`` and ``gmm``, each standardized by its training scores, averaged).
    contamination : float, default=0.1
        The expected fraction of anomalies: ``predict`` flags the training samples whose score lies below
        this quantile of the training scores, and new samples scoring as low.
    random_state : int, default=0
        Seeds the autoencoder when it has no random_state of its own, and the scorer.

    Attributes
    ----------
    autoencoder_ : Autoencoder
        The trained autoencoder.
    scorer_ : AutoencoderScorer
        The fitted scorer; ``scorer_.kind`` is the scorer used (``auto`` resolved).
    offset_ : float
        The threshold: ``decision_function = score_samples - offset_``.
    score_quantiles_ : ndarray of shape (101,)
        Quantiles 0, 0.01, ..., 1 of the training scores (for ``set_threshold``).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from aelab import Autoencoder
    >>> from aelab.anomaly import AutoencoderDetector
    >>> from aelab.parts import Dense
    >>> digits = load_digits()
    >>> X = digits.data / 16.0
    >>> detector = AutoencoderDetector(Autoencoder(encoder=Dense(hidden=(32,)), n_components=4, epochs=5,
    ...                                            random_state=0),
    ...                                scorer="mse").fit(X[digits.target == 0])
    >>> detector.predict(X[:3])  # doctest: +SKIP
    array([ 1, -1, -1])
    """

    def __init__(self, autoencoder=None, scorer: str = DEFAULT_SCORER, contamination: float = 0.1,
                 random_state: int = 0):
        self.autoencoder = autoencoder
        self.scorer = scorer
        self.contamination = contamination
        self.random_state = random_state

    def fit(self, X, y=None):
        """Train the autoencoder on the normal samples ``X`` and fit the scorer and the threshold."""
        check_scorer(self.scorer, ("auto", *(s for s in SCORERS if s != "ocsvm")))
        self.contamination_ = check_contamination(self.contamination)
        X = validate_data(self, X, dtype=[np.float32, np.float64], reset=True)
        if self.autoencoder is None:
            model = default_autoencoder(X.shape[1], n_samples=len(X), random_state=self.random_state)
        else:
            model = clone(self.autoencoder)
            if model.get_params().get("random_state") is None:
                model.set_params(random_state=self.random_state)
        kind = resolve_scorer(self.scorer, X.shape[1], getattr(model.encoder, "sample_shape", None))
        # what AutoencoderScorer.fit would refuse, refused before the training rather than after it
        if kind == "smooth-mse":
            image_shape_of(X.shape[1], getattr(model.encoder, "sample_shape", None))
        if kind == "elbo" and not model.has_elbo:
            raise ValueError("scorer='elbo' needs a variational autoencoder with a Bernoulli likelihood; pass "
                             "Autoencoder(latent=Gaussian(), loss='bce', ...) as autoencoder")
        self.autoencoder_ = model.fit(X)
        self.scorer_ = AutoencoderScorer(kind, self.random_state).fit(self.autoencoder_, X)
        self._fit_threshold(X)
        return self

    def score_samples(self, X) -> np.ndarray:
        """Higher = more like the training data; shape (n_samples,)."""
        check_is_fitted(self)
        return self._scores(validate_data(self, X, dtype=[np.float32, np.float64], reset=False))

    def _scores(self, X: np.ndarray) -> np.ndarray:
        return self.scorer_.score(self.autoencoder_, X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


class BaselineDetector(_Detector):
    """The same scorers on raw input or on PCA's code: the baselines an autoencoder detector must beat.

    Parameters
    ----------
    representation : {"raw", "pca"}, default="pca"
    scorer : str, default="mse"
        ``mse``/``smooth-mse``/``bce`` (PCA reconstruction error; ``pca`` only; ``smooth-mse`` for square
        images), ``isolation-forest``, ``lof``, ``ocsvm`` or ``gmm`` on the representation.
    n_components : int or float, default=0.9
        PCA's components: an integer, or the fraction of the training variance to keep.
    contamination : float, default=0.1
        The expected fraction of anomalies (see ``AutoencoderDetector``).
    random_state : int, default=0

    Attributes
    ----------
    pca_ : PCA or None
    offset_ : float
    score_quantiles_ : ndarray of shape (101,)

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from aelab.anomaly import BaselineDetector
    >>> digits = load_digits()
    >>> detector = BaselineDetector("pca", "mse").fit(digits.data[digits.target == 0] / 16)
    >>> float((detector.predict(digits.data[digits.target == 0] / 16) == -1).mean())  # doctest: +SKIP
    0.101...
    """

    def __init__(self, representation: str = "pca", scorer: str = "mse", n_components=0.9,
                 contamination: float = 0.1, random_state: int = 0):
        self.representation = representation
        self.scorer = scorer
        self.n_components = n_components
        self.contamination = contamination
        self.random_state = random_state

    def fit(self, X, y=None):
        """Fit PCA (for ``representation="pca"``), the scorer and the threshold on the normal samples ``X``."""
        from sklearn.decomposition import PCA

        if self.representation not in REPRESENTATIONS:
            raise ValueError(f"representation={self.representation!r} is not one of 'raw', 'pca'")
        allowed = (*RECONSTRUCTION_SCORERS, *DENSITY_SCORERS) if self.representation == "pca" else DENSITY_SCORERS
        if self.scorer not in allowed:
            raise ValueError(f"scorer={self.scorer!r} is not available on the {self.representation} representation; "
                             f"choose one of {', '.join(map(repr, allowed))}")
        self.contamination_ = check_contamination(self.contamination)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=True)
        self.pca_ = None
        if self.representation == "pca":
            n = self.n_components
            if isinstance(n, numbers.Integral):
                n = min(int(n), *X.shape)
            self.pca_ = PCA(n_components=n, random_state=self.random_state).fit(X)
        self.density_ = None
        if self.scorer in DENSITY_SCORERS:
            self.density_ = DensityScorer(self.scorer, self.random_state).fit(self._represent(X))
        self._fit_threshold(X)
        return self

    def _represent(self, X: np.ndarray) -> np.ndarray:
        return X if self.pca_ is None else self.pca_.transform(X)

    def score_samples(self, X) -> np.ndarray:
        """Higher = more like the training data; shape (n_samples,)."""
        check_is_fitted(self)
        return self._scores(validate_data(self, X, dtype=[np.float64, np.float32], reset=False))

    def _scores(self, X: np.ndarray) -> np.ndarray:
        if self.scorer in RECONSTRUCTION_SCORERS:
            reconstruction = self.pca_.inverse_transform(self.pca_.transform(X))
            return reconstruction_scores(X, reconstruction, self.scorer)
        return self.density_.score(self._represent(X))


def default_autoencoder(n_features: int, n_samples: int | None = None, random_state: int = 0,
                        device: str = "auto"):
    """The detector's default autoencoder: dense (512, 256) with a 16-D code (at most ``n_features``).

    With ``n_samples`` the epochs give about ``DEFAULT_STEPS`` gradient steps of ``DEFAULT_BATCH_SIZE``
    samples, between 10 and 200 epochs (``aelab.training.epochs_for_steps``), else 30 epochs: small normal
    sets (a few hundred samples) then train as long as large ones would, in steps. It won the one-class
    benchmark against a convolutional autoencoder of the same code size at equal steps (docs/benchmarks.md)
    and trains several times faster.
    """
    epochs = 30 if n_samples is None else epochs_for_steps(n_samples, DEFAULT_BATCH_SIZE, DEFAULT_STEPS, 10, 200)
    return Autoencoder(encoder=Dense(hidden=(512, 256)), n_components=min(16, n_features), epochs=epochs,
                       batch_size=DEFAULT_BATCH_SIZE, learning_rate=1e-3, validation_fraction=0.1, patience=10,
                       random_state=random_state, device=device)
