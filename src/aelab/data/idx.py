"""Reader for the IDX format of MNIST and Fashion-MNIST (plain or gzip-compressed)."""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

# IDX type codes -> big-endian numpy dtypes.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_MAX_ELEMENTS = 2**34  # guards against absurd headers before any allocation


def _read_bytes(path: Path) -> bytes:
    with open(path, "rb") as f:
        head = f.read(2)
        f.seek(0)
        if head == b"\x1f\x8b":
            try:
                return gzip.decompress(f.read())
            except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
                raise ValueError(
                    f"{path} is not a readable gzip file ({e}); it is probably truncated: download it again"
                ) from None
        return f.read()


def parse_idx(raw: bytes, where: str = "IDX data") -> np.ndarray:
    """Decode the bytes of an IDX file into an array of its native shape.

    Raises ValueError naming what is wrong (magic number, dimensions or byte count).
    """
    if len(raw) < 4:
        raise ValueError(f"{where} is {len(raw)} bytes long, too short for an IDX header (4 bytes at least)")
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(
            f"{where} does not start with an IDX magic number (got {raw[:4].hex()}); "
            "pass an MNIST-style IDX file such as train-images-idx3-ubyte(.gz)"
        )
    dtype = _IDX_DTYPES[raw[2]]
    ndim = raw[3]
    if ndim == 0:
        raise ValueError(f"{where} declares 0 dimensions; an IDX file holds at least one")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{where} is truncated inside its header: {len(raw)} bytes for {ndim} dimensions")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    n_elements = int(np.prod(dims, dtype=np.int64)) if dims else 0
    if n_elements > _MAX_ELEMENTS:
        raise ValueError(f"{where} declares dimensions {dims}, too large to be a real data file")
    expected = header + n_elements * dtype.itemsize
    if len(raw) != expected:
        state = "truncated" if len(raw) < expected else "longer than its header says"
        raise ValueError(
            f"{where} is {state}: dimensions {dims} need {expected} bytes but the file has {len(raw)}; "
            "download the file again"
        )
    data = np.frombuffer(raw, dtype=dtype, count=n_elements, offset=header)
    return data.reshape(dims).astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (``.gz`` or plain) into a numpy array.

    Parameters
    ----------
    path : path-like
        An IDX file such as ``train-images-idx3-ubyte.gz``.

    Returns
    -------
    ndarray
        Images as (n, rows, cols), labels as (n,), in the file's element type.

    Examples
    --------
    >>> images = read_idx("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")  # doctest: +SKIP
    >>> images.shape  # doctest: +SKIP
    (10000, 28, 28)
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"IDX file {path} does not exist; check the data directory")
    return parse_idx(_read_bytes(path), where=str(path))


def find_idx_file(directory: Path, stem: str) -> Path | None:
    """The file for ``stem`` (e.g. ``train-images-idx3-ubyte``) in ``directory``, gzipped or plain."""
    for candidate in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        p = directory / candidate
        if p.is_file():
            return p
    return None
