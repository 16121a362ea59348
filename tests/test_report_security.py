"""Reports built from hostile strings (labels, column names, file names) stay inert in a browser and show the
strings as text."""

import html
import json
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aelab.cli import main
from aelab.report import latent_explorer
from tests.conftest import chromium, needs_chromium

# each payload, were it to run, marks <body> with data-pwned
LABELS = [
    "<img src=x onerror=\"document.body.dataset.pwned='img'\">",
    "<script>document.body.dataset.pwned='script'</script>",
    "<svg onload=\"document.body.dataset.pwned='svg'\"></svg>",
    "<a href=\"javascript:document.body.dataset.pwned='href'\">a link</a>",
    "</script><script>document.body.dataset.pwned='close'</script>",
    "<!--<script>",
    "%{customdata[0]} &amp; <b>bold</b><br>",
    "<iframe srcdoc=\"<script>parent.document.body.dataset.pwned='iframe'</script>\"></iframe>",
]
COLUMNS = ["<img src=x onerror=\"document.body.dataset.pwned='column'\">", "<script>document.body.dataset"
           ".pwned='column2'</script>", "plain", "</pre><img src=x onerror=\"document.body.dataset.pwned='pre'\">"]
FILE_NAME = "<img src=x onerror=\"document.body.dataset.pwned='file'\">.csv"

# Appended to a copy of a report: moves the mouse over every point of the method shown, and records what the
# sample panel, plotly's hover label and the legend then show, as text.
PROBE = """<script>
window.addEventListener('load', function () { setTimeout(function () {
  var plot = document.getElementById('explorer-plot');
  var surface = plot.querySelector('.nsewdrag');
  var points = plot.querySelectorAll('.scatterlayer path.point');
  var result = {panel: [], hover: [], legend: []};
  plot.querySelectorAll('.legendtext').forEach(function (e) { result.legend.push(e.textContent); });
  function next(k) {
    if (k > 0) {
      var label = document.querySelector('#explorer-sample b');
      var hover = plot.querySelector('.hoverlayer .hovertext');
      result.panel.push(label === null ? null : label.textContent);
      result.hover.push(hover === null ? null : hover.textContent);
    }
    if (k === points.length) {
      var out = document.createElement('pre');
      out.id = 'aelab-probe';
      out.textContent = JSON.stringify(result);
      document.body.appendChild(out);
      return;
    }
    var box = points[k].getBoundingClientRect();
    surface.dispatchEvent(new MouseEvent('mousemove', {bubbles: true, clientX: box.left + box.width / 2,
                                                       clientY: box.top + box.height / 2}));
    setTimeout(function () { next(k + 1); }, 200);  // plotly drops hovers closer than 50 ms apart
  }
  next(0);
}, 500); });
</script>
"""


@pytest.fixture(scope="module")
def hostile_csv(tmp_path_factory):
    """80 rows of 4 columns named by payloads, every label a payload, in a file whose name is a payload."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.random((80, len(COLUMNS))) + np.repeat(np.arange(8), 10)[:, None], columns=COLUMNS)
    frame["label"] = [LABELS[i % len(LABELS)] for i in range(80)]
    path = tmp_path_factory.mktemp("hostile") / FILE_NAME
    frame.to_csv(path, index=False)
    return path


METHOD = {"train": "ae", "compare": "raw"}  # the method shown first, named in the hover label
SMALL = ["--hidden", "8", "--epochs", "1", "--seed", "0"]


@pytest.fixture(scope="module")
def reports(hostile_csv, tmp_path_factory):
    """The report.html of train, compare, cluster, detect and bench, all made from the hostile CSV."""
    out = tmp_path_factory.mktemp("reports")
    data = str(hostile_csv)
    commands = {
        "train": ["train", "--data", data, "--latent", "2", "--batch-size", "16", *SMALL, "--quiet",
                  "--device", "cpu", "--out", str(out / "train")],
        "compare": ["compare", "--data", data, "--methods", "raw,pca,ae", "--latent", "2", *SMALL, "--quiet",
                    "--device", "cpu", "--out", str(out / "compare")],
        "cluster": ["cluster", "--data", data, "--method", "kmeans", "--k", "3", "--latent", "2", *SMALL,
                    "--quiet", "--device", "cpu", "--out", str(out / "cluster")],
        "detect": ["detect", "--data", data, "--score", data, "--hidden", "8", "--latent", "2", "--epochs", "1",
                   "--device", "cpu", "--out", str(out / "detect.csv")],
        "bench": ["bench", "blobs", "--data", data, "--quick", "--epochs", "1", "--quiet", "--device", "cpu",
                  "--out", str(out / "bench")],
    }
    for command in commands.values():
        assert main(command) == 0, command
    paths = {name: out / name / "report.html" for name in ("train", "compare", "cluster", "bench")}
    paths["detect"] = out / "detect.html"
    return paths


def _probe(report, tmp_path):
    page = report.read_text(encoding="utf-8")
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = chromium("--dump-dom", probed.resolve().as_uri(), user_data_dir=tmp_path / "profile")
    assert dom.returncode == 0, dom.stderr[-2000:]
    return dom.stdout


@needs_chromium
@pytest.mark.parametrize("command", ["train", "compare", "cluster", "detect", "bench"])
def test_no_payload_runs_in_any_report(reports, command, tmp_path):
    dom = _probe(reports[command], tmp_path)
    assert re.findall(r"data-pwned=\"[^\"]*\"", dom) == []  # no script of a label, column or file name ran
    title = html.unescape(re.search(r"<h1>(.*?)</h1>", dom, re.S).group(1))
    assert FILE_NAME in title  # the file name is shown as text, whole
    if command not in ("train", "compare"):
        return
    probe = json.loads(html.unescape(re.search(r'<pre id="aelab-probe">(.*?)</pre>', dom, re.S).group(1)))
    # the legend, the sample panel and plotly's hover label show each label exactly, as text
    assert sorted(probe["legend"]) == sorted(LABELS)
    assert len(probe["panel"]) == 16  # the mouse went over every test sample, not only the first one shown
    assert sorted(set(probe["panel"])) == sorted(LABELS)
    for panel, hover in zip(probe["panel"], probe["hover"], strict=True):
        assert re.fullmatch(rf"{METHOD[command]}label {re.escape(panel)}row \d+", hover)


def _json_values(text: str, key: str) -> list:
    """Every value of ``"key":`` in the JSON-like ``text``."""
    decoder = json.JSONDecoder()
    return [decoder.raw_decode(text, match.end())[0] for match in re.finditer(f'"{key}":', text)]


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
@settings(max_examples=50, deadline=None)
def test_any_label_reaches_the_page_only_as_json_or_escaped_plotly_text(label):
    X = np.linspace(0, 1, 12).reshape(6, 2)
    fragment = latent_explorer({"pca": X}, X, np.array([0, 1, 0, 1, 0, 1]), (2,), label_names=[label, "other"])
    # the sample panel's labels: a JSON island that round-trips every label and holds no character of markup
    island = re.search(r'<script type="application/json" id="explorer-labels">(.*?)</script>', fragment, re.S)
    assert not re.search(r"[<>&]", island.group(1))
    assert json.loads(island.group(1)) == {str(i): (label if i % 2 == 0 else "other") for i in range(6)}
    # plotly's legend and hover text: the label with its markup and template characters as entities, which plotly
    # decodes when it shows the text
    figure = fragment.split("Plotly.newPlot(", 1)[1]
    name, other = _json_values(figure, "name")
    assert (html.unescape(name), other) == (label, "other") and not re.search(r"[<>%]", name)
    assert _json_values(figure, "text") == [[name] * 3, ["other"] * 3, "pca: 2-D code", "label"]
    # numbers only: the sample's index in the page and its row in the data
    assert _json_values(figure, "customdata") == [[[0, 0], [2, 2], [4, 4]], [[1, 1], [3, 3], [5, 5]]]
