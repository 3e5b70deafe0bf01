"""What the HTML and Markdown renderers share: how a value reads, the performance table
and its note on the rows each metric counts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evalstore.analyses.report import Report

__all__ = ["fmt", "performance_rows", "rows_used_note"]


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


#: binary metrics that count a part of the rows with an actual ({key: name}), and which part
_PART_COUNTED = (
    ({"precision": "precision"}, "those predicted positive"),
    ({"recall": "recall", "fnr": "FNR"}, "those actually positive"),
    ({"specificity": "specificity", "fpr": "FPR"}, "those actually negative"),
)


def rows_used_note(report: Report, rows: list[dict[str, Any]]) -> str | None:
    """What the performance table's "rows used" counts, for the metrics in ``rows``
    (:func:`performance_rows`): the binary rates that count only the predicted or actual
    positives or negatives, by name; None when every metric shown counts every row with
    an actual (multiclass and regression metrics, binary accuracy, AUC...), where a note
    would say nothing the column does not."""
    if report.task != "binary_classification":
        return None
    shown = {r["metric"] for r in rows}
    parts = []
    for keys, part in _PART_COUNTED:
        named = [name for key, name in keys.items() if key in shown]
        if named:
            parts.append(f"{' and '.join(named)}: {part}")
    if not parts:
        return None
    return (
        f"Rows used: the current rows each metric counts ({'; '.join(parts)}; the others: "
        "every row with an actual)."
    )
