"""Writing one batch into DuckDB inside the caller's transaction.

Each input chunk is scanned twice by the engine, never by Python: once by one
aggregate query that evaluates every row check, once by the INSERT. Checks
that span chunks (duplicate ids, vector lengths) run on the batch's rows
before commit. Any failure raises BatchRejected; the caller rolls back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import duckdb
import numpy as np
import pyarrow as pa

from evalstore.errors import BatchRejected
from evalstore.ingest.plan import Check, Column, Plan
from evalstore.ingest.sources import Source
from evalstore.ingest.types import quote
from evalstore.store._fold import fold_batch
from evalstore.store.base import Progress

__all__ = ["BatchWriter"]

#: the name the chunk being written has in SQL: a local variable of BatchWriter.run
_CHUNK = "evalstore_chunk_"
_ROW = "__evalstore_row"
#: how many distinct misspelt labels an error names
_SHOWN_LABELS = 5


def _literal(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, str, datetime)):
        raise TypeError(f"no SQL literal for {type(value).__name__}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    return "'" + value.replace("'", "''") + "'"


@dataclass
class _Tally:
    """Failures of one check, summed over chunks; the example is the first failing row."""

    check: Check
    count: int = 0
    example: str | None = None


@dataclass
class BatchWriter:
    con: duckdb.DuckDBPyConnection
    model_id: int
    plan: Plan
    kind: str
    version: str | None
    environment: str
    inference_table: str
    actual_table: str
    batch_id: int = 0
    tallies: list[_Tally] = field(default_factory=list)

    def run(self, source: Source, progress: Progress | None) -> tuple[int, int, int, int | None]:
        """Write every chunk; returns (rows, replaced, actuals, matched: see BatchReport)."""
        self.batch_id = int(self.con.execute("SELECT nextval('batch_ids')").fetchall()[0][0])
        self._add_columns()
        self.tallies = [_Tally(c) for c in self.plan.checks]
        check_sql = self._check_sql()
        inserts = self._insert_sql(datetime.now(timezone.utc).replace(tzinfo=None))
        rows = 0
        for batch in source.batches:
            n = batch.num_rows
            if n == 0:
                continue
            table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
            chunk = table.append_column(_ROW, pa.array(np.arange(rows, rows + n, dtype=np.int64)))
            # DuckDB reads the chunk from this local variable (a replacement scan), not from
            # con.register(): a registered chunk stays referenced until the transaction ends,
            # so a 10M-row batch held 2.3 GiB of Arrow buffers at commit. (A relation's
            # query() does not hold it either, but hides an out-of-memory error.)
            evalstore_chunk_ = chunk  # read by the queries below, by its name
            try:
                self._tally(self.con.execute(check_sql).fetchall()[0])
                if not self._failed():
                    for sql in inserts:
                        self.con.execute(sql)
            except duckdb.OutOfMemoryException:
                raise
            except duckdb.Error as exc:
                # Checks should catch every bad value; this names what slipped through.
                raise BatchRejected(
                    f"could not be stored: {str(exc).splitlines()[0]}",
                    fix="check the column types against docs/schema.md",
                ) from exc
            finally:
                del evalstore_chunk_
            rows += n
            if progress is not None:
                progress(n)
        if rows == 0:
            raise BatchRejected("the batch has no rows", fix="log a batch with at least one row")
        for tally in self.tallies:
            if tally.count:
                raise BatchRejected(
                    tally.check.problem,
                    column=tally.check.column,
                    rows=tally.count,
                    total=rows,
                    example=tally.example,
                    fix=tally.check.fix,
                )
        self._check_duplicates(rows)
        self._check_label_case(rows)
        self._check_vectors()
        if self.kind == "inferences":
            replaced = self._replace_earlier()
        else:
            replaced = self._count_superseded()
        matched = fold_batch(
            self.con,
            self.kind,
            self.batch_id,
            self.environment,
            self.inference_table,
            self.actual_table,
        )
        actuals = self._count_actuals()
        return rows, replaced, actuals, matched

    # -- SQL -----------------------------------------------------------------------------------

    def _columns(self) -> list[tuple[str, Column]]:
        tables = [(self.actual_table, c) for c in self.plan.actuals]
        if self.kind == "inferences":
            tables = [(self.inference_table, c) for c in self.plan.inferences] + tables
        return tables

    def _add_columns(self) -> None:
        for table, col in self._columns():
            if col.role == "timestamp":  # a system column, present from the start
                continue
            existing = self.con.execute(
                "SELECT 1 FROM model_columns WHERE model_id = ? AND name = ?",
                [self.model_id, col.target],
            ).fetchall()
            if existing:
                continue
            self.con.execute(
                f"ALTER TABLE {quote(table)} ADD COLUMN {quote(col.target)} {col.stored}"
            )
            if table == self.actual_table:  # and its copy beside the inferences (_fold.py)
                self.con.execute(
                    f"ALTER TABLE {quote(self.inference_table)} ADD COLUMN IF NOT EXISTS "
                    f"{quote(col.target)} {col.stored}"
                )
            self.con.execute(
                "INSERT INTO model_columns VALUES (?, ?, ?, ?, ?)",
                [self.model_id, col.target, col.role, col.kind, col.stored],
            )

    def _check_sql(self) -> str:
        pid = f"CAST({quote(self.plan.id.source)} AS VARCHAR)"
        parts = ["count(*)"]
        for check in self.plan.checks:
            flt = f"FILTER (WHERE {check.bad})"
            parts += [
                f"count(*) {flt}",
                f"min({_ROW}) {flt}",
                f"arg_min({check.example}, {_ROW}) {flt}",
                f"arg_min({pid}, {_ROW}) {flt}",
            ]
        return f"SELECT {', '.join(parts)} FROM {_CHUNK}"

    def _tally(self, row: tuple[object, ...]) -> None:
        for i, tally in enumerate(self.tallies):
            count, first_row, value, pid = row[1 + 4 * i : 5 + 4 * i]
            if count and tally.example is None:
                shown = "a missing value" if tally.check.example == "NULL" else repr(value)
                tally.example = f"{shown} at row {first_row}"
                if pid is not None and tally.check.column != self.plan.id.source:
                    tally.example += f", prediction_id {pid!r}"
            tally.count += int(count)  # type: ignore[call-overload]

    def _failed(self) -> bool:
        return any(t.count for t in self.tallies)

    def _insert_sql(self, logged_at: datetime) -> list[str]:
        """The INSERTs of a chunk, with the batch's constants as SQL literals."""
        out: list[str] = []
        id_expr = self.plan.id.expr
        batch, env = _literal(self.batch_id), _literal(self.environment)
        if self.kind == "inferences":
            cols = self.plan.inferences
            names = ["batch_id", "version", "environment", "prediction_id"]
            exprs = [batch, _literal(self.version or ""), env, id_expr]
            if not any(c.role == "timestamp" for c in cols):
                names.append("timestamp")
                exprs.append(_literal(logged_at))
            # the batch's own actuals go into its rows too (the folded copy, _fold.py)
            names += [c.target for c in [*cols, *self.plan.actuals]]
            exprs += [c.expr for c in [*cols, *self.plan.actuals]]
            out.append(self._insert(self.inference_table, names, exprs))
        if self.plan.actuals:
            acts = self.plan.actuals
            names = ["batch_id", "environment", "prediction_id", *[c.target for c in acts]]
            exprs = [batch, env, id_expr, *[c.expr for c in acts]]
            present = " OR ".join(f"({c.expr}) IS NOT NULL" for c in acts)
            out.append(self._insert(self.actual_table, names, exprs) + f" WHERE {present}")
        return out

    @staticmethod
    def _insert(table: str, names: list[str], exprs: list[str]) -> str:
        cols = ", ".join(quote(n) for n in names)
        return f"INSERT INTO {quote(table)} ({cols}) SELECT {', '.join(exprs)} FROM {_CHUNK}"

    # -- batch-wide checks ---------------------------------------------------------------------

    def _check_duplicates(self, rows: int) -> None:
        table = self.inference_table if self.kind == "inferences" else self.actual_table
        if self.kind == "actuals" and not self.plan.actuals:
            return
        found = self.con.execute(
            "SELECT count(*), sum(n), min(prediction_id) FROM (SELECT prediction_id, "
            f"count(*) AS n FROM {quote(table)} WHERE batch_id = ? GROUP BY prediction_id "
            "HAVING count(*) > 1)",
            [self.batch_id],
        ).fetchall()[0]
        if found[0]:
            ids = "id appears" if found[0] == 1 else "ids appear"
            raise BatchRejected(
                f"share their prediction id with another row of the batch ({found[0]:,} "
                f"{ids} more than once)",
                column=self.plan.id.source,
                rows=int(found[1]),
                total=rows,
                example=f"prediction_id {found[2]!r}",
                fix="each row of a batch needs its own prediction id; drop the duplicates "
                "(pandas: df.drop_duplicates(subset=[id_column], keep='last'))",
            )

    def _check_label_case(self, rows: int) -> None:
        """Refuse actual labels that differ from one of the model's classes only in case or
        surrounding spaces ('Mid' for 'mid'): an upstream change of spelling, which would
        count every such row as a miss of a class the model cannot predict. A label far
        from every class (a genuinely new outcome) is accepted; quality() counts it."""
        classes = self.plan.classes
        if not classes or not self.plan.actuals:
            return
        # as DuckDB's lower(trim(x)): trim takes spaces only
        near = {c.strip(" ").lower(): c for c in classes}
        known = ", ".join(_literal(c) for c in classes)
        lowered = ", ".join(_literal(k) for k in near)
        found = self.con.execute(
            "SELECT actual_label, count(*) AS n, min(prediction_id) "
            f"FROM {quote(self.actual_table)} WHERE batch_id = ? AND actual_label NOT IN ({known}) "
            f"AND lower(trim(actual_label)) IN ({lowered}) GROUP BY 1 ORDER BY n DESC, 1",
            [self.batch_id],
        ).fetchall()
        if not found:
            return
        shown = [
            f"{label!r} ({n:,} {'row' if n == 1 else 'rows'}; did you mean "
            f"{near.get(str(label).strip(' ').lower())!r}?)"
            for label, n, _ in found[:_SHOWN_LABELS]
        ]
        more = f" and {len(found) - _SHOWN_LABELS} more" if len(found) > _SHOWN_LABELS else ""
        names = ", ".join(repr(c) for c in classes)
        raise BatchRejected(
            "have actual labels that differ from the model's classes only in case or "
            f"surrounding spaces: {', '.join(shown)}{more}",
            column=self.plan.actuals[0].source,
            rows=sum(int(n) for _, n, _ in found),
            total=rows,
            example=f"{found[0][0]!r}, prediction_id {found[0][2]!r}",
            fix=f"send each label spelt exactly as the model's class ({names}: its score "
            "columns); a label that is no class at all is accepted, as a new outcome",
        )

    def _check_vectors(self) -> None:
        if self.kind != "inferences":
            return
        for col in self.plan.inferences:
            if col.role != "embedding":
                continue
            name = quote(col.target)
            lo, hi = self.con.execute(
                f"SELECT min(len({name})), max(len({name})) FROM {quote(self.inference_table)} "
                "WHERE batch_id = ?",
                [self.batch_id],
            ).fetchall()[0]
            earlier = self.con.execute(
                f"SELECT len({name}) FROM {quote(self.inference_table)} WHERE batch_id <> ? "
                f"AND {name} IS NOT NULL LIMIT 1",
                [self.batch_id],
            ).fetchall()
            before = earlier[0][0] if earlier else None
            dims = {d for d in (lo, hi, before) if d is not None}
            if len(dims) > 1:
                where = f"; earlier batches have {before}" if before is not None else ""
                raise BatchRejected(
                    f"holds vectors of different lengths (from {lo} to {hi}{where})",
                    column=col.source,
                    fix="every vector of an embedding must have the same length",
                )

    def _replace_earlier(self) -> int:
        """Last write wins: drop earlier rows with this batch's (version, environment, id)."""
        earlier = self.con.execute(
            "SELECT count(*) FROM batches WHERE model_id = ? AND kind = 'inferences' "
            "AND version = ? AND environment = ?",
            [self.model_id, self.version, self.environment],
        ).fetchall()[0][0]
        if not earlier:
            return 0
        table = quote(self.inference_table)
        deleted = self.con.execute(
            f"DELETE FROM {table} WHERE version = ? AND environment = ? AND batch_id <> ? "
            f"AND prediction_id IN (SELECT prediction_id FROM {table} WHERE batch_id = ?)",
            [self.version, self.environment, self.batch_id, self.batch_id],
        ).fetchall()
        return int(deleted[0][0]) if deleted else 0

    def _count_superseded(self) -> int:
        """The ids of this actuals batch that had an actual already in its environment (from
        an earlier batch of either kind): the actuals it replaces, since the latest one is
        the one read. Counted whether or not the value changed, as re-logged inferences are:
        re-sending the same actuals reports every one as replaced, and changes no read.

        One semi-join aggregate in DuckDB (the batch's ids are unique: _check_duplicates)."""
        table = quote(self.actual_table)
        earlier = f"SELECT prediction_id FROM {table} WHERE environment = ? AND batch_id <> ?"
        return int(
            self.con.execute(
                f"SELECT count(*) FROM {table} WHERE batch_id = ? AND prediction_id IN ({earlier})",
                [self.batch_id, self.environment, self.batch_id],
            ).fetchall()[0][0]
        )

    def _count_actuals(self) -> int:
        if not self.plan.actuals:
            return 0
        return int(
            self.con.execute(
                f"SELECT count(*) FROM {quote(self.actual_table)} WHERE batch_id = ?",
                [self.batch_id],
            ).fetchall()[0][0]
        )
