"""Training checkpoints: everything a run needs to continue exactly where it stopped, written atomically.

A checkpoint folder holds ``checkpoint.json`` (epoch, history, early-stopping state, optimizer settings,
the estimator's parameters) and the ``checkpoint-<epoch>-<batch>-<id>.safetensors`` file it names
(weights, best weights, optimizer moments and the random generators' states). The tensors are written
first and the JSON last, each through a temporary file, an fsync and a rename, so the JSON always names a
complete tensor file: a run killed at any moment leaves the previous checkpoint whole. No pickle is read or
written.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from aelab.io import atomic_write_bytes, atomic_write_json, read_json
from aelab.training.state import TrainingState

CHECKPOINT_FORMAT = "aelab-checkpoint"
CHECKPOINT_FORMAT_VERSION = 1
CHECKPOINT_FILE = "checkpoint.json"
_RECORD_KEYS = {"format", "format_version", "tensors_file", "tensors_sha256", "epoch", "batches_done",
                "finished", "stopped_early", "history", "epoch_seconds", "best_epoch", "best_loss", "since_best",
                "optimizer", "loss_step", "config"}


@dataclass
class Checkpointing:
    """Where and how often a training run writes its checkpoint.

    Parameters
    ----------
    folder : path-like
        The checkpoint folder (created when needed).
    every : int, default=1
        Write a checkpoint every ``every`` epochs; one is always written at the end and on Ctrl-C.
        0 writes only those two.
    resume : bool, default=False
        Continue from the checkpoint already in ``folder``.
    config : dict
        JSON-ready description of the run (the estimator's parameters); a resumed run must match it.
    write : bool, default=True
        False in the processes of a distributed run other than rank 0: they read but never write.
    """

    folder: str | os.PathLike
    every: int = 1
    resume: bool = False
    config: dict[str, Any] = field(default_factory=dict)
    write: bool = True


@dataclass
class CheckpointState:
    """The loop's state between two batches, as saved in and restored from a checkpoint."""

    epoch: int = 0  # epochs completed
    batches_done: int = 0  # batches of the epoch in progress already trained on
    finished: bool = False
    stopped_early: bool = False
    history: dict[str, list[float]] = field(default_factory=lambda: {"train_loss": [], "validation_loss": []})
    epoch_seconds: list[float] = field(default_factory=list)
    best_epoch: int = 0
    best_loss: float = float("inf")
    since_best: int = 0
    loss_step: int = 0
    optimizer_groups: list[dict[str, Any]] = field(default_factory=list)
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)


def has_checkpoint(folder: str | os.PathLike) -> bool:
    """True when ``folder`` holds a checkpoint."""
    return (Path(folder) / CHECKPOINT_FILE).is_file()


def training_finished(folder: str | os.PathLike) -> bool:
    """True when ``folder`` holds the checkpoint of a training that ran to its end (its last epoch or an early
    stop): resuming it trains no further. False when there is none or it cannot be read."""
    try:
        record = read_json(Path(folder) / CHECKPOINT_FILE, "")
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record.get("finished") is True


def _json_number(value: float) -> float | str:
    return value if value == value and abs(value) != float("inf") else str(value)


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    """An optimizer's state as named tensors plus its JSON-ready parameter groups."""
    state = optimizer.state_dict()
    tensors = {}
    for index, values in state["state"].items():
        for key, value in values.items():
            if not isinstance(value, torch.Tensor):
                value = torch.tensor(value)
            tensors[f"optimizer.{index}.{key}"] = value
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in group.items()}
              for group in state["param_groups"]]
    return tensors, groups


def optimizer_state(tensors: dict[str, torch.Tensor], groups: list[dict[str, Any]]) -> dict[str, Any]:
    """The inverse of ``optimizer_tensors``: a dict for ``optimizer.load_state_dict``."""
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, tensor in tensors.items():
        if name.startswith("optimizer."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = tensor
    param_groups = [{k: (tuple(v) if k == "betas" else v) for k, v in group.items()} for group in groups]
    return {"state": state, "param_groups": param_groups}


def save_checkpoint(folder: str | os.PathLike, state: CheckpointState, config: dict[str, Any]) -> Path:
    """Write ``state`` to ``folder`` atomically (tensors, then the JSON naming them) and return the JSON path."""
    from safetensors.torch import save as safetensors_bytes

    folder = Path(folder)
    tensors = {name: t.detach().to("cpu").contiguous() for name, t in state.tensors.items()}
    data = safetensors_bytes(tensors, metadata={"format": CHECKPOINT_FORMAT})
    # a new name every time: the file the current JSON names is never overwritten
    tensors_file = f"checkpoint-{state.epoch}-{state.batches_done}-{secrets.token_hex(4)}.safetensors"
    atomic_write_bytes(folder / tensors_file, data)
    record = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_FORMAT_VERSION,
        "tensors_file": tensors_file,
        "tensors_sha256": hashlib.sha256(data).hexdigest(),
        "epoch": state.epoch,
        "batches_done": state.batches_done,
        "finished": state.finished,
        "stopped_early": state.stopped_early,
        "history": {k: [_json_number(float(v)) for v in vs] for k, vs in state.history.items()},
        "epoch_seconds": [float(t) for t in state.epoch_seconds],
        "best_epoch": state.best_epoch,
        "best_loss": _json_number(float(state.best_loss)),
        "since_best": state.since_best,
        "optimizer": state.optimizer_groups,
        "loss_step": state.loss_step,
        "config": config,
    }
    path = folder / CHECKPOINT_FILE
    try:
        atomic_write_json(path, record)
    except BaseException:  # (a full disk) the JSON still names the previous tensor file: this one is named nowhere
        (folder / tensors_file).unlink(missing_ok=True)
        raise
    for old in folder.glob("checkpoint-*.safetensors"):  # earlier checkpoints are no longer named
        if old.name != tensors_file:
            old.unlink(missing_ok=True)
    return path


def _invalid(path: Path, what: str) -> ValueError:
    return ValueError(f"{path} is not a valid aelab checkpoint: {what}; start the run again without resuming")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def load_checkpoint(folder: str | os.PathLike, config: dict[str, Any] | None = None) -> CheckpointState:
    """Read the checkpoint in ``folder``, checking its JSON, its tensor file's hash and (if given) ``config``.

    Raises ValueError saying what is wrong with the checkpoint; nothing in it is ever executed.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load as safetensors_load

    folder = Path(folder)
    path = folder / CHECKPOINT_FILE
    if not path.is_file():
        raise ValueError(f"no checkpoint in {folder} ({CHECKPOINT_FILE} is missing); train without resuming")
    record = read_json(path, "start the run again without resuming")
    if not isinstance(record, dict) or set(record) != _RECORD_KEYS:
        raise _invalid(path, f"the keys must be exactly {sorted(_RECORD_KEYS)}")
    if record["format"] != CHECKPOINT_FORMAT or record["format_version"] != CHECKPOINT_FORMAT_VERSION:
        raise _invalid(path, f"format {record['format']!r} version {record['format_version']!r}")
    checks = {
        "epoch": _is_int(record["epoch"]), "batches_done": _is_int(record["batches_done"]),
        "best_epoch": _is_int(record["best_epoch"]), "since_best": _is_int(record["since_best"]),
        "loss_step": _is_int(record["loss_step"]),
        "finished": isinstance(record["finished"], bool), "stopped_early": isinstance(record["stopped_early"], bool),
        "history": isinstance(record["history"], dict) and all(
            isinstance(v, list) and all(isinstance(x, (int, float, str)) for x in v)
            for v in record["history"].values()),
        "epoch_seconds": isinstance(record["epoch_seconds"], list)
        and all(isinstance(x, (int, float)) for x in record["epoch_seconds"]),
        "optimizer": isinstance(record["optimizer"], list) and all(isinstance(g, dict) for g in record["optimizer"]),
        "config": isinstance(record["config"], dict),
        "tensors_file": isinstance(record["tensors_file"], str) and "/" not in record["tensors_file"]
        and record["tensors_file"].startswith("checkpoint-") and record["tensors_file"].endswith(".safetensors"),
        "best_loss": isinstance(record["best_loss"], (int, float, str)),
    }
    wrong = [key for key, ok in checks.items() if not ok]
    if wrong:
        raise _invalid(path, f"wrong types for {wrong}")
    try:
        history = {k: [float(x) for x in v] for k, v in record["history"].items()}  # "nan"/"inf" as text
        best_loss = float(record["best_loss"])
    except ValueError:
        raise _invalid(path, "history and best_loss must hold numbers") from None
    if config is not None:
        different = sorted(k for k in set(config) | set(record["config"])
                           if config.get(k) != record["config"].get(k))
        if different:
            shown = ", ".join(f"{k}={record['config'].get(k)!r} there, {config.get(k)!r} here" for k in different)
            raise ValueError(f"the checkpoint in {folder} was written by a run with other settings ({shown}); "
                             "resume with the same settings, or start a new run")
    tensors_path = folder / record["tensors_file"]
    try:
        data = tensors_path.read_bytes()
    except OSError as e:
        raise _invalid(path, f"its tensor file cannot be read ({e})") from None
    if hashlib.sha256(data).hexdigest() != record["tensors_sha256"]:
        raise _invalid(path, f"{tensors_path.name} does not match the hash recorded with it")
    try:
        tensors = safetensors_load(data)
    except (SafetensorError, ValueError) as e:
        raise _invalid(path, f"{tensors_path.name} is not a safetensors file ({e})") from None
    return CheckpointState(
        epoch=record["epoch"], batches_done=record["batches_done"], finished=record["finished"],
        stopped_early=record["stopped_early"], history=history, epoch_seconds=list(record["epoch_seconds"]),
        best_epoch=record["best_epoch"], best_loss=best_loss, since_best=record["since_best"],
        loss_step=record["loss_step"], optimizer_groups=record["optimizer"], tensors=tensors,
    )


def checkpoint_state(state: TrainingState, mid_epoch: bool = False, finished: bool = False) -> CheckpointState:
    """What a checkpoint saves of the loop's ``state``: at the end of an epoch, or after ``state.batch`` batches
    of the epoch in progress (``mid_epoch``), whose shuffled order is then drawn again from the shuffling
    generator's state at the start of that epoch and whose loss summed so far is kept."""
    network, optimizer, loss_fn = state.network, state.optimizer, state.loss_fn
    tensors = {f"network.{k}": v for k, v in network.state_dict().items()}
    if state.best_weights is not None:
        tensors.update({f"best.{k}": v for k, v in state.best_weights.items()})
    moments, groups = optimizer_tensors(optimizer)
    tensors.update(moments)
    tensors["rng.shuffle"] = state.shuffle_state if mid_epoch else state.generator.get_state()
    loss_generator = getattr(loss_fn, "generator", None)
    if loss_generator is not None:
        tensors["rng.loss"] = loss_generator.get_state()
    if mid_epoch and state.epoch_total is not None:
        tensors["epoch.partial_total"] = state.epoch_total
    return CheckpointState(epoch=state.epoch, batches_done=state.batch if mid_epoch else 0, finished=finished,
                           stopped_early=state.stopped_early, history=state.history,
                           epoch_seconds=state.epoch_seconds, best_epoch=state.best_epoch,
                           best_loss=state.best_loss, since_best=state.since_best,
                           loss_step=int(getattr(loss_fn, "step", 0)), optimizer_groups=groups, tensors=tensors)


def restore_training(checkpointing: Checkpointing, state: TrainingState) -> bool:
    """Load the checkpoint of ``checkpointing`` into the loop's ``state``: the network, the optimizer, the
    shuffling generator, the loss (its generator and step count) and the loop's counters and records.
    Return whether the saved run had finished."""
    folder = checkpointing.folder
    saved = load_checkpoint(folder, checkpointing.config)
    tensors, network, loss_fn = saved.tensors, state.network, state.loss_fn
    device = next(network.parameters()).device
    try:
        network.load_state_dict({k[len("network."):]: v for k, v in tensors.items() if k.startswith("network.")})
        state.optimizer.load_state_dict(optimizer_state(tensors, saved.optimizer_groups))
        state.generator.set_state(tensors["rng.shuffle"])
        loss_generator = getattr(loss_fn, "generator", None)
        if loss_generator is not None:
            loss_generator.set_state(tensors["rng.loss"])
    except (RuntimeError, ValueError, KeyError, TypeError, IndexError) as e:
        raise ValueError(f"the checkpoint in {folder} does not fit this model ({e}); resume with the same "
                         "settings, or start a new run") from None
    if hasattr(loss_fn, "step"):
        loss_fn.step = saved.loss_step
    state.best_weights = {k[len("best."):]: v.to(device) for k, v in tensors.items() if k.startswith("best.")} or None
    if "epoch.partial_total" in tensors:
        state.epoch_total = tensors["epoch.partial_total"].to(device)
    state.history, state.epoch_seconds = saved.history, saved.epoch_seconds
    state.epoch, state.batch, state.stopped_early = saved.epoch, saved.batches_done, saved.stopped_early
    state.best_epoch, state.best_loss, state.since_best = saved.best_epoch, saved.best_loss, saved.since_best
    return saved.finished
