import json
import re

import numpy as np
import pytest

from aelab.cli import main
from aelab.compare import METHODS, CompareJob, parse_methods, run_comparison
from aelab.data import DataOptions, load_dataset
from aelab.data.preprocessing import subset_dataset
from tests.conftest import needs_fashion_mnist

COMPARE = ["compare", "--data", "digits", "--methods", "raw,pca,ae", "--hidden", "32", "--epochs", "2",
           "--device", "cpu", "--quiet"]
METRICS = ["reconstruction_mse", "reconstruction_bce", "psnr", "kmeans_accuracy", "kmeans_nmi", "kmeans_ari",
           "gmm_accuracy", "gmm_nmi", "gmm_ari", "silhouette", "trustworthiness", "knn_accuracy", "fit_seconds",
           "transform_seconds"]


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    """A comparison folder of raw input, PCA and a tiny autoencoder on the digits, and what it printed."""
    import contextlib
    import io

    out = tmp_path_factory.mktemp("compare") / "digits"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main([*COMPARE, "--out", str(out)]) == 0
    return out, printed.getvalue()


def test_compare_prints_every_metric_for_every_method(comparison):
    _, printed = comparison
    lines = printed.splitlines()
    assert lines[0] == "digits: 1438 train / 359 test samples; 2-D codes; metrics on the test split"
    assert lines[1].split() == ["metric", "raw", "pca", "ae"]  # one row per metric, by its metrics.json name
    rows = {line.split()[0]: line.split()[1:] for line in lines[3:3 + len(METRICS)]}
    assert list(rows) == METRICS
    assert [rows[m][0] for m in METRICS[:3]] == ["-", "-", "-"]  # the raw input has no decoder
    assert rows["trustworthiness"][0] == "1.0000"  # the input is trustworthy to itself
    assert all(row[1] != "-" and row[2] != "-" for row in rows.values())
    assert lines[-1].startswith("comparison folder: ") and lines[-1].endswith("(report.html)")


def test_compare_writes_metrics_figures_and_report(comparison):
    out, _ = comparison
    names = sorted(p.name for p in out.iterdir())
    assert names == ["config.json", "latent_ae.png", "latent_grid_ae.png", "latent_grid_pca.png", "latent_panel.png",
                     "latent_pca.png", "latent_raw.png", "log.txt", "loss_ae.png", "metrics.json",
                     "reconstructions_ae.png", "reconstructions_pca.png", "report.html", "worst_reconstructions_ae.png",
                     "worst_reconstructions_pca.png"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics) == ["raw", "pca", "ae"]
    assert metrics["raw"]["reconstruction_mse"] is None
    assert metrics["raw"]["trustworthiness"] == pytest.approx(1.0, abs=1e-5)  # < 1 only by ties in the digits
    assert 0 < metrics["pca"]["reconstruction_mse"] < 0.1 and metrics["pca"]["psnr"] > 10
    assert len(metrics["ae"]["history"]["train_loss"]) == 2
    config = json.loads((out / "config.json").read_text())
    assert config["job"]["methods"] == ["raw", "pca", "ae"] and config["split"]["n_test"] == 359


def test_compare_logs_each_method_with_its_time_in_log_txt(comparison):
    out, _ = comparison
    log = (out / "log.txt").read_text()
    for method in ("raw", "pca", "ae"):
        assert re.search(rf"INFO aelab.compare: {method}: fitting on 1,438 training samples and measuring on 359 test "
                         r"samples took [\d.]+ s\n", log), log
    assert re.search(r"DEBUG aelab.training.callbacks: epoch 2/2: loss [\d.]+, validation loss [\d.]+", log), log


def test_report_is_self_contained(comparison):
    out, _ = comparison
    report = (out / "report.html").read_text()
    scripts = re.findall(r"<script\b[^>]*>", report)
    assert len(scripts) == 5 and not any("src=" in tag for tag in scripts)  # plotly.js, samples, labels inline
    assert "<link" not in report
    assert report.count('<table class="metrics">') == 2
    assert report.count('<figure><img alt="') == 11  # the 11 PNG figures of the folder, embedded
    samples = report.split('<script type="application/json" id="explorer-samples">')[1].split("</script>")[0]
    samples = json.loads(samples)
    assert len(samples) == 359 and all(s.startswith("data:image/png;base64,") for s in samples.values())
    assert len(report) < 8_000_000


def test_unknown_method_is_a_one_line_error_listing_the_known_ones(tmp_path, capsys):
    assert main(["compare", "--data", "digits", "--methods", "pca,vae", "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert err == "aelab: error: unknown method 'vae'; known methods: raw, pca, tsne, umap, ae, umap-ae\n"
    assert not (tmp_path / "c").exists()


def test_method_registry_and_parsing():
    assert list(METHODS) == ["raw", "pca", "tsne", "umap", "ae", "umap-ae"]
    assert parse_methods(" pca, ae ") == ("pca", "ae")
    with pytest.raises(ValueError, match="method 'pca' is listed twice"):
        parse_methods("pca,ae,pca")
    with pytest.raises(ValueError, match="no methods given"):
        parse_methods(",")


def test_comparison_of_tabular_data_has_no_image_figures(tmp_path):
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 40)
    X = rng.normal(size=(80, 6)) + 4 * y[:, None]
    np.savez(tmp_path / "table.npz", X=X, y=y)
    outcome = run_comparison(CompareJob(data=DataOptions(str(tmp_path / "table.npz")), methods=("pca",),
                                        random_state=0))
    assert sorted(outcome.figures) == ["latent_panel.png", "latent_pca.png"]
    assert outcome.results["pca"].metrics["kmeans_accuracy"] == 1.0


def test_subset_is_a_fixed_random_subset():
    digits = load_dataset("digits")
    subset = subset_dataset(digits, 100, random_state=0)
    keep = np.sort(np.random.default_rng(0).choice(1797, 100, replace=False))
    np.testing.assert_array_equal(subset.X, digits.X[keep])
    assert subset.n_train is None and "random subset of 100, seed 0" in subset.source
    assert subset_dataset(digits, 5000) is digits
    with pytest.raises(ValueError, match="integer >= 2, got 1"):
        subset_dataset(digits, 1)


@needs_fashion_mnist
def test_subset_of_fashion_mnist_keeps_train_and_test_parts():
    fashion = load_dataset("fashion-mnist")
    subset = subset_dataset(fashion, 700, random_state=0)
    assert subset.n_samples == 700 and subset.n_train == 600  # 60,000 : 10,000
    assert subset.label_names == fashion.label_names
