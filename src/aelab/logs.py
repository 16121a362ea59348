"""How aelab talks while it works: every message goes to a logger under ``aelab`` (``logging.getLogger(__name__)``
in each module), and this module holds what the library, the jobs and the command line share about it.

- The library never configures logging. A program that wants aelab's lines configures it as usual, e.g.
  ``logging.basicConfig(level=logging.INFO)``; ``Autoencoder(verbose=1)`` alone still shows its progress, by
  attaching a standard-error handler to the ``aelab`` logger for the fit when no handler is configured at all
  (``visible_logging``), as several libraries do.
- The command line shows INFO lines on standard error (WARNING and above with ``--quiet``:
  ``command_line_logging``), and each job keeps every line, DEBUG included, in the ``log.txt`` of the folder it
  writes (``recording``, ``RunLog``).
- A stage of a job (pretraining, UMAP, one method of a comparison, one cell of a study) is logged when it
  starts and with its time when it ends (``stage``).

Examples
--------
>>> import logging
>>> logging.basicConfig(level=logging.INFO, format="%(message)s")  # doctest: +SKIP
>>> Autoencoder(epochs=3).fit(X)  # doctest: +SKIP
epoch 1/3: loss 0.0712, validation loss 0.0654, 41,230 samples/s, 0.1 s left
...
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Iterator

#: The logger every aelab logger descends from.
LOGGER = "aelab"
#: The line format of a run folder's log.txt.
RECORD_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
RECORD_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``count`` and the noun, singular for 1.

    Examples
    --------
    >>> plural(1, "epoch"), plural(3, "epoch"), plural(2, "batch", "batches")
    ('1 epoch', '3 epochs', '2 batches')
    """
    return f"{count:,} {noun if count == 1 else (nouns or noun + 's')}"


def duration(seconds: float) -> str:
    """Seconds as a person reads them: tenths below 10 s, then seconds, minutes and hours.

    Examples
    --------
    >>> duration(3.24), duration(42.6), duration(125), duration(7384)
    ('3.2 s', '43 s', '2 min 05 s', '2 h 03 min')
    """
    if seconds < 9.95:
        return f"{seconds:.1f} s"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class Stage:
    """The record of one ``stage``: its description and, once it has ended, its wall-clock ``seconds``."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.seconds = 0.0


@contextlib.contextmanager
def stage(logger: logging.Logger, what: str) -> Iterator[Stage]:
    """Log ``what ...`` at INFO, run the block, and log ``what took N s``; the block's time is ``.seconds``.

    Examples
    --------
    >>> with stage(logging.getLogger("aelab.cluster_runs"), "pretraining the autoencoder") as pretraining:
    ...     autoencoder.fit(X)  # doctest: +SKIP
    >>> pretraining.seconds  # doctest: +SKIP
    41.3
    """
    record = Stage(what)
    logger.info("%s ...", what, stacklevel=3)  # the records name the line of the ``with``, past contextlib
    started = time.perf_counter()
    yield record
    record.seconds = time.perf_counter() - started
    logger.info("%s took %s", what, duration(record.seconds), stacklevel=3)


class CommandLineFormatter(logging.Formatter):
    """Progress as the bare message; a warning or worse after ``aelab: `` as the command line's errors are."""

    def format(self, record: logging.LogRecord) -> str:
        message = super().format(record)
        return f"aelab: {message}" if record.levelno >= logging.WARNING else message


class RunLog(logging.Handler):
    """Keeps the formatted lines (``RECORD_FORMAT``) of every record it handles; ``text()`` is a log.txt."""

    def __init__(self, level: int = logging.DEBUG) -> None:
        super().__init__(level)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter(RECORD_FORMAT, RECORD_DATE_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # noqa: BLE001 - logging's own contract: a bad record must not stop the job
            self.handleError(record)

    def text(self) -> str:
        """The lines so far, one per line."""
        return "".join(line + "\n" for line in self.lines)


@contextlib.contextmanager
def _attached(handler: logging.Handler, level: int) -> Iterator[logging.Handler]:
    """``handler`` on the ``aelab`` logger, which passes records of ``level`` and above, for the block."""
    logger = logging.getLogger(LOGGER)
    previous = logger.level
    if logger.getEffectiveLevel() > level:
        logger.setLevel(level)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


@contextlib.contextmanager
def recording() -> Iterator[RunLog]:
    """Keep every aelab record (DEBUG and up) of the block in a ``RunLog``, to be written as a folder's log.txt.

    Examples
    --------
    >>> with recording() as log:
    ...     logging.getLogger("aelab.runs").info("fitting")
    >>> log.lines[0].endswith("INFO aelab.runs: fitting")
    True
    """
    with _attached(RunLog(), logging.DEBUG) as handler:
        yield handler


@contextlib.contextmanager
def command_line_logging(quiet: bool = False, stream=None) -> Iterator[None]:
    """What the ``aelab`` command shows on standard error (``stream``) for the block: INFO and up, or
    WARNING and up when ``quiet``. Only the ``aelab`` logger is configured, never the root logger."""
    handler = logging.StreamHandler(sys.stderr if stream is None else stream)
    handler.setLevel(logging.WARNING if quiet else logging.INFO)
    handler.setFormatter(CommandLineFormatter())
    with _attached(handler, logging.DEBUG):
        yield


@contextlib.contextmanager
def visible_logging() -> Iterator[None]:
    """For the block, show aelab's INFO lines on standard error if logging is not configured at all (no
    handler on the ``aelab`` logger nor above it); a configured logging is left alone.

    This is how ``verbose=1`` shows its progress in a script that never configures logging.
    """
    if logging.getLogger(LOGGER).hasHandlers():
        yield
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(CommandLineFormatter())
    with _attached(handler, logging.INFO):
        yield
