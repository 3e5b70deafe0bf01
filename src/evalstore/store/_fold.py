"""The latest actuals, folded into the inference table as a cache.

The actuals table stays the record: append-only, one row per actual sent. Reads,
though, would have to join it to the inferences and pick the latest actual per
(environment, prediction_id) every time: 0.6-1 s per query at 1M rows, and the
largest share of memory at 10M. So each batch also keeps a copy of that latest
actual in the inference rows it concerns, in columns of the same names, inside the
batch's transaction. The copy follows the join's rule exactly: per column, the
non-null value of the newest batch (DuckDB's ``arg_max`` skips nulls).

- an inference batch writes its own actuals (if it carries any) straight into its
  rows, then fills what it left empty from actuals sent earlier;
- a batch's actuals (of either kind) are set on the other inference rows of their
  (environment, prediction_id), in every version;
- a column new to the actuals table is added to the inference table (empty: no row
  can have a value yet); a store written before the fold existed is folded once, when
  it is opened.
"""

from __future__ import annotations

import duckdb

from evalstore.ingest.types import quote

__all__ = ["ACTUALS", "fold_batch", "fold_missing"]

ACTUALS = ("actual_label", "actual_score")


def _types(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    return {r[0]: r[1] for r in con.execute(f"DESCRIBE {quote(table)}").fetchall()}


def _actual_columns(con: duckdb.DuckDBPyConnection, actual_table: str) -> list[str]:
    types = _types(con, actual_table)
    return [c for c in ACTUALS if c in types]


def _latest(actual_table: str, names: list[str], where: str) -> str:
    picks = ", ".join(f"arg_max({quote(c)}, batch_id) AS {quote(c)}" for c in names)
    return (
        f"SELECT environment, prediction_id, {picks} FROM {quote(actual_table)} "
        f"WHERE {where} GROUP BY environment, prediction_id"
    )


def fold_missing(con: duckdb.DuckDBPyConnection, inference_table: str, actual_table: str) -> None:
    """Add to the inference table the actual columns it lacks and fold every actual into
    them (a store from before the fold, once)."""
    act = _types(con, actual_table)
    inf = _types(con, inference_table)
    missing = [c for c in ACTUALS if c in act and c not in inf]
    if not missing:
        return
    for c in missing:
        con.execute(f"ALTER TABLE {quote(inference_table)} ADD COLUMN {quote(c)} {act[c]}")
    names = [c for c in ACTUALS if c in act]
    sets = ", ".join(f"{quote(c)} = a.{quote(c)}" for c in names)
    con.execute(
        f"UPDATE {quote(inference_table)} AS i SET {sets} FROM "
        f"({_latest(actual_table, names, 'true')}) AS a "
        "WHERE i.environment = a.environment AND i.prediction_id = a.prediction_id"
    )


def _exists(con: duckdb.DuckDBPyConnection, table: str, where: str, params: list[object]) -> bool:
    query = f"SELECT count(*) FROM (SELECT 1 FROM {quote(table)} WHERE {where} LIMIT 1)"
    return bool(con.execute(query, params).fetchall()[0][0])


def fold_batch(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    batch_id: int,
    environment: str,
    inference_table: str,
    actual_table: str,
) -> int | None:
    """Bring the copy up to date after a batch's rows were inserted (same transaction).
    Returns, for actuals, the inference rows they were set on (None for inferences)."""
    matched = None if kind == "inferences" else 0
    names = _actual_columns(con, actual_table)
    if not names:
        return matched
    inf, act = quote(inference_table), quote(actual_table)
    others = "environment = ? AND batch_id <> ?"
    if kind == "inferences" and _exists(con, actual_table, others, [environment, batch_id]):
        # its own actuals are in its rows already; earlier ones fill the gaps
        sets = ", ".join(f"{quote(c)} = coalesce(i.{quote(c)}, a.{quote(c)})" for c in names)
        where = (
            f"{others} AND prediction_id IN (SELECT prediction_id FROM {inf} WHERE batch_id = ?)"
        )
        con.execute(
            f"UPDATE {inf} AS i SET {sets} FROM ({_latest(actual_table, names, where)}) AS a "
            "WHERE i.batch_id = ? AND i.prediction_id = a.prediction_id",
            [environment, batch_id, batch_id, batch_id],
        )
    # this batch's actuals are the newest for their ids, in every version's rows
    if _exists(con, actual_table, "batch_id = ?", [batch_id]) and _exists(
        con, inference_table, others, [environment, batch_id]
    ):
        sets = ", ".join(f"{quote(c)} = coalesce(a.{quote(c)}, i.{quote(c)})" for c in names)
        cols = ", ".join(quote(c) for c in names)
        found = con.execute(
            f"UPDATE {inf} AS i SET {sets} FROM (SELECT prediction_id, {cols} FROM {act} "
            "WHERE batch_id = ?) AS a WHERE i.environment = ? AND i.batch_id <> ? "
            "AND i.prediction_id = a.prediction_id",
            [batch_id, environment, batch_id],
        ).fetchall()
        if matched is not None:  # the rows updated: DuckDB returns their count
            matched = int(found[0][0])
    return matched
