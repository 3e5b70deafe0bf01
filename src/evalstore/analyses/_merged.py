"""Grouped query results kept per window and merged across windows: how the slices of a
range reuse the days an earlier view computed (``slices.py``).

A query grouped by window keys (environment, version, day) besides its own keys, whose
aggregates all merge across windows, gives the rows of one query over every window: a
group's aggregate is the merge of its values in the windows where the group has rows, and
a group has rows if it has some in one window. How each aggregate merges:

- ``COUNT`` and ``COUNT(*)``: they add (exact);
- ``SUM``: the windows' sums add (exact for integers; float sums differ from one sum over
  every row in the last bits, as the engine's own order of addition does);
- ``MIN`` and ``MAX``: the least and the greatest;
- ``NULL`` (a sum or a minimum of no value) is left out as SQL leaves it out, and the merge
  of none is ``NULL``.

Anything else (a mean, a variance, a quantile, an expression over aggregates) does not
merge: :func:`plan` returns None and the caller reads the rows.

What one window keeps (:class:`Cells`): its rows as NumPy arrays, each group at a cell:
its key's slot (the caller's :class:`Layout`: the slices map a column's bin to one) and
at most one integer sub key (the score bin of a histogram), from the window's least; the
counts in the smallest integer type that holds them. Dense (an array over every cell, and
a bitmap of the groups with rows) where that is smaller than the rows: a day of the AUC's
histogram on the slices of the 10M-row UI benchmark store fills 47-63% of its 329 x 4096
cells (636k to 850k rows per version), 2.9 MB dense against 3.8-5.1 MB as rows.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from evalstore._arrow import numbers
from evalstore._memo import Memo

__all__ = [
    "Cells",
    "Layout",
    "Plan",
    "filling",
    "keeping",
    "merged",
    "plan",
    "split",
    "window_code",
]

#: how each aggregate merges across windows (see the module doc)
MERGES: dict[type, str] = {
    ops.Count: "sum",
    ops.CountStar: "sum",
    ops.Sum: "sum",
    ops.Min: "min",
    ops.Max: "max",
}

#: the most cells (slots x sub keys) a merge adds up in arrays; more is read from the rows
MAX_CELLS = 1 << 26

_SERIALS = itertools.count()

_KEEPING: ContextVar[bool] = ContextVar("evalstore_keeping_windows", default=False)


@contextlib.contextmanager
def keeping() -> Iterator[None]:
    """Within it (on this thread), reads keep their windows from their first read on:
    for the UI's warmer, whose views are read again after every batch."""
    token = _KEEPING.set(True)
    try:
        yield
    finally:
        _KEEPING.reset(token)


def filling() -> bool:
    """Whether reads keep their windows on a first read (inside :func:`keeping`)."""
    return _KEEPING.get()


def window_code(table: ir.Table, pairs: tuple[tuple[str, str], ...]) -> ir.IntegerValue:
    """The window key of a query whose days are kept: each row's day (since 1970) *
    ``len(pairs)`` + the index of its (environment, version) in ``pairs`` (compared on
    what differs among them)."""
    day = table.timestamp.epoch_seconds() // 86400
    if len(pairs) == 1:
        return day.cast("int32")
    by_env = len({env for env, _ in pairs}) > 1
    by_version = len({version for _, version in pairs}) > 1
    cases = []
    for i, (env, version) in enumerate(pairs):
        same = []
        if by_env:
            same.append(table.environment == env)
        if by_version:
            same.append(table.version == version)
        cases.append((ibis.and_(*same), i))
    return (day * len(pairs) + ibis.cases(*cases)).cast("int32")


@dataclass(frozen=True)
class Plan:
    """How one grouped query's rows merge across windows: ``key`` is the group column
    mapped to slots, ``sub`` an integer group column (or None), ``windows`` the window
    columns (:func:`split` splits by one, an integer), ``merges`` each aggregate's name and
    merge."""

    key: str
    sub: str | None
    windows: tuple[str, ...]
    merges: tuple[tuple[str, str], ...]


def plan(query: ir.Table, key: str, windows: Sequence[str]) -> Plan | None:
    """How ``query`` (a grouped aggregate) merges across its ``windows`` columns; None
    when it does not: not one grouped aggregate, more than one group column besides
    ``key`` and the windows (or one that is not an integer), an aggregate that does not
    merge or whose type is not a number."""
    op = query.op()
    if not isinstance(op, ops.Aggregate):
        return None
    groups = dict(op.groups)
    if key not in groups or not set(windows) <= set(groups):
        return None
    others = [name for name in groups if name != key and name not in windows]
    if len(others) > 1 or (others and not groups[others[0]].dtype.is_integer()):
        return None
    merges = []
    for name, value in op.metrics.items():
        how = MERGES.get(type(value))
        dtype = value.dtype
        if how is None or not (dtype.is_integer() or dtype.is_floating()):
            return None
        merges.append((name, how))
    return Plan(key, others[0] if others else None, tuple(windows), tuple(merges))


@dataclass(frozen=True, eq=False)
class Layout:
    """The slots of a query's group key: ``slot(keys)`` maps key values (int64) to slots in
    ``[0, len(keys))``, and ``keys`` holds the key value of each slot: what the merged
    rows hold (the key of the query that reads the rows may differ)."""

    slot: Callable[[np.ndarray], np.ndarray]
    keys: np.ndarray


class Cells:
    """One window's rows of one query, compact (see the module doc). ``rows``: its groups;
    ``schema``: the rows' columns but the windows'."""

    __slots__ = ("index", "lo", "present", "rows", "schema", "serial", "span", "valid", "values")

    def __init__(
        self,
        schema: pa.Schema,
        rows: int = 0,
        lo: int = 0,
        span: int = 1,
        index: np.ndarray | None = None,
        present: np.ndarray | None = None,
        values: tuple[np.ndarray, ...] = (),
        valid: tuple[np.ndarray | None, ...] = (),
    ) -> None:
        self.schema = schema
        self.rows = rows
        self.lo = lo
        """the least sub key"""
        self.span = span
        """sub keys from ``lo`` to ``lo + span - 1``: a slot's cells"""
        self.index = index
        """the cell of each row (None: dense, the values hold every cell)"""
        self.present = present
        """dense: the bitmap of the cells with a row (``np.packbits``)"""
        self.values = values
        """each aggregate's values (0 where NULL), in the plan's order"""
        self.valid = valid
        """each aggregate's bitmap of values that are not NULL (None: none is)"""
        self.serial = next(_SERIALS)
        """unique to this object: what merges it is remembered by (:func:`merged`)"""

    @property
    def nbytes(self) -> int:
        arrays = [self.index, self.present, *self.values, *self.valid]
        return 200 + sum(a.nbytes for a in arrays if a is not None)

    def cells(self, n_slots: int) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """The cell of each row and its values (rows in cell order when dense)."""
        if self.index is not None:
            return self.index, self.values
        assert self.present is not None
        found = np.flatnonzero(_bits(self.present, n_slots * self.span))
        return found, tuple(v[found] for v in self.values)

    def validity(self, j: int, n_slots: int) -> np.ndarray | None:
        """The rows' (dense: the cells') bitmap of non-NULL values of aggregate ``j``."""
        valid = self.valid[j]
        if valid is None:
            return None
        size = self.rows if self.index is not None else n_slots * self.span
        return _bits(valid, size)


def _bits(packed: np.ndarray, size: int) -> np.ndarray:
    return np.unpackbits(packed, count=size).view(bool)


def _compact(values: np.ndarray) -> np.ndarray:
    """Integers in the smallest type that holds them (counts of a day: mostly one byte)."""
    if values.dtype.kind not in "iu" or not len(values):
        return values
    low, high = int(values.min()), int(values.max())
    for dtype in (np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32):
        info = np.iinfo(dtype)
        if info.min <= low and high <= info.max:
            return values.astype(dtype)
    return values.astype(np.int64)


def _column(table: pa.Table, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """A column's values (0 where NULL) and its non-NULL mask (None without NULLs)."""
    column = table.column(name)
    if not column.null_count:
        return np.asarray(numbers(column)), None
    valid = np.asarray(numbers(pc.is_valid(column)), dtype=bool)
    return np.asarray(numbers(pc.fill_null(column, 0))), valid


def _cells(
    schema: pa.Schema,
    n_slots: int,
    slots: np.ndarray,
    sub: np.ndarray | None,
    values: list[np.ndarray],
    valid: list[np.ndarray | None],
) -> Cells:
    rows = len(slots)
    lo, span = 0, 1
    cell = slots.astype(np.int64)
    if sub is not None and rows:
        lo = int(sub.min())
        span = int(sub.max()) - lo + 1
        cell = cell * span + (sub.astype(np.int64) - lo)
    total = n_slots * span
    compact = [_compact(v) for v in values]
    width = sum(v.itemsize for v in compact)
    masks = sum(m is not None for m in valid)
    index_type = np.uint32 if total < 2**32 else np.int64
    sparse = rows * (np.dtype(index_type).itemsize + width) + masks * rows // 8
    dense = total * width + (1 + masks) * total // 8
    if dense < sparse:
        full = []
        for v in compact:
            out = np.zeros(total, dtype=v.dtype)
            out[cell] = v
            full.append(out)
        present = np.zeros(total, dtype=bool)
        present[cell] = True
        packed_valid: list[np.ndarray | None] = []
        for m in valid:
            if m is None:
                packed_valid.append(None)
                continue
            at = np.zeros(total, dtype=bool)
            at[cell] = m
            packed_valid.append(np.packbits(at))
        return _frozen(
            Cells(
                schema, rows, lo, span, None, np.packbits(present), tuple(full), tuple(packed_valid)
            )
        )
    return _frozen(
        Cells(
            schema,
            rows,
            lo,
            span,
            cell.astype(index_type),
            None,
            tuple(compact),
            tuple(None if m is None else np.packbits(m) for m in valid),
        )
    )


def _frozen(cells: Cells) -> Cells:
    """Kept and shared between threads and views: no caller may change the arrays."""
    for a in (cells.index, cells.present, *cells.values, *cells.valid):
        if a is not None:
            a.flags.writeable = False
    return cells


def empty(table: pa.Table, plan: Plan) -> Cells:
    """No rows, with the columns of ``table`` but the windows'."""
    return Cells(_schema(table, plan))


def _schema(table: pa.Table, plan: Plan) -> pa.Schema:
    return pa.schema([f for f in table.schema if f.name not in plan.windows])


def split(table: pa.Table, plan: Plan, layout: Layout) -> dict[int, Cells]:
    """The rows of ``table`` (a query's result, its window column included: one integer,
    ``plan.windows``) per window."""
    schema = _schema(table, plan)
    if not table.num_rows:
        return {}
    (window,) = plan.windows
    codes = np.asarray(numbers(table.column(window)), dtype=np.int64)
    low = int(codes.min())
    group = codes - low
    # a handful of windows: a counting sort (NumPy's stable sort of 16-bit keys is a radix
    # sort; np.unique's sort of a week's 6M histogram rows took 0.6 s)
    counts = np.bincount(group)
    windows = np.flatnonzero(counts)
    small = group.astype(np.uint16) if len(counts) <= 1 << 16 else group
    order = np.argsort(small, kind="stable")
    bounds = np.r_[0, np.cumsum(counts[windows])]
    slots = layout.slot(np.asarray(numbers(table.column(plan.key)), dtype=np.int64))
    sub = np.asarray(numbers(table.column(plan.sub))) if plan.sub is not None else None
    columns = [_column(table, name) for name, _ in plan.merges]
    out = {}
    for i, code in enumerate(windows.tolist()):
        rows = order[bounds[i] : bounds[i + 1]]
        out[low + code] = _cells(
            schema,
            len(layout.keys),
            slots[rows],
            None if sub is None else sub[rows],
            [v[rows] for v, _ in columns],
            [None if m is None else m[rows] for _, m in columns],
        )
    return out


def _merge(parts: Sequence[Cells], plan: Plan, layout: Layout) -> pa.Table | None:
    """The rows one query over every window of ``parts`` gives; None when they hold too
    many cells to add up in arrays."""
    schema = parts[0].schema
    full = [p for p in parts if p.rows]
    n_slots = len(layout.keys)
    if not full:
        key = pa.field(plan.key, pa.from_numpy_dtype(layout.keys.dtype))
        return schema.set(schema.get_field_index(plan.key), key).empty_table()
    lo = min(p.lo for p in full)
    span = max(p.lo + p.span for p in full) - lo
    total = n_slots * span
    if total > MAX_CELLS:
        return None
    present = np.zeros(total, dtype=bool)
    sums: list[np.ndarray] = []
    valids: list[np.ndarray | None] = []
    for j, (name, how) in enumerate(plan.merges):
        floating = pa.types.is_floating(schema.field(name).type)
        dtype = np.float64 if floating else np.int64
        if how == "sum":
            sums.append(np.zeros(total, dtype=dtype))
        elif floating:
            sums.append(np.full(total, np.inf if how == "min" else -np.inf))
        else:
            info = np.iinfo(np.int64)
            sums.append(np.full(total, info.max if how == "min" else info.min, dtype=np.int64))
        nulls = any(p.valid[j] is not None for p in full)
        valids.append(np.zeros(total, dtype=bool) if nulls else None)
    for p in full:
        if p.index is None and p.lo == lo and p.span == span:
            # a dense window on the same cells (most days): whole arrays
            assert p.present is not None
            at: np.ndarray | slice = slice(None)
            here: np.ndarray | None = _bits(p.present, total)
            values = p.values
            valid = [p.validity(j, n_slots) for j in range(len(plan.merges))]
            present |= here
        else:
            cells, values = p.cells(n_slots)
            at = (cells // p.span) * span + (cells % p.span + (p.lo - lo))
            here = None  # every row's cell has a row
            valid = [p.validity(j, n_slots) for j in range(len(plan.merges))]
            if p.index is None:  # dense: the cells' bitmaps, taken at the rows
                valid = [None if v is None else v[cells] for v in valid]
            present[at] = True
        for j, (_, how) in enumerate(plan.merges):
            counted = here if valid[j] is None else valid[j] if here is None else here & valid[j]
            if how == "sum":  # NULLs and cells without a row hold 0
                sums[j][at] += values[j]
            else:
                pick = np.minimum if how == "min" else np.maximum
                both = pick(sums[j][at], values[j])
                sums[j][at] = both if counted is None else np.where(counted, both, sums[j][at])
            has = valids[j]
            if has is not None:
                has[at] = has[at] | (True if counted is None else counted)
    found = np.flatnonzero(present)
    columns: dict[str, pa.Array] = {plan.key: pa.array(layout.keys[found // span])}
    schema = schema.set(
        schema.get_field_index(plan.key), pa.field(plan.key, columns[plan.key].type)
    )
    if plan.sub is not None:
        columns[plan.sub] = pa.array(found % span + lo, type=schema.field(plan.sub).type)
    for j, (name, _) in enumerate(plan.merges):
        valid_j = valids[j]
        mask = None if valid_j is None else ~valid_j[found]
        columns[name] = pa.array(sums[j][found], type=schema.field(name).type, mask=mask)
    return pa.table([columns[f.name] for f in schema], schema=schema)


#: merged (and finished) rows, by the windows merged: a view after a batch that added no
#: rows to a query (inferences without actuals: none in the AUC's histogram) merges and
#: finishes nothing again
_MERGED: Memo[pa.Table | None] = Memo(32)


def merged(
    parts: Sequence[Cells],
    plan: Plan,
    layout: Layout,
    finish: Callable[[pa.Table], pa.Table] | None = None,
) -> pa.Table | None:
    """The rows one query over every window of ``parts`` gives (all of one query, on one
    layout), passed through ``finish`` if given (a ``Finished`` query's); None when they
    hold too many cells to add up in arrays (read the rows)."""

    def build() -> pa.Table | None:
        rows = _merge(parts, plan, layout)
        return rows if rows is None or finish is None else finish(rows)

    serials = tuple(sorted(p.serial for p in parts if p.rows))
    if not serials:
        return build()
    return _MERGED.get((serials, finish), build)
