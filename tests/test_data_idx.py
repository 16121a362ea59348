import gzip

import numpy as np
import pytest

from aelab.data import read_idx
from aelab.data.idx import parse_idx
from tests.conftest import idx_bytes


def test_reads_plain_and_gzip_files(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "plain").write_bytes(idx_bytes(images))
    (tmp_path / "zipped.gz").write_bytes(gzip.compress(idx_bytes(images)))
    np.testing.assert_array_equal(read_idx(tmp_path / "plain"), images)
    np.testing.assert_array_equal(read_idx(tmp_path / "zipped.gz"), images)


def test_reads_big_endian_int32():
    values = np.array([1, -2, 70000], dtype=np.int32)
    np.testing.assert_array_equal(parse_idx(idx_bytes(values)), values)


def test_bad_magic_number_is_refused():
    raw = bytearray(idx_bytes(np.zeros((2, 2), dtype=np.uint8)))
    raw[0] = 7
    with pytest.raises(ValueError, match="does not start with an IDX magic number"):
        parse_idx(bytes(raw))


def test_truncated_file_names_expected_and_actual_size(tmp_path):
    raw = idx_bytes(np.zeros((10, 28, 28), dtype=np.uint8))
    (tmp_path / "t").write_bytes(raw[:-100])
    with pytest.raises(ValueError, match=r"truncated: dimensions \(10, 28, 28\) need 7856 bytes but the file has 7756"):
        read_idx(tmp_path / "t")


def test_truncated_gzip_is_refused(tmp_path):
    data = gzip.compress(idx_bytes(np.zeros((10, 28, 28), dtype=np.uint8)))
    (tmp_path / "t.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="probably truncated"):
        read_idx(tmp_path / "t.gz")


def test_header_cut_short():
    with pytest.raises(ValueError, match="truncated inside its header"):
        parse_idx(bytes([0, 0, 8, 3, 0, 0]))


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        read_idx(tmp_path / "nope.gz")
