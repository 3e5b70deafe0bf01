"""Counting: histograms on frozen bins in one scan, overall or per time window."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from evalstore._arrow import numbers
from evalstore._memo import Memo
from evalstore.errors import ParameterError, did_you_mean

if TYPE_CHECKING:
    from evalstore.dataset import Dataset

from evalstore.analyses.binning import _columns as shared
from evalstore.analyses.binning import _profiled
from evalstore.analyses.binning._binning import WINDOWS, Binning
from evalstore.analyses.binning._columns import (
    _array_literal,
    _clean,
    _duckdb_histogram,
    _valid_count,
    column_kinds,
    count_true,
)
from evalstore.dataset import query_table, run_recipe

# -- counting --------------------------------------------------------------------------------


#: a column's counts per bin, one row per row of the query's result (Arrow)
Decoder: TypeAlias = Callable[[pa.Table], np.ndarray]


def ints(table: pa.Table, name: str) -> np.ndarray:
    """A count or sum column as int64, NULL (a sum over no rows) as 0."""
    column = table.column(name)
    if column.null_count:
        column = pc.fill_null(column, 0)
    if pa.types.is_decimal(column.type) and column.type.scale == 0:
        # DuckDB's SUM of integers (HUGEINT): whole numbers, cast exactly (an overflow
        # raises) rather than read as Python Decimals
        column = pc.cast(column, pa.int64())
    return np.asarray(numbers(column), dtype=np.int64)


def _sums(t: ir.Table, key: str, b: Binning, duckdb: bool = False) -> dict[str, Any]:
    """Portable aggregates for one column's histogram: cumulative sums of comparisons
    (a category's rows by DuckDB's ``count_if`` there: ~5% of a drift scan); read by
    :func:`_sums_decoder`."""
    x = t[b.column_ or ""]
    aggs: dict[str, Any] = {}
    if b.kind_ == "categorical":
        aggs[f"{key}v"] = _valid_count(x)
        for j, value in enumerate(b.categories_ or ()):
            aggs[f"{key}e{j}"] = count_true(x == ibis.literal(value), duckdb)
        return aggs
    edges = b.edges_ or ()
    aggs[f"{key}v"] = _clean(x).count()
    if edges:
        aggs[f"{key}lt"] = (x < edges[0]).sum()
        for j, e in enumerate(_uppers(edges)):
            aggs[f"{key}le{j}"] = (x <= e).sum()
    return aggs


def _uppers(edges: tuple[float, ...] | list[float]) -> list[float]:
    return list(edges[1:] if len(edges) > 1 else edges)


def _sums_decoder(key: str, b: Binning) -> Decoder:
    """How to read :func:`_sums`' aggregates: one row of counts per result row."""
    if b.kind_ == "categorical":
        cats = b.categories_ or ()

        def categorical(table: pa.Table) -> np.ndarray:
            n, valid = ints(table, "n"), ints(table, f"{key}v")
            counts = [ints(table, f"{key}e{j}") for j in range(len(cats))]
            other = valid - (np.sum(counts, axis=0) if counts else 0)
            return np.column_stack([*counts, other, n - valid]).astype(np.int64)

        return categorical

    edges = b.edges_ or ()
    uppers = _uppers(edges)

    def numeric(table: pa.Table) -> np.ndarray:
        n, valid = ints(table, "n"), ints(table, f"{key}v")
        if not edges:
            return np.column_stack([np.zeros_like(n), valid, n - valid])
        cum = np.column_stack(
            [ints(table, f"{key}lt")] + [ints(table, f"{key}le{j}") for j in range(len(uppers))]
        )
        inner = np.diff(cum, axis=1)
        return np.column_stack([cum[:, 0], inner, valid - cum[:, -1], n - valid])

    return numeric


def _bounds(b: Binning) -> list[float]:
    """DuckDB's ``histogram(x, bounds)`` bounds: bounds[0] = the float just below e0 ('<=
    bounds[0]' is 'below'); bounds[j] closes bin j."""
    edges = b.edges_ or ()
    return [float(np.nextafter(edges[0], -np.inf)), *(edges[1:] if len(edges) > 1 else edges)]


def _engine_histogram(t: ir.Table, key: str, b: Binning) -> dict[str, Any]:
    """DuckDB's ``histogram(x, bounds)``: a binary search per row, for fine numeric bins;
    read by :func:`_histogram_decoder`."""
    clean = _clean(t[b.column_ or ""])
    literal = _array_literal(_bounds(b), "float64")
    return {f"{key}v": clean.count(), f"{key}h": _duckdb_histogram(clean, literal)}


def _histogram_decoder(key: str, b: Binning) -> Decoder:
    bounds = _bounds(b)
    known = np.array(bounds, dtype=np.float64)

    def decode(table: pa.Table) -> np.ndarray:
        n, valid = ints(table, "n"), ints(table, f"{key}v")
        counts = np.zeros((table.num_rows, len(bounds) + 2), dtype=np.int64)
        chunks = table.column(f"{key}h").chunks
        found = pa.concat_arrays(chunks) if chunks else None  # offsets from 0
        if found is not None and len(found.keys):
            rows = np.repeat(np.arange(table.num_rows), np.diff(numbers(found.offsets)))
            at = np.asarray(numbers(found.keys), dtype=np.float64)
            j = np.minimum(np.searchsorted(known, at), len(known) - 1)
            position = np.where(known[j] == at, j, len(known))  # not a bound: above
            values = np.asarray(numbers(found.items), dtype=np.int64)
            np.add.at(counts, (rows, position), values)
        counts[:, -1] = n - valid
        return counts

    return decode


#: (name, its aggregates' prefix, its binning, whether by DuckDB's histogram) per column
Layout: TypeAlias = list[tuple[str, str, Binning, bool]]


def _layout(dataset: Dataset, binnings: Mapping[str, Binning]) -> Layout:
    """Each column's place in one scan, the binnings checked: DuckDB's ``histogram(x,
    bounds)`` for numeric columns on DuckDB, the portable sums otherwise. No Ibis
    expression is built: a scan whose SQL the store keeps needs none."""
    kinds = column_kinds(dataset, [b.column_ or name for name, b in binnings.items()])
    fast = shared._uses_duckdb(dataset)
    out: Layout = []
    for i, (name, b) in enumerate(binnings.items()):
        if not isinstance(b, Binning):
            raise ParameterError(f"binnings[{name!r}]", "a fitted Binning", type(b).__name__)
        b.check_fitted()
        if b.kind_ == "numeric" and kinds[b.column_ or name] != "numeric":
            raise ParameterError(
                f"binnings[{name!r}]", "a categorical binning for a non-float column", b
            )
        out.append((name, f"b{i}_", b, fast and b.kind_ == "numeric" and bool(b.edges_)))
    return out


def _decoders(layout: Layout) -> dict[str, Decoder]:
    return {
        name: _histogram_decoder(key, b) if engine else _sums_decoder(key, b)
        for name, key, b, engine in layout
    }


def _plan(
    dataset: Dataset, binnings: Mapping[str, Binning], extra: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Decoder], dict[str, list[str]]]:
    """The aggregates of one scan, how to read each column's counts from its row, and
    which aggregates are each column's (see :func:`_layout`); ``extra`` aggregates ride
    along."""
    t = query_table(dataset)
    fast = shared._uses_duckdb(dataset)
    layout = _layout(dataset, binnings)
    aggs: dict[str, Any] = dict(extra)
    parts: dict[str, list[str]] = {}
    for name, key, b, engine in layout:
        column_aggs = _engine_histogram(t, key, b) if engine else _sums(t, key, b, fast)
        aggs.update(column_aggs)
        parts[name] = list(column_aggs)
    if aggs:
        aggs["n"] = t.count()
    return aggs, _decoders(layout), parts


Counted: TypeAlias = tuple[dict[str, np.ndarray], dict[str, Any]]

#: built plans: building the aggregates of 28 columns costs ~25 ms of Python per view
_PLANS: Memo[tuple[dict[str, Any], dict[str, Decoder], dict[str, list[str]]]] = Memo(256)


def _plan_key(
    dataset: Dataset, binnings: Mapping[str, Binning], extra: Mapping[str, Any]
) -> Hashable | None:
    """What a plan is a function of: the columns' types (the template), the engine, each
    binning's bins and the extra aggregates (unhashable, hence built every time, when a
    binning is not fitted or an extra is not an Ibis expression)."""
    try:
        bins = tuple(
            (name, b.column_, b.kind_, b.edges_, b.categories_) for name, b in binnings.items()
        )
        more = tuple((k, v.op()) for k, v in extra.items())
    except AttributeError:
        return None  # built every time (and its errors raised)
    return (query_table(dataset).op(), shared._uses_duckdb(dataset), bins, more)


def _built(
    dataset: Dataset, binnings: Mapping[str, Binning], extra: Mapping[str, Any]
) -> tuple[Hashable | None, tuple[dict[str, Any], dict[str, Decoder], dict[str, list[str]]]]:
    """The plan of ``binnings`` and ``extra``, built once per :func:`_plan_key` (None: built
    every time), and that key."""
    # in one order whatever the caller's: the same columns are the same query (and profile)
    ordered = {name: binnings[name] for name in sorted(binnings)}
    key = _plan_key(dataset, ordered, extra)

    def build() -> tuple[dict[str, Any], dict[str, Decoder], dict[str, list[str]]]:
        return _plan(dataset, ordered, extra)

    return key, build() if key is None else _PLANS.get(key, build)


def collect(
    dataset: Dataset,
    binnings: Mapping[str, Binning],
    extra: Mapping[str, Any] | None = None,
    by: str | None = None,
) -> dict[datetime | None, Counted]:
    """Histograms on ``binnings`` plus the ``extra`` aggregates (Ibis scalars on
    ``dataset.table``), overall (key None) or per window of ``by``, in one scan. For
    analyses that want a few more numbers from the same scan.

    From the store's profiles when it keeps them, the selection is unfiltered and every
    ``extra`` aggregate is a sum or a count (``_profiled.py``): then only the hours not
    computed before are read."""
    t = query_table(dataset)
    if by is not None and by not in WINDOWS:
        raise ParameterError(
            "by", f"one of {list(WINDOWS)}", by, did_you_mean(str(by), WINDOWS).strip()
        )
    more_names = list(extra or {})
    ordered = {name: binnings[name] for name in sorted(binnings)}
    if _profiled.serves(dataset):
        key, (aggs, decoders, parts) = _built(dataset, binnings, extra or {})
        if not aggs:
            return {}
        profiled = _profiled.collect(dataset, aggs, decoders, parts, more_names, by, key)
        if profiled is not None:
            return profiled
    else:  # the query alone: where the store keeps its SQL, nothing is built
        key = _plan_key(dataset, ordered, extra or {})
        decoders = _decoders(_layout(dataset, ordered))
        if not decoders and not extra:
            return {}

    def query() -> ir.Table:
        return grouped(t, _built(dataset, binnings, extra or {})[1][0], by)

    table = run_recipe(dataset, None if key is None else ("count.collect", key, by), query)
    counts = {name: decode(table) for name, decode in decoders.items()}
    more = {k: table.column(k).to_pylist() for k in more_names}
    out: dict[datetime | None, Counted] = {}
    for i, window in enumerate(windows_of(table, by)):
        out[window] = ({n: c[i] for n, c in counts.items()}, {k: v[i] for k, v in more.items()})
    return {w: out[w] for w in sorted(out, key=lambda w: (w is not None, w))}


def grouped(t: ir.Table, aggs: Mapping[str, Any], by: str | None) -> ir.Table:
    """``aggs`` overall, or per window of ``by`` (its start in ``window_``)."""
    if by is None:
        return t.aggregate(**aggs)
    return t.group_by(t.timestamp.truncate(WINDOWS[by]).name("window_")).aggregate(**aggs)


def windows_of(table: pa.Table, by: str | None) -> list[datetime | None]:
    """The window of each row of :func:`grouped`'s result (None overall)."""
    return table.column("window_").to_pylist() if by else [None] * table.num_rows


#: built GROUP BYs of :func:`by_pairs`, per plan and window
_BY_PAIRS: Memo[ir.Table] = Memo(64)


def by_pairs(
    dataset: Dataset, binnings: Mapping[str, Binning], by: str = "day"
) -> tuple[list[tuple[str, str, datetime]], dict[str, np.ndarray], np.ndarray] | None:
    """Histograms on ``binnings`` per (environment, version, window of ``by``) with rows,
    in one scan: the groups, per column one row of counts per group, and each group's
    rows. For callers that keep their values per pair and window (the slices' days). None
    without binnings."""
    t = query_table(dataset)
    ordered = {name: binnings[name] for name in sorted(binnings)}
    key = _plan_key(dataset, ordered, {})
    decoders = _decoders(_layout(dataset, ordered))  # no Ibis: the query may be kept
    if not decoders:
        return None

    def grouped() -> ir.Table:
        aggs = _built(dataset, binnings, {})[1][0]
        window = t.timestamp.truncate(WINDOWS[by]).name("window_")
        return t.group_by([t.environment, t.version, window]).aggregate(**aggs)

    built = None if key is None else ("count.by_pairs", key, by)
    table = run_recipe(
        dataset, built, lambda: grouped() if key is None else _BY_PAIRS.get((key, by), grouped)
    )
    groups = list(
        zip(
            *(table.column(k).to_pylist() for k in ("environment", "version", "window_")),
            strict=True,
        )
    )
    return groups, {name: decode(table) for name, decode in decoders.items()}, ints(table, "n")


def histograms(dataset: Dataset, binnings: Mapping[str, Binning]) -> dict[str, np.ndarray]:
    """Counts per bin of every column of ``binnings`` (fitted, frozen) in ``dataset``.

    One scan for all columns. Returns ``{name: int64 array}`` in the order of
    ``Binning.labels``.
    """
    counts = collect(dataset, binnings).get(None, ({}, {}))[0]
    return {name: counts[name] for name in binnings}


def histograms_by_window(
    dataset: Dataset, binnings: Mapping[str, Binning], by: str = "day"
) -> dict[datetime, dict[str, np.ndarray]]:
    """:func:`histograms` per time window (``hour``, ``day``, ``week``, ``month``; UTC), in
    one grouped scan: ``{window start: {name: counts}}``, windows with rows only, in order."""
    out = collect(dataset, binnings, by=by)
    return {w: {name: c[name] for name in binnings} for w, (c, _) in out.items() if w is not None}
