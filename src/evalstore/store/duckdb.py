"""The embedded evaluation store: one DuckDB file, owned by one process.

Layout (all in the one file):

- ``inferences_<model id>``: one row per (version, environment, prediction_id),
  with ``batch_id``, ``version``, ``environment``, ``prediction_id``,
  ``timestamp`` and then one column per feature, tag, prediction, SHAP value
  and embedding, added as batches bring them.
- ``actuals_<model id>``: append-only (``batch_id``, ``environment``,
  ``prediction_id``, ``actual_label`` / ``actual_score``). Reads join the
  latest actual per (environment, prediction_id), so an actual may arrive
  before or after its prediction, and a later one replaces an earlier one.
- ``batches``: one row per committed batch, with the layout of its columns.
- ``model_columns``: every stored column's role and type, per model.

A batch is one DuckDB transaction: its rows, its actuals and its ``batches``
row commit together or not at all.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends.sql.datatypes import DuckDBType

from evalstore.errors import BatchRejected, ParameterError, StoreLocked
from evalstore.ingest.plan import ModelState, Plan
from evalstore.ingest.sources import Source
from evalstore.ingest.types import quote
from evalstore.schema import Task
from evalstore.store._batch import BatchWriter
from evalstore.store.base import BatchReport, EvaluationStore, ModelRecord, Progress

__all__ = ["DuckDBStore"]

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
    source VARCHAR, created_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS model_columns (
    model_id INTEGER NOT NULL, name VARCHAR NOT NULL, role VARCHAR NOT NULL,
    kind VARCHAR NOT NULL, stored VARCHAR NOT NULL
);
"""


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def inference_table(model_id: int) -> str:
    return f"inferences_{model_id}"


def actual_table(model_id: int) -> str:
    return f"actuals_{model_id}"


def _locked_error(path: Path, exc: Exception) -> StoreLocked:
    text = str(exc)
    match = re.search(r"held in (.+?) \(PID (\d+)\)", text)
    holder = f" (PID {match.group(2)}, {match.group(1)})" if match else ""
    return StoreLocked(
        f"the store {str(path)!r} is in use by another process{holder}. One process owns the "
        "store file at a time: close that process (or its notebook kernel) and try again, or "
        "send the data to the process that has the store open."
    )


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
        self.con.execute("SET enable_progress_bar = false")
        # Text and zoned timestamps become UTC whatever the machine's time zone.
        self.con.execute("SET TimeZone = 'UTC'")
        self._lock = threading.RLock()
        self._schemas: dict[str, ibis.Schema] = {}
        self.con.execute(_CATALOG)
        found = self.con.execute("SELECT store_id FROM store_info").fetchall()
        if not found:
            self.con.execute("INSERT INTO store_info VALUES (?, ?)", [str(uuid.uuid4()), _now()])
            found = self.con.execute("SELECT store_id FROM store_info").fetchall()
        self._store_id = str(found[0][0])

    # -- models ------------------------------------------------------------------------------

    @property
    def store_id(self) -> str:
        return self._store_id

    def _records(self, where: str = "", params: list[Any] | None = None) -> list[ModelRecord]:
        with self._lock:
            rows = self.con.execute(
                f"SELECT model_id, name, task, created_at FROM models {where} ORDER BY name",
                params or [],
            ).fetchall()
        return [ModelRecord(int(r[0]), str(r[1]), Task(r[2]), r[3]) for r in rows]

    def get_model(self, name: str) -> ModelRecord | None:
        found = self._records("WHERE name = ?", [name])
        return found[0] if found else None

    def create_model(self, name: str, task: Task) -> ModelRecord:
        with self._lock:
            if self.get_model(name) is None:
                self.con.execute(
                    "INSERT INTO models SELECT nextval('model_ids'), ?, ?, ?",
                    [name, task.value, _now()],
                )
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
                rows, replaced, actuals = writer.run(source, progress)
                batch_id = writer.batch_id
                self.con.execute(
                    "INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                    ],
                )
                self.con.execute("COMMIT")
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
        return BatchReport(batch_id, rows, replaced, actuals, time.perf_counter() - started)

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

    # -- reads -------------------------------------------------------------------------------

    def _table(self, name: str) -> ir.Table:
        schema = self._schemas.get(name)
        if schema is None:
            with self._lock:
                rows = self.con.execute(f"DESCRIBE {quote(name)}").fetchall()
            schema = ibis.schema({r[0]: DuckDBType.from_string(r[1]) for r in rows})
            self._schemas[name] = schema
        return ibis.table(schema, name=name)

    def inferences(self, model_id: int) -> ir.Table:
        with self._lock:
            self._ensure_tables(model_id)
        return self._table(inference_table(model_id))

    def with_actuals(self, model_id: int, table: ir.Table, selective: bool = False) -> ir.Table:
        """Join the latest actual per (environment, prediction_id) onto a table of inferences.

        ``selective``: ``table`` is a small part of the model's rows, so first keep only
        the actuals of its ids rather than aggregate every actual the model has.
        """
        act = self._table(actual_table(model_id))
        names = [c for c in ("actual_label", "actual_score") if c in act.columns]
        if not names:
            return table
        if selective:
            act = act.filter(act.prediction_id.isin(table.prediction_id))
        latest = act.group_by(["environment", "prediction_id"]).aggregate(
            **{c: act[c].argmax(act.batch_id) for c in names}
        )
        joined = table.left_join(latest, ["environment", "prediction_id"])
        return joined.select(*[joined[c] for c in table.columns], *[joined[c] for c in names])

    def execute(self, expr: ir.Expr) -> pa.Table:
        sql = str(ibis.to_sql(expr, dialect="duckdb"))
        with self._lock:
            result: pa.Table = self.con.sql(sql).to_arrow_table()
        return result

    def batches(self, model_id: int | None = None) -> list[dict[str, Any]]:
        query = (
            "SELECT batch_id, model_id, kind, version, environment, rows, replaced, actuals, "
            "source, created_at FROM batches"
        )
        params: list[Any] = []
        if model_id is not None:
            query += " WHERE model_id = ?"
            params.append(model_id)
        with self._lock:
            cur = self.con.execute(query + " ORDER BY batch_id", params)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def size_bytes(self) -> int:
        total = 0
        for suffix in ("", ".wal"):
            p = Path(str(self.path) + suffix)
            if p.exists():
                total += p.stat().st_size
        return total

    def close(self) -> None:
        with self._lock:
            self.con.close()
