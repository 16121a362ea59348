"""Atomic writes and checked JSON: a file is complete or untouched, a bad JSON file is one clear error."""

import json
import os
import re

import numpy as np
import pytest

from aelab.io import (
    MAX_JSON_DEPTH,
    atomic_path,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    json_safe,
    read_json,
)

NESTED = "[" * 100_000 + "]" * 100_000
TOO_DEEP = "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)
HUGE_INT = '{"format": ' + "7" * 5000 + "}"


def test_atomic_writes_use_ordinary_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "f.json", "{}")
    finally:
        os.umask(old)
    assert (tmp_path / "f.json").stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_an_atomic_write_replaces_the_file_and_creates_its_folder(tmp_path):
    path = tmp_path / "a" / "b.json"
    atomic_write_json(path, {"x": [1, 2]})
    atomic_write_json(path, {"x": [3]})
    assert path.read_text() == '{\n  "x": [\n    3\n  ]\n}\n'
    assert [p.name for p in path.parent.iterdir()] == ["b.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path):
    path = tmp_path / "codes.npy"
    atomic_write_bytes(path, b"old")
    with pytest.raises(RuntimeError, match="half-way"):
        with atomic_path(path) as tmp:
            assert tmp.parent == tmp_path and tmp.name.startswith(".codes.npy.") and tmp.suffix == ".tmp"
            tmp.write_bytes(b"ne")
            raise RuntimeError("half-way")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["codes.npy"]


def test_atomic_path_takes_a_file_written_by_any_means(tmp_path):
    path = tmp_path / "codes.npy"
    with atomic_path(path) as tmp:
        array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(3, 2))
        array[:] = 1.5
        array.flush()
        del array
    np.testing.assert_array_equal(np.load(path), np.full((3, 2), 1.5, dtype=np.float32))
    assert [p.name for p in tmp_path.iterdir()] == ["codes.npy"]


def test_json_safe_turns_numpy_tuples_and_non_finite_numbers_into_json():
    value = {"hidden": (64, np.int64(32)), "beta": np.float32(0.5), 3: np.array([[1, 2]]), "loss": float("nan"),
             "gap": -np.inf, "random_state": np.random.RandomState(0), "name": "a", "on": True, "none": None}
    safe = json_safe(value)
    assert safe == {"hidden": [64, 32], "beta": 0.5, "3": [[1, 2]], "loss": None, "gap": None,
                    "random_state": None, "name": "a", "on": True, "none": None}
    assert type(safe["hidden"][1]) is int and type(safe["beta"]) is float
    assert json.loads(json.dumps(safe, allow_nan=False)) == safe


@pytest.mark.parametrize("text, message", [
    (NESTED, f"nests arrays or objects more than {MAX_JSON_DEPTH} deep"),
    (TOO_DEEP, f"nests arrays or objects more than {MAX_JSON_DEPTH} deep"),
    (HUGE_INT, r"holds a number too long to read \(Exceeds the limit \(\d+ digits\)"),
    ("{", "is not valid JSON"),
    (b"\xff\xfe{}", "is not UTF-8 JSON text"),
])
def test_read_json_names_the_file_and_what_to_do(tmp_path, text, message):
    path = tmp_path / "f.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))} {message}.*; do this$"):
        read_json(path, "do this")


def test_read_json_reads_nesting_up_to_the_limit(tmp_path):
    path = tmp_path / "f.json"
    path.write_text("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)
    value = read_json(path, "")
    for _ in range(MAX_JSON_DEPTH - 1):
        value = value[0]
    assert value == []


def test_io_imports_nothing_of_aelab():
    import ast

    import aelab.io

    tree = ast.parse(open(aelab.io.__file__, encoding="utf-8").read())
    imported = [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    assert not [name for name in imported if name and name.split(".")[0] == "aelab"]
