"""Study ``oneclass``: one-class anomaly detection, every scorer of aelab.anomaly against the baselines.

    aelab bench oneclass --data mnist5k --out runs/oneclass-mnist5k
    aelab bench oneclass --data fashion-mnist --out runs/oneclass-fashion

The standard protocol: for each class c, train only on the training samples of class c, score the whole
test split and measure how well the scores separate class c (normal) from the other classes (anomalies):
AUROC, and average precision with the anomalies as the positive class. Data with an official split
(Fashion-MNIST: 6,000 training images per class) keep it; others are split 80/20 stratified.

One autoencoder (the detector's default, ``aelab.anomaly.default_autoencoder``) is trained per class and
scored by every scorer (reconstruction error mse and bce, IsolationForest, LOF and a Gaussian mixture on the
code, and their combination); a variational autoencoder of the same architecture gives the ELBO. Baselines:
IsolationForest, LOF and OC-SVM on the raw input and on PCA's code (90% of the variance), a Gaussian mixture
on PCA's code and PCA's reconstruction error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import clone

from aelab.anomaly import (
    DEFAULT_IMAGE_SCORER,
    AutoencoderScorer,
    BaselineDetector,
    default_autoencoder,
)
from aelab.bench.study import Stopwatch, StudyResult, StudySettings, load_study_data, require_labels
from aelab.estimators import params_record
from aelab.parts import Gaussian

NAME = "oneclass"

logger = logging.getLogger(__name__)
#: The autoencoder scorers, all on one trained autoencoder per class, and the one that needs the VAE.
AUTOENCODER_SCORERS = ("mse", "smooth-mse", "bce", "isolation-forest", "lof", "gmm", "combined")
VAE_SCORER = "elbo"
#: (representation, scorer) of the baselines.
BASELINES = (("raw", "isolation-forest"), ("raw", "lof"), ("raw", "ocsvm"), ("pca", "mse"), ("pca", "smooth-mse"),
             ("pca", "isolation-forest"), ("pca", "lof"), ("pca", "ocsvm"), ("pca", "gmm"))
QUICK_CLASSES = 3


def method_name(family: str, scorer: str) -> str:
    """The table's name of a method, e.g. ``ae mse`` or ``raw lof``."""
    return f"{family} {scorer}"


def _measure(y_normal: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """AUROC (normal = positive, ranked by score) and average precision with the anomalies as positives."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    return float(roc_auc_score(y_normal, scores)), float(average_precision_score(1 - y_normal, -scores))


@dataclass
class _Scores:
    """AUROC, average precision and fit seconds of every method, per normal class."""

    auroc: dict[str, dict[int, float]] = field(default_factory=dict)
    precision: dict[str, dict[int, float]] = field(default_factory=dict)
    seconds: dict[str, dict[int, float]] = field(default_factory=dict)

    def record(self, method: str, c: int, scores: np.ndarray, fit_seconds: float, normal: np.ndarray) -> None:
        self.auroc.setdefault(method, {})[c], self.precision.setdefault(method, {})[c] = _measure(normal, scores)
        self.seconds.setdefault(method, {})[c] = fit_seconds


def _score_class(c: int, data, y_train: np.ndarray, y_test: np.ndarray, settings: StudySettings,
                 scores: _Scores) -> float:
    """Train on the training samples of class ``c``, score the test split with every autoencoder scorer and
    baseline and record them; the seconds the autoencoder trained."""
    seed = settings.random_state
    X_normal = data.X_train[y_train == c]
    normal = (y_test == c).astype(int)
    ae = default_autoencoder(data.X_train.shape[1], n_samples=len(X_normal), random_state=seed,
                             device=settings.device)
    epochs = settings.epochs_or(full=0, quick=1) or None
    if epochs is not None:
        ae.set_params(epochs=epochs)
    vae = clone(ae).set_params(latent=Gaussian(), loss="bce")
    with Stopwatch() as fit:
        ae.fit(X_normal)
    for scorer in AUTOENCODER_SCORERS:
        with Stopwatch() as fit_scorer:
            fitted = AutoencoderScorer(scorer, seed).fit(ae, X_normal)
        scores.record(method_name("ae", scorer), c, fitted.score(ae, data.X_test),
                      fit.seconds + fit_scorer.seconds, normal)
    with Stopwatch() as fit_vae:
        vae.fit(X_normal)
        fitted = AutoencoderScorer(VAE_SCORER, seed).fit(vae, X_normal)
    scores.record(method_name("variational ae", VAE_SCORER), c, fitted.score(vae, data.X_test),
                  fit_vae.seconds, normal)
    for representation, scorer in BASELINES:
        detector = BaselineDetector(representation, scorer, random_state=seed)
        with Stopwatch() as fit_baseline:
            detector.fit(X_normal)
        scores.record(method_name(representation, scorer), c, detector.score_samples(data.X_test),
                      fit_baseline.seconds, normal)
    return fit.seconds


def _is_baseline(method: str) -> bool:
    return method.split()[0] in ("raw", "pca")


def _table(values: dict[str, dict[int, float]], class_columns: dict[int, str], total: bool = False) -> list[dict]:
    """One row per method: its value per class, the mean and, with ``total``, the sum."""
    rows = []
    for method, per_class in values.items():
        row = {"method": method}
        row.update({class_columns[c]: per_class[c] for c in per_class})
        row["mean"] = float(np.mean(list(per_class.values())))
        if total:
            row["total"] = float(np.sum(list(per_class.values())))
        rows.append(row)
    return rows


def _notes(means: dict[str, float], default: str) -> list[str]:
    baselines = {m: v for m, v in means.items() if _is_baseline(m)}
    ours = {m: v for m, v in means.items() if m not in baselines}
    best_baseline = max(baselines, key=baselines.get)
    best_ours = max(ours, key=ours.get)
    return [
        "AUROC: class c normal (the positive class, ranked by score_samples), every other test sample an anomaly; "
        "average precision: the anomalies as the positive class, ranked by -score_samples.",
        "fit seconds: training on class c (for the autoencoder scorers: the shared autoencoder's training plus "
        "the scorer's own fit); scoring the test split is not included.",
        f"Mean AUROC: the default scorer {default} {means[default]:.4f}; best of ours {best_ours} "
        f"{ours[best_ours]:.4f}; "
        f"best baseline {best_baseline} {baselines[best_baseline]:.4f}. The default "
        + ("beats every baseline." if means[default] > baselines[best_baseline] else "does not beat every baseline."),
    ]


def run(settings: StudySettings) -> StudyResult:
    """Train per class, score the test split with every scorer and baseline, and tabulate AUROC, AP and time."""
    default = method_name("ae", DEFAULT_IMAGE_SCORER)
    with Stopwatch() as total:
        data = load_study_data(settings, n_train=1500 if settings.quick else None,
                               n_test=300 if settings.quick else None)
        y_train = require_labels(data.y_train, data.dataset.name, NAME)
        y_test = require_labels(data.y_test, data.dataset.name, NAME)
        classes = np.unique(y_train)[:QUICK_CLASSES] if settings.quick else np.unique(y_train)
        scores = _Scores()
        for c in classes:
            c = int(c)
            fit_seconds = _score_class(c, data, y_train, y_test, settings, scores)
            auroc = scores.auroc
            best_baseline = max((m for m in auroc if _is_baseline(m)), key=lambda m: auroc[m][c])
            logger.info(f"{NAME}: class {c} ({int(np.sum(y_train == c))} training samples): {default} AUROC "
                        f"{auroc[default][c]:.4f}, best baseline {best_baseline} {auroc[best_baseline][c]:.4f}; "
                        f"autoencoder {fit_seconds:.1f} s")

    names = data.dataset.label_names
    class_columns = {int(c): (f"{c} {names[int(c)]}" if names and int(c) < len(names) else str(int(c)))
                     for c in classes}
    means = {m: float(np.mean(list(v.values()))) for m, v in scores.auroc.items()}
    best_baseline = max((m for m in means if _is_baseline(m)), key=means.get)
    example = default_autoencoder(data.X_train.shape[1], n_samples=int(np.sum(y_train == classes[0])))
    settings_record = {"quick": settings.quick, "epochs": settings.epochs, "random_state": settings.random_state,
                       "device": settings.device, "classes": [int(c) for c in classes],
                       "default_scorer": DEFAULT_IMAGE_SCORER,
                       "autoencoder_of_first_class": {k: v for k, v in params_record(example).items()
                                                      if k not in ("verbose", "callbacks")}}
    return StudyResult(
        study=NAME,
        title=f"One-class anomaly detection on {data.dataset.name}",
        settings=settings_record,
        data={"name": data.dataset.name, **data.description},
        tables={"AUROC per normal class": _table(scores.auroc, class_columns),
                "average precision per normal class": _table(scores.precision, class_columns),
                "fit seconds per normal class": _table(scores.seconds, class_columns, total=True)},
        figures={"mean_auroc.png": _mean_auroc_figure(means, default, data.dataset.name)},
        notes=_notes(means, default),
        extra={"mean_auroc": means, "default_beats_every_baseline": bool(means[default] > means[best_baseline])},
        seconds=total.seconds,
    )


def _mean_auroc_figure(means: dict[str, float], default: str, data_name: str):
    from matplotlib.figure import Figure

    order = sorted(means, key=means.get)
    fig = Figure(figsize=(7.5, 0.32 * len(order) + 1.2), layout="constrained")
    ax = fig.add_subplot()
    colours = ["tab:red" if m == default else ("tab:blue" if m.split()[0] not in ("raw", "pca") else "tab:gray")
               for m in order]
    ax.barh(order, [means[m] for m in order], color=colours)
    low = min(means.values())
    ax.set_xlim(max(0.0, low - 0.05), 1.0)
    ax.set_xlabel("mean AUROC over the normal classes")
    ax.set_title(f"{data_name}: one-class AUROC (red: the default, grey: baselines)")
    return fig
