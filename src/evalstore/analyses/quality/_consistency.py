"""Do the predictions agree with themselves? Score/label checks per task, as aggregates
that ride along in the quality scan.

- binary: scores outside [0, 1] (error); the predicted label disagreeing with
  ``score >= threshold`` (warning; boolean labels, 0/1 integer labels, or any labels with
  ``positive_class=``);
- multiclass: class scores not summing to 1 within 1e-6 (warning; rows with every class
  score); the predicted label not a top-scoring class (warning; a tie is fine); an actual
  label that is none of the classes (warning: a new outcome, which the model cannot
  predict; ingest refuses one differing from a class only in case or spaces);
- regression: infinite or NaN predictions (error; the store refuses them at ingest, so
  this guards data written by other means).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir

from evalstore.analyses.metrics._inputs import binary_only, class_order
from evalstore.analyses.quality._checks import pct, show_list
from evalstore.analyses.quality._scan import values_of
from evalstore.analyses.quality.result import QualityIssue
from evalstore.errors import ParameterError
from evalstore.schema import Task

#: how far from 1 a row's class scores may sum
SUM_TOLERANCE = 1e-6
SCORE_PREFIX = "prediction_score:"


@dataclass(frozen=True)
class Rule:
    """One check: the aggregate counting offending rows and the one counting rows checked."""

    check: str
    severity: str
    column: str | None
    what: str
    """completes '<k> of <m> rows ...'"""
    gate: str | None = None
    """an aggregate that must be 0 for the check to mean anything"""


@dataclass
class Consistency:
    aggregates: dict[str, Any] = field(default_factory=dict)
    rules: list[Rule] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, rule: Rule, bad: Any, checked: Any) -> None:
        self.aggregates[f"k_{rule.check}"] = bad.sum()
        self.aggregates[f"k_{rule.check}_of"] = checked.sum()
        self.rules.append(rule)

    def evaluate(
        self, row: Mapping[str, Any], n: int, window: datetime | None
    ) -> tuple[dict[str, dict[str, int]], list[QualityIssue], list[str]]:
        """Per check ``{"rows", "checked"}``, an issue for each with offending rows, and
        notes on checks that could not run."""
        counts: dict[str, dict[str, int]] = {}
        issues, notes = [], []
        for rule in self.rules:
            if rule.gate is not None and int(row[rule.gate] or 0) > 0:
                where = f" in the window from {window.isoformat()}" if window else ""
                notes.append(
                    f"{rule.check} not checked{where}: {int(row[rule.gate]):,} rows have "
                    "integer labels other than 0 and 1; pass positive_class=."
                )
                continue
            bad, of = int(row[f"k_{rule.check}"] or 0), int(row[f"k_{rule.check}_of"] or 0)
            counts[rule.check] = {"rows": bad, "checked": of}
            if bad:
                issues.append(
                    QualityIssue(
                        rule.column,
                        rule.check,
                        rule.severity,
                        f"{rule.column or 'class scores'}: {bad:,} of {of:,} rows checked "
                        f"({pct(bad / of)}) {rule.what}.",
                        bad,
                        bad / n if n else None,
                        window,
                    )
                )
        return counts, issues, notes


def plan(table: ir.Table, task: Task | None, threshold: float, positive_class: Any) -> Consistency:
    """The consistency aggregates for ``task`` over the columns ``table`` has."""
    out = Consistency()
    binary_only(task, positive_class, None)
    if positive_class is not None and task is None:
        raise ParameterError("positive_class", "None unless the model is binary", positive_class)
    if task is None:
        out.notes.append("Score/label consistency not checked: the dataset's task is unknown.")
    elif task is Task.BINARY_CLASSIFICATION:
        _binary(table, out, threshold, positive_class)
    elif task is Task.MULTICLASS_CLASSIFICATION:
        _multiclass(table, out)
    elif "prediction_score" in table.columns:
        s = table.prediction_score
        rule = Rule("non_finite", "error", "prediction_score", "have an infinite or NaN prediction")
        out.add(rule, s.isinf() | s.isnan(), s.notnull())
    return out


def _positive(label: ir.Column, positive_class: Any, out: Consistency) -> tuple[Any, str | None]:
    """The positive class for ``label``'s type, and the gate aggregate (if any) that must
    be 0 for it to apply; None when the labels' positive class is unknown."""
    dtype = label.type()
    if dtype.is_boolean():
        if positive_class is None:
            return True, None
        if isinstance(positive_class, bool | int) and positive_class in (0, 1):
            return bool(positive_class), None
        raise ParameterError(
            "positive_class", "True or False (the labels are booleans)", positive_class
        )
    if dtype.is_integer():
        if positive_class is None:
            # only 0/1 labels have an obvious positive class; others need positive_class=
            out.aggregates["k_not01"] = (~label.isin([0, 1])).sum()
            return 1, "k_not01"
        if isinstance(positive_class, int) and not isinstance(positive_class, bool):
            return positive_class, None
        raise ParameterError(
            "positive_class", "an integer (the labels are integers)", positive_class
        )
    if positive_class is None:
        out.notes.append(
            "Label/score agreement not checked: the labels are text; pass positive_class=."
        )
        return None, None
    if not isinstance(positive_class, str):
        raise ParameterError("positive_class", "a string (the labels are text)", positive_class)
    return positive_class, None


def _binary(table: ir.Table, out: Consistency, threshold: float, positive_class: Any) -> None:
    cols = table.columns
    score = values_of(table.prediction_score) if "prediction_score" in cols else None
    if score is not None:
        rule = Rule("score_range", "error", "prediction_score", "have a score outside [0, 1]")
        out.add(rule, (score < 0) | (score > 1), score.notnull())
    if "prediction_label" not in cols:
        return
    label = table.prediction_label
    positive, gate = _positive(label, positive_class, out)
    if score is None or positive is None:
        return
    rule = Rule(
        "label_score",
        "warning",
        "prediction_label",
        f"have a predicted label that disagrees with score >= {threshold:g} "
        f"(positive class {positive!r})",
        gate,
    )
    # NULL (a missing label or score) is neither counted nor checked
    out.add(rule, (label == positive) != (score >= threshold), label.notnull() & score.notnull())


def _multiclass(table: ir.Table, out: Consistency) -> None:
    names = [c for c in table.columns if c.startswith(SCORE_PREFIX)]
    if not names:
        return
    scores = {c[len(SCORE_PREFIX) :]: values_of(table[c]) for c in names}
    complete = ibis.and_(*[s.notnull() for s in scores.values()])
    total = functools.reduce(operator.add, scores.values())
    rule = Rule(
        "score_sum",
        "warning",
        None,
        f"have class scores not summing to 1 (within {SUM_TOLERANCE:g})",
    )
    out.add(rule, complete & ((total - 1).abs() > SUM_TOLERANCE), complete)
    if "actual_label" in table.columns and not table.actual_label.type().is_null():
        actual = table.actual_label
        known = (actual if actual.type().is_string() else actual.cast("string")).isin(list(scores))
        rule = Rule(
            "unknown_actual_class",
            "warning",
            "actual_label",
            "have an actual label that is none of the model's classes "
            f"({show_list(class_order(scores, actual.type().is_string()))}): a new outcome, "
            "which the model cannot predict",
        )
        out.add(rule, actual.notnull() & ~known, actual.notnull())
    if "prediction_label" not in table.columns:
        return
    label = table.prediction_label
    text = label if label.type().is_string() else label.cast("string")
    top = ibis.greatest(*scores.values())
    # the label's own score; NULL when the label is not a class, which counts as a miss
    own = ibis.cases(*[(text == c, s) for c, s in scores.items()])
    checked = complete & label.notnull()
    rule = Rule(
        "label_argmax",
        "warning",
        "prediction_label",
        "have a predicted label that is not the top-scoring class",
    )
    out.add(rule, checked & ~ibis.coalesce(own >= top, False), checked)
