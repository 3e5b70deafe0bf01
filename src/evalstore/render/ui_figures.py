"""Plotly figure specs (plain dicts) drawn from Results: the web UI's and the HTML report's.

Each function takes a Result and returns ``{"data": [...], "layout": {...}}``, the JSON
plotly.js draws; ``plotly.graph_objects.Figure(spec)`` draws the same in a notebook
(:mod:`.figures` does that for you). ::

    from evalstore.render import ui_figures
    spec = ui_figures.drift_over_time(over_time, "temp")
    ui_figures.to_json(spec)      # for a <script type="application/json"> element

Why dicts rather than ``go.Figure`` objects: a Figure validates every property it is
given, which cost 150-250 ms per figure here (a page has up to 30 of them, sparklines
included), and importing ``plotly.graph_objects`` costs more still in a fresh process;
building the spec and dumping it as JSON takes well under 1 ms. The web UI and the HTML
report draw the same specs, so they look alike.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evalstore.analyses.drift import ColumnDrift, DriftOverTime, DriftResult
    from evalstore.analyses.performance import PerformanceResult
    from evalstore.analyses.quality import QualityResult
    from evalstore.analyses.slices import SliceResult

__all__ = [
    "distribution",
    "drift_over_time",
    "drift_ranking",
    "performance_over_time",
    "quality_heatmap",
    "slice_heatmap",
    "sparkline",
    "to_json",
]

Spec = dict[str, Any]

#: colours: reference, current, alert, ok, neutral
REFERENCE = "#8c8c8c"
CURRENT = "#1f6feb"
ALERT = "#d1242f"
OK = "#2da44e"
NEUTRAL = "#c9d1d9"

#: ColorBrewer's RdYlGn, low to high (plotly.js knows no such name: Python's plotly
#: expands it when it validates a figure, which these specs skip)
_RED_TO_GREEN = ["#d73027", "#fc8d59", "#fee08b", "#91cf60", "#1a9850"]
_AXIS = {"showline": True, "linecolor": "#57606a", "ticks": "outside", "zeroline": False}
_FONT = {"family": "system-ui, -apple-system, 'Segoe UI', sans-serif", "size": 12}


def _plain(value: Any) -> Any:
    """JSON-ready: datetimes as ISO text, NaN and infinities as None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def to_json(spec: Spec) -> str:
    """The spec as JSON that is safe inside a ``<script>`` element."""
    return json.dumps(_plain(spec), allow_nan=False, separators=(",", ":")).replace("</", "<\\/")


def _layout(title: str, height: int, **extra: Any) -> Spec:
    layout: Spec = {
        "title": {"text": title, "x": 0, "font": {"size": 15}},
        "height": height,
        "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
        "legend": {"orientation": "h", "y": -0.2},
        "hovermode": "x unified",
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "font": _FONT,
        "xaxis": dict(_AXIS),
        "yaxis": dict(_AXIS),
    }
    layout.update(extra)
    return layout


#: the confidence band's colour (the current line's, faint)
BAND = "rgba(31,111,235,0.15)"

#: the longest a window of each kind lasts: consecutive windows further apart have an
#: empty window between them
_LONGEST = {
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(days=7),
    "month": timedelta(days=31),
    "year": timedelta(days=366),
}


def with_gaps(x: Sequence[Any], y: Sequence[Any], window: str) -> tuple[list[Any], list[Any]]:
    """``x`` and ``y`` with a point without a value between consecutive windows that have
    windows without rows between them: the line breaks there rather than joining them."""
    longest = _LONGEST.get(window)
    out_x: list[Any] = []
    out_y: list[Any] = []
    for i, (at, value) in enumerate(zip(x, y, strict=True)):
        before = x[i - 1] if i else None
        if (
            longest is not None
            and isinstance(at, datetime)
            and isinstance(before, datetime)
            and at - before > longest
        ):
            out_x.append(before + (at - before) / 2)
            out_y.append(None)
        out_x.append(at)
        out_y.append(value)
    return out_x, out_y


def interval_band(
    x: Sequence[Any], low: Sequence[float | None], high: Sequence[float | None]
) -> tuple[list[Any], list[Any]]:
    """The interval as closed shapes, one per run of consecutive windows with one (a window
    without an interval ends a run), apart by a gap: ``fill="toself"`` draws each one. A run
    of one window is a vertical stroke."""
    out_x: list[Any] = []
    out_y: list[Any] = []
    run: list[int] = []
    for i in range(len(x) + 1):
        if i < len(x) and low[i] is not None and high[i] is not None:
            run.append(i)
            continue
        if run:
            out_x += [x[j] for j in run] + [x[j] for j in reversed(run)] + [None]
            out_y += [high[j] for j in run] + [low[j] for j in reversed(run)] + [None]
            run = []
    return out_x[:-1], out_y[:-1]


def performance_over_time(
    result: PerformanceResult,
    metric: str,
    window: str,
    reference_value: float | None = None,
    reference_label: str = "reference",
) -> Spec:
    """The metric per window with its interval as a band, the reference as a dashed line,
    and the volume beneath as bars (rows with and without an actual), on one time axis."""
    rows = [r for r in result.rows if r["metric"] == metric and r.get(window) is not None]
    x = [r[window] for r in rows]
    data: list[Spec] = []
    # windows without rows between two windows break the band as they break the line
    spaced, low = with_gaps(x, [r["ci_low"] for r in rows], window)
    high = with_gaps(x, [r["ci_high"] for r in rows], window)[1]
    band_x, band_y = interval_band(spaced, low, high)
    if band_x:
        data.append(
            {
                "type": "scatter",
                "x": band_x,
                "y": band_y,
                "mode": "lines",
                "fill": "toself",
                "fillcolor": BAND,
                "line": {"width": 1, "color": BAND},
                "hoverinfo": "skip",
                "name": "confidence interval",
            }
        )
    line_x, line_y = with_gaps(x, [r["value"] for r in rows], window)
    data.append(
        {
            "type": "scatter",
            "x": line_x,
            "y": line_y,
            "mode": "lines+markers",
            "name": metric,
            "line": {"color": CURRENT},
        }
    )
    if reference_value is not None and x:
        data.append(
            {
                "type": "scatter",
                "x": [x[0], x[-1]],
                "y": [reference_value, reference_value],
                "mode": "lines",
                "name": reference_label,
                "line": {"dash": "dash", "color": REFERENCE},
            }
        )
    bars = {"type": "bar", "x": x, "xaxis": "x", "yaxis": "y2"}
    data.append(
        {
            **bars,
            "y": [r["n"] for r in rows],
            "name": "with actual",
            "marker": {"color": CURRENT},
            "opacity": 0.5,
        }
    )
    data.append(
        {
            **bars,
            "y": [r["n_without_actual"] for r in rows],
            "name": "without actual",
            "marker": {"color": NEUTRAL},
        }
    )
    layout = _layout(
        f"{metric} per {window}",
        440,
        barmode="stack",
        xaxis={**_AXIS, "anchor": "y2"},
        yaxis={**_AXIS, "domain": [0.34, 1], "title": {"text": metric}},
        yaxis2={**_AXIS, "domain": [0, 0.26], "title": {"text": "rows"}},
    )
    return {"data": data, "layout": layout}


def sparkline(points: Sequence[tuple[Any, float | None]], threshold: float | None = None) -> Spec:
    """A tiny line of values over time (no axes), its points past ``threshold`` in red."""
    x = [p[0] for p in points]
    y = [p[1] for p in points]
    colours = [
        ALERT if threshold is not None and v is not None and v >= threshold else CURRENT for v in y
    ]
    data: list[Spec] = [
        {
            "type": "scatter",
            "x": x,
            "y": y,
            "mode": "lines+markers",
            "line": {"color": CURRENT, "width": 1.5},
            "marker": {"size": 3, "color": colours},
            "hoverinfo": "skip",
        }
    ]
    if threshold is not None and x:
        data.append(
            {
                "type": "scatter",
                "x": [x[0], x[-1]],
                "y": [threshold, threshold],
                "mode": "lines",
                "line": {"color": ALERT, "width": 1, "dash": "dot"},
                "hoverinfo": "skip",
            }
        )
    hidden = {"visible": False, "fixedrange": True}
    layout = {
        "height": 36,
        "width": 150,
        "margin": {"l": 2, "r": 2, "t": 2, "b": 2},
        "showlegend": False,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "xaxis": hidden,
        "yaxis": {**hidden, "rangemode": "tozero"},
    }
    return {"data": data, "layout": layout}


def drift_over_time(over_time: DriftOverTime, column: str) -> Spec:
    """One column's drift per window against its threshold; drifted windows in red."""
    points = []
    for w in over_time.windows:
        found = next((c for c in w.result.columns if c.column == column), None)
        if found is not None:
            points.append((w.start, found))
    x = [p[0] for p in points]
    values = [c.value for _, c in points]
    method = points[0][1].method if points else "drift"
    data: list[Spec] = [
        {
            "type": "scatter",
            "x": x,
            "y": values,
            "mode": "lines+markers",
            "name": method,
            "line": {"color": CURRENT},
            "marker": {"color": [ALERT if c.drifted else CURRENT for _, c in points], "size": 7},
            "customdata": [[c.p_adjusted, c.n_current] for _, c in points],
            "hovertemplate": method + " %{y:.4g}, adjusted p %{customdata[0]:.2g}, "
            "%{customdata[1]:,} rows<extra></extra>",
        }
    ]
    if points:
        threshold = points[0][1].threshold
        data.append(
            {
                "type": "scatter",
                "x": [x[0], x[-1]],
                "y": [threshold, threshold],
                "mode": "lines",
                "name": "threshold",
                "line": {"dash": "dash", "color": ALERT},
            }
        )
    layout = _layout(
        f"{column}: {method} per {over_time.by}",
        300,
        yaxis={**_AXIS, "title": {"text": method}, "rangemode": "tozero"},
    )
    return {"data": data, "layout": layout}


def distribution(
    column: ColumnDrift, reference_label: str = "reference", current_label: str = "current"
) -> Spec:
    """Reference and current shares per frozen bin of one column, side by side."""
    labels = [b["label"] for b in column.bins]

    def bars(side: str, name: str, colour: str) -> Spec:
        return {
            "type": "bar",
            "x": labels,
            "y": [b[side] for b in column.bins],
            "name": name,
            "marker": {"color": colour},
            "customdata": [b[f"{side}_count"] for b in column.bins],
            "hovertemplate": name + ": %{y:.1%} (%{customdata:,} rows)<extra></extra>",
        }

    title = f"{column.column}: {column.method} {column.value:.3g}"
    layout = _layout(
        title + (" (drifted)" if column.drifted else ""),
        360,
        barmode="group",
        yaxis={**_AXIS, "title": {"text": "share of rows"}, "tickformat": ".0%"},
        # the bins' labels slanted, with the room they need; the legend above the bars,
        # where the labels cannot run into it (small charts side by side on the comparison)
        xaxis={**_AXIS, "type": "category", "tickangle": -45, "automargin": True},
        legend={"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"},
        margin={"l": 60, "r": 20, "t": 80, "b": 50},
    )
    return {
        "data": [
            bars("reference", reference_label, REFERENCE),
            bars("current", current_label, CURRENT),
        ],
        "layout": layout,
    }


def drift_ranking(result: DriftResult, limit: int = 30) -> Spec:
    """Columns ranked by drift (effect / threshold), drifted ones in red; a click on a bar
    names its column (``customdata[0]``)."""
    columns = list(result.columns)[:limit][::-1]  # plotly draws the first bar at the bottom
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "x": [c.value / c.threshold if c.threshold else c.value for c in columns],
            "y": [c.column for c in columns],
            "marker": {"color": [ALERT if c.drifted else NEUTRAL for c in columns]},
            "customdata": [[c.column, c.method, c.value, c.p_adjusted] for c in columns],
            "hovertemplate": "%{y}: %{customdata[1]} %{customdata[2]:.4g}, adjusted p "
            "%{customdata[3]:.2g}<extra></extra>",
        }
    ]
    height = max(240, 22 * len(columns) + 90)
    layout = _layout(
        "Drift by column",
        height,
        hovermode="closest",
        xaxis={**_AXIS, "title": {"text": "drift / threshold (1 = threshold)"}},
        yaxis={**_AXIS, "automargin": True},
        shapes=[
            {
                "type": "line",
                "x0": 1,
                "x1": 1,
                "yref": "paper",
                "y0": 0,
                "y1": 1,
                "line": {"dash": "dash", "color": ALERT},
            }
        ],
    )
    return {"data": data, "layout": layout}


def slice_heatmap(
    result: SliceResult, columns: Sequence[str] | None = None, clickable: bool = True
) -> Spec:
    """The metric per column (rows) x bin (in bin order); hover shows the bin, its support
    and interval; ``customdata`` of a cell is ``[column, bin label]`` (for a click).
    The x axis numbers each feature's bins in its own order (a column is a different range
    for each feature): its title says so, and the hover names the cell's bin.
    ``clickable=False`` leaves the click hint out of the title (a static page)."""
    matrix = result.matrix()
    names = [c for c in (columns or list(matrix)) if c in matrix]
    width = max((len(matrix[c]) for c in names), default=0)
    found = {(s.column, s.bin): s for s in result.rows}
    z: list[list[float | None]] = []
    custom: list[list[list[Any]]] = []
    for name in names:
        cells = matrix[name]
        pad = width - len(cells)
        z.append([v for _, v, _ in cells] + [None] * pad)
        row = []
        for label, _, n in cells:
            s = found.get((name, label))
            ci = (
                f"{s.ci_low:.3g}-{s.ci_high:.3g}"
                if s is not None and s.ci_low is not None and s.ci_high is not None
                else "n/a"
            )
            row.append([name, label, n, ci])
        custom.append(row + [[name, "", 0, ""]] * pad)
    higher = result.higher_is_better
    # the colour range of the slices with support: a 3-row slice at 1.0 would wash out the rest
    supported = [r.value for r in result.rows if r.value is not None and r.n >= result.min_support]
    scale = _RED_TO_GREEN[::-1] if higher is False else _RED_TO_GREEN
    ranged: Spec = {"zmin": min(supported), "zmax": max(supported)} if supported else {}
    data = [
        {
            **ranged,
            "type": "heatmap",
            "z": z,
            "y": names,
            "x": [str(i + 1) for i in range(width)],
            "customdata": custom,
            "hovertemplate": "%{customdata[0]} = %{customdata[1]}<br>"
            + result.metric
            + " %{z:.3g} (CI %{customdata[3]})<br>%{customdata[2]:,} rows<extra></extra>",
            "colorscale": [[i / 4, c] for i, c in enumerate(scale)],
            "colorbar": {"title": {"text": result.metric}},
            "hoverongaps": False,
        }
    ]
    layout = _layout(
        f"{result.metric} by slice"
        + (" (click a cell to filter every view to it)" if clickable else ""),
        max(260, 26 * len(names) + 110),
        hovermode="closest",
        xaxis={
            **_AXIS,
            "type": "category",
            "title": {"text": "bin (in each feature's order; hover for its range)"},
        },
        yaxis={**_AXIS, "automargin": True, "autorange": "reversed"},
    )
    return {"data": data, "layout": layout}


def window_label(start: Any, by: str | None) -> str:
    """A window's start as short text: the hour for hours, the month for months, else the
    day."""
    if not isinstance(start, datetime):
        return str(start)
    if by == "hour":
        return start.strftime("%Y-%m-%d %H:00")
    if by == "month":
        return start.strftime("%Y-%m")
    if by == "year":
        return start.strftime("%Y")
    return start.strftime("%Y-%m-%d")


def quality_heatmap(result: QualityResult) -> Spec:
    """Issues per column (rows) x window (columns): their count as the colour, the checks
    and the missing share in the hover."""
    windows = sorted({c.window for c in result.columns if c.window is not None})
    names = list(dict.fromkeys(c.column for c in result.columns))
    cells = {(c.column, c.window): c for c in result.columns}
    issues: dict[tuple[str | None, Any], list[str]] = {}
    for issue in result.issues:
        issues.setdefault((issue.column, issue.window), []).append(issue.check)
    z: list[list[int | None]] = []
    text: list[list[str]] = []
    for name in names:
        row_z: list[int | None] = []
        row_t: list[str] = []
        for w in windows:
            c = cells.get((name, w))
            found = sorted(set(issues.get((name, w), []) + issues.get((name, None), [])))
            row_z.append(len(found) if c is not None else None)
            share = c.missing_share if c is not None else None
            missing = f"missing {share:.1%}" if share is not None else "no rows"
            row_t.append(f"{', '.join(found) or 'no issue'}<br>{missing}")
        z.append(row_z)
        text.append(row_t)
    data = [
        {
            "type": "heatmap",
            "z": z,
            "x": [window_label(w, result.by) for w in windows],
            "y": names,
            "text": text,
            "zmin": 0,
            "zmax": max(1, max((v for r in z for v in r if v is not None), default=0)),
            "colorscale": [[0, "#f6f8fa"], [1, ALERT]],
            "colorbar": {"title": {"text": "issues"}},
            "hovertemplate": "%{y}, %{x}<br>%{text}<extra></extra>",
            "hoverongaps": False,
            "xgap": 1,
            "ygap": 1,
        }
    ]
    layout = _layout(
        f"Data-quality issues per {result.by or 'window'}",
        max(260, 22 * len(names) + 110),
        hovermode="closest",
        xaxis={
            **_AXIS,
            "type": "category",
            "automargin": True,
            "tickangle": -45,
            "title": {"text": f"{result.by or 'window'} (its start, UTC)"},
        },
        yaxis={**_AXIS, "automargin": True, "autorange": "reversed"},
    )
    return {"data": data, "layout": layout}
