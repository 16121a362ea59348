"""The training job behind ``aelab train``: data -> split and scaling -> autoencoder and PCA -> metrics,
figures and a run folder written in one piece."""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from aelab.data import DataOptions, Dataset, MinMaxScaling, Split
from aelab.data.files import as_labels
from aelab.data.streaming import StreamingSource
from aelab.estimators import (
    DEFAULT_STEPS,
    MAX_EPOCHS,
    MIN_EPOCHS,
    STILL_IMPROVING,
    Autoencoder,
    still_improving_warning,
)
from aelab.extras import MissingExtra
from aelab.figures import method_figures, side_by_side
from aelab.io import atomic_write_json, json_safe, read_json
from aelab.locks import busy_message, other_writer
from aelab.logs import RunLog, plural, stage
from aelab.metrics import reconstruction_bce, score_code, score_reconstruction
from aelab.parts.augmentations import augmentation
from aelab.parts.base import check_positive_int
from aelab.parts.kinds import kind
from aelab.pipeline import PREPROCESSING_FILE, preprocessing_record
from aelab.report import ReportOptions, figure_pngs, latent_explorer, metric_rows, render_report
from aelab.training.callbacks import Callback
from aelab.training.checkpoints import has_checkpoint

logger = logging.getLogger(__name__)

#: The run folder's sub-folder holding the training checkpoint, and the job it belongs to.
CHECKPOINT_FOLDER = "checkpoint"
JOB_FILE = "job.json"
#: The file of every folder a job writes that holds the job's log lines (aelab.logs).
LOG_FILE = "log.txt"


@dataclass
class TrainJob:
    """Everything ``aelab train`` needs, recorded as the run's config.json (and its checkpoint's job.json)."""

    data: DataOptions = field(default_factory=DataOptions)
    kind: str = "vanilla"
    hidden: tuple[int, ...] = (512, 256)
    n_components: int = 32
    activation: str = "relu"
    loss: str = "mse"
    epochs: int | None = None
    batch_size: int = 256
    learning_rate: float = 1e-3
    patience: int | None = 10
    random_state: int = 0
    device: str = "auto"
    verbose: int = 0
    precision: str = "fp32"
    compile: bool = False
    stream: bool = False
    distributed: bool = False
    checkpoint_every: int = 1
    on_divergence: str = "stop"
    augment: str = "none"
    refine_steps: int | None = None

    def estimator(self, sample_shape: tuple[int, ...] | None = None) -> Autoencoder:
        """The autoencoder of this job; ``kind`` sets its parts (see aelab.parts.kinds.KINDS).

        ``hidden`` and ``activation`` go to the kind's encoder where the kind does not fix them (the conv
        kind has no dense widths, the sparse kind's encoder is sigmoid); ``sample_shape`` (None for data
        that are not images) is passed to the parts that work on images; ``refine_steps`` (None: the kind's)
        to a deterministic latent.
        """
        parts = kind_parts(self.kind, self.hidden, self.augment, sample_shape, self.data.name,
                           activation=self.activation, refine_steps=self.refine_steps)
        return Autoencoder(**parts, n_components=self.n_components,
                           loss=self.loss, epochs=self.epochs, batch_size=self.batch_size,
                           learning_rate=self.learning_rate, patience=self.patience, random_state=self.random_state,
                           device=self.device, verbose=self.verbose, precision=self.precision, compile=self.compile,
                           on_divergence=self.on_divergence)


def kind_parts(kind_name: str, hidden: tuple[int, ...], augment: str, sample_shape: tuple[int, ...] | None,
               data_name: str, activation: str | None = None, refine_steps: int | None = None) -> dict[str, Any]:
    """The parts of the autoencoder a job names by ``--kind``, ``--hidden``, ``--activation``, ``--augment`` and
    ``--refine-steps``, for data of ``sample_shape`` (None for data that are not images): the ``Autoencoder``
    parameters encoder, latent, corruption, augmentation and penalties.

    ``hidden`` and ``activation`` go to the kind's encoder where the kind does not fix them (the conv kind
    has no dense widths, the sparse kind's encoder is sigmoid); the parts that work on images get
    ``sample_shape``; ``refine_steps`` (None: the kind's) to a deterministic latent. A ValueError when
    ``augment`` or the kind needs images and the data are not images, or when ``refine_steps`` is given for a
    kind whose code is not deterministic.
    """
    params = kind(kind_name, hidden=tuple(hidden), activation=activation)
    if refine_steps is not None:
        if not hasattr(params["latent"], "refine_steps"):
            raise ValueError(f"--refine-steps refines a deterministic code, but the {kind_name} kind's code is "
                             f"{params['latent']!r}; leave out --refine-steps for this kind")
        params["latent"].set_params(refine_steps=check_positive_int("--refine-steps", refine_steps, minimum=0))
    params["augmentation"] = augmentation(augment, sample_shape)
    if params["augmentation"] is not None and sample_shape is None:
        raise ValueError(f"--augment {augment} moves images, but {data_name} does not hold images; leave "
                         "out --augment for data that are not images")
    if params["encoder"].needs_image_shape and sample_shape is not None:
        params["encoder"].set_params(sample_shape=tuple(sample_shape))
    return params


def image_shape(dataset: Dataset) -> tuple[int, ...] | None:
    """The sample shape of ``dataset`` when its samples are images (2 or 3 dimensions), else None."""
    return tuple(dataset.sample_shape) if len(dataset.sample_shape) in (2, 3) else None


@dataclass
class TrainOutcome:
    """What a training job produced, before anything is written."""

    job: TrainJob
    dataset: Dataset
    split: Split
    scaling: MinMaxScaling
    estimator: Autoencoder
    metrics: dict[str, Any]
    figures: dict[str, Any] = field(default_factory=dict)
    codes: dict[str, np.ndarray] = field(default_factory=dict)
    skipped_rows: list[int] = field(default_factory=list)


def scale_split(dataset: Dataset, split: Split) -> tuple[MinMaxScaling, np.ndarray, np.ndarray]:
    """Fit [0, 1] scaling on the training part (globally for images, per feature otherwise) and apply it."""
    scaling = MinMaxScaling.fit(split.X_train, per_feature=not dataset.is_image)
    return scaling, scaling.transform(split.X_train), scaling.transform(split.X_test)


def code_metrics(X: np.ndarray, code: np.ndarray, labels: np.ndarray | None, random_state: int) -> dict[str, float]:
    """The metrics every code is judged by (``aelab.metrics.score_code``): clustering ACC/NMI/ARI, silhouette,
    trustworthiness and k-NN accuracy; the label-based ones only when labels are known."""
    return score_code(X, code, labels, random_state=random_state)


#: With ``stream``: the most test rows held in memory to measure the model, and training rows to fit PCA on.
STREAM_TEST_ROWS = 10_000
STREAM_PCA_ROWS = 20_000


def _prepare_in_memory(job: TrainJob):
    dataset, skipped = job.data.load(job.random_state)
    estimator = job.estimator(sample_shape=image_shape(dataset))
    estimator.check_params(dataset.n_features)  # fail on bad settings before any work
    split = job.data.split(dataset, job.random_state)
    scaling, X_train, X_test = scale_split(dataset, split)
    return dataset, split, scaling, estimator, X_train, X_train, X_test, skipped.tolist()


def _prepare_stream(job: TrainJob):
    """The file as blocks: whole blocks held out for testing (at most STREAM_TEST_ROWS of them measured),
    scaling fitted in one pass over the training blocks, PCA fitted on a sample of them."""
    if job.data.skip_bad_rows or job.data.subset is not None:
        raise ValueError("a streamed file is read as it is: skip_bad_rows and subset need the data in memory; remove "
                         "the bad rows from the file, or train without --stream")
    job.data.check()
    source = StreamingSource(job.data.name, label_column=job.data.label_column)
    is_image = len(source.sample_shape) >= 2
    estimator = job.estimator(sample_shape=source.sample_shape if is_image else None)
    estimator.check_params(source.n_features)
    train_part, test_part = source.split(job.data.test_size, random_state=job.random_state)
    if test_part is None:
        raise ValueError(f"{job.data.name} is a single block of {len(source)} rows, so no block can be held out for "
                         "testing; write the Parquet file with several row groups (row_group_size) or train "
                         "without --stream")
    scaling = train_part.minmax(per_feature=not is_image)
    X_test_raw, y_test, test_rows = test_part.sample(STREAM_TEST_ROWS, random_state=job.random_state)
    X_test = scaling.transform(X_test_raw)
    train_part = train_part.with_scaling(scaling)
    X_pca, _, _ = train_part.sample(STREAM_PCA_ROWS, random_state=job.random_state)
    y_test = None if y_test is None else _labels(y_test)
    # the rows stay in the file: the record holds a zero-stride stand-in of the right shape
    dataset = Dataset(np.broadcast_to(np.zeros((1, 1), np.float32), (len(source), source.n_features)), None,
                      source.sample_shape, name=job.data.name,
                      source=f"{Path(job.data.name).suffix[1:]} file {job.data.name} (streamed)")
    split = Split(X_train=np.empty((0, source.n_features), np.float32), X_test=X_test_raw, y_train=None,
                  y_test=y_test, train_index=np.empty(0, np.int64), test_index=np.empty(0, np.int64),
                  description={"kind": "blocks", "test_size": job.data.test_size, "random_state": job.random_state,
                               "n_train": len(train_part), "n_test": len(test_part), "n_test_measured": len(X_test),
                               "test_blocks": list(test_part.blocks)}, test_rows=test_rows)
    return dataset, split, scaling, estimator, train_part, X_pca, X_test, []


def _labels(values: np.ndarray) -> np.ndarray:
    return as_labels(values, "the label column")[0]


def run_training(job: TrainJob, distributed=None, checkpoint: str | os.PathLike | None = None,
                 resume: bool = False, callbacks: Sequence[Callback] = ()) -> TrainOutcome | None:
    """Load, split, scale, fit the autoencoder and PCA with as many components, and measure both
    (``measure_run``).

    With ``job.stream`` the data file is streamed (aelab.data.streaming). With ``distributed`` (a context
    of aelab.training.distributed.distributed_session) every process trains its share; only rank 0 goes on to
    measure, and the others return None. With ``checkpoint`` (a folder) the training writes its checkpoint
    there every ``job.checkpoint_every`` epochs; with ``resume`` it continues from the one there (a
    checkpoint of a finished training is not trained further: only the measuring is done again).
    ``callbacks`` (trackers, say: aelab.training.tracking) are the autoencoder's; they are not part of the job.
    """
    prepare = _prepare_stream if job.stream else _prepare_in_memory
    dataset, split, scaling, estimator, X_train, X_pca, X_test, skipped = prepare(job)
    estimator.set_params(callbacks=list(callbacks) or None)
    logger.info("%s: %s, %s held out for testing", dataset.name,
                plural(split.description["n_train"], "training sample"), plural(split.description["n_test"], "sample"))

    with stage(logger, f"training the {job.kind} autoencoder") as training:
        estimator.fit(X_train, distributed=distributed, checkpoint=checkpoint,
                      checkpoint_every=job.checkpoint_every, resume=checkpoint if resume else None)
    ae_seconds = training.seconds
    if distributed is not None and not distributed.is_main:
        return None
    if not job.verbose and estimator.best_epoch_ == estimator.n_epochs_:  # quiet keeps the warnings
        logger.warning(still_improving_warning(estimator.n_epochs_))
    # from here on the checkpoint records a finished training: a failure below is finished by --resume
    with stage(logger, "fitting PCA, measuring both codes and drawing the figures"):
        return measure_run(job, dataset, split, scaling, estimator, ae_seconds, X_pca, X_test, skipped)


#: The key of metrics.json (in each method's metrics) counting the scaled test values that BCE and the ELBO
#: saw clipped to the training range [0, 1].
CLIPPED_KEY = "test_values_clipped_to_training_range"


def clip_to_training_range(X_scaled: np.ndarray) -> tuple[np.ndarray, int]:
    """Scaled values clipped to [0, 1], the range the scaling gives the training part, and how many changed.

    Test values beyond the training part's minimum or maximum leave [0, 1] after scaling, which ``transform``
    accepts; binary cross-entropy and the ELBO read values as probabilities, so they measure these clipped.

    Examples
    --------
    >>> clip_to_training_range(np.array([[-0.5, 0.25], [1.0, 2.0]]))
    (array([[0.  , 0.25],
           [1.  , 1.  ]]), 2)
    """
    clipped = np.clip(X_scaled, 0.0, 1.0)
    return clipped, int(np.count_nonzero(clipped != X_scaled))


def _reconstruction_scores(X_test: np.ndarray, X_unit: np.ndarray, reconstruction: np.ndarray) -> dict[str, Any]:
    """MSE and PSNR of the test values as they are; BCE of them clipped to the training range (``X_unit``)."""
    return {**score_reconstruction(X_test, reconstruction),
            "reconstruction_bce": reconstruction_bce(X_unit, reconstruction)}


def measure_run(job: TrainJob, dataset: Dataset, split: Split, scaling: MinMaxScaling, estimator: Autoencoder,
                ae_seconds: float, X_pca, X_test: np.ndarray, skipped: list[int]) -> TrainOutcome:
    """Fit PCA with as many components as the code, measure it and the fitted autoencoder on the scaled test
    split ``X_test``, and make the figures. BCE and the ELBO see the test values clipped to the training
    range; metrics.json counts them (``CLIPPED_KEY``)."""
    from sklearn.decomposition import PCA

    code = estimator.transform(X_test)
    reconstruction = estimator.reconstruct(X_test)
    X_unit, n_clipped = clip_to_training_range(X_test)

    started = time.perf_counter()
    pca = PCA(n_components=job.n_components, random_state=job.random_state).fit(X_pca)
    pca_seconds = time.perf_counter() - started
    pca_code = pca.transform(X_test)
    pca_reconstruction = pca.inverse_transform(pca_code)

    history = estimator.history_
    metrics = {
        "ae": {
            "fit_seconds": ae_seconds,
            "max_epochs": estimator.epochs_,
            "epochs_run": estimator.n_epochs_,
            "best_epoch": estimator.best_epoch_,
            "still_improving": estimator.best_epoch_ == estimator.n_epochs_,
            "final_train_loss": history["train_loss"][-1],
            "best_validation_loss": min(history["validation_loss"]) if history["validation_loss"] else None,
            **_reconstruction_scores(X_test, X_unit, reconstruction),
            **code_metrics(X_test, code, split.y_test, job.random_state),
            **({"elbo": float(np.mean(estimator.elbo(X_unit, random_state=job.random_state)))}
               if estimator.has_elbo else {}),
            CLIPPED_KEY: n_clipped,
        },
        "pca": {
            "fit_seconds": pca_seconds,
            **_reconstruction_scores(X_test, X_unit, pca_reconstruction),
            **code_metrics(X_test, pca_code, split.y_test, job.random_state),
            CLIPPED_KEY: n_clipped,
        },
        "history": history,
    }
    outcome = TrainOutcome(job, dataset, split, scaling, estimator, metrics,
                           codes={"ae": code, "pca": pca_code}, skipped_rows=skipped)
    outcome.figures = run_figures(outcome, X_test, {"": (estimator, code, reconstruction),
                                                    PCA_SUFFIX: (pca, pca_code, pca_reconstruction)})
    return outcome


def training_length(outcome: TrainOutcome) -> dict[str, Any]:
    """The epoch limit the fit ran under and where it came from: ``--epochs``, or the step budget of
    ``epochs=None`` (about DEFAULT_STEPS steps, between MIN_EPOCHS and MAX_EPOCHS epochs)."""
    estimator = outcome.estimator
    chosen_by = ("epochs" if outcome.job.epochs is not None else
                 f"step budget: about {DEFAULT_STEPS} steps, {MIN_EPOCHS} to {MAX_EPOCHS} epochs")
    return {"max_epochs": estimator.epochs_, "chosen_by": chosen_by, "epochs_run": estimator.n_epochs_,
            "best_epoch": estimator.best_epoch_}


def still_improving_message(outcome: TrainOutcome) -> str | None:
    """``STILL_IMPROVING`` with the epochs, when the best epoch of the run was its last; else None."""
    if not outcome.metrics["ae"]["still_improving"]:
        return None
    n = outcome.estimator.n_epochs_
    return f"{STILL_IMPROVING} (epoch {n} of {n} was the best; pass a larger --epochs)"


def clipped_message(outcome: TrainOutcome) -> str | None:
    """What the run says when BCE and the ELBO measured clipped test values; None when none were clipped."""
    n_clipped = outcome.metrics["ae"].get(CLIPPED_KEY, 0)
    if not n_clipped:
        return None
    return (f"{n_clipped} of {outcome.split.X_test.size} test values lie outside the training range after scaling; "
            "BCE and the ELBO are measured with them clipped to it ([0, 1]); MSE and PSNR with them as they are")


#: The file names of PCA's figures end in this (``latent_pca.png``); the autoencoder's have none (``latent.png``).
PCA_SUFFIX = "_pca"


def run_figures(outcome: TrainOutcome, X_test, fitted: dict[str, tuple[Any, np.ndarray, np.ndarray]]
                ) -> dict[str, Any]:
    """The figures of the autoencoder and of PCA (``fitted`` maps a file-name suffix to the estimator, its code
    and its reconstruction of ``X_test``)."""
    names = {"": f"{outcome.job.kind} autoencoder", PCA_SUFFIX: f"PCA-{outcome.job.n_components}"}
    figures: dict[str, Any] = {}
    for suffix, (estimator, code, reconstruction) in fitted.items():
        figures.update(method_figures(names[suffix], estimator, code, reconstruction, X_test, outcome.split.y_test,
                                      outcome.dataset, suffix=suffix, random_state=outcome.job.random_state))
    return figures


def check_output_folder(out: str | os.PathLike, force: bool) -> Path:
    """Refuse to overwrite a non-empty folder unless ``force``; raise before any work is done."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; pass a folder path")
    writer = other_writer(out)
    if writer is not None:  # a run in the making looks like an interrupted or finished one
        raise ValueError(busy_message(out, writer))
    if (out / CHECKPOINT_FOLDER / JOB_FILE).is_file() and not (out / "model.json").is_file() and not force:
        raise ValueError(f"output folder {out} holds an interrupted run; continue it with 'aelab train --resume "
                         f"{out}', or pass --force to start again")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ValueError(f"output folder {out} already exists and is not empty; pass --force or another --out")
    return out


def write_folder(out: str | os.PathLike, force: bool, fill, log: RunLog | None = None) -> Path:
    """Write a folder in one piece: ``fill(staging)`` writes everything into a staging folder that is then
    renamed to ``out`` (replacing it when ``force``); on any error nothing is left behind. With ``log`` (the
    job's lines, aelab.logs.recording) the folder keeps them as ``LOG_FILE``."""
    out = check_output_folder(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.partial-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    try:
        fill(staging)
        if log is not None:
            (staging / LOG_FILE).write_text(log.text(), encoding="utf-8")
        if out.exists():
            trash = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, trash)
            os.replace(staging, out)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def run_report(outcome: TrainOutcome, figure_pngs: dict[str, bytes], config: dict[str, Any],
               options: ReportOptions | None = None) -> str:
    """The run's report.html: its metrics, figures (PCA's beside the autoencoder's), configuration and the
    latent explorer of its codes; ``options`` (default ``ReportOptions()``) says how it is written."""
    options = options or ReportOptions()
    dataset = outcome.dataset
    notes = ["All metrics on the test split; the autoencoder and PCA were fitted on the training split only."]
    explorer = None
    if outcome.codes:
        try:
            explorer = latent_explorer(outcome.codes, outcome.scaling.transform(outcome.split.X_test),
                                       outcome.split.y_test, dataset.sample_shape, dataset.label_names,
                                       rows=outcome.split.test_rows, random_state=outcome.job.random_state,
                                       plotly=options.plotly)
        except MissingExtra as e:  # the report is written without its one interactive part
            logger.warning("the report has no latent explorer: %s", e)
            notes.append(f"No latent explorer: {e}.")
    methods = {name: values for name, values in outcome.metrics.items() if name != "history"}
    clipped = clipped_message(outcome)
    if clipped is not None:
        notes.append(clipped[0].upper() + clipped[1:] + ".")
    improving = still_improving_message(outcome)
    captions = {name: improving[0].upper() + improving[1:] + "." for name in figure_pngs
                if name.startswith("loss") and improving is not None}
    return render_report(f"aelab train: {dataset.name}, {outcome.job.n_components}-D code", config,
                         {"metrics on the test split": metric_rows(methods)}, figure_pngs, explorer, tuple(notes),
                         side_by_side=side_by_side(figure_pngs, ["", PCA_SUFFIX]), command=options.command,
                         captions=captions)


def write_run(outcome: TrainOutcome, out: str | os.PathLike, force: bool = False,
              checkpoint: str | os.PathLike | None = None, report: ReportOptions | None = None,
              log: RunLog | None = None) -> Path:
    """Write the run folder in one piece: everything goes to a staging folder that is then renamed.

    The ``checkpoint`` folder, when given, is copied into the run folder's ``checkpoint``; ``report`` says how
    report.html is written; ``log``, when given, is written as its log.txt.
    """
    def fill(staging: Path) -> None:
        if checkpoint is not None:
            shutil.copytree(checkpoint, staging / CHECKPOINT_FOLDER,
                            ignore=shutil.ignore_patterns(".*.tmp"))
        outcome.estimator.save(staging)
        dataset = outcome.dataset
        config = {
            "job": json_safe(asdict(outcome.job)),
            "data": {"name": dataset.name, "source": dataset.source, "n_samples": dataset.n_samples,
                     "sample_shape": list(dataset.sample_shape), "label_names": dataset.label_names,
                     "skipped_rows": outcome.skipped_rows},
            "split": outcome.split.description,
            "scaling": {"kind": "minmax", "per_feature": outcome.scaling.per_feature,
                        "fitted_on": "training part"},
            "training_length": training_length(outcome),
        }
        atomic_write_json(staging / "config.json", config)
        atomic_write_json(staging / PREPROCESSING_FILE, preprocessing_record(outcome.scaling, dataset.sample_shape))
        atomic_write_json(staging / "metrics.json", outcome.metrics)
        pngs = figure_pngs(outcome.figures)
        for name, png in pngs.items():
            (staging / name).write_bytes(png)
        (staging / "report.html").write_text(run_report(outcome, pngs, config, report), encoding="utf-8")

    return write_folder(out, force, fill, log)


def start_checkpoint(out: str | os.PathLike, job: TrainJob) -> Path:
    """Make the run folder's checkpoint folder (replacing an earlier one) holding the job; return its path."""
    folder = Path(out) / CHECKPOINT_FOLDER
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    atomic_write_json(folder / JOB_FILE, json_safe(asdict(job)))
    return folder


def discard_checkpoint(out: str | os.PathLike, checkpoint: str | os.PathLike, created: bool) -> None:
    """After a run failed before its first checkpoint: remove the checkpoint folder, and ``out`` too when the
    run created it and nothing else is in it. A checkpoint to resume from is kept."""
    if has_checkpoint(checkpoint):
        return
    shutil.rmtree(checkpoint, ignore_errors=True)
    out = Path(out)
    if created and out.is_dir() and not any(out.iterdir()):
        out.rmdir()


_OPTIONAL_JOB_FIELDS = ("epochs", "patience", "refine_steps")


def _job_value(key: str, value: Any, default: Any, path: Path) -> Any:
    """The value of ``key`` in a job.json, checked against the type of its default."""
    if key == "data":
        try:
            return DataOptions.from_dict(value)
        except ValueError as e:
            raise ValueError(f"{path}: {e}; train the run again with --force") from None
    if isinstance(default, tuple) and isinstance(value, list) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value):
        value = tuple(value)
    elif isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    ok = (key in _OPTIONAL_JOB_FIELDS and (value is None or type(value) is int)) or (
        type(value) is type(default) or (default is None and isinstance(value, str)))
    if not ok:
        raise ValueError(f"{path}: {key} is {value!r}, which is not a valid value; train the run again with --force")
    return value


def resume_job(run: str | os.PathLike) -> tuple[TrainJob, Path]:
    """The job and the checkpoint folder of an interrupted run folder, checked; stray temporary files of
    the interrupted write are removed."""
    folder = Path(run) / CHECKPOINT_FOLDER
    path = folder / JOB_FILE
    if not path.is_file():
        raise ValueError(f"{run} holds no checkpoint to resume ({path} is missing); train with --out {run} "
                         "(and --force) to start again")
    record = read_json(path, "train the run again with --force")
    defaults = {f.name: getattr(TrainJob(), f.name) for f in fields(TrainJob)}
    if not isinstance(record, dict) or set(record) != set(defaults):
        raise ValueError(f"{path} is not the job of a run of this aelab; train the run again with --force")
    values = {key: _job_value(key, record[key], default, path) for key, default in defaults.items()}
    for stray in folder.glob(".*.tmp"):
        stray.unlink(missing_ok=True)
    return TrainJob(**values), folder


def summary_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per method for the printed table."""
    rows = []
    for method, values in metrics.items():
        if method == "history":
            continue
        rows.append({"method": method, **{k: values.get(k) for k in
                                          ("reconstruction_mse", "kmeans_accuracy", "silhouette",
                                           "fit_seconds")}})
    return rows
