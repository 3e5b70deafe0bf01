"""Turn a dataset's table into the prepared table metrics aggregate over (``MetricInput``).

The prepared table is one projection of ``Dataset.table``: the group keys plus a few
derived columns (is the actual known, is it the positive class, the predicted class,
the scores). Nothing runs here; it is an Ibis expression the metrics build on. The one
exception is :func:`require_positive_class`, which reads a few labels for its error message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from numbers import Integral
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from evalstore.analyses.metrics._base import (
    ACTUAL,
    CLASS_SCORE,
    HAS_ACTUAL,
    IS_POSITIVE,
    PREDICTED_LABEL,
    PREDICTED_POSITIVE,
    SCORE,
    TOP_CLASS,
    TOP_SCORE,
    MetricInput,
)
from evalstore.errors import ParameterError
from evalstore.schema import Task

if TYPE_CHECKING:
    from evalstore.dataset import Dataset

__all__ = [
    "binary_only",
    "check_threshold",
    "class_order",
    "infer_task",
    "lacks_positive_class",
    "parse_positive_class",
    "prepare",
    "require_positive_class",
    "resolve_positive_class",
]

SCORE_PREFIX = "prediction_score:"
#: columns of the first selects of a multiclass model's prepared rows (:func:`_scored_classes`):
#: whether a row has a score vector, each class score with 0 for a missing one, the top score
_FIRST = "__es_first_"
_SCORED = _FIRST + "scored"
_FILLED = _FIRST + "filled:"
_TOP = _FIRST + "top"


def infer_task(columns: Sequence[str]) -> Task:
    """The task a dataset's columns imply; ambiguous cases ask for ``task=``."""
    if any(c.startswith(SCORE_PREFIX) for c in columns):
        return Task.MULTICLASS_CLASSIFICATION
    if "actual_score" in columns:
        return Task.REGRESSION
    labels = "actual_label" in columns or "prediction_label" in columns
    if labels and "prediction_score" in columns:
        return Task.BINARY_CLASSIFICATION
    raise ParameterError(
        "task",
        "given for this dataset",
        None,
        "Its columns do not tell binary, multiclass and regression apart; pass "
        "task='binary_classification', 'multiclass_classification' or 'regression' "
        "(the model's task: model.task).",
    )


def _label_type(table: ir.Table) -> ir.DataType | None:
    for name in ("actual_label", "prediction_label"):
        if name in table.columns:
            dtype = table[name].type()
            if not dtype.is_null():
                return dtype
    return None


def resolve_positive_class(table: ir.Table, positive_class: Any) -> Any:
    """The positive class, typed like the stored labels.

    Defaults: ``True`` for boolean labels, ``1`` for integer labels; text labels have
    no default. ``1``/``0`` are accepted for boolean labels and ``True``/``False`` for
    integer ones.
    """
    dtype = _label_type(table)
    if dtype is None:  # no labels at all: only scores, nothing to compare
        return True if positive_class is None else positive_class
    if dtype.is_boolean():
        if positive_class is None:
            return True
        if isinstance(positive_class, Integral) and positive_class in (0, 1):
            return bool(positive_class)
        raise ParameterError(
            "positive_class", "True or False (the labels are booleans)", positive_class
        )
    if dtype.is_integer():
        if positive_class is None:
            return 1
        if isinstance(positive_class, Integral):
            return int(positive_class)
        raise ParameterError(
            "positive_class", "an integer (the labels are integers)", positive_class
        )
    if positive_class is None:
        raise ParameterError(
            "positive_class",
            "given when the labels are text",
            None,
            "Pass the label of the positive class, e.g. positive_class='yes'.",
        )
    if not isinstance(positive_class, str):
        raise ParameterError("positive_class", "a string (the labels are text)", positive_class)
    return positive_class


_INTEGER = re.compile(r"^[+-]?\d{1,18}$")
#: a class label that is a number written out (as an integer or float label reads as text)
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def parse_positive_class(
    table: ir.Table, text: str | None, name: str = "positive_class"
) -> str | int | bool | None:
    """The positive class written as text (a query parameter, a CLI flag), typed as the
    stored labels are: ``true``/``false`` (or ``1``/``0``) for booleans, an integer for
    integers, the text itself for text labels. ``name``: the parameter errors name."""
    if text is None:
        return None
    dtype = _label_type(table)
    if dtype is not None and dtype.is_boolean():
        found = {"true": True, "1": True, "false": False, "0": False}.get(text.strip().lower())
        if found is None:
            raise ParameterError(name, "true or false (the labels are booleans)", text)
        return found
    if dtype is not None and dtype.is_integer():
        if not _INTEGER.match(text.strip()):
            raise ParameterError(name, "an integer (the labels are integers)", text)
        return int(text)
    return text


def lacks_positive_class(table: ir.Table, task: Task | None, positive_class: Any) -> bool:
    """Whether a binary model's labels are text and no positive class is given (nothing
    runs): its performance cannot be measured."""
    if positive_class is not None or task is not Task.BINARY_CLASSIFICATION:
        return False
    dtype = _label_type(table)
    return dtype is not None and dtype.is_string()


def require_positive_class(
    dataset: Dataset, positive_class: Any, call: str, name: str = "positive_class"
) -> None:
    """Refuse text labels of a binary model without a positive class, before any analysis
    runs, naming what the caller can pass: ``name`` (``positive_class``, or a CLI flag such
    as ``--positive-class``) to ``call`` (``report()``, ``evalstore report``). The message
    lists a few of the labels, read from ``dataset``; other labels pass unchecked (their
    defaults are ``True`` and ``1``)."""
    from evalstore.dataset import query_table

    table = query_table(dataset)
    if not lacks_positive_class(table, dataset.task, positive_class):
        return
    column = next(c for c in ("actual_label", "prediction_label") if c in table.columns)
    found = table.select(label=table[column]).filter(ibis._.label.notnull()).distinct()
    labels = sorted(dataset.execute(found.limit(5)).column("label").to_pylist())
    example = labels[-1] if labels else "yes"
    shown = f"{name} {example}" if name.startswith("--") else f"{name}={example!r}"
    seen = f"The labels include {', '.join(repr(v) for v in labels)}; " if labels else ""
    raise ParameterError(
        name,
        "given when the labels are text",
        None,
        f"{seen}pass the positive one to {call}, e.g. {shown}.",
    )


#: what a model that is not binary has instead of a positive class, by task
_NO_POSITIVE_CLASS = {
    Task.MULTICLASS_CLASSIFICATION: "Its metrics need no positive class: leave it out. "
    "Per-class values are in the confusion matrix (metric 'confusion_matrix') and in "
    "detail['per_class'] of roc_auc and pr_auc.",
    Task.REGRESSION: "A regression model has no classes: leave it out.",
}


def binary_only(task: Task | None, positive_class: Any, threshold: object) -> float:
    """The threshold to use (0.5 when None), after refusing ``positive_class`` and
    ``threshold`` for a model that is not binary, which has no use for them: one place for
    the Python API, REST and the CLI (which names them as its flags). ``task`` None (not
    known) checks the threshold's value only."""
    if task is not None and task is not Task.BINARY_CLASSIFICATION:
        if positive_class is not None:
            raise ParameterError(
                "positive_class",
                "given only for a binary model (the class its metrics count as positive)",
                positive_class,
                f"This is a {task.value} model. {_NO_POSITIVE_CLASS[task]}",
            )
        if threshold is not None:
            raise ParameterError(
                "threshold",
                "given only for a binary model (a row without a predicted label is "
                "positive when its score >= threshold)",
                threshold,
                f"This is a {task.value} model: leave it out.",
            )
    return check_threshold(0.5 if threshold is None else threshold)


def check_threshold(threshold: object) -> float:
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, (int, float))
        or not 0 <= threshold <= 1
    ):
        raise ParameterError("threshold", "a number between 0 and 1", threshold)
    return float(threshold)


def class_order(classes: Iterable[str], text_labels: bool = False) -> tuple[str, ...]:
    """The classes (as text) in their natural order: numeric when every class is a number
    and the labels are not text (``text_labels``), text order otherwise, as
    ``numpy.unique`` orders the labels.

    The one order of classes everywhere: ``MetricInput.classes`` (and so argmax ties), the
    confusion matrix's labels and per-class details. Classes 1, 2, 10 tie-break as
    ``numpy.argmax`` over ``[1, 2, 10]`` does and are listed 1, 2, 10, not as the text
    ``'10' < '2'``. Numbers compare exactly (``Decimal``: 18-digit integers too).

    >>> class_order(["10", "2", "1"])
    ('1', '2', '10')
    >>> class_order(["10", "2", "1"], text_labels=True)
    ('1', '10', '2')
    """
    names = list(classes)
    if not text_labels and names and all(_NUMBER.match(c) for c in names):
        return tuple(sorted(names, key=lambda c: (Decimal(c), c)))
    return tuple(sorted(names))


def _scored_classes(first: ir.Table, kept: Sequence[str], classes: Sequence[str]) -> ir.Table:
    """The class scores, the top-scoring class and its score of ``first`` (:func:`prepare`'s
    first select: ``_SCORED`` and ``_FILLED`` columns), with its ``kept`` columns.

    The argmax is numpy.argmax over the score vector in the classes' natural order: on a
    tie, the first class wins. NULL (as the class scores) where a row has no class score;
    a missing class score is read as 0 where it has some (:func:`_class_scores`). Each
    step reads the one before by name, in selects of their own, so that the SQL grows with
    the classes (written out in place, the argmax of 10 classes was 0.4 MB of SQL, and 40
    MB for the slices of 64 columns, which DuckDB took 15 s to parse and bind).
    """
    filled = [first[_FILLED + c] for c in classes]
    second = first.select(*first.columns, **{_TOP: ibis.greatest(*filled)})
    scored, top = second[_SCORED], second[_TOP]
    best = ibis.cases(*[(scored & (second[_FILLED + c] == top), ibis.literal(c)) for c in classes])
    logged = second[PREDICTED_LABEL] if PREDICTED_LABEL in kept else None
    return second.select(
        *[name for name in kept if name != PREDICTED_LABEL],
        **_class_scores(second, classes),
        **{
            TOP_CLASS: best,
            TOP_SCORE: ibis.ifelse(scored, top, ibis.null().cast("float64")),
            PREDICTED_LABEL: best if logged is None else ibis.coalesce(logged, best),
        },
    )


def _scored(table: ir.Table, classes: Sequence[str]) -> ir.BooleanValue:
    """Whether a row has any class score (a score vector)."""
    return ibis.or_(*[table[SCORE_PREFIX + c].notnull() for c in classes])


def _class_scores(table: ir.Table, classes: Sequence[str]) -> dict[str, ir.FloatingValue]:
    """Each class's score, a missing one read as 0 in a row that has any class score
    (``table``: the first select of :func:`prepare`, with ``_SCORED`` and ``_FILLED``).

    A class whose score is missing (NULL: the version did not log that class's column,
    e.g. retrained without a rare class, or left the value out) is a class the row does
    not predict: score 0, as a class with no score column at all is (log loss gives its
    actual p = 0, clipped). Its argmax, log loss, Brier score and calibration then use
    the rest of the vector, and the row is counted in every metric's ``n`` instead of
    silently dropped. A row with no class score at all has no score vector: NULL scores,
    left out of the score metrics (its predicted label, if logged, still counts).
    (NaN cannot be stored: ingest refuses it as a score outside [0, 1].)
    """
    missing = ibis.null().cast("float64")
    scored = table[_SCORED]
    return {CLASS_SCORE + c: ibis.ifelse(scored, table[_FILLED + c], missing) for c in classes}


def prepare(
    table: ir.Table,
    task: Task,
    keys: Mapping[str, ir.Value],
    *,
    positive_class: Any = None,
    threshold: float = 0.5,
    confidence: float = 0.95,
    score_bins: int = 2**16,
) -> MetricInput:
    """The prepared table for ``task`` over ``table``, grouped by ``keys`` (name -> expr).

    ``score_bins``: bins of the binned AUC and AP; fewer for many small groups (slices),
    where each group's histogram is sorted for its cumulative sums."""
    cols = table.columns
    derived: dict[str, ir.Value] = {}
    has_label = "prediction_label" in cols
    classes: tuple[str, ...] = ()
    text_labels = False
    if task is Task.REGRESSION:
        actual = table.actual_score.cast("float64") if "actual_score" in cols else None
        has_score = "prediction_score" in cols
        if has_score:
            derived[SCORE] = table.prediction_score.cast("float64")
        has_label = False
    else:
        actual = table.actual_label if "actual_label" in cols else None
        if task is Task.BINARY_CLASSIFICATION:
            positive_class = resolve_positive_class(table, positive_class)
            has_score = "prediction_score" in cols
            score = table.prediction_score.cast("float64") if has_score else None
            if score is not None:
                derived[SCORE] = score
            by_label = table.prediction_label == positive_class if has_label else None
            by_score = score >= threshold if score is not None else None
            # a row without a logged label falls back on its score
            if by_label is not None and by_score is not None:
                derived[PREDICTED_POSITIVE] = ibis.coalesce(by_label, by_score)
            elif by_label is not None or by_score is not None:
                derived[PREDICTED_POSITIVE] = by_label if by_label is not None else by_score
            has_label = PREDICTED_POSITIVE in derived
            if actual is not None:
                derived[IS_POSITIVE] = actual == positive_class
            else:
                derived[IS_POSITIVE] = ibis.null().cast("boolean")
        else:
            dtype = _label_type(table)
            text_labels = dtype is not None and dtype.is_string()
            classes = class_order(
                [c[len(SCORE_PREFIX) :] for c in cols if c.startswith(SCORE_PREFIX)],
                text_labels=text_labels,
            )
            has_score = bool(classes)
            if has_label:
                derived[PREDICTED_LABEL] = table.prediction_label.cast("string")
            if classes:
                derived[_SCORED] = _scored(table, classes)
                for c in classes:
                    derived[_FILLED + c] = table[SCORE_PREFIX + c].cast("float64").coalesce(0.0)
            has_label = has_label or has_score
            if actual is not None:
                actual = actual.cast("string")
    if actual is None:
        derived[ACTUAL] = ibis.null().cast("float64" if task is Task.REGRESSION else "string")
        derived[HAS_ACTUAL] = ibis.literal(False)
    else:
        derived[ACTUAL] = actual
        derived[HAS_ACTUAL] = actual.notnull()
    prepared = table.select(**dict(keys), **derived)
    if classes:  # a multiclass model's class scores and argmax read the select above
        kept = [name for name in [*keys, *derived] if not name.startswith(_FIRST)]
        prepared = _scored_classes(prepared, kept, classes)
    return MetricInput(
        table=prepared,
        task=task,
        keys=tuple(keys),
        classes=classes,
        text_labels=text_labels,
        positive_class=positive_class,
        threshold=threshold,
        confidence=confidence,
        has_label=has_label,
        has_score=has_score,
        score_bins=score_bins,
    )
