"""Binning: fitted on a reference, frozen, counted in the engine; NumPy is the oracle.

Oracles: ``numpy.quantile`` (linear, DuckDB's ``quantile_cont``) for quantile edges,
``numpy.searchsorted`` for the bin of every value, pandas ``value_counts`` for the top-k.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import evalstore as es
from evalstore.analyses import binning as binning_module
from evalstore.analyses.binning import (
    Binning,
    feature_columns,
    fit_binnings,
    histograms,
    histograms_by_window,
)
from evalstore.analyses.binning import _fit as fit_module
from evalstore.analyses.binning._fit import STATISTICS_COLUMNS

_names = itertools.count()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[es.Store]:
    with es.connect(tmp_path_factory.mktemp("binning") / "s") as s:
        yield s


def log(
    store: es.Store,
    reference: pd.DataFrame | pa.Table,
    current: pd.DataFrame | pa.Table | None = None,
    types: dict[str, str] | None = None,
) -> tuple[es.Dataset, es.Dataset]:
    """Log two frames as one model's training and production data; return both datasets."""
    model = store.model(f"m{next(_names)}", task="regression")
    for frame, env in ((reference, "training"), (current, "production")):
        if frame is None:
            continue
        if isinstance(frame, pd.DataFrame):
            frame = frame.assign(id=np.arange(len(frame)), score=0.0)
        names = list(frame.columns) if isinstance(frame, pd.DataFrame) else frame.column_names
        columns = [c for c in names if c not in ("id", "score", "ts")]
        schema = es.Schema(
            prediction_id="id",
            timestamp="ts" if "ts" in names else None,
            features=columns,
            prediction_score="score",
            feature_types=types or {},
        )
        model.log(frame, schema=schema, version="v1", environment=env, progress=False)
    return model.dataset(environment="training"), model.dataset(environment="production")


def numpy_counts(values: np.ndarray, edges: tuple[float, ...]) -> np.ndarray:
    """The documented layout: below, [e0, e1], (e1, e2], ..., above, missing."""
    missing = np.isnan(values)
    x = values[~missing]
    n_value = max(len(edges) - 1, 1) if edges else 0
    counts = np.zeros(n_value + 3, dtype=np.int64)
    counts[-1] = missing.sum()
    if not edges:
        counts[-2] = len(x)
        return counts
    e = np.asarray(edges)
    index = np.maximum(np.searchsorted(e, x, side="left"), 1)
    index[x < e[0]] = 0
    index[x > e[-1]] = n_value + 1
    np.add.at(counts, index, 1)
    return counts


def numpy_quantile_edges(values: np.ndarray, bins: int) -> tuple[float, ...]:
    x = values[~np.isnan(values)]
    if len(x) == 0:
        return ()
    marks = np.quantile(x, np.linspace(0, 1, bins + 1))
    edges = tuple(np.unique(marks))
    values = np.unique(x)
    if 1 < len(edges) <= bins and len(values) <= bins:
        # tied quantiles on a column of few values: one bin per value, edges halfway
        return (values[0], *(values[:-1] / 2 + values[1:] / 2), values[-1])
    if 1 < len(edges) <= bins:
        # a value two quantile marks fall on gets its own bin, edges halfway to its
        # neighbours; the other values share bins - atoms at their own quantiles
        found = list(marks)
        atoms = sorted({v for v in found if found.count(v) > 1})
        if atoms and len(atoms) < bins:
            rest = x[~np.isin(x, atoms)]
            k = bins - len(atoms)
            inner = list(np.quantile(rest, np.arange(1, k) / k)) if k > 1 and len(rest) else []
            out = {found[0], found[-1]}
            for v in atoms:
                below, above = x[x < v], x[x > v]
                low = below.max() if len(below) else -np.inf
                high = above.min() if len(above) else np.inf
                inner = [e for e in inner if not low <= e <= high]
                out |= {low / 2 + v / 2 if len(below) else v, v / 2 + high / 2 if len(above) else v}
            out |= {e for e in inner if found[0] < e < found[-1]}
            atom_edges = tuple(sorted(out))
            if len(atom_edges) > 2:
                return atom_edges
    return edges


def assert_same_edges(got: tuple[float, ...], want: tuple[float, ...]) -> None:
    """Equal as sets within 1e-12 relative: DuckDB's quantile_cont and numpy.quantile
    interpolate alike, but a last-bit difference can keep or collapse a near-tie."""
    assert bool(got) == bool(want)
    if not want:
        return
    g, w = np.asarray(got), np.asarray(want)
    scale = max(1.0, float(np.max(np.abs(w))))
    assert np.all(np.diff(g) > 0)
    assert np.min(np.abs(g[:, None] - w[None, :]), axis=1).max() <= 1e-12 * scale
    assert np.min(np.abs(w[:, None] - g[None, :]), axis=1).max() <= 1e-12 * scale


finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
value_or_missing = st.one_of(finite, st.integers(-5, 5).map(float), st.just(math.nan))


# -- numeric bins against NumPy --------------------------------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ref=st.lists(value_or_missing, min_size=1, max_size=120),
    cur=st.lists(value_or_missing, min_size=0, max_size=120),
    bins=st.integers(1, 12),
)
def test_quantile_edges_and_counts_match_numpy(
    store: es.Store, ref: list[float], cur: list[float], bins: int
) -> None:
    r, c = np.array(ref), np.array(cur)
    ref_ds, cur_ds = log(store, pd.DataFrame({"x": r}), pd.DataFrame({"x": c}) if cur else None)
    b = Binning(bins=bins).fit(ref_ds, "x")
    assert_same_edges(b.edges_ or (), numpy_quantile_edges(r, bins))
    assert b.reference_counts_ == tuple(numpy_counts(r, b.edges_ or ()))
    got = histograms(cur_ds, {"x": b})["x"]
    np.testing.assert_array_equal(got, numpy_counts(c, b.edges_ or ()))
    assert len(got) == b.n_bins == len(b.labels) == len(b.describe_bins())


@settings(max_examples=15, deadline=None)
@given(
    data=st.lists(value_or_missing, min_size=0, max_size=200),
    edges=st.lists(finite, min_size=1, max_size=8, unique=True).map(sorted),
)
def test_user_edges_count_below_and_above(
    store: es.Store, data: list[float], edges: list[float]
) -> None:
    x = np.array([*data, 0.0])
    ref_ds, _ = log(store, pd.DataFrame({"x": x}))
    b = Binning(strategy="edges", edges=tuple(edges)).fit(ref_ds, "x")
    assert b.edges_ == tuple(edges)
    np.testing.assert_array_equal(b.reference_counts_, numpy_counts(x, tuple(edges)))


def test_values_on_an_edge_go_to_the_bin_it_closes(store: es.Store) -> None:
    ref_ds, cur_ds = log(
        store,
        pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]}),
        pd.DataFrame({"x": [-0.5, 0.0, 1.0, 1.5, 2.0, 3.0, 3.5, None]}),
    )
    b = Binning(strategy="edges", edges=(0.0, 1.0, 2.0, 3.0)).fit(ref_ds, "x")
    assert b.labels == ["below", "[0, 1]", "(1, 2]", "(2, 3]", "above", "missing"]
    assert list(histograms(cur_ds, {"x": b})["x"]) == [1, 2, 2, 1, 1, 1]


def test_median_centered_bins_follow_the_documented_rule(store: es.Store) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(10, 2, 5000)
    ref_ds, _ = log(store, pd.DataFrame({"x": x}))
    b = Binning(strategy="median_centered").fit(ref_ds, "x")
    median, width = np.median(x), np.std(x) / 3  # population std, 1/3 of it
    inner = [median + k * width for k in range(-4, 5)]
    np.testing.assert_allclose(b.edges_ or (), [x.min(), *inner, x.max()], rtol=1e-9)
    assert b.n_value_bins == 10
    assert b.std_ == pytest.approx(np.std(x), rel=1e-9)
    # skewed data: central edges outside (min, max) are dropped
    skew = rng.exponential(1.0, 5000)
    ref_ds, _ = log(store, pd.DataFrame({"x": skew}))
    b = Binning(strategy="median_centered").fit(ref_ds, "x")
    lo = np.median(skew) - 4 * np.std(skew) / 3
    assert lo < skew.min() and (b.edges_ or ())[0] == skew.min()
    assert b.n_value_bins < 10


def test_equal_width_bins_match_numpy_histogram(store: es.Store) -> None:
    rng = np.random.default_rng(4)
    x = rng.uniform(-3, 7, 3000)
    ref_ds, cur_ds = log(store, pd.DataFrame({"x": x}), pd.DataFrame({"x": x * 1.1}))
    b = Binning(strategy="equal_width", bins=7).fit(ref_ds, "x")
    np.testing.assert_allclose(b.edges_ or (), np.linspace(x.min(), x.max(), 8), rtol=1e-12)
    # random floats sit on no edge, so numpy's [a, b) bins count the same
    counts, _ = np.histogram(x, bins=np.asarray(b.edges_))
    np.testing.assert_array_equal((b.reference_counts_ or ())[1:-2], counts)
    got = histograms(cur_ds, {"x": b})["x"]
    np.testing.assert_array_equal(got, numpy_counts(x * 1.1, b.edges_ or ()))


def fine_probabilities(bins: int) -> list[float]:
    """The documented quantiles of fine bins: i / bins, and finer tails (1, 2, 5 x 1e-3 to
    1e-5 from either end)."""
    tails = [f * 10.0**-k for k in (3, 4, 5) for f in (1, 2, 5)]
    return sorted({*(i / bins for i in range(1, bins)), *tails, *(1 - t for t in tails)})


def test_approximate_fine_quantiles_are_frozen_bins_counted_exactly(store: es.Store) -> None:
    rng = np.random.default_rng(5)
    r, c = rng.lognormal(0, 1, 20000), rng.lognormal(0.1, 1, 20000)
    ref_ds, cur_ds = log(store, pd.DataFrame({"x": r}), pd.DataFrame({"x": c}))
    b = Binning(bins=1000, approximate=True).fit(ref_ds, "x")
    edges = b.edges_ or ()
    assert edges[0] == r.min() and edges[-1] == r.max()
    assert 900 < len(edges) <= 1020
    # fewer rows than SAMPLE_ROWS: NumPy's quantiles of every value
    inner = np.unique(np.quantile(r, fine_probabilities(1000)))
    np.testing.assert_allclose(edges[1:-1], inner[(inner > r.min()) & (inner < r.max())])
    np.testing.assert_array_equal(b.reference_counts_, numpy_counts(r, edges))
    engine = histograms(cur_ds, {"x": b})["x"]  # DuckDB's histogram(x, bounds)
    np.testing.assert_array_equal(engine, numpy_counts(c, edges))


def test_approximate_quantiles_of_a_large_reference_are_the_same_every_time(
    store: es.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Beyond SAMPLE_ROWS the quantiles are NumPy's of the rows whose prediction id hashes
    to a multiple of the step: the same edges on every call, where DuckDB's t-digest (its
    threads merging in any order) moved them, and a KS p-value with them."""
    monkeypatch.setattr(fit_module, "SAMPLE_ROWS", 5000)
    rng = np.random.default_rng(11)
    r = np.where(rng.random(60_000) < 0.05, np.nan, rng.normal(0, 1, 60_000))
    ref_ds, _ = log(store, pd.DataFrame({"x": r}))
    fits = [Binning(bins=200, approximate=True).fit(ref_ds, "x") for _ in range(4)]
    assert all(f.edges_ == fits[0].edges_ for f in fits)
    # the oracle: the same rows picked by DuckDB's hash of the stored (text) ids, its 64
    # bits read as a signed integer (Ibis's hash())
    step = -(-60_000 // 5000)
    con = duckdb.connect()
    con.register("ids", pd.DataFrame({"pid": np.arange(60_000).astype(str), "x": r}))
    picked = con.sql(
        f"SELECT x FROM ids WHERE CAST(CAST(hash(pid) AS BIT) AS BIGINT) % {step} = 0 "
        "AND x IS NOT NULL AND NOT isnan(x)"
    ).fetchnumpy()["x"]
    assert 3000 < len(picked) < 7000
    inner = np.unique(np.quantile(picked, fine_probabilities(200)))
    edges = fits[0].edges_ or ()
    assert edges[0] == np.nanmin(r) and edges[-1] == np.nanmax(r)
    np.testing.assert_allclose(edges[1:-1], inner[(inner > edges[0]) & (inner < edges[-1])])


def test_the_duckdb_histogram_path_equals_the_portable_sums(
    store: es.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(6)
    r = np.where(rng.random(3000) < 0.1, np.nan, rng.normal(0, 1, 3000))
    c = np.concatenate([rng.normal(0.3, 2, 2900), [np.nan] * 100])
    days = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 20, 3000), "D")
    ref_ds, cur_ds = log(
        store,
        pd.DataFrame({"x": r, "c": rng.choice(["a", "b", "c"], 3000), "ts": days}),
        pd.DataFrame({"x": c, "c": rng.choice(["a", "b", "d"], 3000), "ts": days}),
    )
    fitted = fit_binnings(ref_ds, config=Binning(bins=200)) | fit_binnings(ref_ds, ["c"])
    fast = histograms(cur_ds, fitted)
    monkeypatch.setattr(binning_module._columns, "_uses_duckdb", lambda dataset: False)
    portable = histograms(cur_ds, fitted)
    for name in fitted:
        np.testing.assert_array_equal(portable[name], fast[name])
    np.testing.assert_array_equal(fast["x"], numpy_counts(c, fitted["x"].edges_ or ()))
    for by in ("day", "week"):
        windows = histograms_by_window(cur_ds, fitted, by=by)
        monkeypatch.setattr(binning_module._columns, "_uses_duckdb", lambda dataset: True)
        again = histograms_by_window(cur_ds, fitted, by=by)
        monkeypatch.setattr(binning_module._columns, "_uses_duckdb", lambda dataset: False)
        assert list(windows) == list(again)
        for w in windows:
            for name in fitted:
                np.testing.assert_array_equal(windows[w][name], again[w][name])


def test_nan_is_missing_even_when_stored(store: es.Store) -> None:
    table = pa.table(
        {
            "id": np.arange(6),
            "x": pa.array([1.0, np.nan, 2.0, 3.0, np.nan, None], from_pandas=False),
            "score": np.zeros(6),
        }
    )
    ref_ds, _ = log(store, table)
    b = Binning(bins=2).fit(ref_ds, "x")
    assert b.edges_ == (1.0, 2.0, 3.0)
    assert b.reference_counts_ == (0, 2, 1, 0, 3)


# -- categorical bins ------------------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(
    ref=st.lists(st.one_of(st.sampled_from("abcdefg"), st.none()), min_size=1, max_size=80),
    cur=st.lists(st.one_of(st.sampled_from("abcdefghxyz"), st.none()), max_size=80),
    top_k=st.integers(1, 8),
)
def test_top_k_categories_match_pandas(
    store: es.Store, ref: list[str | None], cur: list[str | None], top_k: int
) -> None:
    r = pd.Series(ref, dtype=object)
    c = pd.Series(cur, dtype=object)
    types = {"c": "categorical"}
    ref_ds, cur_ds = log(
        store, pd.DataFrame({"c": r}), pd.DataFrame({"c": c}) if cur else None, types
    )
    b = Binning(top_k=top_k).fit(ref_ds, "c")
    counts = r.value_counts()
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top_k]
    assert b.categories_ == tuple(k for k, _ in ordered)
    known = r.notna().sum()
    want = [v for _, v in ordered]
    assert b.reference_counts_ == (*want, known - sum(want), r.isna().sum())
    got = histograms(cur_ds, {"c": b})["c"]
    cats = list(b.categories_ or ())
    want_cur = [int((c == k).sum()) for k in cats]
    other = int(c.notna().sum()) - sum(want_cur)  # new categories land in other
    assert list(got) == [*want_cur, other, int(c.isna().sum())]


def test_booleans_and_integer_labels_are_categorical(store: es.Store) -> None:
    model = store.model(f"m{next(_names)}", task="binary_classification")
    frame = pd.DataFrame(
        {"id": range(6), "flag": [True, False, True, True, None, False], "pred": [0, 1, 1, 1, 0, 1]}
    )
    schema = es.Schema(prediction_id="id", features=["flag"], prediction_label="pred")
    model.log(frame, schema=schema, version="v1", environment="training", progress=False)
    ds = model.dataset()
    fitted = fit_binnings(ds, ["flag", "prediction_label"])
    assert fitted["flag"].kind_ == fitted["prediction_label"].kind_ == "categorical"
    assert fitted["flag"].categories_ == (True, False)
    assert fitted["flag"].reference_counts_ == (3, 2, 0, 1)
    assert fitted["prediction_label"].categories_ == (1, 0)
    assert fitted["prediction_label"].reference_counts_ == (4, 2, 0, 0)
    again = Binning.from_dict(json.loads(json.dumps(fitted["flag"].to_dict())))
    assert again.categories_ == (True, False)
    assert list(histograms(ds, {"flag": again})["flag"]) == [3, 2, 0, 1]


# -- many columns, few queries ---------------------------------------------------------------


def test_every_feature_is_fitted_in_few_queries_and_counted_in_one(
    store: es.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(7)
    n = 500
    frame = pd.DataFrame({f"x{i}": rng.normal(i, 1, n) for i in range(6)})
    frame["c0"] = rng.choice(["a", "b", "c"], n)
    frame["c1"] = rng.choice(["u", "v"], n)
    ref_ds, cur_ds = log(store, frame, frame.sample(frac=1.0, random_state=1))
    assert feature_columns(ref_ds) == [*[f"x{i}" for i in range(6)], "c0", "c1"]
    calls: list[str] = []
    engine = ref_ds._store
    original = engine._run  # every query the engine runs, whatever built it

    def counting(sql: str) -> pa.Table:
        calls.append("query")
        return original(sql)

    monkeypatch.setattr(engine, "_run", counting)
    fitted = fit_binnings(ref_ds)
    # statistics + quantiles per STATISTICS_COLUMNS numeric columns (6: two queries), one
    # top-k per categorical, one count
    assert STATISTICS_COLUMNS == 5
    assert len(calls) == 2 + 2 + 1
    calls.clear()
    counts = histograms(cur_ds, fitted)
    assert len(calls) == 1
    for name in frame.columns:
        assert list(counts[name]) == list(fitted[name].reference_counts_ or ()), name


def test_histograms_by_window_match_each_window(store: es.Store) -> None:
    rng = np.random.default_rng(8)
    n = 600
    frame = pd.DataFrame(
        {
            "ts": pd.Timestamp("2024-03-01") + pd.to_timedelta(rng.integers(0, 10 * 24, n), "h"),
            "x": rng.normal(0, 1, n),
            "c": rng.choice(["a", "b", "c"], n),
        }
    )
    ref_ds, cur_ds = log(store, frame.head(200), frame)
    fitted = fit_binnings(ref_ds)
    by_day = histograms_by_window(cur_ds, fitted, by="day")
    days = sorted(frame["ts"].dt.floor("D").unique())
    assert list(by_day) == [d.to_pydatetime() for d in days]
    for day in days:
        part = frame[frame["ts"].dt.floor("D") == day]
        got = by_day[day.to_pydatetime()]
        np.testing.assert_array_equal(
            got["x"], numpy_counts(part["x"].to_numpy(), fitted["x"].edges_ or ())
        )
        assert got["c"].sum() == len(part)
    weeks = histograms_by_window(cur_ds, fitted, by="week")
    assert all(w.weekday() == 0 for w in weeks)  # weeks start on Monday
    assert sum(int(h["x"].sum()) for h in weeks.values()) == n
    with pytest.raises(es.ParameterError, match="by must be one of"):
        histograms_by_window(cur_ds, fitted, by="days")


# -- edge cases ------------------------------------------------------------------------------


def test_constant_one_row_all_null_and_huge_columns(store: es.Store) -> None:
    frame = pd.DataFrame(
        {
            "const": [2.5] * 4,
            "nulls": [np.nan] * 4,
            "huge": [-1e300, 1e300, 5e299, -2e299],
            "cat_nulls": pd.Series([None] * 4, dtype=object),
        }
    )
    current = pd.DataFrame(
        {
            "const": [2.5, 3.0, 1.0, None],
            "nulls": [1.0, None, 2.0, 3.0],
            "huge": [1e308] * 4,
            "cat_nulls": ["a", None, "b", "a"],
        }
    )
    types = {"cat_nulls": "categorical"}
    ref_ds, cur_ds = log(store, frame, current, types)
    fitted = fit_binnings(ref_ds)
    const, nulls, huge, cats = (fitted[k] for k in ("const", "nulls", "huge", "cat_nulls"))
    assert const.edges_ == (2.5,) and const.labels == ["below", "[2.5, 2.5]", "above", "missing"]
    assert const.reference_counts_ == (0, 4, 0, 0)
    assert nulls.edges_ == () and nulls.reference_counts_ == (0, 0, 4)
    assert cats.categories_ == () and cats.reference_counts_ == (0, 4)
    assert all(math.isfinite(e) for e in huge.edges_ or ())
    np.testing.assert_allclose(
        huge.edges_ or (), numpy_quantile_edges(frame["huge"].to_numpy(), 10)
    )
    counts = histograms(cur_ds, fitted)
    assert list(counts["const"]) == [1, 1, 1, 1]
    assert list(counts["nulls"]) == [0, 3, 1]  # no reference range: every value is 'above'
    assert list(counts["huge"])[-2:] == [4, 0]
    assert list(counts["cat_nulls"]) == [3, 1]  # unseen values are 'other'
    one, _ = log(store, pd.DataFrame({"x": [7.0]}))
    assert Binning().fit(one, "x").reference_counts_ == (0, 1, 0, 0)


def test_empty_datasets(store: es.Store) -> None:
    ref_ds, cur_ds = log(store, pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]}))
    fitted = fit_binnings(ref_ds)
    counts = histograms(cur_ds, fitted)  # no production rows at all
    assert all(int(c.sum()) == 0 for c in counts.values())
    assert histograms_by_window(cur_ds, fitted) == {}
    with pytest.raises(es.ParameterError, match="reference must be a dataset with rows"):
        fit_binnings(cur_ds)


# -- the object: validation, not fitted, serialisation ---------------------------------------


def test_using_before_fitting_raises_not_fitted(store: es.Store) -> None:
    b = Binning()
    assert not b.is_fitted
    for action in (lambda: b.labels, lambda: b.n_value_bins, lambda: b.describe_bins()):
        with pytest.raises(es.NotFittedError, match=r"call \.fit"):
            action()
    ref_ds, _ = log(store, pd.DataFrame({"x": [1.0]}))
    with pytest.raises(es.NotFittedError):
        histograms(ref_ds, {"x": b})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"strategy": "quantiles"}, r"Binning.strategy must be one of .*Did you mean 'quantile'"),
        ({"bins": 0}, "Binning.bins must be an integer from 1"),
        ({"bins": 2.5}, "Binning.bins must be an integer"),
        ({"strategy": "median_centered", "bins": 5}, "an even number"),
        ({"strategy": "edges"}, "Binning.edges must be a non-empty list"),
        ({"strategy": "edges", "edges": (1.0, 1.0)}, "strictly increasing"),
        ({"strategy": "edges", "edges": (0.0, math.inf)}, "finite"),
        ({"edges": (1.0, 2.0)}, "None unless strategy='edges'"),
        ({"top_k": -1}, "Binning.top_k"),
        ({"kind": "text"}, "Binning.kind"),
        ({"sd_width": 0}, "Binning.sd_width"),
    ],
)
def test_config_is_validated_with_one_message_format(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(es.ParameterError, match=message):
        Binning(**kwargs)


def test_columns_are_validated(store: es.Store) -> None:
    ref_ds, _ = log(store, pd.DataFrame({"income": [1.0, 2.0]}))
    with pytest.raises(es.ParameterError, match="Did you mean 'income'"):
        fit_binnings(ref_ds, ["incom"])
    with pytest.raises(es.ParameterError, match="Timestamps, embeddings and lists are not binned"):
        fit_binnings(ref_ds, ["timestamp"])
    with pytest.raises(es.ParameterError, match="distinct"):
        fit_binnings(ref_ds, ["income", "income"])


def test_round_trip_and_fingerprint(store: es.Store, tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    ref_ds, _ = log(
        store, pd.DataFrame({"x": rng.normal(0, 1, 300), "c": rng.choice(["a", "b"], 300)})
    )
    for strategy in ("quantile", "median_centered", "equal_width"):
        fitted = fit_binnings(ref_ds, config=Binning(strategy=strategy))
        for b in fitted.values():
            path = tmp_path / "b.json"
            path.write_text(json.dumps(b.to_dict(), allow_nan=False))
            again = Binning.from_dict(json.loads(path.read_text()))
            assert again == b and again.fingerprint == b.fingerprint
            assert again.labels == b.labels
    unfitted = Binning(strategy="edges", edges=(1.0, 2.0))
    assert Binning.from_dict(unfitted.to_dict()) == unfitted
    data = fitted["x"].to_dict()
    assert fitted["x"].fingerprint != Binning().fit(ref_ds, "c").fingerprint
    data["fitted"]["edges"][1] += 0.5
    with pytest.raises(es.ParameterError, match="fingerprint"):
        Binning.from_dict(data)
    with pytest.raises(es.ParameterError, match="format 1"):
        Binning.from_dict({"format": 99})
