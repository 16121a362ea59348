"""The interactive latent explorer: a Plotly scatter of the 2-D code, coloured by label, where hovering or
clicking a point shows that sample (a thumbnail for images, its first values for tables), its label and its row
in the data. ``explorer_figure`` gives the scatter alone as a plotly Figure, for a notebook."""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Sequence

import numpy as np

from aelab.extras import import_optional

# matplotlib's tab10, so that the explorer's colours match the PNG figures
COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf"]
N_VALUES_SHOWN = 12

#: How the report holds plotly.js: inline (the file opens without a network connection) or from plotly's CDN
#: (a file smaller by about 4.8 MB, the size of plotly.js).
PLOTLY_MODES = {"inline": True, "cdn": "cdn"}

# The sample panel is built from DOM nodes, and every string of the data reaches it through textContent: a label
# is data, never markup, whatever it holds.
_HOVER_SCRIPT = """
var plot = document.getElementById('{plot_id}');
function aelabIsland(id) {
  return JSON.parse(document.getElementById(id).textContent);
}
function aelabShowSample(index, row) {
  var samples = window.aelabSamples = window.aelabSamples || aelabIsland('explorer-samples');
  var labels = window.aelabLabels = window.aelabLabels || aelabIsland('explorer-labels');
  var sample = samples[index];
  var shown;
  if (sample.startsWith('data:image/png;base64,')) {
    shown = document.createElement('img');
    shown.alt = 'row ' + row;
    shown.src = sample;
  } else {
    shown = document.createElement('pre');
    shown.textContent = sample;
  }
  var label = document.createElement('b');
  label.className = 'explorer-label';
  label.textContent = labels[index];
  var caption = document.createElement('p');
  caption.append('label: ', label, document.createElement('br'), 'row ' + row + ' of the data');
  document.getElementById('explorer-sample').replaceChildren(shown, caption);
}
function aelabShowPoint(event) {
  aelabShowSample(event.points[0].customdata[0], event.points[0].customdata[1]);
}
plot.on('plotly_hover', aelabShowPoint);
plot.on('plotly_click', aelabShowPoint);
"""


def json_island(element_id: str, value) -> str:
    """A ``<script type="application/json">`` element holding ``value``, read back with
    ``JSON.parse(element.textContent)``.

    ``<``, ``>`` and ``&`` are written as ``\\u003c``, ``\\u003e`` and ``\\u0026``, so that no string in ``value``
    (``</script>``, ``<!--``) can end the element early or change how the page around it is parsed.
    """
    text = json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="{html.escape(element_id)}">{text}</script>'


def plotly_text(text: str) -> str:
    """``text`` as plotly shows it literally.

    Plotly reads names, titles and hover text as a subset of HTML (``<b>``, ``<br>``, ``<a href>``) and fills
    ``%{...}`` in them from the data; it decodes only a few named entities (``&amp;``, ``&lt;``, ``&gt;``) and the
    numeric ones. So ``&``, ``<``, ``>`` and ``%`` are written as entities, and nothing else.

    Examples
    --------
    >>> plotly_text('<a href="javascript:x()">%{x}</a>')
    '&lt;a href="javascript:x()"&gt;&#37;{x}&lt;/a&gt;'
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("%", "&#37;")


def _thumbnail(row: np.ndarray, sample_shape: Sequence[int]) -> str:
    Image = import_optional("PIL.Image", "the latent explorer of images")

    image = np.clip(np.asarray(row, dtype=np.float64).reshape(sample_shape), 0.0, 1.0)
    if image.ndim == 3:  # (C, H, W)
        image = image[0] if image.shape[0] == 1 else np.moveaxis(image, 0, -1)
    buffer = io.BytesIO()
    Image.fromarray(np.round(image * 255).astype(np.uint8)).save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _values_text(row: np.ndarray) -> str:
    shown = ", ".join(f"x{i}={v:.4g}" for i, v in enumerate(np.asarray(row)[:N_VALUES_SHOWN]))
    return shown + (f", ... ({len(row)} values)" if len(row) > N_VALUES_SHOWN else "")


def _two_dimensional(code: np.ndarray) -> tuple[np.ndarray, str]:
    code = np.asarray(code, dtype=np.float64)
    if code.shape[1] == 1:
        return np.column_stack([code[:, 0], np.zeros(len(code))]), "1-D code"
    if code.shape[1] == 2:
        return code, "2-D code"
    from sklearn.decomposition import PCA

    return PCA(n_components=2, random_state=0).fit_transform(code), f"first 2 PCs of the {code.shape[1]}-D code"


def _label_name(c, label_names: Sequence[str] | None) -> str:
    if c is None:
        return "unlabelled"
    if label_names is not None and 0 <= int(c) < len(label_names):
        return str(label_names[int(c)])
    return str(c)


def _figure(codes: dict[str, np.ndarray], shown: np.ndarray, rows: np.ndarray, labels: np.ndarray | None,
            label_names: Sequence[str] | None):
    """The plotly figure of the ``shown`` samples (positions in the codes, ``rows`` their rows in the data): one
    trace per method and label (the first method's visible, a menu for the others), and the label name of every
    shown sample."""
    go = import_optional("plotly.graph_objects", "the latent explorer")

    classes = [None] if labels is None else list(np.unique(labels))
    figure = go.Figure()
    visibility, subtitles, shown_labels = [], [], {}
    for m, (method, code) in enumerate(codes.items()):
        points, what = _two_dimensional(np.asarray(code)[shown])
        subtitles.append(plotly_text(f"{method}: {what}"))
        for k, c in enumerate(classes):
            mask = np.ones(len(shown), bool) if c is None else labels == c
            name = _label_name(c, label_names)
            shown_labels.update((int(i), name) for i in shown[mask])
            # the label reaches plotly only escaped (name, text) and the page's panel only through JSON
            figure.add_trace(go.Scatter(
                x=points[mask, 0], y=points[mask, 1], mode="markers", name=plotly_text(name),
                legendgroup=plotly_text(name), showlegend=True, visible=(m == 0),
                marker={"size": 6, "color": COLOURS[k % len(COLOURS)], "opacity": 0.75},
                customdata=[[int(i), int(r)] for i, r in zip(shown[mask], rows[mask], strict=True)],
                text=[plotly_text(name)] * int(mask.sum()), meta=plotly_text(method),
                hovertemplate="label %{text}<br>row %{customdata[1]}<extra>%{meta}</extra>",
            ))
            visibility.append(m)
    menus = []
    if len(codes) > 1:
        buttons = [{"label": plotly_text(method), "method": "update",
                    "args": [{"visible": [v == m for v in visibility]}, {"title.text": subtitles[m]}]}
                   for m, method in enumerate(codes)]
        menus = [{"buttons": buttons, "direction": "down", "x": 0.0, "xanchor": "left", "y": 1.12,
                  "yanchor": "top", "showactive": True}]
    figure.update_layout(title={"text": subtitles[0], "x": 0.5}, updatemenus=menus, hovermode="closest",
                         legend={"title": {"text": "label"}, "itemsizing": "constant"}, height=620,
                         margin={"l": 50, "r": 20, "t": 90, "b": 50}, template="plotly_white")
    return figure, shown_labels


def _shown_samples(codes: dict[str, np.ndarray], n: int | None, rows, max_points: int,
                   random_state: int) -> tuple[np.ndarray, np.ndarray]:
    """The positions of the samples shown (all, or a fixed random subset of ``max_points``) and their rows;
    ``n`` is the number of samples of X (None: that of the first code)."""
    if not codes:
        raise ValueError("the latent explorer needs the code of at least one method")
    first, *_ = codes
    reference = "X" if n is not None else f"the code of {first}"
    n = len(codes[first]) if n is None else n
    for name, code in codes.items():
        if len(code) != n:
            raise ValueError(f"the code of {name} has {len(code)} rows but {reference} has {n}; pass codes of the "
                             "same samples")
    rows = np.arange(n) if rows is None else np.asarray(rows)
    if len(rows) != n:
        raise ValueError(f"rows holds {len(rows)} row indices for {n} samples; pass one per sample")
    shown = np.arange(n)
    if n > max_points:
        shown = np.sort(np.random.default_rng(random_state).choice(n, max_points, replace=False))
    return shown, rows[shown]


def explorer_figure(
    codes: dict[str, np.ndarray],
    labels: np.ndarray | None = None,
    label_names: Sequence[str] | None = None,
    rows: np.ndarray | None = None,
    max_points: int = 2000,
    random_state: int = 0,
):
    """The latent explorer's scatter as a ``plotly.graph_objects.Figure``, to show in a notebook.

    One trace per method and label, coloured as the report's figures; a menu switches between methods when
    there are several; hovering a point shows its label and its row in the data.

    Parameters
    ----------
    codes : dict of str to ndarray of shape (n_samples, n_components)
        Each method's code of the same samples; codes wider than 2 are shown by their first two principal
        components.
    labels : ndarray of shape (n_samples,), optional
    label_names : sequence of str, optional
        The name of each label value 0..k-1.
    rows : ndarray of shape (n_samples,), optional
        The index of each sample in the data, shown on hover (default 0..n_samples-1).
    max_points : int, default=2000
        At most this many samples (a fixed random subset) are shown.
    random_state : int, default=0

    Returns
    -------
    plotly.graph_objects.Figure

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.decomposition import PCA
    >>> X, y = load_digits(return_X_y=True)
    >>> figure = explorer_figure({"pca": PCA(2).fit_transform(X)}, y)
    >>> len(figure.data)  # one trace per digit
    10
    """
    shown, shown_rows = _shown_samples(codes, None, rows, max_points, random_state)
    return _figure(codes, shown, shown_rows, None if labels is None else np.asarray(labels)[shown], label_names)[0]


def latent_explorer(
    codes: dict[str, np.ndarray],
    X: np.ndarray,
    labels: np.ndarray | None,
    sample_shape: Sequence[int],
    label_names: Sequence[str] | None = None,
    rows: np.ndarray | None = None,
    max_points: int = 2000,
    random_state: int = 0,
    plotly: str = "inline",
) -> str:
    """HTML fragment of the interactive scatter of each method's code of ``X`` beside a panel that shows the
    sample of the point hovered or clicked.

    Parameters
    ----------
    codes : dict of str to ndarray of shape (n_samples, n_components)
        The code of the rows of ``X`` for each method; a menu switches between methods. Codes wider than 2 are
        shown by their first two principal components.
    X : ndarray of shape (n_samples, n_features)
        The samples, shown on hover: images (values in [0, 1]) as thumbnails, other data as values.
    labels : ndarray of shape (n_samples,) or None
    sample_shape : tuple of int
        Shape of one sample; 2-D or 3-D means an image.
    label_names : sequence of str, optional
    rows : ndarray of shape (n_samples,), optional
        The index of each sample of ``X`` in the data it was drawn from (``Split.test_rows``), shown with it;
        default 0..n_samples-1.
    max_points : int, default=2000
        At most this many samples (a fixed random subset) are shown, to keep the file small.
    random_state : int, default=0
    plotly : {"inline", "cdn"}, default="inline"
        Hold plotly.js in the fragment, or load it from plotly's CDN (a smaller file that needs a network
        connection to show the scatter).
    """
    if plotly not in PLOTLY_MODES:
        raise ValueError(f"plotly must be one of {', '.join(PLOTLY_MODES)}, got {plotly!r}")
    n = len(X)
    shown, shown_rows = _shown_samples(codes, n, rows, max_points, random_state)
    is_image = len(sample_shape) >= 2
    samples = {int(i): (_thumbnail(X[i], sample_shape) if is_image else _values_text(X[i])) for i in shown}
    labels = None if labels is None else np.asarray(labels)[shown]
    figure, shown_labels = _figure(codes, shown, shown_rows, labels, label_names)
    plot = figure.to_html(full_html=False, include_plotlyjs=PLOTLY_MODES[plotly], div_id="explorer-plot",
                          post_script=_HOVER_SCRIPT, config={"scrollZoom": True, "displaylogo": False})
    return (json_island("explorer-samples", samples) + json_island("explorer-labels", shown_labels) +
            f'<div class="explorer"><div id="explorer-sample" class="explorer-sample">'
            f'<p class="hint">Hover or click a point to see the sample, its label and its row in the data.</p>'
            f'</div><div class="explorer-plot">{plot}</div></div>'
            f'<p class="note">{len(shown)} of {n} test samples shown. Drag to zoom, double-click to reset'
            f'{", choose the method in the menu" if len(codes) > 1 else ""}.</p>')
