"""Profiles: an aggregate's value per hour of a selection, kept by the store that owns the
rows and dropped for the hours a batch changes.

Why: the drift of a month of production reads every row of the month, 0.3-0.5 s at 10M
rows on 2 cores, on every page nobody opened since the last batch, though a batch changes
a day at most. Counts on frozen bins add up, so the counts of a range are the sum of its
hours': an hour's are computed once, and a batch makes the store forget only its own
hours (DESIGN #4).

What is kept, per entry (the hourly query, which holds the bins, on the rows of one
environment and version of a model): the hours computed, and what the query found in each of
them (hours without rows are computed, and empty). The values are whatever the caller
stores (``analyses/binning/_count.py`` keeps decoded counts).

How an entry stays true to the rows, since only this process writes to the store:

- an inference batch forgets the hours from its first to its last timestamp in the
  entries of its (environment, version); all of their hours if it
  replaced earlier rows (those may lie in other hours);
- actuals (late, or logged with inferences) may change rows of any hour, of every version:
  they forget every entry of their environment that reads an actual column;
- a query that began before a change may have read the rows before it: what it found is
  kept only if nothing changed while it ran (``changes``).

Aggregates that do not add up across hours (distinct counts, ids logged under several
versions) are kept per whole window instead (:class:`Windows`: a day of a selection's
(environment, version) pairs, say), and a batch makes the store forget the windows that
hold any of its hours. What is too big to keep per hour but adds up across days (the
slices' score histograms) is kept per day and pair (one :class:`Windows` per pair), kept
only from a range's second read on (:meth:`Profiles.ask`).
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

__all__ = ["HOUR", "Entry", "Profiles", "Windows", "floor_hour", "sizeof"]

HOUR = timedelta(hours=1)


def floor_hour(value: datetime) -> datetime:
    return value.replace(minute=0, second=0, microsecond=0)


@dataclass
class Entry:
    """One query's hours over the rows of one (environment, version) of a model."""

    model_id: int
    environment: str
    version: str
    columns: frozenset[str]
    """the columns the query reads"""
    covered: set[datetime] = field(default_factory=set)
    """hours computed (with rows or without)"""
    hours: dict[datetime, Any] = field(default_factory=dict)
    """what the query found per hour with rows"""
    nbytes: int = 0
    """about how much memory ``hours`` holds"""

    def holds(self, model_id: int, environment: str, version: str | None) -> bool:
        return (
            self.model_id == model_id
            and self.environment == environment
            and (version is None or self.version == version)
        )

    def forget(self, first: datetime | None = None, last: datetime | None = None) -> None:
        """Forget the hours from ``first`` to ``last`` (inclusive), or all of them."""
        if first is None or last is None:
            self.covered.clear()
            self.hours.clear()
            self.nbytes = 0
            return
        lo, hi = floor_hour(first), floor_hour(last)
        for hour in [h for h in self.covered if lo <= h <= hi]:
            self.covered.discard(hour)
            if hour in self.hours:
                self.nbytes -= sizeof(self.hours.pop(hour))


Span = tuple[datetime, datetime]


@dataclass
class Windows:
    """One query's values per whole window (``[start, end)``) over the rows of several
    (environment, version) pairs of a model together."""

    model_id: int
    pairs: frozenset[tuple[str, str]]
    columns: frozenset[str]
    """the columns the query reads"""
    values: dict[Span, Any] = field(default_factory=dict)
    nbytes: int = 0

    def holds(self, model_id: int, environment: str, version: str | None) -> bool:
        return self.model_id == model_id and any(
            env == environment and (version is None or v == version) for env, v in self.pairs
        )

    def forget(self, first: datetime | None = None, last: datetime | None = None) -> None:
        """Forget the windows holding an hour from ``first`` to ``last``, or all of them."""
        if first is None or last is None:
            self.values.clear()
            self.nbytes = 0
            return
        lo, hi = floor_hour(first), floor_hour(last) + HOUR
        for span in [s for s in self.values if s[0] < hi and lo < s[1]]:
            self.nbytes -= sizeof(self.values.pop(span))


def sizeof(value: Any) -> int:
    """About the memory an hour's value holds: an array and a tuple of scalars (what
    ``_profiled.py`` keeps), what a value with ``nbytes`` says it holds (an array, the
    slices' days), else Python's own measure."""
    if isinstance(value, tuple) and len(value) == 2 and hasattr(value[0], "nbytes"):
        return int(value[0].nbytes) + 160 + 40 * len(value[1])
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes
    return sys.getsizeof(value)


class Profiles:
    """The entries of one store, most recently used last: at most ``max_entries``, and the
    least recently used dropped while they hold more than ``max_bytes`` (the 10M-row store
    of ``bench/ui_latency.py``, 60 days of 3 environment-version pairs, keeps about 23 MiB
    for its default views; 60-65 MiB in 74 entries once each page's views, a slice's
    included, were read: a filter keeps entries of its own). Entries cost little beside
    their hours: at 64, the slices page's views evicted each other and took 0.9-1.9 s
    where they take 0.1-0.2 s.

    Use: ``token = profiles.changes`` before a query; ``profiles.keep(entry, token, ...)``
    after it. Thread-safe."""

    def __init__(
        self, volatile: Iterable[str] = (), max_entries: int = 512, max_bytes: int = 256 << 20
    ) -> None:
        self.volatile = frozenset(volatile)
        """columns that actuals change (in rows of any hour)"""
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.max_asked = 4096
        self.enabled = False
        """off until asked for (``EvaluationStore.keep_profiles``): a read that is not
        repeated would pay for hours it never reads again"""

        self.changes = 0
        """incremented by every write that changed rows"""
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, Entry | Windows] = OrderedDict()
        self._held = 0
        """what the entries hold (the sum of their ``nbytes``), kept as they change: a sum
        over the entries on every keep took 1-2 ms with the interpreter shared by a
        page's threads (14 keeps in a model's health page after a batch)"""
        self._asked: OrderedDict[Hashable, None] = OrderedDict()

    def entry(
        self, key: Hashable, model_id: int, environment: str, version: str, columns: Iterable[str]
    ) -> Entry:
        """The entry of ``key`` (the query) on the rows of (``environment``, ``version``),
        made empty if new."""
        full = (model_id, environment, version, key)
        with self._lock:
            found = self._entries.get(full)
            if not isinstance(found, Entry):
                found = Entry(model_id, environment, version, frozenset(columns))
                self._add(full, found)
            else:
                self._entries.move_to_end(full)
            return found

    def windows(
        self,
        key: Hashable,
        model_id: int,
        pairs: Iterable[tuple[str, str]],
        columns: Iterable[str],
    ) -> Windows:
        """The per-window values of ``key`` (the query, and its window) on the rows of
        ``pairs`` together, made empty if new."""
        held = frozenset(pairs)
        full = ("windows", model_id, held, key)
        with self._lock:
            found = self._entries.get(full)
            if not isinstance(found, Windows):
                found = Windows(model_id, held, frozenset(columns))
                self._add(full, found)
            else:
                self._entries.move_to_end(full)
            return found

    def ask(self, key: Hashable) -> bool:
        """Whether ``key`` (a read) was asked for before, since the profiles were last
        cleared; it is remembered (the last ``max_asked``). For what is worth keeping from
        its second read on: a read that is not repeated pays no more than the rows' cost."""
        with self._lock:
            found = key in self._asked
            self._asked[key] = None
            self._asked.move_to_end(key)
            while len(self._asked) > self.max_asked:
                self._asked.popitem(last=False)
            return found

    def _add(self, key: Hashable, entry: Entry | Windows) -> None:
        self._entries[key] = entry
        self._held += entry.nbytes
        while len(self._entries) > self.max_entries:
            self._held -= self._entries.popitem(last=False)[1].nbytes

    def kept_windows(
        self, key: Hashable, model_id: int, pairs: Iterable[tuple[str, str]], spans: Iterable[Span]
    ) -> int:
        """How many of ``spans`` the entry :meth:`windows` gives keeps a value for, without
        making the entry (nor counting it as used)."""
        with self._lock:
            found = self._entries.get(("windows", model_id, frozenset(pairs), key))
            return sum(s in found.values for s in spans) if isinstance(found, Windows) else 0

    def read_windows(self, entry: Windows, spans: Iterable[Span]) -> dict[Span, Any]:
        """The values kept for those of ``spans`` that are."""
        with self._lock:
            return {s: entry.values[s] for s in spans if s in entry.values}

    def keep_windows(self, entry: Windows, token: int, found: dict[Span, Any]) -> bool:
        """Keep ``found`` (whole windows' values), unless a write came since ``token``."""
        with self._lock:
            if token != self.changes:
                return False
            before = entry.nbytes
            for span, value in found.items():
                if span in entry.values:
                    entry.nbytes -= sizeof(entry.values[span])
                entry.values[span] = value
                entry.nbytes += sizeof(value)
            self._held += entry.nbytes - before
            self._trim()
            return True

    def missing(self, entry: Entry, hours: Iterable[datetime]) -> list[datetime]:
        with self._lock:
            return [h for h in hours if h not in entry.covered]

    def read(self, entry: Entry, hours: Iterable[datetime]) -> dict[datetime, Any] | None:
        """The values of ``hours`` (those with rows), or None if one is not computed (a
        batch came since :meth:`missing`)."""
        with self._lock:
            if any(h not in entry.covered for h in hours):
                return None
            return {h: entry.hours[h] for h in hours if h in entry.hours}

    def keep(
        self, entry: Entry, token: int, hours: Iterable[datetime], found: dict[datetime, Any]
    ) -> bool:
        """Record ``hours`` as computed, with the values ``found`` for those with rows,
        unless a write came since ``token`` was read."""
        with self._lock:
            if token != self.changes:
                return False
            before = entry.nbytes
            for hour in hours:
                entry.covered.add(hour)
                if hour in found:
                    if hour in entry.hours:
                        entry.nbytes -= sizeof(entry.hours[hour])
                    entry.hours[hour] = found[hour]
                    entry.nbytes += sizeof(found[hour])
            self._held += entry.nbytes - before
            self._trim()
            return True

    def _trim(self) -> None:
        """Drop the least recently used entries while they hold more than ``max_bytes``."""
        while self._held > self.max_bytes and len(self._entries) > 1:
            _, dropped = self._entries.popitem(last=False)
            self._held -= dropped.nbytes

    def _count(self) -> None:
        """Count what the entries hold again, after writes made some forget."""
        self._held = sum(e.nbytes for e in self._entries.values())

    @property
    def nbytes(self) -> int:
        with self._lock:
            return self._held

    # -- what writes change ----------------------------------------------------------------

    def inferences_written(
        self,
        model_id: int,
        environment: str,
        version: str,
        first: datetime | None,
        last: datetime | None,
        replaced: bool,
    ) -> None:
        """An inference batch of (``environment``, ``version``) with timestamps from
        ``first`` to ``last`` was committed; ``replaced``: it replaced earlier rows."""
        with self._lock:
            self.changes += 1
            for entry in self._entries.values():
                if entry.holds(model_id, environment, version):
                    entry.forget(None if replaced else first, None if replaced else last)
            self._count()

    def actuals_written(self, model_id: int, environment: str) -> None:
        """Actuals of ``environment`` were committed (on rows of any hour and version)."""
        with self._lock:
            self.changes += 1
            for entry in self._entries.values():
                if entry.columns & self.volatile and entry.holds(model_id, environment, None):
                    entry.forget()
            self._count()

    def clear(self) -> None:
        with self._lock:
            self.changes += 1
            self._entries.clear()
            self._held = 0
            self._asked.clear()
