"""Run a set of metrics over a prepared input in as few engine queries as possible.

Every metric's aggregates go into one grouped aggregate query (equal expressions
once), together with the row counts every result reports; each distinct extra query
(score histogram, calibration bins, confusion matrix) runs once for all metrics that
ask for it. Then each metric finalizes each group from that group's few values.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import ibis.expr.types as ir
import pyarrow as pa

from evalstore.analyses.metrics._base import (
    Finished,
    GroupData,
    Metric,
    MetricInput,
    MetricValue,
    engine_table,
    finish,
    same_query,
)
from evalstore.analyses.metrics.ranking import ScoreSums
from evalstore.schema import Task

__all__ = [
    "GroupResult",
    "Plan",
    "Unkept",
    "evaluate",
    "evaluate_kept",
    "finish_of",
    "finish_spec",
    "input_of",
    "metric_id",
    "plain_input",
    "plan",
    "results",
]

Execute = Callable[[ir.Expr], pa.Table]

N_ROWS = "__es_n_rows"
N_WITHOUT_ACTUAL = "__es_n_without_actual"


@dataclass(frozen=True)
class GroupResult:
    """The metrics of one group: its key values (in ``MetricInput.keys`` order) and counts."""

    key: tuple[Any, ...]
    n_rows: int
    n_without_actual: int
    values: dict[str, MetricValue]


def _key(row: dict[str, Any], keys: Sequence[str]) -> tuple[Any, ...]:
    return tuple(row[k] for k in keys)


@dataclass(frozen=True)
class Plan:
    """What the engine computes for a set of metrics: one grouped aggregate of ``exprs``
    (equal expressions once) and each distinct extra query once."""

    exprs: dict[str, ir.Scalar]
    local: dict[str, dict[str, str]]
    """per metric: its aggregate's name -> the output column"""
    tables: list[ir.Table | Finished]
    """the distinct extra queries"""
    query_of: dict[str, dict[str, int]]
    """per metric: its query's name -> its index in ``tables``"""


def plan(inputs: MetricInput, metrics: Sequence[Metric]) -> Plan:
    """The aggregates and extra queries of ``metrics`` on ``inputs``."""
    t = inputs.table
    columns: dict[Any, str] = {}  # aggregate op -> output column (equal expressions share one)
    exprs: dict[str, ir.Scalar] = {
        N_ROWS: t.count(),
        N_WITHOUT_ACTUAL: t.count(where=~inputs.has_actual),
    }
    local: dict[str, dict[str, str]] = {}
    for metric in metrics:
        names: dict[str, str] = {}
        for name, expr in metric.aggregates_for(inputs).items():
            op = expr.op()
            if op not in columns:
                columns[op] = f"__es_a{len(columns)}"
                exprs[columns[op]] = expr
            names[name] = columns[op]
        local[metric.key] = names

    tables: list[ir.Table | Finished] = []
    query_of: dict[str, dict[str, int]] = {}
    for metric in metrics:
        index: dict[str, int] = {}
        for name, query in metric.queries_for(inputs).items():
            for i, seen in enumerate(tables):
                if same_query(seen, query):
                    index[name] = i
                    break
            else:
                tables.append(query)
                index[name] = len(tables) - 1
        query_of[metric.key] = index
    return Plan(exprs, local, tables, query_of)


def results(
    inputs: MetricInput,
    metrics: Sequence[Metric],
    planned: Plan,
    rows: list[dict[str, Any]],
    extra: list[dict[tuple[Any, ...], list[dict[str, Any]]]],
    keys: Sequence[str],
) -> list[GroupResult]:
    """Each group's metrics from its row of the main query and its rows of each extra one
    (``extra[i]``: the rows of ``planned.tables[i]`` by the group's values of ``keys``)."""
    out = []
    for row in rows:
        key = _key(row, keys)
        values: dict[str, MetricValue] = {}
        for metric in metrics:
            group = GroupData(
                scalars={name: row[col] for name, col in planned.local[metric.key].items()},
                tables={
                    name: extra[i].get(key, []) for name, i in planned.query_of[metric.key].items()
                },
                input=inputs,
            )
            values[metric.key] = metric.result(group)
        out.append(
            GroupResult(
                key=key,
                n_rows=int(row[N_ROWS] or 0),
                n_without_actual=int(row[N_WITHOUT_ACTUAL] or 0),
                values=values,
            )
        )
    return out


def evaluate(
    inputs: MetricInput, metrics: Sequence[Metric], execute: Execute
) -> tuple[list[GroupResult], int]:
    """Compute ``metrics`` for every group of ``inputs``; returns the groups and the number
    of engine queries that ran."""
    t = inputs.table
    keys = list(inputs.keys)
    planned = plan(inputs, metrics)
    exprs = planned.exprs
    main = t.group_by(keys).aggregate(**exprs) if keys else t.aggregate(**exprs)
    rows = execute(main).to_pylist()
    extra: list[dict[tuple[Any, ...], list[dict[str, Any]]]] = []
    for query in planned.tables:
        grouped: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for row in finish(query, execute(engine_table(query))).to_pylist():
            grouped.setdefault(_key(row, keys), []).append(row)
        extra.append(grouped)
    return results(inputs, metrics, planned, rows, extra, keys), 1 + len(planned.tables)


# -- recipes: a new process's queries, none built where the store keeps them ---------------


class Unkept(Exception):
    """Queries that cannot be kept as a recipe (a custom metric, an unusual finish, a
    value JSON does not read back)."""


def metric_id(metric: Metric) -> tuple[Any, ...] | None:
    """What the queries of a built-in ``metric`` depend on, as plain values; None for a
    custom metric, whose code the store's namespace (``store/_compiled.py``) does not cover."""
    parts = (metric.aggregates, metric.queries)
    if not all(str(getattr(f, "__module__", None)).startswith("evalstore.") for f in parts):
        return None
    code = tuple(getattr(f, "__qualname__", "") for f in parts)
    return (metric.key, code, tuple(sorted(metric.needs)), metric._counts_rows)


def evaluate_kept(
    ds: Any,
    key: tuple[Any, ...],
    inputs: MetricInput,
    metrics: Sequence[Metric],
    build: Callable[[], MetricInput],
) -> tuple[list[GroupResult], int]:
    """:func:`evaluate` on ``ds`` (a Dataset), its queries' SQL and the plan that reads
    their rows (each metric's columns, how each extra query is finished) kept by the store
    under ``key``, which names every input: ``inputs`` (its plain values: the table is not
    read) and ``build()``, the prepared input, built only where the store lacks them.
    Raises :class:`Unkept` where the plan cannot be kept."""

    @functools.cache
    def built() -> tuple[MetricInput, Plan]:
        real = build()
        return real, plan(real, metrics)

    def plan_text() -> str:
        planned = built()[1]
        found = {
            "local": planned.local,
            "query_of": planned.query_of,
            "tables": [finish_spec(q) for q in planned.tables],
        }
        return json.dumps(found)

    kept = json.loads(ds.kept_text((*key, "plan"), plan_text))
    keys = list(inputs.keys)

    def main() -> ir.Table:
        real, planned = built()
        t = real.table
        return t.group_by(keys).aggregate(**planned.exprs) if keys else t.aggregate(**planned.exprs)

    rows = ds.execute_recipe((*key, "main"), main).to_pylist()
    extra: list[dict[tuple[Any, ...], list[dict[str, Any]]]] = []
    for i, spec in enumerate(kept["tables"]):
        table = ds.execute_recipe((*key, "extra", i), functools.partial(_extra, built, i))
        grouped: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for row in finish_of(spec)(table).to_pylist():
            grouped.setdefault(_key(row, keys), []).append(row)
        extra.append(grouped)
    view = Plan({}, kept["local"], [], kept["query_of"])
    return results(inputs, metrics, view, rows, extra, keys), 1 + len(kept["tables"])


def _extra(built: Callable[[], tuple[MetricInput, Plan]], i: int) -> ir.Table:
    return engine_table(built()[1].tables[i])


def finish_spec(query: ir.Table | Finished) -> dict[str, Any] | None:
    how = query.finish if isinstance(query, Finished) else None
    if how is None:
        return None
    if isinstance(how, ScoreSums):
        return {"score_sums": how.ap_variance}
    raise Unkept


def finish_of(spec: dict[str, Any] | None) -> Callable[[pa.Table], pa.Table]:
    if spec is None:
        return lambda table: table
    return ScoreSums(ap_variance=bool(spec["score_sums"]))


def plain_input(m: MetricInput) -> dict[str, Any]:
    """A branch's input but its table, as JSON values that read back as the same values."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(m):
        if f.init and f.name != "table":
            value = getattr(m, f.name)
            out[f.name] = value.value if isinstance(value, Task) else value
    try:
        back = json.loads(json.dumps(out))
    except (TypeError, ValueError):
        raise Unkept from None
    for name, value in out.items():  # e.g. a positive class JSON reads back as another type
        if isinstance(value, tuple):
            value = list(value)
        if type(back[name]) is not type(value) or back[name] != value:
            raise Unkept
    return out


def input_of(plain: dict[str, Any], table: ir.Table) -> MetricInput:
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in plain.items()}
    values["task"] = Task(values["task"])
    return MetricInput(table=table, **values)
