"""Counts from the store's profiles: a range's histograms as the sum of its hours'.

:func:`collect` here gives what ``_count.collect`` would read from the rows, when the
store keeps profiles (``store/_profiles.py``) and the selection is the store's own rows
by environment, version and time: the hours it has not computed yet (all of them the
first time; after a batch, the batch's) in one grouped query, the others from memory, and
the partial hours at the edges of the range from the rows. Columns that actuals change
are kept apart, so that late actuals cost a query of those columns only.

A filtered selection (a slice of the UI) keeps its hours apart, under its predicate
(``Dataset.filter_key``), with the columns the filter reads among those a change makes
the store forget: after a batch, a slice's quality page read its whole week of rows,
0.18-0.27 s on the 10M-row UI store, where the default view reads the batch's hours.

Histograms and counts add up across hours, and so do the ``extra`` sums, minima and maxima
(float sums may then differ from one sum over the range in the last bits); the ``extra``
aggregates that do not merge across hours (distinct counts) are read from the rows, in one
query of their own grouped like the result.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeAlias

import ibis.expr.operations as ops
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from evalstore._arrow import numbers
from evalstore._memo import Memo
from evalstore.analyses.binning._binning import WINDOWS
from evalstore.analyses.binning._columns import COUNT_IF
from evalstore.dataset import Dataset, beside, query_table
from evalstore.store._profiles import HOUR, Profiles, floor_hour

if TYPE_CHECKING:
    Decoder: TypeAlias = Callable[[pa.Table], np.ndarray]
    Counted: TypeAlias = tuple[dict[str, np.ndarray], dict[str, Any]]

__all__ = ["by_pair_windows", "by_windows", "collect", "whole_range"]

#: what one hour holds: the counts of every column, end to end, and the extra values
Hour: TypeAlias = tuple[np.ndarray, tuple[Any, ...]]
Pair: TypeAlias = tuple[str, str]
Span: TypeAlias = tuple[datetime, datetime]


def _window(by: str | None) -> Callable[[datetime], datetime | None]:
    """The start of the window (as the engine truncates) that an hour falls in."""
    if by is None:
        return lambda h: None
    if by == "hour":
        return lambda h: h
    if by == "day":
        return lambda h: h.replace(hour=0)
    if by == "week":
        return lambda h: h.replace(hour=0) - timedelta(days=h.weekday())
    return lambda h: h.replace(day=1, hour=0)


def _following(by: str) -> Callable[[datetime], datetime]:
    """The start of the window after the one starting at ``w``."""
    if by == "hour":
        return lambda w: w + HOUR
    if by == "day":
        return lambda w: w + timedelta(days=1)
    if by == "week":
        return lambda w: w + timedelta(days=7)
    return lambda w: (w.replace(day=28) + timedelta(days=4)).replace(day=1)


#: a whole window kept without rows
_NO_ROWS = ("no rows",)


def by_windows(
    dataset: Dataset,
    key: Hashable,
    columns: Iterable[str],
    by: str | None,
    compute: Callable[[Dataset], Mapping[Any, Any]],
) -> dict[Any, Any] | None:
    """``compute(dataset)`` (a value per window of ``by`` with rows) for aggregates that do
    not add up across hours, with the whole windows kept by the profiles: a window is
    computed once, until a batch changes one of its hours; ``compute`` runs on the
    selection narrowed to each run of windows not kept, and the partial windows at the
    range's edges. None where the profiles cannot serve (none kept, no window, no rows):
    the caller reads the rows. ``key`` names the query; ``columns``: what it
    reads (actuals of the environment make the store forget it if it reads theirs)."""
    served = _served(dataset, by)
    if served is None:
        return None
    profiles, pairs, lo, hi, spans, whole = served
    where, read = dataset.filter_key
    entry = profiles.windows((key, by, where), dataset.model_id, pairs, read.union(columns))
    token = profiles.changes
    kept = profiles.read_windows(entry, whole)
    todo = [s for s in spans if s not in kept]
    found: dict[Any, Any] = {}
    for a, b in _span_runs(todo):
        found.update(compute(_narrowed(dataset, max(a, lo), min(b, hi))))
    if not profiles.keep_windows(
        entry, token, {s: found.get(s[0], _NO_ROWS) for s in todo if s in whole}
    ):
        return None  # a write came meanwhile: what was kept may be older than what was read
    out = {s[0]: v for s, v in kept.items() if v is not _NO_ROWS}
    out.update(found)
    return out


def _spans(lo: datetime, hi: datetime, by: str) -> list[tuple[datetime, datetime]]:
    """The windows of ``by`` that hold an hour of ``[lo, hi)``, whole or not."""
    start, following = _window(by), _following(by)
    spans: list[tuple[datetime, datetime]] = []
    w = start(floor_hour(lo))
    assert w is not None
    while w < hi:
        spans.append((w, following(w)))
        w = following(w)
    return spans


def by_pair_windows(
    dataset: Dataset,
    key: Hashable,
    columns: Iterable[str],
    by: str,
    compute: Callable[[Dataset], Mapping[tuple[str, str, datetime], Any]],
    fill: bool = True,
) -> dict[tuple[Pair, datetime], Any] | None:
    """:func:`by_windows` for values kept per (environment, version) pair as well as per
    window, so that any selection of versions reuses them: ``compute(part)`` gives a value
    per (environment, version, window start) with rows; the result is one per (pair,
    window start) with rows, the caller adds up the pairs' (values that add up across
    pairs, as counts do: the pairs' rows are apart). ``compute`` runs once per run of
    windows that a pair lacks, on the pairs lacking one of them (and the partial windows
    at the range's edges); a batch of a pair makes the store forget that pair's windows
    only. The default view of a UI (every version) and its view of one version then
    share the days they computed. None where the profiles cannot serve (as
    :func:`by_windows`), and with ``fill`` False where they keep less than half of the
    range's whole (pair, window)s: computing per window costs more than reading the rows
    at once (1.5-1.7x for the slices), worth it for the few windows a batch leaves, or for
    a read that will be repeated (the caller's ``fill``)."""
    served = _served(dataset, by)
    if served is None:
        return None
    profiles, pairs, lo, hi, spans, whole = served
    where, read = dataset.filter_key
    named = (key, by, where)
    if not fill:
        held = sum(profiles.kept_windows(named, dataset.model_id, [p], whole) for p in pairs)
        if 2 * held < len(pairs) * len(whole) or not whole:
            return None
    names = read.union(columns)
    entries = {p: profiles.windows(named, dataset.model_id, [p], names) for p in pairs}
    token = profiles.changes
    kept = {p: profiles.read_windows(e, whole) for p, e in entries.items()}
    todo = {p: [s for s in spans if s not in kept[p]] for p in pairs}
    found: dict[tuple[str, str, datetime], Any] = {}
    for a, b in _span_runs(sorted({s for spans_ in todo.values() for s in spans_})):
        lacking = [p for p in pairs if any(a <= s[0] < b for s in todo[p])]
        found.update(compute(_narrowed(dataset, max(a, lo), min(b, hi), lacking)))
    for p, entry in entries.items():
        new = {s: found.get((p[0], p[1], s[0]), _NO_ROWS) for s in todo[p] if s in whole}
        if not profiles.keep_windows(entry, token, new):
            return None  # a write came meanwhile: what was kept may be older than what was read
    out: dict[tuple[Pair, datetime], Any] = {}
    for p in pairs:
        out.update({(p, s[0]): v for s, v in kept[p].items() if v is not _NO_ROWS})
        here = ((s[0], (p[0], p[1], s[0])) for s in todo[p])
        out.update({(p, w): found[k] for w, k in here if k in found})
    return out


def _served(
    dataset: Dataset, by: str | None
) -> tuple[Profiles, list[Pair], datetime, datetime, list[Span], list[Span]] | None:
    """What windowed profiles need of ``dataset``: the profiles, its (environment, version)
    pairs, its range, the windows of ``by`` over the range and the whole ones among them;
    None where the profiles cannot serve (none kept, no window, no rows)."""
    profiles = dataset._store.profiles
    if by is None or profiles is None or not dataset.unique_ids:
        return None
    found_pairs = _pairs(dataset)
    if found_pairs is None:
        return None
    pairs, lo, hi = found_pairs
    spans = _spans(lo, hi, by)
    return profiles, pairs, lo, hi, spans, [s for s in spans if lo <= s[0] and s[1] <= hi]


def whole_range(
    dataset: Dataset, key: Hashable, columns: Iterable[str], compute: Callable[[Dataset], Any]
) -> Any:
    """``compute(dataset)``, kept by the profiles as one value for the selection's whole
    range until a batch changes one of its hours (or actuals, when ``columns`` hold one):
    for what does not split into windows, read again and again while other data change
    (a reference's rows in a slice, on every page of a UI whose production takes batches).
    Computed each time where the profiles cannot serve (none kept, no rows); ``key`` names
    the computation, ``columns``: what it reads."""
    profiles = dataset._store.profiles
    found_pairs = _pairs(dataset) if profiles is not None else None
    if profiles is None or found_pairs is None or not dataset.unique_ids:
        return compute(dataset)
    pairs, lo, hi = found_pairs
    where, read = dataset.filter_key
    entry = profiles.windows(("whole", key, where), dataset.model_id, pairs, read.union(columns))
    kept = profiles.read_windows(entry, [(lo, hi)])
    if (lo, hi) in kept:
        return kept[lo, hi]
    token = profiles.changes
    value = compute(dataset)
    profiles.keep_windows(entry, token, {(lo, hi): value})  # not if a write came meanwhile
    return value


def _span_runs(spans: Sequence[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Adjacent windows as one [start, end)."""
    out: list[tuple[datetime, datetime]] = []
    for a, b in sorted(spans):
        if out and out[-1][1] == a:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


#: how an aggregate over a range follows from its hours' values (those that are not NULL)
_MERGES: dict[type, Callable[[list[Any]], Any]] = {
    ops.Sum: sum,
    COUNT_IF: sum,
    ops.Count: sum,
    ops.CountStar: sum,
    ops.Min: min,
    ops.Max: max,
}


def _merge_of(expr: Any) -> Callable[[list[Any]], Any] | None:
    return _MERGES.get(type(expr.op()))


def _columns(exprs: Sequence[Any]) -> set[str]:
    return {f.name for e in exprs for f in e.op().find(ops.Field)}


class _Part:
    """Some columns' aggregates, as one hourly query, and how to read and add its rows."""

    def __init__(
        self,
        dataset: Dataset,
        aggs: dict[str, Any],
        decoders: dict[str, Decoder],
        extra: list[str],
    ) -> None:
        t = query_table(dataset)
        group = [t.environment, t.version, t.timestamp.truncate("h").name("window_")]
        self.query = t.group_by(group).aggregate(**aggs)
        self.decoders = decoders
        self.extra = extra
        # the extras that count rows (0, not NULL, on none) add up as the histograms do, in
        # one array per hour; the others (sums, minima, maxima) value by value, NULLs left
        # out (data quality by the hour: 28 columns' ~150 counts per hour took 20-30 ms of a
        # page as Python values)
        self.counted = [k for k in extra if isinstance(aggs[k].op(), _COUNTS)]
        self.rest = [k for k in extra if k not in self.counted]
        self.place = {k: i for i, k in enumerate(self.rest)}
        self.merges = [_merge_of(aggs[k]) or sum for k in self.rest]
        self.columns = _columns(list(aggs.values()))
        # decoders on no rows give their widths (a hand-made table: Ibis's own conversion
        # to Arrow imports pyarrow_hotfix, which Ibis does not install)
        histogram = pa.map_(pa.float64(), pa.int64())
        nothing = pa.table(
            {
                name: pa.array([], type=histogram if dtype.is_map() else pa.float64())
                for name, dtype in self.query.schema().items()
                if name in aggs
            }
        )
        self.sizes = [decode(nothing).shape[1] for decode in decoders.values()]
        # where each histogram and each counted extra lies in an hour's counts
        starts = np.cumsum([0, *self.sizes, *([1] * len(self.counted))])
        self.at = dict(zip([*decoders, *self.counted], starts.tolist(), strict=False))
        width = int(starts[-1])
        self.empty: Hour = (np.zeros(width, dtype=np.int64), (None,) * len(self.rest))

    def hours(
        self, dataset: Dataset, lo: datetime, hi: datetime, pairs: Sequence[Pair]
    ) -> dict[Pair, dict[datetime, Hour]]:
        """What the rows of ``pairs`` from ``lo`` to ``hi`` hold, per pair and hour with rows."""
        part = _narrowed(dataset, lo, hi, pairs)
        out: dict[Pair, dict[datetime, Hour]] = {pair: {} for pair in pairs}
        table = part.execute(self.query)
        counts = np.hstack(
            [np.zeros((table.num_rows, 0), dtype=np.int64)]
            + [decode(table) for decode in self.decoders.values()]
            + [_counts(table, k)[:, None] for k in self.counted]
        )
        more = list(zip(*(table.column(k).to_pylist() for k in self.rest), strict=True))
        keys = zip(
            *(table.column(k).to_pylist() for k in ("environment", "version", "window_")),
            strict=True,
        )
        counts.flags.writeable = False  # kept and shared: a caller may not change them
        for i, (env, version, hour) in enumerate(keys):
            out.setdefault((env, version), {})[hour] = (counts[i], more[i] if more else ())
        return out

    def add(self, hours: Sequence[Hour]) -> Hour:
        if len(hours) < 2:
            return hours[0] if hours else self.empty
        first, *rest = hours
        counts = first[0] + rest[0][0] if len(rest) == 1 else np.sum([h[0] for h in hours], 0)
        # each value over the hours at once, NULLs left out (a week by the hour of two
        # versions: 336 hours of 56 minima and maxima took 5 ms two by two, 0.8 ms so)
        columns = zip(*(h[1] for h in hours), strict=True)
        extra = tuple(
            merge(found) if (found := [v for v in values if v is not None]) else None
            for merge, values in zip(self.merges, columns, strict=True)
        )
        return counts, extra

    def split(self, hour: Hour) -> Counted:
        counts = {
            name: hour[0][self.at[name] : self.at[name] + size]
            for name, size in zip(self.decoders, self.sizes, strict=True)
        }
        extra = dict(zip(self.rest, hour[1], strict=True))
        tail: list[Any] = hour[0][len(hour[0]) - len(self.counted) :].tolist()
        if hour is self.empty:  # no rows: NULL, as the extras that do not count
            tail = [None] * len(self.counted)
        extra.update(zip(self.counted, tail, strict=True))
        return counts, {k: extra[k] for k in self.extra}

    def of(self, part: _Part, hour: Hour) -> Hour:
        """``part``'s value of an hour of this part, which holds all of ``part``'s
        aggregates (and others)."""
        pieces = [
            hour[0][self.at[name] : self.at[name] + size]
            for name, size in zip(part.decoders, part.sizes, strict=True)
        ]
        pieces += [hour[0][self.at[k] : self.at[k] + 1] for k in part.counted]
        counts = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)
        counts.flags.writeable = False
        return counts, tuple(hour[1][self.place[k]] for k in part.rest)


#: aggregates that count rows: 0 on no rows, never NULL
_COUNTS = (ops.CountStar, ops.Count, COUNT_IF)


def _counts(table: pa.Table, name: str) -> np.ndarray:
    column = table.column(name)
    if column.null_count:  # a count is never NULL: as one of no rows, if ever
        column = pc.fill_null(column, 0)
    return np.asarray(numbers(column), dtype=np.int64)


def _pairs(dataset: Dataset) -> tuple[list[Pair], datetime, datetime] | None:
    """The (environment, version) pairs with rows that the selection holds, and its time
    range, bounded by its rows' when open (from the store's volumes); None without rows."""
    envs, versions = dataset.environments, dataset.versions
    store = dataset._store

    def held(pair: Pair) -> bool:
        return (envs is None or pair[0] in envs) and (versions is None or pair[1] in versions)

    lo, hi = dataset.start, dataset.end
    if lo is not None and hi is not None:
        pairs = [pair for pair in store.pairs(dataset.model_id) if held(pair)]
        return (pairs, lo, hi) if pairs and lo < hi else None
    found = {
        pair: (first, last)
        for pair, (rows, first, last) in store.volumes(dataset.model_id).items()
        if rows and first is not None and last is not None and held(pair)
    }
    if not found:
        return None
    lo = lo or floor_hour(min(f for f, _ in found.values()))
    hi = hi or floor_hour(max(last for _, last in found.values())) + HOUR
    return (sorted(found), lo, hi) if lo < hi else None


def _narrowed(
    dataset: Dataset, start: datetime, end: datetime, pairs: Sequence[Pair] | None = None
) -> Dataset:
    """The rows of ``dataset`` (its filter too) from ``start`` to ``end``, of the
    environments and versions of ``pairs`` (default: the dataset's)."""
    return Dataset(
        dataset._store,
        dataset.model_id,
        environment=dataset.environments if pairs is None else sorted({e for e, _ in pairs}),
        version=dataset.versions if pairs is None else sorted({v for _, v in pairs}),
        start=start,
        end=end,
        where=dataset.where,
        task=dataset.task,
    )


def _runs(hours: Sequence[datetime]) -> list[tuple[datetime, datetime]]:
    """Consecutive hours as [start, end) ranges."""
    out: list[tuple[datetime, datetime]] = []
    for h in sorted(hours):
        if out and out[-1][1] == h:
            out[-1] = (out[-1][0], h + HOUR)
        else:
            out.append((h, h + HOUR))
    return out


def _profile(
    profiles: Profiles, part: _Part, dataset: Dataset, pairs: list[Pair], full: list[datetime]
) -> list[Mapping[datetime, Hour]] | None:
    """The hours of ``full`` with rows, per pair of ``pairs``, computing in one query the
    hours the profiles lack."""
    where, read = dataset.filter_key
    key, columns = (part.query.op(), where), part.columns | read
    entries = {pair: profiles.entry(key, dataset.model_id, *pair, columns) for pair in pairs}
    for _ in range(3):  # a batch landing meanwhile makes its hours missing again
        missing = {pair: profiles.missing(e, full) for pair, e in entries.items()}
        todo = [pair for pair in pairs if missing[pair]]
        if todo:
            lo = min(min(missing[pair]) for pair in todo)
            hi = max(max(missing[pair]) for pair in todo) + HOUR
            token = profiles.changes
            found = part.hours(dataset, lo, hi, todo)
            hours = [lo + HOUR * i for i in range(round((hi - lo) / HOUR))]
            for pair in todo:
                profiles.keep(entries[pair], token, hours, found.get(pair, {}))
        values = [profiles.read(e, full) for e in entries.values()]
        if all(v is not None for v in values):
            return values  # type: ignore[return-value]
    return None


def _fill_together(
    profiles: Profiles,
    built: _Built,
    dataset: Dataset,
    pairs: list[Pair],
    full: list[datetime],
) -> None:
    """Compute in one query the hours that every part misses alike (an inference batch
    makes them all forget its hours): the columns that actuals change ride along with the
    others rather than in a query of their own after them (20-40 ms of a page after a
    batch). Any other case is left to :func:`_profile`, part by part."""
    if built.together is None:
        return
    where, read = dataset.filter_key
    keys = [((part.query.op(), where), part.columns | read) for part in built.parts]
    entries = [
        {pair: profiles.entry(key, dataset.model_id, *pair, columns) for pair in pairs}
        for key, columns in keys
    ]
    missing = [
        {pair: profiles.missing(e, full) for pair, e in by_pair.items()} for by_pair in entries
    ]
    if any(m != missing[0] for m in missing[1:]):
        return
    todo = [pair for pair in pairs if missing[0][pair]]
    if not todo:
        return
    lo = min(min(missing[0][pair]) for pair in todo)
    hi = max(max(missing[0][pair]) for pair in todo) + HOUR
    token = profiles.changes
    found = built.together.hours(dataset, lo, hi, todo)
    hours = [lo + HOUR * i for i in range(round((hi - lo) / HOUR))]
    for i, by_pair in enumerate(entries):
        for pair in todo:
            mine = {h: built.of(i, value) for h, value in found.get(pair, {}).items()}
            profiles.keep(by_pair[pair], token, hours, mine)


@dataclass(frozen=True)
class _Built:
    """A plan's hourly queries (:func:`_parts`), and all of them as one query."""

    parts: list[_Part]
    together: _Part | None
    """every part's aggregates in one query (None for one part)"""

    def of(self, i: int, hour: Hour) -> Hour:
        """Part ``i``'s value of an hour of :attr:`together`: its counts and extras."""
        assert self.together is not None
        return self.together.of(self.parts[i], hour)


#: built parts, per plan (``_count._PLANS``): ~25 ms of Python per view
_PARTS: Memo[_Built] = Memo(256)


def _parts(
    dataset: Dataset,
    aggs: dict[str, Any],
    decoders: dict[str, Decoder],
    parts: dict[str, list[str]],
    extra: list[str],
    volatile: frozenset[str],
) -> _Built:
    """The plan as hourly queries: the columns that actuals change apart from the others."""
    out = []
    chosen: list[tuple[dict[str, Decoder], list[str], list[str]]] = []
    for keep in (False, True):
        names = {
            n: d
            for n, d in decoders.items()
            if bool(_columns([aggs[k] for k in parts[n]]) & volatile) is keep
        }
        more = [k for k in extra if bool(_columns([aggs[k]]) & volatile) is keep]
        if names or more:
            keys = [k for n in names for k in parts[n]] + more + ["n"]
            out.append(_Part(dataset, {k: aggs[k] for k in keys}, names, more))
            chosen.append((names, more, keys))
    together = None
    if len(chosen) > 1:
        keys = list(dict.fromkeys(k for _, _, ks in chosen for k in ks))
        names = {n: d for ns, _, _ in chosen for n, d in ns.items()}
        more = [k for _, ms, _ in chosen for k in ms]
        together = _Part(dataset, {k: aggs[k] for k in keys}, names, more)
    return _Built(out, together)


def serves(dataset: Dataset) -> bool:
    """Whether the store's profiles may give ``dataset``'s counts: it keeps them, and no
    row of the selection repeats another's id (:func:`collect` may still find they
    cannot)."""
    store = getattr(dataset, "_store", None)
    return getattr(store, "profiles", None) is not None and bool(
        getattr(dataset, "unique_ids", False)
    )


def collect(
    dataset: Dataset,
    aggs: dict[str, Any],
    decoders: dict[str, Decoder],
    parts: dict[str, list[str]],
    extra: list[str],
    by: str | None,
    key: Hashable | None = None,
) -> dict[datetime | None, Counted] | None:
    """``_count.collect``'s result from the profiles, or None when they cannot give it
    (no profiles, nothing that merges across hours, no rows, a range within one hour).
    The ``extra`` aggregates that do not merge across hours (distinct counts) come from
    one query of the rows, grouped like the result."""
    profiles = dataset._store.profiles
    if profiles is None or not serves(dataset):
        return None
    merged = [k for k in extra if _merge_of(aggs[k]) is not None]
    if not decoders and not merged:
        return None
    found_pairs = _pairs(dataset)
    if found_pairs is None:
        return None
    pairs, lo, hi = found_pairs
    first = floor_hour(lo) + (HOUR if floor_hour(lo) < lo else timedelta(0))
    last = floor_hour(hi)
    if first >= last:
        return None
    full = [first + HOUR * i for i in range(int((last - first) / HOUR))]

    def build() -> _Built:
        return _parts(dataset, aggs, decoders, parts, merged, profiles.volatile)

    plan = build() if key is None else _PARTS.get((key, profiles.volatile), build)
    built = plan.parts
    rest = [k for k in extra if k not in merged]
    # the aggregates that do not merge are read from the rows while the hours are read
    rows = {k: aggs[k] for k in rest}
    from_rows = None
    if rest:  # read from the rows (whole windows kept apart) while the hours are read
        from_rows = beside(dataset, lambda: _non_merging(dataset, rows, by, key))
    window = _window(by)
    results: list[tuple[_Part, dict[datetime | None, Hour]]] = []
    _fill_together(profiles, plan, dataset, pairs, full)
    for part in built:
        per_pair = _profile(profiles, part, dataset, pairs, full)
        if per_pair is None:
            return None
        # the partial hours at the edges (their own hours: ``full`` holds whole ones only)
        for a, b in ((lo, first), (last, hi)):
            if a < b:
                per_pair.extend(part.hours(dataset, a, b, pairs).values())
        # each window's hours of every pair, added once (a week by the day: 7 additions
        # rather than one per hour and one per day)
        windows: dict[datetime | None, list[Hour]] = {}
        for hours in per_pair:
            for hour, value in hours.items():
                windows.setdefault(window(hour), []).append(value)
        if by is None and not windows:
            windows[None] = []
        results.append((part, {w: part.add(values) for w, values in windows.items()}))
    keys_found = {w for _, summed in results for w in summed}
    out: dict[datetime | None, Counted] = {}
    for w in sorted(keys_found, key=lambda w: (w is not None, w)):
        counts: dict[str, np.ndarray] = {}
        values: dict[str, Any] = {}
        for part, summed in results:
            c, e = part.split(summed.get(w, part.empty))
            counts.update(c)
            values.update(e)
        out[w] = ({n: counts[n] for n in decoders}, values)
    if from_rows is not None and not _from_rows(from_rows(), out):
        return None
    return {w: (c, {k: e[k] for k in extra}) for w, (c, e) in out.items()}


def _rows_of(dataset: Dataset, aggs: dict[str, Any], by: str | None) -> dict[Any, Any]:
    """``aggs`` read from the rows, per window of ``by`` with rows (None: one, overall)."""
    t = query_table(dataset)
    if by is None:
        table = dataset.execute(t.aggregate(**aggs))
        windows: list[Any] = [None] * table.num_rows
    else:
        group = [t.timestamp.truncate(WINDOWS[by]).name("window_")]
        table = dataset.execute(t.group_by(group).aggregate(**aggs))
        windows = table.column("window_").to_pylist()
    values = {k: table.column(k).to_pylist() for k in aggs}
    return {w: {k: v[i] for k, v in values.items()} for i, w in enumerate(windows)}


def _non_merging(
    dataset: Dataset, aggs: dict[str, Any], by: str | None, key: Hashable | None
) -> dict[Any, Any]:
    """:func:`_rows_of`, with whole windows kept by the profiles (:func:`by_windows`)."""
    if key is not None:
        name = ("non-merging", key, tuple(sorted(aggs)))
        kept = by_windows(
            dataset, name, _columns(list(aggs.values())), by, lambda ds: _rows_of(ds, aggs, by)
        )
        if kept is not None:
            return kept
    return _rows_of(dataset, aggs, by)


def _from_rows(found: dict[Any, Any], out: dict[datetime | None, Counted]) -> bool:
    """Add to ``out`` the values per window ``found`` (:func:`_rows_of`); False if the
    rows' windows are not those of ``out`` (a batch came in between)."""
    if set(found) != set(out):
        return False
    for w, values in found.items():
        out[w][1].update(values)
    return True
