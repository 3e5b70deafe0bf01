"""slices() over the days the store's profiles keep (``analyses/_merged.py``,
``binning/_profiled.by_pair_windows``): each day of each (environment, version) is computed
once and the days of a range are merged.

Oracles: the same call reading the rows (the profiles off: one query over the range), and
scikit-learn on the rows of every slice (``test_slices.check_rows``); for the merge itself,
pandas' group-by over every window. Checked after new inferences in the last day, late
actuals, on ranges with partial days at their edges, and where the profiles cannot serve
(a filter, a metric whose aggregates do not merge, a batch landing while the days are read).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import evalstore as es
from evalstore.analyses import _merged
from evalstore.analyses import slices as slices_module
from evalstore.analyses.binning import Binning, fit_binnings
from evalstore.analyses.slices import SliceResult, slices
from evalstore.dataset import Dataset
from evalstore.store._profiles import sizeof
from test_slices import SCHEMA, check_rows, make

_names = itertools.count()
DAY0 = pd.Timestamp("2024-03-01")
DAYS = 6
FIELDS = ("column", "bin", "kind", "n", "n_without_actual", "significant")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[es.Store]:
    with es.connect(tmp_path_factory.mktemp("slices-days") / "s") as s:
        assert s._engine.profiles is None  # kept only when asked for (as create_app does)
        assert s._engine.keep_profiles()
        yield s


def rows(
    rng: np.random.Generator, n: int, first_id: int, start: pd.Timestamp, days: float
) -> pd.DataFrame:
    """``test_slices.make``'s rows (10% without an actual), spread over ``days`` from
    ``start``, ids from ``first_id``."""
    frame = make(rng, n, bad="west")
    frame["id"] = np.arange(first_id, first_id + n)
    frame["ts"] = start + pd.to_timedelta(np.sort(rng.random(n)) * days * 86400, unit="s")
    return frame


def log_rows(model: es.Model, frame: pd.DataFrame, version: str, env: str = "production") -> None:
    """Inferences, then the actuals they have (``y`` not NaN) as a batch of their own."""
    model.log(frame.drop(columns="y"), schema=SCHEMA, version=version, environment=env)
    known = frame[frame["y"].notna()][["id", "y"]].astype({"y": "int64"})
    if len(known):
        model.log_actuals(known, prediction_id="id", actual="y", environment=env)


@pytest.fixture
def model(store: es.Store) -> tuple[es.Model, dict[str, pd.DataFrame], dict[str, Binning]]:
    """A binary model: training over five days from March 1st (its bins), production v1
    over six days from March 1st and v2 over the last three (a shadow deployment)."""
    rng = np.random.default_rng(17)
    m = store.model(f"days{next(_names)}", task="binary_classification")
    training = rows(rng, 1500, 0, DAY0, 5)  # on the same days: environments kept apart
    log_rows(m, training, "v1", "training")
    frames = {
        "v1": rows(rng, 2400, 10_000, DAY0, DAYS),
        "v2": rows(rng, 900, 20_000, DAY0 + pd.Timedelta(days=3), DAYS - 3),
    }
    for version, frame in frames.items():
        log_rows(m, frame, version)
    bins = fit_binnings(m.dataset(environment="training"), ["age", "member", "region"])
    return m, {**frames, "training": training}, bins


def profiles(model: es.Model) -> Any:
    found = model._store._engine.profiles
    assert found is not None
    return found


def direct(ds: Dataset, metric: str, **kwargs: Any) -> SliceResult:
    """The same call with the profiles off: one query over the range, from the rows."""
    kept = ds._store.profiles
    assert kept is not None
    kept.enabled = False
    try:
        assert ds._store.profiles is None
        return slices(ds, metric, **kwargs)
    finally:
        kept.enabled = True


def kept(ds: Dataset, metric: str, **kwargs: Any) -> SliceResult:
    """The call as the UI's warmer makes it: the range's days kept from this first read."""
    with _merged.keeping():
        return slices(ds, metric, **kwargs)


def same(got: SliceResult, want: SliceResult) -> None:
    """Every slice equal: counts exactly, values and intervals to 1e-12 relative."""
    pairs = list(zip([got.overall, *got.rows], [want.overall, *want.rows], strict=True))
    for a, b in pairs:
        where = f"{a.column} = {a.bin}"
        assert [getattr(a, f) for f in FIELDS] == [getattr(b, f) for f in FIELDS], where
        for name in ("value", "ci_low", "ci_high", "share"):
            x, y = getattr(a, name), getattr(b, name)
            assert (x is None) == (y is None), where
            assert y is None or x == pytest.approx(y, rel=1e-12, abs=1e-15), where


def spy_days(monkeypatch: pytest.MonkeyPatch, module: Any) -> list[tuple[Any, ...]]:
    """The selections ``module`` (the slices', the metrics' days) reads rows of through
    the profiles (versions, start, end), from now on."""
    found: list[tuple[Any, ...]] = []
    real = module.by_pair_windows

    def spy(ds: Dataset, key: Any, columns: Any, by: str, compute: Any, fill: bool) -> Any:
        def recorded(part: Dataset) -> Any:
            found.append((tuple(part.versions or ()), part.start, part.end))
            return compute(part)

        return real(ds, key, columns, by, recorded, fill)

    monkeypatch.setattr(module, "by_pair_windows", spy)
    return found


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """The selections the slices read rows of through the profiles (versions, start, end)."""
    return spy_days(monkeypatch, slices_module)


def production(frames: dict[str, pd.DataFrame], *versions: str) -> pd.DataFrame:
    return pd.concat([frames[v] for v in versions or ("v1", "v2")], ignore_index=True)


@pytest.mark.parametrize("metric", ["roc_auc", "accuracy"])
def test_days_equal_the_rows_and_sklearn(
    model: tuple[es.Model, dict[str, pd.DataFrame], dict[str, Binning]],
    reads: list[tuple[Any, ...]],
    metric: str,
) -> None:
    """A week's slices from its days: equal to the rows' and to scikit-learn on every
    slice; read again, nothing is read; one version's slices reuse the days the view of
    every version computed (each version's days are kept apart)."""
    m, frames, bins = model
    ds = m.dataset(environment="production", start="2024-03-01", end="2024-03-07")
    want = direct(ds, metric, binnings=bins)
    got = kept(ds, metric, binnings=bins)
    same(got, want)
    check_rows(got, production(frames), metric)
    assert reads == [(("v1", "v2"), datetime(2024, 3, 1), datetime(2024, 3, 7))]
    assert profiles(m).nbytes > 0
    again = slices(ds, metric, binnings=bins)
    assert again.queries == 0 and len(reads) == 1
    same(again, want)

    v2 = m.dataset(environment="production", version="v2", start="2024-03-01", end="2024-03-07")
    alone = slices(v2, metric, binnings=bins)
    assert alone.queries == 0 and len(reads) == 1
    same(alone, direct(v2, metric, binnings=bins))
    check_rows(alone, frames["v2"], metric)


def test_every_environment_on_bins_fitted_on_the_selection(
    model: tuple[es.Model, dict[str, pd.DataFrame], dict[str, Binning]],
) -> None:
    """Every environment (three (environment, version) pairs), without bins given: slices
    bins on the selection's rows (fitted each call); equal to the rows' too, its days kept
    under those bins."""
    m, frames, _ = model
    ds = m.dataset()
    want = direct(ds, "roc_auc")
    same(kept(ds, "roc_auc"), want)
    again = slices(ds, "roc_auc")
    assert again.queries == 0
    same(again, want)
    check_rows(again, production(frames, "training", "v1", "v2"), "roc_auc")
    # production alone (its days, to the hour of its last row): from its pairs' days
    ours = m.dataset(environment="production")
    bins = again.binnings
    alone = slices(ours, "roc_auc", binnings=bins)
    assert alone.queries == 0
    same(alone, direct(ours, "roc_auc", binnings=bins))
    check_rows(alone, production(frames), "roc_auc")


@pytest.mark.parametrize("metric", ["roc_auc", "accuracy"])
def test_a_batch_makes_only_its_day_read_again(
    model: tuple[es.Model, dict[str, pd.DataFrame], dict[str, Binning]],
    reads: list[tuple[Any, ...]],
    metric: str,
) -> None:
    """New inferences in the last day (of v1, then of v2): only that day of that version
    is read again, and the slices change as the rows' do. Late actuals (for rows of every
    day): every day is read again, and the slices equal the rows'."""
    m, frames, bins = model
    ds = m.dataset(environment="production", start="2024-03-01", end="2024-03-07")
    kept(ds, metric, binnings=bins)
    reads.clear()
    rng = np.random.default_rng(5)
    last = pd.Timestamp("2024-03-06T12:00")
    for version, first_id in (("v1", 30_000), ("v2", 40_000)):
        late = rows(rng, 300, first_id, last, 0.4)
        m.log(late.drop(columns="y"), schema=SCHEMA, version=version, environment="production")
        frames[version] = pd.concat([frames[version], late.assign(y=np.nan)], ignore_index=True)
        before = slices(ds, metric, binnings=bins)
        assert reads == [((version,), datetime(2024, 3, 6), datetime(2024, 3, 7))]
        reads.clear()
        same(before, direct(ds, metric, binnings=bins))
        check_rows(before, production(frames), metric)
        assert before.overall.n_without_actual == int(production(frames)["y"].isna().sum())

    # their actuals arrive, with actuals of earlier rows that had none (of every day)
    missing = frames["v1"]["y"].isna() & (frames["v1"]["id"] < 30_000)
    earlier = frames["v1"][missing].head(60)
    actuals = pd.concat([earlier, frames["v1"][frames["v1"]["id"] >= 30_000]])[["id"]]
    actuals["y"] = rng.integers(0, 2, len(actuals))
    m.log_actuals(actuals, prediction_id="id", actual="y", environment="production")
    frames["v1"] = frames["v1"].set_index("id")
    frames["v1"].loc[actuals["id"], "y"] = actuals["y"].to_numpy().astype(float)
    frames["v1"] = frames["v1"].reset_index()
    after = slices(ds, metric, binnings=bins)
    assert sorted(reads) == [(("v1", "v2"), datetime(2024, 3, 1), datetime(2024, 3, 7))]
    same(after, direct(ds, metric, binnings=bins))
    check_rows(after, production(frames), metric)


def test_partial_days_at_the_edges(
    model: tuple[es.Model, dict[str, pd.DataFrame], dict[str, Binning]],
    reads: list[tuple[Any, ...]],
) -> None:
    """A range from and to the middle of a day: its whole days are kept, its edges read
    each time; equal to the rows' and to scikit-learn on the rows in the range."""
    m, frames, bins = model
    start, end = pd.Timestamp("2024-03-02T06:30"), pd.Timestamp("2024-03-05T18:15")
    ds = m.dataset(environment="production", start=start, end=end)
    want = direct(ds, "roc_auc", binnings=bins)
    same(kept(ds, "roc_auc", binnings=bins), want)
    reads.clear()
    again = slices(ds, "roc_auc", binnings=bins)
    assert sorted(r[1:] for r in reads) == [
        (datetime(2024, 3, 2, 6, 30), datetime(2024, 3, 3)),
        (datetime(2024, 3, 5), datetime(2024, 3, 5, 18, 15)),
    ]
    same(again, want)
    frame = production(frames)
    check_rows(again, frame[(frame["ts"] >= start) & (frame["ts"] < end)], "roc_auc")


def test_where_the_profiles_cannot_serve(
    store: es.Store,
    model: tuple[es.Model, dict[str, pd.DataFrame], dict[str, Binning]],
    reads: list[tuple[Any, ...]],
) -> None:
    """A filtered selection, and a metric whose aggregates do not merge (the mean and sd of
    the MAE): the rows are read, as without profiles, and nothing is kept."""
    m, frames, bins = model
    ds = m.dataset(environment="production", where={"member": True})
    got = kept(ds, "roc_auc", binnings=bins)
    same(got, direct(ds, "roc_auc", binnings=bins))
    frame = production(frames)
    check_rows(got, frame[frame["member"]], "roc_auc")
    assert reads == [] and slices(ds, "roc_auc", binnings=bins).queries == 2
    assert reads == []

    rng = np.random.default_rng(9)
    n = 1500
    reg = pd.DataFrame(
        {
            "id": np.arange(n),
            "ts": DAY0 + pd.to_timedelta(np.sort(rng.random(n)) * 4 * 86400, unit="s"),
            "temp": rng.normal(15, 8, n),
            "season": rng.choice(["winter", "spring", "summer"], n),
            "yhat": rng.normal(100, 20, n),
        }
    )
    reg["y"] = reg["yhat"] + rng.normal(0, 5, n)
    reg.loc[rng.random(n) < 0.1, "y"] = np.nan
    schema = es.Schema(prediction_id="id", timestamp="ts", features=["temp"], tags=["season"],
                       prediction_score="yhat")  # fmt: skip
    regression = store.model(f"reg{next(_names)}", task="regression")
    regression.log(reg.drop(columns="y"), schema=schema, version="v1", environment="production")
    known = reg[reg["y"].notna()][["id", "y"]]
    regression.log_actuals(known, prediction_id="id", actual="y", environment="production")
    ds = regression.dataset(environment="production", start="2024-03-01", end="2024-03-05")
    got = kept(ds, "mae")
    same(got, direct(ds, "mae"))
    check_rows(got, reg, "mae")
    again = slices(ds, "mae")
    assert reads == [] and again.queries == 1
    same(again, got)


def test_a_batch_while_the_days_are_read(
    model: tuple[es.Model, dict[str, pd.DataFrame], dict[str, Binning]],
    reads: list[tuple[Any, ...]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch that lands between reading the kept days and keeping the new ones: nothing
    is kept and the rows are read, so the result holds the batch; the next read computes
    every day again."""
    m, frames, bins = model
    ds = m.dataset(environment="production", start="2024-03-01", end="2024-03-07")
    spy = slices_module.by_pair_windows
    landed: list[pd.DataFrame] = []

    def racing(ds: Dataset, key: Any, columns: Any, by: str, compute: Any, fill: bool) -> Any:
        def late(part: Dataset) -> Any:
            more = rows(np.random.default_rng(3), 200, 50_000, pd.Timestamp("2024-03-04"), 1)
            log_rows(m, more, "v1")
            landed.append(more)
            return compute(part)

        return spy(ds, key, columns, by, late, fill)

    monkeypatch.setattr(slices_module, "by_pair_windows", racing)
    got = kept(ds, "accuracy", binnings=bins)
    assert len(landed) == 1
    frames["v1"] = pd.concat([frames["v1"], *landed], ignore_index=True)
    same(got, direct(ds, "accuracy", binnings=bins))
    check_rows(got, production(frames), "accuracy")
    monkeypatch.setattr(slices_module, "by_pair_windows", spy)
    reads.clear()
    same(slices(ds, "accuracy", binnings=bins), got)
    assert reads == [(("v1", "v2"), datetime(2024, 3, 1), datetime(2024, 3, 7))]


def test_a_range_is_kept_from_its_second_read(
    model: tuple[es.Model, dict[str, pd.DataFrame], dict[str, Binning]],
    reads: list[tuple[Any, ...]],
) -> None:
    """A range nobody read before (and less than half of whose days are kept) is read
    from the rows in one query, as without profiles; from its second read on, its days
    are computed and kept; cleared profiles forget that it was read."""
    m, _, bins = model
    ds = m.dataset(environment="production", start="2024-03-02", end="2024-03-05")
    want = direct(ds, "roc_auc", binnings=bins)
    first = slices(ds, "roc_auc", binnings=bins)
    assert reads == [] and first.queries == 2
    second = slices(ds, "roc_auc", binnings=bins)
    assert reads == [(("v1", "v2"), datetime(2024, 3, 2), datetime(2024, 3, 5))]
    third = slices(ds, "roc_auc", binnings=bins)
    assert third.queries == 0 and len(reads) == 1
    for got in (first, second, third):
        same(got, want)
    # a range that holds a kept day: its other days are computed on its first read
    wider = m.dataset(environment="production", start="2024-03-01", end="2024-03-05")
    reads.clear()
    same(slices(wider, "roc_auc", binnings=bins), direct(wider, "roc_auc", binnings=bins))
    assert reads == [(("v1", "v2"), datetime(2024, 3, 1), datetime(2024, 3, 2))]
    profiles(m).clear()
    reads.clear()
    assert slices(ds, "roc_auc", binnings=bins).queries == 2 and reads == []
    # a range of which the profiles keep less than half the (pair, day)s: from the rows
    one = m.dataset(environment="production", start="2024-03-05", end="2024-03-06")
    slices(one, "roc_auc", binnings=bins)
    slices(one, "roc_auc", binnings=bins)
    assert reads == [(("v1", "v2"), datetime(2024, 3, 5), datetime(2024, 3, 6))]
    reads.clear()
    week = m.dataset(environment="production", start="2024-03-01", end="2024-03-07")
    same(slices(week, "roc_auc", binnings=bins), direct(week, "roc_auc", binnings=bins))
    assert reads == []  # 2 of its 12 kept


# -- the merge ------------------------------------------------------------------------------------


def test_only_merging_aggregates_merge() -> None:
    """COUNT, COUNT(*), SUM, MIN and MAX merge; a mean, a variance, an expression over
    aggregates, or a second group key that is not an integer do not."""
    t = ibis.table({"k": "int64", "d": "timestamp", "b": "int64", "x": "float64", "s": "string"})
    groups = [t.k, t.d]
    good = t.group_by([*groups, t.b]).aggregate(
        n=t.count(where=t.x > 0), c=t.x.count(), s=t.x.sum(), lo=t.b.min(), hi=t.x.max()
    )
    found = _merged.plan(good, "k", ["d"])
    assert found == _merged.Plan(
        "k", "b", ("d",), (("n", "sum"), ("c", "sum"), ("s", "sum"), ("lo", "min"), ("hi", "max"))
    )
    for bad in (
        t.group_by(groups).aggregate(m=t.x.mean()),
        t.group_by(groups).aggregate(v=t.x.std()),
        t.group_by(groups).aggregate(r=t.x.sum() / t.count()),
        t.group_by([*groups, t.s]).aggregate(n=t.count()),
        t.group_by([*groups, t.b, t.s.length().name("l")]).aggregate(n=t.count()),
        t.group_by([t.k]).aggregate(n=t.count()),  # no window key
    ):
        assert _merged.plan(bad, "k", ["d"]) is None


AGGREGATES = {
    "n": ("x", "size"),
    "c": ("x", "count"),
    "s": ("x", lambda v: v.sum(min_count=1)),
    "lo": ("x", "min"),  # x > 0: a cell without a value taken as 0 would show
    "hi": ("i", "max"),  # i < 0: likewise
    "t": ("i", "sum"),
    "zlo": ("z", "min"),  # NULL in every row of window 1
    "zs": ("z", lambda v: v.sum(min_count=1)),
}


@pytest.mark.parametrize("shifted", [False, True])
@pytest.mark.parametrize("rows_per_slot", [0.05, 40.0])  # few rows: kept as rows; many: dense
def test_merged_windows_equal_one_group_by(rows_per_slot: float, shifted: bool) -> None:
    """Rows grouped by (window, key, sub key), with NULLs and groups missing from some
    windows: split per window and merged, any set of windows gives what pandas' group-by
    of their rows over (key, sub key) gives, with SQL's NULLs (a sum or a minimum of no
    value is NULL, a NULL is left out). ``shifted``: each window's sub keys span another
    range (its cells are not the merge's)."""
    rng = np.random.default_rng(int(rows_per_slot * 100) + shifted)
    keys = np.array([-7, 3, 4, 10, 11, 12])  # the slots' keys
    subs = 50
    n = int(rows_per_slot * len(keys) * subs * 4)
    x = rng.normal(size=n) + 10
    raw = pd.DataFrame(
        {
            "w": rng.integers(0, 4, n),
            "k": rng.choice(keys, n),
            "b": rng.integers(0, subs, n),
            "x": np.where(rng.random(n) < 0.2, np.nan, x),
            "i": rng.integers(-300, -5, n),
            "z": np.where(rng.random(n) < 0.1, np.nan, x),
        }
    )
    raw = raw[~((raw["w"] == 2) & (raw["k"] == 4))]  # a key without rows in window 2
    raw.loc[raw["w"] == 1, "z"] = np.nan
    if shifted:
        raw["b"] += raw["w"] * 3
    table = raw.groupby(["w", "k", "b"]).agg(**AGGREGATES).reset_index()
    table["w"] += 19_000  # days since 1970, as the slices' windows
    merges = {"n": "sum", "c": "sum", "s": "sum", "lo": "min", "hi": "max", "t": "sum"}
    merges |= {"zlo": "min", "zs": "sum"}
    plan = _merged.Plan("k", "b", ("w",), tuple(merges.items()))
    order = {int(k): i for i, k in enumerate(keys)}
    layout = _merged.Layout(lambda found: np.array([order[int(k)] for k in found]), keys)
    per_window = _merged.split(pa.Table.from_pandas(table, preserve_index=False), plan, layout)
    assert sorted(per_window) == [19_000 + d for d in range(4)]
    # dense where every cell has a row; as rows in window 2 (a key without rows), and
    # where rows are few
    dense = [per_window[19_000 + d].index is None for d in range(4)]
    assert dense == ([True, True, False, True] if rows_per_slot > 1 else [False] * 4)
    for chosen in ([0], [1, 3], [1, 2], [0, 1, 2, 3]):
        got = _merged.merged([per_window[19_000 + d] for d in chosen], plan, layout)
        assert got is not None
        part = raw[raw["w"].isin(chosen)]
        want = part.groupby(["k", "b"]).agg(**AGGREGATES).reset_index()
        found = got.to_pandas().sort_values(["k", "b"]).reset_index(drop=True)
        assert got.schema.names == ["k", "b", *merges]
        for name in ("k", "b", "n", "c", "hi", "t"):
            assert found[name].tolist() == want[name].tolist(), name
        for name in ("s", "lo", "zlo", "zs"):
            assert found[name].isna().tolist() == want[name].isna().tolist(), name
            np.testing.assert_allclose(found[name], want[name], 1e-12, equal_nan=True)


def test_a_day_is_small(
    model: tuple[es.Model, dict[str, pd.DataFrame], dict[str, Binning]],
) -> None:
    """What the profiles count for a kept day is what its arrays hold: counts of a day
    in one byte each here."""
    m, _, bins = model
    held = profiles(m)
    before = held.nbytes
    ds = m.dataset(environment="production", start="2024-03-01", end="2024-03-07")
    kept(ds, "roc_auc", binnings=bins)
    mine = m._record.id
    entries = [e for e in held._entries.values() if e.model_id == mine and hasattr(e, "values")]
    days = [v for e in entries for v in e.values.values() if isinstance(v, slices_module._Day)]
    assert len(days) == DAYS + 3  # v1's six days, v2's three
    others = [v for e in entries for v in e.values.values() if v not in days]
    assert len(others) == 3 and all(sizeof(v) < 100 for v in others)  # v2's days without rows
    assert held.nbytes - before == sum(d.nbytes for d in days) + sum(map(sizeof, others))
    for day in days:
        for cells in day.cells:
            assert all(v.dtype.itemsize == 1 for v in cells.values if v.dtype.kind in "iu")
            arrays = [cells.index, cells.present, *cells.values, *cells.valid]
            assert cells.nbytes == 200 + sum(a.nbytes for a in arrays if a is not None)


def test_slots_of_the_overall_and_every_bin(
    model: tuple[es.Model, dict[str, pd.DataFrame], dict[str, Binning]],
) -> None:
    """The merged rows' keys: the overall slice's, then each column's bins in order (the
    day queries group by those slots)."""
    _, _, bins = model
    used = [bins["age"], bins["member"], bins["region"]]
    layout = slices_module._layout(used)
    stride = slices_module.STRIDE
    keys = [-stride] + [p * stride + i for p, b in enumerate(used) for i in range(len(b.labels))]
    assert layout.keys.tolist() == keys
    slots = np.arange(len(keys), dtype=np.int64)[::-1]
    assert layout.slot(slots).tolist() == slots.tolist()


def test_metrics_that_ask_the_same_share_the_days(
    model: tuple[es.Model, dict[str, pd.DataFrame], dict[str, Binning]],
    reads: list[tuple[Any, ...]],
) -> None:
    """The days kept for a binary model's accuracy (its four confusion counts) serve its
    precision, recall and F1 without a query, equal to the rows' (and F1 to scikit-learn);
    the AUC, which asks for a score histogram, has days of its own."""
    m, frames, bins = model
    ds = m.dataset(environment="production", start="2024-03-01", end="2024-03-07")
    kept(ds, "accuracy", binnings=bins)
    assert len(reads) == 1
    for metric in ("precision", "recall", "f1"):
        got = slices(ds, metric, binnings=bins)
        assert got.queries == 0 and len(reads) == 1, metric
        same(got, direct(ds, metric, binnings=bins))
    check_rows(got, production(frames), "f1")
    assert slices(ds, "roc_auc", binnings=bins).queries == 2 and len(reads) == 1


def test_one_version_reads_its_day_with_the_queries_of_every_version(
    model: tuple[es.Model, dict[str, pd.DataFrame], dict[str, Binning]],
    reads: list[tuple[Any, ...]],
) -> None:
    """A batch of v2 after the days of every version were kept: the view of v2 alone reads
    its day with the queries the days of every version were read with (each version has
    its code whichever the read holds: nothing new to build), and equals the rows'."""
    m, frames, bins = model
    ds = m.dataset(environment="production", start="2024-03-01", end="2024-03-07")
    kept(ds, "roc_auc", binnings=bins)
    late = rows(np.random.default_rng(9), 200, 50_000, pd.Timestamp("2024-03-06T06:00"), 0.5)
    m.log(late.drop(columns="y"), schema=SCHEMA, version="v2", environment="production")
    late["y"] = np.nan  # their actuals have not come
    built = slices_module._BRANCHES.misses
    v2 = m.dataset(environment="production", version="v2", start="2024-03-01", end="2024-03-07")
    got = slices(v2, "roc_auc", binnings=bins)
    assert reads[1:] == [(("v2",), datetime(2024, 3, 6), datetime(2024, 3, 7))]
    assert slices_module._BRANCHES.misses == built
    same(got, direct(v2, "roc_auc", binnings=bins))
    check_rows(got, pd.concat([frames["v2"], late], ignore_index=True), "roc_auc")


def test_a_days_query_runs_in_halves_side_by_side(
    model: tuple[es.Model, dict[str, pd.DataFrame], dict[str, Binning]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The days' query (accuracy: one query, no histogram) runs as two halves of its
    branches, one on the store's side thread, and the merged days equal the rows'."""
    import threading

    from evalstore.store import duckdb as store_module

    m, frames, bins = model
    ds = m.dataset(environment="production", start="2024-03-01", end="2024-03-07")
    want = direct(ds, "accuracy", binnings=bins)
    threads: list[str] = []
    real = store_module.DuckDBStore._run

    def spy(self: Any, sql: str) -> Any:
        if "__es_window" in sql:
            threads.append(threading.current_thread().name)
        return real(self, sql)

    monkeypatch.setattr(store_module.DuckDBStore, "_run", spy)
    got = kept(ds, "accuracy", binnings=bins)
    assert len(threads) == 2 and sum(t.startswith("evalstore-beside") for t in threads) == 1
    same(got, want)
    check_rows(got, production(frames), "accuracy")


def test_a_day_without_actuals_runs_only_the_main_query(
    model: tuple[es.Model, dict[str, pd.DataFrame], dict[str, Binning]],
    reads: list[tuple[Any, ...]],
) -> None:
    """A batch of new inferences into a day of their own (their actuals come later): that
    day's AUC histograms, of rows with an actual, are not asked of the engine, and its
    main query, which counts the rows without an actual, is one scan of the bins'
    histograms (not a union of a GROUP BY per column); the slices equal the rows'."""
    m, frames, bins = model
    ds = m.dataset(environment="production", start="2024-03-01", end="2024-03-08")
    kept(ds, "roc_auc", binnings=bins)
    reads.clear()
    rng = np.random.default_rng(23)
    late = rows(rng, 400, 60_000, pd.Timestamp("2024-03-07T02:00"), 0.5)
    m.log(late.drop(columns="y"), schema=SCHEMA, version="v2", environment="production")
    after = slices(ds, "roc_auc", binnings=bins)
    assert reads == [(("v2",), datetime(2024, 3, 7), datetime(2024, 3, 8))]
    assert after.queries == 1
    same(after, direct(ds, "roc_auc", binnings=bins))
    frames["v2"] = pd.concat([frames["v2"], late.assign(y=np.nan)], ignore_index=True)
    check_rows(after, production(frames), "roc_auc")


@pytest.mark.parametrize(
    ("kinds", "metric"),
    [
        ("fitted", "roc_auc"),
        ("edges and top-k", "roc_auc"),
        ("one edge", "roc_auc"),
        ("fitted", "accuracy"),  # its counts of rows with an actual: 0
    ],
)
def test_a_day_without_actuals_counts_its_rows_per_bin_as_the_rows_do(
    model: tuple[es.Model, dict[str, pd.DataFrame], dict[str, Binning]],
    reads: list[tuple[Any, ...]],
    kinds: str,
    metric: str,
) -> None:
    """A batch of both versions into a day of its own, without actuals: each slot's rows
    without an actual come from one scan of the bins' histograms per (version, day), for
    quantile, user-given and top-k bins, values below and above every edge, NaN and
    missing values, for the AUC (whose histograms of rows with an actual are not run)
    and the accuracy (whose counts of them are 0). Every slice equals the rows'."""
    m, frames, bins = model
    training = m.dataset(environment="training")
    if kinds == "edges and top-k":
        bins = {
            "age": Binning(strategy="edges", edges=(30.0, 40.0, 50.0)).fit(training, "age"),
            "region": Binning(top_k=2).fit(training, "region"),
            "member": bins["member"],
        }
    elif kinds == "one edge":
        bins = {**bins, "age": Binning(strategy="edges", edges=(45.0,)).fit(training, "age")}
    ds = m.dataset(environment="production", start="2024-03-01", end="2024-03-09")
    kept(ds, metric, binnings=bins)
    reads.clear()
    rng = np.random.default_rng(29)
    for version, first in (("v1", 70_000), ("v2", 80_000)):
        late = rows(rng, 300, first, pd.Timestamp("2024-03-07T01:00"), 0.9)
        late.loc[:5, "age"] = [-1e9, 1e9, np.nan, 30.0, 40.0, 50.0]  # out of range, an edge
        m.log(late.drop(columns="y"), schema=SCHEMA, version=version, environment="production")
        frames[version] = pd.concat([frames[version], late.assign(y=np.nan)], ignore_index=True)
    after = slices(ds, metric, binnings=bins)
    assert reads == [(("v1", "v2"), datetime(2024, 3, 7), datetime(2024, 3, 8))]
    assert after.queries == 1
    same(after, direct(ds, metric, binnings=bins))
    check_rows(after, production(frames), metric)
