import gzip
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
CHROMIUM = Path("/usr/bin/chromium")


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode an array as an IDX file (unsigned bytes for uint8, big-endian int32 otherwise)."""
    codes = {np.dtype(np.uint8): (0x08, ">u1"), np.dtype(np.int32): (0x0C, ">i4")}
    code, dtype = codes[array.dtype]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(dtype).tobytes()


@pytest.fixture
def idx_dir(tmp_path):
    """A directory holding a tiny MNIST-style test pair only (t10k files, gzipped), 30 images of 6x6."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(30, 6, 6), dtype=np.uint8)
    labels = np.arange(30, dtype=np.uint8) % 3
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images)))
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels)))
    return tmp_path, images, labels


needs_fashion_mnist = pytest.mark.skipif(
    not FASHION_DIR.is_dir(), reason="Debian's dataset-fashion-mnist is not installed (.ci/run installs it)"
)


needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium (.ci/run installs it)"
)


def chromium(*arguments: str, user_data_dir: Path) -> subprocess.CompletedProcess:
    """Run headless Chromium on ``arguments`` (a page and --dump-dom or --screenshot) with a fresh profile."""
    command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={user_data_dir}", "--enable-logging=stderr", "--v=0",
               "--virtual-time-budget=15000", *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=180)


def left_in(folder: Path) -> list[str]:
    """The names in ``folder``, sorted, less the lock files of folder locks, each checked to be free.

    The lock of ``runs/a`` is the file ``runs/.a.lock``; on Unix, filelock leaves it in place, empty, when the
    lock is released (some of its versions remove it). A lock file listed here must be empty and free, and
    the ``.a.writer.json`` of its holder gone (it is not left out, so a leftover one shows in the names).
    """
    from aelab.locks import acquire, release

    names = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") and path.name.endswith(".lock") and path.is_file():
            assert path.read_bytes() == b"", path
            locked = path.parent / path.name[1:-len(".lock")]
            release(locked, acquire(locked))  # a held lock refuses with ValueError
            continue
        names.append(path.name)
    return names
