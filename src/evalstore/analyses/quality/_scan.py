"""The engine queries behind data quality; nothing here reads rows into Python.

- :func:`scan`: one aggregate query over every column (overall, or grouped by time
  window), with the score/label aggregates riding along (via ``binning.collect``);
- :func:`category_counts`: per column with a large expected category set (or with values
  outside a small one, for examples of them), one GROUP BY of its values; the set
  membership is tested on the grouped rows, not on every row. Small sets (up to
  ``SUMS_LIMIT`` values) are counted in the scan, ``sum(x = v)`` per value;
- :func:`repeated_ids`: one GROUP BY ``(window, environment, prediction_id)``;
- :func:`distinct_values`: a column's distinct values and their rows, at most ``limit + 1``
  (learning).

Why (DuckDB 2.0, 2 cores, 1M rows): for 10 text columns of 50 values, ``sum(x = v)`` per
value in the scan took 3.1 s, ``NOT x IN (...)`` on every row 0.97 s (1.4 s for one
column of a 1000-value set), ten GROUP BYs 0.26 s: a sum costs about 6 ms, a GROUP BY
about 30 ms, so sets of up to 16 values are summed. A GROUP BY of an actuals column
also joins the actuals again (1.7 s); in the scan the join is paid once. Distinct
counts: ``approx_count_distinct`` (HyperLogLog) took 0.47 s for 25 columns,
``count(DISTINCT x)`` 4.8 s.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from evalstore._memo import Memo
from evalstore.analyses.binning import WINDOWS, collect
from evalstore.analyses.binning._columns import _uses_duckdb, count_true
from evalstore.analyses.binning._count import grouped, windows_of
from evalstore.analyses.binning._profiled import by_windows, serves
from evalstore.dataset import query_table, run_recipe
from evalstore.errors import ParameterError, did_you_mean

if TYPE_CHECKING:
    from evalstore.dataset import Dataset

#: how many example values of new categories a result keeps per column and window
EXAMPLES = 5
#: expected sets up to this size are counted in the scan (see the module doc)
SUMS_LIMIT = 16

Window = datetime | None


def check_by(by: object) -> str | None:
    if by is not None and by not in WINDOWS:
        raise ParameterError(
            "by", f"None or one of {list(WINDOWS)}", by, did_you_mean(str(by), WINDOWS).strip()
        )
    return by if by is None else str(by)


@functools.lru_cache(maxsize=256)
def kind_of(dtype: dt.DataType) -> str | None:
    """``numeric`` (floating point), ``categorical`` (text, integers, booleans) or None
    (a type quality does not check), as in ``binning.column_kinds`` (kept per type, as
    :func:`dtype_name`)."""
    if dtype.is_floating():
        return "numeric"
    if dtype.is_integer() or dtype.is_string() or dtype.is_boolean():
        return "categorical"
    return None


@functools.lru_cache(maxsize=256)
def dtype_name(dtype: dt.DataType) -> str:
    """The Ibis type as text, nullability aside: ``float64``, ``string``, ``int64``...
    (kept per type: a quality result by the hour asks thousands of times)"""
    return str(dtype.copy(nullable=True))


def has_range(dtype: dt.DataType) -> bool:
    return bool(dtype.is_numeric()) and not dtype.is_boolean()


def values_of(x: ir.Column) -> Any:
    """The column with NaN made NULL: NaN is a missing value, not a number."""
    return ibis.ifelse(x.isnan(), ibis.null("float64"), x) if x.type().is_floating() else x


def _int(value: Any) -> int:
    return 0 if value is None else int(value)


def _window_key(t: ir.Table, by: str | None) -> dict[str, Any]:
    return {} if by is None else {"window_": t.timestamp.truncate(WINDOWS[by])}


@dataclass(frozen=True)
class Target:
    """One column to scan, with the expected range to count rows outside of (if any)."""

    name: str
    dtype: dt.DataType
    low: float | None = None
    high: float | None = None
    categories: tuple[Any, ...] | None = None
    """a small expected set, counted value by value in the scan"""


@dataclass(frozen=True)
class Counts:
    """What the scan found for one column in one window."""

    valid: int
    distinct: int | None
    """None when the scan was asked not to count them"""
    min: Any
    max: Any
    below: int | None
    above: int | None
    category_rows: tuple[int, ...] = ()
    """rows per value of ``Target.categories``"""

    @property
    def constant(self) -> bool:
        return self.valid > 0 and self.min == self.max


@dataclass(frozen=True)
class Scanned:
    n: int
    columns: dict[str, Counts]
    extra: dict[str, Any]


def _aggregates(
    t: ir.Table, key: str, target: Target, exact: bool | None, duckdb: bool
) -> dict[str, Any]:
    raw = t[target.name]
    x = values_of(raw)
    # booleans have no min/max in every engine; as 0/1 they do, and min == max still
    # means constant
    ordered = x.cast("int8") if target.dtype.is_boolean() else x
    # DuckDB orders NaN above every number: counts of a float column compare it as it is,
    # without making NaN NULL first (its CASE in each aggregate costs ~20% of a scan
    # of 100k rows)
    plain = duckdb and raw.type().is_floating()
    aggs = {f"{key}valid": count_true(~raw.isnan(), duckdb) if plain else x.count()}
    if exact is not None:
        aggs[f"{key}distinct"] = x.nunique() if exact else x.approx_nunique()
    aggs[f"{key}min"] = ordered.min()
    aggs[f"{key}max"] = ordered.max()
    if target.low is not None:
        aggs[f"{key}below"] = count_true((raw if plain else x) < target.low, duckdb)
    if target.high is not None:
        above = (raw > target.high) & ~raw.isnan() if plain else x > target.high
        aggs[f"{key}above"] = count_true(above, duckdb)
    for j, value in enumerate(target.categories or ()):
        aggs[f"{key}e{j}"] = count_true(x == ibis.literal(value), duckdb)
    return aggs


@functools.cache
def _names(key: str, categories: int) -> tuple[str, ...]:
    """The names of a column's aggregates: valid, distinct, min, max, below, above, then
    one per category (a week by the hour reads 28 columns' 168 times)."""
    fixed = ("valid", "distinct", "min", "max", "below", "above")
    return tuple(f"{key}{name}" for name in fixed) + tuple(f"{key}e{j}" for j in range(categories))


def _read(row: Mapping[str, Any], key: str, target: Target) -> Counts:
    names = _names(key, len(target.categories or ()))
    low, high = row[names[2]], row[names[3]]
    if target.dtype.is_boolean() and low is not None:
        low, high = bool(low), bool(high)
    below = _int(row[names[4]]) if target.low is not None else None
    above = _int(row[names[5]]) if target.high is not None else None
    rows = tuple(0 if (v := row[name]) is None else int(v) for name in names[6:])
    valid = _int(row[names[0]])
    # HyperLogLog's estimate may exceed the values counted (30,298 of 29,450 distinct
    # scores); there are never more distinct values than values
    distinct = min(_int(row[names[1]]), valid) if names[1] in row else None
    return Counts(valid, distinct, low, high, below, above, rows)


#: built scans: the aggregates of 28 columns cost ~15 ms of Ibis per quality view
_AGGREGATES: Memo[dict[str, Any]] = Memo(128)
#: built GROUP BYs (values of a column, repeated ids): ~5 ms of Ibis each
_QUERIES: Memo[Any] = Memo(256)


def scan(
    dataset: Dataset,
    targets: Sequence[Target],
    extra: Mapping[str, Any],
    by: str | None,
    exact_distinct: bool | None,
) -> dict[Window, Scanned]:
    """Every column's counts (and the ``extra`` aggregates) per window, in one query;
    ``exact_distinct`` None counts no distinct values (no check needs them: HyperLogLog
    was 46 ms of the ~420 ms of engine CPU a model's health summary cost after a batch on
    the 10M-row UI store, as the store keeps each window's and not each hour's).

    Windows without rows are absent; overall (``by`` None) there is always one, key None.
    """
    t = query_table(dataset)
    duckdb = _uses_duckdb(dataset)

    def build() -> dict[str, Any]:
        aggs: dict[str, Any] = {"n_": t.count(), **extra}
        for i, target in enumerate(targets):
            aggs.update(_aggregates(t, f"q{i}_", target, exact_distinct, duckdb))
        return aggs

    # the same columns, targets and extra aggregates build the same query
    more = tuple((k, v.op()) for k, v in extra.items())
    key = (t.op(), tuple(targets), exact_distinct, duckdb, more)
    out: dict[Window, Scanned] = {}
    for window, row in _rows(dataset, key, lambda: _AGGREGATES.get(key, build), by).items():
        columns = {tg.name: _read(row, f"q{i}_", tg) for i, tg in enumerate(targets)}
        out[window] = Scanned(_int(row["n_"]), columns, {k: row[k] for k in extra})
    return out


def _rows(
    dataset: Dataset, key: Hashable, aggregates: Callable[[], dict[str, Any]], by: str | None
) -> dict[Window, dict[str, Any]]:
    """The row of ``aggregates`` per window: from the store's profiles where they serve
    (``binning.collect``), else from one query whose SQL the store keeps under ``key``
    (nothing is built where it has it)."""
    check_by(by)
    if serves(dataset):
        return {w: row for w, (_, row) in collect(dataset, {}, aggregates(), by=by).items()}
    t = query_table(dataset)
    table = run_recipe(dataset, ("quality.scan", key, by), lambda: grouped(t, aggregates(), by))
    rows = dict(zip(windows_of(table, by), table.to_pylist(), strict=True))
    return {w: rows[w] for w in sorted(rows, key=lambda w: (w is not None, w))}


@dataclass(frozen=True)
class Found:
    """The values of one column in one window, against an expected set."""

    present: frozenset[Any]
    """expected values with at least one row"""
    new_rows: int
    new_values: int
    examples: list[Any]
    """the most frequent new values (ties by value), at most EXAMPLES"""


def category_counts(
    dataset: Dataset, column: str, expected: Sequence[Any], by: str | None
) -> dict[Window, Found]:
    """One GROUP BY of ``column``'s values (per window): which expected values occur, and
    how many rows hold other values, with the most frequent of them as examples. Returns
    at most ``len(expected) + EXAMPLES`` rows per window.

    A window's values depend on its rows only: whole windows are kept by the store's
    profiles, as for :func:`repeated_ids` (a week by the hour of the 10M-row UI store,
    after a batch: its day's hours are read, not the week's 168)."""
    key = ("category_counts", column, tuple(map(repr, expected)))
    columns = (column, "environment", "version", "timestamp")
    compute = functools.partial(_category_counts, column=column, expected=expected, by=by)
    kept = by_windows(dataset, key, columns, by, compute)
    return kept if kept is not None else _category_counts(dataset, column, expected, by)


def _category_counts(
    dataset: Dataset, column: str, expected: Sequence[Any], by: str | None
) -> dict[Window, Found]:
    t = query_table(dataset)
    key = ("category_counts", t.op(), column, tuple(map(repr, expected)), by)
    table = run_recipe(
        dataset, key, lambda: _QUERIES.get(key, lambda: _category_query(t, column, expected, by))
    )
    seen: dict[Window, set[Any]] = {}
    new: dict[Window, list[tuple[int, Any, int, int]]] = {}
    for row in table.to_pylist():
        window = row.get("window_")
        seen.setdefault(window, set())
        if row["known_"]:
            seen[window].add(row["value_"])
        else:
            new.setdefault(window, []).append(
                (int(row["rank_"]), row["value_"], _int(row["total_"]), _int(row["values_"]))
            )
    out: dict[Window, Found] = {}
    for window in seen:
        found = sorted(new.get(window, []), key=lambda r: r[0])
        rows, values = (found[0][2], found[0][3]) if found else (0, 0)
        out[window] = Found(frozenset(seen[window]), rows, values, [r[1] for r in found])
    return out


@dataclass(frozen=True)
class Repeats:
    duplicate_ids: int = 0
    duplicate_rows: int = 0
    shared_ids: int = 0


def _category_query(t: ir.Table, column: str, expected: Sequence[Any], by: str | None) -> Any:
    x = t[column]
    present = x.notnull() & ~x.isnan() if x.type().is_floating() else x.notnull()
    keys = _window_key(t, by)
    g = t.filter(present).group_by(**keys, value_=x).aggregate(rows_=ibis._.count())
    known = g.value_.isin(list(expected)) if expected else ibis.literal(False)
    g = g.mutate(known_=known)
    part = [g[k] for k in keys] + [g.known_]
    order = ibis.window(group_by=part, order_by=[ibis.desc(g.rows_), g.value_])
    g = g.mutate(
        rank_=ibis.row_number().over(order),
        total_=g.rows_.sum().over(group_by=part),
        values_=g.rows_.count().over(group_by=part),
    )
    return g.filter(g.known_ | (g.rank_ < EXAMPLES))


def repeated_ids(
    dataset: Dataset, by: str | None, shared: bool = True
) -> dict[Window, Repeats] | None:
    """Per window: rows repeating a ``(version, environment, prediction_id)`` and ids
    logged under several versions. Two GROUP BYs in one query: rows per (window,
    environment, id, version), then versions and repeats per (window, environment, id);
    3x faster than ``count(DISTINCT version)`` per (environment, id) (2M rows: 1.9 s, 5.6 s).

    Without ``shared`` (the repeats alone, which are issues), the store's own rows need no
    query, and there is no answer (None): they repeat no id (33 ms of engine CPU on a
    health summary after a batch on the 10M-row UI store).
    """
    if not shared and getattr(dataset, "unique_ids", False):
        return None
    if _versions(dataset) <= 1:
        # One version: nothing to find, as the store keeps (version, environment,
        # prediction_id) unique; the GROUP BY below would cost 12 s and 1 GiB at 10M rows.
        return {}
    # per window, the counts depend on that window's rows only: whole windows are kept
    # by the store's profiles, if it keeps them (a batch makes it forget its windows)
    kept = by_windows(dataset, "repeated_ids", _ID_COLUMNS, by, lambda ds: _repeats(ds, by))
    return kept if kept is not None else _repeats(dataset, by)


_ID_COLUMNS = ("environment", "version", "prediction_id", "timestamp")


def _versions(dataset: Dataset) -> int:
    """How many versions the selection holds, at most 2: from the store's per-(environment,
    version) volumes and time ranges when the selection has no filter (no query: a scan of
    the version column took 80-100 ms on a week of the 10M-row UI store, on every quality
    view), else from its rows."""
    volumes = getattr(dataset._store, "volumes", None)
    if dataset.where is None and callable(volumes):
        envs, versions, lo, hi = dataset.environments, dataset.versions, dataset.start, dataset.end
        found = {
            version
            for (env, version), (rows, first, last) in volumes(dataset.model_id).items()
            if rows
            and (envs is None or env in envs)
            and (versions is None or version in versions)
            and not (hi is not None and first is not None and first >= hi)
            and not (lo is not None and last is not None and last < lo)
        }
        return min(len(found), 2)
    t = query_table(dataset)
    span = dataset.execute(t.aggregate(lo_=t.version.min(), hi_=t.version.max())).to_pylist()
    return 1 if span[0]["lo_"] == span[0]["hi_"] else 2


def _repeats(dataset: Dataset, by: str | None) -> dict[Window, Repeats]:
    t = query_table(dataset)
    unique = bool(getattr(dataset, "unique_ids", False))
    query = _QUERIES.get(("repeats", t.op(), by, unique), lambda: _repeats_query(t, by, unique))
    return {
        row.get("window_"): Repeats(_int(row["ids"]), _int(row["rows"]), _int(row["shared"]))
        for row in dataset.execute(query).to_pylist()
    }


def _repeats_query(t: ir.Table, by: str | None, unique: bool) -> Any:
    keys = _window_key(t, by)
    if unique:
        # an id's rows are its versions: one GROUP BY (10M-row store, a week of two
        # versions: 0.07 s against 0.15-0.25 s for the two below)
        ids = t.group_by(**keys, env_=t.environment, id_=t.prediction_id).aggregate(
            versions_=ibis._.count(), extra_=ibis.literal(0, "int64")
        )
    else:
        rows = t.group_by(**keys, env_=t.environment, id_=t.prediction_id, v_=t.version)
        rows = rows.aggregate(rows_=ibis._.count())
        ids = rows.group_by([*keys, "env_", "id_"]).aggregate(
            versions_=ibis._.count(), extra_=(rows.rows_ - 1).sum()
        )
    metrics = {
        "rows": ids.extra_.sum(),
        "ids": (ids.extra_ > 0).sum(),
        "shared": (ids.versions_ > 1).sum(),
    }
    return ids.group_by(list(keys)).aggregate(**metrics) if keys else ids.aggregate(**metrics)


def distinct_values(dataset: Dataset, column: str, limit: int) -> dict[Any, int] | None:
    """The distinct non-missing values of ``column`` in order, each with its rows, or None
    when there are more than ``limit`` (only ``limit + 1`` are read)."""
    t = query_table(dataset)
    x = t[column]
    present = x.notnull() & ~x.isnan() if x.type().is_floating() else x.notnull()
    # a GROUP BY, not DISTINCT: DuckDB drops the unused actuals join from the former only
    # (1M rows: 0.07 s against 1.5 s)
    query = (
        t.filter(present)
        .group_by(value_=x)
        .aggregate(rows_=ibis._.count())
        .order_by("value_")
        .limit(limit + 1)
    )
    values = {row["value_"]: row["rows_"] for row in dataset.execute(query).to_pylist()}
    return None if len(values) > limit else values
