"""The comparison job behind ``aelab compare``: fit several methods on the same training split, embed the same
test split, measure every code with the same metrics, draw the same figures and write one folder with a report.

The protocol: the data are split (the official split where there is one, else 80/20 stratified with the seed),
scaled to [0, 1] on the training part, every method is fitted on the training part and ``transform`` gives the
code of the test part; all metrics are computed on the test part.

Adding a method is one entry in ``METHODS``: a name, a description and a function that makes the estimator
from the job.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aelab import baselines
from aelab.data import DataOptions, Dataset, MinMaxScaling, Split
from aelab.estimators import MAX_EPOCHS, MIN_EPOCHS, Autoencoder
from aelab.extras import MissingExtra
from aelab.figures import method_figures, side_by_side
from aelab.io import atomic_write_json, json_safe
from aelab.logs import RunLog, plural, stage
from aelab.metrics import score_code, score_reconstruction
from aelab.names import METHODS as METHOD_NAMES
from aelab.parts import Dense, Deterministic, FreeLayout, NeighbourGraph
from aelab.parts.kinds import UMAP_REFINE_STEPS
from aelab.report import ReportOptions, figure_pngs, latent_explorer, metric_rows, render_report
from aelab.runs import image_shape, kind_parts, scale_split, write_folder
from aelab.training.settings import epochs_for_steps

logger = logging.getLogger(__name__)

#: The decoder of umap-ae's layout network, code side first: wider than the encoder's mirror, so that it
#: carries the layout's detail (docs/umap-ae.md).
LAYOUT_DECODER_HIDDEN = (128, 256, 512, 1024)
#: The default training length of that network (without ``--epochs``), in steps: about 105 epochs of
#: Fashion-MNIST's 60,000 training images.
LAYOUT_DECODER_STEPS = 25_000
#: The pull of umap-ae's layout toward its start (``FreeLayout(start_weight=...)``): free, the layout sharpens the
#: start's neighbourhoods but loses its grouping; at 3 it keeps most of both (mnist5k, docs/umap-ae.md).
LAYOUT_START_WEIGHT = 3.0


@dataclass
class CompareJob:
    """Everything ``aelab compare`` needs, recorded as the folder's config.json."""

    data: DataOptions = field(default_factory=DataOptions)
    methods: tuple[str, ...] = METHOD_NAMES
    n_components: int = 2
    kind: str = "vanilla"
    hidden: tuple[int, ...] = (512, 256)
    epochs: int | None = None
    batch_size: int = 256
    learning_rate: float = 1e-3
    patience: int | None = 10
    random_state: int = 0
    device: str = "auto"
    n_jobs: int = 1  # openTSNE threads; 2 was slower than 1 on a busy 2-core machine
    verbose: int = 0
    augment: str = "none"
    refine_steps: int | None = None  # None: the kind's for ae, UMAP_REFINE_STEPS for umap-ae


@dataclass
class Method:
    """One entry of the method registry."""

    description: str
    make: Callable[[CompareJob, Dataset], Any]


def _autoencoder(job: CompareJob, dataset: Dataset):
    return Autoencoder(**kind_parts(job.kind, job.hidden, job.augment, image_shape(dataset), dataset.name,
                                    refine_steps=job.refine_steps),
                       n_components=job.n_components, epochs=job.epochs, batch_size=job.batch_size,
                       learning_rate=job.learning_rate, patience=job.patience, random_state=job.random_state,
                       device=job.device, verbose=job.verbose)


def _neighbour_graph_autoencoder(job: CompareJob, dataset: Dataset):
    """The autoencoder of ``ae`` (same kind, network and training) with the neighbour graph's UMAP loss on its
    code added to its penalties and a deterministic code refined as the umap kind's is (the umap kind has both),
    unless the job sets ``refine_steps``."""
    autoencoder = _autoencoder(job, dataset)
    if not any(isinstance(p, NeighbourGraph) for p in autoencoder.penalties):
        autoencoder.set_params(penalties=(*autoencoder.penalties, NeighbourGraph()))
    if job.refine_steps is None and isinstance(autoencoder.latent, Deterministic) \
            and autoencoder.latent.refine_steps == 0:
        autoencoder.set_params(latent__refine_steps=UMAP_REFINE_STEPS)
    return autoencoder


def _free_layout_autoencoder(job: CompareJob, dataset: Dataset):
    """umap-ae: the neighbour-graph autoencoder's layout sharpened as free codes and learnt by a network with a
    wide decoder (``aelab.parts.FreeLayout``). The neighbour-graph autoencoder (``_neighbour_graph_autoencoder``)
    is fitted first on the training rows and its code starts the layout, which is pulled toward it
    (``LAYOUT_START_WEIGHT``); the network has the job's encoder and
    ``LAYOUT_DECODER_HIDDEN`` as its decoder, and its decoder places every row (``Deterministic(refine_start=
    "grid")``, ``UMAP_REFINE_STEPS`` steps unless the job sets ``refine_steps``; 0 gives the encoder's code)."""
    start = _neighbour_graph_autoencoder(job, dataset)
    encoder = kind_parts(job.kind, job.hidden, "none", image_shape(dataset), dataset.name)["encoder"]
    if isinstance(encoder, Dense):
        encoder.set_params(decoder_hidden=LAYOUT_DECODER_HIDDEN)
    steps = UMAP_REFINE_STEPS if job.refine_steps is None else job.refine_steps
    # the network learns fixed targets, the layout's codes of all training rows (the official split, else
    # 1 - test_size), for all its epochs: no rows are held out, and no validation loss stops it early (the
    # encoder's reconstruction of held-out rows stops improving long before the decoder's placements do)
    n_train = dataset.n_train if dataset.n_train is not None else (1 - job.data.test_size) * len(dataset.X)
    epochs = job.epochs if job.epochs is not None else epochs_for_steps(
        max(int(n_train), 1), job.batch_size, LAYOUT_DECODER_STEPS, MIN_EPOCHS, MAX_EPOCHS)
    return Autoencoder(encoder=encoder, latent=Deterministic(steps, refine_start="grid" if steps else "encoder"),
                       penalties=(FreeLayout(start=start, start_weight=LAYOUT_START_WEIGHT),),
                       n_components=job.n_components, epochs=epochs,
                       batch_size=job.batch_size, learning_rate=job.learning_rate, validation_fraction=0.0,
                       random_state=job.random_state, device=job.device, verbose=job.verbose)


def _baseline(name: str) -> Callable[[CompareJob, Dataset], Any]:
    def make(job: CompareJob, dataset: Dataset):
        if name == "raw":
            return baselines.RawInput()
        if name == "pca":
            return baselines.PCABaseline(n_components=job.n_components, random_state=job.random_state)
        if name == "tsne":
            return baselines.TSNEBaseline(n_components=job.n_components, n_jobs=job.n_jobs,
                                          random_state=job.random_state)
        return baselines.UMAPBaseline(n_components=job.n_components, random_state=job.random_state)

    return make


METHODS: dict[str, Method] = {
    "raw": Method("the input itself (no embedding)", _baseline("raw")),
    "pca": Method("principal component analysis (scikit-learn)", _baseline("pca")),
    "tsne": Method("t-SNE (openTSNE); test points placed by TSNEEmbedding.transform", _baseline("tsne")),
    "umap": Method("UMAP (umap-learn); test points placed by its transform",
                   _baseline("umap")),
    "ae": Method("autoencoder (aelab.Autoencoder) of the kind --kind", _autoencoder),
    "umap-ae": Method("a parametric UMAP that also reconstructs: the ae autoencoder with UMAP's neighbour-graph loss "
                      "on its code (aelab.parts.NeighbourGraph) is fitted first; its code starts a layout of free "
                      "codes kept to the same graph and pulled toward that start, which a network with a wide "
                      "decoder then learns, placing every image by its decoder (aelab.parts.FreeLayout)",
                      _free_layout_autoencoder),
}

#: The metrics of the summary table, as metrics.json names them.
TABLE_METRICS = (
    "reconstruction_mse", "reconstruction_bce", "psnr", "kmeans_accuracy", "kmeans_nmi", "kmeans_ari",
    "gmm_accuracy", "gmm_nmi", "gmm_ari", "silhouette", "trustworthiness", "knn_accuracy", "fit_seconds",
    "transform_seconds",
)

#: How the comparison measures; what each metric is, is in aelab.metrics.METRIC_DEFINITIONS, which the report's
#: table shows beside the values.
NOTES = (
    "All metrics on the test split; every method was fitted on the training split only.",
    "Reconstruction metrics are '–' where a method has no decoder (raw, t-SNE, UMAP); clustering metrics use one "
    "cluster per class.",
)


def parse_methods(text: str | tuple[str, ...]) -> tuple[str, ...]:
    """The method names of a comma-separated list, checked against ``METHODS``."""
    names = tuple(part.strip() for part in text.split(",")) if isinstance(text, str) else tuple(text)
    names = tuple(n for n in names if n)
    if not names:
        raise ValueError(f"no methods given; pass a comma-separated list of {', '.join(METHODS)}")
    unknown = [n for n in names if n not in METHODS]
    if unknown:
        raise ValueError(f"unknown method {unknown[0]!r}; known methods: {', '.join(METHODS)}")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"method {duplicates[0]!r} is listed twice; list each method once")
    return names


@dataclass
class MethodResult:
    """What one method produced on the test split."""

    name: str
    estimator: Any
    code: np.ndarray
    reconstruction: np.ndarray | None
    metrics: dict[str, Any]


@dataclass
class CompareOutcome:
    """What a comparison produced, before anything is written."""

    job: CompareJob
    dataset: Dataset
    split: Split
    scaling: MinMaxScaling
    X_test: np.ndarray
    results: dict[str, MethodResult]
    figures: dict[str, Any] = field(default_factory=dict)
    skipped_rows: list[int] = field(default_factory=list)


def evaluate_method(name: str, estimator, X_train: np.ndarray, X_test: np.ndarray, y_test,
                    random_state: int) -> MethodResult:
    """Fit ``estimator`` on the training part, embed the test part and measure the code (and reconstruction)."""
    started = time.perf_counter()
    estimator.fit(X_train)
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    code = np.asarray(estimator.transform(X_test))
    transform_seconds = time.perf_counter() - started
    reconstruction = None
    metrics: dict[str, Any] = dict.fromkeys(("reconstruction_mse", "reconstruction_bce", "psnr"))
    if hasattr(estimator, "inverse_transform"):
        reconstruction = np.asarray(estimator.inverse_transform(code))
        metrics.update(score_reconstruction(X_test, reconstruction))
    metrics.update(score_code(X_test, code, y_test, random_state=random_state))
    metrics.update(fit_seconds=fit_seconds, transform_seconds=transform_seconds)
    if hasattr(estimator, "history_"):
        metrics["history"] = estimator.history_
    return MethodResult(name, estimator, code, reconstruction, metrics)


def run_comparison(job: CompareJob) -> CompareOutcome:
    """Load, (subset,) split and scale the data, then fit and measure every method of ``job``; each method is
    logged with its time."""
    methods = parse_methods(job.methods)
    if job.n_components < 1:
        raise ValueError(f"the latent size must be >= 1, got {job.n_components}")
    dataset, skipped = job.data.load(job.random_state)
    if job.n_components > dataset.n_features:
        raise ValueError(f"the latent size {job.n_components} exceeds the {dataset.n_features} features of "
                         f"{dataset.name}; pass a smaller --latent")
    estimators = {name: METHODS[name].make(job, dataset) for name in methods}
    split = job.data.split(dataset, job.random_state)
    scaling, X_train, X_test = scale_split(dataset, split)
    results = {}
    for name, estimator in estimators.items():
        with stage(logger, f"{name}: fitting on {plural(len(X_train), 'training sample')} and measuring on "
                           f"{plural(len(X_test), 'test sample')}"):
            results[name] = evaluate_method(name, estimator, X_train, X_test, split.y_test, job.random_state)
    outcome = CompareOutcome(job, dataset, split, scaling, X_test, results, skipped_rows=skipped.tolist())
    with stage(logger, "drawing the figures"):
        outcome.figures = comparison_figures(outcome)
    return outcome


def comparison_figures(outcome: CompareOutcome) -> dict[str, Any]:
    from aelab import plots

    dataset, y_test = outcome.dataset, outcome.split.y_test
    figures = {"latent_panel.png": plots.latent_panel(
        {name: r.code for name, r in outcome.results.items()}, y_test, label_names=dataset.label_names,
        title=f"code of the {len(outcome.X_test)} test samples of {dataset.name}")}
    for name, result in outcome.results.items():
        figures.update(method_figures(name, result.estimator, result.code, result.reconstruction, outcome.X_test,
                                      y_test, dataset, suffix=f"_{name}", random_state=outcome.job.random_state))
    return figures


def summary_rows(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per method with the metrics of ``TABLE_METRICS``."""
    return [{"method": name, **{key: metrics.get(key) for key in TABLE_METRICS}} for name, metrics in results.items()]


def comparison_report(outcome: CompareOutcome, figure_pngs: dict[str, bytes], config: dict[str, Any],
                      options: ReportOptions | None = None) -> str:
    """The comparison's report.html: the metrics of every method, the latent explorer, the figures (the same
    figure of every method side by side) and the configuration; ``options`` (default ``ReportOptions()``)
    says how it is written."""
    options = options or ReportOptions()
    dataset = outcome.dataset
    notes = NOTES
    try:
        explorer = latent_explorer({name: r.code for name, r in outcome.results.items()}, outcome.X_test,
                                   outcome.split.y_test, dataset.sample_shape, dataset.label_names,
                                   rows=outcome.split.test_rows, random_state=outcome.job.random_state,
                                   plotly=options.plotly)
    except MissingExtra as e:  # the report is written without its one interactive part
        logger.warning("the report has no latent explorer: %s", e)
        explorer, notes = None, (*NOTES, f"No latent explorer: {e}.")
    rows = metric_rows({name: r.metrics for name, r in outcome.results.items()})
    methods = [{"method": name, "description": METHODS[name].description} for name in outcome.results]
    return render_report(f"aelab compare: {dataset.name}, {outcome.job.n_components}-D codes", config,
                         {"metrics on the test split": rows, "methods": methods}, figure_pngs, explorer, notes,
                         side_by_side=side_by_side(figure_pngs, [f"_{name}" for name in outcome.results]),
                         command=options.command)


def write_comparison(outcome: CompareOutcome, out: str | os.PathLike, force: bool = False,
                     report: ReportOptions | None = None, log: RunLog | None = None) -> Path:
    """Write config.json, metrics.json, the figures, report.html (as ``report`` says) and, with ``log``, log.txt
    to the folder ``out``
    in one piece."""
    def fill(folder: Path) -> None:
        dataset = outcome.dataset
        config = {
            "job": json_safe(asdict(outcome.job)),
            "data": {"name": dataset.name, "source": dataset.source, "n_samples": dataset.n_samples,
                     "sample_shape": list(dataset.sample_shape), "label_names": dataset.label_names,
                     "skipped_rows": outcome.skipped_rows},
            "split": outcome.split.description,
            "scaling": {"kind": "minmax", "per_feature": outcome.scaling.per_feature, "fitted_on": "training part"},
            "methods": {name: METHODS[name].description for name in outcome.results},
        }
        atomic_write_json(folder / "config.json", config)
        atomic_write_json(folder / "metrics.json", {name: r.metrics for name, r in outcome.results.items()})
        pngs = figure_pngs(outcome.figures)
        for name, png in pngs.items():
            (folder / name).write_bytes(png)
        (folder / "report.html").write_text(comparison_report(outcome, pngs, config, report), encoding="utf-8")

    return write_folder(out, force, fill, log)
