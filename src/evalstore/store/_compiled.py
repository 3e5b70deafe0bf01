"""Compiled SQL, kept per query shape: Ibis takes 10-100 ms to compile one analysis query
(0.3-0.5 s for a report), DuckDB as long to run it on a window of 100k rows.

Analyses build their queries on a dataset's *template* (``Dataset.template``): a table named
``evalstore_selection`` with the selection's columns, a parameter bound to the rows of the
dataset that runs the query. Two selections of the same columns (another time window,
version or filter) give the same query, so it is compiled once; the selection is bound when
it runs, as a common table expression in front of the cached SQL.

The SQL is also written to a file beside the store (:class:`CompiledSql`), keyed by the
query itself (its pickled Ibis operation), so that a new process -- a report from the
shell, a server that restarted -- compiles none of the queries an earlier one did: a
restarted server's first slices page took 1.6-1.8 s, then 1.0 s, on the 10M-row UI
benchmark store (``bench/ui_latency.py --restart``). Every query is kept, small ones too:
the first compile of a process costs 0.1-0.15 s more (Ibis and sqlglot get ready),
whatever its size. The file is a cache: any error reading or writing it makes the store
compile as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import pickle
import sqlite3
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir

from evalstore._memo import Memo

__all__ = ["TEMPLATE", "CompiledSql", "bind", "sql_of"]

log = logging.getLogger("evalstore.store")

#: the name every template takes in a cached query (and the CTE that binds it)
TEMPLATE = "evalstore_selection"

#: at most this many queries in the file: the ones used least recently go first
KEEP_QUERIES = 4096

#: a read marks its query used again only when the mark is older than this (seconds): each
#: mark is a write to the file, ~5 ms, 70 ms of a report's 14 reads in a new process
USED_EVERY = 3600.0


class CompiledSql:
    """The DuckDB SQL of Ibis operations: in memory for the ``size`` most recently used, and,
    with a ``path``, in a SQLite file that later processes read (at most ``KEEP_QUERIES``, the
    least recently used go first, a use marked at most once in ``USED_EVERY``).
    Thread-safe."""

    def __init__(self, path: Path | None, size: int = 512) -> None:
        self.memory: Memo[str] = Memo(size)
        self.from_file = 0
        """queries read from the file rather than compiled"""
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        if path is not None:
            try:
                self._db = _open(path)
            except (sqlite3.Error, OSError) as exc:  # a read-only folder, a damaged file
                log.info("compiled SQL is not kept in %s: %s", path, exc)

    @property
    def hits(self) -> int:
        return self.memory.hits

    @property
    def misses(self) -> int:
        return self.memory.misses

    def sql(self, op: ops.Node) -> str:
        """The SQL of ``op``, compiled once while this cache (or its file) keeps it."""
        return self.memory.get(op, lambda: self._sql(op))

    def _sql(self, op: ops.Node, compiled: ops.Node | None = None) -> str:
        """The SQL of ``compiled`` (default ``op``), kept under ``op``."""
        key = self._key(op)
        if key is not None:
            found = self._read(key)
            if found is not None:
                self.from_file += 1
                return found
        text = str(ibis.to_sql((compiled or op).to_expr(), dialect="duckdb"))
        if key is not None:
            self._write(key, text)
        return text

    def selection_sql(self, op: ops.Node) -> str:
        """The SQL of a selection (a filter of a table), kept per *shape*: its time bounds
        (a window's start and end) are placeholders in the SQL kept, their values written
        in here. Another window is then no query to compile: the first compile of a
        process costs 0.1-0.15 s (Ibis's compilers and sqlglot get ready), and a report
        on a new window compiled nothing else."""
        return self.memory.get(("selection", op), lambda: self._selection_sql(op))

    def _selection_sql(self, op: ops.Node) -> str:
        bounds = _time_bounds(op)
        if not bounds:
            return self.sql(op)
        # kept under the selection with fixed values in the bounds' places (a key that
        # pickles), compiled with a placeholder call in each place
        at = [_FIXED + timedelta(microseconds=i) for i in range(len(bounds))]
        fixed = op.replace({b: ops.Literal(v, b.dtype) for b, v in zip(bounds, at, strict=True)})
        marked = op.replace({b: _bound(i).op() for i, b in enumerate(bounds)})
        try:
            text = self.memory.get(fixed, lambda: self._sql(fixed, marked))
        except Exception as exc:  # a bound where only a literal compiles: as it is
            log.info("a selection's time bounds stay in its SQL: %s", exc)
            return self.sql(op)
        for i, b in enumerate(bounds):
            mark = f"EVALSTORE_BOUND({i})"
            if mark not in text:
                return self.sql(op)
            text = text.replace(mark, f"TIMESTAMP '{b.value.isoformat(sep=' ')}'")
        return text

    def _key(self, op: ops.Node) -> str | None:
        if self._db is None:
            return None
        try:
            body = pickle.dumps(op, protocol=5)
        except (pickle.PicklingError, TypeError, AttributeError):  # e.g. a UDF of a closure
            return None
        return hashlib.sha256(_namespace() + body).hexdigest()

    def _read(self, key: str) -> str | None:
        with self._lock:
            if self._db is None:
                return None
            try:
                row = self._db.execute(
                    "SELECT sql, used FROM compiled WHERE key = ?", (key,)
                ).fetchone()
                now = time.time()
                if row is not None and not now - USED_EVERY < row[1] <= now:
                    self._db.execute("UPDATE compiled SET used = ? WHERE key = ?", (now, key))
            except sqlite3.Error as exc:
                self._fail(exc)
                return None
        return str(row[0]) if row is not None else None

    def _write(self, key: str, text: str) -> None:
        with self._lock:
            if self._db is None:
                return
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO compiled (key, sql, used) VALUES (?, ?, ?)",
                    (key, text, time.time()),
                )
            except sqlite3.Error as exc:
                self._fail(exc)

    def _fail(self, exc: sqlite3.Error) -> None:
        log.info("compiled SQL is no longer kept on disk: %s", exc)
        self._close()

    def _close(self) -> None:
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None

    def close(self) -> None:
        with self._lock:
            self._close()


def _open(path: Path) -> sqlite3.Connection:
    # autocommit: each write stands alone; another process may read the file meanwhile
    db = sqlite3.connect(path, timeout=1.0, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA synchronous = OFF")  # a cache: a write lost in a crash costs a compile
    db.execute(
        "CREATE TABLE IF NOT EXISTS compiled (key TEXT PRIMARY KEY, sql TEXT NOT NULL, "
        "used REAL NOT NULL)"
    )
    db.execute(
        "DELETE FROM compiled WHERE key NOT IN "
        "(SELECT key FROM compiled ORDER BY used DESC LIMIT ?)",
        (KEEP_QUERIES,),
    )
    return db


#: the values a selection's time bounds take in the key its SQL is kept under
_FIXED = datetime(1, 1, 1)


@ibis.udf.scalar.builtin(name="evalstore_bound")  # type: ignore[untyped-decorator]
def _bound(i: int) -> datetime:  # type: ignore[empty-body]
    """The i-th time bound of a selection: a placeholder in the SQL kept, never run."""


def _time_bounds(op: ops.Node) -> list[ops.Literal]:
    """The naive timestamp literals of ``op`` (a window's start and end), in graph order."""
    return [
        lit
        for lit in op.find(ops.Literal)
        if isinstance(lit.value, datetime)
        and lit.value.tzinfo is None
        and lit.dtype.is_timestamp()
        and lit.dtype.timezone is None
    ]


_NAMESPACE: list[bytes] = []


def _namespace() -> bytes:
    """What else the SQL of an operation depends on: the versions of Ibis and DuckDB, and
    evalstore's own code (its compile rules), so that an upgrade or an edit reads none of
    the SQL compiled before it."""
    if not _NAMESPACE:
        digest = hashlib.sha256(f"{ibis.__version__}|{duckdb.__version__}|".encode())
        root = Path(__file__).resolve().parents[1]  # the evalstore package
        for source in sorted(root.rglob("*.py")):
            digest.update(source.relative_to(root).as_posix().encode())
            digest.update(source.read_bytes())
        _NAMESPACE.append(digest.digest())
    return _NAMESPACE[0]


def sql_of(cache: CompiledSql, op: ops.Node) -> str:
    """The DuckDB SQL of an Ibis operation, compiled once while ``cache`` keeps it."""
    return cache.sql(op)


def bind(cache: CompiledSql, expr: ir.Expr, selection: ir.Table) -> str:
    """The SQL of ``expr`` (built on a template) run on ``selection``: ``expr`` compiled once
    for every selection of these columns, behind ``WITH evalstore_selection AS (the
    selection's SQL)``."""
    query = sql_of(cache, expr.op())
    rows = cache.selection_sql(selection.op())
    # the selection is a filter and a projection: inlined, its filters reach the scan
    head = f'WITH "{TEMPLATE}" AS NOT MATERIALIZED ({rows})'
    if query.startswith("WITH "):
        return f"{head}, {query[len('WITH ') :]}"
    return f"{head} {query}"
