"""What a training run does when something goes wrong: Ctrl-C, a diverging loss, the device out of memory."""

from __future__ import annotations

import contextlib
import copy
import math
import signal
import threading
import warnings
from collections.abc import Iterator

import torch

#: How many times ``on_divergence="restore-halve-lr"`` halves the learning rate before giving up.
MAX_DIVERGENCE_RETRIES = 4


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on Ctrl-C after a batch; ``checkpoint`` is the folder it was saved to (or None)."""

    def __init__(self, message: str, checkpoint=None) -> None:
        super().__init__(message)
        self.checkpoint = checkpoint


class TrainingOutOfMemory(MemoryError):
    """The device ran out of memory during a training step; the message names the batch size to try."""


class InterruptFlag:
    """Set by the first SIGINT; the training loop checks it between batches."""

    def __init__(self) -> None:
        self.raised = False


@contextlib.contextmanager
def stop_on_interrupt() -> Iterator[InterruptFlag]:
    """Within the block, a first Ctrl-C (SIGINT) only sets the returned flag, so the loop can finish its batch
    and save; a second one interrupts at once. Outside the main thread nothing is changed."""
    flag = InterruptFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        if flag.raised:
            raise KeyboardInterrupt
        flag.raised = True

    signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def divergence_message(loss: float, epoch: int, learning_rate: float, retries: int = 0) -> str:
    """Why training stopped on a NaN/inf loss and what to change."""
    tried = f" (after halving the learning rate {'once' if retries == 1 else f'{retries} times'})" if retries else ""
    return (f"the training loss became {loss} at epoch {epoch}{tried}; the weights of the last good epoch are kept. "
            f"Lower the learning rate (now {learning_rate:g}), check that the input is scaled (e.g. to [0, 1]), "
            "or pass on_divergence='restore-halve-lr' (--on-divergence restore-halve-lr)")


class Divergence:
    """What the training loop does with a NaN or infinite epoch loss (``settings.on_divergence``).

    ``remember(state)`` at the start of each epoch keeps the weights and the optimizer's state;
    ``accept(state)`` at its end returns True for a finite loss. For any other it restores what was kept,
    then raises FloatingPointError (``"stop"``) or, for ``"restore-halve-lr"``, halves the learning rate
    (at most ``MAX_DIVERGENCE_RETRIES`` times, with a RuntimeWarning) and returns False: the loop trains
    the epoch again.
    """

    def __init__(self, on_divergence: str, learning_rate: float) -> None:
        self.on_divergence = on_divergence
        self.learning_rate = learning_rate
        self.retries = 0
        self._last_good = None

    def remember(self, state) -> None:
        weights = {name: t.detach().clone() for name, t in state.network.state_dict().items()}
        self._last_good = weights, copy.deepcopy(state.optimizer.state_dict())

    def accept(self, state) -> bool:
        loss, epoch = state.train_loss, state.epoch + 1
        if math.isfinite(loss):
            return True
        state.network.load_state_dict(self._last_good[0])
        state.optimizer.load_state_dict(self._last_good[1])
        if self.on_divergence != "restore-halve-lr" or self.retries >= MAX_DIVERGENCE_RETRIES:
            raise FloatingPointError(divergence_message(loss, epoch, self.learning_rate, self.retries))
        self.retries += 1
        self.learning_rate /= 2
        for group in state.optimizer.param_groups:
            group["lr"] = self.learning_rate
        warnings.warn(f"the training loss became {loss} at epoch {epoch}; the weights of epoch {epoch - 1} are "
                      f"restored and the learning rate halved to {self.learning_rate:g}", RuntimeWarning,
                      stacklevel=3)
        return False


def is_out_of_memory(error: BaseException) -> bool:
    """True for CUDA's OutOfMemoryError and for the RuntimeError other devices raise when memory runs out."""
    oom = getattr(torch.cuda, "OutOfMemoryError", None)
    if oom is not None and isinstance(error, oom):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


def out_of_memory_message(batch_size: int, device) -> str:
    """The batch size that failed and one to try instead."""
    smaller = max(batch_size // 2, 1)
    return (f"the device ({device}) ran out of memory training a batch of {batch_size} rows; pass a smaller batch "
            f"size, e.g. batch_size={smaller} (--batch-size {smaller})")
