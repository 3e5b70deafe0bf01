"""A report as one self-contained HTML page: summary first, tables, Plotly charts.

plotly.js is inlined from the installed ``plotly`` package (about 4.8 MB, the same for any
data size), so the page works offline and behind firewalls: nothing is fetched, ever.
Figures are drawn from the report's aggregates; no row of data is embedded. They are dict
specs (:mod:`.ui_figures`) dumped with :mod:`json`: neither ``plotly.graph_objects`` nor
the ``plotly`` package is imported to write a page.
"""

from __future__ import annotations

import html
import importlib.util
import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import evalstore
from evalstore.render import ui_figures
from evalstore.render._common import fmt, performance_rows, rows_used_note
from evalstore.render.figures import report_figures

if TYPE_CHECKING:
    import jinja2

    from evalstore.analyses.report import Report

__all__ = ["figure_json", "plotly_js", "report_html"]


@cache
def plotly_js() -> str:
    """The plotly.js bundle shipped inside the installed plotly package."""
    # read beside the package rather than through plotly.offline, whose import (plotly's
    # own __init__ included) costs more than reading the 4.8 MB file
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "the HTML report inlines plotly.js from the plotly package: pip install plotly"
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    return (folder / "package_data" / "plotly.min.js").read_text(encoding="utf-8")


@cache
def _environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("evalstore.render", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def figure_json(figure: Any) -> str:
    """A figure, a dict spec or a ``go.Figure``, as JSON that is safe inside a <script>
    element (NaN and infinities as null)."""
    if isinstance(figure, Mapping):
        return ui_figures.to_json(dict(figure))
    text: str = figure.to_json()
    return text.replace("</", "<\\/")


def report_html(report: Report, full_page: bool = True) -> str:
    """The report as HTML: a whole page, or (``full_page=False``, for Jupyter) an iframe
    holding that page, so that its styles and scripts stay apart from the notebook's."""
    figures = report_figures(report)
    rows = performance_rows(report)
    page = (
        _environment()
        .get_template("report.html.j2")
        .render(
            report=report,
            summary=report.summary,
            performance_rows=rows,
            rows_note=rows_used_note(report, rows),
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
