"""What a metric is, and the registry that holds every metric, built-in or custom.

A metric describes itself (key, display name, tasks, direction, what predictions it
needs) and says how it is computed in two steps:

1. ``aggregates(inputs)``: named Ibis aggregate expressions over ``inputs.table``.
   They run, per group, in one query together with every other metric's aggregates;
   equal expressions asked for by two metrics are computed once.
   ``queries(inputs)`` may add whole Ibis tables (a histogram of scores, a confusion
   matrix) holding the group key columns ``inputs.keys``; equal tables run once. A
   query may be :class:`Finished`: its result passes through a function (NumPy on the
   engine's small result) before the metric sees it.
2. ``finalize(group)``: plain arithmetic on that group's tiny aggregated result,
   returning the value (and its confidence interval) as a :class:`MetricValue`, or
   the value alone: a plain number (or None when undefined).

A custom metric is registered exactly like the built-ins::

    from evalstore.analyses.metrics import Metric, register_metric

    register_metric(
        Metric(
            key="positive_rate",
            name="Predicted positive rate",
            tasks=["binary_classification"],
            higher_is_better=None,
            needs=["label"],
            aggregates=lambda m: {
                "k": m.table.count(where=m.has_actual & m.predicted_positive),
                "n": m.table.count(where=m.has_actual & m.predicted_positive.notnull()),
            },
            finalize=lambda g: g["k"] / g["n"] if g["n"] else None,
            interval="wilson",
        )
    )


When ``finalize`` returns a plain number, the registry fills in the rest of the
:class:`MetricValue`: ``n`` is the count of the rows the metric uses, those with an
actual and with what its ``needs`` name (a predicted label, scores), counted in the
same query; and an ``interval="wilson"`` is the Wilson interval of the value as the
share of those ``n`` rows, as above. No other interval can be made from one number: a
metric declaring one (or a share of other rows, as precision is of the predicted
positives) returns ``MetricValue(value, ci_low, ci_high, n)``, e.g. with
``wilson(k, n, group.input.confidence)``. A ``finalize`` annotated to return a
``MetricValue`` (as the built-ins') is taken at its word: nothing is counted for it.

An error raised while a metric is computed (building its aggregates or queries, in
``finalize``) is raised as a :class:`~evalstore.errors.MetricError` naming the metric
and the step, the original as its ``__cause__``.
"""

from __future__ import annotations

import math
import re
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa

from evalstore._registry import Registry
from evalstore.analyses.metrics._intervals import KINDS, wilson
from evalstore.errors import EvalstoreError, MetricError, ParameterError, did_you_mean
from evalstore.schema import Task

__all__ = [
    "NEEDS",
    "GroupData",
    "Metric",
    "MetricInput",
    "MetricValue",
    "available_metrics",
    "get_metric",
    "register_metric",
    "unregister_metric",
]

#: what a metric may need besides the actuals: predicted labels and/or scores
NEEDS = frozenset({"label", "score"})

T = TypeVar("T")

_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

# Column names of the prepared table (``MetricInput.table``); the prefix keeps them
# apart from user columns.
HAS_ACTUAL = "__es_has_actual"
ACTUAL = "__es_actual"
IS_POSITIVE = "__es_is_positive"
PREDICTED_POSITIVE = "__es_predicted_positive"
PREDICTED_LABEL = "__es_predicted_label"
SCORE = "__es_score"
TOP_CLASS = "__es_top_class"
TOP_SCORE = "__es_top_score"
CLASS_SCORE = "__es_score:"
# The aggregate the registry adds for a finalize that may return a plain number: the
# rows the metric uses (its MetricValue's n).
ROWS_USED = "__es_rows_used"


@dataclass(frozen=True)
class MetricValue:
    """One metric's value for one group.

    ``value`` is None when the metric is undefined for the group (no rows with an
    actual, one class only, a zero denominator). ``ci_low``/``ci_high`` bound it at
    the requested confidence when the metric has an interval (``Metric.interval``),
    None when it has none or the group too few rows for one. ``n`` is how
    many rows the metric used. ``detail`` holds structured results (a confusion
    matrix, a calibration curve) and notes such as an approximation's error bound.
    """

    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 0
    detail: dict[str, Any] | None = None


@dataclass(frozen=True, eq=False)
class MetricInput:
    """The prepared table metrics aggregate over, and what its columns mean.

    One row per inference of the dataset. ``keys`` are the group key columns.
    Columns (use the properties, not the names):

    - ``has_actual``: the row's actual is known. Aggregates filter on it
      (``where=m.has_actual & ...``) so that rows without one are counted apart.
    - ``actual``: the true label (binary: as stored; multiclass: as text) or value.
    - binary: ``is_positive`` (actual is the positive class), ``predicted_positive``
      (the predicted label is the positive class; without a label, score >= threshold)
      and ``score`` (the positive class probability).
    - multiclass: ``predicted_label`` (text; without a label, the top-scoring class),
      ``class_score(c)`` for each of ``classes`` (in their natural order; a score the
      row lacks is 0 when it has any, all NULL when it has none), ``top_class`` and
      ``top_score``.
    - regression: ``score`` is the predicted value, ``actual`` the true one.
    """

    table: ir.Table
    task: Task
    keys: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    text_labels: bool = False
    """multiclass: the labels are logged as text, so classes keep text order (``class_order``)"""
    positive_class: Any = None
    threshold: float = 0.5
    confidence: float = 0.95
    has_label: bool = False
    """predicted labels are available (logged, or derived from scores)"""
    has_score: bool = False
    """scores are available (binary, multiclass) or predicted values (regression)"""
    score_bins: int = 2**16
    """score bins of the binned AUC and AP (their error bound grows as bins get fewer)"""
    _memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def shared(self, name: str, build: Callable[[], T]) -> T:
        """``build()``, once per input: for a query several metrics ask for (the score
        histogram of the AUCs and APs), so that it is built and compared once."""
        if name not in self._memo:
            self._memo[name] = build()
        value: T = self._memo[name]
        return value

    def _column(self, name: str) -> ir.Column:
        if name not in self.table.columns:
            raise AttributeError(f"the {self.task.value} input has no {name!r} column")
        # an Ibis column is an operation validated as it is made; an input's metrics ask for
        # the same few columns ~40 times
        return self.shared(f"column:{name}", lambda: self.table[name])

    @property
    def has_actual(self) -> ir.BooleanColumn:
        return self._column(HAS_ACTUAL)

    @property
    def actual(self) -> ir.Column:
        return self._column(ACTUAL)

    @property
    def is_positive(self) -> ir.BooleanColumn:
        return self._column(IS_POSITIVE)

    @property
    def predicted_positive(self) -> ir.BooleanColumn:
        return self._column(PREDICTED_POSITIVE)

    @property
    def predicted_label(self) -> ir.StringColumn:
        return self._column(PREDICTED_LABEL)

    @property
    def score(self) -> ir.FloatingColumn:
        return self._column(SCORE)

    @property
    def top_class(self) -> ir.StringColumn:
        return self._column(TOP_CLASS)

    @property
    def top_score(self) -> ir.FloatingColumn:
        return self._column(TOP_SCORE)

    def class_score(self, cls: str) -> ir.FloatingColumn:
        return self._column(CLASS_SCORE + cls)


@dataclass(frozen=True)
class GroupData(Mapping[str, Any]):
    """One group's aggregated values, as a metric's ``finalize`` sees them.

    ``group["tp"]`` is the value of the aggregate the metric named ``tp``;
    ``group.rows("hist")`` the rows of its query ``hist`` for this group.
    """

    scalars: Mapping[str, Any]
    tables: Mapping[str, list[dict[str, Any]]]
    input: MetricInput

    def __getitem__(self, name: str) -> Any:
        return self.scalars[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.scalars)

    def __len__(self) -> int:
        return len(self.scalars)

    def rows(self, name: str) -> list[dict[str, Any]]:
        return self.tables.get(name, [])


@dataclass(frozen=True, eq=False)
class Finished:
    """A query whose result is finished outside the engine: ``finish`` turns the rows
    ``table`` returns (an Arrow table) into the rows the metric reads.

    For a last pass that is cheap on the engine's aggregated result and costly in SQL:
    the cumulative sums of the score histograms (``ranking``) were window functions
    over up to a million (group, bin) rows; in NumPy they are one sort and a few
    vectorised passes. ``finish`` must treat each group alone (two groups' rows may come
    in one result) and compare equal for equal work (a frozen dataclass, not a lambda),
    so that equal queries still run once.
    """

    table: ir.Table
    finish: Callable[[pa.Table], pa.Table]

    def equals(self, other: object) -> bool:
        return (
            isinstance(other, Finished)
            and self.finish == other.finish
            and self.table.equals(other.table)
        )


def same_query(a: ir.Table | Finished, b: ir.Table | Finished) -> bool:
    """``a`` and ``b`` ask the engine for the same rows and finish them alike."""
    if isinstance(a, Finished) or isinstance(b, Finished):
        return isinstance(a, Finished) and a.equals(b)
    return bool(a.equals(b))


def engine_table(query: ir.Table | Finished) -> ir.Table:
    """What the engine runs for ``query``."""
    return query.table if isinstance(query, Finished) else query


def finish(query: ir.Table | Finished, result: pa.Table) -> pa.Table:
    """``result`` (the rows of :func:`engine_table`) as the metric reads them."""
    return query.finish(result) if isinstance(query, Finished) else result


def actual_rows_only(query: ir.Table | Finished, inputs: MetricInput) -> bool:
    """Whether ``query`` aggregates only rows whose actual is known: on its way down from
    its top (aggregates, projections and filters; no union, no join) a filter keeps only
    rows where ``inputs.has_actual`` holds. Such a query finds no rows among rows without
    an actual (a batch of new inferences, whose actuals come later): it need not run."""
    has = inputs.has_actual.op()
    op = engine_table(query).op()
    while isinstance(op, (ops.Aggregate, ops.Project, ops.Filter)):
        if isinstance(op, ops.Filter) and any(_keeps(p, has) for p in op.predicates):
            return True
        op = op.parent
    return False


def counts_actual_rows(value: ops.Value, inputs: MetricInput) -> bool:
    """Whether ``value``, an aggregate, counts rows whose actual is known only: a count
    whose filter holds ``inputs.has_actual`` among its conjunctions. Among rows without an
    actual it is 0."""
    if not isinstance(value, ops.CountStar | ops.Count) or value.where is None:
        return False
    has = inputs.has_actual.op()
    todo = [value.where]
    while todo:
        predicate = todo.pop()
        if isinstance(predicate, ops.And):
            todo += [predicate.left, predicate.right]
        elif _keeps(predicate, has):
            return True
    return False


def _keeps(predicate: ops.Value, has: ops.Value) -> bool:
    """Whether a row that ``predicate`` keeps satisfies ``has`` (a filter's conjunctions
    come split into predicates: ``t.filter(a & b)`` keeps ``a`` and ``b``)."""
    if predicate == has:
        return True
    rel = getattr(predicate, "rel", None)
    return (
        isinstance(predicate, ops.Field)
        and isinstance(rel, ops.Project)
        and rel.values.get(predicate.name) == has
    )


def no_rows(query: ir.Table | Finished) -> pa.Table | None:
    """What the engine returns for ``query`` when it finds no rows; None for a column that
    is not a number, a boolean or text (built by hand: Ibis's own conversion to Arrow
    imports pyarrow_hotfix, which Ibis does not install)."""
    fields = []
    for name, dtype in engine_table(query).schema().items():
        if dtype.is_string():
            kind = pa.string()
        elif dtype.is_integer() or dtype.is_floating() or dtype.is_boolean():
            kind = pa.from_numpy_dtype(dtype.to_numpy())
        else:
            return None
        fields.append(pa.field(name, kind))
    return pa.schema(fields).empty_table()


Aggregates = Callable[[MetricInput], Mapping[str, ir.Scalar]]
Queries = Callable[[MetricInput], "Mapping[str, ir.Table | Finished]"]
Finalize = Callable[[GroupData], "MetricValue | float | None"]


def _no_aggregates(inputs: MetricInput) -> Mapping[str, ir.Scalar]:
    return {}


def _no_queries(inputs: MetricInput) -> Mapping[str, ir.Table | Finished]:
    return {}


@dataclass(frozen=True, init=False, eq=False)
class Metric:
    """A performance metric that describes itself and computes in the engine.

    - ``key``: the name users pass (``performance(ds, ["f1_macro"])``): lower case,
      digits and ``_``.
    - ``name``: the display name. ``description``: one line on what it measures.
    - ``tasks``: the tasks it applies to (``Task`` or their names).
    - ``higher_is_better``: its direction; None when neither (a bias, a curve).
    - ``needs``: ``"label"`` (predicted labels) and/or ``"score"`` (scores, or for
      regression the predicted value); the actuals are always needed.
    - ``aggregates``/``queries``/``finalize``: how it is computed (see the module doc;
      a plain number from ``finalize`` gets its ``n`` and Wilson interval there too).
    - ``interval``: what ``ci_low``/``ci_high`` are: ``"wilson"``, ``"delong"``,
      ``"normal"`` (central limit or delta method) or ``"bootstrap"`` (percentile, of
      aggregated counts); None when it has none (see ``_intervals``).
    - ``structured``: the result is in ``MetricValue.detail`` (confusion matrix,
      calibration curve) and ``value`` is None.
    - ``default``: computed when ``performance`` is not given a list of metrics: True
      (for each of its tasks), False, or the tasks it is a default for.
    """

    key: str
    name: str
    tasks: frozenset[Task]
    higher_is_better: bool | None
    needs: frozenset[str]
    finalize: Finalize
    aggregates: Aggregates = _no_aggregates
    queries: Queries = _no_queries
    description: str = ""
    interval: str | None = None
    structured: bool = False
    default: frozenset[Task] = frozenset()
    extra: Mapping[str, Any] = field(default_factory=dict)
    """anything else a metric wants to say about itself (e.g. its error bound)"""
    _counts_rows: bool = field(default=True, repr=False)
    """the registry counts the rows it uses: its finalize may return a plain number"""

    def __init__(
        self,
        key: str,
        name: str,
        tasks: Iterable[Task | str],
        higher_is_better: bool | None,
        needs: Iterable[str],
        finalize: Finalize,
        aggregates: Aggregates = _no_aggregates,
        queries: Queries = _no_queries,
        description: str = "",
        interval: str | None = None,
        structured: bool = False,
        default: bool | Iterable[Task | str] = False,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(key, str) or not _KEY.match(key):
            raise ParameterError(
                "Metric.key", "1-64 lower-case letters, digits or '_', starting with a letter", key
            )
        if isinstance(tasks, str):
            tasks = [tasks]
        parsed = frozenset(Task.parse(t) for t in tasks)
        if not parsed:
            raise ParameterError("Metric.tasks", "at least one task", tasks)
        if isinstance(needs, str):
            needs = [needs]
        wanted = frozenset(needs)
        if not wanted <= NEEDS:
            raise ParameterError("Metric.needs", f"a subset of {sorted(NEEDS)}", sorted(wanted))
        if higher_is_better not in (True, False, None):
            raise ParameterError("Metric.higher_is_better", "True, False or None", higher_is_better)
        for what, fn in (("finalize", finalize), ("aggregates", aggregates), ("queries", queries)):
            if not callable(fn):
                raise ParameterError(f"Metric.{what}", "a function", fn)
        if interval is not None and interval not in KINDS:
            raise ParameterError(
                "Metric.interval",
                f"None or one of {sorted(KINDS)}",
                interval,
                did_you_mean(str(interval), KINDS).strip(),
            )
        set_ = object.__setattr__
        set_(self, "key", key)
        set_(self, "name", str(name))
        set_(self, "tasks", parsed)
        set_(self, "higher_is_better", higher_is_better)
        set_(self, "needs", wanted)
        set_(self, "finalize", finalize)
        set_(self, "aggregates", aggregates)
        set_(self, "queries", queries)
        set_(self, "description", description)
        set_(self, "interval", interval)
        set_(self, "structured", bool(structured))
        if isinstance(default, bool):
            defaults = parsed if default else frozenset()
        else:
            defaults = frozenset(Task.parse(t) for t in default)
            if not defaults <= parsed:
                raise ParameterError("Metric.default", "True, False or some of its tasks", default)
        set_(self, "default", defaults)
        set_(self, "extra", dict(extra or {}))
        set_(self, "_counts_rows", not _returns_metric_value(finalize))

    def describe(self) -> dict[str, Any]:
        """The metric's description as plain data (for docs, the CLI and the API)."""
        return {
            "key": self.key,
            "name": self.name,
            "tasks": sorted(t.value for t in self.tasks),
            "higher_is_better": self.higher_is_better,
            "needs": sorted(self.needs),
            "interval": self.interval,
            "structured": self.structured,
            "default_for": sorted(t.value for t in self.default),
            "description": self.description,
            **self.extra,
        }

    def aggregates_for(self, inputs: MetricInput) -> dict[str, ir.Scalar]:
        """``aggregates(inputs)``, checked, with the count of the rows the metric uses when
        its ``finalize`` may return a plain number (see the module doc)."""
        try:
            found = self.aggregates(inputs)
            # one expression for every metric with the same needs
            used = (
                inputs.shared(
                    f"rows_used:{sorted(self.needs)}",
                    lambda: inputs.table.count(where=rows_used(inputs, self.needs)),
                )
                if self._counts_rows
                else None
            )
        except EvalstoreError:
            raise
        except Exception as exc:
            self._failed("aggregates", exc)
        out = self._checked("aggregates", found, ir.Scalar, "an Ibis scalar expression")
        if used is not None:
            out[ROWS_USED] = used
        return out

    def queries_for(self, inputs: MetricInput) -> dict[str, ir.Table | Finished]:
        """``queries(inputs)``, checked."""
        try:
            found = self.queries(inputs)
        except EvalstoreError:
            raise
        except Exception as exc:
            self._failed("queries", exc)
        return self._checked("queries", found, (ir.Table, Finished), "an Ibis table")

    def result(self, group: GroupData) -> MetricValue:
        """``finalize`` on one group, its return value made a :class:`MetricValue`.

        ``group`` holds what :meth:`aggregates_for` asked for (the rows used, too)."""
        used = group.scalars.get(ROWS_USED)
        if ROWS_USED in group.scalars:
            scalars = {k: v for k, v in group.scalars.items() if k != ROWS_USED}
            group = GroupData(scalars=scalars, tables=group.tables, input=group.input)
        try:
            out = self.finalize(group)
        except EvalstoreError:
            raise
        except Exception as exc:
            self._failed("finalize", exc)
        if isinstance(out, MetricValue):
            return out
        return self._plain(out, None if used is None else int(used), group.input.confidence)

    def _plain(self, out: object, used: int | None, confidence: float) -> MetricValue:
        """A plain number (or None) from ``finalize`` made a :class:`MetricValue`."""
        value = None if out is None else _number(out)
        if out is not None and value is None:
            raise MetricError(
                self.key,
                "finalize",
                f"it returned {out!r}; it must return a number, None or a MetricValue",
            )
        if used is None:  # annotated to return a MetricValue: nothing was counted
            raise MetricError(
                self.key,
                "finalize",
                f"it returned {out!r} though annotated to return a MetricValue; return "
                "MetricValue(value, ci_low, ci_high, n), or drop the annotation to have "
                "the rows it uses counted",
            )
        if value is None or math.isnan(value) or self.interval is None:
            # NaN is undefined, as None: the built-ins never return it
            return MetricValue(None if value is None or math.isnan(value) else value, n=used)
        if self.interval != "wilson":
            raise MetricError(
                self.key,
                "finalize",
                f"it returned the plain number {value!r}, from which no {self.interval!r} "
                "interval can be made; return MetricValue(value, ci_low, ci_high, n) with "
                "the interval, or declare interval='wilson' (for a share of the rows it "
                "uses) or None",
            )
        if not 0 <= value <= 1:
            raise MetricError(
                self.key,
                "finalize",
                f"it returned {value!r}, but interval='wilson' is for a share of the rows "
                "it uses, between 0 and 1; return a share, or declare another interval and "
                "return MetricValue(value, ci_low, ci_high, n)",
            )
        low, high = wilson(value * used, used, confidence)
        return MetricValue(value, low, high, used)

    def _failed(self, stage: str, exc: Exception) -> NoReturn:
        problem = f"{type(exc).__name__} {exc}"
        if stage == "aggregates" and isinstance(exc, AttributeError):
            problem += (
                " (MetricInput.table holds the group keys and the prepared columns only: "
                "read them with its properties, such as has_actual, actual, is_positive, "
                "predicted_positive, predicted_label and score)"
            )
        raise MetricError(self.key, stage, problem) from exc

    def _checked(
        self, stage: str, found: object, kind: type | tuple[type, ...], what: str
    ) -> dict[str, Any]:
        """``found`` (what ``aggregates`` or ``queries`` returned), if it is a mapping of
        name -> ``kind``."""
        if not isinstance(found, Mapping):
            raise MetricError(
                self.key, stage, f"it returned {found!r}; it must return a dict of name -> {what}"
            )
        for name, value in found.items():
            if not isinstance(name, str) or not isinstance(value, kind):
                kind_of = type(value).__name__
                raise MetricError(
                    self.key, stage, f"{name!r} is of type {kind_of}; it must be {what}"
                )
        return dict(found)


def _number(value: object) -> float | None:
    """``value`` as a float; None for what is not a number (text, a list, an object)."""
    if isinstance(value, (str, bytes)):  # float("0.5") works, but text is not a value
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _returns_metric_value(finalize: Callable[..., Any]) -> bool:
    """``finalize`` is annotated to return a :class:`MetricValue` (and so gives its own n)."""
    try:
        hints = typing.get_type_hints(finalize)
    except Exception:  # a callable object, an annotation that does not resolve: not known
        return False
    return hints.get("return") is MetricValue


def rows_used(inputs: MetricInput, needs: Iterable[str]) -> ir.BooleanValue:
    """The rows a metric with these ``needs`` can use: an actual, and each prediction it
    needs (binary: the predicted class, the score; multiclass: the predicted label, every
    class score; regression: the predicted value)."""
    wanted = set(needs)
    used: ir.BooleanValue = inputs.has_actual
    if "label" in wanted:
        binary = inputs.task is Task.BINARY_CLASSIFICATION
        used &= (inputs.predicted_positive if binary else inputs.predicted_label).notnull()
    if "score" in wanted:
        multiclass = inputs.task is Task.MULTICLASS_CLASSIFICATION
        used &= (inputs.top_score if multiclass else inputs.score).notnull()
    return used


_REGISTRY: Registry[Metric] = Registry(Metric, "metric", "metric")


def register_metric(metric: Metric, *, replace: bool = False) -> Metric:
    """Add a metric to the registry (built-ins use this too); returns it.

    A key already taken is refused unless ``replace=True``.
    """
    return _REGISTRY.register(metric, replace=replace)


def unregister_metric(key: str) -> Metric:
    """Remove a metric from the registry and return it."""
    return _REGISTRY.unregister(key)


def get_metric(key: str) -> Metric:
    """The registered metric ``key``; an unknown key lists every registered one."""
    return _REGISTRY.get(key)


def available_metrics(task: Task | str | None = None) -> list[Metric]:
    """Every registered metric (for ``task``, if given), in the order they were registered."""
    wanted = Task.parse(task) if task is not None else None
    return [m for m in _REGISTRY.entries() if wanted is None or wanted in m.tasks]
