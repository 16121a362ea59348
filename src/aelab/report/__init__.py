"""The self-contained HTML report of a run or a comparison: configuration, metric tables, figures and an
interactive latent explorer, in one file that opens without a network connection."""

from aelab.report.explorer import latent_explorer
from aelab.report.html import figure_png, figure_pngs, render_report, write_report

__all__ = ["figure_png", "figure_pngs", "latent_explorer", "render_report", "write_report"]
