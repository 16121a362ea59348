"""What a training run does when something goes wrong: Ctrl-C, a diverging loss, the device out of memory."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

import torch

#: ``on_divergence`` values: stop with the last good weights, or restore them and halve the learning rate.
ON_DIVERGENCE = ("stop", "restore_halve_lr")
#: How many times ``on_divergence="restore_halve_lr"`` halves the learning rate before giving up.
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
    tried = f" (after halving the learning rate {retries} times)" if retries else ""
    return (f"the training loss became {loss} at epoch {epoch}{tried}; the weights of the last good epoch are kept. "
            f"Lower the learning rate (now {learning_rate:g}), check that the input is scaled (e.g. to [0, 1]), "
            "or pass on_divergence='restore_halve_lr' (--on-divergence restore_halve_lr)")


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
