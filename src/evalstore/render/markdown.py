"""A report as Markdown: the summary and the tables, for pull requests, chat and terminals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from evalstore.render._common import fmt, performance_rows, rows_used_note

if TYPE_CHECKING:
    from evalstore.analyses.report import Report

__all__ = ["report_markdown", "table"]

_MARK = {"alert": "**ALERT**", "ok": "ok", "info": "info"}


def _cell(value: Any) -> str:
    return fmt(value).replace("|", "\\|").replace("\n", " ")


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def report_markdown(report: Report, max_rows: int = 15) -> str:
    """Summary, performance, drift, data quality and worst slices as Markdown."""
    ref, cur = report.reference, report.current
    out = [
        f"# {report.model}: {cur['label']} against {ref['label']}",
        "",
        f"Reference: {ref['label']} ({_cell(ref.get('rows'))} rows). "
        f"Current: {cur['label']} ({_cell(cur.get('rows'))} rows).",
        "",
        "## Summary",
        "",
    ]
    out += [f"- {_MARK[i['status']]} ({i['topic']}) {i['text']}" for i in report.summary]
    perf = performance_rows(report)
    if perf:
        out += ["", "## Performance", ""]
        rows = [
            [
                r["metric"],
                r["reference"],
                r["current"],
                f"{_cell(r['ci_low'])} to {_cell(r['ci_high'])}"
                if r["ci_low"] is not None
                else None,
                r["change"],
                r["n"],
                r["n_without_actual"],
            ]
            for r in perf
        ]
        out.append(
            table(
                [
                    "metric",
                    "reference",
                    "current",
                    "interval",
                    "change",
                    "rows used",
                    "without actual",
                ],
                rows,
            )
        )
        note = rows_used_note(report, perf)
        if note is not None:
            out += ["", note]
    d = report.drift
    out += [
        "",
        "## Drift",
        "",
        f"{d.n_drifted} of {d.n_columns} columns drifted (false discovery rate {d.alpha:g}).",
        "",
    ]
    if report.reference_note is not None:
        out += [f"Note: {report.reference_note}", ""]
    out.append(
        table(
            ["column", "method", "value", "threshold", "p (adjusted)", "drifted"],
            [
                [c.column, c.method, c.value, c.threshold, c.p_adjusted, c.drifted]
                for c in d.columns[:max_rows]
            ],
        )
    )
    if len(d.columns) > max_rows:
        out.append(f"\n… and {len(d.columns) - max_rows} more columns, none ranked higher.")
    if report.prediction_drift is not None and report.prediction_drift.columns:
        out += ["", "### Predictions and actuals", ""]
        out.append(
            table(
                ["column", "method", "value", "p (adjusted)", "drifted"],
                [
                    [c.column, c.method, c.value, c.p_adjusted, c.drifted]
                    for c in report.prediction_drift.columns
                ],
            )
        )
    out += ["", "## Data quality", ""]
    issues = report.quality.issues
    if issues:
        out.append(
            table(
                ["severity", "column", "check", "what"],
                [[i.severity, i.column, i.check, i.message] for i in issues[:max_rows]],
            )
        )
    else:
        out.append("No issue found.")
    if report.slices_current is not None:
        s = report.slices_current
        worst = report.worst_slices(10)
        out += ["", "## Worst slices", ""]
        rows = []
        for w in worst:
            found = (
                report.slices_reference.find(w.column, w.bin) if report.slices_reference else None
            )
            interval = f"{_cell(w.ci_low)} to {_cell(w.ci_high)}" if w.ci_low is not None else None
            value: Any = w.value
            if w.shown_bound is not None:
                value = f"{_cell(w.value)} ± {_cell(w.shown_bound)}"
            rows.append(
                [
                    w.column,
                    w.bin,
                    value,
                    interval,
                    w.n,
                    found.value if found is not None else None,
                ]
            )
        if rows:
            out.append(table(["column", "slice", s.metric, "interval", "rows", "reference"], rows))
        elif s.higher_is_better is not None and s.worst(1):  # ranked, none below overall
            out.append(f"No slice of {s.min_support} rows or more is worse than overall.")
        else:
            out.append(f"No slice has {s.min_support} rows or more.")
    return "\n".join(out) + "\n"
