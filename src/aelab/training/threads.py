"""Sharing the CPU cores among the aelab fits that run at once on one machine.

PyTorch's CPU kernels run on OpenMP threads that spin while they wait for each other. Two processes that
each use every core take turns on them, and each one's threads wait for its other threads that are not
running: on 2 cores, two fits at once each ran 7 to 9 times slower than one alone (docs/concurrency.md).
``CoreSharing`` registers a CPU fit in a folder of the user's temporary directory and, when training starts
and then about once a second, sets torch's intra-op threads to the fit's share of the threads it started
with: all of them while it runs alone, half of them beside one other fit. A fit alone keeps every thread.

A process whose ``OMP_NUM_THREADS`` is set chose its threads itself: its fits keep them, but still count
among the running fits, so the others make room for them (torchrun sets ``OMP_NUM_THREADS`` for each
process of a distributed fit). Fits on a GPU and other programs are not counted, and only POSIX systems share.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
import uuid
from pathlib import Path

import torch

from aelab.training.callbacks import Callback
from aelab.training.state import TrainingState

logger = logging.getLogger(__name__)

#: Seconds between two looks at the running fits.
CHECK_SECONDS = 1.0


def registry_folder() -> Path:
    """The folder holding one file per running CPU fit of this user (named ``PID.TOKEN``)."""
    return Path(tempfile.gettempdir()) / f"aelab-fits-{os.getuid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a process of another user holds the number: not one of ours, but alive
        return True
    return True


def running_fits(folder: Path) -> int:
    """How many fits are registered in ``folder`` by live processes; files of ended processes are removed."""
    count = 0
    for path in folder.iterdir():
        pid = path.name.split(".", 1)[0]
        if not pid.isdigit():
            continue
        if _alive(int(pid)):
            count += 1
        else:
            path.unlink(missing_ok=True)
    return count


def share_of(threads: int, fits: int) -> int:
    """The threads of one fit among ``fits`` that share ``threads``: at least one."""
    return max(1, threads // max(1, fits))


def shares_cores() -> bool:
    """Whether a CPU fit of this process shares the cores: not when ``OMP_NUM_THREADS`` fixes its threads."""
    return not os.environ.get("OMP_NUM_THREADS")


class CoreSharing(Callback):
    """Use this fit's share of the CPU threads among the aelab fits running on the machine (see the module).

    Parameters
    ----------
    adjust : bool, default=True
        Set this process's threads to its share; False only counts the fit for the others (a process whose
        ``OMP_NUM_THREADS`` is set).
    folder : path or None, default=None
        The registry of running fits; None: ``registry_folder()``.

    Examples
    --------
    >>> from aelab import Autoencoder
    >>> ae = Autoencoder(callbacks=[CoreSharing()])  # the loop adds one itself on the CPU; shown for the idea
    """

    def __init__(self, adjust: bool = True, folder: str | os.PathLike | None = None) -> None:
        self.adjust = adjust
        self.folder = Path(folder) if folder is not None else None
        self._entry: Path | None = None
        self._threads = self._checked = 0

    def on_train_begin(self, state: TrainingState) -> None:
        self._threads = torch.get_num_threads()
        if os.name != "posix":  # liveness is os.kill(pid, 0), which would end the process on Windows
            return
        if self.folder is None:
            self.folder = registry_folder()
        try:
            self.folder.mkdir(mode=0o700, exist_ok=True)
            entry = self.folder / f"{os.getpid()}.{uuid.uuid4().hex}"
            entry.touch()
        except OSError as error:  # a read-only or full temporary directory: train with every thread
            logger.debug("not sharing the cores with other fits: %s", error)
            return
        self._entry = entry
        if self.adjust:
            self._share()

    def on_batch_end(self, state: TrainingState) -> None:
        if self.adjust and self._entry is not None and time.monotonic() - self._checked >= CHECK_SECONDS:
            self._share()

    def on_train_end(self, state: TrainingState) -> None:
        if self._entry is None:
            return
        self._entry.unlink(missing_ok=True)
        self._entry = None
        torch.set_num_threads(self._threads)

    def on_exception(self, state: TrainingState, error: BaseException) -> None:
        self.on_train_end(state)

    def _share(self) -> None:
        self._checked = time.monotonic()
        try:
            threads = share_of(self._threads, running_fits(self.folder))
        except OSError as error:
            logger.debug("could not count the running fits: %s", error)
            return
        if threads != torch.get_num_threads():
            logger.debug("using %d of %d threads: %d fits share the cores", threads, self._threads,
                         self._threads // threads)
            torch.set_num_threads(threads)
