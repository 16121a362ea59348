"""The self-contained HTML report of a run or a comparison: configuration, metric tables, figures and an
interactive latent explorer, in one file that opens without a network connection (unless it loads plotly.js
from its CDN)."""

from aelab.report.explorer import explorer_figure, latent_explorer
from aelab.report.html import (
    ReportOptions,
    figure_png,
    figure_pngs,
    metric_rows,
    provenance,
    render_report,
    settings_table,
    write_report,
)

__all__ = ["ReportOptions", "explorer_figure", "figure_png", "figure_pngs", "latent_explorer", "metric_rows",
           "provenance", "render_report", "settings_table", "write_report"]
