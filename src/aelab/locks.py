"""One writer per output folder: a kernel file lock beside the folder, taken with ``filelock``.

The lock of ``runs/a`` is the file ``runs/.a.lock``, locked with ``flock`` (``LockFileEx`` on Windows)
through the ``filelock`` package. The kernel releases the lock when its process ends, however it ends, so
the lock of a run killed with SIGKILL never blocks the next one, and a run on another host sharing the disk
holds its lock for as long as it lives (where the file system passes locks between hosts, as NFS does). On
Unix the lock file stays in place when released, empty: removing it would let two processes lock two
different files of the same name. Who holds a lock is written beside it, in ``runs/.a.writer.json``
(process id and host), so that a refused run can say who is writing the folder.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from filelock import BaseFileLock, FileLock, Timeout

from aelab.io import atomic_write_json, read_json


def lock_path(folder: str | os.PathLike) -> Path:
    """The lock file of ``folder``: ``.<name>.lock`` in the same parent (it outlives the folder's rename)."""
    folder = Path(folder).absolute()
    return folder.parent / f".{folder.name}.lock"


def writer_path(folder: str | os.PathLike) -> Path:
    """The file naming the process that holds the lock of ``folder``: ``.<name>.writer.json`` beside it."""
    folder = Path(folder).absolute()
    return folder.parent / f".{folder.name}.writer.json"


def _writer(folder: str | os.PathLike) -> str:
    """Who holds the lock of ``folder``, as its writer file says: "process 123", with the host when it is
    another one, or "another process" when the file is missing or unreadable."""
    try:
        record = read_json(writer_path(folder), "")
        pid, host = record["pid"], record["host"]
    except (OSError, ValueError, TypeError, KeyError):
        return "another process"
    if not isinstance(pid, int) or isinstance(pid, bool):
        return "another process"
    return f"process {pid}" if host == socket.gethostname() else f"process {pid} on host {host}"


def busy_message(folder: str | os.PathLike, who: str) -> str:
    """What to tell a user whose run would write into ``folder`` while ``who`` (see ``other_writer``) writes it."""
    return (f"{folder} is being written by {who} (lock file {lock_path(folder)}); wait for that run to finish "
            "or pass another --out")


def acquire(folder: str | os.PathLike) -> BaseFileLock:
    """Take the lock of ``folder`` for this process, without waiting, and return it (held).

    Raises
    ------
    ValueError
        When another process, or another lock in this one, holds the lock; the message names the process.
    OSError
        When the lock file cannot be created (a read-only or full file system), as the file system says.
    """
    path = lock_path(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise ValueError(busy_message(folder, _writer(folder))) from None
    try:
        atomic_write_json(writer_path(folder), {"pid": os.getpid(), "host": socket.gethostname()})
    except BaseException:
        lock.release()
        raise
    return lock


def release(folder: str | os.PathLike, lock: BaseFileLock) -> None:
    """Release the lock of ``folder`` that ``acquire`` returned; the writer file goes first, while it is held."""
    try:
        writer_path(folder).unlink(missing_ok=True)
    finally:
        lock.release()


def other_writer(folder: str | os.PathLike) -> str | None:
    """Who holds the lock of ``folder`` when it is not this process ("process 123", see ``busy_message``),
    else None.

    A look that takes the lock for an instant when it is free and creates nothing, so that a check before the
    work can say who is writing the folder.
    """
    path = lock_path(folder)
    if not path.is_file():
        return None
    who = _writer(folder)
    if who == f"process {os.getpid()}":
        return None
    lock = FileLock(path, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        return who
    except OSError:  # a lock file that cannot be opened for writing (a read-only place): nobody writes there
        return None
    lock.release()
    return None


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike) -> Iterator[BaseFileLock]:
    """Hold the lock of ``folder`` for the block: concurrent runs writing there are refused, not interleaved.

    Examples
    --------
    >>> with folder_lock("runs/a"):  # doctest: +SKIP
    ...     write_run(outcome, "runs/a")
    """
    lock = acquire(folder)
    try:
        yield lock
    finally:
        release(folder, lock)
