"""Data files with some bad rows: stop naming them, or drop them with --skip-bad-rows and say how many."""

import json

import numpy as np
import pytest

from aelab.cli import main
from aelab.data import load_dataset
from aelab.data.dataset import checked_rows

BAD_CSV = "a,b,c,label\n1,2,3,0\n4,x,6,1\n7,8,9,0\n1,2,3,4,5\n1,,3,1\n5,5,5,1\n2,inf,2,0\n"


def test_bad_rows_of_a_csv_are_named(tmp_path):
    (tmp_path / "d.csv").write_text(BAD_CSV)
    dataset = load_dataset(tmp_path / "d.csv")
    with pytest.raises(ValueError, match=r"4 bad row\(s\) with NaN, infinite, missing or non-numeric values or the "
                       r"wrong number of fields \(rows 2, 4, 5, 7\); fix or remove them, or pass --skip-bad-rows"):
        checked_rows(dataset)


def test_skip_bad_rows_keeps_the_good_rows_and_their_labels(tmp_path):
    (tmp_path / "d.csv").write_text(BAD_CSV)
    dataset, skipped = checked_rows(load_dataset(tmp_path / "d.csv"), skip_bad_rows=True)
    assert dataset.X.tolist() == [[1, 2, 3], [7, 8, 9], [5, 5, 5]]
    assert dataset.y.tolist() == [0, 0, 1] and skipped.tolist() == [2, 4, 5, 7]


def test_npy_rows_with_nan_are_skipped(tmp_path):
    X = np.arange(12, dtype=np.float32).reshape(4, 3)
    X[1, 2] = np.nan
    np.save(tmp_path / "d.npy", X)
    dataset, skipped = checked_rows(load_dataset(tmp_path / "d.npy"), skip_bad_rows=True)
    assert dataset.X.tolist() == X[[0, 2, 3]].tolist() and skipped.tolist() == [2]


def test_all_rows_bad_is_an_error(tmp_path):
    (tmp_path / "d.csv").write_text("a,b\n1,\n,2\n")
    with pytest.raises(ValueError, match="all 2 rows are bad"):
        checked_rows(load_dataset(tmp_path / "d.csv"), skip_bad_rows=True)


def test_cli_train_and_encode_skip_bad_rows(tmp_path, capsys):
    rng = np.random.default_rng(0)
    lines = [",".join(f"{v:.4f}" for v in row) for row in rng.random((60, 5))]
    lines[3] = "0.1,oops,0.3,0.4,0.5"
    lines[10] = "0.1,0.2"
    lines[20] = "nan,0.2,0.3,0.4,0.5"
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    train = ["train", "--data", str(tmp_path / "d.csv"), "--hidden", "4", "--latent", "2", "--epochs", "1",
             "--quiet", "--device", "cpu", "--out", str(tmp_path / "run")]
    assert main(train) == 2
    assert "3 bad row(s)" in capsys.readouterr().err and not (tmp_path / "run").exists()
    assert main([*train, "--skip-bad-rows"]) == 0
    assert "skipped 3 bad row(s) (rows 4, 11, 21)" in capsys.readouterr().err
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["data"]["skipped_rows"] == [4, 11, 21] and config["data"]["n_samples"] == 57

    encode = ["encode", "--run", str(tmp_path / "run"), "--data", str(tmp_path / "d.csv"),
              "--out", str(tmp_path / "z.npy")]
    assert main(encode) == 2
    assert "(rows 4, 11, 21)" in capsys.readouterr().err
    assert main([*encode, "--skip-bad-rows"]) == 0
    assert "skipped 3 bad row(s)" in capsys.readouterr().err
    assert np.load(tmp_path / "z.npy").shape == (57, 2)


def test_cli_compare_skips_bad_rows(tmp_path, capsys):
    lines = [",".join(f"{v:.4f}" for v in row) for row in np.random.default_rng(1).random((40, 4))]
    lines[0] = "0.1,,0.3,0.4"
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    argv = ["compare", "--data", str(tmp_path / "d.csv"), "--methods", "raw,pca", "--quiet", "--out",
            str(tmp_path / "c")]
    assert main(argv) == 2
    assert "(rows 1)" in capsys.readouterr().err
    assert main([*argv, "--skip-bad-rows"]) == 0
    assert "skipped 1 bad row(s) (rows 1)" in capsys.readouterr().err
    assert json.loads((tmp_path / "c" / "config.json").read_text())["data"]["skipped_rows"] == [1]
