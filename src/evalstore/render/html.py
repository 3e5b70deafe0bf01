"""A report as one self-contained HTML page: summary first, tables, Plotly charts.

plotly.js is inlined from the installed ``plotly`` package (about 4.8 MB, the same for any
data size), so the page works offline and behind firewalls: nothing is fetched, ever.
Figures are drawn from the report's aggregates; no row of data is embedded.
"""

from __future__ import annotations

import html
import json
from functools import cache
from typing import TYPE_CHECKING, Any

import jinja2

import evalstore
from evalstore.render._common import fmt, performance_rows
from evalstore.render.figures import report_figures

if TYPE_CHECKING:
    from evalstore.analyses.report import Report

__all__ = ["figure_json", "plotly_js", "report_html"]


@cache
def plotly_js() -> str:
    """The plotly.js bundle shipped inside the installed plotly package."""
    from plotly.offline import get_plotlyjs

    source: str = get_plotlyjs()
    return source


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("evalstore.render", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def figure_json(figure: Any) -> str:
    """A figure as JSON that is safe inside a <script> element."""
    text: str = figure.to_json()
    return text.replace("</", "<\\/")


def report_html(report: Report, full_page: bool = True) -> str:
    """The report as HTML: a whole page, or (``full_page=False``, for Jupyter) an iframe
    holding that page, so that its styles and scripts stay apart from the notebook's."""
    figures = report_figures(report)
    page = (
        _environment()
        .get_template("report.html.j2")
        .render(
            report=report,
            summary=report.summary,
            performance_rows=performance_rows(report),
            worst=report.worst_slices(10),
            reference_slices=report.slices_reference,
            figures={name: figure_json(fig) for name, fig in figures.items()},
            plotly_js=plotly_js(),
            fmt=fmt,
            version=evalstore.__version__,
            js=lambda value: json.dumps(value).replace("</", "<\\/"),
        )
    )
    if full_page:
        return page
    return (
        '<iframe style="width:100%;height:900px;border:1px solid #d0d7de" '
        f'srcdoc="{html.escape(page, quote=True)}"></iframe>'
    )
