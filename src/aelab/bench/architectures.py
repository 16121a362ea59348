"""Study ``architectures``: depth and width of dense autoencoders at a 2-D bottleneck, beside t-SNE.

    aelab bench architectures --data mnist5k --out runs/architectures

Every architecture is a dense autoencoder (ReLU hidden layers, linear 2-D code, mirrored decoder, sigmoid
output, MSE) trained with the same settings on the same data; the table gives test reconstruction MSE,
k-means ACC/NMI of the code (one cluster per class), silhouette of the code with the true labels and the
training time. t-SNE of the raw test data is the reference embedding.
"""

from __future__ import annotations

import logging

import numpy as np

from aelab.baselines import TSNEBaseline
from aelab.bench.study import Stopwatch, StudyResult, StudySettings, load_study_data, require_labels
from aelab.estimators import Autoencoder
from aelab.metrics import clustering_accuracy, kmeans_labels, nmi, reconstruction_mse, silhouette
from aelab.parts import Dense

NAME = "architectures"

logger = logging.getLogger(__name__)
#: Encoder hidden widths of each architecture (the decoder mirrors them).
ARCHITECTURES: tuple[tuple[int, ...], ...] = (
    (), (400,), (256,), (400, 256), (256, 128), (400, 256, 128), (256, 128, 64), (400, 128, 32, 10),
    (256, 128, 32, 10),
)
N_STRIP = 10


def architecture_name(hidden: tuple[int, ...]) -> str:
    return "-".join(map(str, hidden)) if hidden else "none"


def _code_row(method: str, code: np.ndarray, y: np.ndarray, seed: int) -> dict:
    clusters = kmeans_labels(code, len(np.unique(y)), random_state=seed)
    return {"method": method, "kmeans_accuracy": clustering_accuracy(y, clusters), "kmeans_nmi": nmi(y, clusters),
            "silhouette": silhouette(code, y, random_state=seed)}


def run(settings: StudySettings) -> StudyResult:
    """Fit every architecture of ``ARCHITECTURES`` and t-SNE; measure them on the test split."""
    from aelab import plots
    epochs = settings.epochs_or(full=50, quick=2)
    with Stopwatch() as total:
        data = load_study_data(settings, n_train=1000 if settings.quick else None,
                               n_test=300 if settings.quick else None)
        y = require_labels(data.y_test, data.dataset.name, NAME)
        seed = settings.random_state
        rows, codes, strips = [], {}, {}
        for hidden in ARCHITECTURES:
            name = architecture_name(hidden)
            ae = Autoencoder(encoder=Dense(hidden=hidden, activation="relu"), n_components=2, loss="mse", epochs=epochs,
                             batch_size=128, learning_rate=1e-3, patience=10, random_state=seed,
                             device=settings.device)
            with Stopwatch() as fit:
                ae.fit(data.X_train)
            code = ae.transform(data.X_test)
            reconstruction = ae.reconstruct(data.X_test)
            row = {**_code_row(name, code, y, seed),
                   "reconstruction_mse": reconstruction_mse(data.X_test, reconstruction),
                   "epochs_run": ae.n_epochs_, "fit_seconds": fit.seconds}
            rows.append(row)
            codes[f"AE {name}"] = code
            strips[name] = reconstruction[:N_STRIP]
            logger.info(f"{NAME}: hidden {name}: ACC {row['kmeans_accuracy']:.3f}, "
                        f"MSE {row['reconstruction_mse']:.4f}, {fit.seconds:.1f} s")
        tsne = TSNEBaseline(n_components=2, random_state=seed)
        with Stopwatch() as fit:
            tsne_code = tsne.fit(data.X_test).transform(data.X_test)
        rows.append({**_code_row("t-SNE (raw test data)", tsne_code, y, seed), "reconstruction_mse": None,
                     "epochs_run": None, "fit_seconds": fit.seconds})
        codes["t-SNE of the raw test data"] = tsne_code
        logger.info(f"{NAME}: t-SNE: ACC {rows[-1]['kmeans_accuracy']:.3f}, {fit.seconds:.1f} s")

        dataset = data.dataset
        figures = {"latent_grid.png": plots.latent_panel(
            codes, y, label_names=dataset.label_names,
            title=f"2-D codes of the {dataset.name} test data, one dense autoencoder per hidden-layer list")}
        if dataset.is_image:
            figures["reconstructions.png"] = plots.reconstruction_strips(
                data.X_test[:N_STRIP], strips, dataset.sample_shape,
                title="the same test images reconstructed by each architecture (2-D code)")
    return StudyResult(
        study=NAME, title=f"Dense autoencoders at a 2-D bottleneck: {dataset.name}",
        settings={"epochs": epochs, "batch_size": 128, "learning_rate": 1e-3, "patience": 10, "activation": "relu",
                  "code": "linear, 2-D", "output": "sigmoid", "loss": "mse", "quick": settings.quick,
                  "random_state": seed, "device": settings.device},
        data={"name": dataset.name, **data.description},
        tables={"metrics on the test split": rows}, figures=figures,
        notes=["k-means with one cluster per class (10 restarts); ACC after Hungarian matching; silhouette with "
               "the true labels; t-SNE (openTSNE) is fitted on the test data themselves.",
               "fit_seconds: wall-clock time of fit, validation and early stopping included."],
        seconds=total.seconds)
