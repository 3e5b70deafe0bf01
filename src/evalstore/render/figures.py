"""Plotly figures drawn from Results (aggregates only: a 10M-row report stays small).

Each function takes a Result (or a Report) and returns a ``plotly.graph_objects.Figure``;
the HTML report, the notebook and the web UI draw the same figures. ::

    from evalstore.render import figures
    figures.performance_over_time(report).show()
    figures.drift_ranking(report.drift)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

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

#: colours: reference, current, alert, ok, neutral
REFERENCE = "#8c8c8c"
CURRENT = "#1f6feb"
ALERT = "#d1242f"
OK = "#2da44e"
NEUTRAL = "#c9d1d9"


def _layout(fig: go.Figure, title: str, height: int = 320) -> go.Figure:
    # the plain white template: the default one adds ~8 KB of styling to every figure
    fig.update_layout(
        template="simple_white",
        title={"text": title, "x": 0, "font": {"size": 15}},
        height=height,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        legend={"orientation": "h", "y": -0.2},
        hovermode="x unified",
    )
    return fig


def performance_over_time(
    over_time: PerformanceResult,
    metric: str,
    window: str,
    reference_value: float | None = None,
) -> go.Figure:
    """The metric per window with its interval as a band, the volume as bars beneath
    (rows with and without an actual), and the reference value as a dashed line."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    rows = [r for r in over_time.rows if r["metric"] == metric and r.get(window) is not None]
    x: list[datetime] = [r[window] for r in rows]
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.05
    )
    low = [r["ci_low"] for r in rows]
    high = [r["ci_high"] for r in rows]
    if any(v is not None for v in low):
        fig.add_trace(
            go.Scatter(
                x=x, y=high, mode="lines", line={"width": 0}, showlegend=False, hoverinfo="skip"
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=low,
                mode="lines",
                line={"width": 0},
                fill="tonexty",
                fillcolor="rgba(31,111,235,0.15)",
                name="confidence interval",
                hoverinfo="skip",
            ),
            row=1,
            col=1,
        )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=[r["value"] for r in rows],
            mode="lines+markers",
            name=metric,
            line={"color": CURRENT},
        ),
        row=1,
        col=1,
    )
    if reference_value is not None and x:
        # a trace, not a shape: the axis range then always includes the reference
        fig.add_trace(
            go.Scatter(
                x=[x[0], x[-1]],
                y=[reference_value, reference_value],
                mode="lines",
                name="reference",
                line={"dash": "dash", "color": REFERENCE},
            ),
            row=1,
            col=1,
        )
    fig.add_trace(
        go.Bar(
            x=x, y=[r["n"] for r in rows], name="with actual", marker_color=CURRENT, opacity=0.5
        ),
        row=2,
        col=1,
    )
    fig.add_trace(
        go.Bar(
            x=x,
            y=[r["n_without_actual"] for r in rows],
            name="without actual",
            marker_color=NEUTRAL,
        ),
        row=2,
        col=1,
    )
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title_text=metric, row=1, col=1)
    fig.update_yaxes(title_text="rows", row=2, col=1)
    return _layout(fig, f"{metric} per {window}", height=420)


def drift_ranking(result: DriftResult, limit: int = 30) -> go.Figure:
    """Columns ranked by drift (effect / threshold), drifted ones in red."""
    import plotly.graph_objects as go

    columns = list(result.columns)[:limit][::-1]  # plotly draws the first bar at the bottom
    fig = go.Figure(
        go.Bar(
            x=[c.value / c.threshold if c.threshold else c.value for c in columns],
            y=[c.column for c in columns],
            orientation="h",
            marker_color=[ALERT if c.drifted else NEUTRAL for c in columns],
            customdata=[[c.method, c.value, c.p_adjusted] for c in columns],
            hovertemplate="%{y}: %{customdata[0]} %{customdata[1]:.4g}, adjusted p "
            "%{customdata[2]:.2g}<extra></extra>",
        )
    )
    fig.add_vline(x=1, line={"dash": "dash", "color": ALERT})
    fig.update_xaxes(title_text="drift / threshold (1 = threshold)")
    height = max(240, 22 * len(columns) + 90)
    fig = _layout(fig, "Drift by column", height=height)
    fig.update_layout(hovermode="closest")
    return fig


def distribution(column: ColumnDrift) -> go.Figure:
    """Reference and current shares per frozen bin of one column."""
    import plotly.graph_objects as go

    labels = [b["label"] for b in column.bins]
    fig = go.Figure(
        [
            go.Bar(
                x=labels,
                y=[b["reference"] for b in column.bins],
                name="reference",
                marker_color=REFERENCE,
            ),
            go.Bar(
                x=labels,
                y=[b["current"] for b in column.bins],
                name="current",
                marker_color=CURRENT,
            ),
        ]
    )
    fig.update_yaxes(title_text="share of rows", tickformat=".0%")
    title = f"{column.column}: {column.method} {column.value:.3g}"
    fig = _layout(fig, title + (" (drifted)" if column.drifted else ""), height=300)
    fig.update_layout(barmode="group")
    return fig


def slice_heatmap(result: SliceResult, columns: Sequence[str] | None = None) -> go.Figure:
    """The metric per column (rows) x bin (columns, in bin order); hover shows the bin,
    its support and interval."""
    import plotly.graph_objects as go

    matrix = result.matrix()
    names = [c for c in (columns or list(matrix)) if c in matrix]
    width = max((len(matrix[c]) for c in names), default=0)
    z: list[list[float | None]] = []
    text: list[list[str]] = []
    for name in names:
        cells = matrix[name]
        z.append([v for _, v, _ in cells] + [None] * (width - len(cells)))
        text.append([f"{label}<br>n={n:,}" for label, _, n in cells] + [""] * (width - len(cells)))
    reverse = _higher_is_better(result.metric) is False
    fig = go.Figure(
        go.Heatmap(
            z=z,
            y=names,
            x=[f"bin {i + 1}" for i in range(width)],
            text=text,
            hovertemplate="%{y} %{text}<br>" + result.metric + " %{z:.3g}<extra></extra>",
            colorscale="RdYlGn_r" if reverse else "RdYlGn",
            colorbar={"title": result.metric},
        )
    )
    fig = _layout(fig, f"{result.metric} by slice", height=max(260, 26 * len(names) + 110))
    fig.update_layout(hovermode="closest")
    return fig


def _higher_is_better(metric: str) -> bool | None:
    from evalstore.analyses.metrics import get_metric

    direction: bool | None = get_metric(metric).higher_is_better
    return direction


def report_figures(report: Report) -> dict[str, Any]:
    """Every figure of a report, by name, in display order."""
    out: dict[str, Any] = {}
    ref = None
    if report.performance_reference is not None:
        for row in report.performance_reference.rows:
            if row["metric"] == report.primary_metric:
                ref = row["value"]
    if report.performance_over_time is not None and report.performance_over_time.rows:
        out["performance"] = performance_over_time(
            report.performance_over_time, report.primary_metric, report.window, ref
        )
    if report.drift.columns:
        out["drift"] = drift_ranking(report.drift)
        for column in [c for c in report.drift.columns if c.drifted][:6]:
            out[f"distribution:{column.column}"] = distribution(column)
    if report.prediction_drift is not None:
        for column in report.prediction_drift.columns:
            out[f"distribution:{column.column}"] = distribution(column)
    if report.slices_current is not None and report.slices_current.rows:
        out["slices"] = slice_heatmap(report.slices_current)
    return out
