"""The interactive latent explorer: a Plotly scatter of the 2-D code, coloured by label, where hovering a point
shows that sample (a thumbnail for images, its first values for tables) and its label."""

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

# The sample panel is built from DOM nodes, and every string of the data reaches it through textContent: a label
# is data, never markup, whatever it holds.
_HOVER_SCRIPT = """
var plot = document.getElementById('{plot_id}');
function aelabIsland(id) {
  return JSON.parse(document.getElementById(id).textContent);
}
function aelabShowSample(index) {
  var samples = window.aelabSamples = window.aelabSamples || aelabIsland('explorer-samples');
  var labels = window.aelabLabels = window.aelabLabels || aelabIsland('explorer-labels');
  var sample = samples[index];
  var shown;
  if (sample.startsWith('data:image/png;base64,')) {
    shown = document.createElement('img');
    shown.alt = 'sample ' + index;
    shown.src = sample;
  } else {
    shown = document.createElement('pre');
    shown.textContent = sample;
  }
  var label = document.createElement('b');
  label.className = 'explorer-label';
  label.textContent = labels[index];
  var caption = document.createElement('p');
  caption.append('label: ', label, document.createElement('br'), 'test sample ' + index);
  document.getElementById('explorer-sample').replaceChildren(shown, caption);
}
plot.on('plotly_hover', function (event) {
  aelabShowSample(event.points[0].customdata[0]);
});
aelabShowSample(plot.data[0].customdata[0][0]);
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


def _explorer_figure(codes: dict[str, np.ndarray], shown: np.ndarray, labels: np.ndarray | None,
                     label_names: Sequence[str] | None):
    """The plotly figure: one trace per method and label (the first method's visible, a menu for the others),
    and the label name of every shown sample."""
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
                customdata=[[int(i)] for i in shown[mask]], text=[plotly_text(name)] * int(mask.sum()),
                meta=plotly_text(method),
                hovertemplate="label %{text}<br>sample %{customdata[0]}<extra>%{meta}</extra>",
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


def latent_explorer(
    codes: dict[str, np.ndarray],
    X: np.ndarray,
    labels: np.ndarray | None,
    sample_shape: Sequence[int],
    label_names: Sequence[str] | None = None,
    max_points: int = 2000,
    random_state: int = 0,
) -> str:
    """HTML fragment (plotly.js inline) of the interactive scatter of each method's code of ``X``.

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
    max_points : int, default=2000
        At most this many samples (a fixed random subset) are shown, to keep the file small.
    """
    if not codes:
        raise ValueError("latent_explorer needs the code of at least one method")
    n = len(X)
    for name, code in codes.items():
        if len(code) != n:
            raise ValueError(f"the code of {name} has {len(code)} rows but X has {n}; pass codes of X")
    shown = np.arange(n)
    if n > max_points:
        shown = np.sort(np.random.default_rng(random_state).choice(n, max_points, replace=False))
    is_image = len(sample_shape) >= 2
    samples = {int(i): (_thumbnail(X[i], sample_shape) if is_image else _values_text(X[i])) for i in shown}
    labels = None if labels is None else np.asarray(labels)[shown]
    figure, shown_labels = _explorer_figure(codes, shown, labels, label_names)
    plot = figure.to_html(full_html=False, include_plotlyjs=True, div_id="explorer-plot",
                          post_script=_HOVER_SCRIPT, config={"scrollZoom": True, "displaylogo": False})
    return (json_island("explorer-samples", samples) + json_island("explorer-labels", shown_labels) +
            # the sample panel comes first in the page so that it exists when the plot's script fills it
            f'<div class="explorer"><div id="explorer-sample" class="explorer-sample">'
            f'<p>hover a point to see its sample</p></div><div class="explorer-plot">{plot}</div></div>'
            f'<p class="note">{len(shown)} of {n} test samples shown. Drag to zoom, double-click to reset'
            f'{", choose the method in the menu" if len(codes) > 1 else ""}; hover a point to see the sample.</p>')
