"""What every reference study shares: its data (split, scaled, optionally subset), its result record and the
results folder it writes (Markdown table, JSON of every number, figures, report.html)."""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aelab.data import DataOptions, Dataset, split_dataset
from aelab.data.dataset import FIX_BAD_ROWS_REMEDY
from aelab.io import atomic_write_json, json_safe
from aelab.logs import RunLog
from aelab.report import figure_pngs, render_report
from aelab.runs import scale_split, write_folder


@dataclass
class StudySettings:
    """The options every study takes (``aelab bench NAME ...``).

    ``data`` is the data the study reads (its ``test_size``, ``subset`` and ``skip_bad_rows`` stay unused: a
    study splits and samples as its reference did, and stops at bad rows). ``epochs`` None keeps the study's
    own number (fewer in quick mode); ``seeds`` None keeps the study's own number of repetitions (for the
    studies that repeat over seeds); ``methods`` None runs all of a study's methods, else the ones named (for the
    studies of ``aelab.bench.STUDY_METHODS``); ``augment`` None keeps the study's own image augmentation (for the
    studies that pretrain with one, see ``aelab.parts.augmentations.AUGMENT_CHOICES``); ``quick`` trains briefly on
    a subset, which is what the test suite runs.
    """

    data: DataOptions = field(default_factory=DataOptions)
    quick: bool = False
    epochs: int | None = None
    random_state: int = 0
    device: str = "auto"
    seeds: int | None = None
    augment: str | None = None
    methods: tuple[str, ...] | None = None

    def epochs_or(self, full: int, quick: int) -> int:
        if self.epochs is not None:
            return self.epochs
        return quick if self.quick else full


@dataclass
class StudyData:
    """A dataset split into scaled train and test parts (scaling fitted on the training part)."""

    dataset: Dataset
    X_train: np.ndarray
    y_train: np.ndarray | None
    X_test: np.ndarray
    y_test: np.ndarray | None
    description: dict[str, Any]


def _subset(X: np.ndarray, y: np.ndarray | None, n: int | None, seed: int):
    if n is None or n >= len(X):
        return X, y
    index = np.sort(np.random.default_rng(seed).choice(len(X), n, replace=False))
    return X[index], (None if y is None else y[index])


def load_study_data(settings: StudySettings, n_train: int | None = None, n_test: int | None = None,
                    test_size: float = 0.2) -> StudyData:
    """Load the study's data, split it (official split when it has one, else random stratified), scale to
    [0, 1] with statistics of the training part and keep at most ``n_train`` / ``n_test`` random samples."""
    dataset, _ = settings.data.load(remedy=FIX_BAD_ROWS_REMEDY)
    split = split_dataset(dataset, test_size=test_size, random_state=settings.random_state)
    _, X_train, X_test = scale_split(dataset, split)
    X_train, y_train = _subset(X_train, split.y_train, n_train, settings.random_state)
    X_test, y_test = _subset(X_test, split.y_test, n_test, settings.random_state + 1)
    description = {**split.description, "n_train_used": len(X_train), "n_test_used": len(X_test),
                   "scaling": "min-max to [0, 1], fitted on the training part"}
    return StudyData(dataset, X_train, y_train, X_test, y_test, description)


def require_labels(y: np.ndarray | None, data_name: str, study: str) -> np.ndarray:
    """``y``, or a ValueError saying the study needs labels (at least two classes) in the test part."""
    if y is None or len(np.unique(y)) < 2:
        raise ValueError(f"the {study} study measures the codes against labels, but {data_name} has no labels "
                         "of two classes or more in its test part; pass labelled data (--label-column for a table)")
    return y


class Stopwatch:
    """``with Stopwatch() as t: ...`` then ``t.seconds``."""

    def __enter__(self) -> Stopwatch:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self._start


@dataclass
class StudyResult:
    """One study's outcome, before anything is written.

    ``tables`` maps a caption to its rows (one dict per row; the first row's keys are the columns);
    ``figures`` maps a file name to a matplotlib Figure; ``notes`` are sentences printed under the tables.
    """

    study: str
    title: str
    settings: dict[str, Any]
    data: dict[str, Any]
    tables: dict[str, list[dict[str, Any]]]
    figures: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def machine_description() -> dict[str, Any]:
    import torch

    return {"platform": platform.platform(), "processor": platform.machine(), "cpu_count": os.cpu_count(),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        value = float(value)
        if not np.isfinite(value):
            return str(value)
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """A GitHub-flavoured Markdown table of ``rows`` (columns: the union of their keys, in order of appearance)."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def results_markdown(result: StudyResult, command: str | None = None) -> str:
    lines = [f"# {result.title}", ""]
    if command:
        lines += [f"Command: `{command}`", ""]
    machine = machine_description()
    lines += [f"Data: {result.data.get('name')} ({result.data.get('n_train_used')} train / "
              f"{result.data.get('n_test_used')} test samples). Machine: {machine['platform']}, "
              f"{machine['cpu_count']} CPUs, torch {machine['torch']}"
              + (f", {machine['cuda']}" if machine["cuda"] else "") + f". Total time {result.seconds:.0f} s.", ""]
    for caption, rows in result.tables.items():
        lines += [f"## {caption}", "", markdown_table(rows), ""]
    lines += [f"- {note}" for note in result.notes]
    return "\n".join(lines).rstrip() + "\n"


def write_study(result: StudyResult, out: str | os.PathLike, force: bool = False,
                command: str | None = None, log: RunLog | None = None) -> Path:
    """Write the results folder in one piece: ``results.md``, ``results.json``, one PNG per figure,
    ``report.html`` and, with ``log``, ``log.txt``."""
    def fill(staging: Path) -> None:
        pngs = figure_pngs(result.figures)
        for name, png in pngs.items():
            (staging / name).write_bytes(png)
        record = {"study": result.study, "title": result.title, "command": command, "settings": result.settings,
                  "data": result.data, "machine": machine_description(), "seconds": result.seconds,
                  "tables": result.tables, "notes": result.notes, **result.extra}
        atomic_write_json(staging / "results.json", json_safe(record))
        (staging / "results.md").write_text(results_markdown(result, command), encoding="utf-8")
        config = {"settings": result.settings, "data": result.data}
        (staging / "report.html").write_text(
            render_report(result.title, config, result.tables, pngs, notes=result.notes, command=command),
            encoding="utf-8")

    return write_folder(out, force, fill, log)
