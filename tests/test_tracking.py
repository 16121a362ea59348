"""Tracking: ``aelab train --track`` records the run in a CSV file, TensorBoard event files and an MLflow store, each
read back with its own tools."""

import csv
import json

import numpy as np
import pytest

from aelab import Autoencoder
from aelab.cli import main
from aelab.training import Callback
from aelab.training.tracking import CSVLogger, MLflowLogger

TRAIN = ["train", "--data", "digits", "--hidden", "8", "--latent", "2", "--epochs", "2", "--patience", "5",
         "--quiet", "--device", "cpu"]


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    """One run recorded by all three trackers (MLflow in a file store, which MLflow 3 opens on request)."""
    pytest.importorskip("tensorboard")
    pytest.importorskip("mlflow")
    folder = tmp_path_factory.mktemp("tracked")
    uri = f"file:{folder / 'mlruns'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        assert main([*TRAIN, "--out", str(folder / "run"), "--track", f"csv:{folder / 'epochs.csv'}",
                     "--track", f"tensorboard:{folder / 'tb'}", "--track", f"mlflow:{uri}"]) == 0
    metrics = json.loads((folder / "run" / "metrics.json").read_text())
    return folder, uri, metrics


def test_the_csv_holds_one_row_per_epoch(tracked):
    folder, _, metrics = tracked
    with (folder / "epochs.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert [float(row["train_loss"]) for row in rows] == metrics["history"]["train_loss"]
    assert [float(row["validation_loss"]) for row in rows] == metrics["history"]["validation_loss"]
    assert {row["learning_rate"] for row in rows} == {"0.001"}


def test_tensorboard_events_read_back(tracked):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    folder, _, metrics = tracked
    events = EventAccumulator(str(folder / "tb"))
    events.Reload()
    train = events.Scalars("train_loss")
    assert [e.step for e in train] == [1, 2]
    np.testing.assert_allclose([e.value for e in train], metrics["history"]["train_loss"], rtol=1e-6)
    final = events.Scalars("ae/reconstruction_mse")
    assert [e.step for e in final] == [2]
    np.testing.assert_allclose(final[0].value, metrics["ae"]["reconstruction_mse"], rtol=1e-6)
    assert "params/text_summary" in events.Tags()["tensors"]


def test_mlflow_run_reads_back_through_its_client(tracked, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    folder, uri, metrics = tracked
    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("aelab").experiment_id])
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert params["kind"] == "vanilla" and params["data.name"] == "digits" and params["epochs"] == "2"
    assert params["batch_size"] == "256" and params["hidden"] == "[8]"
    history = client.get_metric_history(run.info.run_id, "validation_loss")
    assert sorted((m.step, m.value) for m in history) == list(enumerate(metrics["history"]["validation_loss"], 1))
    assert run.data.metrics["ae/kmeans_accuracy"] == metrics["ae"]["kmeans_accuracy"]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"model.json", "model.safetensors", "preprocessing.json", "metrics.json", "report.html"} <= artifacts


class _Fails(Callback):
    def on_epoch_end(self, state):
        raise RuntimeError("disk on fire")


def test_a_failed_fit_ends_its_mlflow_run_as_failed(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = f"file:{tmp_path / 'mlruns'}"
    tracker = MLflowLogger(uri, experiment="failing", run_name="first")
    X = np.random.default_rng(0).random((40, 6))
    with pytest.raises(RuntimeError, match="disk on fire"):
        Autoencoder(n_components=2, epochs=2, device="cpu", callbacks=[tracker, _Fails()]).fit(X)
    run = MlflowClient(tracking_uri=uri).get_run(tracker.run_id_)
    assert run.info.status == "FAILED" and run.info.run_name == "first"


class _FailsInEpoch2(Callback):
    def on_epoch_end(self, state):
        if state.epoch == 2:
            raise RuntimeError("power cut")


def test_a_resumed_run_appends_to_its_csv(tmp_path):
    path, checkpoint = tmp_path / "epochs.csv", tmp_path / "checkpoint"
    X = np.random.default_rng(0).random((40, 6))
    params = {"n_components": 2, "epochs": 3, "device": "cpu", "random_state": 0}
    with pytest.raises(RuntimeError, match="power cut"):  # after epoch 1's checkpoint, before epoch 2's row
        Autoencoder(**params, callbacks=[_FailsInEpoch2(), CSVLogger(path)]).fit(X, checkpoint=checkpoint)
    assert [line.split(",")[0] for line in path.read_text().splitlines()] == ["epoch", "1"]
    Autoencoder(**params, callbacks=[CSVLogger(path)]).fit(X, resume=checkpoint)
    assert [line.split(",")[0] for line in path.read_text().splitlines()] == ["epoch", "1", "2", "3"]


@pytest.mark.parametrize(("track", "message"), [
    ("wandb:runs", "--track 'wandb:runs' is not one of tensorboard:DIR, mlflow:URI or csv:FILE"),
    ("{out}/tb", "is not one of tensorboard:DIR"),
    ("csv:{out}/logs/epochs.csv", "lies in the run folder"),
])
def test_a_bad_track_option_is_one_line(tmp_path, capsys, track, message):
    out = tmp_path / "run"
    assert main([*TRAIN, "--out", str(out), "--track", track.format(out=out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not out.exists()


def test_a_copy_of_an_open_logger_starts_closed(tmp_path):
    from sklearn.base import clone

    logger = CSVLogger(tmp_path / "epochs.csv")
    ae = Autoencoder(n_components=2, epochs=1, device="cpu", callbacks=[logger])
    logger._file = (tmp_path / "epochs.csv").open("w")  # as during training
    copy = clone(ae).callbacks[0]
    assert copy.path == logger.path and copy._file is None and not logger._file.closed
    logger._file.close()
