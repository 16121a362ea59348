"""File primitives every other module writes and reads through: atomic writes and checked JSON.

A file aelab writes is either complete or untouched: it is written under a temporary name in the same
folder, synced, and renamed over the target (``atomic_path``, and ``atomic_write_bytes`` and friends on top
of it). A JSON file aelab reads goes through ``read_json``, whose errors name the file and say what to do.
This module imports nothing of aelab, so that every layer can use it.

Examples
--------
>>> from aelab.io import atomic_write_json, read_json
>>> atomic_write_json("out/metrics.json", {"mse": 0.01})  # doctest: +SKIP
>>> read_json("out/metrics.json", "write the file again")  # doctest: +SKIP
{'mse': 0.01}
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

#: The deepest nesting of arrays and objects accepted in a JSON file aelab reads; its own files nest 4 deep.
MAX_JSON_DEPTH = 32


# ------------------------------------------------------------------ atomic writes
def _sync_folder(folder: Path) -> None:
    """Sync a folder's entries: a rename inside it survives a power cut only once the folder is synced."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # a platform whose folders cannot be opened (Windows)
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path to write ``path`` through: renamed to ``path`` when the block ends, removed on error.

    The temporary file, ``.<name>.<random>.tmp``, lies in the same folder (created if needed), so the rename
    is atomic. The block writes the file by any means (a memory map, appends chunk by chunk); the file is
    synced before the rename.

    Parameters
    ----------
    path : path-like
        The file to write.

    Yields
    ------
    Path
        Where the block writes the file's content.

    Examples
    --------
    >>> with atomic_path("out/codes.npy") as tmp:  # doctest: +SKIP
    ...     np.save(tmp, codes)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` in one piece: ``path`` is either the new content or what it was before.

    The file is created with the usual permissions (0666 less the umask), as ``open`` would.

    Examples
    --------
    >>> atomic_write_bytes("out/model.safetensors", data)  # doctest: +SKIP
    """
    with atomic_path(path) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as f:
            f.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` as UTF-8, in one piece (see ``atomic_write_bytes``)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, record: Any) -> None:
    """Write ``record`` to ``path`` as indented JSON, in one piece (see ``atomic_write_bytes``).

    Pass the record through ``json_safe`` first when it may hold NumPy values or tuples.
    """
    atomic_write_text(path, json.dumps(record, indent=2, sort_keys=False) + "\n")


# ------------------------------------------------------------------ JSON values
def json_safe(value: Any) -> Any:
    """``value`` with what JSON cannot hold turned into what it can, recursively.

    Tuples and arrays become lists, NumPy scalars Python numbers, mapping keys strings, NaN and infinities
    None (JSON has no such numbers), and a ``numpy.random.RandomState`` None (a generator's state is not a
    setting worth storing).

    Examples
    --------
    >>> json_safe({"hidden": (64, 32), "beta": np.float32(0.5), 1: float("nan")})
    {'hidden': [64, 32], 'beta': 0.5, '1': None}
    """
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.random.RandomState):
        return None
    return value


def _json_depth(value: Any) -> int:
    """How deeply arrays and objects nest in ``value`` (0 for a number or string), counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        if depth > MAX_JSON_DEPTH:
            break
        stack.extend((child, depth + 1) for child in children)
    return deepest


def read_json(path: str | os.PathLike, fix: str) -> Any:
    """The JSON value in the file ``path``: every model, checkpoint, run and job file aelab reads goes through here.

    Parameters
    ----------
    path : path-like
        The file, UTF-8 JSON text.
    fix : str
        What the user should do when the file cannot be read, appended to the message.

    Raises
    ------
    ValueError
        Naming the file, when it is not UTF-8 JSON, nests arrays and objects deeper than ``MAX_JSON_DEPTH``
        (which would exhaust Python's recursion limit) or holds an integer longer than Python converts
        (``sys.get_int_max_str_digits``). ``OSError`` from reading the file is raised as it is.

    Examples
    --------
    >>> read_json("run/model.json", "the model folder is damaged")  # doctest: +SKIP
    """
    path = Path(path)
    data = path.read_bytes()
    try:
        value = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 JSON text; {fix}") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON ({e}); {fix}") from None
    except RecursionError:
        raise ValueError(f"{path} nests arrays or objects more than {MAX_JSON_DEPTH} deep; {fix}") from None
    except ValueError as e:  # an integer longer than sys.get_int_max_str_digits()
        raise ValueError(f"{path} holds a number too long to read ({e}); {fix}") from None
    if _json_depth(value) > MAX_JSON_DEPTH:
        raise ValueError(f"{path} nests arrays or objects more than {MAX_JSON_DEPTH} deep; {fix}")
    return value
