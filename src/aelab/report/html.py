"""Assembling and writing the report: one HTML file with everything embedded (PNG as base64, plotly.js inline
unless the report loads it from plotly's CDN)."""

from __future__ import annotations

import base64
import html
import io
import os
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from aelab.io import atomic_write_bytes
from aelab.metrics import METRIC_DEFINITIONS
from aelab.report.explorer import PLOTLY_MODES

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto; max-width: 1200px;
       padding: 0 1rem; color: #222; overflow-wrap: anywhere; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
h3 { font-size: 1.05rem; }
.table-box { max-width: 100%; overflow-x: auto; }
table.metrics { border-collapse: collapse; font-size: 0.9rem; margin: 0.5rem 0 1rem; }
table.metrics th, table.metrics td { border: 1px solid #ddd; padding: 0.3rem 0.6rem; text-align: right;
                                     vertical-align: top; }
table.metrics th:first-child, table.metrics td:first-child { text-align: left; }
table.metrics thead th { background: #f4f4f4; white-space: nowrap; }
table.metrics thead th:last-child { text-align: left; }
table.metrics td { overflow-wrap: normal; }
table.metrics td.text { text-align: left; }
table.metrics td.definition { text-align: left; color: #555; font-size: 0.85rem; min-width: 18rem; }
table.metrics td.number { font-variant-numeric: tabular-nums; white-space: nowrap; }
.settings-grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 380px), 1fr));
                 column-gap: 2rem; align-items: start; }
table.settings { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0 1rem; width: 100%; }
table.settings th, table.settings td { border-bottom: 1px solid #eee; padding: 0.2rem 0.8rem 0.2rem 0;
                                      text-align: left; vertical-align: top; }
table.settings th { font-weight: normal; color: #555; white-space: nowrap; }
table.settings tr.section th { font-weight: bold; color: #222; padding-top: 0.8rem; }
table.settings td { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; }
.figure-row { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 440px), 1fr)); gap: 1rem;
              align-items: start; }
figure { margin: 1rem 0; min-width: 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.9rem; color: #555; }
.explorer { display: flex; gap: 1rem; align-items: flex-start; }
.explorer-plot { flex: 1 1 auto; min-width: 0; }
.explorer-sample { flex: 0 0 190px; font-size: 0.9rem; order: 2; }
.explorer-sample img { width: 168px; image-rendering: pixelated; border: 1px solid #ccc; }
.explorer-sample pre { white-space: pre-wrap; font-size: 0.8rem; }
.explorer-sample .hint { color: #555; border: 1px dashed #bbb; padding: 0.6rem; }
.note { font-size: 0.85rem; color: #555; }
"""


@dataclass(frozen=True)
class ReportOptions:
    """How a job writes its report.

    Parameters
    ----------
    plotly : {"inline", "cdn"}, default="inline"
        Hold plotly.js in the report (it opens without a network connection) or load it from plotly's CDN (a
        file about 4.8 MB smaller).
    command : str, optional
        The command line that made the report, shown in its configuration; None for a job called from Python.
    """

    plotly: str = "inline"
    command: str | None = None

    def __post_init__(self) -> None:
        if self.plotly not in PLOTLY_MODES:
            raise ValueError(f"plotly must be one of {', '.join(PLOTLY_MODES)}, got {self.plotly!r}; pass "
                             "--plotly inline or --plotly cdn")


#: The packages whose versions a report records.
RECORDED_PACKAGES = ("torch", "numpy", "scikit-learn", "plotly")


def provenance(command: str | None = None) -> dict[str, str]:
    """When the report was written (UTC), the command line, and the versions of aelab, Python and the packages
    of ``RECORDED_PACKAGES`` (read from their installed metadata, so none is imported)."""
    from importlib.metadata import PackageNotFoundError, version

    from aelab import __version__

    record = {"written": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
              "command line": command or "none: the job was called from Python",
              "aelab": __version__, "python": platform.python_version()}
    for package in RECORDED_PACKAGES:
        try:
            record[package] = version(package)
        except PackageNotFoundError:
            record[package] = "not installed"
    return record


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

    def td(column: str, value) -> str:
        kind = "definition" if column == "definition" else "text" if isinstance(value, str) else "number"
        return f'<td class="{kind}">{_cell(value)}</td>'

    body = "".join("<tr>" + "".join(td(c, row.get(c)) for c in columns) + "</tr>" for row in rows)
    return f'<div class="table-box"><table class="metrics"><thead><tr>{head}</tr></thead><tbody>{body}</tbody>' \
           "</table></div>"


def metric_rows(results: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The metrics of several methods as rows: one per metric, one column per method, and the metric's
    definition (``aelab.metrics.METRIC_DEFINITIONS``) last.

    ``results`` maps a method's name to its metrics (a metric's name to a number, None where the method has
    no such value). Metrics come in the order of the definitions, those without one after them; values that
    are not numbers (a loss history) are left out.

    Examples
    --------
    >>> metric_rows({"ae": {"psnr": 20.5}, "pca": {"psnr": 18.0}})[0]["pca"]
    18.0
    """
    def is_shown(value) -> bool:
        return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))

    names = dict.fromkeys(name for metrics in results.values() for name, value in metrics.items()
                          if is_shown(value))
    ordered = [name for name in METRIC_DEFINITIONS if name in names] + [n for n in names if n not in
                                                                         METRIC_DEFINITIONS]
    return [{"metric": name, **{method: metrics.get(name) for method, metrics in results.items()},
             "definition": METRIC_DEFINITIONS.get(name, "")} for name in ordered]


def _figure(name: str, png: bytes, caption: str | None) -> str:
    line = "" if caption is None else f'<br><span class="caption">{html.escape(caption)}</span>'
    encoded = base64.b64encode(png).decode("ascii")
    return (f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{encoded}">'
            f"<figcaption>{html.escape(name)}{line}</figcaption></figure>")


def _figures(figures: Mapping[str, bytes], side_by_side: Sequence[Sequence[str]],
             captions: Mapping[str, str]) -> list[str]:
    """Each figure as an embedded image, in order, with its line of ``captions`` if it has one; the figures of a
    group of ``side_by_side`` share a row."""
    group_of = {name: tuple(group) for group in side_by_side for name in group}
    parts, done = [], set()
    for name in figures:
        if name in done:
            continue
        group = [n for n in group_of.get(name, (name,)) if n in figures]
        done.update(group)
        cells = "".join(_figure(n, figures[n], captions.get(n)) for n in group)
        parts.append(f'<div class="figure-row">{cells}</div>')
    return parts


def _setting_text(value: Any, shown: int = 20) -> str:
    if isinstance(value, (list, tuple)):
        text = ", ".join(str(v) for v in value[:shown])
        return (text + f", ... ({len(value)} in all)") if len(value) > shown else (text or "none")
    if value is None:
        return "none"
    return str(value)


def _settings_rows(record: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    rows = []
    for key, value in record.items():
        if isinstance(value, Mapping):
            rows += _settings_rows(value, f"{prefix}{key}.")
        else:
            rows.append((f"{prefix}{key}", _setting_text(value)))
    return rows


def settings_table(sections: Mapping[str, Any]) -> str:
    """Tables of settings side by side: a record of ``sections`` is a table of a heading row then one row per
    setting (nested records as dotted names; lists joined, long ones cut to their first 20 values); the values
    of ``sections`` that are not records are rows of a first table without heading.

    Examples
    --------
    >>> settings_table({"seed": 3})
    '<div class="settings-grid"><table class="settings"><tbody><tr><th>seed</th><td>3</td></tr></tbody></table></div>'
    """
    tables, loose = [], []
    for section, record in sections.items():
        if isinstance(record, Mapping):
            heading = f'<tr class="section"><th colspan="2">{html.escape(str(section))}</th></tr>'
            tables.append(heading + _setting_rows_html(_settings_rows(record)))
        else:
            loose.append((str(section), _setting_text(record)))
    if loose:
        tables.insert(0, _setting_rows_html(loose))
    return '<div class="settings-grid">' + "".join(
        f'<table class="settings"><tbody>{table}</tbody></table>' for table in tables) + "</div>"


def _setting_rows_html(rows: list[tuple[str, str]]) -> str:
    return "".join(f"<tr><th>{html.escape(name)}</th><td>{html.escape(value)}</td></tr>" for name, value in rows)


def render_report(
    title: str,
    config: dict[str, Any],
    tables: dict[str, Sequence[dict[str, Any]]],
    figures: Mapping[str, bytes],
    explorer: str | None = None,
    notes: Sequence[str] = (),
    side_by_side: Sequence[Sequence[str]] = (),
    command: str | None = None,
    captions: dict[str, str] | None = None,
) -> str:
    """The report as one HTML string.

    Parameters
    ----------
    title : str
    config : dict
        The job's configuration (its config.json), shown as a table of settings after the date, the command
        line and the versions (``provenance``).
    tables : dict of str to list of dict
        Each table's caption and its rows (one dict per row, the keys are the columns; see ``metric_rows``).
    figures : dict of str to bytes
        Each figure's file name and its PNG bytes; shown in order, embedded as base64.
    explorer : str, optional
        The latent explorer fragment from ``latent_explorer``.
    notes : sequence of str
        Sentences shown under the tables (how things were measured).
    side_by_side : sequence of sequences of str
        Groups of figure names shown beside each other in one row (the same figure of several methods).
    command : str, optional
        The command line that made the report.
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
        parts += _figures(figures, side_by_side, captions or {})
    parts.append("<h2>Configuration</h2>")
    parts.append(settings_table({"run": provenance(command), **config}))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>\n"
            + "\n".join(parts) + "\n</body></html>\n")


def write_report(path: str | os.PathLike, document: str) -> Path:
    """Write the HTML ``document`` atomically to ``path``."""
    path = Path(path)
    atomic_write_bytes(path, document.encode("utf-8"))
    return path
