"""Label-based classification metrics: counts of a confusion matrix, computed in the engine.

Binary metrics come from four filtered counts (tp, fp, fn, tn) in the shared aggregate
query. Multiclass averages (micro, macro, weighted) come from one grouped confusion
matrix query (actual class x predicted class -> count), tiny per group.

An undefined value (a zero denominator) is None, as scikit-learn's
``zero_division=np.nan``; macro and weighted averages leave undefined classes out.

Intervals:

- proportions (accuracy, precision, recall, specificity, fpr, fnr) carry a Wilson
  interval; micro averages of a single-label problem, and ``recall_weighted``, equal
  the accuracy and carry its interval;
- ``f1`` and the macro and weighted averages carry a percentile bootstrap interval
  (``_intervals.bootstrap``): the confusion matrix's cells resampled as a multinomial.
  These metrics depend on the rows only through those counts, so this is exactly a
  row bootstrap (up to its Monte Carlo error). Replicas where the metric is undefined
  (no positive actual or predicted, for ``f1``) are left out. A bootstrap never puts a
  row in an empty cell, so with no true positive (F1 0), or no error (F1 1), every
  replica agrees and the interval was a point: [0, 0] on 7 rows. ``f1`` is 2J / (1 + J),
  J = tp / (tp + fp + fn) the share of true positives among the rows predicted or
  actually positive, so with fewer than ``FEW`` (10) true positives or errors its
  interval also holds the Wilson interval of J over those rows, mapped through
  2J / (1 + J). A confusion matrix with
  more than ``MAX_BOOTSTRAP_CELLS`` non-empty cells (~64 classes, all confused) gets
  no interval: 1000 replicas would cost over ~0.3 s per group.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import ibis.expr.types as ir
import numpy as np

from evalstore.analyses.metrics._base import (
    GroupData,
    Metric,
    MetricInput,
    MetricValue,
    register_metric,
)
from evalstore.analyses.metrics._inputs import class_order
from evalstore.analyses.metrics._intervals import Floats, bootstrap, hull, wilson
from evalstore.schema import Task

__all__ = ["MAX_BOOTSTRAP_CELLS", "confusion"]

BINARY = Task.BINARY_CLASSIFICATION
MULTICLASS = Task.MULTICLASS_CLASSIFICATION
CELLS = ("tp", "fp", "fn", "tn")
#: fewer true positives or errors than this: f1's interval holds Wilson's for its J too
FEW = 10
#: the most non-empty confusion-matrix cells a bootstrap interval is drawn for
MAX_BOOTSTRAP_CELLS = 4096


def _binary_counts(m: MetricInput) -> dict[str, ir.Scalar]:
    """The confusion matrix's four counts: built once per input for the ~10 metrics that
    ask for them (each ``count`` is ~5 Ibis operations made and validated)."""

    def build() -> dict[str, ir.Scalar]:
        t = m.table
        y, p = m.is_positive, m.predicted_positive
        used = m.has_actual & p.notnull()
        return {
            "tp": t.count(where=used & y & p),
            "fp": t.count(where=used & ~y & p),
            "fn": t.count(where=used & y & ~p),
            "tn": t.count(where=used & ~y & ~p),
        }

    return dict(m.shared("classification.binary_counts", build))


def _correct_counts(m: MetricInput) -> dict[str, ir.Scalar]:
    if m.task is BINARY:
        return _binary_counts(m)
    t = m.table
    used = m.has_actual & m.predicted_label.notnull()
    return {
        "correct": t.count(where=used & (m.actual == m.predicted_label)),
        "total": t.count(where=used),
    }


def _confusion_query(m: MetricInput) -> dict[str, ir.Table]:
    if m.task is BINARY:
        return {}
    return {"confusion": m.shared("classification.confusion", lambda: _confusion_table(m))}


def _confusion_table(m: MetricInput) -> ir.Table:
    t = m.table.filter(m.has_actual & m.predicted_label.notnull())
    cm = t.group_by([*m.keys, m.actual.name("actual"), m.predicted_label.name("predicted")])
    return cm.aggregate(count=t.count())


def _n(group: GroupData, name: str) -> int:
    return int(group[name] or 0)


def _proportion(k: int, n: int, group: GroupData) -> MetricValue:
    if n == 0:
        return MetricValue(None, n=0)
    low, high = wilson(k, n, group.input.confidence)
    return MetricValue(k / n, low, high, n)


def _accuracy(group: GroupData) -> MetricValue:
    if group.input.task is BINARY:
        cells = {c: _n(group, c) for c in CELLS}
        return _proportion(cells["tp"] + cells["tn"], sum(cells.values()), group)
    return _proportion(_n(group, "correct"), _n(group, "total"), group)


def confusion(group: GroupData) -> tuple[list[Any], np.ndarray[Any, np.dtype[np.int64]]]:
    """The group's confusion matrix: labels and counts[actual, predicted].

    Binary: labels are ``[False, True]`` (is the positive class). Multiclass: the
    classes seen as actual or predicted, as text, in their natural order (``class_order``:
    ``'1', '2', '10'`` for integer labels, as scikit-learn's ``labels``).
    """
    if group.input.task is BINARY:
        c = {name: _n(group, name) for name in CELLS}
        return [False, True], np.array([[c["tn"], c["fp"]], [c["fn"], c["tp"]]], dtype=np.int64)
    rows = group.rows("confusion")
    seen = {r["actual"] for r in rows} | {r["predicted"] for r in rows}
    labels = list(class_order(seen, text_labels=group.input.text_labels))
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for r in rows:
        matrix[index[r["actual"]], index[r["predicted"]]] += int(r["count"])
    return labels, matrix


def _binary_proportion(
    key: str,
    name: str,
    hib: bool,
    hits: tuple[str, ...],
    among: tuple[str, ...],
    description: str,
) -> Metric:
    def finalize(group: GroupData) -> MetricValue:
        k = sum(_n(group, c) for c in hits)
        return _proportion(k, sum(_n(group, c) for c in among), group)

    return Metric(
        key=key,
        name=name,
        tasks=[BINARY],
        higher_is_better=hib,
        needs=["label"],
        aggregates=_binary_counts,
        finalize=finalize,
        description=description,
        interval="wilson",
        default=True,
    )


def _class_sums(x: Floats, index: np.ndarray[Any, Any], k: int) -> Floats:
    """Per class: the sum of the columns of ``x`` (replicas x cells) whose class is ``index``."""
    out = np.zeros((x.shape[0], k))
    if index.size:
        order = np.argsort(index, kind="stable")
        ordered = index[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        out[:, ordered[starts]] = np.add.reduceat(x[:, order], starts, axis=1)
    return out


def _class_scores(
    x: Floats, actual: np.ndarray[Any, Any], predicted: np.ndarray[Any, Any], k: int, score: str
) -> tuple[Floats, Floats]:
    """Per class, for each row of cell counts ``x``: ``score`` (NaN where undefined, a
    zero denominator) and the support.

    ``x`` is replicas x cells, cell j being (actual[j], predicted[j]) of ``k`` classes.
    """
    hit = actual == predicted
    tp = _class_sums(x[:, hit], actual[hit], k)
    support = _class_sums(x, actual, k)
    called = _class_sums(x, predicted, k)
    with np.errstate(divide="ignore", invalid="ignore"):
        if score == "precision":
            values = np.where(called > 0, tp / called, np.nan)
        elif score == "recall":
            values = np.where(support > 0, tp / support, np.nan)
        else:
            denom = called + support
            values = np.where(denom > 0, 2 * tp / denom, np.nan)
    return values, support


def _average_of(
    x: Floats,
    actual: np.ndarray[Any, Any],
    predicted: np.ndarray[Any, Any],
    k: int,
    score: str,
    average: str,
) -> Floats:
    """``score`` averaged over the classes (``average``), for each row of cell counts ``x``.

    Undefined classes are left out (a class seen neither as actual nor as predicted has
    every score undefined); weighted: by the class's support, a plain mean when the
    defined classes have none (as scikit-learn). NaN where no class is defined.
    """
    values, support = _class_scores(x, actual, predicted, k, score)
    with np.errstate(divide="ignore", invalid="ignore"):
        defined = ~np.isnan(values)
        present = np.where(defined, values, 0.0)
        mean: Floats = present.sum(axis=1) / defined.sum(axis=1)
        if average == "macro":
            return mean
        weights = np.where(defined, support, 0.0)
        total = weights.sum(axis=1)
        weighted = (present * weights).sum(axis=1) / total
    out: Floats = np.where(total > 0, weighted, mean)
    return out


def _averaged(score: str, average: str) -> Callable[[GroupData], MetricValue]:
    def finalize(group: GroupData) -> MetricValue:
        _, matrix = confusion(group)
        n = int(matrix.sum())
        if n == 0:
            return MetricValue(None, n=0)
        if average == "micro" or (score, average) == ("recall", "weighted"):
            # single-label: every error is one false positive and one false negative, and
            # recall weighted by support is sum(tp) / n: all three are the accuracy
            return _proportion(int(np.trace(matrix)), n, group)
        actual, predicted = np.nonzero(matrix)  # the non-empty cells
        counts = matrix[actual, predicted]
        k = len(matrix)

        def statistic(x: Floats) -> Floats:
            return _average_of(x, actual, predicted, k, score, average)

        value = float(statistic(counts[None, :].astype(np.float64))[0])
        if math.isnan(value):
            return MetricValue(None, n=n)
        low = high = None
        if counts.size <= MAX_BOOTSTRAP_CELLS:
            low, high = bootstrap(counts, statistic, group.input.confidence)
        return MetricValue(value, low, high, n)

    return finalize


def _f1(group: GroupData) -> MetricValue:
    """F1 of the positive class; its cells laid out as the averages' (one shared draw)."""
    _, matrix = confusion(group)
    n = int(matrix.sum())
    tp, fp, fn = int(matrix[1, 1]), int(matrix[0, 1]), int(matrix[1, 0])
    if not 2 * tp + fp + fn:
        return MetricValue(None, n=n)
    actual, predicted = np.nonzero(matrix)
    counts = matrix[actual, predicted]

    def statistic(x: Floats) -> Floats:
        values, _ = _class_scores(x, actual, predicted, 2, "f1")
        return values[:, 1]

    low, high = bootstrap(counts, statistic, group.input.confidence)
    if min(tp, fp + fn) < FEW:  # the bootstrap collapses on an empty cell (module doc)
        j_low, j_high = wilson(tp, tp + fp + fn, group.input.confidence)
        assert j_low is not None and j_high is not None  # tp + fp + fn > 0 here
        low, high = hull((low, high), (2 * j_low / (1 + j_low), 2 * j_high / (1 + j_high)))
    return MetricValue(2 * tp / (2 * tp + fp + fn), low, high, n)


def _confusion_matrix(group: GroupData) -> MetricValue:
    labels, matrix = confusion(group)
    detail: dict[str, Any] = {"labels": labels, "matrix": matrix.tolist()}
    if group.input.task is BINARY:
        detail["positive_class"] = group.input.positive_class
        detail.update(dict(zip(("tn", "fp", "fn", "tp"), matrix.ravel().tolist(), strict=True)))
    return MetricValue(None, n=int(matrix.sum()), detail=detail)


def _both(m: MetricInput) -> Mapping[str, ir.Scalar]:
    return _binary_counts(m) if m.task is BINARY else {}


for _metric in (
    Metric(
        key="accuracy",
        name="Accuracy",
        tasks=[BINARY, MULTICLASS],
        higher_is_better=True,
        needs=["label"],
        aggregates=_correct_counts,
        finalize=_accuracy,
        description="share of rows whose predicted class is the actual class",
        interval="wilson",
        default=True,
    ),
    _binary_proportion(
        "precision",
        "Precision",
        True,
        ("tp",),
        ("tp", "fp"),
        "share of predicted positives that are positive: tp / (tp + fp)",
    ),
    _binary_proportion(
        "recall",
        "Recall",
        True,
        ("tp",),
        ("tp", "fn"),
        "share of positives predicted positive (sensitivity, TPR): tp / (tp + fn)",
    ),
    _binary_proportion(
        "specificity",
        "Specificity",
        True,
        ("tn",),
        ("tn", "fp"),
        "share of negatives predicted negative (TNR): tn / (tn + fp)",
    ),
    _binary_proportion(
        "fpr",
        "False positive rate",
        False,
        ("fp",),
        ("fp", "tn"),
        "share of negatives predicted positive: fp / (fp + tn)",
    ),
    _binary_proportion(
        "fnr",
        "False negative rate",
        False,
        ("fn",),
        ("fn", "tp"),
        "share of positives predicted negative: fn / (fn + tp)",
    ),
    Metric(
        key="f1",
        name="F1",
        tasks=[BINARY],
        higher_is_better=True,
        needs=["label"],
        aggregates=_binary_counts,
        finalize=_f1,
        description="harmonic mean of precision and recall of the positive class",
        interval="bootstrap",
        default=True,
    ),
    Metric(
        key="confusion_matrix",
        name="Confusion matrix",
        tasks=[BINARY, MULTICLASS],
        higher_is_better=None,
        needs=["label"],
        aggregates=_both,
        queries=_confusion_query,
        finalize=_confusion_matrix,
        description="counts of actual class x predicted class (detail: labels, matrix)",
        structured=True,
    ),
):
    register_metric(_metric)

_DEFAULT_AVERAGES = {
    ("precision", "macro"),
    ("recall", "macro"),
    ("f1", "macro"),
    ("f1", "weighted"),
}
_NAMES = {"precision": "Precision", "recall": "Recall", "f1": "F1"}
for _score in ("precision", "recall", "f1"):
    for _average in ("micro", "macro", "weighted"):
        _key = f"{_score}_{_average}"
        register_metric(
            Metric(
                key=_key,
                name=f"{_NAMES[_score]} ({_average})",
                tasks=[BINARY, MULTICLASS],
                higher_is_better=True,
                needs=["label"],
                aggregates=_both,
                queries=_confusion_query,
                finalize=_averaged(_score, _average),
                description=f"{_score} averaged over classes ({_average}), as scikit-learn's "
                f"average={_average!r}",
                interval="wilson"
                if _average == "micro" or _key == "recall_weighted"
                else "bootstrap",
                default=[MULTICLASS] if (_score, _average) in _DEFAULT_AVERAGES else False,
            )
        )
