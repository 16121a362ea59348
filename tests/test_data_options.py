"""The data options every job shares: checked in one place, loaded and split the same way by every job, and
read back from a run's job.json by --resume."""

import json
from dataclasses import asdict

import numpy as np
import pytest

from aelab.cli import main
from aelab.compare import CompareJob
from aelab.data import DataOptions, load_dataset, split_dataset
from aelab.runs import TrainJob, resume_job, start_checkpoint


@pytest.fixture
def table(tmp_path):
    """A CSV of 40 rows of 3 features plus a label column y, whose row 5 (1-based) holds NaN."""
    rng = np.random.default_rng(0)
    X = rng.random((40, 3))
    X[4, 1] = np.nan
    y = np.arange(40) % 2
    path = tmp_path / "t.csv"
    rows = "\n".join(",".join(f"{v:.5f}" for v in x) + f",{label}" for x, label in zip(X, y, strict=True))
    path.write_text("a,b,c,y\n" + rows + "\n")
    return path


@pytest.mark.parametrize("options, message", [
    (DataOptions("digits", test_size=1.0), r"test_size must be between 0 and 1 \(exclusive\), got 1.0"),
    (DataOptions("digits", test_size=True), "test_size must be between 0 and 1"),
    (DataOptions("digits", subset=1), "subset must be an integer >= 2, got 1"),
    (DataOptions("digits", subset=2.5), "subset must be an integer >= 2, got 2.5"),
    (DataOptions("digits", label_column="y"), "--label-column y .* the built-in dataset digits has no named columns"),
    (DataOptions("digits", data_dir="."), "the built-in dataset digits does not use it; leave out --data-dir"),
])
def test_check_refuses_a_bad_or_useless_option(options, message):
    with pytest.raises(ValueError, match=message):
        options.check()


def test_check_refuses_options_of_the_wrong_type():
    with pytest.raises(TypeError, match="name must be a string, got 3"):
        DataOptions(3).check()
    with pytest.raises(TypeError, match="skip_bad_rows must be True or False, got 'yes'"):
        DataOptions("digits", skip_bad_rows="yes").check()


def test_load_stops_at_a_bad_row_or_skips_it(table):
    with pytest.raises(ValueError, match="t.csv: row 5, column 2 .* pass --skip-bad-rows"):
        DataOptions(str(table), label_column="y").load()
    with pytest.raises(ValueError, match="row 5, column 2 .*; fix or remove them first$"):
        DataOptions(str(table), label_column="y").load(remedy="fix or remove them first")
    dataset, skipped = DataOptions(str(table), label_column="y", skip_bad_rows=True).load()
    assert dataset.n_samples == 39 and dataset.n_features == 3 and skipped.tolist() == [5]
    np.testing.assert_array_equal(dataset.y, np.delete(np.arange(40) % 2, 4))


def test_load_and_split_are_those_of_load_dataset_and_split_dataset():
    options = DataOptions("digits", test_size=0.3, subset=300)
    dataset, skipped = options.load(random_state=7)
    again, _ = options.load(random_state=7)
    assert dataset.n_samples == 300 and skipped.tolist() == []
    np.testing.assert_array_equal(dataset.X, again.X)
    full = load_dataset("digits")
    rows = [int(np.flatnonzero((full.X == x).all(axis=1))[0]) for x in dataset.X[:5]]
    assert rows == sorted(rows)  # a subset keeps the rows' order
    split = options.split(dataset, random_state=7)
    expected = split_dataset(dataset, test_size=0.3, random_state=7)
    np.testing.assert_array_equal(split.test_index, expected.test_index)
    assert split.description["n_test"] == 90


def test_every_job_holds_the_same_record():
    assert TrainJob().data == CompareJob().data == DataOptions()
    assert DataOptions() == DataOptions(name="mnist5k", data_dir=None, label_column=None, test_size=0.2, subset=None,
                                        skip_bad_rows=False)


def test_from_dict_reads_back_asdict_and_refuses_anything_else():
    options = DataOptions("fashion-mnist", data_dir="/data", test_size=0.25, subset=1000, skip_bad_rows=True)
    assert DataOptions.from_dict(json.loads(json.dumps(asdict(options)))) == options
    with pytest.raises(ValueError, match="exactly the keys"):
        DataOptions.from_dict({**asdict(options), "extra": 1})
    with pytest.raises(ValueError, match="exactly the keys"):
        DataOptions.from_dict("digits")
    with pytest.raises(ValueError, match="subset must be an integer >= 2, got 'many'"):
        DataOptions.from_dict({**asdict(options), "subset": "many"})
    with pytest.raises(ValueError, match="data_dir must be a string or None, got 3"):
        DataOptions.from_dict({**asdict(options), "data_dir": 3})


def test_the_job_json_of_a_run_holds_the_record_and_resume_reads_it_back(tmp_path):
    job = TrainJob(data=DataOptions("digits", test_size=0.3, skip_bad_rows=True), hidden=(8,), epochs=2)
    folder = start_checkpoint(tmp_path / "run", job)
    record = json.loads((folder / "job.json").read_text())
    assert record["data"] == {"name": "digits", "data_dir": None, "label_column": None, "test_size": 0.3,
                              "subset": None, "skip_bad_rows": True}
    assert resume_job(tmp_path / "run") == (job, folder)
    record["data"]["test_size"] = 2
    (folder / "job.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match=r"job.json: test_size must be between 0 and 1 \(exclusive\), got 2; .*"
                       "train the run again with --force$"):
        resume_job(tmp_path / "run")


def test_the_cli_builds_the_record_from_the_shared_options(tmp_path, table, capsys):
    out = tmp_path / "run"
    assert main(["train", "--data", str(table), "--label-column", "y", "--skip-bad-rows", "--test-size", "0.25",
                 "--hidden", "4", "--latent", "2", "--epochs", "1", "--quiet", "--device", "cpu",
                 "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["job"]["data"] == {"name": str(table), "data_dir": None, "label_column": "y", "test_size": 0.25,
                                     "subset": None, "skip_bad_rows": True}
    assert config["data"]["skipped_rows"] == [5] and config["split"]["n_test"] == 10
    assert "skipped 1 bad row(s) (rows 5)" in capsys.readouterr().err
    assert main(["compare", "--data", "digits", "--methods", "raw", "--subset", "1", "--out", str(tmp_path / "c")]) == 2
    assert "subset must be an integer >= 2, got 1; pass e.g. --subset 1000" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_the_test_split_names_each_sample_by_its_row_in_the_data(table):
    # a subset of the digits: the test samples are the rows test_rows of the whole dataset
    options = DataOptions("digits", subset=300)
    dataset, _ = options.load(random_state=1)
    split = options.split(dataset, random_state=1)
    whole = load_dataset("digits")
    assert len(split.test_rows) == 60 and split.test_rows.max() > 300  # rows of the 1,797, not of the 300
    np.testing.assert_array_equal(whole.X[split.test_rows], split.X_test)
    np.testing.assert_array_equal(whole.y[split.test_rows], split.y_test)
    # a bad row dropped: the rows after it keep their number in the file (0-based: row 5 of the file is 4)
    options = DataOptions(str(table), label_column="y", skip_bad_rows=True, test_size=0.5)
    dataset, skipped = options.load()
    split = options.split(dataset)
    assert skipped.tolist() == [5] and 4 not in split.test_rows
    raw = np.genfromtxt(table, delimiter=",", skip_header=1)[:, :3]
    np.testing.assert_allclose(raw[split.test_rows], split.X_test, rtol=1e-5)
