import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from aelab import Autoencoder
from aelab.cli import main
from aelab.data import MinMaxScaling
from aelab.data.streaming import DeviceStream, StreamingSource, write_streamed
from aelab.parts import Dense


@pytest.fixture
def npy(tmp_path):
    X = np.random.default_rng(0).uniform(-2, 3, size=(103, 5)).astype(np.float32)
    path = tmp_path / "rows.npy"
    np.save(path, X)
    return path, X


@pytest.fixture
def parquet(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(90, 4))
    labels = np.arange(90) % 3
    table = pa.table({"label": labels, **{f"f{i}": X[:, i] for i in range(4)}})
    path = tmp_path / "rows.parquet"
    pq.write_table(table, path, row_group_size=20)
    return path, X, labels


def test_npy_blocks_cover_the_file_in_order(npy):
    path, X = npy
    source = StreamingSource(path, block_rows=10)
    assert len(source) == 103 and source.n_blocks == 11 and source.n_features == 5
    assert source.block_length(10) == 3
    np.testing.assert_array_equal(np.concatenate(list(source.chunks(7))), X)
    assert max(len(c) for c in source.chunks(7)) == 7


def test_default_blocks_are_at_least_32_for_small_files(npy):
    source = StreamingSource(npy[0])
    assert source.n_blocks == 35 and source.block_length(0) == 3  # 103 // 32 rows per block


def test_shuffled_batches_visit_every_row_once_and_repeat_with_the_seed(npy):
    path, X = npy
    source = StreamingSource(path, block_rows=10, buffer_blocks=3)
    batches = list(source.shuffled_batches(16, seed=5))
    assert [len(b) for b in batches] == [16] * 6 + [7]
    rows = np.concatenate(batches)
    order = np.lexsort(rows.T[::-1])
    np.testing.assert_array_equal(rows[order], X[np.lexsort(X.T[::-1])])
    again = np.concatenate(list(source.shuffled_batches(16, seed=5)))
    np.testing.assert_array_equal(rows, again)
    other = np.concatenate(list(source.shuffled_batches(16, seed=6)))
    assert not np.array_equal(rows, other)
    assert not np.array_equal(rows, X)  # shuffled, not in file order


def test_device_stream_draws_its_seed_from_the_generator(npy):
    stream = DeviceStream(StreamingSource(npy[0], block_rows=10), torch.device("cpu"))
    first = torch.cat(list(stream.batches(32, torch.Generator().manual_seed(3))))
    second = torch.cat(list(stream.batches(32, torch.Generator().manual_seed(3))))
    assert torch.equal(first, second) and first.dtype == torch.float32 and len(first) == 103


def test_parquet_blocks_are_row_groups_and_the_label_column_is_left_out(parquet):
    path, X, labels = parquet
    source = StreamingSource(path)
    assert source.n_blocks == 5 and source.n_features == 4 and source.has_labels
    np.testing.assert_allclose(np.concatenate(list(source.chunks())), X.astype(np.float32))
    sample, y, rows = source.sample(30, random_state=0)
    assert sample.shape == (30, 4) and y.shape == (30,)
    np.testing.assert_array_equal(X[rows].astype(np.float32), sample)  # each row's index in the file
    # each sampled row keeps its own label
    for row, label in zip(sample, y, strict=True):
        match = np.flatnonzero(np.all(np.isclose(X.astype(np.float32), row), axis=1))
        assert labels[match[0]] == label


@pytest.mark.parametrize("per_feature", [True, False])
def test_streamed_minmax_equals_the_in_memory_fit(npy, per_feature):
    path, X = npy
    streamed = StreamingSource(path, block_rows=10).minmax(per_feature)
    whole = MinMaxScaling.fit(X, per_feature)
    np.testing.assert_allclose(streamed.data_min, whole.data_min)
    np.testing.assert_allclose(streamed.data_max, whole.data_max)
    scaled = StreamingSource(path, block_rows=10).with_scaling(streamed)
    assert scaled.value_range() == pytest.approx((0.0, 1.0), abs=1e-6)


def test_split_holds_out_whole_blocks(npy):
    source = StreamingSource(npy[0], block_rows=10)
    rest, held = source.split(0.2, random_state=0)
    assert set(rest.blocks).isdisjoint(held.blocks) and set(rest.blocks) | set(held.blocks) == set(range(11))
    assert 20 <= len(held) <= 30 and len(rest) + len(held) == 103
    assert source.split(0.0) == (source, None)


def test_fit_streams_from_the_file_and_repeats_with_the_random_state(npy):
    path, X = npy
    source = StreamingSource(path, block_rows=10)
    source = source.with_scaling(source.minmax(per_feature=True))

    def fit():
        return Autoencoder(encoder=Dense(hidden=(8,)), n_components=2, epochs=3, batch_size=16, random_state=0,
                           device="cpu").fit(source)

    first, second = fit(), fit()
    assert first.n_features_in_ == 5 and first.output_activation_ == "sigmoid"
    assert len(first.history_["train_loss"]) == 3 and len(first.history_["validation_loss"]) == 3
    for a, b in zip(first.network_.parameters(), second.network_.parameters(), strict=True):
        assert torch.equal(a, b)
    assert first.transform(source.scaling.transform(X)).shape == (103, 2)


def test_write_streamed_npy_matches_transform_and_leaves_no_temporary_file(npy, tmp_path):
    path, X = npy
    scaling = MinMaxScaling.fit(X, per_feature=True)
    ae = Autoencoder(encoder=Dense(hidden=(8,)), n_components=2, epochs=1, random_state=0,
                     device="cpu").fit(scaling.transform(X))
    source = StreamingSource(path, block_rows=10).with_scaling(scaling)
    out = tmp_path / "out" / "codes.npy"
    assert write_streamed(source, ae.transform, out, lambda n: [f"ae{i}" for i in range(n)], rows=25) == (103, 2)
    np.testing.assert_allclose(np.load(out), ae.transform(scaling.transform(X)), atol=1e-6)
    assert sorted(p.name for p in out.parent.iterdir()) == ["codes.npy"]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_write_streamed_names_the_columns_of_csv_and_parquet(npy, tmp_path, suffix):
    import pandas as pd

    path, X = npy
    out = tmp_path / f"rows{suffix}"
    names = lambda n: [f"x{i}" for i in range(n)]  # noqa: E731
    assert write_streamed(StreamingSource(path, block_rows=10), lambda rows: rows[:, :3], out, names,
                          rows=25) == (103, 3)
    frame = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert list(frame.columns) == ["x0", "x1", "x2"]
    np.testing.assert_allclose(frame.to_numpy(), X[:, :3], rtol=1e-6)


def test_write_streamed_leaves_nothing_behind_when_a_chunk_fails(npy, tmp_path):
    calls = []

    def failing(rows):
        calls.append(len(rows))
        if len(calls) == 2:
            raise ValueError("bad chunk")
        return rows

    out = tmp_path / "out.npy"
    with pytest.raises(ValueError, match="bad chunk"):
        write_streamed(StreamingSource(npy[0], block_rows=10), failing, out, lambda n: ["a"] * n, rows=10)
    assert list(tmp_path.iterdir()) == [npy[0]]


@pytest.mark.parametrize("make, message", [
    (lambda p: np.save(p, np.asfortranarray(np.ones((4, 3)))), "Fortran"),
    (lambda p: np.save(p, np.ones(4)), "samples must be rows"),
    (lambda p: p.write_bytes(np.lib.format.magic(1, 0) + b"garbage"), "is not a .npy array"),
])
def test_bad_npy_files_are_named_with_the_fix(tmp_path, make, message):
    path = tmp_path / "bad.npy"
    make(path)
    with pytest.raises(ValueError, match=message):
        StreamingSource(path)


def test_truncated_npy_and_wrong_suffix(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.ones((100, 3)))
    path.write_bytes(path.read_bytes()[:-50])
    with pytest.raises(ValueError, match="truncated"):
        StreamingSource(path)
    csv = tmp_path / "x.csv"
    csv.write_text("1,2\n")
    with pytest.raises(ValueError, match="streaming reads .npy or .parquet files only"):
        StreamingSource(csv)


def test_nan_in_a_block_names_the_row(tmp_path):
    X = np.ones((40, 3))
    X[27, 1] = np.nan
    np.save(tmp_path / "x.npy", X)
    with pytest.raises(ValueError, match="row 28, column 2 holds nan; rows with NaN"):
        StreamingSource(tmp_path / "x.npy", block_rows=10).value_range()


def test_cli_train_stream_then_encode_and_score_by_chunks(tmp_path, capsys):
    from sklearn.datasets import load_digits

    X = load_digits().data.astype(np.float32)
    np.save(tmp_path / "digits.npy", X)
    run = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "digits.npy"), "--stream", "--hidden", "16", "--latent", "2",
                 "--epochs", "2", "--quiet", "--device", "cpu", "--out", str(run)]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["split"]["kind"] == "blocks" and config["job"]["stream"] is True
    assert config["split"]["n_train"] + config["split"]["n_test"] == 1797
    assert config["data"]["n_samples"] == 1797
    assert 0 < json.loads((run / "metrics.json").read_text())["ae"]["reconstruction_mse"] < 1

    assert main(["encode", "--run", str(run), "--data", str(tmp_path / "digits.npy"),
                 "--out", str(tmp_path / "z.npy")]) == 0
    assert "wrote 1797 x 2 codes" in capsys.readouterr().out
    from aelab import load

    model = load(run)  # the codes written chunk by chunk are those of the whole file at once
    np.testing.assert_allclose(np.load(tmp_path / "z.npy"), model.transform(X), atol=1e-5)
    assert main(["score", "--run", str(run), "--data", str(tmp_path / "digits.npy"),
                 "--out", str(tmp_path / "e.csv")]) == 0
    errors = np.loadtxt(tmp_path / "e.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(errors, -model.score_samples(X), rtol=1e-5, atol=1e-7)


def test_cli_stream_of_a_single_row_group_is_a_one_line_error(tmp_path, capsys):
    pq.write_table(pa.table({"a": np.arange(10.0), "b": np.arange(10.0)}), tmp_path / "one.parquet")
    assert main(["train", "--data", str(tmp_path / "one.parquet"), "--stream", "--latent", "1", "--quiet",
                 "--device", "cpu", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "single block of 10 rows" in err and "row_group_size" in err
    assert not (tmp_path / "run").exists()


def test_prefetched_keeps_the_order_and_raises_the_producers_error():
    from aelab.data.streaming import prefetched

    assert list(prefetched(iter(range(50)), depth=3)) == list(range(50))

    def failing():
        yield 1
        raise ValueError("block 3 is damaged")

    items = prefetched(failing())
    assert next(items) == 1
    with pytest.raises(ValueError, match="block 3 is damaged"):
        next(items)


def test_closing_a_prefetched_iterator_stops_its_thread():
    import threading

    from aelab.data.streaming import prefetched

    items = prefetched(iter(range(10**6)), depth=2)
    assert next(items) == 0
    items.close()
    assert not any(t.name == "aelab-prefetch" and t.is_alive() for t in threading.enumerate())
