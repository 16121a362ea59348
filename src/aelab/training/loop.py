"""The training loop: steps over shuffled batches, with callbacks around them."""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch
from torch import nn

from aelab.training.batches import LossFunction, epoch_batches, mean_loss
from aelab.training.callbacks import Callback, CallbackList, standard_callbacks
from aelab.training.faults import Divergence
from aelab.training.settings import TrainingResult, TrainingSettings, make_optimizer
from aelab.training.state import TrainingState
from aelab.training.steps import TrainingStep
from aelab.training.threads import CoreSharing, shares_cores


def train_network(network: nn.Module, loss_fn: LossFunction, X_train, X_validation, settings: TrainingSettings,
                  generator: torch.Generator, distributed=None, checkpointing=None,
                  callbacks: Sequence[Callback] = ()) -> TrainingResult:
    """Train ``network`` in place to minimise ``loss_fn(network, batch)`` and return its history.

    Each epoch draws one permutation on the device and slices it into batches (``X_train`` and
    ``X_validation`` are tensors on the device or streams, aelab.data.streaming); each batch is one
    ``TrainingStep`` and the loss is read from the device once per epoch. The validation loss is computed
    after each epoch. Callbacks (aelab.training.callbacks) keep the history, stop early and restore the best
    weights (after ``settings.patience`` epochs without validation improvement larger than
    ``settings.tol``), show progress, and, with ``checkpointing`` (aelab.training.checkpoints.Checkpointing),
    save and resume the run exactly and turn Ctrl-C into a checkpoint and TrainingInterrupted; the user's
    ``callbacks`` run among them; a CPU fit shares the cores with the other aelab fits running on the machine
    (aelab.training.threads). A NaN/inf epoch loss is handled as ``settings.on_divergence`` says
    (aelab.training.faults.Divergence). With ``distributed`` (aelab.training.distributed.DistributedContext)
    each process trains on its share of every global batch, the gradients are averaged over the processes,
    and the losses reported are those of all processes together.
    """
    device = next(network.parameters()).device
    if distributed is not None:
        distributed.broadcast_parameters(network)
    optimizer = make_optimizer(network.parameters(), settings, device)
    n, batch_size = len(X_train), min(settings.batch_size, len(X_train))
    state = TrainingState(settings, network, optimizer, loss_fn, generator, distributed, n_samples=n)
    step = TrainingStep(network, loss_fn, optimizer, settings, distributed)
    divergence = Divergence(settings.on_divergence, settings.learning_rate)
    if device.type == "cpu":  # two fits at once each take half the threads
        callbacks = [*callbacks, CoreSharing(adjust=shares_cores())]
    hooks = CallbackList(standard_callbacks(settings, X_validation is not None, checkpointing, distributed,
                                            callbacks))
    world_size, shard = (distributed.world_size, distributed.shard) if distributed is not None else (1, None)
    try:
        hooks.call("on_train_begin", state)
        while state.epoch < settings.epochs and not state.stop_training:
            started, state.shuffle_state = time.perf_counter(), generator.get_state()
            divergence.remember(state)
            hooks.call("on_epoch_begin", state)
            network.train()
            if state.epoch_total is None:
                state.epoch_total = torch.zeros((), device=device)
            for index, (batch, rows, weight) in enumerate(epoch_batches(X_train, batch_size, generator, shard)):
                if index < state.batch:  # trained on before the run was interrupted
                    continue
                state.loss = step(batch, weight)
                state.epoch_total.add_(state.loss.detach().float(), alpha=rows * weight / world_size)
                state.batch = index + 1
                hooks.call("on_batch_end", state)
            total = distributed.sum(state.epoch_total) if distributed is not None else state.epoch_total
            state.train_loss = float(total) / n  # the epoch's one synchronisation with the device
            state.batch, state.epoch_total = 0, None
            if not divergence.accept(state):  # the last good weights are back: train the epoch again
                continue
            state.seconds = time.perf_counter() - started
            state.validation_loss = None
            if X_validation is not None:
                state.validation_loss = mean_loss(network, loss_fn, X_validation)
                if distributed is not None:  # every rank takes the same early-stopping decision
                    state.validation_loss = distributed.mean(state.validation_loss)
            state.epoch += 1
            hooks.call("on_epoch_end", state)
    except BaseException as error:
        hooks.call("on_exception", state, error)
        raise
    hooks.call("on_train_end", state)
    network.eval()
    return state.result()
