"""Values that would silently go wrong are refused in one line: numbers beyond float32's range, tampered
preprocessing.json and model.json fields, options that would do nothing, empty files."""

import json

import numpy as np
import pytest

from aelab import Autoencoder, load
from aelab.cli import main
from aelab.parts import Dense
from tests.conftest import left_in

TINY = ["--hidden", "4", "--latent", "2", "--epochs", "1", "--quiet", "--device", "cpu"]


def _csv(path, X):
    path.write_text("a,b,c,d\n" + "\n".join(",".join(repr(float(v)) for v in row) for row in X) + "\n")
    return path


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """A clean CSV with a constant column, the same rows with 1e300 at row 6, column 3 (CSV and .npy), and
    a run trained on the clean one."""
    folder = tmp_path_factory.mktemp("values")
    X = np.random.default_rng(0).random((60, 4))
    X[:, 3] = 0.5  # a constant feature: fit writes data_min == data_max for it
    clean = _csv(folder / "clean.csv", X)
    X[5, 2] = 1e300
    big_csv = _csv(folder / "big.csv", X)
    np.save(folder / "big.npy", X)
    assert main(["train", "--data", str(clean), *TINY, "--out", str(folder / "run")]) == 0
    return folder, clean, big_csv, folder / "big.npy", folder / "run"


def _one_line_error(capsys, *fragments):
    captured = capsys.readouterr()
    err = captured.err
    assert err.count("\n") == 1 and err.startswith("aelab: error: "), err
    for fragment in fragments:
        assert fragment in err, err
    return err


OVERFLOW = "row 6, column 3 holds 1e+300, beyond float32's range (|x| > 3.4e38)"


@pytest.mark.parametrize("stream", [False, True])
def test_train_refuses_a_value_beyond_float32_with_its_row_and_column(tables, tmp_path, capsys, stream):
    folder, _, big_csv, big_npy, _ = tables
    data = big_npy if stream else big_csv
    argv = ["train", "--data", str(data), *TINY, "--out", str(tmp_path / "run"), *(["--stream"] if stream else [])]
    assert main(argv) == 2
    _one_line_error(capsys, f"{data.name}: {OVERFLOW}")
    assert left_in(tmp_path) == []  # no run folder, no checkpoint, no preprocessing.json with Infinity


@pytest.mark.parametrize("data", ["big.csv", "big.npy"])
def test_reconstruct_refuses_a_value_beyond_float32_instead_of_writing_inf(tables, tmp_path, capsys, data):
    folder, _, _, _, run = tables
    out = tmp_path / "r.npy"
    assert main(["reconstruct", "--run", str(run), "--data", str(folder / data), "--out", str(out)]) == 2
    _one_line_error(capsys, OVERFLOW)
    assert left_in(tmp_path) == []


def test_skip_bad_rows_drops_a_row_beyond_float32(tables, tmp_path, capsys):
    folder, _, big_csv, _, run = tables
    out = tmp_path / "r.npy"
    assert main(["reconstruct", "--run", str(run), "--data", str(big_csv), "--out", str(out), "--skip-bad-rows"]) == 0
    assert "skipped 1 bad row(s) (rows 6)" in capsys.readouterr().err
    result = np.load(out)
    assert result.shape == (59, 4) and np.isfinite(result).all()


def test_the_estimator_refuses_a_value_beyond_float32():
    X = np.random.default_rng(0).random((20, 3))
    X[4, 1] = -1e39
    with pytest.raises(ValueError, match=r"X contains 1 NaN or infinite value\(s\), the first at row 4, column 1 "
                       r"\(-1e\+39, beyond float32's range \|x\| > 3.4e38\); remove or impute them first"):
        Autoencoder(encoder=Dense(hidden=(4,)), n_components=2, epochs=1, device="cpu").fit(X)


def _tamper(run, tmp_path, name, change):
    """A copy of the run folder whose file ``name`` is changed by ``change(record)``."""
    import shutil

    copy = tmp_path / "tampered"
    shutil.copytree(run, copy)
    record = json.loads((copy / name).read_text())
    change(record)
    (copy / name).write_text(json.dumps(record))
    return copy


def _set(field, value):
    def change(record):
        record["scaling"][field] = value
    return change


def test_a_constant_feature_s_equal_min_and_max_are_what_fit_writes_and_load(tables, tmp_path, capsys):
    folder, clean, _, _, run = tables
    scaling = json.loads((run / "preprocessing.json").read_text())["scaling"]
    assert scaling["data_min"][3] == scaling["data_max"][3] == 0.5
    assert main(["encode", "--run", str(run), "--data", str(clean), "--out", str(tmp_path / "z.npy")]) == 0
    assert np.load(tmp_path / "z.npy").shape == (60, 2)


@pytest.mark.parametrize(("change", "message"), [
    (_set("data_min", [0.0, 0.0, 2.0, 0.5]), "scaling.data_min[2] = 2.0 is above scaling.data_max[2]"),
    (_set("data_min", [0.0, 0.0]), "scaling.data_min holds 2 values but the model has 4 features"),
    (_set("data_max", [1.0, 1.0, float("inf"), 1.0]), "scaling.data_max[2] is inf; every bound must be a finite"),
    (_set("data_max", [1.0, float("nan"), 1.0, 1.0]), "scaling.data_max[1] is nan; every bound must be a finite"),
    (_set("data_min", [0.0, "0", 0.0, 0.0]), "scaling.data_min must be a non-empty list of numbers"),
    (_set("per_feature", False), "scaling.data_min holds 4 values but the model has one global range"),
    (lambda record: record.update(sample_shape=[3]), "sample_shape is [3], but it must be positive sizes"),
])
def test_a_tampered_preprocessing_json_is_refused_naming_the_file_and_field(tables, tmp_path, capsys, change,
                                                                            message):
    folder, clean, _, _, run = tables
    copy = _tamper(run, tmp_path, "preprocessing.json", change)
    out = tmp_path / "z.npy"
    assert main(["encode", "--run", str(copy), "--data", str(clean), "--out", str(out)]) == 2
    _one_line_error(capsys, f"{copy / 'preprocessing.json'} is damaged (", message)
    assert not out.exists()


def test_a_model_json_with_an_infinite_parameter_is_refused(tables, tmp_path, capsys):
    folder, clean, _, _, run = tables

    def change(record):
        record["params"]["weight_decay"] = float("inf")  # json writes Infinity

    copy = _tamper(run, tmp_path, "model.json", change)
    assert "Infinity" in (copy / "model.json").read_text()
    with pytest.raises(ValueError, match=r"model.json is not a valid aelab model: params.weight_decay is inf; it "
                       "must be a finite number"):
        load(copy)
    out = tmp_path / "z.npy"
    assert main(["encode", "--run", str(copy), "--data", str(clean), "--out", str(out)]) == 2
    _one_line_error(capsys, "params.weight_decay is inf")
    assert not out.exists()

    def part_change(record):  # a penalty whose weight is infinite, in a part's own parameters
        record["params"]["penalties"] = [{"part": "L1Code", "params": {"weight": float("inf")}}]

    copy = _tamper(run, tmp_path / "part", "model.json", part_change)
    with pytest.raises(ValueError, match=r"model.json: params.penalties\[0\].params.weight is inf; it must be a finite "
                       "number"):
        load(copy)


@pytest.mark.parametrize(("argv", "message"), [
    (["train", "--data", "digits", "--kind", "conv", "--hidden", "8"],
     "--hidden sets the widths of dense layers, but --kind conv uses convolutions"),
    (["train", "--data", "digits", "--label-column", "nope"],
     "--label-column nope (label_column) names a column of a CSV or Parquet file, but the built-in dataset digits"),
    (["train", "--data", "digits", "--data-dir", "."], "the built-in dataset digits does not use it; leave out"),
    (["train", "--data", "digits", "--kind", "sparse", "--activation", "tanh"],
     "--kind sparse uses its own activation (sigmoid), so --activation tanh would do nothing"),
    (["compare", "--data", "digits", "--methods", "raw,pca", "--epochs", "3"],
     "--epochs set(s) the autoencoder's training, but --methods raw,pca has no ae"),
    (["cluster", "--data", "digits", "--sweep", "2..4", "--k", "5"], "--sweep chooses k"),
    (["bench", "blobs", "--seeds", "3"], "the blobs study runs once and takes no --seeds"),
])
def test_options_that_would_do_nothing_are_refused(tmp_path, capsys, argv, message):
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    _one_line_error(capsys, message)
    assert left_in(tmp_path) == []


def test_label_column_of_an_npy_file_is_refused_in_memory_and_streamed(tables, tmp_path, capsys):
    folder, _, _, _, run = tables
    np.save(tmp_path / "x.npy", np.random.default_rng(0).random((40, 4)))
    train = ["train", "--data", str(tmp_path / "x.npy"), "--label-column", "y", *TINY, "--out", str(tmp_path / "o")]
    for argv in (train, [*train, "--stream"],
                 ["encode", "--run", str(run), "--data", str(tmp_path / "x.npy"), "--label-column", "y", "--out",
                  str(tmp_path / "z.npy")]):
        assert main(argv) == 2
        _one_line_error(capsys, "x.npy", "leave")
    assert left_in(tmp_path) == ["x.npy"]


def test_resume_refuses_settings_it_would_ignore(tables, tmp_path, capsys):
    folder, clean, _, _, _ = tables
    # an interrupted run: its checkpoint folder and job, no model yet
    assert main(["train", "--data", str(clean), *TINY, "--out", str(tmp_path / "run")]) == 0
    (tmp_path / "run" / "model.json").unlink()
    before = left_in(tmp_path / "run")
    capsys.readouterr()  # the first run's own messages
    assert main(["train", "--resume", str(tmp_path / "run"), "--epochs", "5", "--lr", "0.1"]) == 2
    _one_line_error(capsys, "--resume continues a run with the settings it was started with, so --epochs, --lr would "
                    "do nothing")
    assert left_in(tmp_path / "run") == before


def test_detect_refuses_hidden_with_conv(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).random((40, 8, 8)))
    out = tmp_path / "s.csv"
    assert main(["detect", "--data", str(tmp_path / "x.npy"), "--score", str(tmp_path / "x.npy"), "--out", str(out),
                 "--kind", "conv", "--hidden", "8"]) == 2
    _one_line_error(capsys, "--kind conv uses convolutions (32, 64 filters) and takes no --hidden")
    assert left_in(tmp_path) == ["x.npy"]


@pytest.mark.parametrize("stream", [False, True])
def test_a_file_without_rows_says_so(tmp_path, capsys, stream):
    np.save(tmp_path / "empty.npy", np.zeros((0, 4)))
    argv = ["train", "--data", str(tmp_path / "empty.npy"), *TINY, "--out", str(tmp_path / "o")]
    assert main([*argv, *(["--stream"] if stream else [])]) == 2
    _one_line_error(capsys, "empty.npy holds no rows (an array of shape (0, 4)); pass a file with one sample per row")
    assert left_in(tmp_path) == ["empty.npy"]
