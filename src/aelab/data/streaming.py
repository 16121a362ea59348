"""Data larger than memory: rows of a .npy or Parquet file read block by block, in bounded memory.

A ``StreamingSource`` never holds more than a few blocks: training visits the blocks in a random order
and shuffles the rows inside a buffer of ``buffer_blocks`` blocks (deterministic given the seed), so the
order is random at two scales without ever loading the file. A .npy file is cut into blocks of
``block_rows`` rows and read with plain file reads (not a memory map, whose pages would stay in the
process's resident memory once touched); a Parquet file's blocks are its row groups.

Examples
--------
>>> from aelab import Autoencoder
>>> from aelab.data.streaming import StreamingSource
>>> source = StreamingSource("big.npy")                          # doctest: +SKIP
>>> source = source.with_scaling(source.minmax(per_feature=False))  # doctest: +SKIP
>>> Autoencoder(n_components=32).fit(source)                    # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from aelab.data.dataset import bad_values, first_bad_value
from aelab.data.files import LABEL_COLUMN_NAMES
from aelab.data.preprocessing import MinMaxScaling
from aelab.extras import import_optional
from aelab.io import atomic_path

#: Default block size of a .npy file, in bytes of the file's rows.
BLOCK_BYTES = 16 * 2**20
MIN_BLOCKS = 32
STREAM_SUFFIXES = (".npy", ".parquet", ".pq")


@dataclass(frozen=True)
class _Layout:
    """Where a file's rows are and how they are cut into blocks."""

    kind: str                       # "npy" or "parquet"
    n_rows: int
    sample_shape: tuple[int, ...]
    block_starts: tuple[int, ...]   # first row of each block, plus the total at the end
    dtype: np.dtype | None = None   # npy: the stored values' type
    offset: int = 0                 # npy: bytes before the first row
    feature_columns: tuple[str, ...] = ()  # parquet
    label_column: str | None = None        # parquet

    @property
    def n_features(self) -> int:
        return int(np.prod(self.sample_shape))


def _npy_layout(path: Path, block_rows: int | None) -> _Layout:
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, fortran_order, dtype = read_header(f)
            offset = f.tell()
    except (ValueError, OSError, EOFError) as e:
        raise ValueError(f"{path} is not a .npy array ({e}); save it with numpy.save") from None
    if fortran_order:
        raise ValueError(f"{path} is stored in Fortran (column) order, which cannot be read by rows; save it "
                         "again with numpy.save(path, numpy.ascontiguousarray(X))")
    if dtype.kind not in "biuf" or dtype.hasobject:
        raise ValueError(f"{path} holds values of type {dtype}; only numeric arrays can be streamed")
    if len(shape) >= 2 and shape[0] == 0:
        raise ValueError(f"{path} holds no rows (an array of shape {shape}); pass a file with one sample per row")
    if len(shape) < 2:
        raise ValueError(f"{path} holds an array of shape {shape}; samples must be rows (n_samples, n_features) "
                         "or images (n_samples, H, W) / (n_samples, C, H, W)")
    sample_shape = tuple(int(d) for d in shape[1:])
    row_bytes = int(np.prod(sample_shape)) * dtype.itemsize
    if os.path.getsize(path) < offset + shape[0] * row_bytes:
        raise ValueError(f"{path} is shorter than its header says ({shape[0]} rows); the file is truncated")
    # about 16 MiB per block, but at least MIN_BLOCKS blocks, so that whole blocks can be held out
    rows = block_rows or max(1, min(BLOCK_BYTES // row_bytes, int(shape[0]) // MIN_BLOCKS))
    starts = tuple(range(0, shape[0], rows)) + (int(shape[0]),)
    return _Layout("npy", int(shape[0]), sample_shape, starts, dtype=dtype, offset=offset)


def _parquet_layout(path: Path, label_column: str | None) -> _Layout:
    pa = import_optional("pyarrow", "reading Parquet")
    pq = import_optional("pyarrow.parquet", "reading Parquet")

    try:
        metadata = pq.ParquetFile(path).metadata
        schema = metadata.schema.to_arrow_schema()
    except (pa.ArrowException, OSError) as e:
        raise ValueError(f"{path} could not be read as Parquet ({e}); the file is probably damaged") from None
    names = list(schema.names)
    if label_column is None:
        label_column = next((c for c in names if c.lower() in LABEL_COLUMN_NAMES), None)
    elif label_column not in names:
        raise ValueError(f"label column '{label_column}' is not in {path}; its columns are {names[:20]}")
    features = [c for c in names if c != label_column]
    for name in features:
        kind = schema.field(name).type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
            raise ValueError(f"column '{name}' of {path} is {kind}, not numeric; convert it to numbers or drop it")
    if not features:
        raise ValueError(f"{path} has no feature columns besides the labels")
    sizes = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
    if sum(sizes) == 0:
        raise ValueError(f"{path} holds no rows of data")
    starts = tuple(int(s) for s in np.concatenate([[0], np.cumsum(sizes)]))
    return _Layout("parquet", int(sum(sizes)), (len(features),), starts, feature_columns=tuple(features),
                   label_column=label_column)


@dataclass
class StreamingSource:
    """The rows of a .npy or Parquet file, read a block at a time; what ``Autoencoder.fit`` streams from.

    Parameters
    ----------
    path : path-like
        A .npy file of shape (n_samples, n_features), (n_samples, H, W) or (n_samples, C, H, W), or a
        Parquet file whose numeric columns are the features.
    block_rows : int or None, default=None
        Rows per block of a .npy file; None gives blocks of about 16 MiB, smaller for files of fewer than
        32 such blocks so that there are 32. A Parquet file's blocks are its row groups (write it with
        ``row_group_size`` to choose).
    buffer_blocks : int, default=4
        Blocks held at once while shuffling for training: the memory bound is about ``buffer_blocks + 1``
        blocks.
    label_column : str or None, default=None
        For Parquet: the column holding labels, left out of the features (default: one named
        label/labels/y/target/class).
    scaling : MinMaxScaling or None, default=None
        Applied to every block as it is read (see ``minmax`` and ``with_scaling``).
    blocks : tuple of int or None, default=None
        Only these blocks (a part of the file, see ``split``); None: all of them.
    """

    path: str | os.PathLike
    block_rows: int | None = None
    buffer_blocks: int = 4
    label_column: str | None = None
    scaling: MinMaxScaling | None = None
    blocks: tuple[int, ...] | None = None
    _layout: _Layout | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        path = Path(self.path)
        if self.block_rows is not None and (isinstance(self.block_rows, bool) or not isinstance(
                self.block_rows, (int, np.integer)) or self.block_rows < 1):
            raise ValueError(f"block_rows must be an integer >= 1 or None, got {self.block_rows!r}")
        if isinstance(self.buffer_blocks, bool) or not isinstance(self.buffer_blocks, (int, np.integer)) \
                or self.buffer_blocks < 1:
            raise ValueError(f"buffer_blocks must be an integer >= 1, got {self.buffer_blocks!r}")
        if self._layout is None:
            if not path.is_file():
                raise ValueError(f"data path {path} is not a file; streaming reads a .npy or .parquet file (built-in "
                                 "datasets and folders are loaded whole: drop --stream)")
            suffix = path.suffix.lower()
            if suffix == ".npy":
                if self.label_column is not None:
                    raise ValueError(f"label_column (--label-column {self.label_column}) names a column of a Parquet "
                                     f"file, but {path} is a .npy array without named columns; leave it out")
                layout = _npy_layout(path, self.block_rows)
            elif suffix in (".parquet", ".pq"):
                layout = _parquet_layout(path, self.label_column)
            else:
                raise ValueError(f"{path} has suffix '{suffix}'; streaming reads .npy or .parquet files only "
                                 "(load other files whole, without streaming)")
            self._layout = layout
        n_blocks = len(self._layout.block_starts) - 1
        if self.blocks is None:
            self.blocks = tuple(range(n_blocks))
        self.blocks = tuple(int(b) for b in self.blocks)
        if any(not 0 <= b < n_blocks for b in self.blocks):
            raise ValueError(f"blocks must be indices below {n_blocks}, got {self.blocks}")

    # ------------------------------------------------------------ description
    @property
    def n_features(self) -> int:
        """Values per row."""
        return self._layout.n_features

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The shape of one sample in the file: (H, W) or (C, H, W) for images, (n_features,) otherwise."""
        return self._layout.sample_shape

    @property
    def n_blocks(self) -> int:
        """Number of blocks in this source."""
        return len(self.blocks)

    @property
    def has_labels(self) -> bool:
        """True for a Parquet file with a label column."""
        return self._layout.label_column is not None

    def block_length(self, block: int) -> int:
        starts = self._layout.block_starts
        return starts[block + 1] - starts[block]

    def __len__(self) -> int:
        return sum(self.block_length(b) for b in self.blocks)

    # ---------------------------------------------------------------- reading
    def read_raw(self, block: int) -> np.ndarray:
        """Block ``block`` of the file as stored, flattened to (rows, n_features), without scaling."""
        layout = self._layout
        start, stop = layout.block_starts[block], layout.block_starts[block + 1]
        if layout.kind == "npy":
            rows = np.empty((stop - start, layout.n_features), dtype=layout.dtype)
            with open(self.path, "rb", buffering=0) as f:
                f.seek(layout.offset + start * layout.n_features * layout.dtype.itemsize)
                read = f.readinto(memoryview(rows).cast("B"))
            if read != rows.nbytes:
                raise ValueError(f"{self.path} ended early while reading rows {start} to {stop}; it is truncated")
            return rows
        pq = import_optional("pyarrow.parquet", "reading Parquet")

        table = pq.ParquetFile(self.path).read_row_group(block, columns=list(layout.feature_columns))
        return np.column_stack([table.column(i).to_numpy(zero_copy_only=False)
                                for i in range(table.num_columns)])

    def read_labels(self, block: int) -> np.ndarray | None:
        """The labels of block ``block`` (Parquet with a label column), else None."""
        if self._layout.label_column is None:
            return None
        pq = import_optional("pyarrow.parquet", "reading Parquet")

        table = pq.ParquetFile(self.path).read_row_group(block, columns=[self._layout.label_column])
        return table.column(0).to_numpy(zero_copy_only=False)

    def read_block(self, block: int) -> np.ndarray:
        """Block ``block`` as float32 rows, scaled when a scaling is set; raises on NaN, infinity or values
        beyond float32's range (``aelab.data.dataset.bad_values``)."""
        rows = self.read_raw(block)
        if bad_values(rows).any():
            first = first_bad_value(rows, self._layout.block_starts[block])
            raise ValueError(f"{self.path}: {first}; rows with NaN, infinite values or values beyond float32's "
                             "range cannot be used: remove or impute them first")
        if self.scaling is not None:
            return self.scaling.transform(rows)
        return rows.astype(np.float32, copy=False)

    def chunks(self, rows: int = 8192) -> Iterator[np.ndarray]:
        """The rows in file order, in arrays of at most ``rows`` rows."""
        for block in self.blocks:
            data = self.read_block(block)
            for start in range(0, len(data), rows):
                yield data[start:start + rows]

    def shuffled_batches(self, batch_size: int, seed: int) -> Iterator[np.ndarray]:
        """One pass in random order: blocks in a random order, rows shuffled within ``buffer_blocks`` blocks.

        The same ``seed`` gives the same batches; every batch has ``batch_size`` rows but the last. One
        buffer is allocated for the pass and refilled; each batch is a copy of its rows, so that the memory
        held is the buffer, the rows carried over to the next buffer and the batches in use.
        """
        rng = np.random.default_rng(seed)
        order = rng.permutation(np.asarray(self.blocks, dtype=np.int64))
        groups = [order[i:i + self.buffer_blocks] for i in range(0, len(order), self.buffer_blocks)]
        largest = max(sum(self.block_length(int(b)) for b in group) for group in groups)
        buffer = np.empty((largest + batch_size, self.n_features), dtype=np.float32)
        carried = 0
        for group in groups:
            filled = carried
            for block in group:
                rows = self.read_block(int(block))
                buffer[filled:filled + len(rows)] = rows
                filled += len(rows)
                del rows
            shuffled = rng.permutation(filled)
            usable = filled - filled % batch_size
            for start in range(0, usable, batch_size):
                yield buffer[shuffled[start:start + batch_size]]
            carried = filled - usable
            buffer[:carried] = buffer[shuffled[usable:]]
        if carried:
            yield buffer[:carried].copy()

    # -------------------------------------------------------------- deriving
    def with_scaling(self, scaling: MinMaxScaling | None) -> StreamingSource:
        """The same rows, scaled by ``scaling`` as they are read."""
        return replace(self, scaling=scaling)

    def subset(self, blocks) -> StreamingSource:
        """The rows of the given blocks only."""
        return replace(self, blocks=tuple(int(b) for b in blocks))

    def split(self, fraction: float, random_state: int = 0) -> tuple[StreamingSource, StreamingSource | None]:
        """(rest, held out): about ``fraction`` of the rows held out as whole blocks drawn at random.

        Returns ``(self, None)`` when ``fraction`` is 0 or the source has a single block.
        """
        if fraction <= 0 or self.n_blocks < 2:
            return self, None
        rng = np.random.default_rng(random_state)
        order = [self.blocks[i] for i in rng.permutation(self.n_blocks)]
        held, rows, target = [], 0, fraction * len(self)
        for block in order[:-1]:  # the rest keeps one block at least
            if rows >= target:
                break
            held.append(block)
            rows += self.block_length(block)
        held_set = set(held)
        return (self.subset(sorted(b for b in self.blocks if b not in held_set)), self.subset(sorted(held)))

    def minmax(self, per_feature: bool) -> MinMaxScaling:
        """Fit [0, 1] scaling in one pass over the (unscaled) rows: per feature, or one range for all."""
        low = np.full(self.n_features, np.inf)
        high = np.full(self.n_features, -np.inf)
        raw = replace(self, scaling=None)
        for block in self.blocks:
            rows = raw.read_block(block)
            np.minimum(low, rows.min(axis=0), out=low)
            np.maximum(high, rows.max(axis=0), out=high)
        if per_feature:
            return MinMaxScaling(low, high, True)
        return MinMaxScaling(np.array([low.min()]), np.array([high.max()]), False)

    def value_range(self) -> tuple[float, float]:
        """The smallest and largest value of the (scaled) rows, in one pass."""
        low, high = np.inf, -np.inf
        for block in self.blocks:
            rows = self.read_block(block)
            low, high = min(low, float(rows.min())), max(high, float(rows.max()))
        return low, high

    def sample(self, n_rows: int, random_state: int = 0) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """Up to ``n_rows`` rows from blocks drawn at random, in memory: the rows, their labels (None without a
        label column) and their 0-based indices in the file."""
        rng = np.random.default_rng(random_state)
        X, y, index, total = [], [], [], 0
        for block in rng.permutation(np.asarray(self.blocks, dtype=np.int64)):
            rows = self.read_block(int(block))
            take = np.sort(rng.permutation(len(rows))[:n_rows - total])
            X.append(rows[take])
            index.append(self._layout.block_starts[int(block)] + take)
            labels = self.read_labels(int(block))
            if labels is not None:
                y.append(labels[take])
            total += len(take)
            if total >= n_rows:
                break
        return np.concatenate(X), (np.concatenate(y) if y else None), np.concatenate(index)


_DONE = object()


def prefetched(items: Iterator, depth: int = 4) -> Iterator:
    """The items of ``items``, produced by a background thread up to ``depth`` ahead of the consumer.

    File reads and NumPy copies release the GIL, so reading the next blocks overlaps the training step. The
    order is unchanged; an exception in the producer is raised in the consumer; closing the iterator early
    stops the producer.
    """
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as e:  # handed to the consumer, which raises it
            put((_DONE, e))
            return
        put((_DONE, None))

    thread = threading.Thread(target=produce, name="aelab-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = handoff.get()
            if isinstance(item, tuple) and len(item) == 2 and item[0] is _DONE:
                if item[1] is not None:
                    raise item[1]
                return
            yield item
    finally:
        stop.set()
        thread.join()


class DeviceStream:
    """A source's rows as torch tensors on a device: what the training loop (aelab.training) iterates.

    Batches are read and shuffled by a background thread a few batches ahead of the training step.
    """

    def __init__(self, source: StreamingSource, device, prefetch: int = 4) -> None:
        self.source = source
        self.device = device
        self.prefetch = prefetch

    def __len__(self) -> int:
        return len(self.source)

    def _tensor(self, rows: np.ndarray):
        import torch

        tensor = torch.from_numpy(np.ascontiguousarray(rows, dtype=np.float32))
        if self.device.type == "cuda":
            tensor = tensor.pin_memory()
        return tensor.to(self.device, non_blocking=True)

    def batches(self, batch_size: int, generator) -> Iterator:
        """One epoch of shuffled batches; the seed is drawn from ``generator``, so runs repeat exactly."""
        import torch

        seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))
        batches = self.source.shuffled_batches(batch_size, seed)
        for rows in (prefetched(batches, self.prefetch) if self.prefetch else batches):
            yield self._tensor(rows)

    def chunks(self, rows: int) -> Iterator:
        for chunk in self.source.chunks(rows):
            yield self._tensor(chunk)


def _reserve(path: Path) -> None:
    """Allocate the blocks of a sparse file now, so that a full disk is an OSError here rather than a SIGBUS
    when a page of its memory map is written."""
    if not hasattr(os, "posix_fallocate"):  # not on every platform; there, a full disk may still end the process
        return
    fd = os.open(path, os.O_RDWR)
    try:
        os.posix_fallocate(fd, 0, os.fstat(fd).st_size)
    except OSError as e:
        if e.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):  # file systems that cannot allocate
            raise
    finally:
        os.close(fd)


#: The files ``write_rows`` writes, by suffix: NumPy, CSV and Parquet (the last two with a header of names).
OUTPUT_SUFFIXES = (".npy", ".csv", ".parquet")


def write_rows(chunks: Iterator[np.ndarray], n_rows: int, out: str | os.PathLike,
               column_names: Callable[[int], list[str]]) -> tuple[int, int]:
    """Write the rows of ``chunks`` (``n_rows`` in all) to ``out`` as they come; returns the shape written.

    A .npy output is a memory map filled chunk by chunk; a .csv output starts with a header of
    ``column_names(n_columns)`` and is appended to chunk by chunk; a .parquet output (pyarrow) names its
    columns the same way and holds one row group per chunk. Each is written under a temporary name in the
    same folder and renamed at the end, so that ``out`` is either complete or untouched.
    """
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise ValueError(f"--out {out} must end in {', '.join(OUTPUT_SUFFIXES)}")
    n_columns, written = 0, 0
    with atomic_path(out) as tmp, contextlib.ExitStack() as stack:
        target = None
        for chunk in chunks:
            result = np.asarray(chunk)
            result = result.reshape(len(result), -1)
            if target is None:
                n_columns = result.shape[1]
                target = stack.enter_context(_RowWriter(tmp, suffix, result.dtype, n_rows, column_names(n_columns)))
            target.write(written, result)
            written += len(result)
    return written, n_columns


class _RowWriter:
    """One output file of ``write_rows`` open for writing, by suffix."""

    def __init__(self, path: Path, suffix: str, dtype, n_rows: int, names: list[str]) -> None:
        self.suffix, self.names = suffix, names
        if suffix == ".npy":
            self.array = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(n_rows, len(names)))
            _reserve(path)
        elif suffix == ".csv":
            self.file = open(path, "w", encoding="utf-8")
            self.file.write(",".join(names) + "\n")
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            self.schema = pa.schema([(name, pa.from_numpy_dtype(dtype)) for name in names])
            self.file = pq.ParquetWriter(path, self.schema)

    def write(self, start: int, rows: np.ndarray) -> None:
        if self.suffix == ".npy":
            self.array[start:start + len(rows)] = rows
        elif self.suffix == ".csv":
            text = io.StringIO()
            np.savetxt(text, rows, delimiter=",", fmt="%.7g")
            self.file.write(text.getvalue())
        else:
            import pyarrow as pa

            self.file.write_table(pa.Table.from_arrays(list(rows.T), schema=self.schema))

    def __enter__(self) -> _RowWriter:
        return self

    def __exit__(self, *exc) -> None:
        if self.suffix == ".npy":
            self.array.flush()
            del self.array
        else:
            self.file.close()


def write_streamed(source: StreamingSource, function: Callable[[np.ndarray], np.ndarray], out: str | os.PathLike,
                   column_names: Callable[[int], list[str]], rows: int = 65536) -> tuple[int, int]:
    """Apply ``function`` to the source's rows chunk by chunk and write the results to ``out`` as they come
    (``write_rows``); returns the shape written."""
    return write_rows((function(chunk) for chunk in source.chunks(rows)), len(source), out, column_names)
