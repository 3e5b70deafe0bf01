"""Results as short tables: what a terminal prints for a result (its ``repr``) and the
table a notebook displays (``_repr_html_``).

A result's fields hold every bin, window and statistic, so the repr a dataclass writes ran
to thousands of characters for one drift result. These show a title with the result's
headline numbers and its first rows, ranked as the result ranks them, and say where the
rest is. ::

    >>> model.drift(reference="training", current="production")
    DriftResult: 2 of 14 columns drifted (Benjamini-Hochberg, false discovery rate 0.05); ...
    column  kind     method  value  threshold  p adjusted  drifted
    num_00  numeric  psi     0.213  0.1        1.2e-40     yes
    ...
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING, Any

from evalstore.render._common import fmt

if TYPE_CHECKING:
    from evalstore.analyses.baseline import Baseline
    from evalstore.analyses.drift.result import ColumnDrift, DriftOverTime, DriftResult
    from evalstore.analyses.performance import PerformanceResult
    from evalstore.analyses.quality.expectations import Expectations
    from evalstore.analyses.quality.result import QualityResult
    from evalstore.analyses.slices import Slice, SliceResult

__all__ = [
    "MAX_ROWS",
    "Shown",
    "baseline_line",
    "cell",
    "column_drift_line",
    "drift_over_time_table",
    "drift_table",
    "expectations_table",
    "performance_table",
    "quality_table",
    "slice_line",
    "slices_table",
]

#: rows a table shows; the title or the last line says how to reach the others
MAX_ROWS = 15


def cell(value: Any) -> str:
    """A value as the tables show it: ``fmt``'s, with NaN as ``-`` (undefined) and a
    window's start as its date (its time too when not midnight)."""
    if isinstance(value, float) and math.isnan(value):
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M" if value.hour or value.minute else "%Y-%m-%d")
    return fmt(value)


@dataclass(frozen=True)
class Shown:
    """A titled table of at most ``MAX_ROWS`` rows; ``more``: where the rest is."""

    title: str
    header: Sequence[str]
    rows: Sequence[Sequence[Any]]
    more: str | None = None

    def text(self) -> str:
        """Aligned columns under the title (the last column unpadded: a sentence)."""
        cells = [list(self.header)] + [[cell(v) for v in row] for row in self.rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(self.header))]
        lines = [self.title]
        if self.rows:
            for r in cells:
                padded = [c.ljust(w) for c, w in zip(r[:-1], widths, strict=False)]
                lines.append("  ".join([*padded, r[-1]]).rstrip())
        if self.more:
            lines.append(self.more)
        return "\n".join(lines)

    def html(self) -> str:
        """The same as an HTML table (every value escaped), for Jupyter."""
        parts = [f"<div class='evalstore-result'><p><strong>{escape(self.title)}</strong></p>"]
        if self.rows:
            head = "".join(f"<th>{escape(h)}</th>" for h in self.header)
            body = "".join(
                "<tr>" + "".join(f"<td>{escape(cell(v))}</td>" for v in row) + "</tr>"
                for row in self.rows
            )
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        if self.more:
            parts.append(f"<p>{escape(self.more)}</p>")
        parts.append("</div>")
        return "".join(parts)


def _more(shown: int, total: int, what: str, where: str) -> str | None:
    """``... 3 more columns: where``, when ``total`` is more than was ``shown``."""
    return None if total <= shown else f"... {_rows(total - shown, 'more ' + what)}: {where}"


def _rows(count: int, what: str) -> str:
    return f"{count:,} {what}{'' if count == 1 else 's'}"


_CORRECTIONS = {
    "benjamini_hochberg": "Benjamini-Hochberg",
    "weighted_benjamini_hochberg": "Benjamini-Hochberg weighted by importance",
}


def drift_table(result: DriftResult) -> Shown:
    """The columns, drifted first then by effect (the result's ranking)."""
    correction = _CORRECTIONS.get(result.correction, result.correction)
    title = (
        f"DriftResult: {result.n_drifted} of {_rows(result.n_columns, 'column')} drifted "
        f"({correction}, false discovery rate {cell(result.alpha)}); "
        f"{_rows(result.n_reference, 'reference row')}, {_rows(result.n_current, 'current row')}"
    )
    shown = result.columns[:MAX_ROWS]
    rows = [
        (c.column, c.kind, c.method, c.value, c.threshold, c.p_adjusted, c.drifted) for c in shown
    ]
    header = ("column", "kind", "method", "value", "threshold", "p adjusted", "drifted")
    more = _more(len(shown), result.n_columns, "column", "result.columns, result['<column>']")
    return Shown(title, header, rows, more)


def column_drift_line(c: ColumnDrift) -> str:
    state = "drifted" if c.drifted else "not drifted"
    return (
        f"ColumnDrift({c.column}: {c.method} {cell(c.value)} against a threshold of "
        f"{cell(c.threshold)}, p adjusted {cell(c.p_adjusted)}, {state}; "
        f"{_rows(c.n_reference, 'reference row')}, {_rows(c.n_current, 'current row')}, "
        f"{_rows(len(c.bins), 'bin')})"
    )


def drift_over_time_table(result: DriftOverTime) -> Shown:
    """One row per window: its rows, the columns drifted and the most drifted one."""
    columns = {c.column for w in result.windows for c in w.result.columns}
    drifted = sum(w.result.drifted for w in result.windows)
    title = (
        f"DriftOverTime: {_rows(len(result.windows), 'window')} by {result.by}, "
        f"{_rows(len(columns), 'column')}; drift in {drifted} of them"
    )
    shown = result.windows[:MAX_ROWS]
    rows = []
    for w in shown:
        top = w.result.columns[0] if w.result.columns else None
        rows.append(
            (
                w.start,
                w.result.n_current,
                w.result.n_drifted,
                ", ".join(w.result.drifted_columns[:3]) or "-",
                f"{top.column} {cell(top.value)}" if top is not None else "-",
            )
        )
    header = ("window", "rows", "drifted", "drifted columns", "most drift")
    more = _more(len(shown), len(result.windows), "window", "result.windows, result.series()")
    return Shown(title, header, rows, more)


def performance_table(result: PerformanceResult) -> Shown:
    """One row per (group, metric), in the result's order."""
    by = f" by {', '.join(result.by)}" if result.by else ""
    groups = len({tuple(row.get(k) for k in result.by) for row in result.rows})
    title = (
        f"PerformanceResult: {', '.join(result.metrics)}{by} ({result.task}); "
        f"{_rows(groups, 'group')}, {cell(result.confidence)} intervals"
    )
    shown = result.rows[:MAX_ROWS]
    rows = [
        (
            *(row.get(k) for k in result.by),
            row["metric"],
            row["value"],
            row["ci_low"],
            row["ci_high"],
            row["n"],
            row["n_without_actual"],
        )
        for row in shown
    ]
    header = (*result.by, "metric", "value", "ci low", "ci high", "rows", "without actual")
    more = _more(len(shown), len(result.rows), "row", "result.rows, result.to_pandas()")
    return Shown(title, header, rows, more)


def quality_table(result: QualityResult) -> Shown:
    """The issues, errors first (the result's order)."""
    names = {c.column for c in result.columns}
    scope = f"by {result.by}" if result.by else "overall"
    errors, warnings = len(result.errors), len(result.warnings)
    title = (
        f"QualityResult: {'ok' if result.ok else 'not ok'}, {_rows(errors, 'error')} and "
        f"{_rows(warnings, 'warning')} ({_rows(len(names), 'column')}, {scope})"
    )
    shown = result.issues[:MAX_ROWS]
    header: tuple[str, ...] = ("severity", "column", "check", "message")
    rows: list[tuple[Any, ...]] = [(i.severity, i.column, i.check, i.message) for i in shown]
    if result.by:
        header = ("severity", "window", "column", "check", "message")
        rows = [(i.severity, i.window, i.column, i.check, i.message) for i in shown]
    more = _more(len(shown), len(result.issues), "issue", "result.issues")
    if not result.issues:
        more = "No issues. Each column's statistics: result.columns, result.column('<column>')"
    if result.notes:
        notes = " ".join(result.notes)
        more = f"{more}\n{notes}" if more else notes
    return Shown(title, header, rows, more)


def slices_table(result: SliceResult) -> Shown:
    """The worst slices (``SliceResult.worst``), or every slice in order for a metric
    without a direction."""
    o = result.overall
    title = (
        f"SliceResult: {result.metric} in {_rows(len(result.rows), 'slice')} of "
        f"{_rows(len(result.columns), 'column')}; overall {cell(o.value)} on "
        f"{_rows(o.n, 'row')}"
    )
    if result.higher_is_better is None:
        shown = result.rows[:MAX_ROWS]
        where = "result.rows, result.to_pandas()"
    else:
        shown = result.worst(MAX_ROWS)
        title += f"; the worst with {result.min_support:,} rows or more, surest first"
        where = "result.worst(k), result.to_pandas()"
    rows = [(s.column, s.bin, s.value, s.ci_low, s.ci_high, s.n, s.share) for s in shown]
    header = ("column", "bin", "value", "ci low", "ci high", "rows", "share")
    return Shown(title, header, rows, _more(len(shown), len(result.rows), "slice", where))


def slice_line(s: Slice) -> str:
    interval = f" [{cell(s.ci_low)}, {cell(s.ci_high)}]" if s.ci_low is not None else ""
    return f"Slice({s.column} = {s.bin}: {cell(s.value)}{interval} on {_rows(s.n, 'row')})"


def expectations_table(expectations: Expectations) -> Shown:
    """One row per column: what its values are expected to be."""
    columns = list(expectations.columns.values())
    learned = (
        f"learned on {_rows(expectations.n_reference, 'row')}"
        if expectations.n_reference
        else "written by hand"
    )
    title = f"Expectations of {_rows(len(columns), 'column')}, {learned}"
    shown = columns[:MAX_ROWS]
    rows = []
    for e in shown:
        span = f"{cell(e.min)} .. {cell(e.max)}" if e.min is not None or e.max is not None else "-"
        values = "-" if e.categories is None else _rows(len(e.categories), "value")
        new = "-" if e.categories is None else e.allow_new_categories
        rows.append((e.column, e.kind, e.dtype, e.max_missing_share, span, values, new))
    header = ("column", "kind", "type", "max missing", "range", "categories", "new allowed")
    more = _more(
        len(shown), len(columns), "column", "expectations.columns, expectations['<column>']"
    )
    return Shown(title, header, rows, more)


def baseline_line(b: Baseline) -> str:
    """``Baseline(train v1: environment=training; 20,000 rows; ...)``: what it selects and
    what it holds."""
    if not b.is_fitted:
        return f"Baseline({b.label}: {b.selector.describe()}; not fitted)"
    held = [f"bins of {_rows(len(b.binnings_), 'column')}"]
    if b.expectations_ is not None:
        held.append(f"expectations of {len(b.expectations_.columns):,}")
    if b.performance_ is not None:
        held.append("performance")
    if b.slices_ is not None:
        held.append("slices")
    rows = f"{_rows(b.n_rows_, 'row')}; " if b.n_rows_ is not None else ""
    created = f"; created {cell(b.created_at)}" if b.created_at is not None else ""
    return f"Baseline({b.label}: {b.selector.describe()}; {rows}{', '.join(held)}{created})"
