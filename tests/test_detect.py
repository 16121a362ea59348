"""``aelab detect`` end to end through the command line: the CSV, the report and the bad-row errors."""

import csv

import numpy as np
import pytest
from sklearn.datasets import load_digits

from aelab.cli import main

UNSEEN = 7
MODEL = ["--kind", "vanilla", "--hidden", "32", "--latent", "8", "--epochs", "40", "--scorer", "mse",
         "--contamination", "0.05"]


@pytest.fixture(scope="module")
def digit_files(tmp_path_factory):
    """train.npy: 8x8 images of digits other than 7 (values 0..16); score.csv: 100 held-out normal rows then
    40 sevens."""
    folder = tmp_path_factory.mktemp("detect")
    digits = load_digits()
    normal = np.flatnonzero(digits.target != UNSEEN)
    sevens = np.flatnonzero(digits.target == UNSEEN)[:40]
    np.save(folder / "train.npy", digits.images[normal[:1000]].astype(np.float32))
    rows = np.concatenate([digits.data[normal[1000:1100]], digits.data[sevens]])
    np.savetxt(folder / "score.csv", rows, delimiter=",", fmt="%g")
    return folder, rows


def _detect(folder, *extra):
    return main(["detect", "--data", str(folder / "train.npy"), *extra, *MODEL])


def test_detect_writes_scores_flags_ranks_and_a_report(digit_files, tmp_path, capsys):
    folder, rows = digit_files
    out = tmp_path / "scores.csv"
    assert _detect(folder, "--score", str(folder / "score.csv"), "--out", str(out)) == 0
    with open(out, newline="") as f:
        table = list(csv.DictReader(f))
    assert list(table[0]) == ["index", "score", "flag", "rank"]
    assert [int(r["index"]) for r in table] == list(range(len(rows)))
    scores = np.array([float(r["score"]) for r in table])
    flags = np.array([int(r["flag"]) for r in table])
    ranks = np.array([int(r["rank"]) for r in table])
    assert sorted(ranks) == list(range(1, len(rows) + 1))
    assert ranks[np.argmin(scores)] == 1 and ranks[np.argmax(scores)] == len(rows)
    assert set(flags) <= {-1, 1}
    # the flagged rows are exactly the lowest scores, and mostly the unseen digit
    assert scores[flags == -1].max() < scores[flags == 1].min()
    assert np.mean(flags[100:] == -1) > 0.5 and np.mean(flags[:100] == -1) < 0.2
    report = (tmp_path / "scores.html").read_text()
    assert report.startswith("<!DOCTYPE html>")
    assert "the 20 most anomalous rows" in report and 'alt="top_anomalies.png"' in report
    printed = capsys.readouterr().out
    assert f"scored {len(rows)} rows with mse: {int(np.sum(flags == -1))} flagged" in printed
    log = (tmp_path / "scores.log").read_text()
    assert f"INFO aelab.detect: training the detector on 1,000 samples of {folder / 'train.npy'} took " in log
    assert f"INFO aelab.detect: scoring {len(rows)} samples of {folder / 'score.csv'} took " in log
    written = out.read_text()
    assert _detect(folder, "--score", str(folder / "score.csv"), "--out", str(out)) == 2  # not without --force
    assert capsys.readouterr().err == (f"aelab: error: {out} already exists; pass --force to replace it, or another "
                                       "--out\n")
    assert out.read_text() == written


@pytest.mark.parametrize(("bad_row", "message"), [
    ("nan", "row 3, column 5 holds nan; rows with NaN, infinite values or values beyond float32"),
    ("huge", "row 3, column 5 holds 1e+300, beyond float32's range (|x| > 3.4e38); rows with NaN"),
    ("short", "row 3 has 63 values but the training data have 64 per row"),
    ("long", "row 3 has 65 values but the training data have 64 per row"),
])
def test_a_bad_row_in_the_score_file_is_named_and_nothing_is_written(digit_files, tmp_path, capsys, bad_row,
                                                                     message):
    folder, rows = digit_files
    lines = [",".join(f"{v:g}" for v in row) for row in rows[:5]]
    cells = lines[2].split(",")
    if bad_row in ("nan", "huge"):
        cells[4] = "nan" if bad_row == "nan" else "1e300"
    elif bad_row == "short":
        cells = cells[:-1]
    else:
        cells.append("0")
    lines[2] = ",".join(cells)
    score = tmp_path / "bad.csv"
    score.write_text("\n".join(lines) + "\n")
    out = tmp_path / "scores.csv"
    assert _detect(folder, "--score", str(score), "--out", str(out)) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1 and error.startswith("aelab: error:")
    assert not out.exists() and not (tmp_path / "scores.html").exists()


def test_detect_wants_a_csv_output_and_the_training_columns(digit_files, tmp_path, capsys):
    folder, rows = digit_files
    assert _detect(folder, "--score", str(folder / "score.csv"), "--out", str(tmp_path / "s.npy")) == 2
    assert "--out" in capsys.readouterr().err.split("must end in .csv")[0]
    narrow = tmp_path / "narrow.npy"
    np.save(narrow, rows[:, :60])
    assert _detect(folder, "--score", str(narrow), "--out", str(tmp_path / "s.csv")) == 2
    assert "has 60 features per row but --data" in capsys.readouterr().err


def test_detect_default_scorer_on_images_is_smooth_mse(digit_files, tmp_path, capsys):
    folder, rows = digit_files
    out = tmp_path / "scores.csv"
    assert main(["detect", "--data", str(folder / "train.npy"), "--score", str(folder / "score.csv"),
                 "--out", str(out), "--hidden", "32", "--latent", "8", "--epochs", "10"]) == 0
    assert f"scored {len(rows)} rows with smooth-mse:" in capsys.readouterr().out
    assert "<td class=\"text\">smooth-mse</td>" in (tmp_path / "scores.html").read_text()
