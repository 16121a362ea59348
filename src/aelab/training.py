"""The one training loop: data as tensors on the device, shuffled index slices, Adam, early stopping."""

from __future__ import annotations

import contextlib
import copy
import functools
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

OPTIMIZERS = ("adam", "adamw", "sgd")
LossFunction = Callable[[nn.Module, torch.Tensor], torch.Tensor]


@dataclass
class TrainingSettings:
    """The knobs of one training run."""

    epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float = 0.0
    optimizer: str = "adam"
    patience: int | None = 10
    tol: float = 0.0
    verbose: int = 0
    precision: str = "fp32"
    compile: bool = False
    on_divergence: str = "stop"


@dataclass
class TrainingResult:
    """What a training run learned besides the weights."""

    history: dict[str, list[float]] = field(default_factory=lambda: {"train_loss": [], "validation_loss": []})
    epoch_seconds: list[float] = field(default_factory=list)
    best_epoch: int = 0
    n_epochs: int = 0
    stopped_early: bool = False


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> CUDA when present, else CPU; any other value is passed to torch.device."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda[:N]'") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for but CUDA is not available here; use device='auto'")
    return resolved


def make_generator(seed: int, device: torch.device) -> torch.Generator:
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    return generator


@functools.cache
def fused_adam_available(device: torch.device, dtype: torch.dtype) -> bool:
    """Whether this PyTorch has a fused Adam kernel for parameters of ``device`` and ``dtype``.

    Found by one Adam step on a throwaway tensor: PyTorch names the devices with a fused kernel only in a
    private function, and recent versions raise for an unsupported one at the first step, not at
    construction.
    """
    try:
        probe = torch.zeros(1, device=device, dtype=dtype, requires_grad=True)
        probe.grad = torch.zeros_like(probe)
        torch.optim.Adam([probe], fused=True).step()
    except (RuntimeError, TypeError):
        return False
    return True


def make_optimizer(parameters, settings: TrainingSettings, device: torch.device) -> torch.optim.Optimizer:
    """Adam (default), AdamW or SGD with momentum, built by ``torch.optim``.

    Adam and AdamW run PyTorch's fused kernel (``fused=True``) where this PyTorch has one for every
    parameter's device and dtype, and the multi-tensor kernel (``foreach=True``) elsewhere; the two keep
    the same state, so a checkpoint written by one loads into the other.

    Examples
    --------
    >>> network = torch.nn.Linear(4, 2)
    >>> settings = TrainingSettings(epochs=1, batch_size=8, learning_rate=1e-3, optimizer="adamw")
    >>> optimizer = make_optimizer(network.parameters(), settings, torch.device("cpu"))
    >>> type(optimizer).__name__
    'AdamW'
    """
    parameters = list(parameters)
    name = settings.optimizer
    if name in ("adam", "adamw"):
        cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
        kinds = {(p.device, p.dtype) for p in parameters}
        fused = all(fused_adam_available(*kind) for kind in kinds)
        return cls(parameters, lr=settings.learning_rate, weight_decay=settings.weight_decay,
                   fused=True if fused else None, foreach=None if fused else True)
    if name == "sgd":
        return torch.optim.SGD(parameters, lr=settings.learning_rate, momentum=0.9,
                               weight_decay=settings.weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")


@torch.inference_mode()
def mean_loss(network: nn.Module, loss_fn: LossFunction, X, batch_size: int = 8192) -> float:
    """The sample-weighted mean of ``loss_fn`` over ``X`` (a tensor or a stream), evaluated in large batches."""
    network.eval()
    total = torch.zeros((), dtype=torch.float64)
    chunks = X.split(batch_size) if isinstance(X, torch.Tensor) else X.chunks(batch_size)
    for batch in chunks:
        total = total.to(batch.device) + loss_fn(network, batch).double() * len(batch)
    return float(total / len(X))


def epoch_batches(X_train, batch_size: int, generator: torch.Generator, shard=None):
    """One epoch of ``(batch, rows in the global batch, loss weight)``.

    A tensor is visited in one random permutation drawn on its device; any other source (a stream from
    aelab.data.streaming) gives its own shuffled batches. ``shard`` (see aelab.distributed) keeps this
    process's rows of each global batch.
    """
    if isinstance(X_train, torch.Tensor):
        order = torch.randperm(len(X_train), generator=generator, device=X_train.device)
        for start in range(0, len(X_train), batch_size):
            index = order[start:start + batch_size]
            mine, weight = shard(index) if shard is not None else (index, 1.0)
            yield X_train.index_select(0, mine), len(index), weight
    else:
        for batch in X_train.batches(batch_size, generator):
            mine, weight = shard(batch) if shard is not None else (batch, 1.0)
            yield mine, len(batch), weight


def _progress(settings: TrainingSettings):
    show = settings.verbose > 0 and sys.stderr.isatty()
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=settings.epochs, unit="epoch", leave=False, file=sys.stderr)


def _generator_state(loss_fn) -> torch.Tensor | None:
    """The state of the loss's random stream (None when it has none)."""
    generator = getattr(loss_fn, "generator", None)
    return generator.get_state() if generator is not None else None


def _restore_generator(loss_fn, state: torch.Tensor | None) -> None:
    if state is not None:
        loss_fn.generator.set_state(state)


def _network_state(network: nn.Module) -> dict[str, torch.Tensor]:
    return {name: t.detach().clone() for name, t in network.state_dict().items()}


def train_network(
    network: nn.Module,
    loss_fn: LossFunction,
    X_train: torch.Tensor,
    X_validation: torch.Tensor | None,
    settings: TrainingSettings,
    generator: torch.Generator,
    distributed=None,
    checkpointing=None,
) -> TrainingResult:
    """Train ``network`` in place to minimise ``loss_fn`` and return its history.

    Each epoch draws one permutation on the device and slices it into batches, so no Python runs per
    sample and the loss is read from the device once per epoch. A plain dense ReLU autoencoder on a
    reconstruction loss alone steps by aelab.dense_step's written-out forward and backward, any other
    network or loss by autograd. With validation data, the weights of the
    best validation epoch are kept, and training stops after ``settings.patience`` epochs without an
    improvement larger than ``settings.tol``. ``X_train`` and ``X_validation`` are tensors on the device or
    streams (aelab.data.streaming). With ``distributed`` (an aelab.distributed.DistributedContext) each
    process trains on its share of every global batch of ``settings.batch_size`` rows and the gradients
    are all-reduced; the losses reported are those of all processes together.

    With ``checkpointing`` (an aelab.checkpoints.Checkpointing) the run's whole state is saved every
    ``checkpointing.every`` epochs, at the end, and after the current batch on Ctrl-C (which then raises
    aelab.faults.TrainingInterrupted); with ``checkpointing.resume`` the run continues from the saved state
    and ends with the same weights as an uninterrupted one. A NaN/inf epoch loss restores the weights of
    the last good epoch, then raises FloatingPointError or, with ``settings.on_divergence ==
    "restore_halve_lr"``, halves the learning rate and trains the epoch again. A device out of memory
    raises aelab.faults.TrainingOutOfMemory naming a smaller batch size.
    """
    import warnings

    from aelab.acceleration import autocast, compiled_or_eager
    from aelab.checkpoints import TrainingState, restore_training, save_checkpoint, training_tensors
    from aelab.dense_step import dense_step_for
    from aelab.distributed import step_function
    from aelab.faults import (
        MAX_DIVERGENCE_RETRIES,
        TrainingInterrupted,
        TrainingOutOfMemory,
        divergence_message,
        is_out_of_memory,
        out_of_memory_message,
        stop_on_interrupt,
    )

    device = next(network.parameters()).device
    optimizer = make_optimizer(network.parameters(), settings, device)
    result = TrainingResult()
    n = len(X_train)
    batch_size = min(settings.batch_size, n)
    step_loss = compiled_or_eager(step_function(network, loss_fn, distributed), settings.compile)
    # plain dense ReLU autoencoders skip autograd: the same arithmetic, written out (aelab.dense_step); while
    # a compiled step has not run yet it stands by, to train as without compile=True if compiling fails
    dense_step = dense_step_for(network, loss_fn, settings.precision, False, distributed)
    standby = None
    if dense_step is not None and not getattr(step_loss, "settled", True):
        standby, dense_step = dense_step, None
    shard = distributed.shard if distributed is not None else None
    best_loss, best_state, since_best = math.inf, None, 0
    start_epoch, skip_batches, partial_total, finished = 0, 0, None, False
    if checkpointing is not None and checkpointing.resume:
        saved, best_state, partial_total = restore_training(checkpointing, network, optimizer, generator, loss_fn)
        result.history, result.epoch_seconds = saved.history, saved.epoch_seconds
        result.best_epoch, result.n_epochs, result.stopped_early = saved.best_epoch, saved.epoch, saved.stopped_early
        best_loss, since_best = saved.best_loss, saved.since_best
        start_epoch, skip_batches, finished = saved.epoch, saved.batches_done, saved.finished
    writes = checkpointing is not None and checkpointing.write

    def save(epoch: int, batches_done: int, shuffle_state: torch.Tensor, total=None, done: bool = False) -> None:
        tensors, groups = training_tensors(network, optimizer, shuffle_state, loss_fn, best_state, total)
        state = TrainingState(epoch=epoch, batches_done=batches_done, finished=done,
                              stopped_early=result.stopped_early, history=result.history,
                              epoch_seconds=result.epoch_seconds, best_epoch=result.best_epoch, best_loss=best_loss,
                              since_best=since_best, loss_step=int(getattr(loss_fn, "step", 0)),
                              optimizer_groups=groups, tensors=tensors)
        save_checkpoint(checkpointing.folder, state, checkpointing.config)

    graceful = checkpointing is not None and distributed is None
    interrupts = stop_on_interrupt() if graceful else contextlib.nullcontext(None)
    learning_rate, retries = settings.learning_rate, 0
    bar = _progress(settings)
    try:
        with interrupts as interrupt:
            epoch = start_epoch
            while epoch < settings.epochs and not finished:
                started = time.perf_counter()
                shuffle_state = generator.get_state()
                last_good = _network_state(network), copy.deepcopy(optimizer.state_dict())
                network.train()
                total = partial_total if partial_total is not None else torch.zeros((), device=device)
                batches = epoch_batches(X_train, batch_size, generator, shard)
                for index, (batch, rows, weight) in enumerate(batches):
                    if index < skip_batches:  # trained on before the run was interrupted
                        continue
                    try:
                        if dense_step is None:
                            random_state = _generator_state(loss_fn) if standby is not None else None
                            with autocast(settings.precision, device):
                                loss = step_loss(batch)
                            if standby is not None and step_loss.settled:
                                if step_loss.fell_back:  # take this step again, from the same random state
                                    _restore_generator(loss_fn, random_state)
                                    dense_step = standby
                                standby = None
                        if dense_step is not None:
                            loss = dense_step(batch)  # also writes every gradient
                        else:
                            optimizer.zero_grad(set_to_none=True)
                            (loss * weight if weight != 1.0 else loss).backward()
                        optimizer.step()
                    except RuntimeError as e:
                        if is_out_of_memory(e):
                            raise TrainingOutOfMemory(out_of_memory_message(settings.batch_size, device)) from None
                        raise
                    share = rows * weight / (distributed.world_size if distributed else 1)
                    total.add_(loss.detach().float(), alpha=share)
                    if interrupt is not None and interrupt.raised:
                        if writes:
                            save(epoch, index + 1, shuffle_state, total)
                        raise TrainingInterrupted(
                            f"training stopped by Ctrl-C in epoch {epoch + 1} after batch {index + 1}; the "
                            f"checkpoint in {checkpointing.folder} holds its state", checkpointing.folder)
                skip_batches, partial_total = 0, None
                if distributed is not None:
                    total = distributed.sum(total)
                train_loss = float(total) / n  # the epoch's one synchronisation with the device
                if not math.isfinite(train_loss):
                    network.load_state_dict(last_good[0])
                    optimizer.load_state_dict(last_good[1])
                    if settings.on_divergence == "restore_halve_lr" and retries < MAX_DIVERGENCE_RETRIES:
                        retries += 1
                        learning_rate /= 2
                        for group in optimizer.param_groups:
                            group["lr"] = learning_rate
                        warnings.warn(f"the training loss became {train_loss} at epoch {epoch + 1}; the weights "
                                      f"of epoch {epoch} are restored and the learning rate halved to "
                                      f"{learning_rate:g}", RuntimeWarning, stacklevel=2)
                        continue
                    raise FloatingPointError(divergence_message(train_loss, epoch + 1, learning_rate, retries))
                result.epoch_seconds.append(time.perf_counter() - started)
                result.history["train_loss"].append(train_loss)
                result.n_epochs = epoch + 1
                monitored = train_loss
                if X_validation is not None:
                    monitored = mean_loss(network, loss_fn, X_validation)
                    if distributed is not None:  # every rank takes the same early-stopping decision
                        monitored = distributed.mean(monitored)
                    result.history["validation_loss"].append(monitored)
                if monitored < best_loss - settings.tol:
                    best_loss, since_best, result.best_epoch = monitored, 0, epoch + 1
                    if X_validation is not None:
                        best_state = _network_state(network)
                else:
                    since_best += 1
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{train_loss:.4g}", val=f"{monitored:.4g}")
                epoch += 1
                if X_validation is not None and settings.patience is not None and since_best >= settings.patience:
                    result.stopped_early = True
                    break
                if writes and checkpointing.every and epoch % checkpointing.every == 0 and epoch < settings.epochs:
                    save(epoch, 0, generator.get_state())
            if writes and not finished:
                save(result.n_epochs, 0, generator.get_state(), done=True)
    finally:
        if bar is not None:
            bar.close()
    if best_state is not None:
        network.load_state_dict(best_state)
    network.eval()
    return result
