"""Fuzzing every reader of user files: truncated or mutated bytes give a ValueError, never another exception.

Each test starts from a valid file, cuts it and overwrites a few bytes (hypothesis, with a fixed budget and
derandomised, so a run is reproducible); the reader must then either raise ValueError or return data of a
consistent shape. ``FUZZ_COUNTS`` records the examples tried per reader.
"""

import gzip
import io
import json
import shutil
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aelab.data.dataset import Dataset
from aelab.data.files import read_csv, read_image_folder, read_npy, read_npz, read_parquet
from aelab.data.idx import read_idx
from aelab.parts import Dense
from tests.conftest import idx_bytes

FUZZ = settings(max_examples=200, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
FUZZ_COUNTS: Counter = Counter()

mutations = st.tuples(
    st.one_of(st.none(), st.floats(0.0, 1.0)),  # where to cut the file (a fraction of its length), or not at all
    st.lists(st.tuples(st.floats(0.0, 1.0, exclude_max=True), st.integers(0, 255)), max_size=4),
)


def mutate(data: bytes, change) -> bytes:
    cut, edits = change
    data = bytearray(data if cut is None else data[:int(len(data) * cut)])
    for where, value in edits:
        if data:
            data[int(where * len(data))] = value
    return bytes(data)


def check_dataset(result) -> None:
    """What a reader returns for a damaged file it still accepts: data of a consistent shape, not garbage."""
    assert isinstance(result, Dataset)
    assert result.X.ndim == 2 and result.X.shape[1] == int(np.prod(result.sample_shape))
    assert result.X.dtype.kind in "biuf"
    assert result.y is None or len(result.y) == len(result.X)


def read_or_value_error(name: str, read) -> None:
    FUZZ_COUNTS[name] += 1
    try:
        result = read()
    except ValueError as e:
        assert str(e)
        return
    if isinstance(result, Dataset):
        check_dataset(result)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("valid")
    rng = np.random.default_rng(0)
    X = rng.random((6, 5)).astype(np.float32)
    images = rng.integers(0, 256, (4, 6, 6), dtype=np.uint8)
    valid = {"idx": idx_bytes(images), "idx.gz": gzip.compress(idx_bytes(images))}
    buffer = io.BytesIO()
    np.save(buffer, X)
    valid["npy"] = buffer.getvalue()
    for compressed in (False, True):
        buffer = io.BytesIO()
        (np.savez_compressed if compressed else np.savez)(buffer, X=X, y=np.arange(6))
        valid["npz.compressed" if compressed else "npz"] = buffer.getvalue()
    frame = pd.DataFrame(X, columns=list("abcde")).assign(label=[0, 1, 0, 1, 0, 1])
    valid["csv"] = frame.to_csv(index=False, float_format="%.4f").encode()
    frame.to_parquet(folder / "v.parquet")
    valid["parquet"] = (folder / "v.parquet").read_bytes()
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(images[0]).save(buffer, format="PNG")
    valid["png"] = buffer.getvalue()
    return valid


def write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("kind", ["idx", "idx.gz"])
@FUZZ
@given(change=mutations)
def test_idx_reader(files, tmp_path, kind, change):
    path = write(tmp_path, f"f.{kind}", mutate(files[kind], change))
    read_or_value_error(kind, lambda: read_idx(path))


@FUZZ
@given(change=mutations)
def test_npy_reader(files, tmp_path, change):
    path = write(tmp_path, "f.npy", mutate(files["npy"], change))
    read_or_value_error("npy", lambda: read_npy(path))


@pytest.mark.parametrize("kind", ["npz", "npz.compressed"])
@FUZZ
@given(change=mutations)
def test_npz_reader(files, tmp_path, kind, change):
    path = write(tmp_path, "f.npz", mutate(files[kind], change))
    read_or_value_error(kind, lambda: read_npz(path))


@FUZZ
@given(change=mutations)
def test_csv_reader(files, tmp_path, change):
    path = write(tmp_path, "f.csv", mutate(files["csv"], change))
    read_or_value_error("csv", lambda: read_csv(path))


@FUZZ
@given(text=st.text(alphabet=st.sampled_from(list("0123456789.,-+eE\"' \nnaNlbxy\r\t")), max_size=80))
def test_csv_reader_on_random_text(tmp_path, text):
    path = write(tmp_path, "t.csv", text.encode())
    read_or_value_error("csv (random text)", lambda: read_csv(path))


cells = st.sampled_from(["1", "2.5", "-3e2", "", "nan", "inf", "1e999", "a", "label", "y", "x", '"1,2"', " 4 "])


@FUZZ
@given(rows=st.lists(st.lists(cells, min_size=1, max_size=4), min_size=1, max_size=6))
def test_csv_reader_on_random_tables(tmp_path, rows):
    path = write(tmp_path, "t.csv", "\n".join(",".join(row) for row in rows).encode())
    read_or_value_error("csv (random tables)", lambda: read_csv(path))


@FUZZ
@given(change=mutations)
def test_parquet_reader(files, tmp_path, change):
    path = write(tmp_path, "f.parquet", mutate(files["parquet"], change))
    read_or_value_error("parquet", lambda: read_parquet(path))


@FUZZ
@given(change=mutations)
def test_image_folder_reader(files, tmp_path, change):
    folder = tmp_path / "images"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    (folder / "a.png").write_bytes(files["png"])
    (folder / "b.png").write_bytes(mutate(files["png"], change))
    read_or_value_error("png folder", lambda: read_image_folder(folder))


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    from aelab import Autoencoder

    X = np.random.default_rng(0).random((40, 6)).astype(np.float32)
    folder = tmp_path_factory.mktemp("model") / "m"
    Autoencoder(encoder=Dense(hidden=(4,)), n_components=2, epochs=1, random_state=0, device="cpu").fit(X).save(folder)
    return folder


def load_copy(saved_model, tmp_path, name: str, data: bytes, counter: str) -> None:
    from aelab import load

    folder = tmp_path / "copy"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(saved_model, folder)
    (folder / name).write_bytes(data)
    FUZZ_COUNTS[counter] += 1
    try:
        model = load(folder, device="cpu")
    except ValueError as e:
        assert str(e)
        return
    assert model.transform(np.zeros((2, model.n_features_in_), np.float32)).shape == (2, model.n_components)


@FUZZ
@given(change=mutations)
def test_model_json_bytes(saved_model, tmp_path, change):
    data = (saved_model / "model.json").read_bytes()
    load_copy(saved_model, tmp_path, "model.json", mutate(data, change), "model.json (bytes)")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 1000) | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


@FUZZ
@given(data=st.data())
def test_model_json_structure(saved_model, tmp_path, data):
    record = json.loads((saved_model / "model.json").read_text())
    paths = list(_paths(record))
    path = data.draw(st.sampled_from(paths[1:]))
    replacement = data.draw(json_values)
    target = record
    for key in path[:-1]:
        target = target[key]
    if data.draw(st.booleans()) and isinstance(target, dict):
        del target[path[-1]]
    else:
        target[path[-1]] = replacement
    load_copy(saved_model, tmp_path, "model.json", json.dumps(record).encode(), "model.json (structure)")


@FUZZ
@given(change=mutations)
def test_model_safetensors_bytes(saved_model, tmp_path, change):
    data = (saved_model / "model.safetensors").read_bytes()
    load_copy(saved_model, tmp_path, "model.safetensors", mutate(data, change), "model.safetensors (bytes)")


# ---------------------------------------------------------------- the failures fuzzing found, kept as cases
def test_idx_gzip_with_a_damaged_stream(files, tmp_path):
    data = bytearray(files["idx.gz"])
    data[12] ^= 0xFF  # inside the deflate stream: zlib.error before
    with pytest.raises(ValueError, match="is not a readable gzip file"):
        read_idx(write(tmp_path, "f.idx.gz", bytes(data)))


@pytest.mark.parametrize("header", [b"{'descr': '<f4', 'fortran_order': False, 'shape': (6, 5),",  # TokenError
                                    b"{'descr': '<f4', 'fortran_order': False, 'shape': (6, 5)) ",  # SyntaxError
                                    b"{'descr': '<f4', 'fortran_order': False, 'shape': (10**9, 5), }"])
def test_npy_with_a_damaged_header(files, tmp_path, header):
    data = files["npy"]
    start, end = 10, data.index(b"\n")
    damaged = data[:start] + header.ljust(end - start) + data[end:]
    with pytest.raises(ValueError, match="is not a readable numeric .npy array"):
        read_npy(write(tmp_path, "f.npy", damaged))


def test_compressed_npz_with_a_damaged_stream(files, tmp_path):
    data = bytearray(files["npz.compressed"])
    data[100] ^= 0xFF  # inside X's deflate stream: zlib.error before
    with pytest.raises(ValueError, match="could not be read as .npz"):
        read_npz(write(tmp_path, "f.npz", bytes(data)))


def test_npz_with_an_unknown_compression_method(files, tmp_path):
    data = bytearray(files["npz"])
    central = data.index(b"PK\x01\x02")
    data[central + 10] = 99  # the first member's compression method: NotImplementedError before
    with pytest.raises(ValueError, match="could not be read as .npz"):
        read_npz(write(tmp_path, "f.npz", bytes(data)))


def test_png_with_a_broken_chunk(files, tmp_path):
    data = bytearray(files["png"])
    data[36] = 0  # the IDAT chunk's length goes wrong: Pillow raised SyntaxError("broken PNG file") before
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "a.png").write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"image .*a.png could not be read \(SyntaxError: broken PNG file"):
        read_image_folder(folder)


def test_csv_with_repeated_column_names(tmp_path):
    # a row of the wrong width makes the reader parse the header itself, without pandas' renaming
    with pytest.raises(ValueError, match=r"repeated column names \['a'\]"):
        read_csv(write(tmp_path, "f.csv", b"a,a,label\n1,2,0\n3,4,1,5\n"))


def test_model_json_with_a_list_where_an_object_belongs(saved_model, tmp_path):
    from aelab import load

    folder = tmp_path / "copy"
    shutil.copytree(saved_model, folder)
    record = json.loads((folder / "model.json").read_text())
    for key, value in (("estimator", ["Autoencoder"]), ("params", [1, 2])):
        (folder / "model.json").write_text(json.dumps({**record, key: value}))
        with pytest.raises(ValueError, match="is not a valid aelab model"):
            load(folder)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from aelab import Autoencoder

    X = np.random.default_rng(0).random((40, 6)).astype(np.float32)
    folder = tmp_path_factory.mktemp("checkpoint") / "c"
    Autoencoder(encoder=Dense(hidden=(4,)), n_components=2, epochs=2, random_state=0, device="cpu").fit(X,
                                                                                                        checkpoint=folder)
    return folder, X


@FUZZ
@given(change=mutations, structural=st.data())
def test_checkpoint_json(checkpoint, tmp_path, change, structural):
    from aelab import Autoencoder

    folder, X = checkpoint
    copy = tmp_path / "copy"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(folder, copy)
    data = (folder / "checkpoint.json").read_bytes()
    if structural.draw(st.booleans()):
        record = json.loads(data)
        key = structural.draw(st.sampled_from(sorted(record)))
        record[key] = structural.draw(json_values)
        data = json.dumps(record).encode()
    else:
        data = mutate(data, change)
    (copy / "checkpoint.json").write_bytes(data)
    FUZZ_COUNTS["checkpoint.json"] += 1
    try:
        Autoencoder(encoder=Dense(hidden=(4,)), n_components=2, epochs=2, random_state=0, device="cpu").fit(X,
                                                                                                            resume=copy)
    except ValueError as e:
        assert str(e)


def test_fuzz_counts_are_recorded():
    # the last test of this module: every reader above was tried on its whole budget
    assert all(count >= 200 for count in FUZZ_COUNTS.values()), FUZZ_COUNTS
    print("\nfuzz examples per reader:", dict(FUZZ_COUNTS))
