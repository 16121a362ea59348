"""The clustering job behind ``aelab cluster``: data -> [0, 1] scaling -> pretrained autoencoder -> optional
sweep over k -> one clusterer of ``aelab.cluster`` -> scores, figures and a folder written in one piece."""

from __future__ import annotations

import io
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aelab.cluster import CLUSTERING_HIDDEN, METHODS, KSweep, clustering_autoencoder, sweep_k
from aelab.data import DataOptions, Dataset, MinMaxScaling
from aelab.data.dataset import FIX_BAD_ROWS_REMEDY
from aelab.io import atomic_write_json, json_safe
from aelab.logs import RunLog, plural, stage
from aelab.metrics import ari, clustering_accuracy, nmi
from aelab.parts.augmentations import augmentation
from aelab.report import ReportOptions, figure_pngs, render_report
from aelab.runs import image_shape, kind_parts, write_folder

#: The range of k tried by ``--k auto`` when no ``--sweep`` is given.
DEFAULT_SWEEP = (2, 15)

logger = logging.getLogger(__name__)


@dataclass
class ClusterJob:
    """Everything ``aelab cluster`` needs, recorded as the folder's config.json.

    ``k`` None chooses the number of clusters by the highest silhouette of a sweep over ``sweep`` (first and
    last k, inclusive) on the autoencoder's code.
    """

    data: DataOptions = field(default_factory=DataOptions)
    method: str = "n2d"
    k: int | None = 10
    sweep: tuple[int, int] | None = None
    kind: str = "vanilla"
    hidden: tuple[int, ...] = CLUSTERING_HIDDEN
    n_components: int = 10
    epochs: int = 200
    batch_size: int = 256
    learning_rate: float = 1e-3
    random_state: int = 0
    device: str = "auto"
    verbose: int = 0
    augment: str = "none"

    def check(self) -> None:
        """Raise a ValueError on settings that make no sense, before any work is done."""
        if self.method not in METHODS:
            raise ValueError(f"unknown clustering method {self.method!r}; choose one of {', '.join(METHODS)}")
        if self.k is not None and self.k < 1:
            raise ValueError(f"k must be a positive number of clusters or 'auto', got {self.k}")
        if self.sweep is not None and not 2 <= self.sweep[0] <= self.sweep[1]:
            raise ValueError(f"the sweep over k must go from 2 or more up to at least its start, got "
                             f"{self.sweep[0]}..{self.sweep[1]}; pass e.g. 2..15")
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        augmentation(self.augment)
        self.data.check()


@dataclass
class ClusterOutcome:
    """What a clustering job produced, before anything is written."""

    job: ClusterJob
    dataset: Dataset
    labels: np.ndarray
    code: np.ndarray
    metrics: dict[str, Any]
    sweep: KSweep | None = None
    figures: dict[str, Any] = field(default_factory=dict)


def run_clustering(job: ClusterJob) -> ClusterOutcome:
    """Scale all the samples to [0, 1], pretrain the autoencoder, choose k when asked, cluster the code and
    score the clusters against the labels when there are any; each stage is logged with its time."""
    from aelab import plots

    job.check()
    dataset, _ = job.data.load(job.random_state, remedy=FIX_BAD_ROWS_REMEDY)
    X = dataset.X.reshape(len(dataset.X), -1)
    X = MinMaxScaling.fit(X, per_feature=not dataset.is_image).transform(X)
    if job.n_components > X.shape[1]:
        raise ValueError(f"n_components={job.n_components} is more than the {X.shape[1]} features of {dataset.name}; "
                         "pass a smaller --latent")
    autoencoder = clustering_autoencoder(n_components=job.n_components, epochs=job.epochs,
                                         random_state=job.random_state, batch_size=job.batch_size,
                                         learning_rate=job.learning_rate, device=job.device, verbose=job.verbose,
                                         **kind_parts(job.kind, job.hidden, job.augment, image_shape(dataset),
                                                      dataset.name))
    with stage(logger, f"pretraining the autoencoder on {plural(len(X), 'sample')} of {dataset.name}") as pretraining:
        autoencoder.fit(X)
    pretrain_seconds = pretraining.seconds
    sweep, k = None, job.k
    if k is None:
        first, last = job.sweep or DEFAULT_SWEEP
        with stage(logger, f"Gaussian mixtures of the code for k = {first}..{last}"):
            sweep = sweep_k(autoencoder.transform(X), range(first, min(last, len(X) - 1) + 1),
                            random_state=job.random_state)
        k = sweep.best_k_silhouette
        logger.info("k = %d has the highest silhouette of k = %d..%d (lowest BIC at k = %d)", k, first, last,
                    sweep.best_k_bic)
    with stage(logger, f"{job.method} clustering of the code into {plural(k, 'cluster')}") as clustering:
        model = METHODS[job.method](autoencoder, n_clusters=k, random_state=job.random_state).fit(X)
    cluster_seconds = clustering.seconds
    labels = model.labels_
    code = model.autoencoder_.transform(X)
    metrics: dict[str, Any] = {"method": job.method, "k": k, "n_samples": len(X),
                               "pretrain_seconds": pretrain_seconds, "cluster_seconds": cluster_seconds,
                               "cluster_sizes": np.bincount(labels, minlength=k).tolist()}
    if hasattr(model, "n_iter_"):
        metrics["iterations"] = model.n_iter_
    if dataset.y is not None and len(np.unique(dataset.y)) >= 2:
        metrics.update(accuracy=clustering_accuracy(dataset.y, labels), nmi=nmi(dataset.y, labels),
                       ari=ari(dataset.y, labels))
    # N2D's clusters live in its UMAP embedding, the others in the code
    space = getattr(model, "embedding_", code)
    what = "the UMAP embedding of the code" if hasattr(model, "embedding_") else "the code"
    figures = {"clusters.png": plots.cluster_scatter(space, labels, dataset.y, dataset.label_names,
                                                     title=f"{job.method} on {dataset.name}: {what} coloured "
                                                           "by cluster" + (" and by label" if dataset.y is not None
                                                                            else ""))}
    if dataset.is_image:
        figures["cluster_samples.png"] = plots.cluster_samples(X, labels, dataset.sample_shape,
                                                               random_state=job.random_state)
    if sweep is not None:
        figures["k_sweep.png"] = plots.k_sweep(sweep.ks, sweep.silhouette, sweep.bic,
                                               title=f"Gaussian mixtures of the {dataset.name} code")
    return ClusterOutcome(job, dataset, labels, code, metrics, sweep, figures)


def assignments_csv(labels: np.ndarray, y: np.ndarray | None) -> str:
    """The CSV of the assignments: ``index,cluster`` and ``label`` when the labels are known."""
    text = io.StringIO()
    text.write("index,cluster" + (",label" if y is not None else "") + "\n")
    for i, cluster in enumerate(labels):
        text.write(f"{i},{int(cluster)}" + (f",{y[i]}" if y is not None else "") + "\n")
    return text.getvalue()


def write_clustering(outcome: ClusterOutcome, out: str | os.PathLike, force: bool = False,
                     report: ReportOptions | None = None, log: RunLog | None = None) -> Path:
    """Write the folder in one piece: assignments.csv, metrics.json, config.json, figures, report.html (which
    records ``report.command``) and, with ``log``, log.txt."""
    def fill(staging: Path) -> None:
        dataset = outcome.dataset
        (staging / "assignments.csv").write_text(assignments_csv(outcome.labels, dataset.y), encoding="utf-8")
        config = {"job": json_safe(asdict(outcome.job)),
                  "data": {"name": dataset.name, "source": dataset.source, "n_samples": dataset.n_samples},
                  "scaling": "min-max to [0, 1] over all the samples"}
        record = dict(outcome.metrics)
        if outcome.sweep is not None:
            record["sweep"] = outcome.sweep.rows()
        atomic_write_json(staging / "metrics.json", record)
        atomic_write_json(staging / "config.json", config)
        pngs = figure_pngs(outcome.figures)
        for name, png in pngs.items():
            (staging / name).write_bytes(png)
        row = {k: v for k, v in outcome.metrics.items() if k != "cluster_sizes"}
        tables = {"clustering of all the samples": [row]}
        if outcome.sweep is not None:
            tables["sweep over k (Gaussian mixtures of the code)"] = outcome.sweep.rows()
        notes = ["ACC after Hungarian matching of clusters to labels, NMI and ARI, all on every sample."
                 if "accuracy" in row else "The data have no labels: only the clusters are reported."]
        (staging / "report.html").write_text(
            render_report(f"aelab cluster: {outcome.job.method} on {dataset.name}, k = {row['k']}", config, tables,
                          pngs, notes=notes, command=report and report.command), encoding="utf-8")

    return write_folder(out, force, fill, log)
