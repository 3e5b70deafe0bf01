"""Model performance: metrics overall, per time window, environment, version and slice.

::

    from evalstore.analyses.performance import performance

    ds = model.dataset(environment="production")
    result = performance(ds, ["accuracy", "roc_auc"], by="day")
    result.to_dict()["rows"]  # [{"day": ..., "metric": "accuracy", "value": 0.91, ...}, ...]

Everything runs in the engine: one aggregate query for every metric's per-group
aggregates, plus one query per distinct extra family (a score histogram for the AUCs,
calibration bins, a confusion matrix). Rows without an actual are counted per group
(``n_without_actual``), never silently dropped; ``n`` is how many rows a metric used.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
from ibis.common.exceptions import IbisError

from evalstore._memo import Memo
from evalstore.analyses import _days
from evalstore.analyses._days import overall_by_day
from evalstore.analyses.binning import Binning
from evalstore.analyses.metrics import Metric, available_metrics, get_metric
from evalstore.analyses.metrics._base import MetricInput
from evalstore.analyses.metrics._evaluate import (
    GroupResult,
    Unkept,
    evaluate,
    evaluate_kept,
    input_of,
    metric_id,
    plain_input,
)
from evalstore.analyses.metrics._inputs import binary_only, infer_task, prepare
from evalstore.analyses.metrics._intervals import check_confidence
from evalstore.analyses.metrics._labels import check_positive_class
from evalstore.dataset import query_table
from evalstore.errors import ParameterError, did_you_mean
from evalstore.schema import Task

if TYPE_CHECKING:
    import pandas as pd

    from evalstore.dataset import Dataset

__all__ = [
    "TIME_WINDOWS",
    "PerformanceResult",
    "bin_index",
    "numeric_by",
    "performance",
    "refuse_numeric_by",
]

#: ``by`` values that group by a window of the timestamp (UTC), and their Ibis units.
#: Weeks start on Monday.
TIME_WINDOWS = {"hour": "h", "day": "D", "week": "W", "month": "M", "year": "Y"}

#: the fields of every result row besides the group keys
ROW_FIELDS = ("metric", "value", "ci_low", "ci_high", "n", "n_without_actual", "detail")


def _plain(value: Any) -> Any:
    """A JSON-ready copy: datetimes as ISO 8601 text, NumPy scalars as Python ones."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return _plain(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class PerformanceResult:
    """Metrics per group, as plain data.

    ``rows``: one per (group, metric), each ``{<group key>: value, ..., "metric",
    "value", "ci_low", "ci_high", "n", "n_without_actual", "detail"}``, sorted by
    group (missing keys last), then in the order of ``metrics``.
    """

    task: str
    metrics: list[str]
    by: list[str]
    positive_class: Any
    threshold: float | None
    confidence: float
    rows: list[dict[str, Any]] = field(default_factory=list)
    queries: int = 0
    """how many engine queries computed it"""

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable: ``{"task", "metrics", "by", ..., "rows": [...]}``."""
        return {
            "task": self.task,
            "metrics": list(self.metrics),
            "by": list(self.by),
            "positive_class": _plain(self.positive_class),
            "threshold": self.threshold,
            "confidence": self.confidence,
            "rows": [_plain(row) for row in self.rows],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PerformanceResult:
        """A result from ``to_dict()``'s output; time-window keys come back as datetimes."""
        by = list(data["by"])
        windows = [k for k in by if k in TIME_WINDOWS]
        rows = []
        for row in data["rows"]:
            row = dict(row)
            for key in windows:
                if isinstance(row.get(key), str):
                    row[key] = datetime.fromisoformat(row[key])
            rows.append(row)
        return cls(
            task=data["task"],
            metrics=list(data["metrics"]),
            by=by,
            positive_class=data.get("positive_class"),
            threshold=data.get("threshold"),
            confidence=float(data["confidence"]),
            rows=rows,
        )

    def to_pandas(self) -> pd.DataFrame:
        """The rows as a DataFrame (``detail`` kept as dicts)."""
        import pandas as pd

        frame: pd.DataFrame = pd.DataFrame(self.rows, columns=[*self.by, *ROW_FIELDS])
        return frame

    def get(self, metric: str, **group: Any) -> dict[str, Any]:
        """The row of ``metric`` for the group with these key values."""
        for row in self.rows:
            if row["metric"] == metric and all(row.get(k) == v for k, v in group.items()):
                return row
        raise ParameterError(
            "metric and group",
            "a metric and group keys present in the result",
            {"metric": metric, **group},
            f"Metrics: {', '.join(self.metrics)}; group keys: {', '.join(self.by) or 'none'}.",
        )

    def value(self, metric: str, **group: Any) -> float | None:
        """The value of ``metric`` for the group with these key values."""
        value: float | None = self.get(metric, **group)["value"]
        return value

    def __repr__(self) -> str:
        from evalstore.render.tables import performance_table

        return performance_table(self).text()

    def _repr_html_(self) -> str:  # Jupyter
        from evalstore.render.tables import performance_table

        return performance_table(self).html()


# -- grouping -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Key:
    name: str
    expr: ir.Value
    labels: list[str] | None = None  # a binned column: label of each bin index


def _edges(column: str, spec: Any) -> list[float]:
    # a duck-typed fitted binning (not a Binning) exposes edges_ or edges
    raw = getattr(spec, "edges_", None)
    raw = raw if raw is not None else getattr(spec, "edges", spec)
    try:
        edges = [float(e) for e in raw]
    except (TypeError, ValueError):
        edges = []
    if (
        not edges
        or isinstance(raw, (str, bytes))
        or not all(math.isfinite(e) for e in edges)
        or any(a >= b for a, b in itertools.pairwise(edges))
    ):
        raise ParameterError(
            f"bins[{column!r}]", "a non-empty list of increasing finite bin edges", spec
        )
    return edges


def _fmt(x: float) -> str:
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)


def _bin_labels(edges: list[float]) -> list[str]:
    inner = [f"[{_fmt(a)}, {_fmt(b)})" for a, b in itertools.pairwise(edges)]
    return [f"< {_fmt(edges[0])}", *inner, f">= {_fmt(edges[-1])}"]


def _below_count(x: ir.NumericValue, uppers: Sequence[float], lo: int, hi: int) -> ir.IntegerValue:
    """How many of ``uppers`` (sorted) are < x, known to be in [lo, hi]: a binary search
    as nested CASEs, log2 comparisons a row (a sum of one comparison per edge took twice as
    long on 20 columns x 1M rows)."""
    if lo == hi:
        return ibis.literal(lo, "int64")
    mid = (lo + hi) // 2
    return ibis.ifelse(
        x > uppers[mid], _below_count(x, uppers, mid + 1, hi), _below_count(x, uppers, lo, mid)
    )


def bin_index(table: ir.Table, name: str, binning: Binning, param: str = "bins") -> ir.IntegerValue:
    """The index of each row's bin of column ``name`` in ``binning.labels`` (int64, never
    NULL), an expression on ``table`` for the engine.

    Exactly the bins :func:`evalstore.analyses.binning.histograms` counts: numeric
    ``below`` (x < e0), ``[e0, e1]``, ``(e1, e2]``, ..., ``above``, ``missing`` (NULL or
    NaN); categorical the fitted categories in order, ``other``, ``missing``. ``param``
    names the argument in errors. ::

        b = Binning(bins=4).fit(reference, "age")
        t = current.table
        t.group_by(i=bin_index(t, "age", b)).aggregate(n=t.count())
    """
    check_binning(name, binning, param)
    # what the expression depends on: the same bins on the same template give the same one
    key = (
        table.op(),
        name,
        binning.kind_,
        tuple(binning.edges_ or ()),
        tuple((type(c), c) for c in binning.categories_ or ()),
        param,
    )
    return _BIN_INDEXES.get(key, lambda: _bin_index(table, name, binning, param))


def check_binning(name: str, binning: Binning, param: str = "bins") -> None:
    """That ``binning`` is a fitted Binning of column ``name`` (``param`` names it)."""
    if not isinstance(binning, Binning):
        raise ParameterError(param, "a fitted Binning", type(binning).__name__)
    binning.check_fitted()
    if binning.column_ is not None and binning.column_ != name:
        raise ParameterError(
            param, f"a Binning fitted on {name!r}", f"one fitted on {binning.column_!r}"
        )


#: bin index expressions, by what builds them: 25 columns' took 0.16 s per slices view
_BIN_INDEXES: Memo[ir.IntegerValue] = Memo(1024)


def _bin_index(table: ir.Table, name: str, binning: Binning, param: str) -> ir.IntegerValue:
    column = table[name]
    dtype = column.type()
    floating = dtype.is_floating()
    present = column.notnull() & ~column.isnan() if floating else column.notnull()
    if binning.kind_ == "numeric":
        if not dtype.is_numeric() or dtype.is_boolean():
            raise ParameterError(
                param,
                f"a categorical Binning for a {dtype} column",
                binning,
                "Fit one with Binning(kind='categorical').",
            )
        edges = binning.edges_ or ()
        if not edges:  # no reference values: every value is above the (empty) bins
            return ibis.ifelse(present, 1, 2).cast("int64")
        # value bin j (from 1) holds e[j-1] < x <= e[j]; the first also holds x = e0
        uppers = edges[1:] if len(edges) > 1 else edges
        inner = 1 + _below_count(column, uppers, 0, len(uppers))
        index = ibis.ifelse(column < edges[0], 0, inner)
        return ibis.ifelse(present, index, len(uppers) + 2).cast("int64")
    if dtype.is_temporal() or dtype.is_array() or dtype.is_struct() or dtype.is_map():
        raise ParameterError(param, "a Binning of a numeric, text or boolean column", str(dtype))
    cats = binning.categories_ or ()
    k = len(cats)
    fallback = ibis.ifelse(present, k, k + 1)
    if not cats:
        return fallback.cast("int64")
    try:
        branches = [(column == ibis.literal(c), i) for i, c in enumerate(cats)]
    except IbisError as exc:  # e.g. categories fitted on numbers, applied to text
        raise ParameterError(
            param,
            f"a Binning whose categories compare with the {dtype} column",
            binning.categories_[:3] if binning.categories_ else None,
            str(exc),
        ) from None
    return ibis.cases(*branches, else_=fallback).cast("int64")


def _needs_bins(table: ir.Table, name: str) -> bool:
    """Whether grouping ``by`` column ``name`` needs bin edges: a float or decimal column
    (a time window's name is the window, not a column)."""
    if name in TIME_WINDOWS or name not in table.columns:
        return False
    dtype = table[name].type()
    return bool(dtype.is_floating() or dtype.is_decimal())


def numeric_by(dataset: Dataset, by: Any) -> str | None:
    """The first column of ``by`` that :func:`performance` can group on only with ``bins``
    (a float or decimal column), None when there is none (or ``by`` is not a name or list
    of names: performance() says what is wrong with it). For callers without ``bins``
    (``Model.performance``, the REST API), to advise what they can do instead."""
    names = [by] if isinstance(by, str) else by if isinstance(by, Sequence) else []
    table = query_table(dataset)
    return next((n for n in names if isinstance(n, str) and _needs_bins(table, n)), None)


def refuse_numeric_by(dataset: Dataset, by: Any, advice: Callable[[str], str]) -> None:
    """Raise the one error of a caller without ``bins`` given a numeric column in ``by``
    (:func:`numeric_by`), with ``advice(column)``: what that caller can do instead."""
    numeric = numeric_by(dataset, by)
    if numeric is not None:
        raise ParameterError(
            "by",
            "a time window or a categorical, boolean or integer column",
            numeric,
            advice(numeric),
        )


def _windows_only(by: Any, bins: Mapping[str, Any] | None) -> list[str] | None:
    """``by`` as a list of time windows (none: overall) when it names only those, without
    ``bins``: the groups whose queries :func:`_kept` keeps; None otherwise."""
    names = [] if by is None else [by] if isinstance(by, str) else by
    if bins or not isinstance(names, list) or len(set(names)) != len(names):
        return None
    return names if all(isinstance(n, str) and n in TIME_WINDOWS for n in names) else None


def _kept(
    ds: Dataset,
    table: ir.Table,
    task: Task,
    windows: list[str],
    settings: dict[str, Any],
    metrics: str | Sequence[str] | None,
    positive_class: Any,
) -> tuple[list[_Key], MetricInput, list[Metric], list[GroupResult], int] | None:
    """:func:`performance`'s keys, input, metrics and groups, overall or per time window,
    from recipes: the prepared input's plain values, then the queries and the plan that
    reads them, kept by the store under every input they depend on (``store/_compiled.py``),
    so that a new process builds no Ibis expression where the store has them. None where
    they cannot be kept (a custom metric) or the store's profiles may serve the days."""
    if not windows and _days.serves(ds):
        return None
    base = ("performance", table.op(), task, tuple(windows), tuple(sorted(settings.items())))

    @functools.cache
    def build() -> MetricInput:  # the input's text and the queries, where missing, share it
        keys = _group_keys(table, windows, None)
        columns = {f"__es_key{i}": k.expr for i, k in enumerate(keys)}
        return prepare(table, task, columns, **settings)

    try:
        text = ds.kept_text((*base, "input"), lambda: json.dumps(plain_input(build())))
    except Unkept:
        return None
    inputs = input_of(json.loads(text), table)
    chosen = _choose(metrics, task, inputs.has_label, inputs.has_score)
    ids = [metric_id(m) for m in chosen]
    if None in ids:
        return None
    check_positive_class(ds, positive_class, inputs.positive_class)
    try:
        groups, queries = evaluate_kept(ds, (*base, tuple(ids)), inputs, chosen, build)
    except Unkept:
        return None
    keys = [_Key(name, ibis.literal(0)) for name in windows]  # names only: no labels
    return keys, inputs, chosen, groups, queries


def _group_keys(table: ir.Table, by: Any, bins: Mapping[str, Any] | None) -> list[_Key]:
    if by is None:
        names: list[str] = []
    elif isinstance(by, str):
        names = [by]
    elif isinstance(by, Sequence) and all(isinstance(b, str) for b in by):
        names = list(by)
    else:
        raise ParameterError("by", "None, a column or time window name, or a list of them", by)
    if len(set(names)) != len(names):
        raise ParameterError("by", "names without repeats", by)
    if bins is not None and not isinstance(bins, Mapping):
        raise ParameterError("bins", "a mapping of column -> bin edges or a fitted Binning", bins)
    bins = dict(bins or {})
    for column in bins:
        if column not in names:
            raise ParameterError(
                "bins",
                f"bin edges for columns named in by ({names})",
                column,
                f"Add {column!r} to by to slice on it.",
            )
    keys = []
    choices = [*TIME_WINDOWS, *table.columns]
    for name in names:
        if name in ROW_FIELDS:
            raise ParameterError(
                "by", f"a name other than the result fields {list(ROW_FIELDS)}", name
            )
        if name in TIME_WINDOWS:
            keys.append(_Key(name, table.timestamp.truncate(TIME_WINDOWS[name])))
            continue
        if name not in table.columns:
            raise ParameterError(
                "by",
                f"a time window ({', '.join(TIME_WINDOWS)}) or a column of the dataset",
                name,
                did_you_mean(name, choices).strip(),
            )
        col = table[name]
        dtype = col.type()
        if name in bins and isinstance(bins[name], Binning):
            spec: Binning = bins[name]
            index = bin_index(table, name, spec, f"bins[{name!r}]")
            keys.append(_Key(name, index, spec.labels))
        elif name in bins:
            if not dtype.is_numeric() or dtype.is_boolean():
                raise ParameterError(f"bins[{name!r}]", "given for a numeric column", str(dtype))
            edges = _edges(name, bins[name])
            index = sum(((col >= e).cast("int64") for e in edges), start=ibis.literal(0))
            keys.append(_Key(name, index, _bin_labels(edges)))
        elif _needs_bins(table, name):
            raise ParameterError(
                "bins",
                f"bin edges for the numeric column {name!r}",
                None,
                f"Slice a numeric column on bins, e.g. bins={{{name!r}: [0, 30, 60]}}.",
            )
        elif dtype.is_temporal() or dtype.is_array() or dtype.is_struct():
            raise ParameterError(
                "by", "a categorical, boolean or integer column, or a time window", name
            )
        else:
            keys.append(_Key(name, col))
    return keys


# -- metrics ------------------------------------------------------------------------------------


def _available(metric: Metric, has_label: bool, has_score: bool) -> bool:
    return ("label" not in metric.needs or has_label) and ("score" not in metric.needs or has_score)


def _choose(
    metrics: str | Sequence[str] | None, task: Task, has_label: bool, has_score: bool
) -> list[Metric]:
    if metrics is None:
        return [
            m
            for m in available_metrics(task)
            if task in m.default and _available(m, has_label, has_score)
        ]
    keys = [metrics] if isinstance(metrics, str) else list(metrics)
    if not keys:
        raise ParameterError("metrics", "a non-empty list of metric keys (or None)", metrics)
    chosen: list[Metric] = []
    registered = {m.key for m in available_metrics()}
    for key in keys:
        if isinstance(key, str) and key not in registered:
            # the model's own metrics, not every task's (a regression user was offered
            # 'roc_auc' and 'f1_macro')
            fit = sorted(m.key for m in available_metrics(task))
            raise ParameterError(
                "metric",
                f"one of {fit}",
                key,
                f"Those are the metrics of a {task.value} model.{did_you_mean(key, fit)}",
            )
        metric = get_metric(key)
        if task not in metric.tasks:
            fit = sorted(m.key for m in available_metrics(task))
            raise ParameterError(
                "metrics",
                f"metrics of a {task.value} model",
                key,
                f"{key!r} is for {', '.join(sorted(t.value for t in metric.tasks))}. "
                f"Metrics for {task.value}: {', '.join(fit)}.",
            )
        if not _available(metric, has_label, has_score):
            what = "predicted labels or scores" if "label" in metric.needs else "prediction scores"
            raise ParameterError(
                "metrics",
                "metrics this dataset has the predictions for",
                key,
                f"{key!r} needs {what}; log them with Schema(prediction_label=..., "
                "prediction_score=...).",
            )
        if metric not in chosen:
            chosen.append(metric)
    return chosen


def _sort_key(key: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple((v is None, v if v is not None else 0) for v in key)


def performance(
    ds: Dataset,
    metrics: str | Sequence[str] | None = None,
    *,
    by: str | Sequence[str] | None = None,
    bins: Mapping[str, Any] | None = None,
    positive_class: Any = None,
    threshold: float | None = None,
    confidence: float = 0.95,
    task: Task | str | None = None,
    score_bins: int = 2**16,
) -> PerformanceResult:
    """Compute ``metrics`` on ``ds``, overall or per group, in the engine.

    - ``metrics``: metric keys (see ``evalstore.analyses.metrics``); None computes the
      task's default metrics that the logged predictions allow.
    - ``by``: None (overall), a time window (``"hour"``, ``"day"``, ``"week"`` from
      Monday, ``"month"``, ``"year"``: the UTC timestamp truncated; these names always
      mean the window), a
      column (``"environment"``, ``"version"``, a categorical/boolean feature or tag),
      or a list of them. A numeric column needs ``bins``.
    - ``bins``: ``{column: edges}`` slices a numeric column on ``[e0, e1)``, ... with
      ``< e0`` and ``>= ek`` bins below and above; a missing value is its own group
      (None). ``{column: binning}``, a fitted
      :class:`~evalstore.analyses.binning.Binning` (a baseline's), slices on exactly its
      bins and labels (``binning.labels``): numeric ``below``, ``[e0, e1]``, ``(e1, e2]``,
      ..., ``above``, ``missing``; categorical (any text, integer or boolean column) its
      top-k categories, ``other``, ``missing``. Groups come in bin order.
    - ``positive_class``: binary only (a ParameterError for other tasks); defaults to
      ``True`` / ``1`` for boolean / integer labels; text labels need it. A value none
      of the model's labels holds is a ParameterError; a label absent from ``ds`` only
      (a quiet window) is not.
    - ``threshold``: binary only (a ParameterError for other tasks), default 0.5; a row
      without a predicted label is predicted positive when its score >= threshold.
    - ``confidence``: level of the intervals (Wilson, DeLong, normal, bootstrap).
    - ``score_bins``: score bins of the binned AUC and AP (their error bound, in each
      value's ``detail``, grows as they get fewer).
    - ``task``: the model's task (``model.task``); inferred from the columns when they
      tell (class score columns: multiclass; ``actual_score``: regression; labels and
      one score: binary).
    """
    if not isinstance(getattr(ds, "table", None), ir.Table) or not callable(
        getattr(ds, "execute", None)
    ):
        raise ParameterError(
            "ds", "an evalstore Dataset", type(ds).__name__, "Get one with model.dataset(...)."
        )
    table = query_table(ds)
    if task is None:
        task = getattr(ds, "task", None)
    parsed = Task.parse(task) if task is not None else infer_task(table.columns)
    cutoff = binary_only(parsed, positive_class, threshold)
    confidence = check_confidence(confidence)
    settings = {
        "positive_class": positive_class,
        "threshold": cutoff,
        "confidence": confidence,
        "score_bins": score_bins,
    }
    windows = _windows_only(by, bins)
    found = None
    if windows is not None and callable(getattr(ds, "kept_text", None)):
        found = _kept(ds, table, parsed, windows, settings, metrics, positive_class)
    if found is not None:
        keys, inputs, chosen, groups, queries = found
    else:
        keys = _group_keys(table, by, bins)
        columns = {f"__es_key{i}": k.expr for i, k in enumerate(keys)}
        inputs = prepare(table, parsed, columns, **settings)
        chosen = _choose(metrics, parsed, inputs.has_label, inputs.has_score)
        check_positive_class(ds, positive_class, inputs.positive_class)
        # overall, from the days the store's profiles keep where they can serve (``_days``)
        kept = overall_by_day(ds, parsed, chosen, settings) if not keys else None
        groups, queries = kept if kept is not None else evaluate(inputs, chosen, ds.execute)
    rows: list[dict[str, Any]] = []
    for group in sorted(groups, key=lambda g: _sort_key(g.key)):
        values = {}
        for k, v in zip(keys, group.key, strict=True):
            values[k.name] = k.labels[int(v)] if k.labels is not None and v is not None else v
        for metric in chosen:
            mv = group.values[metric.key]
            rows.append(
                {
                    **values,
                    "metric": metric.key,
                    "value": mv.value,
                    "ci_low": mv.ci_low,
                    "ci_high": mv.ci_high,
                    "n": mv.n,
                    "n_without_actual": group.n_without_actual,
                    "detail": mv.detail,
                }
            )
    binary = parsed is Task.BINARY_CLASSIFICATION
    return PerformanceResult(
        task=parsed.value,
        metrics=[m.key for m in chosen],
        by=[k.name for k in keys],
        positive_class=inputs.positive_class if binary else None,
        threshold=cutoff if binary else None,
        confidence=confidence,
        rows=rows,
        queries=queries,
    )
