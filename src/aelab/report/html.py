"""Assembling and writing the report: one HTML file with everything embedded (PNG as base64, plotly.js inline)."""

from __future__ import annotations

import base64
import html
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aelab.io import atomic_write_bytes

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto; max-width: 1200px;
       padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
table.metrics { border-collapse: collapse; font-size: 0.9rem; margin: 0.5rem 0 1rem; }
table.metrics th, table.metrics td { border: 1px solid #ddd; padding: 0.3rem 0.6rem; text-align: right; }
table.metrics th:first-child, table.metrics td:first-child { text-align: left; }
table.metrics thead th { background: #f4f4f4; }
table.metrics td.text { text-align: left; }
pre.config { background: #f7f7f7; padding: 0.8rem; overflow-x: auto; font-size: 0.85rem; }
figure { margin: 1rem 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.9rem; color: #555; }
.explorer { display: flex; gap: 1rem; align-items: flex-start; }
.explorer-plot { flex: 1 1 auto; min-width: 0; }
.explorer-sample { flex: 0 0 190px; font-size: 0.9rem; order: 2; }
.explorer-sample img { width: 168px; image-rendering: pixelated; border: 1px solid #ccc; }
.explorer-sample pre { white-space: pre-wrap; font-size: 0.8rem; }
.note { font-size: 0.85rem; color: #555; }
"""


def figure_png(figure, dpi: int = 110) -> bytes:
    """The PNG bytes of a matplotlib Figure."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def figure_pngs(figures: dict[str, Any], dpi: int = 110) -> dict[str, bytes]:
    """The PNG bytes of each matplotlib Figure of ``figures`` (name -> Figure), in order."""
    return {name: figure_png(figure, dpi=dpi) for name, figure in figures.items()}


def _cell(value: Any) -> str:
    if value is None:
        return "&ndash;"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 100 else f"{value:.1f}"
    return html.escape(str(value))


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    if not rows:
        return '<p class="note">nothing measured</p>'
    columns = list(columns or dict.fromkeys(k for row in rows for k in row))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    def td(value) -> str:
        kind = "text" if isinstance(value, str) else "number"
        return f'<td class="{kind}">{_cell(value)}</td>'

    body = "".join("<tr>" + "".join(td(row.get(c)) for c in columns) + "</tr>" for row in rows)
    return f'<table class="metrics"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def render_report(
    title: str,
    config: dict[str, Any],
    tables: dict[str, Sequence[dict[str, Any]]],
    figures: dict[str, bytes],
    explorer: str | None = None,
    notes: Sequence[str] = (),
    captions: dict[str, str] | None = None,
) -> str:
    """The report as one HTML string.

    Parameters
    ----------
    title : str
    config : dict
        The job's configuration, shown as JSON.
    tables : dict of str to list of dict
        Each table's caption and its rows (one dict per row, the keys are the columns).
    figures : dict of str to bytes
        Each figure's file name and its PNG bytes; shown in order, embedded as base64.
    explorer : str, optional
        The latent explorer fragment from ``latent_explorer``.
    notes : sequence of str
        Sentences shown under the tables (how things were measured).
    captions : dict of str to str, optional
        A line shown under the figure of that file name, e.g. what its curve says.
    """
    parts = [f"<h1>{html.escape(title)}</h1>"]
    parts.append("<h2>Metrics</h2>")
    for caption, rows in tables.items():
        parts.append(f"<h3>{html.escape(caption)}</h3>{_table(rows)}")
    parts += [f'<p class="note">{html.escape(note)}</p>' for note in notes]
    if explorer is not None:
        parts.append(f"<h2>Latent explorer</h2>{explorer}")
    if figures:
        parts.append("<h2>Figures</h2>")
        for name, png in figures.items():
            encoded = base64.b64encode(png).decode("ascii")
            caption = (captions or {}).get(name)
            line = "" if caption is None else f'<br><span class="caption">{html.escape(caption)}</span>'
            parts.append(f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{encoded}">'
                         f"<figcaption>{html.escape(name)}{line}</figcaption></figure>")
    parts.append("<h2>Configuration</h2>")
    parts.append(f'<pre class="config">{html.escape(json.dumps(config, indent=2, default=str))}</pre>')
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>\n"
            + "\n".join(parts) + "\n</body></html>\n")


def write_report(path: str | os.PathLike, document: str) -> Path:
    """Write the HTML ``document`` atomically to ``path``."""
    path = Path(path)
    atomic_write_bytes(path, document.encode("utf-8"))
    return path
