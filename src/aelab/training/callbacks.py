"""Callbacks: what the training loop calls around its steps, built in (history, early stopping, progress,
checkpoints, Ctrl-C) or written by users.

A callback is an object with any of the hooks of ``Callback``; each hook receives the loop's
``TrainingState`` (aelab.training.state) and may read it, change the network or the optimizer, or set
``state.stop_training``. The loop calls the hooks in this order::

    on_train_begin
    for each epoch:  on_epoch_begin, on_batch_end after each batch, on_epoch_end
    on_train_end     (or on_exception, when training stops on an exception)

The callbacks of ``Autoencoder(callbacks=[...])`` run after the history and early stopping, and before
the progress and the checkpoint, which therefore see a stop they ask for.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Sequence

from aelab import logs
from aelab.training import faults
from aelab.training.checkpoints import Checkpointing, checkpoint_state, restore_training, save_checkpoint
from aelab.training.state import TrainingState

logger = logging.getLogger(__name__)

HOOKS = ("on_train_begin", "on_epoch_begin", "on_batch_end", "on_epoch_end", "on_train_end", "on_exception")


class Callback:
    """The base class of training callbacks: every hook does nothing; override the ones you need.

    Hooks receive the loop's ``TrainingState``: ``state.epoch`` (epochs completed), ``state.batch``,
    ``state.loss`` (the last batch's loss tensor), ``state.train_loss`` and ``state.validation_loss`` (the
    last epoch's), ``state.history``, ``state.network``, ``state.optimizer``. Setting
    ``state.stop_training = True`` ends training after the current epoch. Callbacks are parameters of the
    estimator: ``clone`` copies them, and they are not saved with a model. In a distributed run every process
    calls them; ``state.train_loss`` and ``state.validation_loss`` are those of all processes together.

    Examples
    --------
    Record the learning rate of every epoch, and stop once the training loss is below 0.01:

    >>> class LearningRates(Callback):
    ...     def on_train_begin(self, state):
    ...         self.rates = []
    ...     def on_epoch_end(self, state):
    ...         self.rates.append(state.optimizer.param_groups[0]["lr"])
    ...         if state.train_loss < 0.01:
    ...             state.stop_training = True
    """

    def on_train_begin(self, state: TrainingState) -> None:
        """Before the first epoch (after a resumed run's state is restored, for callbacks after Checkpoint)."""

    def on_epoch_begin(self, state: TrainingState) -> None:
        """At the start of epoch ``state.epoch + 1``."""

    def on_batch_end(self, state: TrainingState) -> None:
        """After the optimizer step on batch ``state.batch`` of epoch ``state.epoch + 1``."""

    def on_epoch_end(self, state: TrainingState) -> None:
        """After epoch ``state.epoch`` and its validation loss; set ``state.stop_training`` to stop here."""

    def on_train_end(self, state: TrainingState) -> None:
        """After the last epoch."""

    def on_exception(self, state: TrainingState, error: BaseException) -> None:
        """When training stops on ``error`` (then raised again); clean up here."""


def check_callbacks(callbacks) -> list[Callback]:
    """``callbacks`` as a list; TypeError unless it is None or a list or tuple of Callback instances."""
    if callbacks is None:
        return []
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"callbacks must be a list of aelab.training.Callback instances, got {callbacks!r}; "
                        "pass callbacks=[MyCallback()]")
    wrong = [c for c in callbacks if not isinstance(c, Callback)]
    if wrong:
        raise TypeError(f"callbacks must be aelab.training.Callback instances, got {wrong[0]!r}; subclass "
                        "aelab.training.Callback and override its hooks")
    return list(callbacks)


class CallbackList:
    """Calls one hook on each callback in turn."""

    def __init__(self, callbacks: Sequence[Callback]) -> None:
        self.callbacks = list(callbacks)

    def call(self, hook: str, *args) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(*args)


class History(Callback):
    """Appends each epoch's losses and training seconds to ``state.history`` and ``state.epoch_seconds``."""

    def on_epoch_end(self, state: TrainingState) -> None:
        state.epoch_seconds.append(state.seconds)
        state.history["train_loss"].append(state.train_loss)
        if state.validation_loss is not None:
            state.history["validation_loss"].append(state.validation_loss)


class EarlyStopping(Callback):
    """Keeps the best epoch and stops after ``patience`` epochs without an improvement larger than ``tol``.

    The validation loss is monitored when there is one, the training loss otherwise. Its record
    (``state.best_epoch``, ``best_loss``, ``since_best``, ``best_weights``) lives in the state, so that a
    checkpoint saves it; one EarlyStopping keeps it (one passed to the loop replaces the settings' own).
    With ``restore_best_weights`` the best epoch's weights are kept and put back at the end of training.

    Parameters
    ----------
    patience : int or None, default=10
        None never stops.
    tol : float, default=0.0
    restore_best_weights : bool, default=True
    """

    def __init__(self, patience: int | None = 10, tol: float = 0.0, restore_best_weights: bool = True) -> None:
        self.patience = patience
        self.tol = tol
        self.restore_best_weights = restore_best_weights

    def on_epoch_end(self, state: TrainingState) -> None:
        monitored = state.validation_loss if state.validation_loss is not None else state.train_loss
        if monitored < state.best_loss - self.tol:
            state.best_loss, state.since_best, state.best_epoch = monitored, 0, state.epoch
            if self.restore_best_weights:
                state.best_weights = {k: t.detach().clone() for k, t in state.network.state_dict().items()}
        else:
            state.since_best += 1
        if self.patience is not None and state.since_best >= self.patience:
            state.stop_training = state.stopped_early = True

    def on_train_end(self, state: TrainingState) -> None:
        if self.restore_best_weights and state.best_weights is not None:
            state.network.load_state_dict(state.best_weights)


class Progress(Callback):
    """The progress of the epochs: a tqdm bar on a terminal or in a notebook, one log line per epoch otherwise.

    Each epoch's line (``epoch 3/20: loss 0.0412, validation loss 0.0398, 51,200 samples/s, 12 s left``) and
    the line at the end of training go to the logger ``aelab.training.callbacks``: at INFO with ``verbose=1``
    when no bar is shown, at DEBUG otherwise (a bar shows the same numbers; with ``verbose=0`` only a handler
    that keeps DEBUG lines, such as a run folder's log.txt, sees them). With ``verbose=1`` and logging not
    configured at all, the lines go to standard error for the fit (aelab.logs.visible_logging).

    Parameters
    ----------
    verbose : int, default=1
        0 shows nothing; 1 shows the bar or the lines.
    """

    def __init__(self, verbose: int = 1) -> None:
        self.verbose = verbose
        self._bar = None
        self._shown: contextlib.ExitStack | None = None
        self._started = 0.0
        self._epochs_run = 0

    def on_train_begin(self, state: TrainingState) -> None:
        self._started, self._epochs_run = time.perf_counter(), 0
        self._shown = contextlib.ExitStack()
        if self.verbose > 0:
            self._shown.enter_context(logs.visible_logging())

    def on_epoch_begin(self, state: TrainingState) -> None:
        if self._bar is None and self.verbose > 0 and interactive(sys.stderr):
            from tqdm.auto import tqdm

            # created here, not at the start: a resumed run's state is restored by then
            self._bar = tqdm(total=state.settings.epochs, initial=state.epoch, unit="epoch", leave=False,
                             file=sys.stderr)

    def on_epoch_end(self, state: TrainingState) -> None:
        self._epochs_run += 1
        elapsed = time.perf_counter() - self._started
        seconds_left = elapsed / self._epochs_run * (state.settings.epochs - state.epoch)
        if self._bar is not None:
            self._bar.update(1)
            postfix = {"loss": f"{state.train_loss:.4g}"}
            if state.validation_loss is not None:
                postfix["val"] = f"{state.validation_loss:.4g}"
            self._bar.set_postfix(postfix)
        logger.log(self._level(), "%s", epoch_line(state, seconds_left))

    def on_train_end(self, state: TrainingState) -> None:
        self._close()  # the bar leaves no trace: the closing line is shown as a line
        if self._epochs_run:
            elapsed = logs.duration(time.perf_counter() - self._started)
            stop = f"stopped early after epoch {state.epoch} of {state.settings.epochs}" if state.stopped_early \
                else f"trained {logs.plural(state.epoch, 'epoch')}"
            best = f", best epoch {state.best_epoch}" if state.best_epoch else ""
            logger.log(self._level(), "%s in %s%s", stop, elapsed, best)
        self._release()

    def on_exception(self, state: TrainingState, error: BaseException) -> None:
        self._close()
        self._release()

    def _level(self) -> int:
        return logging.INFO if self.verbose > 0 and self._bar is None else logging.DEBUG

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _release(self) -> None:
        if self._shown is not None:
            self._shown.close()
            self._shown = None


def interactive(stream) -> bool:
    """Whether ``stream`` is a terminal, or the process runs a Jupyter kernel: where a bar can redraw itself."""
    if getattr(stream, "isatty", lambda: False)():
        return True
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def epoch_line(state: TrainingState, seconds_left: float) -> str:
    """One epoch's progress: its number of all, its losses, its speed and the time the rest should take.

    Examples
    --------
    ``epoch 3/20: loss 0.04123, validation loss 0.03987, 51,200 samples/s, 12 s left``
    """
    parts = [f"loss {state.train_loss:.4g}"]
    if state.validation_loss is not None:
        parts.append(f"validation loss {state.validation_loss:.4g}")
    if state.seconds > 0:
        parts.append(f"{state.n_samples / state.seconds:,.0f} samples/s")
    if state.epoch < state.settings.epochs and not state.stop_training:
        parts.append(f"{logs.duration(seconds_left)} left")
    return f"epoch {state.epoch}/{state.settings.epochs}: {', '.join(parts)}"


class Checkpoint(Callback):
    """Saves the run's whole state (aelab.training.checkpoints) and, with ``checkpointing.resume``, starts
    from the saved one, so that the run ends with the weights of an uninterrupted one.

    A checkpoint is written every ``checkpointing.every`` epochs and after the last one (the last epoch, or
    a stop); ``save(state, mid_epoch=True)`` writes one after the current batch (see Interrupt).
    """

    def __init__(self, checkpointing: Checkpointing) -> None:
        self.checkpointing = checkpointing

    def save(self, state: TrainingState, mid_epoch: bool = False, finished: bool = False) -> None:
        if self.checkpointing.write:
            save_checkpoint(self.checkpointing.folder, checkpoint_state(state, mid_epoch, finished),
                            self.checkpointing.config)

    def on_train_begin(self, state: TrainingState) -> None:
        if self.checkpointing.resume and restore_training(self.checkpointing, state):
            state.stop_training = True  # the saved run had finished: nothing more to train or save

    def on_epoch_end(self, state: TrainingState) -> None:
        every = self.checkpointing.every
        if state.stop_training or state.epoch >= state.settings.epochs:
            self.save(state, finished=True)
        elif every and state.epoch % every == 0:
            self.save(state)


class Interrupt(Callback):
    """Ctrl-C: the first SIGINT lets the current batch finish, saves a checkpoint after it and raises
    aelab.training.faults.TrainingInterrupted; a second one interrupts at once."""

    def __init__(self, checkpoint: Checkpoint) -> None:
        self.checkpoint = checkpoint
        self._handler = None
        self._flag = None

    def on_train_begin(self, state: TrainingState) -> None:
        self._handler = contextlib.ExitStack()
        self._flag = self._handler.enter_context(faults.stop_on_interrupt())

    def on_batch_end(self, state: TrainingState) -> None:
        if self._flag is not None and self._flag.raised:
            self.checkpoint.save(state, mid_epoch=True)
            folder = self.checkpoint.checkpointing.folder
            raise faults.TrainingInterrupted(
                f"training stopped by Ctrl-C in epoch {state.epoch + 1} after batch {state.batch}; the "
                f"checkpoint in {folder} holds its state", folder)

    def on_train_end(self, state: TrainingState) -> None:
        if self._handler is not None:
            self._handler.close()
            self._handler = self._flag = None

    def on_exception(self, state: TrainingState, error: BaseException) -> None:
        self.on_train_end(state)


def standard_callbacks(settings, validation: bool, checkpointing: Checkpointing | None, distributed,
                       callbacks: Sequence[Callback] = ()) -> list[Callback]:
    """The loop's callbacks: history, early stopping, the user's, progress (at ``settings.verbose``),
    checkpoint and Ctrl-C.

    The settings' early stopping watches the validation loss (``settings.patience``, ``settings.tol``);
    without validation data it only keeps the best epoch of the training loss and neither stops nor
    restores weights. An EarlyStopping among ``callbacks`` takes its place. The checkpoint of a distributed
    run is written by rank 0 alone, and Ctrl-C is left to torchrun there.
    """
    chosen: list[Callback] = [History()]
    if not any(isinstance(c, EarlyStopping) for c in callbacks):
        chosen.append(EarlyStopping(settings.patience if validation else None, settings.tol,
                                    restore_best_weights=validation))
    chosen.extend(callbacks)
    chosen.append(Progress(settings.verbose))
    if checkpointing is not None:
        checkpoint = Checkpoint(checkpointing)
        chosen.append(checkpoint)
        if distributed is None:
            chosen.append(Interrupt(checkpoint))
    return chosen
