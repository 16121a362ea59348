"""The job behind ``aelab detect``: train on normal data, score new data, write a CSV, an HTML report and the
job's log.

The files are written only once everything is computed, so a bad input leaves nothing behind.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from aelab.anomaly import (
    DEFAULT_SCORER,
    SCORERS,
    AutoencoderDetector,
    check_contamination,
    check_scorer,
    default_autoencoder,
)
from aelab.data import (
    DataOptions,
    Dataset,
    MinMaxScaling,
    check_data_options,
    load_dataset,
    reads_data_dir,
    reads_label_column,
)
from aelab.data.dataset import first_bad_value
from aelab.data.files import LABEL_COLUMN_NAMES
from aelab.io import atomic_write_text, json_safe
from aelab.logs import RunLog, plural, stage
from aelab.parts import Gaussian
from aelab.report import ReportOptions, figure_pngs, render_report
from aelab.runs import image_shape, kind_parts

#: The most anomalous samples shown in the report.
N_TOP = 20

logger = logging.getLogger(__name__)


@dataclass
class DetectJob:
    """Everything ``aelab detect`` needs; None model options keep the default autoencoder's
    (``aelab.anomaly.default_autoencoder``), and ``kind`` replaces its parts by those of a kind of
    ``aelab.parts.kinds.KINDS``.

    ``data`` names the normal data to train on; the data to score, ``score``, is read with the same
    ``data_dir`` and ``label_column`` where they apply to it.
    """

    data: DataOptions
    score: str
    out: str
    report: str | None = None
    scorer: str = DEFAULT_SCORER
    contamination: float = 0.1
    kind: str = "vanilla"
    hidden: tuple[int, ...] | None = None
    n_components: int | None = None
    epochs: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    patience: int | None = None
    random_state: int = 0
    device: str = "auto"
    verbose: int = 0
    force: bool = False

    def report_path(self) -> Path:
        return Path(self.report) if self.report else Path(self.out).with_suffix(".html")

    def log_path(self) -> Path:
        """The job's log lines go beside the scores: ``scores.csv`` -> ``scores.log``."""
        return Path(self.out).with_suffix(".log")


@dataclass
class DetectOutcome:
    """The scores of the job's score data, before anything is written."""

    job: DetectJob
    train: Dataset
    data: Dataset
    detector: AutoencoderDetector
    scores: np.ndarray
    flags: np.ndarray
    ranks: np.ndarray
    X_scaled: np.ndarray


def check_csv_rows(path: str | os.PathLike, n_features: int, label_column: str | None = None) -> None:
    """Raise a ValueError naming the first row of a CSV file whose number of values is not ``n_features``
    (plus the label column when there is one); rows are counted from 1, header excluded."""
    path = Path(path)
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        rows = csv.reader(f)
        first = next(rows, None)
        if first is None:
            return
        header = any(_not_a_number(cell) for cell in first)
        width = n_features
        if header:
            names = [c.strip().strip('"') for c in first]
            has_label = (label_column in names) if label_column else any(
                c.lower() in LABEL_COLUMN_NAMES for c in names)
            width = n_features + int(has_label)
            if len(first) != width:
                raise ValueError(f"{path} has {len(first)} columns ({'with' if has_label else 'without'} a label "
                                 f"column) but the training data have {n_features} features; pass data with the "
                                 "same columns as the training data")
            data_rows = rows
        else:
            data_rows = iter([first, *rows])
        for number, row in enumerate(data_rows, start=1):
            if not row:
                continue
            if len(row) != width:
                raise ValueError(f"{path}: row {number} has {len(row)} values but the training data have "
                                 f"{width} per row; fix or remove that row")


def _not_a_number(cell: str) -> bool:
    cell = cell.strip().strip('"')
    if cell == "":
        return False
    try:
        float(cell)
    except ValueError:
        return True
    return False


def _check_rows_finite(dataset: Dataset, what: str) -> None:
    bad = dataset.bad_rows()
    if len(bad):
        first = first_bad_value(np.asarray(dataset.X[bad[0]:bad[0] + 1]), int(bad[0]))
        raise ValueError(f"{what} {dataset.name}: {first}" + (f" ({len(bad)} bad rows in all)" if len(bad) > 1 else "")
                         + "; rows with NaN, infinite values or values beyond float32's range cannot be scored: fix "
                         "or remove them")


def _autoencoder(job: DetectJob, train: Dataset):
    ae = default_autoencoder(train.n_features, n_samples=train.n_samples, random_state=job.random_state,
                             device=job.device)
    shape = image_shape(train)
    parts = kind_parts(job.kind, ae.encoder.hidden if job.hidden is None else job.hidden, "none", shape, train.name)
    if parts["encoder"].needs_image_shape and shape is None:
        raise ValueError(f"--kind {job.kind} needs images, but {train.name} has samples of shape "
                         f"{train.sample_shape}; use a dense kind such as vanilla")
    ae.set_params(**parts)
    overrides = {"n_components": job.n_components, "epochs": job.epochs, "batch_size": job.batch_size,
                 "learning_rate": job.learning_rate, "patience": job.patience, "verbose": job.verbose}
    ae.set_params(**{k: v for k, v in overrides.items() if v is not None})
    if job.scorer == "elbo":  # the ELBO reads the data as probabilities, from a Gaussian code
        ae.set_params(loss="bce", **({} if ae.latent.has_elbo else {"latent": Gaussian()}))
    return ae


def _data_options(job: DetectJob, name: str) -> DataOptions:
    """The data options of ``name`` (--data or --score): ``data_dir`` and ``label_column`` are shared by the two
    and apply to those that read them; they are refused when they apply to neither
    (aelab.data.check_data_options)."""
    data, score = job.data.name, job.score
    if job.data.label_column is not None and not (reads_label_column(data) or reads_label_column(score)):
        check_data_options(data, label_column=job.data.label_column)
    if job.data.data_dir is not None and not (reads_data_dir(data) or reads_data_dir(score)):
        check_data_options(data, data_dir=job.data.data_dir)
    return replace(job.data, name=name, data_dir=job.data.data_dir if reads_data_dir(name) else None,
                   label_column=job.data.label_column if reads_label_column(name) else None)


def run_detection(job: DetectJob) -> DetectOutcome:
    """Load and check both datasets, train the detector on the normal data and score the new data."""
    check_scorer(job.scorer, ("auto", *(s for s in SCORERS if s != "ocsvm")))
    check_contamination(job.contamination)
    for path in (job.out, job.report_path()):
        if Path(path).exists() and not job.force:
            raise ValueError(f"{path} already exists; pass --force to replace it, or another --out")
    train_options, score_options = _data_options(job, job.data.name), _data_options(job, job.score)
    train = load_dataset(train_options.name, data_dir=train_options.data_dir, label_column=train_options.label_column)
    _check_rows_finite(train, "--data")
    if str(job.score).lower().endswith(".csv") and Path(job.score).is_file():
        check_csv_rows(job.score, train.n_features, score_options.label_column)
    data = load_dataset(job.score, data_dir=score_options.data_dir, label_column=score_options.label_column)
    if data.n_features != train.n_features:
        raise ValueError(f"--score {data.name} has {data.n_features} features per row but --data {train.name} has "
                         f"{train.n_features}; pass data with the same columns as the training data")
    _check_rows_finite(data, "--score")
    scaling = MinMaxScaling.fit(train.X, per_feature=not train.is_image)
    X_train, X_score = scaling.transform(train.X), scaling.transform(data.X)
    with stage(logger, f"training the detector on {plural(len(X_train), 'sample')} of {train.name}"):
        detector = AutoencoderDetector(_autoencoder(job, train), scorer=job.scorer, contamination=job.contamination,
                                       random_state=job.random_state).fit(X_train)
    with stage(logger, f"scoring {plural(len(X_score), 'sample')} of {data.name}"):
        scores = detector.score_samples(X_score)
    flags = np.where(scores < detector.offset_, -1, 1)
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[np.argsort(scores, kind="stable")] = np.arange(1, len(scores) + 1)
    return DetectOutcome(job, train, data, detector, scores, flags, ranks, X_score)


def scores_csv(outcome: DetectOutcome) -> str:
    """The CSV text: index (row of the score data, from 0), score, flag (-1 anomaly, 1 normal), rank (1 = most
    anomalous)."""
    text = io.StringIO()
    text.write("index,score,flag,rank\n")
    for i, (score, flag, rank) in enumerate(zip(outcome.scores, outcome.flags, outcome.ranks, strict=True)):
        text.write(f"{i},{score:.8g},{flag},{rank}\n")
    return text.getvalue()


def detection_report(outcome: DetectOutcome, command: str | None = None) -> str:
    """The HTML report: summary, the most anomalous rows, the score histogram and, for images, the images;
    ``command`` is the command line recorded in it."""
    from aelab import plots
    job, detector = outcome.job, outcome.detector
    n_flagged = int((outcome.flags == -1).sum())
    summary = [{"training samples": outcome.train.n_samples, "scored samples": outcome.data.n_samples,
                "scorer": detector.scorer_.kind, "contamination": job.contamination,
                "threshold": float(detector.offset_), "flagged": n_flagged,
                "flagged fraction": n_flagged / outcome.data.n_samples}]
    order = np.argsort(outcome.scores, kind="stable")[:N_TOP]
    top = [{"rank": int(outcome.ranks[i]), "index": int(i), "score": float(outcome.scores[i]),
            "flag": int(outcome.flags[i]),
            **({"label": int(outcome.data.y[i])} if outcome.data.y is not None else {})} for i in order]
    figures = {"scores.png": plots.score_histogram(outcome.scores, detector.offset_,
                                                   title=f"scores of {outcome.data.name}")}
    # flat rows scored against images are shown as images of the training data's shape
    images = outcome.data if outcome.data.is_image else outcome.train
    if images.is_image:
        figures["top_anomalies.png"] = plots.top_anomalies(
            np.clip(outcome.X_scaled, 0, 1), outcome.scores, images.sample_shape, n=N_TOP,
            title=f"the {min(N_TOP, len(order))} most anomalous samples (row index and score; lowest first)")
    config = {"job": json_safe(asdict(job)),
              "autoencoder": {k: (list(v) if isinstance(v, tuple) else v)
                              for k, v in detector.autoencoder_.get_params().items()}}
    notes = ("score: higher = more like the training data; flag -1 marks a score below the threshold, the "
             f"{job.contamination} quantile of the training data's scores; rank 1 is the most anomalous row.",)
    return render_report(f"aelab detect: {outcome.data.name} against {outcome.train.name}", config,
                         {"summary": summary, f"the {len(top)} most anomalous rows": top},
                         figure_pngs(figures), notes=notes, command=command)


def write_detection(outcome: DetectOutcome, options: ReportOptions | None = None,
                    log: RunLog | None = None) -> tuple[Path, Path]:
    """Write the CSV, the report (which records ``options.command``) and, with ``log``, the log lines
    (``DetectJob.log_path``), each atomically; returns the paths of the CSV and the report."""
    out, report = Path(outcome.job.out), outcome.job.report_path()
    csv_text, html_text = scores_csv(outcome), detection_report(outcome, options and options.command)
    atomic_write_text(out, csv_text)
    written = [out]
    try:
        atomic_write_text(report, html_text)
        written.append(report)
        if log is not None:
            atomic_write_text(outcome.job.log_path(), log.text())
    except BaseException:  # the files are written together or not at all
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return out, report


def summary(outcome: DetectOutcome) -> dict[str, Any]:
    """The numbers the command line prints."""
    return {"n": len(outcome.scores), "scorer": outcome.detector.scorer_.kind,
            "flagged": int((outcome.flags == -1).sum()), "threshold": float(outcome.detector.offset_)}
