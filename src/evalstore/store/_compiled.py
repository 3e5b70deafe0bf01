"""Compiled SQL, kept per query shape: Ibis takes 10-100 ms to compile one analysis query
(0.3-0.5 s for a report), DuckDB as long to run it on a window of 100k rows.

Analyses build their queries on a dataset's *template* (``Dataset.template``): a table named
``evalstore_selection`` with the selection's columns, a parameter bound to the rows of the
dataset that runs the query. Two selections of the same columns (another time window,
version or filter) give the same query, so it is compiled once; the selection is bound when
it runs, as a common table expression in front of the cached SQL.
"""

from __future__ import annotations

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir

from evalstore._memo import Memo

__all__ = ["TEMPLATE", "bind", "sql_of"]

#: the name every template takes in a cached query (and the CTE that binds it)
TEMPLATE = "evalstore_selection"


def sql_of(cache: Memo[str], op: ops.Node) -> str:
    """The DuckDB SQL of an Ibis operation, compiled once while ``cache`` keeps it."""
    return cache.get(op, lambda: str(ibis.to_sql(op.to_expr(), dialect="duckdb")))


def bind(cache: Memo[str], expr: ir.Expr, selection: ir.Table) -> str:
    """The SQL of ``expr`` (built on a template) run on ``selection``: ``expr`` compiled once
    for every selection of these columns, behind ``WITH evalstore_selection AS (the
    selection's SQL)``."""
    query = sql_of(cache, expr.op())
    rows = sql_of(cache, selection.op())
    # the selection is a filter and a projection: inlined, its filters reach the scan
    head = f'WITH "{TEMPLATE}" AS NOT MATERIALIZED ({rows})'
    if query.startswith("WITH "):
        return f"{head}, {query[len('WITH ') :]}"
    return f"{head} {query}"
