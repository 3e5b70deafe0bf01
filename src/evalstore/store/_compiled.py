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

A *recipe* (:meth:`CompiledSql.recipe`) goes one step further: the SQL is kept under what
builds the query (the template's columns, the bins, the checks: the key an analysis
already keeps its built expressions under), so that a process that finds it builds no Ibis
expression at all. Building was 130-150 ms of Python in a new process's report on a
window, as long as the engine took to run its queries on 100k rows. A key must name every
input of its query; with ``CHECK_RECIPES`` (the tests set it) each recipe found is built
again and its SQL compared, so that a key that misses one fails loudly.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import hashlib
import logging
import os
import pickle
import sqlite3
import threading
import time
from collections.abc import Callable, Hashable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
from ibis.common.grounds import Concrete

from evalstore._memo import Memo

__all__ = ["TEMPLATE", "CompiledSql", "RecipeMismatch", "bind", "bind_sql", "sql_of", "stable_key"]

log = logging.getLogger("evalstore.store")

#: the name every template takes in a cached query (and the CTE that binds it)
TEMPLATE = "evalstore_selection"

#: at most this many queries in the file: the ones used least recently go first
KEEP_QUERIES = 4096

#: a read marks its query used again only when the mark is older than this (seconds): each
#: mark is a write to the file, ~5 ms, 70 ms of a report's 14 reads in a new process
USED_EVERY = 3600.0


#: build every recipe found again and compare its SQL (the tests set it): a key that misses
#: an input of its query would otherwise run the SQL of another query, silently
CHECK_RECIPES = os.environ.get("EVALSTORE_CHECK_RECIPES", "") not in ("", "0")


class RecipeMismatch(AssertionError):
    """A recipe's key gave SQL another build of it does not: the key misses an input."""


class CompiledSql:
    """The DuckDB SQL of Ibis operations: in memory for the ``size`` most recently used, and,
    with a ``path``, in a SQLite file that later processes read (at most ``KEEP_QUERIES``, the
    least recently used go first, a use marked at most once in ``USED_EVERY``).
    Thread-safe."""

    def __init__(self, path: Path | None, size: int = 512) -> None:
        self.memory: Memo[str] = Memo(size)
        self.recipes: Memo[str] = Memo(size)
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

    def recipe(self, key: Hashable, build: Callable[[], ops.Node]) -> str:
        """The SQL of the operation ``build()`` returns, kept under ``key``: every input
        ``build`` reads (see the module doc)."""
        return self.kept(key, lambda: self.sql(build()))

    def kept(self, key: Hashable, make: Callable[[], str]) -> str:
        """The text ``make()`` returns (a query's SQL, what an analysis needs to read its
        rows), kept under ``key``, which names every input ``make`` reads. A key
        :func:`stable_key` cannot write down is kept in memory only."""
        text = self.recipes.get(key, lambda: self._kept(key, make))
        if CHECK_RECIPES:
            fresh = make()
            if fresh != text:
                raise RecipeMismatch(f"the recipe {key!r} kept text another build differs from")
        return text

    def _kept(self, key: Hashable, make: Callable[[], str]) -> str:
        stable = stable_key(key) if self._db is not None else None
        disk = None if stable is None else hashlib.sha256(_namespace() + stable).hexdigest()
        if disk is not None:
            found = self._read(disk)
            if found is not None:
                self.from_file += 1
                return found
        text = make()
        if disk is not None:
            self._write(disk, text)
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


def stable_key(key: Any) -> bytes | None:
    """``key`` written the same way by every process (None when it holds a value that
    cannot be): plain values by type and ``repr``, tuples, lists, dicts and frozen
    dataclasses by their parts, Ibis operations and types by the digest of their pickle
    (which the SQL kept under an operation is keyed by too)."""
    try:
        return b"recipe|" + _stable(key).encode()
    except (TypeError, pickle.PicklingError, AttributeError):
        return None


def _stable(value: Any) -> str:
    if value is None or isinstance(value, bool | int | float | str | bytes):
        return f"{type(value).__name__}:{value!r}"
    if isinstance(value, datetime):
        return f"datetime:{value.isoformat()}"
    if isinstance(value, enum.Enum):
        return f"{type(value).__qualname__}.{value.name}"
    if isinstance(value, tuple | list):
        return "(" + ",".join(_stable(v) for v in value) + ")"
    if isinstance(value, dict):
        return "{" + ",".join(f"{_stable(k)}:{_stable(v)}" for k, v in value.items()) + "}"
    if isinstance(value, Concrete):  # an operation, a data type, a schema
        body = pickle.dumps(value, protocol=5)
        return f"{type(value).__qualname__}:{hashlib.sha256(body).hexdigest()}"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        kind = type(value)
        if not kind.__dataclass_params__.frozen:  # type: ignore[attr-defined]
            raise TypeError(f"a mutable {kind.__qualname__}")
        parts = ",".join(
            f"{f.name}={_stable(getattr(value, f.name))}" for f in dataclasses.fields(value)
        )
        return f"{kind.__module__}.{kind.__qualname__}({parts})"
    raise TypeError(f"{type(value).__qualname__} has no stable form")


_NAMESPACE: list[bytes] = []


def _namespace() -> bytes:
    """What else the SQL of an operation depends on: the versions of Ibis, DuckDB and
    evalstore, and evalstore's own code (its compile rules), so that an upgrade or an edit
    reads none of the SQL compiled before it. The code counts by each file's size and time
    of change, as Python's own compiled files do: reading the 1.6 MB of sources was 17 ms
    of every new process's first query."""
    if not _NAMESPACE:
        from evalstore import __version__

        versions = f"{ibis.__version__}|{duckdb.__version__}|{__version__}|"
        digest = hashlib.sha256(versions.encode())
        root = Path(__file__).resolve().parents[1]  # the evalstore package
        for name in _sources(root):
            found = (root / name).stat()
            digest.update(f"{name}|{found.st_size}|{found.st_mtime_ns}|".encode())
        _NAMESPACE.append(digest.digest())
    return _NAMESPACE[0]


def _sources(root: Path) -> list[str]:
    """The package's Python files, as sorted paths relative to ``root`` (os.walk: a third
    of the time of ``Path.rglob``)."""
    found = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = [d for d in subfolders if d != "__pycache__"]
        base = Path(folder).relative_to(root).as_posix()
        found += [f if base == "." else f"{base}/{f}" for f in files if f.endswith(".py")]
    return sorted(found)


def sql_of(cache: CompiledSql, op: ops.Node) -> str:
    """The DuckDB SQL of an Ibis operation, compiled once while ``cache`` keeps it."""
    return cache.sql(op)


def bind(cache: CompiledSql, expr: ir.Expr, selection: ir.Table) -> str:
    """The SQL of ``expr`` (built on a template) run on ``selection``: ``expr`` compiled once
    for every selection of these columns, behind ``WITH evalstore_selection AS (the
    selection's SQL)``."""
    return bind_sql(cache, sql_of(cache, expr.op()), selection)


def bind_sql(cache: CompiledSql, query: str, selection: ir.Table) -> str:
    """``query`` (the SQL of an expression on a template) run on ``selection``."""
    rows = cache.selection_sql(selection.op())
    # the selection is a filter and a projection: inlined, its filters reach the scan
    head = f'WITH "{TEMPLATE}" AS NOT MATERIALIZED ({rows})'
    if query.startswith("WITH "):
        return f"{head}, {query[len('WITH ') :]}"
    return f"{head} {query}"
