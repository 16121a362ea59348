import json
import re
import shutil

import numpy as np
import pytest

from aelab.report import latent_explorer, render_report
from tests.conftest import chromium, needs_chromium


def test_render_report_holds_tables_figures_and_config():
    page = render_report("a <title>", {"seed": 3}, {"scores": [{"method": "pca", "acc": 0.51234, "mse": None}]},
                         {"fig.png": b"\x89PNG fake"}, notes=["how it was measured"])
    assert "<title>a &lt;title&gt;</title>" in page
    assert ('<tr><td class="text">pca</td><td class="number">0.5123</td><td class="number">&ndash;</td></tr>'
            in page)
    assert '<img alt="fig.png" src="data:image/png;base64,iVBORyBmYWtl">' in page
    assert "&quot;seed&quot;: 3" in page and "how it was measured" in page


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
    assert "first 2 PCs of the 5-D code" in fragment
    with pytest.raises(ValueError, match="the code of pca has 10 rows but X has 50"):
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
    assert re.search(r'<div id="explorer-sample" class="explorer-sample"><img alt="sample \d+" '
                     r'src="data:image/png;base64,', dom.stdout)  # the sample panel was filled by the script

    screenshot = tmp_path / "report.png"
    shot = chromium("--window-size=1280,1800", f"--screenshot={screenshot}", url,
                     user_data_dir=tmp_path / "profile-shot")
    assert shot.returncode == 0, shot.stderr[-2000:]
    from PIL import Image

    image = np.asarray(Image.open(screenshot).convert("L"))
    assert image.shape == (1800, 1280)
    assert image.std() > 10  # not a blank page
    shutil.copy(screenshot, digits_report.parent / "screenshot.png")
