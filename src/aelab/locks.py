"""One writer per output folder: a lock file beside the folder, created exclusively and holding the writer's pid."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


def lock_path(folder: str | os.PathLike) -> Path:
    """The lock file of ``folder``: ``.<name>.lock`` in the same parent (it outlives the folder's rename)."""
    folder = Path(folder).absolute()
    return folder.parent / f".{folder.name}.lock"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def _holder(path: Path) -> int | None:
    """The pid written in a lock file, or None when it cannot be read (being written, or damaged)."""
    try:
        text = path.read_text(encoding="ascii").strip()
        return int(text) if text.isdigit() else None
    except (OSError, UnicodeDecodeError):
        return None


def busy_message(folder: str | os.PathLike, pid: int | None) -> str:
    """What to tell a user whose run would write into ``folder`` while process ``pid`` writes it."""
    path = lock_path(folder)
    who = f"process {pid}" if pid is not None else "another process"
    return (f"{folder} is being written by {who} (lock file {path}); wait for that run to finish or pass another "
            f"--out (if no such run exists, delete {path})")


def other_writer(folder: str | os.PathLike) -> int | None:
    """The pid of a living process other than this one that holds the lock of ``folder``, else None.

    A look without taking the lock, so that a check before the work can say who is writing the folder.
    """
    pid = _holder(lock_path(folder))
    if pid is None or pid == os.getpid() or not _pid_alive(pid):
        return None
    return pid


def acquire(folder: str | os.PathLike) -> Path:
    """Take the lock of ``folder`` for this process and return the lock file.

    The lock file is created with O_CREAT | O_EXCL, so of two processes only one gets it. A lock whose
    process has died (a run killed with SIGKILL) is taken over. Raises ValueError when a living process
    holds the lock.
    """
    path = lock_path(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(3):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            pid = _holder(path)
            if pid is None or pid == os.getpid() or _pid_alive(pid):
                raise ValueError(busy_message(folder, pid)) from None
            # the holder is dead: move its lock aside under a unique name; only one taker can succeed
            stale = path.with_name(f"{path.name}.stale-{os.getpid()}")
            try:
                os.replace(path, stale)
            except FileNotFoundError:
                continue
            if _holder(stale) != pid:  # another process took over in between: give its lock back
                with contextlib.suppress(OSError):
                    os.link(stale, path)
            with contextlib.suppress(OSError):
                os.unlink(stale)
            continue
        try:
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(f"{os.getpid()}\n")
                f.flush()
                os.fsync(f.fileno())
        except BaseException:  # (a full disk) an empty lock file would refuse every later run
            path.unlink(missing_ok=True)
            raise
        return path
    raise ValueError(f"could not take the lock {path} of {folder}; several runs are starting at once, try again")


def release(path: Path) -> None:
    """Remove a lock file this process holds."""
    if _holder(path) == os.getpid():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike) -> Iterator[Path]:
    """Hold the lock of ``folder`` for the block: concurrent runs writing there are refused, not interleaved.

    Examples
    --------
    >>> with folder_lock("runs/a"):  # doctest: +SKIP
    ...     write_run(outcome, "runs/a")
    """
    path = acquire(folder)
    try:
        yield path
    finally:
        release(path)
