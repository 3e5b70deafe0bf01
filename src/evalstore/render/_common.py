"""What the HTML and Markdown renderers share: how a value reads, the performance table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evalstore.analyses.report import Report

__all__ = ["fmt", "performance_rows"]


def fmt(value: Any) -> str:
    """A value for a table cell: ``-`` for none, yes/no, integers with separators, floats
    to 4 significant digits."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def performance_rows(report: Report) -> list[dict[str, Any]]:
    """One row per scalar metric: reference and current value, interval and change."""
    reference = report.performance_reference
    current = report.performance_current
    ref = {r["metric"]: r for r in (reference.rows if reference is not None else [])}
    out = []
    for row in current.rows if current is not None else []:
        if not isinstance(row["value"], (int, float)) or isinstance(row["value"], bool):
            continue  # structured metrics (confusion matrix, curves) have no single value
        r = ref.get(row["metric"])
        ref_value = r["value"] if r is not None else None
        change = row["value"] - ref_value if isinstance(ref_value, (int, float)) else None
        out.append(
            {
                "metric": row["metric"],
                "reference": ref_value,
                "current": row["value"],
                "ci_low": row["ci_low"],
                "ci_high": row["ci_high"],
                "change": change,
                "n": row["n"],
                "n_without_actual": row["n_without_actual"],
            }
        )
    return out
