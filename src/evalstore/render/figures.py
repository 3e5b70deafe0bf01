"""Plotly figures drawn from Results (aggregates only: a 10M-row report stays small).

Each function takes a Result and returns a ``plotly.graph_objects.Figure``, for a notebook:
the dict spec of :mod:`.ui_figures` that the HTML report and the web UI draw, wrapped. ::

    from evalstore.render import figures
    figures.performance_over_time(report.performance_over_time, "mae", "week").show()
    figures.drift_ranking(report.drift)

The HTML report draws the specs themselves (:func:`report_figures`): it never imports
``plotly.graph_objects``, whose import and validation cost a fresh ``evalstore report``
process about half a second.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from evalstore.render import ui_figures

# the colours moved to ui_figures; these names stay for code that imported them from here
from evalstore.render.ui_figures import ALERT as ALERT
from evalstore.render.ui_figures import CURRENT as CURRENT
from evalstore.render.ui_figures import NEUTRAL as NEUTRAL
from evalstore.render.ui_figures import OK as OK
from evalstore.render.ui_figures import REFERENCE as REFERENCE
from evalstore.render.ui_figures import Spec

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from evalstore.analyses.drift import ColumnDrift, DriftResult
    from evalstore.analyses.performance import PerformanceResult
    from evalstore.analyses.report import Report
    from evalstore.analyses.slices import SliceResult

__all__ = [
    "distribution",
    "drift_ranking",
    "performance_over_time",
    "slice_heatmap",
]


def _figure(spec: Spec) -> go.Figure:
    import plotly.graph_objects as go

    return go.Figure(spec)


def performance_over_time(
    over_time: PerformanceResult,
    metric: str,
    window: str,
    reference_value: float | None = None,
) -> go.Figure:
    """The metric per window with its interval as a band, the volume as bars beneath
    (rows with and without an actual), and the reference value as a dashed line."""
    return _figure(ui_figures.performance_over_time(over_time, metric, window, reference_value))


def drift_ranking(result: DriftResult, limit: int = 30) -> go.Figure:
    """Columns ranked by drift (effect / threshold), drifted ones in red."""
    return _figure(ui_figures.drift_ranking(result, limit))


def distribution(column: ColumnDrift) -> go.Figure:
    """Reference and current shares per frozen bin of one column."""
    return _figure(ui_figures.distribution(column))


def slice_heatmap(result: SliceResult, columns: Sequence[str] | None = None) -> go.Figure:
    """The metric per column (rows) x bin (columns, in bin order); hover shows the bin,
    its support and interval."""
    return _figure(ui_figures.slice_heatmap(result, columns, clickable=False))


def report_figures(report: Report) -> dict[str, Spec]:
    """Every figure of a report as a dict spec, by name, in display order: what the HTML
    report draws (``plotly.graph_objects.Figure(spec)`` makes one a Figure)."""
    out: dict[str, Spec] = {}
    ref = None
    if report.performance_reference is not None:
        for row in report.performance_reference.rows:
            if row["metric"] == report.primary_metric:
                ref = row["value"]
    if report.performance_over_time is not None and report.performance_over_time.rows:
        out["performance"] = ui_figures.performance_over_time(
            report.performance_over_time, report.primary_metric, report.window, ref
        )
    if report.drift.columns:
        out["drift"] = ui_figures.drift_ranking(report.drift)
        for column in [c for c in report.drift.columns if c.drifted][:6]:
            out[f"distribution:{column.column}"] = ui_figures.distribution(column)
    if report.prediction_drift is not None:
        for column in report.prediction_drift.columns:
            out[f"distribution:{column.column}"] = ui_figures.distribution(column)
    if report.slices_current is not None and report.slices_current.rows:
        out["slices"] = ui_figures.slice_heatmap(report.slices_current, clickable=False)
    return out
