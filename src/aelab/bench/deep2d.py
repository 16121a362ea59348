"""Study ``deep2d``: the deep dense autoencoder 784-400-200-100-50-2, ReLU everywhere against a linear code
with a sigmoid output.

    aelab bench deep2d --data mnist5k --out runs/deep2d

The first net has ReLU on every layer, the 2-D code and the output included (as in the reference study); the
second is the same net with a linear code and a sigmoid output. Both train with MSE for 50 epochs with the
same seed. A ReLU code folds every negative pre-activation onto 0, so the table also gives the fraction of
test samples whose code has a zero coordinate (codes squashed onto an axis).
"""

from __future__ import annotations

import logging

import numpy as np

from aelab.bench.study import Stopwatch, StudyResult, StudySettings, load_study_data, require_labels
from aelab.estimators import Autoencoder
from aelab.metrics import reconstruction_mse, score_code
from aelab.parts import Dense

NAME = "deep2d"

logger = logging.getLogger(__name__)
HIDDEN = (400, 200, 100, 50)
VARIANTS = {
    "ReLU code and output": {"encoder__code_activation": "relu", "output_activation": "relu"},
    "linear code, sigmoid output": {"encoder__code_activation": None, "output_activation": "sigmoid"},
}


def run(settings: StudySettings) -> StudyResult:
    """Fit both variants of the deep 2-D autoencoder and measure them on the test split."""
    from aelab import plots

    epochs = settings.epochs_or(full=50, quick=2)
    with Stopwatch() as total:
        data = load_study_data(settings, n_train=1000 if settings.quick else None,
                               n_test=300 if settings.quick else None)
        y = require_labels(data.y_test, data.dataset.name, NAME)
        seed = settings.random_state
        rows, codes, figures = [], {}, {}
        dataset = data.dataset
        for name, params in VARIANTS.items():
            ae = Autoencoder(encoder=Dense(hidden=HIDDEN, activation="relu"), n_components=2, loss="mse",
                             epochs=epochs, batch_size=128, learning_rate=1e-3, patience=None, random_state=seed,
                             device=settings.device).set_params(**params)
            with Stopwatch() as fit:
                ae.fit(data.X_train)
            code = ae.transform(data.X_test)
            reconstruction = ae.reconstruct(data.X_test)
            scores = score_code(data.X_test, code, y, random_state=seed)
            row = {"model": name, "reconstruction_mse": reconstruction_mse(data.X_test, reconstruction),
                   **{k: scores.get(k) for k in ("kmeans_accuracy", "kmeans_nmi", "gmm_accuracy", "silhouette",
                                                 "trustworthiness", "knn_accuracy")},
                   "codes_on_an_axis": float(np.mean((code == 0).any(axis=1))),
                   "fit_seconds": fit.seconds}
            rows.append(row)
            codes[name] = code
            logger.info(f"{NAME}: {name}: ACC {row['kmeans_accuracy']:.3f}, MSE {row['reconstruction_mse']:.4f}, "
                        f"{fit.seconds:.1f} s")
            if dataset.is_image:
                slug = "relu" if params["encoder__code_activation"] else "linear"
                figures[f"reconstructions_{slug}.png"] = plots.reconstruction_grid(
                    data.X_test[:10], reconstruction[:10], dataset.sample_shape,
                    title=f"{name}: original (top) vs reconstruction (bottom)")
                figures[f"latent_grid_{slug}.png"] = plots.latent_grid(
                    lambda Z, ae=ae: np.clip(ae.inverse_transform(Z.astype(np.float32)), 0, 1), code,
                    dataset.sample_shape, title=f"{name}: decoder output over the 2-D code")
        figures = {"latent.png": plots.latent_panel(
            codes, y, label_names=dataset.label_names,
            title=f"784-400-200-100-50-2 on {dataset.name}: 2-D code of the test data"), **figures}
    relu, linear = rows
    notes = ["k-means and Gaussian mixture with one cluster per class; ACC after Hungarian matching; silhouette "
             "with the true labels; trustworthiness with 5 neighbours; 5-NN accuracy cross-validated on the code.",
             f"Linear code minus ReLU code: test MSE {linear['reconstruction_mse'] - relu['reconstruction_mse']:+.4f}, "
             "k-means ACC "
             f"{linear['kmeans_accuracy'] - relu['kmeans_accuracy']:+.3f}, silhouette "
             f"{linear['silhouette'] - relu['silhouette']:+.3f}, 5-NN accuracy "
             f"{(linear['knn_accuracy'] or 0) - (relu['knn_accuracy'] or 0):+.3f}."]
    return StudyResult(
        study=NAME, title=f"Deep 2-D autoencoder 784-400-200-100-50-2: {dataset.name}",
        settings={"hidden": list(HIDDEN), "epochs": epochs, "batch_size": 128, "learning_rate": 1e-3,
                  "early_stopping": False, "loss": "mse", "quick": settings.quick, "random_state": seed,
                  "device": settings.device},
        data={"name": dataset.name, **data.description}, tables={"metrics on the test split": rows},
        figures=figures, notes=notes, seconds=total.seconds)
