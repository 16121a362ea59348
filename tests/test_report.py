import json
import re
import shutil

import numpy as np
import pytest

from aelab.metrics import METRIC_DEFINITIONS
from aelab.report import explorer_figure, latent_explorer, metric_rows, render_report
from tests.conftest import chromium, needs_chromium


def test_render_report_holds_tables_figures_and_config():
    page = render_report("a <title>", {"job": {"seed": 3, "hidden": [64, 32]}},
                         {"scores": [{"method": "pca", "acc": 0.51234, "mse": None}]},
                         {"fig.png": b"\x89PNG fake"}, notes=["how it was measured"], command="aelab train --seed 3")
    assert "<title>a &lt;title&gt;</title>" in page
    assert ('<tr><td class="text">pca</td><td class="number">0.5123</td><td class="number">&ndash;</td></tr>'
            in page)
    assert '<img alt="fig.png" src="data:image/png;base64,iVBORyBmYWtl">' in page
    assert "how it was measured" in page
    # the configuration: when, how and with what it was made, then the settings, one per row
    assert re.search(r"<tr><th>written</th><td>20\d\d-\d\d-\d\d \d\d:\d\d:\d\d UTC</td></tr>", page)
    assert "<tr><th>command line</th><td>aelab train --seed 3</td></tr>" in page
    for package in ("aelab", "python", "torch", "numpy", "scikit-learn"):
        assert re.search(rf"<tr><th>{package}</th><td>\d+\.\d+[^<]*</td></tr>", page), package
    assert ('<tr class="section"><th colspan="2">job</th></tr><tr><th>seed</th><td>3</td></tr>'
            "<tr><th>hidden</th><td>64, 32</td></tr>") in page


def test_metrics_are_rows_with_their_definitions():
    rows = metric_rows({"ae": {"fit_seconds": 2.0, "kmeans_accuracy": 0.8, "history": {"train_loss": [1.0]}},
                        "pca": {"fit_seconds": 0.1, "kmeans_accuracy": 0.6, "reconstruction_mse": None}})
    assert [row["metric"] for row in rows] == ["reconstruction_mse", "kmeans_accuracy", "fit_seconds"]
    assert rows[1] == {"metric": "kmeans_accuracy", "ae": 0.8, "pca": 0.6,
                       "definition": METRIC_DEFINITIONS["kmeans_accuracy"]}
    assert rows[0]["ae"] is None  # a metric one method lacks shows as a dash


def test_every_metric_of_a_run_and_a_comparison_has_a_definition(digits_report):
    metrics = json.loads((digits_report.parent / "metrics.json").read_text())
    names = {name for values in metrics.values() for name in values if name != "history"}
    assert names - set(METRIC_DEFINITIONS) == set()
    page = digits_report.read_text(encoding="utf-8")
    assert '<td class="definition">5-fold cross-validated accuracy of a 5-nearest-neighbour classifier' in page
    assert "see aelab compare" not in page


def test_explorer_figure_is_a_plotly_figure_with_the_rows_on_hover():
    import plotly.graph_objects as go

    code = np.arange(12.0).reshape(6, 2)
    figure = explorer_figure({"pca": code, "ae": -code}, np.array([0, 1, 0, 1, 0, 1]), label_names=["a", "b"],
                             rows=np.array([10, 11, 12, 13, 14, 15]))
    assert isinstance(figure, go.Figure)
    assert [trace.name for trace in figure.data] == ["a", "b", "a", "b"]  # one per method and label
    assert [trace.visible for trace in figure.data] == [True, True, False, False]
    assert [list(row) for row in figure.data[1].customdata] == [[1, 11], [3, 13], [5, 15]]
    assert "row %{customdata[1]}" in figure.data[0].hovertemplate
    with pytest.raises(ValueError, match="the code of ae has 5 rows but the code of pca has 6"):
        explorer_figure({"pca": code, "ae": code[:5]})


def test_plotly_loads_from_its_cdn_when_asked():
    X = np.linspace(0, 1, 12).reshape(6, 2)
    inline = latent_explorer({"pca": X}, X, None, (2,))
    cdn = latent_explorer({"pca": X}, X, None, (2,), plotly="cdn")
    assert len(inline) - len(cdn) > 3_000_000  # plotly.js itself
    assert re.search(r'<script charset="utf-8" src="https://cdn\.plot\.ly/plotly-[\d.]+\.min\.js"', cdn)
    with pytest.raises(ValueError, match="plotly must be one of inline, cdn, got 'local'"):
        latent_explorer({"pca": X}, X, None, (2,), plotly="local")


def test_explorer_subsamples_and_shows_values_of_tabular_data():
    rng = np.random.default_rng(0)
    X = rng.random((50, 20))
    labels = np.repeat([0, 1], 25)
    fragment = latent_explorer({"pca": X[:, :2], "wide": X[:, :5]}, X, labels, (20,), max_points=30)
    samples = json.loads(fragment.split('id="explorer-samples">')[1].split("</script>")[0])
    keep = np.sort(np.random.default_rng(0).choice(50, 30, replace=False))
    assert sorted(int(i) for i in samples) == keep.tolist()
    first = str(keep[0])
    assert samples[first].startswith(f"x0={X[keep[0], 0]:.4g}, x1=") and samples[first].endswith("(20 values)")
    assert "30 of 50 test samples shown" in fragment and "choose the method in the menu" in fragment
    assert "Hover or click a point to see the sample" in fragment
    assert "first 2 PCs of the 5-D code" in fragment
    with pytest.raises(ValueError, match="the code of pca has 10 rows but X has 50; pass codes of the same"):
        latent_explorer({"pca": X[:10, :2]}, X, labels, (20,))


@pytest.fixture(scope="module")
def digits_report(tmp_path_factory):
    from aelab.compare import CompareJob, run_comparison, write_comparison
    from aelab.data import DataOptions

    outcome = run_comparison(CompareJob(data=DataOptions("digits"), methods=("raw", "pca"), random_state=0))
    return write_comparison(outcome, tmp_path_factory.mktemp("report") / "digits") / "report.html"


@needs_chromium
def test_report_opens_in_headlesschromium(digits_report, tmp_path):
    url = digits_report.resolve().as_uri()
    dom = chromium("--dump-dom", url, user_data_dir=tmp_path / "profile-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]
    assert console == []  # no errors (nor any other console output) while the page loads and draws
    explorer = dom.stdout.split('id="explorer-plot"', 1)[1]
    assert len(re.findall(r'<path class="point[ "]', explorer.split('class="legend"')[0])) == 359  # raw shown
    assert dom.stdout.count('<table class="metrics">') == 2
    # metrics as rows: one per metric, one column per method, the definition last
    assert "<tr><th>metric</th><th>raw</th><th>pca</th><th>definition</th></tr>" in dom.stdout
    # before any hover, the sample panel holds the hint
    assert ('<div id="explorer-sample" class="explorer-sample"><p class="hint">Hover or click a point to see the '
            "sample") in dom.stdout

    screenshot = tmp_path / "report.png"
    shot = chromium("--window-size=1280,1800", f"--screenshot={screenshot}", url,
                     user_data_dir=tmp_path / "profile-shot")
    assert shot.returncode == 0, shot.stderr[-2000:]
    from PIL import Image

    image = np.asarray(Image.open(screenshot).convert("L"))
    assert image.shape == (1800, 1280)
    assert image.std() > 10  # not a blank page
    shutil.copy(screenshot, digits_report.parent / "screenshot.png")


@pytest.fixture(scope="module")
def train_report(tmp_path_factory):
    from aelab.cli import main

    out = tmp_path_factory.mktemp("train") / "run"
    assert main(["train", "--data", "digits", "--hidden", "16", "--latent", "2", "--epochs", "2", "--seed", "0",
                 "--quiet", "--device", "cpu", "--out", str(out)]) == 0
    return out / "report.html"


def test_train_report_shows_pca_beside_the_autoencoder_and_how_it_was_made(train_report):
    page = train_report.read_text(encoding="utf-8")
    rows = re.findall(r'<div class="figure-row">(.*?)</div>', page, re.S)
    pairs = [re.findall(r'<img alt="([^"]+)"', row) for row in rows]
    assert ["latent.png", "latent_pca.png"] in pairs and ["reconstructions.png", "reconstructions_pca.png"] in pairs
    assert ["latent_grid.png", "latent_grid_pca.png"] in pairs and ["loss.png"] in pairs
    command = ("aelab train --data digits --hidden 16 --latent 2 --epochs 2 --seed 0 --quiet --device cpu --out "
               f"{train_report.parent}")
    assert f"<tr><th>command line</th><td>{command}</td></tr>" in page
    assert "<tr><th>job.n_components</th>" not in page and "<tr><th>n_components</th><td>2</td></tr>" in page


# Appended to a copy of a report: records how wide the page is once everything is drawn.
WIDTH_PROBE = """<script>
window.addEventListener('load', function () { setTimeout(function () {
  var out = document.createElement('pre');
  out.id = 'aelab-width';
  out.textContent = JSON.stringify({scroll: document.documentElement.scrollWidth, window: window.innerWidth});
  document.body.appendChild(out);
}, 500); });
</script>
"""


@needs_chromium
@pytest.mark.parametrize("report", ["train_report", "digits_report"])
def test_a_1400_pixel_wide_page_has_no_sideways_scroll(report, request, tmp_path):
    page = request.getfixturevalue(report).read_text(encoding="utf-8")
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", WIDTH_PROBE + "</body>"), encoding="utf-8")
    dom = chromium("--window-size=1400,4000", "--dump-dom", probed.resolve().as_uri(),
                   user_data_dir=tmp_path / "profile")
    assert dom.returncode == 0, dom.stderr[-2000:]
    width = json.loads(re.search(r'<pre id="aelab-width">(.*?)</pre>', dom.stdout, re.S).group(1))
    assert width["window"] == 1400
    assert width["scroll"] <= 1400


# Appended to a copy of a report: moves the mouse over the first point shown, then records the sample panel.
HOVER_PROBE = """<script>
window.addEventListener('load', function () { setTimeout(function () {
  var plot = document.getElementById('explorer-plot');
  var point = plot.querySelector('.scatterlayer path.point').getBoundingClientRect();
  plot.querySelector('.nsewdrag').dispatchEvent(new MouseEvent('mousemove', {bubbles: true,
      clientX: point.left + point.width / 2, clientY: point.top + point.height / 2}));
  setTimeout(function () {
    var panel = document.getElementById('explorer-sample');
    var out = document.createElement('pre');
    out.id = 'aelab-panel';
    out.textContent = JSON.stringify({caption: panel.querySelector('p').textContent,
                                      image: panel.querySelector('img').src});
    document.body.appendChild(out);
  }, 300);
}, 500); });
</script>
"""


@needs_chromium
def test_hovering_a_point_shows_its_row_of_the_data(train_report, tmp_path):
    import base64
    import io

    from PIL import Image
    from sklearn.datasets import load_digits

    page = train_report.read_text(encoding="utf-8")
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", HOVER_PROBE + "</body>"), encoding="utf-8")
    dom = chromium("--dump-dom", probed.resolve().as_uri(), user_data_dir=tmp_path / "profile")
    assert dom.returncode == 0, dom.stderr[-2000:]
    panel = json.loads(re.search(r'<pre id="aelab-panel">(.*?)</pre>', dom.stdout, re.S).group(1))
    label, row = re.fullmatch(r"label: (\d)row (\d+) of the data", panel["caption"]).groups()
    digits = load_digits()
    assert int(label) == digits.target[int(row)]
    shown = np.asarray(Image.open(io.BytesIO(base64.b64decode(panel["image"].split(",", 1)[1]))))
    np.testing.assert_allclose(shown, digits.images[int(row)] / 16 * 255, atol=0.51)  # that row's image
