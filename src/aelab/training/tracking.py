"""Experiment tracking: callbacks that record a training run where people follow their runs.

``CSVLogger`` writes one row per epoch to a CSV file; ``TensorBoardLogger`` writes TensorBoard event files
(``torch.utils.tensorboard``, needs the ``tensorboard`` package); ``MLflowLogger`` records an MLflow run
(needs ``mlflow``): the parameters, the losses of every epoch, and, through ``log_run`` once the run folder
is written, the final metrics and the folder as artifacts. ``pip install 'aelab[track]'`` installs both.

Each logger records the losses of every epoch (``train_loss``, ``validation_loss`` when there is
validation data, ``epoch_seconds``, ``learning_rate``) with the epoch as the step. In a distributed run
only rank 0 records.

Examples
--------
>>> from aelab import Autoencoder
>>> from aelab.training.tracking import CSVLogger, MLflowLogger
>>> ae = Autoencoder(callbacks=[CSVLogger("losses.csv"), MLflowLogger("sqlite:///mlflow.db")])  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import math
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from aelab.extras import require_optional
from aelab.training.callbacks import Callback
from aelab.training.state import TrainingState

#: The per-epoch values every logger records, in this order.
EPOCH_METRICS = ("train_loss", "validation_loss", "epoch_seconds", "learning_rate")


def _records(state: TrainingState) -> bool:
    """Whether this process records: always, except on the ranks other than 0 of a distributed run."""
    return state.distributed is None or state.distributed.is_main


def epoch_metrics(state: TrainingState) -> dict[str, float]:
    """The values of the epoch that just ended: its losses, its seconds and the learning rate."""
    values = {"train_loss": state.train_loss, "validation_loss": state.validation_loss,
              "epoch_seconds": state.seconds, "learning_rate": state.optimizer.param_groups[0]["lr"]}
    return {k: float(v) for k, v in values.items() if v is not None}


def flat_params(params: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested parameters as one level of strings: ``{"data": {"name": "digits"}}`` -> ``{"data.name": "digits"}``."""
    flat = {}
    for key, value in params.items():
        if isinstance(value, dict):
            flat.update(flat_params(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = str(value)
    return flat


def final_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """The finite numbers of a run's metrics.json, as ``method/metric`` (the per-epoch history left out)."""
    flat = {}
    for method, values in metrics.items():
        if method == "history" or not isinstance(values, dict):
            continue
        for key, value in values.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                flat[f"{method}/{key}"] = float(value)
    return flat


class Tracker(Callback):
    """A callback that records a training run, and after it the run's results (``log_run``).

    Parameters
    ----------
    params : dict or None, default=None
        Parameters to record besides the training settings (nested dicts are flattened with dots), e.g.
        the whole configuration of an ``aelab train`` job.
    """

    #: The attributes holding an open file, writer or client: a copy starts without them.
    _handles: tuple[str, ...] = ()

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        self.params = params

    def __getstate__(self) -> dict[str, Any]:  # what copy.deepcopy (and so sklearn's clone) copies
        return {k: None if k in self._handles else v for k, v in self.__dict__.items()}

    def open(self) -> None:
        """Import what the tracker needs and reach its store, so that a missing package or an unreachable store
        fails before training, and training's time does not include this; training opens it when not done."""

    def run_params(self, state: TrainingState) -> dict[str, str]:
        """The training settings and ``params``, flattened to strings."""
        return flat_params({**asdict(state.settings), **(self.params or {})})

    def log_run(self, folder: str | os.PathLike, metrics: dict[str, Any]) -> None:
        """After the run folder ``folder`` is written: record its final ``metrics`` (metrics.json's content)."""


class CSVLogger(Tracker):
    """One CSV row per epoch: ``epoch`` and the values of ``EPOCH_METRICS`` (empty where there are none).

    The file is opened at the end of the first epoch: a resumed run appends to it, a new one replaces it.

    Parameters
    ----------
    path : path-like
        The CSV file to write.
    params : dict or None, default=None
        Not written (a CSV holds the epochs only); accepted like the other trackers'.
    """

    _handles = ("_file",)

    def __init__(self, path: str | os.PathLike, params: dict[str, Any] | None = None) -> None:
        super().__init__(params)
        self.path = path
        self._file = None

    def on_epoch_end(self, state: TrainingState) -> None:
        if not _records(state):
            return
        if self._file is None:  # opened here, where a resumed run's epoch is known
            path = Path(self.path)
            resumed = state.epoch > 1 and path.is_file()
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a" if resumed else "w", newline="", encoding="utf-8")
            if not resumed:
                csv.writer(self._file).writerow(("epoch", *EPOCH_METRICS))
        values = epoch_metrics(state)
        row = [repr(values[k]) if k in values else "" for k in EPOCH_METRICS]
        csv.writer(self._file).writerow((state.epoch, *row))
        self._file.flush()

    def on_train_end(self, state: TrainingState) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def on_exception(self, state: TrainingState, error: BaseException) -> None:
        self.on_train_end(state)



class TensorBoardLogger(Tracker):
    """TensorBoard event files in ``log_dir``: a scalar per value of ``EPOCH_METRICS`` per epoch, the
    parameters as text, and (``log_run``) the final metrics as scalars at the last epoch.

    Parameters
    ----------
    log_dir : path-like
        The folder of the event files (``tensorboard --logdir`` it).
    params : dict or None, default=None
        Parameters to record besides the training settings.
    """

    _handles = ("_writer",)

    def __init__(self, log_dir: str | os.PathLike, params: dict[str, Any] | None = None) -> None:
        super().__init__(params)
        self.log_dir = log_dir
        self._writer = None
        self._last_epoch = 0

    def open(self) -> None:
        require_optional(("tensorboard",), "TensorBoardLogger")
        import torch.utils.tensorboard  # noqa: F401  (imported here, before training: it takes seconds)

    def _open(self):
        self.open()
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter(log_dir=str(self.log_dir))

    def on_train_begin(self, state: TrainingState) -> None:
        if not _records(state):
            return
        self._writer = self._open()
        table = "\n".join(f"| {k} | {v} |" for k, v in self.run_params(state).items())
        self._writer.add_text("params", "| parameter | value |\n|---|---|\n" + table, global_step=state.epoch)

    def on_epoch_end(self, state: TrainingState) -> None:
        if self._writer is None:
            return
        for key, value in epoch_metrics(state).items():
            self._writer.add_scalar(key, value, global_step=state.epoch)
        self._writer.flush()
        self._last_epoch = state.epoch

    def on_train_end(self, state: TrainingState) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def on_exception(self, state: TrainingState, error: BaseException) -> None:
        self.on_train_end(state)

    def log_run(self, folder: str | os.PathLike, metrics: dict[str, Any]) -> None:
        writer = self._open()
        try:
            for key, value in final_metrics(metrics).items():
                writer.add_scalar(key, value, global_step=self._last_epoch)
            writer.add_text("run_folder", str(Path(folder).absolute()), global_step=self._last_epoch)
        finally:
            writer.close()



class MLflowLogger(Tracker):
    """An MLflow run: the parameters, the values of ``EPOCH_METRICS`` per epoch (the epoch as the step), and
    (``log_run``) the final metrics and the run folder as artifacts.

    The run is ended (FINISHED, or FAILED on an exception) when training ends; ``log_run`` adds to it.
    The store is reached through ``mlflow.tracking.MlflowClient``: nothing of MLflow's global state (the
    active run, the tracking URI) is read or changed.

    Parameters
    ----------
    tracking_uri : str
        Where MLflow keeps its runs: ``sqlite:///mlflow.db``, ``http://host:5000``, a ``file:`` folder (MLflow
        3 accepts it only with MLFLOW_ALLOW_FILE_STORE=true)...
    experiment : str, default="aelab"
        The experiment the run is made in (created when missing).
    run_name : str or None, default=None
        The run's name; None lets MLflow choose one.
    params : dict or None, default=None
        Parameters to record besides the training settings.

    Attributes
    ----------
    run_id_ : str
        The MLflow run's id, once training began.
    """

    _handles = ("_client", "_store")

    def __init__(self, tracking_uri: str, experiment: str = "aelab", run_name: str | None = None,
                 params: dict[str, Any] | None = None) -> None:
        super().__init__(params)
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.run_name = run_name
        self._client = None
        self._store = None

    def open(self) -> None:
        if self._store is None:
            self._store = self._connect()

    def _connect(self):
        require_optional(("mlflow",), "MLflowLogger")
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        try:
            client = MlflowClient(tracking_uri=self.tracking_uri)
            experiment = client.get_experiment_by_name(self.experiment)
            experiment_id = (experiment.experiment_id if experiment is not None
                             else client.create_experiment(self.experiment))
        except MlflowException as e:
            raise ValueError(f"cannot record to MLflow at {self.tracking_uri}: {e.message}") from None
        return client, experiment_id

    def on_train_begin(self, state: TrainingState) -> None:
        if not _records(state):
            return
        from mlflow.entities import Param

        self.open()
        self._client, experiment_id = self._store
        run = self._client.create_run(experiment_id, run_name=self.run_name)
        self.run_id_ = run.info.run_id
        params = [Param(k, v[:6000]) for k, v in self.run_params(state).items()]
        for start in range(0, len(params), 100):  # MLflow takes at most 100 parameters a call
            self._client.log_batch(self.run_id_, params=params[start:start + 100])

    def on_epoch_end(self, state: TrainingState) -> None:
        if self._client is None:
            return
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, state.epoch) for k, v in epoch_metrics(state).items()]
        self._client.log_batch(self.run_id_, metrics=metrics)

    def on_train_end(self, state: TrainingState) -> None:
        if self._client is not None:
            self._client.set_terminated(self.run_id_, "FINISHED")
            self._client = None

    def on_exception(self, state: TrainingState, error: BaseException) -> None:
        if self._client is not None:
            self._client.set_terminated(self.run_id_, "KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED")
            self._client = None

    def log_run(self, folder: str | os.PathLike, metrics: dict[str, Any]) -> None:
        from mlflow.entities import Metric

        self.open()
        client, _ = self._store
        now = int(time.time() * 1000)
        values = [Metric(k, v, now, 0) for k, v in final_metrics(metrics).items()]
        for start in range(0, len(values), 1000):  # MLflow takes at most 1000 metrics a call
            client.log_batch(self.run_id_, metrics=values[start:start + 1000])
        client.log_artifacts(self.run_id_, str(folder))




#: The trackers ``aelab train --track KIND:WHERE`` makes, by KIND.
TRACKERS = {"csv": CSVLogger, "tensorboard": TensorBoardLogger, "mlflow": MLflowLogger}


def make_tracker(spec: str, params: dict[str, Any] | None = None) -> Tracker:
    """The tracker of ``KIND:WHERE``: ``csv:FILE``, ``tensorboard:DIR`` or ``mlflow:URI`` (the URI may hold colons
    itself, as in ``mlflow:sqlite:///mlflow.db``), recording ``params`` besides the training settings."""
    kind, colon, where = spec.partition(":")
    if not colon or not where or kind not in TRACKERS:
        raise ValueError(f"--track {spec!r} is not one of tensorboard:DIR, mlflow:URI or csv:FILE; e.g. "
                         "--track tensorboard:runs/tb --track mlflow:sqlite:///mlflow.db")
    if kind != "csv":  # the package is named as the kind
        require_optional((kind,), TRACKERS[kind].__name__)
    return TRACKERS[kind](where, params=params)
