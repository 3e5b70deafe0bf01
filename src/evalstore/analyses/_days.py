"""Overall performance from kept days: a range's metrics from its days' aggregates.

Why: the UI's health page and its comparison of two versions compute their metrics over
a week or two of production after every batch, though a batch changes a day. On the
10M-row UI benchmark store, comparing v1 with v2 over their last two weeks read each
side's 2M rows three times (the main aggregates, the 2^16-bin score histogram, the
calibration bins): ~0.7 s of CPU per load.

How: where the store keeps profiles and the selection is not filtered, every query of
:func:`~evalstore.analyses.performance.performance` without ``by`` runs grouped by
(environment, version, day) as well (``_merged.window_code``), each day is kept until a
batch of its version changes it (late actuals: every day of their environment;
``binning/_profiled.by_pair_windows``), and the range's days are merged before the
metrics are finished, so that the metrics, their intervals and their counts are those
of one query over the range:

- the extra queries (score histogram, calibration bins, confusion counts) merge per group
  as the slices' do (``_merged``: counts and sums add, minima and maxima);
- the main aggregates are one row per day: counts and sums add, minima and maxima, and a
  mean or a variance merges from each day's count, mean and population variance
  (Chan et al.'s pairwise update), which the day query computes in their place.

A float sum, mean or variance may differ from one over the range in its last bits, as the
engine's own order of addition makes it differ. A query that does not merge (a quantile,
the exact AUC's ranking, multiclass one-vs-rest histograms) is read from the rows, as
before. As the slices, a range is computed by day (which costs more than one query over
it) from its second read on, or in the UI's warmer (``_merged.keeping``).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from evalstore._memo import Memo
from evalstore.analyses import _merged
from evalstore.analyses.binning._columns import COUNT_IF
from evalstore.analyses.binning._profiled import by_pair_windows
from evalstore.analyses.metrics._base import (
    Finished,
    Metric,
    MetricInput,
    actual_rows_only,
    engine_table,
    no_rows,
)
from evalstore.analyses.metrics._evaluate import GroupResult, Plan, plan, results
from evalstore.analyses.metrics._inputs import prepare
from evalstore.dataset import Dataset, beside, query_table
from evalstore.schema import Task

__all__ = ["no_rows_of", "overall_by_day", "skippable", "without_actuals"]

#: the group key of the day queries: one value, the merged rows' one slot
KEY = "__es_all"
#: the window key: day * pairs + the index of the (environment, version) pair
WINDOW = "__es_window"
EPOCH = datetime(1970, 1, 1)
_LAYOUT = _merged.Layout(lambda found: np.zeros(len(found), dtype=np.int64), np.zeros(1, np.int64))

#: how a main aggregate merges across days, by its operation
_MERGES: dict[type, str] = {
    ops.Count: "sum",
    ops.CountStar: "sum",
    COUNT_IF: "sum",
    ops.Sum: "sum",
    ops.Min: "min",
    ops.Max: "max",
    ops.Mean: "mean",
    ops.Variance: "variance",
    ops.StandardDev: "variance",
}

_PICKS: dict[str, Callable[[list[Any]], Any]] = {"sum": sum, "min": min, "max": max}


@dataclass(frozen=True)
class _Column:
    """One main aggregate and how its value over the range follows from the days': the
    day query's columns it reads (a mean: the mean and its count; a variance: the count,
    mean and population variance)."""

    name: str
    how: str
    reads: tuple[str, ...]
    ddof: int = 0
    root: bool = False


@dataclass(frozen=True)
class _Built:
    """The day queries of one selection's pairs: the main one (one row per window) and
    each distinct extra one, and how each merges."""

    inputs: MetricInput
    planned: Plan
    main: ir.Table
    columns: tuple[_Column, ...]
    extras: tuple[ir.Table | Finished, ...]
    plans: tuple[_merged.Plan, ...]


def _main(
    inputs: MetricInput, exprs: dict[str, ir.Scalar]
) -> tuple[ir.Table, tuple[_Column, ...]] | None:
    """The main aggregates grouped by window, each mean and variance replaced by what
    merges; None if one does not merge."""
    out: dict[str, ir.Scalar] = {}
    columns = []
    for name, expr in exprs.items():
        op = expr.op()
        how = _MERGES.get(type(op))
        if how is None:
            return None
        if how == "mean":
            assert isinstance(op, ops.Mean)
            out[name] = expr
            out[f"{name}__n"] = ops.Count(op.arg, op.where).to_expr()
            columns.append(_Column(name, how, (f"{name}__n", name)))
        elif how == "variance":
            assert isinstance(op, (ops.Variance, ops.StandardDev))
            reads = (f"{name}__n", f"{name}__m", f"{name}__v")
            out[reads[0]] = ops.Count(op.arg, op.where).to_expr()
            out[reads[1]] = ops.Mean(op.arg, op.where).to_expr()
            out[reads[2]] = ops.Variance(op.arg, "pop", op.where).to_expr()
            ddof = 1 if op.how == "sample" else 0
            columns.append(_Column(name, how, reads, ddof, isinstance(op, ops.StandardDev)))
        else:
            out[name] = expr
            columns.append(_Column(name, how, (name,)))
    t = inputs.table
    return t.group_by([WINDOW]).aggregate(**out), tuple(columns)


def _build(
    table: ir.Table,
    task: Task,
    metrics: tuple[Metric, ...],
    settings: tuple[tuple[str, Any], ...],
    pairs: tuple[tuple[str, str], ...],
) -> _Built | None:
    keys = {KEY: ibis.literal(0, "int32"), WINDOW: _merged.window_code(table, pairs)}
    inputs = prepare(table, task, keys, **dict(settings))
    planned = plan(inputs, metrics)
    main = _main(inputs, planned.exprs)
    if main is None:
        return None
    merges = []
    for query in planned.tables:
        found = _merged.plan(engine_table(query), KEY, [WINDOW])
        if found is None:
            return None
        merges.append(found)
    return _Built(inputs, planned, main[0], main[1], tuple(planned.tables), tuple(merges))


#: built day queries, by everything that builds them (~10-30 ms of Python each)
_BUILT: Memo[_Built | None] = Memo(64)


@dataclass(frozen=True, eq=False)
class _Day:
    """What the profiles keep of one day of one (environment, version): the main
    aggregates' row and each extra query's rows."""

    main: dict[str, Any]
    cells: tuple[_merged.Cells, ...]

    @property
    def nbytes(self) -> int:
        return 200 + 60 * len(self.main) + sum(c.nbytes for c in self.cells)


def _merge_main(rows: Sequence[dict[str, Any]], columns: Sequence[_Column]) -> dict[str, Any]:
    """One row of the main aggregates over every day of ``rows``."""
    out: dict[str, Any] = {}
    for c in columns:
        if c.how in ("sum", "min", "max"):
            found = [r[c.name] for r in rows if r[c.name] is not None]
            pick: Callable[[list[Any]], Any] = _PICKS[c.how]
            out[c.name] = pick(found) if found else None
        elif c.how == "mean":
            n_name, mean_name = c.reads
            parts = [
                (r[n_name], r[mean_name]) for r in rows if r[n_name] and r[mean_name] is not None
            ]
            n = sum(k for k, _ in parts)
            out[c.name] = math.fsum(k * m for k, m in parts) / n if n else None
        else:
            out[c.name] = _variance(rows, c)
    return out


def _variance(rows: Sequence[dict[str, Any]], c: _Column) -> float | None:
    """The variance (or standard deviation) over the days from each day's count, mean and
    population variance: the sum of squares about the overall mean is each day's own
    plus its count times its mean's squared distance from the overall mean."""
    n_name, mean_name, var_name = c.reads
    parts = [
        (r[n_name], r[mean_name], r[var_name])
        for r in rows
        if r[n_name] and r[mean_name] is not None and r[var_name] is not None
    ]
    n = sum(k for k, _, _ in parts)
    if n - c.ddof <= 0:
        return None
    mean = math.fsum(k * m for k, m, _ in parts) / n
    m2 = math.fsum(k * v + k * (m - mean) ** 2 for k, m, v in parts)
    variance = max(m2, 0.0) / (n - c.ddof)
    return math.sqrt(variance) if c.root else variance


def no_rows_of(query: ir.Table | Finished) -> pa.Table:
    """The rows of a query :func:`skippable` spares: none."""
    found = no_rows(query)
    assert found is not None  # as skippable() checked
    return found


def skippable(query: ir.Table | Finished, inputs: MetricInput) -> bool:
    """Whether ``query`` need not run on rows without an actual: it keeps rows with one
    only (``actual_rows_only``), and its no rows can be made without the engine."""
    return actual_rows_only(query, inputs) and no_rows(query) is not None


def without_actuals(part: Dataset, inputs: MetricInput) -> bool:
    """Whether no row of ``part`` has an actual, in one small query (a batch's day on the
    10M-row UI store: ~2 ms, against ~45 ms to plan the slices' union of 13 histograms)."""
    rows = inputs.table.filter(inputs.has_actual)
    found: pa.Table = part.execute(rows.select(one=ibis.literal(1)).limit(1))
    return not found.num_rows


def serves(ds: Any) -> bool:
    """Whether :func:`overall_by_day` may serve ``ds`` from the days the store's profiles
    keep: a Dataset (not another dataset-like object, a remote one) of a store that keeps
    them, without a filter, whose rows repeat no id."""
    return (
        isinstance(ds, Dataset)
        and ds._store.profiles is not None
        and ds.where is None
        and ds.unique_ids
    )


def overall_by_day(
    ds: Dataset,
    task: Task,
    metrics: Sequence[Metric],
    settings: dict[str, Any],
) -> tuple[list[GroupResult], int] | None:
    """``evaluate``'s one group for ``metrics`` over all of ``ds`` (``settings``: the
    keywords of ``prepare``), from the days the store's profiles keep; and how many
    queries ran. None where that cannot be: no profiles, a filter, an aggregate or query
    that does not merge, no rows, a write while reading, a range read for the first time
    (outside the warmer)."""
    if not serves(ds):
        return None
    profiles = ds._store.profiles
    assert profiles is not None
    table = query_table(ds)
    chosen = tuple(metrics)
    frozen = tuple(sorted(settings.items()))

    def built(pairs: tuple[tuple[str, str], ...]) -> _Built | None:
        return _BUILT.get(
            (table.op(), task, chosen, frozen, pairs),
            lambda: _build(table, task, chosen, frozen, pairs),
        )

    first = built((("", ""),))
    if first is None:
        return None
    ran = 0

    def compute(part: Dataset) -> dict[tuple[str, str, datetime], _Day]:
        nonlocal ran
        # every version of the model has its code, whichever the part reads: one
        # version's days are read with the queries built for all of them
        known = {version for _, version in part._store.pairs(part.model_id)}
        versions = sorted(known.union(part.versions or []))
        pairs = tuple(itertools.product(part.environments or [], versions))
        found = built(pairs)
        assert found is not None  # as ``first``: the pairs change no aggregate's kind
        # the extra queries of rows with an actual find none in a batch of new inferences
        only = {i for i, q in enumerate(found.extras) if skippable(q, found.inputs)}
        none = only if only and without_actuals(part, found.inputs) else set()
        later = [
            None if i in none else beside(part, functools.partial(part.execute, engine_table(q)))
            for i, q in enumerate(found.extras)
        ]
        main = part.execute(found.main)
        tables = [
            no_rows_of(q) if f is None else f() for q, f in zip(found.extras, later, strict=True)
        ]
        ran += 1 + len(tables) - len(none)
        split = [_merged.split(t, p, _LAYOUT) for t, p in zip(tables, found.plans, strict=True)]
        empty = [_merged.empty(t, p) for t, p in zip(tables, found.plans, strict=True)]
        out = {}
        for row in main.to_pylist():
            code = int(row.pop(WINDOW))
            day, i = divmod(code, len(pairs))
            cells = tuple(s.get(code, e) for s, e in zip(split, empty, strict=True))
            env, version = pairs[i]
            out[env, version, EPOCH + timedelta(days=day)] = _Day(row, cells)
        return out

    sel = (ds.model_id, *(tuple(x or ()) for x in (ds.environments, ds.versions)))
    key = ("performance", task, chosen, frozen)
    fill = profiles.ask((*key, *sel, ds.start, ds.end)) or _merged.filling()
    days = by_pair_windows(ds, key, table.columns, "day", compute, fill)
    if not days:
        return None
    parts = [days[k] for k in sorted(days)]
    row = {KEY: 0, **_merge_main([d.main for d in parts], first.columns)}
    extra: list[dict[tuple[Any, ...], list[dict[str, Any]]]] = []
    for i, (query, merge) in enumerate(zip(first.extras, first.plans, strict=True)):
        finisher = query.finish if isinstance(query, Finished) else None
        merged = _merged.merged([d.cells[i] for d in parts], merge, _LAYOUT, finisher)
        if merged is None:
            return None
        extra.append({(0,): merged.to_pylist()})
    found = results(first.inputs, chosen, first.planned, [row], extra, [KEY])
    return [GroupResult((), g.n_rows, g.n_without_actual, g.values) for g in found], ran
