"""Profiles (``store/_profiles.py``, ``analyses/binning/_profiled.py``): histograms read from
the hours the store kept equal those read from the rows, for any range and window, and
stay equal after every kind of batch: new rows in a kept hour, rows replaced, late
actuals, actuals logged with inferences of another version."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pytest

import evalstore as es
from evalstore.analyses.binning import Binning, collect, fit_binnings
from evalstore.analyses.drift import drift_families
from evalstore.dataset import Dataset, query_table
from evalstore.store._profiles import HOUR, Profiles, sizeof

SCHEMA = es.Schema(
    prediction_id="id",
    timestamp="ts",
    features=["x", "city"],
    prediction_score="score",
    prediction_label="pred",
    actual_label="label",
)
SERVING = replace(SCHEMA, actual_label=None)  # the same rows, logged before their actuals
DAY0 = pd.Timestamp("2024-03-01")


def frame(rng: np.random.Generator, n: int, first_id: int, days: float, shift: float = 0.0):
    """``n`` rows at random minutes over ``days`` days from DAY0, some x missing."""
    x = rng.normal(shift, 1.0, n)
    x[rng.random(n) < 0.1] = np.nan
    score = rng.random(n)
    return pd.DataFrame(
        {
            "id": [f"p{i}" for i in range(first_id, first_id + n)],
            "ts": DAY0 + pd.to_timedelta(rng.random(n) * days * 86400, unit="s"),
            "x": x,
            "city": rng.choice(["paris", "lyon", "nice", "oslo"], n, p=[0.4, 0.3, 0.2, 0.1]),
            "score": score,
            "pred": (score >= 0.5).astype("int64"),
            "label": (rng.random(n) < score).astype("int64"),
        }
    )


@pytest.fixture
def model(store: es.Store) -> es.Model:
    rng = np.random.default_rng(7)
    assert store._engine.profiles is None  # kept only when asked for
    assert store._engine.keep_profiles()
    m = store.model("m", task="binary_classification")
    m.log(frame(rng, 800, 0, 4), schema=SCHEMA, version="v1", environment="training")
    m.log(
        frame(rng, 900, 10_000, 9, 0.3).drop(columns="label"),
        schema=SERVING,
        version="v1",
        environment="production",
    )
    m.log(
        frame(rng, 400, 20_000, 9, 0.6).drop(columns="label"),
        schema=SERVING,
        version="v2",
        environment="production",
    )
    return m


def _bins(model: es.Model) -> dict[str, Binning]:
    ref = model.dataset(environment="training")
    return fit_binnings(ref, ["x", "city", "prediction_score", "actual_label"])


def _extra(ds: Dataset) -> dict[str, Any]:
    t = query_table(ds)
    return {
        "xs": t.x.sum(),
        "xn": t.x.count(),
        "lo": t.x.min(),
        "hi": t.city.max(),
        "d": t.city.approx_nunique(),  # does not merge across hours: read from the rows
    }


def _both(store: es.Store, read: Callable[[], Any]) -> tuple[Any, Any]:
    """``read()`` from the rows, then from the profiles (which it may fill)."""
    profiles = store._engine.profiles
    assert profiles is not None
    profiles.enabled = False
    try:
        plain = read()
    finally:
        profiles.enabled = True
    return plain, read()


def _same(plain: dict[Any, Any], profiled: dict[Any, Any]) -> None:
    assert list(plain) == list(profiled)
    for window, (counts, extra) in plain.items():
        got_counts, got_extra = profiled[window]
        assert set(counts) == set(got_counts)
        for name in counts:
            np.testing.assert_array_equal(
                got_counts[name], counts[name], err_msg=f"{window} {name}"
            )
        assert set(extra) == set(got_extra)
        for key, value in extra.items():
            if value is None or isinstance(value, str):
                assert got_extra[key] == value
            else:
                assert got_extra[key] == pytest.approx(value, rel=1e-12, abs=1e-9)


SELECTIONS = [
    {"environment": "production"},
    {"environment": "production", "version": "v2"},
    {"environment": ["production", "training"]},
    {"environment": "production", "start": "2024-03-03", "end": "2024-03-07"},
    {"environment": "production", "start": "2024-03-02T05:17", "end": "2024-03-08T13:45:10"},
    {"environment": "production", "version": "v1", "start": "2024-03-04T10:30"},
    {"end": "2024-03-05T07:59:59"},
    {"environment": "production", "start": "2024-03-02T05:10", "end": "2024-03-02T05:50"},
    {"environment": "production", "start": "2025-01-01"},
]


@pytest.mark.parametrize("by", [None, "hour", "day", "week", "month"])
def test_counts_from_profiles_equal_counts_from_rows(
    store: es.Store, model: es.Model, by: str | None
) -> None:
    bins = _bins(model)
    for selection in SELECTIONS:
        ds = model.dataset(**selection)
        plain, profiled = _both(store, lambda ds=ds: collect(ds, bins, _extra(ds), by=by))
        _same(plain, profiled)
    assert store._engine.profiles._entries  # the profiles were used, not only the rows
    engine, model_id = store._engine, model._record.id
    assert engine.pairs(model_id) == sorted(engine.volumes(model_id))  # from the batches


def test_kept_hours_are_not_read_again(
    store: es.Store, model: es.Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = store._engine
    bins = _bins(model)
    runs: list[str] = []
    real = engine._run
    monkeypatch.setattr(engine, "_run", lambda sql: runs.append(sql) or real(sql))
    ds = model.dataset(environment="production")
    first = collect(ds, bins, by="day")
    # the other columns and the actual's, kept apart (actuals make only the latter
    # forgotten) but read together where both miss the same hours
    assert len(runs) == 1 and '"x"' in runs[0] and '"actual_label"' in runs[0]
    runs.clear()
    _same(first, collect(ds, bins, by="day"))
    assert runs == []
    ids = [f"p{i}" for i in range(10_000, 10_050)]
    late = pd.DataFrame({"id": ids, "label": [1] * len(ids)})
    model.log_actuals(late, prediction_id="id", actual="label", environment="production")
    after = collect(ds, bins, by="day")  # the actual's hours only
    assert len(runs) == 1 and '"x"' not in runs[0] and '"actual_label"' in runs[0]
    plain, again = _both(store, lambda: collect(ds, bins, by="day"))
    _same(plain, after)
    _same(plain, again)
    runs.clear()
    week = model.dataset(
        environment="production", version="v1", start="2024-03-02", end="2024-03-09"
    )
    collect(week, bins, by="hour")
    assert runs == []  # every hour of v1 was kept by the first read
    runs.clear()
    edge = model.dataset(environment="production", start="2024-03-02T05:30", end="2024-03-09")
    collect(edge, bins)
    assert len(runs) == 2  # the partial first hour only, per part
    assert all("05:30" in sql or "5, 30" in sql for sql in runs)


def _land(model: es.Model, batch: str) -> None:
    """A batch of one of the kinds that make the store forget hours it kept."""
    rng = np.random.default_rng(11)
    if batch == "new rows in kept hours":
        more = frame(rng, 300, 30_000, 5, 2.0).drop(columns="label")
        model.log(more, schema=SERVING, version="v1", environment="production")
    elif batch == "rows replaced":
        # the same ids, at other times and values: the rows they replace lie elsewhere
        again = frame(rng, 200, 10_000, 9, -1.0).drop(columns="label")
        report = model.log(again, schema=SERVING, version="v1", environment="production")
        assert report.replaced == 200
    elif batch == "late actuals":
        ids = [f"p{i}" for i in range(10_000, 10_600)]
        late = pd.DataFrame({"id": ids, "label": rng.integers(0, 2, len(ids))})
        model.log_actuals(late, prediction_id="id", actual="label", environment="production")
    else:
        # v3 rows with actuals, for ids of v1 and v2: the actuals land on their rows too
        ids = list(range(10_000, 10_100)) + list(range(20_000, 20_100))
        rows = frame(rng, 200, 0, 1)
        rows["id"] = [f"p{i}" for i in ids]
        model.log(rows, schema=SCHEMA, version="v3", environment="production")


@pytest.mark.parametrize(
    "batch",
    ["new rows in kept hours", "rows replaced", "late actuals", "actuals of another version"],
)
def test_a_batch_forgets_the_hours_it_changes(store: es.Store, model: es.Model, batch: str) -> None:
    bins = _bins(model)
    selections = [
        dict(environment="production"),
        dict(environment="production", version="v1"),
        dict(environment="production", start="2024-03-03", end="2024-03-05"),
    ]

    def read_all() -> list[dict[Any, Any]]:
        return [
            collect(model.dataset(**s), bins, _extra(model.dataset(**s)), by="day")
            for s in selections
        ]

    read_all()  # every hour is kept
    _land(model, batch)
    plain, profiled = _both(store, read_all)
    for p, q in zip(plain, profiled, strict=True):
        _same(p, q)


def test_drift_from_profiles_equals_drift_from_rows(store: es.Store, model: es.Model) -> None:
    ref = model.dataset(environment="training")
    cur = model.dataset(environment="production", start="2024-03-02T03:00")
    families = [["x", "city"], ["prediction_score", "actual_label"]]

    def run() -> Any:
        found, daily = drift_families(ref, cur, families, "day", method={"x": "ks"})
        return [r.to_dict() for r in found], daily.to_dict()

    plain, profiled = _both(store, run)
    assert _close(plain, profiled)


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        return all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        assert len(a) == len(b)
        return all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and not np.isnan(a):
        assert b == pytest.approx(a, rel=1e-9, abs=1e-12)
        return True
    assert a == b or (isinstance(a, float) and np.isnan(a) and np.isnan(b))
    return True


#: filters of each kind: a dict, a function of the table, a deferred, one on the actual
FILTERS: list[Any] = [
    {"city": "paris"},
    {"city": ["lyon", "nice"]},
    lambda t: t.x > 0.2,
    ibis._.prediction_score < 0.5,
    {"actual_label": 1},
]


def test_filtered_selections_keep_their_own_hours(
    store: es.Store, model: es.Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A filter's hours are kept under the filter (a slice of the UI, after a batch, reads
    the batch's hours of the slice, not its whole range): each filter's counts equal its
    rows', another filter never reads them, and a filter read again runs no query."""
    bins = _bins(model)
    engine = store._engine
    for where in FILTERS:
        for selection in SELECTIONS:
            ds = model.dataset(**selection, where=where)
            plain, profiled = _both(store, lambda ds=ds: collect(ds, bins, _extra(ds), by="day"))
            _same(plain, profiled)
            _same(*_both(store, lambda ds=ds: collect(ds, bins, by="hour")))
    runs: list[str] = []
    real = engine._run
    monkeypatch.setattr(engine, "_run", lambda sql: runs.append(sql) or real(sql))
    week = {"environment": "production", "start": "2024-03-02", "end": "2024-03-09"}
    for where in FILTERS:
        collect(model.dataset(**week, where=where), bins, by="hour")
    assert runs == []  # every filter's hours were kept by the reads above
    # the same filter built again (another request of the UI) finds them too
    collect(model.dataset(**week, where=lambda t: t.x > 0.2), bins, by="hour")
    assert runs == []
    collect(model.dataset(**week, where=lambda t: t.x > 0.3), bins, by="hour")
    assert runs  # a filter of its own


def test_a_filter_on_the_actual_forgets_its_hours_when_actuals_come(
    store: es.Store, model: es.Model
) -> None:
    """Counts of a column that actuals leave be, on the rows an actual selects: late
    actuals change which rows those are, so the store forgets those hours too."""
    ref = model.dataset(environment="training")
    bins = fit_binnings(ref, ["x", "city"])
    ds = model.dataset(environment="production", where={"actual_label": 1})
    first = collect(ds, bins, by="day")
    ids = [f"p{i}" for i in range(10_000, 10_600)]
    late = pd.DataFrame({"id": ids, "label": np.random.default_rng(3).integers(0, 2, len(ids))})
    model.log_actuals(late, prediction_id="id", actual="label", environment="production")
    plain, profiled = _both(store, lambda: collect(ds, bins, by="day"))
    _same(plain, profiled)
    assert sum(c["x"].sum() for c, _ in profiled.values()) > sum(
        c["x"].sum() for c, _ in first.values()
    )  # the actuals selected more rows


@pytest.mark.parametrize(
    "batch",
    ["new rows in kept hours", "rows replaced", "late actuals", "actuals of another version"],
)
def test_a_batch_forgets_a_filters_hours(store: es.Store, model: es.Model, batch: str) -> None:
    from evalstore.analyses.quality import quality

    expectations = model.create_baseline("t", environment="training").expectations_
    selection = {"environment": "production", "start": "2024-03-01", "end": "2024-03-09"}

    def read() -> list[Any]:
        return [
            quality(model.dataset(**selection, where=w), expectations, by="day").to_dict()
            for w in FILTERS
        ]

    read()
    _land(model, batch)
    plain, profiled = _both(store, read)
    assert _close(plain, profiled)


def test_snapshots_read_the_rows(store: es.Store, model: es.Model) -> None:
    bins = _bins(model)
    engine = store._engine
    engine.profiles.clear()  # fitting the bins kept the training rows' hours
    with engine.snapshot():
        assert engine.profiles is None  # the snapshot's rows may be older than the profiles
        collect(model.dataset(environment="production"), bins)
        collect(model.dataset(environment="production", where={"city": "paris"}), bins)
    assert not engine.profiles._entries


def test_what_a_query_found_is_not_kept_if_a_write_came_meanwhile() -> None:
    profiles = Profiles(volatile=["actual_label"])
    hour = datetime(2024, 3, 1, 5)
    entry = profiles.entry("q", 1, "production", "v1", ["x"])
    token = profiles.changes
    profiles.inferences_written(1, "production", "v2", hour, hour, False)  # another version
    assert not profiles.keep(entry, token, [hour], {hour: "old"})
    assert profiles.missing(entry, [hour]) == [hour]
    token = profiles.changes
    assert profiles.keep(entry, token, [hour], {hour: "new"})
    assert profiles.read(entry, [hour]) == {hour: "new"}
    profiles.actuals_written(1, "production")  # the entry reads no actual column
    assert profiles.read(entry, [hour]) == {hour: "new"}
    profiles.inferences_written(1, "production", "v1", hour, hour.replace(minute=59), False)
    assert profiles.read(entry, [hour]) is None


@pytest.mark.parametrize("by", [None, "day", "hour"])
def test_quality_from_profiles_equals_quality_from_rows(
    store: es.Store, model: es.Model, by: str | None
) -> None:
    from evalstore.analyses.quality import quality

    expectations = model.create_baseline("t", environment="training").expectations_
    for selection in SELECTIONS[:5]:
        ds = model.dataset(**selection)
        plain, profiled = _both(store, lambda ds=ds: quality(ds, expectations, by=by).to_dict())
        assert _close(plain, profiled)
    kept = store._engine.profiles._entries
    assert any(env == "production" for _, env, _, _ in kept)  # quality read the profiles


def test_quality_counts_of_kept_hours_are_not_read_again(
    store: es.Store, model: es.Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Data quality's range and category counts (``count_if`` on DuckDB) add up across
    hours: once the hours are kept, a range of whole hours reads none of them from the
    rows (only the distinct counts, which do not add up)."""
    from evalstore.analyses.quality import quality

    expectations = model.create_baseline("t", environment="training").expectations_
    engine = store._engine
    runs: list[str] = []
    real = engine._run
    monkeypatch.setattr(engine, "_run", lambda sql: runs.append(sql) or real(sql))
    quality(model.dataset(environment="production"), expectations, by="hour")
    assert [sql for sql in runs if "COUNT_IF" in sql.upper()]  # the hours' counts
    runs.clear()
    week = model.dataset(environment="production", start="2024-03-02", end="2024-03-09")
    found = quality(week, expectations, by="day")
    assert found.windows and runs
    assert not [sql for sql in runs if "COUNT_IF" in sql.upper()]


def test_profiles_hold_at_most_max_bytes_dropping_the_least_recently_used() -> None:
    hour = datetime(2024, 3, 1, 5)
    value = (np.zeros(500, dtype=np.int64), (1.0,))  # about 4 KB
    profiles = Profiles(max_bytes=3 * sizeof(value))
    a = profiles.entry("q", 1, "production", "v1", ["x"])
    assert profiles.keep(a, profiles.changes, [hour], {hour: value})
    b = profiles.entry("q", 1, "production", "v2", ["x"])
    assert profiles.keep(b, profiles.changes, [hour], {hour: value})
    assert profiles.nbytes == 2 * sizeof(value)
    c = profiles.entry("q", 1, "training", "v1", ["x"])
    later = hour + HOUR
    assert profiles.keep(c, profiles.changes, [hour, later], {hour: value, later: value})
    assert list(profiles._entries.values()) == [b, c]  # a, the least recently used, went
    assert profiles.nbytes == 3 * sizeof(value)
    profiles.inferences_written(1, "training", "v1", hour, hour, False)
    assert c.nbytes == sizeof(value) and profiles.nbytes == 2 * sizeof(value)


@pytest.mark.parametrize("seed", range(5))
def test_what_the_profiles_hold_is_counted_as_their_entries_change(seed: int) -> None:
    """``nbytes`` (kept as entries change, not summed on every keep) equals the sum over the
    entries after any sequence of keeps, replaced values, writes, evictions and a clear."""
    rng = np.random.default_rng(seed)
    start = datetime(2024, 3, 1)
    profiles = Profiles(volatile=["actual"], max_entries=6, max_bytes=60_000)
    for _ in range(300):
        pair = ("production", f"v{rng.integers(3)}")
        hours = [start + HOUR * int(h) for h in rng.integers(0, 48, size=rng.integers(1, 5))]
        value = (np.zeros(int(rng.integers(1, 800)), dtype=np.int64), (1.0,))
        columns = ["actual"] if rng.random() < 0.3 else ["x"]
        step = rng.integers(7)
        if step <= 2:
            entry = profiles.entry(f"q{rng.integers(4)}", 1, *pair, columns)
            assert profiles.keep(entry, profiles.changes, hours, {h: value for h in hours})
        elif step <= 4:
            windows = profiles.windows(f"w{rng.integers(4)}", 1, [pair], columns)
            spans = {(h, h + HOUR * 24): value for h in hours}
            assert profiles.keep_windows(windows, profiles.changes, spans)
        elif step == 5:
            profiles.inferences_written(1, *pair, min(hours), max(hours), rng.random() < 0.2)
        elif rng.random() < 0.8:
            profiles.actuals_written(1, "production")
        else:
            profiles.clear()
        held = sum(e.nbytes for e in profiles._entries.values())
        assert profiles.nbytes == held
        assert held <= 60_000 or len(profiles._entries) == 1
        assert len(profiles._entries) <= 6


def test_a_read_right_after_a_commit_never_finds_the_hours_it_changed(
    store: es.Store, model: es.Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read between a batch's commit and the rest of its write sees the new rows."""
    engine = store._engine
    bins = _bins(model)
    ds = model.dataset(environment="production", version="v1")
    collect(ds, bins, by="day")  # every hour is kept
    seen: list[Any] = []
    before = engine._generation

    class Schemas(dict):  # type: ignore[type-arg]
        """The store's schema cache, cleared right after each commit: read then."""

        def clear(self) -> None:
            super().clear()
            if engine._generation != before and not seen:
                seen.append(collect(ds, bins, by="day"))

    monkeypatch.setattr(engine, "_schemas", Schemas())
    more = frame(np.random.default_rng(5), 300, 40_000, 5, 3.0).drop(columns="label")
    model.log(more, schema=SERVING, version="v1", environment="production")
    plain, _ = _both(store, lambda: collect(ds, bins, by="day"))
    assert seen
    _same(plain, seen[0])


def _ids_per_day(ds: Dataset) -> dict[Any, Any]:
    """Distinct ids and rows per day (does not add up across hours), read from the rows."""
    t = query_table(ds)
    q = t.group_by(day=t.timestamp.truncate("D")).aggregate(
        ids=t.prediction_id.nunique(), rows=t.count()
    )
    return {r["day"]: (r["ids"], r["rows"]) for r in ds.execute(q).to_pylist()}


def test_whole_windows_are_kept_and_forgotten_with_their_hours(
    store: es.Store, model: es.Model
) -> None:
    """``by_windows``: a whole window is computed once; a batch makes the store forget the
    windows that hold its hours (and every window, when it replaced rows); the partial
    windows at the edges are always read. Values equal the rows' after each batch."""
    from evalstore.analyses.binning._profiled import by_windows

    ranges: list[tuple[Any, Any]] = []

    def compute(ds: Dataset) -> dict[Any, Any]:
        ranges.append((ds.start, ds.end))
        return _ids_per_day(ds)

    def check(selection: dict[str, Any]) -> None:
        ds = model.dataset(**selection)
        got = by_windows(ds, "ids", ["prediction_id"], "day", compute)
        assert got == _ids_per_day(ds)

    whole = {"environment": "production", "start": "2024-03-01", "end": "2024-03-09"}
    check(whole)
    assert ranges == [(datetime(2024, 3, 1), datetime(2024, 3, 9))]
    ranges.clear()
    check(whole)
    assert ranges == []  # every window kept
    check({"environment": "production", "start": "2024-03-02T06:00", "end": "2024-03-05"})
    assert ranges == [(datetime(2024, 3, 2, 6), datetime(2024, 3, 3))]  # the partial edge only
    ranges.clear()

    # ids of v2 logged again under v1, on March 4th: that day's ids and rows change
    rng = np.random.default_rng(11)
    again = frame(rng, 60, 20_000, 1).drop(columns="label")
    again["ts"] = pd.Timestamp("2024-03-04T08:00") + pd.to_timedelta(
        rng.random(60) * 3600 * 10, unit="s"
    )
    model.log(again, schema=SERVING, version="v1", environment="production")
    check(whole)
    assert ranges == [(datetime(2024, 3, 4), datetime(2024, 3, 5))]
    ranges.clear()

    # a batch that replaces earlier rows (its ids were logged before, in other hours)
    moved = again.head(10).copy()
    moved["ts"] = pd.Timestamp("2024-03-07T12:00")
    model.log(moved, schema=SERVING, version="v1", environment="production")
    check(whole)
    assert ranges == [(datetime(2024, 3, 1), datetime(2024, 3, 9))]  # every window again
    ranges.clear()

    # a batch of another environment changes nothing here
    model.log(frame(rng, 50, 90_000, 8), schema=SCHEMA, version="v1", environment="training")
    check(whole)
    assert ranges == []


def test_windows_read_while_a_batch_lands_are_not_kept(store: es.Store, model: es.Model) -> None:
    """A write between reading the kept windows and keeping the new ones: nothing is kept,
    and the caller is told to read the rows (None)."""
    from evalstore.analyses.binning._profiled import by_windows

    selection = {"environment": "production", "start": "2024-03-01", "end": "2024-03-09"}
    ds = model.dataset(**selection)
    landed: list[int] = []

    def compute(part: Dataset) -> dict[Any, Any]:
        if not landed:
            more = frame(np.random.default_rng(21), 40, 60_000, 8).drop(columns="label")
            landed.append(
                model.log(more, schema=SERVING, version="v2", environment="production").rows
            )
        return _ids_per_day(part)

    assert by_windows(ds, "ids", ["prediction_id"], "day", compute) is None
    got = by_windows(ds, "ids", ["prediction_id"], "day", compute)  # nothing was kept
    assert got == _ids_per_day(model.dataset(**selection))


def test_new_categories_are_kept_per_window(
    store: es.Store, model: es.Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The GROUP BY that counts and shows new categories runs once per whole window: read
    again, nothing is grouped; after a batch with another new value in one day, only that
    day is, and the result equals the rows' (with the new value among its examples)."""
    from evalstore.analyses.quality import _scan, quality

    expectations = model.create_baseline("t", environment="training").expectations_
    ds = model.dataset(environment="production", start="2024-03-01", end="2024-03-09")
    grouped: list[tuple[Any, Any]] = []
    original = _scan._category_counts

    def counted(part: Dataset, *args: Any, **kwargs: Any) -> Any:
        grouped.append((part.start, part.end))
        return original(part, *args, **kwargs)

    monkeypatch.setattr(_scan, "_category_counts", counted)

    def new_city(city: str, day: str, first_id: int) -> None:
        rng = np.random.default_rng(first_id)
        more = frame(rng, 30, first_id, 1)
        more["ts"] = pd.Timestamp(day) + pd.to_timedelta(rng.random(30) * 3600, unit="s")
        more["city"] = city
        model.log(
            more.drop(columns="label"), schema=SERVING, version="v2", environment="production"
        )

    def read() -> dict[str, Any]:
        return quality(ds, expectations, by="day").to_dict()

    def examples(result: dict[str, Any], day: str) -> list[Any]:
        return next(
            c["new_categories"]
            for c in result["columns"]
            if c["column"] == "city" and str(c["window"]).startswith(day)
        )

    new_city("bergen", "2024-03-03T10:00", 70_000)
    first = read()
    assert grouped == [(datetime(2024, 3, 1), datetime(2024, 3, 9))]
    assert examples(first, "2024-03-03") == ["bergen"]
    grouped.clear()
    assert read() == first
    assert grouped == []  # every day kept
    new_city("tromso", "2024-03-05T10:00", 71_000)
    plain, profiled = _both(store, read)
    assert (datetime(2024, 3, 5), datetime(2024, 3, 6)) in grouped
    assert grouped[-1] == (datetime(2024, 3, 5), datetime(2024, 3, 6))  # that day only
    assert examples(profiled, "2024-03-05") == ["tromso"]
    assert _close(plain, profiled)


def test_quality_by_day_stays_equal_to_the_rows_after_batches(
    store: es.Store, model: es.Model
) -> None:
    """Quality's distinct counts and ids under several versions are kept per whole day; after
    a batch that adds values and shares ids in a kept day, they equal the rows' again."""
    from evalstore.analyses.quality import quality

    expectations = model.create_baseline("t", environment="training").expectations_
    ds = model.dataset(environment="production", start="2024-03-01", end="2024-03-09")

    def read() -> dict[str, Any]:
        return quality(ds, expectations, by="day").to_dict()

    def day(result: dict[str, Any]) -> tuple[int, int]:
        """March 3rd's ids under several versions and distinct cities."""
        windows = [w for w in result["windows"] if str(w["window"]).startswith("2024-03-03")]
        cities = [
            c
            for c in result["columns"]
            if c["column"] == "city" and str(c["window"]).startswith("2024-03-03")
        ]
        return windows[0]["ids_in_several_versions"], cities[0]["distinct"]

    plain, profiled = _both(store, read)
    assert _close(plain, profiled)
    before = day(profiled)
    rng = np.random.default_rng(12)
    more = frame(rng, 80, 20_000, 1, 2.0)  # ids of v2, now under v1 too
    more["ts"] = pd.Timestamp("2024-03-03T10:00") + pd.to_timedelta(rng.random(80) * 3600, unit="s")
    more["city"] = "bergen"  # a value never seen: the day's distinct count grows
    model.log(more.drop(columns="label"), schema=SERVING, version="v1", environment="production")
    plain, profiled = _both(store, read)
    assert _close(plain, profiled)
    shared, cities = day(profiled)
    assert shared > before[0] and cities == before[1] + 1  # the kept day was read again
    # late actuals change the distinct counts of the actual column, in every day
    late = pd.DataFrame({"id": [f"p{i}" for i in range(10_000, 10_900)]})
    late["label"] = np.random.default_rng(13).integers(0, 2, len(late))
    model.log_actuals(late, prediction_id="id", actual="label", environment="production")
    plain, profiled = _both(store, read)
    assert _close(plain, profiled)
