"""The embedded evaluation store: one DuckDB file, owned by one process.

Layout (all in the one file):

- ``inferences_<model id>``: one row per (version, environment, prediction_id),
  with ``batch_id``, ``version``, ``environment``, ``prediction_id``,
  ``timestamp`` and then one column per feature, tag, prediction, SHAP value
  and embedding, added as batches bring them; and a copy of the row's latest
  actual (``actual_label`` / ``actual_score``), kept up to date by every batch
  (``_fold.py``), so that reads need no join.
- ``actuals_<model id>``: append-only (``batch_id``, ``environment``,
  ``prediction_id``, ``actual_label`` / ``actual_score``), the record. The
  latest actual per (environment, prediction_id) is the row's actual, so an
  actual may arrive before or after its prediction, and a later one replaces
  an earlier one.
- ``batches``: one row per committed batch, with the layout of its columns.
- ``model_columns``: every stored column's role and type, per model.

A batch is one DuckDB transaction: its rows, its actuals and its ``batches``
row commit together or not at all.

Concurrency: writes go through the one connection the store opened, one at a time (a
lock). Reads never take that lock: each thread reads through a cursor of its own (a
DuckDB connection to the same database; one connection must not be used by two threads
at once), so reads from many threads run while a batch is written, and see the store as
it was before the batch committed, or after, never half of it (DuckDB's MVCC). Queries
inside ``with store.snapshot():`` all see the store as it was when the snapshot began, so
that an analysis of several queries reads one state of the store.
"""

from __future__ import annotations

import contextvars
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends.sql.datatypes import DuckDBType

from evalstore.errors import BatchRejected, ParameterError, StoreLocked
from evalstore.ingest.plan import ModelState, Plan
from evalstore.ingest.sources import Source
from evalstore.ingest.types import quote
from evalstore.schema import Task
from evalstore.store._batch import BatchWriter
from evalstore.store._compiled import CompiledSql, bind, bind_sql, sql_of
from evalstore.store._fold import ACTUALS, fold_missing
from evalstore.store._profiles import Profiles
from evalstore.store.base import BatchReport, EvaluationStore, ModelRecord, Progress

T = TypeVar("T")

#: How DuckDB 2 hands over a statement's result as Arrow (``to_arrow_table`` on a cursor
#: does the same with a warning about the copy, which a user's ``-W error`` would raise).
_RESULT_AS_ARROW: Callable[..., pa.Table] | None = getattr(
    duckdb.DuckDBPyConnection, "_result_as_arrow", None
)

__all__ = ["DuckDBStore", "RowStream"]

_CATALOG = """
CREATE SEQUENCE IF NOT EXISTS batch_ids START 1;
CREATE SEQUENCE IF NOT EXISTS model_ids START 1;
CREATE TABLE IF NOT EXISTS store_info (store_id VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    model_id INTEGER PRIMARY KEY, name VARCHAR NOT NULL UNIQUE, task VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS batches (
    batch_id BIGINT PRIMARY KEY, model_id INTEGER NOT NULL, kind VARCHAR NOT NULL,
    version VARCHAR, environment VARCHAR NOT NULL, rows BIGINT NOT NULL,
    replaced BIGINT NOT NULL, actuals BIGINT NOT NULL, layout VARCHAR NOT NULL,
    source VARCHAR, created_at TIMESTAMP NOT NULL, first_ts TIMESTAMP, last_ts TIMESTAMP
);
-- stores from before the batches' time ranges were kept: their batches' are NULL
ALTER TABLE batches ADD COLUMN IF NOT EXISTS first_ts TIMESTAMP;
ALTER TABLE batches ADD COLUMN IF NOT EXISTS last_ts TIMESTAMP;
CREATE TABLE IF NOT EXISTS model_columns (
    model_id INTEGER NOT NULL, name VARCHAR NOT NULL, role VARCHAR NOT NULL,
    kind VARCHAR NOT NULL, stored VARCHAR NOT NULL
);
"""


class _Reader:
    """One thread's cursor, and the snapshot it may have open."""

    def __init__(self, cursor: duckdb.DuckDBPyConnection) -> None:
        self.cursor = cursor
        self.depth = 0
        """nested ``snapshot()`` blocks open"""
        self.schemas: dict[str, ibis.Schema] = {}
        """the tables' schemas as this snapshot sees them"""


#: threads for :meth:`DuckDBStore.beside` (queries of one analysis side by side)
SIDE_THREADS = 2
_SIDE_LOCAL = threading.local()
_SIDE: list[ThreadPoolExecutor] = []
_SIDE_LOCK = threading.Lock()


def _side_pool() -> ThreadPoolExecutor:
    """The threads that run :meth:`DuckDBStore.beside` work, for every store."""
    with _SIDE_LOCK:
        if not _SIDE:
            _SIDE.append(ThreadPoolExecutor(SIDE_THREADS, thread_name_prefix="evalstore-beside"))
        return _SIDE[0]


def _inside_side(fn: Callable[[], T]) -> T:
    _SIDE_LOCAL.inside = True
    return fn()


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def inference_table(model_id: int) -> str:
    return f"inferences_{model_id}"


def actual_table(model_id: int) -> str:
    return f"actuals_{model_id}"


#: written beside the store file by ``evalstore serve`` while it serves: its URL and PID
SERVER_FILE = "evalstore.server.json"


def served_at(folder: Path, pid: str | None) -> str | None:
    """The URL the server holding the store in ``folder`` serves it on (the process ``pid``
    holds its lock), from the file it wrote; None when no server wrote one."""
    found = _served(folder, pid)
    return found[0] if found else None


def _served(folder: Path, pid: str | None) -> tuple[str, bool] | None:
    """(URL, whether it requires an API key) of the server holding the store in ``folder``,
    from the file it wrote; None when no server wrote one."""
    try:
        found = json.loads((folder / SERVER_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(found, dict) or (pid is not None and str(found.get("pid")) != pid):
        return None
    url = found.get("url")
    return (url, found.get("api_key_required") is True) if isinstance(url, str) else None


def _locked_error(path: Path, exc: Exception) -> StoreLocked:
    text = str(exc)
    match = re.search(r"held in (.+?) \(PID (\d+)\)", text)
    holder = f" (PID {match.group(2)}, {match.group(1)})" if match else ""
    served = _served(path.parent, match.group(2) if match else None)
    if served is not None:
        url, keyed = served
        # the holder is the server: named as the command, not the Python that runs it
        server = "`evalstore serve`" + (f" (PID {match.group(2)})" if match else "")
        connect = (
            f'es.connect("{url}", api_key=os.environ["EVALSTORE_API_KEY"]) from Python, with '
            "the key the server was started with"
            if keyed
            else f'es.connect("{url}") from Python'
        )
        return StoreLocked(
            f"the store {str(path)!r} is served at {url} by {server}, which owns it: send the "
            f"data to the server ({connect}, or its REST API, {url}/docs"
            + (", with the header 'Authorization: Bearer <key>'" if keyed else "")
            + "), or stop the server first to use the store directly."
        )
    return StoreLocked(
        f"the store {str(path)!r} is in use by another process{holder}. One process owns the "
        "store file at a time: close that process (or its notebook kernel) and try again; or, "
        "for many processes to log to one store, let a server own it (`evalstore serve "
        f"--store {str(path)!r}`) and send the data to the server: "
        'es.connect("http://HOST:PORT"), as the server prints.'
    )


class RowStream:
    """Rows read as they are consumed (:meth:`DuckDBStore.stream`): ``schema``, then the
    record batches by iteration. Ends its read when exhausted, closed or dropped."""

    def __init__(self, store: DuckDBStore, cursor: duckdb.DuckDBPyConnection) -> None:
        self._store, self._cursor = store, cursor
        self.reader: pa.RecordBatchReader | None = None

    @property
    def schema(self) -> pa.Schema:
        assert self.reader is not None
        return self.reader.schema

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        try:
            if self.reader is not None:
                yield from self.reader
        finally:
            self.close()

    def close(self) -> None:
        self._store._end_stream(self._cursor)

    def __del__(self) -> None:
        self.close()


#: the column types a store's tables have, as Ibis reads them (``DuckDBType.from_string``),
#: without parsing: the parser loads sqlglot's DuckDB dialect, 25-35 ms of a fresh process
#: (tests/test_store.py holds them equal)
SIMPLE_TYPES: dict[str, dt.DataType] = {
    "VARCHAR": dt.String(),
    "DOUBLE": dt.Float64(),
    "FLOAT": dt.Float32(),
    "BIGINT": dt.Int64(),
    "INTEGER": dt.Int32(),
    "SMALLINT": dt.Int16(),
    "TINYINT": dt.Int8(),
    "UBIGINT": dt.UInt64(),
    "UINTEGER": dt.UInt32(),
    "USMALLINT": dt.UInt16(),
    "UTINYINT": dt.UInt8(),
    "BOOLEAN": dt.Boolean(),
    "TIMESTAMP": dt.Timestamp(scale=6),
    "DATE": dt.Date(),
}


def _session(con: duckdb.DuckDBPyConnection) -> None:
    """A connection's settings: text and zoned timestamps become UTC whatever the machine's
    time zone, and no progress bar of DuckDB's own. In a Jupyter kernel without ipywidgets
    DuckDB refuses any progress-bar setting (its bar is off there already): connecting
    raised, and no notebook could open a store."""
    with suppress(duckdb.InvalidInputException):
        con.execute("SET enable_progress_bar = false")
    con.execute("SET TimeZone = 'UTC'")


def column_type(text: str) -> dt.DataType:
    """The Ibis type of a column ``DESCRIBE`` calls ``text``."""
    return SIMPLE_TYPES.get(text) or DuckDBType.from_string(text)


class DuckDBStore(EvaluationStore):
    """Evaluation data in one DuckDB file. Thread-safe; one instance per process."""

    def __init__(self, path: str | Path, write_memory: str | None = "2GB") -> None:
        self.path = Path(path)
        if write_memory is not None and not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", write_memory):
            raise ParameterError("write_memory", "a size such as '512MB' or '2GiB'", write_memory)
        self.write_memory = write_memory
        try:
            self.con = duckdb.connect(str(self.path))
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise _locked_error(self.path, exc) from None
            raise
        _session(self.con)
        self._lock = threading.RLock()
        self._schemas: dict[str, ibis.Schema] = {}
        self._sql = CompiledSql(self.path.with_suffix(".compiled.sqlite"))
        """compiled queries, per query shape, kept beside the store (``_compiled.py``)"""
        self._profiles = Profiles(volatile=ACTUALS)
        """aggregates per hour, forgotten for the hours a batch changes (``_profiles.py``)"""
        self._generation = 0
        """incremented by every committed write: a schema read before it is not cached"""
        self._meta: dict[tuple[Any, ...], Any] = {}
        """the catalog's answers (models, batches, pairs, volumes) since the last commit: a
        page after a batch asked them ~10 times, 2-10 ms each on a busy store (``_known``)"""
        self._readers: dict[threading.Thread, _Reader] = {}
        self._reads = 0
        """reads in flight: closing waits for them"""
        self._streams: set[duckdb.DuckDBPyConnection] = set()
        """the cursors of streams being read (:meth:`stream`)"""
        self._idle = threading.Condition()
        self._closed = False
        self.con.execute(_CATALOG)
        # readers' cursors come from a connection of their own, never used for queries,
        # rather than from the one a batch may be being written through
        self._cursors = self.con.cursor()
        found = self.con.execute("SELECT store_id FROM store_info").fetchall()
        if not found:
            self.con.execute("INSERT INTO store_info VALUES (?, ?)", [str(uuid.uuid4()), _now()])
            found = self.con.execute("SELECT store_id FROM store_info").fetchall()
        self._store_id = str(found[0][0])
        for record in self._records(self.con):
            self._ensure_tables(record.id)  # so that reads never need to create them
            # a store written before actuals were folded into the inferences: fold them once
            self.con.execute("BEGIN TRANSACTION")
            fold_missing(self.con, inference_table(record.id), actual_table(record.id))
            self.con.execute("COMMIT")

    # -- reads: one cursor per thread ----------------------------------------------------------

    def _reader(self) -> _Reader:
        thread = threading.current_thread()
        reader = self._readers.get(thread)
        if reader is None:
            with self._idle:
                if self._closed:
                    raise duckdb.ConnectionException("the store is closed")
                # threads of a pool come and go: drop the cursors of those that ended
                for gone in [t for t in self._readers if not t.is_alive()]:
                    self._readers.pop(gone).cursor.close()
                reader = self._readers[thread] = _Reader(self._cursor())
        return reader

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cursor = self._cursors.cursor()
        _session(cursor)  # settings of the session, not of the database: every cursor's
        return cursor

    @contextmanager
    def _reading(self) -> Iterator[_Reader]:
        """This thread's reader, counted as in flight while used."""
        with self._idle:
            if self._closed:
                raise duckdb.ConnectionException("the store is closed")
            self._reads += 1
        try:
            yield self._reader()
        finally:
            with self._idle:
                self._reads -= 1
                self._idle.notify_all()

    def _fetch(self, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        with self._reading() as reader:
            rows: list[tuple[Any, ...]] = reader.cursor.execute(query, params or []).fetchall()
        return rows

    def _known(self, key: tuple[Any, ...], read: Callable[[], T]) -> T:
        """``read()``, a read of the catalog, kept until the next commit. Only this process
        writes the store, so a commit is all that changes it; inside a snapshot, which may
        see an older catalog, it is read again."""
        reader = self._readers.get(threading.current_thread())
        if reader is not None and reader.depth:
            return read()
        with self._idle:
            if key in self._meta:
                found: T = self._meta[key]
                return found
            generation = self._generation
        value = read()
        with self._idle:
            if generation == self._generation:  # no commit in between
                self._meta[key] = value
        return value

    def _committed(self) -> None:
        """After a commit: what readers kept of the catalog is out of date."""
        with self._idle:
            self._generation += 1
            self._schemas.clear()
            self._meta.clear()

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Run this thread's reads in one read transaction: every query in the block sees the
        store as it was when the block began, whatever is committed meanwhile. Nests.

        ::

            with engine.snapshot():
                result = performance(model.dataset(...))   # several queries, one state
        """
        with self._reading() as reader:
            if reader.depth:
                reader.depth += 1
                try:
                    yield
                finally:
                    reader.depth -= 1
                return
            reader.cursor.execute("BEGIN TRANSACTION")
            reader.depth, reader.schemas = 1, {}
            try:
                yield
            except BaseException:
                reader.cursor.execute("ROLLBACK")
                raise
            else:
                reader.cursor.execute("COMMIT")  # a read: nothing to write
            finally:
                reader.depth, reader.schemas = 0, {}

    def beside(self, fn: Callable[[], T]) -> Callable[[], T]:
        """``fn`` run on another thread while the caller goes on: DuckDB runs the threads'
        queries side by side, each on its own cursor. A query of a day or a week of rows
        keeps two cores only partly busy, so two such queries together take little more
        than the longer one. Inside a snapshot, or on such a thread itself, ``fn`` runs
        when its result is asked for: its reads must see the snapshot, and a thread that
        waited for work queued behind itself would never end. ``fn`` sees the caller's
        context variables (``analyses._merged.keeping``, say)."""
        reader = self._readers.get(threading.current_thread())
        if (reader is not None and reader.depth) or getattr(_SIDE_LOCAL, "inside", False):
            return fn
        future = _side_pool().submit(contextvars.copy_context().run, _inside_side, fn)
        return future.result

    @property
    def profiles(self) -> Profiles | None:
        """Aggregates per hour (``_profiles.py``); None inside a snapshot, whose rows may be
        older than what the profiles hold."""
        reader = self._readers.get(threading.current_thread())
        if not self._profiles.enabled or (reader is not None and reader.depth):
            return None
        return self._profiles

    def keep_profiles(self, keep: bool = True) -> bool:
        if not keep:
            self._profiles.clear()
        self._profiles.enabled = keep
        return True

    # -- models ------------------------------------------------------------------------------

    @property
    def store_id(self) -> str:
        return self._store_id

    def _records(
        self,
        con: duckdb.DuckDBPyConnection | None = None,
        where: str = "",
        params: list[Any] | None = None,
    ) -> list[ModelRecord]:
        query = f"SELECT model_id, name, task, created_at FROM models {where} ORDER BY name"
        if con is None:
            rows = self._known(
                ("models", where, *(params or [])), lambda: self._fetch(query, params)
            )
        else:
            rows = con.execute(query, params or []).fetchall()
        return [ModelRecord(int(r[0]), str(r[1]), Task(r[2]), r[3]) for r in rows]

    def get_model(self, name: str) -> ModelRecord | None:
        found = self._records(None, "WHERE name = ?", [name])
        return found[0] if found else None

    def create_model(self, name: str, task: Task) -> ModelRecord:
        with self._lock:
            if not self._records(self.con, "WHERE name = ?", [name]):
                self.con.execute("BEGIN TRANSACTION")
                try:
                    self.con.execute(
                        "INSERT INTO models SELECT nextval('model_ids'), ?, ?, ?",
                        [name, task.value, _now()],
                    )
                    (created,) = self._records(self.con, "WHERE name = ?", [name])
                    self._ensure_tables(created.id)
                    self.con.execute("COMMIT")
                    self._committed()
                except BaseException:
                    self.con.execute("ROLLBACK")
                    raise
        record = self.get_model(name)
        assert record is not None
        return record

    def models(self) -> list[ModelRecord]:
        return self._records()

    # -- writes ------------------------------------------------------------------------------

    def _ensure_tables(self, model_id: int) -> None:
        self.con.execute(
            f"CREATE TABLE IF NOT EXISTS {quote(inference_table(model_id))} ("
            "batch_id BIGINT NOT NULL, version VARCHAR NOT NULL, environment VARCHAR NOT NULL, "
            "prediction_id VARCHAR NOT NULL, timestamp TIMESTAMP NOT NULL)"
        )
        self.con.execute(
            f"CREATE TABLE IF NOT EXISTS {quote(actual_table(model_id))} ("
            "batch_id BIGINT NOT NULL, environment VARCHAR NOT NULL, "
            "prediction_id VARCHAR NOT NULL)"
        )

    def model_state(self, model_id: int, task: Task, version: str | None) -> ModelState:
        with self._lock:
            rows = self.con.execute(
                "SELECT name, role, kind, stored FROM model_columns WHERE model_id = ?",
                [model_id],
            ).fetchall()
            layout = None
            if version is not None:
                found = self.con.execute(
                    "SELECT layout FROM batches WHERE model_id = ? AND version = ? AND "
                    "kind = 'inferences' ORDER BY batch_id DESC LIMIT 1",
                    [model_id, version],
                ).fetchall()
                layout = json.loads(found[0][0]) if found else None
        return ModelState(task, {r[0]: (r[1], r[2], r[3]) for r in rows}, layout)

    def _write(
        self,
        model_id: int,
        plan: Plan,
        source: Source,
        kind: str,
        version: str | None,
        environment: str,
        progress: Progress | None,
    ) -> BatchReport:
        started = time.perf_counter()
        with self._lock, self._write_memory():
            self.con.execute("BEGIN TRANSACTION")
            try:
                self._ensure_tables(model_id)
                writer = BatchWriter(
                    self.con,
                    model_id,
                    plan,
                    kind=kind,
                    version=version,
                    environment=environment,
                    inference_table=inference_table(model_id),
                    actual_table=actual_table(model_id),
                )
                rows, replaced, actuals, matched = writer.run(source, progress)
                batch_id = writer.batch_id
                first = last = None
                if kind == "inferences":  # the batch's rows are together: a few row groups
                    first, last = self.con.execute(
                        f"SELECT min(timestamp), max(timestamp) FROM "
                        f"{quote(inference_table(model_id))} WHERE batch_id = ?",
                        [batch_id],
                    ).fetchall()[0]
                self.con.execute(
                    "INSERT INTO batches (batch_id, model_id, kind, version, environment, rows, "
                    "replaced, actuals, layout, source, created_at, first_ts, last_ts) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        batch_id,
                        model_id,
                        kind,
                        version,
                        environment,
                        rows,
                        replaced,
                        actuals,
                        json.dumps(plan.layout),
                        source.name,
                        datetime.now(timezone.utc).replace(tzinfo=None),
                        first,
                        last,
                    ],
                )
                # the profiles forget what the batch changes both before the commit (no
                # read after it may find them) and after (a read that ran meanwhile saw
                # the rows before it, and may have kept them)
                forget = self._forget(model_id, kind, version, environment, first, last)
                forget(replaced > 0, actuals > 0)
                self.con.execute("COMMIT")
                self._committed()  # readers keep a schema only if no commit came between
                forget(replaced > 0, actuals > 0)
            except duckdb.OutOfMemoryException as exc:
                self.con.execute("ROLLBACK")
                raise BatchRejected(
                    f"needed more than the {self.write_memory} the store may use while writing "
                    f"a batch ({str(exc).splitlines()[0]})",
                    fix="allow more: es.connect(..., write_memory='8GB') or the environment "
                    "variable EVALSTORE_WRITE_MEMORY; or log the data in smaller batches",
                ) from None
            except BaseException:
                self.con.execute("ROLLBACK")
                raise
            finally:
                self._schemas.clear()
        seconds = time.perf_counter() - started
        return BatchReport(batch_id, rows, replaced, actuals, seconds, matched)

    def _forget(
        self,
        model_id: int,
        kind: str,
        version: str | None,
        environment: str,
        first: datetime | None,
        last: datetime | None,
    ) -> Callable[[bool, bool], None]:
        """What a batch makes the profiles forget: its hours (all of its pair's when it
        replaced rows), and what reads actuals if it brought any."""

        def forget(replaced: bool, actuals: bool) -> None:
            if kind == "inferences" and version is not None:
                self._profiles.inferences_written(
                    model_id, environment, version, first, last, replaced
                )
            if kind == "actuals" or actuals:
                self._profiles.actuals_written(model_id, environment)

        return forget

    @contextmanager
    def _write_memory(self) -> Iterator[None]:
        """Cap DuckDB's memory while a batch is written, so that logging costs a bounded
        amount of memory on top of the batch itself, whatever the batch's size (DuckDB
        would otherwise keep every block it wrote cached, up to 80% of RAM)."""
        if not self.write_memory:
            yield
            return
        before = self.con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        self.con.execute(f"SET memory_limit = '{self.write_memory}'")
        try:
            yield
        finally:
            self.con.execute(f"SET memory_limit = '{before}'")

    def write_inferences(
        self,
        model_id: int,
        plan: Plan,
        source: Source,
        *,
        version: str,
        environment: str,
        progress: Progress | None = None,
    ) -> BatchReport:
        return self._write(model_id, plan, source, "inferences", version, environment, progress)

    def write_actuals(
        self,
        model_id: int,
        plan: Plan,
        source: Source,
        *,
        environment: str,
        progress: Progress | None = None,
    ) -> BatchReport:
        return self._write(model_id, plan, source, "actuals", None, environment, progress)

    def predictions_elsewhere(
        self, model_id: int, batch_id: int, environment: str
    ) -> dict[str, int]:
        """Per environment other than ``environment``: the predictions that have the ids of
        the actuals of batch ``batch_id`` (most first)."""
        inf, act = quote(inference_table(model_id)), quote(actual_table(model_id))
        rows = self._fetch(
            f"SELECT environment, COUNT(*) FROM {inf} WHERE environment <> ? AND prediction_id "
            f"IN (SELECT prediction_id FROM {act} WHERE batch_id = ?) GROUP BY environment "
            "ORDER BY 2 DESC, 1",
            [environment, batch_id],
        )
        return {str(env): int(n) for env, n in rows}

    # -- reads -------------------------------------------------------------------------------

    def _table(self, name: str) -> ir.Table:
        """The table as this thread's reads see it: in a snapshot, its schema then (a batch
        committed since may have added columns the snapshot cannot see)."""
        reader = self._reader()
        cache = reader.schemas if reader.depth else self._schemas
        schema = cache.get(name)
        if schema is None:
            generation = self._generation
            rows = self._fetch(f"DESCRIBE {quote(name)}")
            schema = ibis.schema({r[0]: column_type(r[1]) for r in rows})
            with self._idle:
                if reader.depth or generation == self._generation:  # no commit in between
                    cache[name] = schema
        return ibis.table(schema, name=name)

    def inferences(self, model_id: int) -> ir.Table:
        return self._table(inference_table(model_id))

    def with_actuals(self, model_id: int, table: ir.Table) -> ir.Table:
        """``table`` with the latest actual per (environment, prediction_id), last.

        Every write keeps a copy of it in the inference rows (``_fold.py``; a store from
        before is folded when opened), so this only moves those columns to the end.
        """
        act = self._table(actual_table(model_id))
        names = [c for c in ACTUALS if c in act.columns]
        if not names or list(table.columns[-len(names) :]) == names:
            return table  # already last (a select costs ~18 ms of Ibis per dataset)
        rest = [c for c in table.columns if c not in names]
        return table.select(*rest, *names)

    def joined_actuals(self, model_id: int, table: ir.Table) -> ir.Table:
        """The same as :meth:`with_actuals`, by joining the actuals table at read time: the
        definition the folded copy must match (``tests/test_fold.py``)."""
        act = self._table(actual_table(model_id))
        names = [c for c in ACTUALS if c in act.columns]
        table = table.drop(*[c for c in names if c in table.columns])
        if not names:
            return table
        latest = act.group_by(["environment", "prediction_id"]).aggregate(
            **{c: act[c].argmax(act.batch_id) for c in names}
        )
        joined = table.left_join(latest, ["environment", "prediction_id"])
        return joined.select(*[joined[c] for c in table.columns], *[joined[c] for c in names])

    def execute(self, expr: ir.Expr) -> pa.Table:
        return self._run(sql_of(self._sql, expr.op()))

    def read_rows(self, table: ir.Table) -> pa.Table:
        """Rows come through a relation, which hands them over without the copy a
        statement's result makes (``_run``)."""
        sql = sql_of(self._sql, table.op())
        with self._reading() as reader:
            result: pa.Table = reader.cursor.sql(sql).to_arrow_table()
        return result

    def execute_template(self, expr: ir.Expr, template: ir.Table, selection: ir.Table) -> pa.Table:
        """``expr`` compiled once for every selection of the template's columns (cached),
        ``selection`` bound in front of it as a common table expression."""
        return self._run(bind(self._sql, expr, selection))

    def execute_recipe(
        self,
        key: Hashable,
        build: Callable[[], ir.Expr],
        template: ir.Table,
        selection: ir.Table,
    ) -> pa.Table:
        query = self._sql.recipe((template.op(), key), lambda: build().op())
        return self._run(bind_sql(self._sql, query, selection))

    def kept_text(self, key: Hashable, make: Callable[[], str]) -> str:
        return self._sql.kept(key, make)

    def _run(self, sql: str) -> pa.Table:
        """An aggregate's result as Arrow, run as a statement: parsed and bound once (a
        relation binds its query to describe it, then again to run it; on a wide aggregate
        that is 10-20 ms of every query)."""
        with self._reading() as reader:
            if _RESULT_AS_ARROW is None:
                result: pa.Table = reader.cursor.sql(sql).to_arrow_table()
            else:
                result = _RESULT_AS_ARROW(reader.cursor.execute(sql), 131_072, reader=False)
        return result

    def stream(self, expr: ir.Table, batch_rows: int) -> RowStream:
        """The rows of ``expr`` in record batches of at most ``batch_rows``, read as they are
        consumed, through a cursor of their own (the consumer may move between threads, as
        a web response does). One query: the rows are one state of the store. A read in
        flight until the last batch is read or the stream is closed."""
        sql = sql_of(self._sql, expr.op())
        with self._idle:
            if self._closed:
                raise duckdb.ConnectionException("the store is closed")
            self._reads += 1
            cursor = self._cursor()
            self._streams.add(cursor)
        stream = RowStream(self, cursor)
        try:
            stream.reader = cursor.sql(sql).to_arrow_reader(batch_rows)
        except BaseException:
            stream.close()
            raise
        return stream

    def _end_stream(self, cursor: duckdb.DuckDBPyConnection) -> None:
        with self._idle:
            if cursor not in self._streams:
                return
            self._streams.discard(cursor)
            with suppress(duckdb.Error):  # already closed by close()
                cursor.close()
            self._reads -= 1
            self._idle.notify_all()

    def batches(self, model_id: int | None = None) -> list[dict[str, Any]]:
        query = (
            "SELECT batch_id, model_id, kind, version, environment, rows, replaced, actuals, "
            "source, created_at FROM batches"
        )
        params: list[Any] = []
        if model_id is not None:
            query += " WHERE model_id = ?"
            params.append(model_id)

        def read() -> tuple[list[str], list[tuple[Any, ...]]]:
            with self._reading() as reader:
                cur = reader.cursor.execute(query + " ORDER BY batch_id", params)
                return [d[0] for d in cur.description], cur.fetchall()

        names, rows = self._known(("batches", model_id), read)
        return [dict(zip(names, row, strict=True)) for row in rows]

    def pairs(self, model_id: int) -> list[tuple[str, str]]:
        rows = self._known(
            ("pairs", model_id),
            lambda: self._fetch(
                "SELECT DISTINCT environment, version FROM batches WHERE model_id = ? "
                "AND kind = 'inferences' AND rows > 0 ORDER BY ALL",
                [model_id],
            ),
        )
        return [(r[0], r[1]) for r in rows]

    def volumes(self, model_id: int) -> dict[tuple[str, str], tuple[int, Any, Any]]:
        """:meth:`EvaluationStore.volumes` from the batches' counts and time ranges; the
        pairs where a batch replaced earlier rows (whose times the ranges still cover) or a
        batch has no range (logged before ranges were kept) are counted from their rows."""
        return dict(self._known(("volumes", model_id), lambda: self._volumes(model_id)))

    def _volumes(self, model_id: int) -> dict[tuple[str, str], tuple[int, Any, Any]]:
        found = self._fetch(
            "SELECT environment, version, sum(rows) - sum(replaced), min(first_ts), "
            "max(last_ts), bool_or(first_ts IS NULL) OR sum(replaced) > 0 FROM batches "
            "WHERE model_id = ? AND kind = 'inferences' GROUP BY ALL",
            [model_id],
        )
        out = {(r[0], r[1]): (int(r[2]), r[3], r[4]) for r in found if not r[5] and r[2]}
        recount = [(r[0], r[1]) for r in found if r[5]]
        if recount:
            where = " OR ".join("(environment = ? AND version = ?)" for _ in recount)
            rows = self._fetch(
                "SELECT environment, version, count(*), min(timestamp), max(timestamp) FROM "
                f"{quote(inference_table(model_id))} WHERE {where} GROUP BY ALL",
                [v for pair in recount for v in pair],
            )
            out.update({(r[0], r[1]): (int(r[2]), r[3], r[4]) for r in rows})
        return out

    def size_bytes(self) -> int:
        total = 0
        for suffix in ("", ".wal"):
            p = Path(str(self.path) + suffix)
            if p.exists():
                total += p.stat().st_size
        return total

    def close(self, wait: float = 60.0) -> None:
        """Close the store once the batch being written (if any) committed and the reads in
        flight ended; reads still running after ``wait`` seconds are interrupted."""
        with self._lock:
            with self._idle:
                if self._closed:
                    return
                self._closed = True
                if not self._idle.wait_for(lambda: self._reads == 0, timeout=wait):
                    for cursor in [r.cursor for r in self._readers.values()] + [*self._streams]:
                        cursor.interrupt()
                    self._idle.wait_for(lambda: self._reads == 0, timeout=5)
                for cursor in [r.cursor for r in self._readers.values()] + [*self._streams]:
                    cursor.close()  # a stream whose reader stalled ends with an error
                self._readers.clear()
                self._cursors.close()
            self.con.close()
            self._sql.close()
