"""The training loop's state: what the callbacks read and change, and what a checkpoint saves."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from aelab.training.settings import TrainingResult, TrainingSettings


@dataclass(eq=False)
class TrainingState:
    """The run as the callbacks see it (see aelab.training.callbacks.Callback).

    Attributes
    ----------
    settings : TrainingSettings
    network : torch.nn.Module
        The network being trained (never a wrapper).
    optimizer : torch.optim.Optimizer
    loss_fn : callable
        ``loss_fn(network, x) -> loss``.
    generator : torch.Generator
        The stream the batches are shuffled with.
    distributed : aelab.training.distributed.DistributedContext or None
    n_samples : int
        The training samples of one epoch (of all processes together).
    epoch : int
        Epochs completed: in ``on_epoch_begin`` and ``on_batch_end`` the epoch in progress is ``epoch + 1``,
        in ``on_epoch_end`` it is ``epoch``.
    batch : int
        Batches of the epoch in progress trained on so far.
    loss : torch.Tensor or None
        The last batch's loss, on the device (reading it as a number waits for the device).
    train_loss, validation_loss : float or None
        The mean losses of the last completed epoch (``validation_loss`` None without validation data).
    seconds : float
        Wall-clock seconds of the last completed epoch's training (validation excluded).
    history : dict of list of float
        ``train_loss`` and ``validation_loss`` of every completed epoch.
    epoch_seconds : list of float
    best_epoch, best_loss, since_best, best_weights
        The early-stopping record: the best monitored loss, its epoch (1-based), the epochs since, and
        the weights of that epoch (kept with validation data only).
    stop_training : bool
        Set it to True to end training after the current epoch.
    stopped_early : bool
        Whether training ended before ``settings.epochs``.
    """

    settings: TrainingSettings
    network: nn.Module
    optimizer: torch.optim.Optimizer
    loss_fn: Any
    generator: torch.Generator
    distributed: Any = None
    n_samples: int = 0
    epoch: int = 0
    batch: int = 0
    loss: torch.Tensor | None = None
    epoch_total: torch.Tensor | None = None
    shuffle_state: torch.Tensor | None = None
    train_loss: float | None = None
    validation_loss: float | None = None
    seconds: float = 0.0
    history: dict[str, list[float]] = field(default_factory=lambda: {"train_loss": [], "validation_loss": []})
    epoch_seconds: list[float] = field(default_factory=list)
    best_epoch: int = 0
    best_loss: float = math.inf
    since_best: int = 0
    best_weights: dict[str, torch.Tensor] | None = None
    stop_training: bool = False
    stopped_early: bool = False

    def result(self) -> TrainingResult:
        """What the run learned besides the weights."""
        return TrainingResult(history=self.history, epoch_seconds=self.epoch_seconds, best_epoch=self.best_epoch,
                              n_epochs=self.epoch, stopped_early=self.stopped_early)
