"""Compiled SQL, kept per query shape: Ibis takes 10-100 ms to compile one analysis query
(0.3-0.5 s for a report), DuckDB as long to run it on a window of 100k rows.

Analyses build their queries on a dataset's *template* (``Dataset.template``): a table named
``evalstore_selection`` with the selection's columns, a parameter bound to the rows of the
dataset that runs the query. Two selections of the same columns (another time window,
version or filter) give the same query, so it is compiled once; the selection is bound when
it runs, as a common table expression in front of the cached SQL.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir

__all__ = ["TEMPLATE", "SqlCache", "bind"]

#: the name every template takes in a cached query (and the CTE that binds it)
TEMPLATE = "evalstore_selection"


class SqlCache:
    """Ibis operation -> its DuckDB SQL, the ``size`` most recently used. Thread-safe; two
    threads compiling the same query at once both compile it (the result is the same)."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._sql: OrderedDict[ops.Node, str] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def sql(self, op: ops.Node) -> str:
        with self._lock:
            found = self._sql.get(op)
            if found is not None:
                self._sql.move_to_end(op)
                self.hits += 1
                return found
        text = str(ibis.to_sql(op.to_expr(), dialect="duckdb"))
        with self._lock:
            self.misses += 1
            self._sql[op] = text
            while len(self._sql) > self.size:
                self._sql.popitem(last=False)
        return text

    def clear(self) -> None:
        with self._lock:
            self._sql.clear()


def bind(cache: SqlCache, expr: ir.Expr, selection: ir.Table) -> str:
    """The SQL of ``expr`` (built on a template) run on ``selection``: ``expr`` compiled once
    for every selection of these columns, behind ``WITH evalstore_selection AS (the
    selection's SQL)``."""
    query = cache.sql(expr.op())
    rows = cache.sql(selection.op())
    # the selection is a filter and a projection: inlined, its filters reach the scan
    head = f'WITH "{TEMPLATE}" AS NOT MATERIALIZED ({rows})'
    if query.startswith("WITH "):
        return f"{head}, {query[len('WITH ') :]}"
    return f"{head} {query}"
