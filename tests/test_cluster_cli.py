"""``aelab cluster`` and ``aelab bench clustering`` end to end through the entry point."""

import json
import re

import numpy as np
import pytest

from aelab.bench.clustering import DEFAULT_METHODS
from aelab.cli import main


def test_cluster_kmeans_writes_assignments_and_report(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["cluster", "--data", "digits", "--method", "kmeans", "--k", "10", "--hidden", "32,32,64",
                 "--epochs", "3", "--quiet", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "digits: 1797 samples, kmeans, k = 10" in printed and "accuracy" in printed and "ari" in printed
    lines = (out / "assignments.csv").read_text().splitlines()
    assert lines[0] == "index,cluster,label" and len(lines) == 1798 and lines[1].endswith(",0")
    clusters = np.array([int(line.split(",")[1]) for line in lines[1:]])
    assert set(clusters) == set(range(10))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["k"] == 10 and sum(metrics["cluster_sizes"]) == 1797 and 0 < metrics["accuracy"] <= 1
    assert {"clusters.png", "cluster_samples.png", "report.html", "config.json"} <= {p.name for p in out.iterdir()}
    assert "k_sweep.png" not in {p.name for p in out.iterdir()}
    stages = [line.split(": ", 1)[1] for line in (out / "log.txt").read_text().splitlines() if " took " in line]
    assert [re.sub(r"took [\d.]+ s$", "took N s", stage) for stage in stages] == [
        "pretraining the autoencoder on 1,797 samples of digits took N s",
        "kmeans clustering of the code into 10 clusters took N s"]


def test_cluster_sweep_chooses_k(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["cluster", "--data", "digits", "--method", "gmm", "--sweep", "8..11", "--hidden", "32,32,64",
                 "--epochs", "3", "--quiet", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert [row["k"] for row in metrics["sweep"]] == [8, 9, 10, 11]
    best = max(metrics["sweep"], key=lambda row: row["silhouette"])["k"]
    assert metrics["k"] == best and f"k = {best}" in capsys.readouterr().out
    assert (out / "k_sweep.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(("args", "message"), [
    (["--k", "0"], "the number of clusters must be positive, got 0"),
    (["--k", "many"], "expected a number of clusters or 'auto', got 'many'"),
    (["--sweep", "5..3"], "the range of k must start at 2 or more"),
    (["--method", "spectral"], "invalid choice: 'spectral'"),
    (["--epochs", "0"], "epochs must be >= 1, got 0"),
])
def test_cluster_rejects_bad_arguments(tmp_path, capsys, args, message):
    assert main(["cluster", "--data", "digits", *args, "--out", str(tmp_path / "out")]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_bench_clustering_quick(tmp_path):
    out = tmp_path / "out"
    assert main(["bench", "clustering", "--quick", "--quiet", "--out", str(out)]) == 0
    record = json.loads((out / "results.json").read_text())
    summary = record["tables"]["mean and standard deviation over seeds"]
    assert [row["method"] for row in summary] == list(DEFAULT_METHODS)
    assert all(row["seeds"] == 2 and 0 < row["accuracy_mean"] <= 1 for row in summary)
    assert len(record["tables"]["every seed"]) == 2 * len(summary)
    assert record["data"]["n_train_used"] == 300 and record["settings"]["seeds"] == [0, 1]
    assert {"clusters.png", "cluster_samples.png"} <= {p.name for p in out.iterdir()}


def test_bench_clustering_runs_the_methods_named(tmp_path):
    out = tmp_path / "out"
    assert main(["bench", "clustering", "--quick", "--quiet", "--seeds", "1", "--methods",
                 "raw-kmeans,umap-ae-n2d-input,umap-ae-n2d,umap-ae-gmm", "--out", str(out)]) == 0
    record = json.loads((out / "results.json").read_text())
    summary = {row["method"]: row for row in record["tables"]["mean and standard deviation over seeds"]}
    assert list(summary) == ["umap-ae-gmm", "umap-ae-n2d", "umap-ae-n2d-input", "raw-kmeans"]
    assert record["settings"]["methods"] == list(summary)
    assert all(0 < row["accuracy_mean"] <= 1 and row["seeds"] == 1 for row in summary.values())
    # each neighbour-graph row pretrains its own autoencoder; the raw input needs none
    assert all(summary[m]["pretrain_seconds"] > 0 for m in ("umap-ae-gmm", "umap-ae-n2d", "umap-ae-n2d-input"))
    assert summary["raw-kmeans"]["pretrain_seconds"] is None
    assert "clusters.png" in {p.name for p in out.iterdir()}
    assert any("umap-ae-n2d" in note for note in record["notes"])


@pytest.mark.parametrize(("args", "message"), [
    (["clustering", "--methods", "umap-ae-gmm,kmeans"], "--methods 'umap-ae-gmm,kmeans': unknown method 'kmeans'; "
                                                        "choose among ae-kmeans"),
    (["clustering", "--methods", ","], "--methods ',': no method"),
    (["blobs", "--methods", "pca"], "the blobs study runs all its methods and takes no --methods"),
])
def test_bench_rejects_bad_methods(tmp_path, capsys, args, message):
    out = tmp_path / "out"
    assert main(["bench", *args, "--quick", "--out", str(out)]) == 2
    assert message in capsys.readouterr().err and not out.exists()
