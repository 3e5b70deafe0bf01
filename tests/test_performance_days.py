"""performance() overall from the days the store's profiles keep (``analyses/_days.py``):
each day of each (environment, version) is computed once and a range's days merged before
the metrics are finished.

Oracles: the same call reading the rows (the profiles off: one query over the range), and
scikit-learn on the rows; for the merge of means and variances, NumPy on random splits.
Checked after new inferences in the last day, late actuals, on ranges with partial days at
their edges, for regression (means and variances), and where the profiles cannot serve (a
filter, a residual quantile, a range read once outside the warmer).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss, roc_auc_score

import evalstore as es
import test_slices_days
from evalstore.analyses import _days, _merged
from evalstore.analyses.binning import Binning
from evalstore.analyses.metrics import get_metric
from evalstore.analyses.metrics._base import actual_rows_only, counts_actual_rows, no_rows
from evalstore.analyses.metrics._inputs import prepare
from evalstore.analyses.performance import PerformanceResult, performance
from evalstore.dataset import Dataset
from evalstore.schema import Task
from test_slices import SCHEMA
from test_slices_days import production, rows, spy_days

Model = tuple[es.Model, dict[str, pd.DataFrame], dict[str, Binning]]

# the fixtures of the slices' days: a store that keeps profiles, a binary model in it
store = test_slices_days.store
model = test_slices_days.model


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """The selections performance() reads rows of through the profiles (versions, start,
    end)."""
    return spy_days(monkeypatch, _days)


def direct(ds: Dataset, metrics: Any = None) -> PerformanceResult:
    """The same call with the profiles off: one query over the range, from the rows."""
    kept = ds._store.profiles
    assert kept is not None
    kept.enabled = False
    try:
        assert ds._store.profiles is None
        return performance(ds, metrics)
    finally:
        kept.enabled = True


def kept(ds: Dataset, metrics: Any = None) -> PerformanceResult:
    """The call as the UI's warmer makes it: the range's days kept from this first read."""
    with _merged.keeping():
        return performance(ds, metrics)


def close(a: Any, b: Any, where: str) -> None:
    """Equal, floats to 1e-12 relative (a sum over days adds in another order)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for k in a:
            close(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            close(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and not isinstance(b, bool):
        assert isinstance(b, (int, float)), where
        assert a == pytest.approx(b, rel=1e-12, abs=1e-14) or (math.isnan(a) and math.isnan(b))
    else:
        assert a == b, where


def same(got: PerformanceResult, want: PerformanceResult) -> None:
    """Every metric's row equal: counts exactly, values, intervals and details to 1e-12."""
    assert got.metrics == want.metrics and len(got.rows) == len(want.rows) == len(want.metrics)
    for a, b in zip(got.rows, want.rows, strict=True):
        close(a, b, a["metric"])


def test_days_equal_the_rows_and_sklearn(model: Model, reads: list[tuple[Any, ...]]) -> None:
    """Every default binary metric (counts, means and variances, the calibration bins, the
    score histogram) of a week from its days: equal to the rows' and to scikit-learn; read
    again, nothing is read; one version alone reuses the days of both."""
    m, frames, _ = model
    ds = m.dataset(environment="production", start="2024-03-01", end="2024-03-07")
    want = direct(ds)
    assert want.queries == 3 and {"log_loss", "brier", "ece", "roc_auc"} <= set(want.metrics)
    got = kept(ds)
    same(got, want)
    assert reads == [(("v1", "v2"), datetime(2024, 3, 1), datetime(2024, 3, 7))]
    frame = production(frames)
    known = frame[frame["y"].notna()]
    assert got.get("roc_auc")["n"] == len(known)
    assert got.value("roc_auc") == pytest.approx(roc_auc_score(known["y"], known["score"]), 1e-4)
    assert got.value("log_loss") == pytest.approx(log_loss(known["y"], known["score"]), 1e-12)
    again = performance(ds)
    assert again.queries == 0 and len(reads) == 1
    same(again, want)

    v2 = m.dataset(environment="production", version="v2", start="2024-03-01", end="2024-03-07")
    alone = performance(v2)
    assert alone.queries == 0 and len(reads) == 1
    same(alone, direct(v2))


def test_a_batch_makes_only_its_day_read_again(model: Model, reads: list[tuple[Any, ...]]) -> None:
    """New inferences in the last day of v1: only that day of v1 is read again, in the
    main query and the two extra ones. Late actuals of rows of every day: every day is
    read again; equal to the rows' each time."""
    m, frames, _ = model
    ds, late, rng = kept_then_batch(m, reads, "2024-03-07", 300, pd.Timestamp("2024-03-06T12:00"))
    after = read_after_batch(ds, reads, datetime(2024, 3, 6))
    assert after.queries == 3
    assert after.get("accuracy")["n_without_actual"] == want_missing(frames) + 300

    reads.clear()
    log_their_actuals(m, late, rng)
    again = performance(ds)
    assert reads == [(("v1", "v2"), datetime(2024, 3, 1), datetime(2024, 3, 7))]
    same(again, direct(ds))
    assert again.get("accuracy")["n_without_actual"] == want_missing(frames)


def kept_then_batch(
    m: es.Model, reads: list[tuple[Any, ...]], end: str, n: int, at: pd.Timestamp
) -> tuple[Dataset, pd.DataFrame, np.random.Generator]:
    """Production from March 1st to ``end``, its days kept; then ``n`` new inferences of
    v1 (no actuals) over half a day from ``at``; the reads recorded from then on."""
    ds = m.dataset(environment="production", start="2024-03-01", end=end)
    kept(ds)
    reads.clear()
    rng = np.random.default_rng(n)
    late = rows(rng, n, 100 * n + 10_000, at, 0.5)
    m.log(late.drop(columns="y"), schema=SCHEMA, version="v1", environment="production")
    return ds, late, rng


def read_after_batch(ds: Dataset, reads: list[tuple[Any, ...]], day: datetime) -> PerformanceResult:
    """``performance(ds)`` after :func:`kept_then_batch` into ``day``: only that day of v1
    is read again, and the metrics equal the rows'."""
    after = performance(ds)
    assert reads == [(("v1",), day, day + timedelta(days=1))]
    same(after, direct(ds))
    return after


def log_their_actuals(m: es.Model, late: pd.DataFrame, rng: np.random.Generator) -> None:
    """The actuals of :func:`kept_then_batch`'s inferences, late."""
    actuals = pd.DataFrame({"id": late["id"], "y": rng.integers(0, 2, len(late))})
    m.log_actuals(actuals, prediction_id="id", actual="y", environment="production")


def want_missing(frames: dict[str, pd.DataFrame]) -> int:
    return int(production(frames)["y"].isna().sum())


def test_partial_days_at_the_edges(model: Model, reads: list[tuple[Any, ...]]) -> None:
    """A range from and to the middle of a day: its whole days are kept, its edges read
    each time; equal to the rows'."""
    m, _, _ = model
    start, end = pd.Timestamp("2024-03-02T06:30"), pd.Timestamp("2024-03-05T18:15")
    ds = m.dataset(environment="production", start=start, end=end)
    want = direct(ds)
    same(kept(ds), want)
    reads.clear()
    again = performance(ds)
    assert sorted(r[1:] for r in reads) == [
        (datetime(2024, 3, 2, 6, 30), datetime(2024, 3, 3)),
        (datetime(2024, 3, 5), datetime(2024, 3, 5, 18, 15)),
    ]
    same(again, want)


def test_a_range_read_once_reads_the_rows(model: Model, reads: list[tuple[Any, ...]]) -> None:
    """Outside the warmer, a range's first read reads the rows (computing by day costs
    more) and its second keeps its days; a filtered selection always reads the rows."""
    m, _, _ = model
    ds = m.dataset(environment="production", start="2024-03-02", end="2024-03-06")
    first = performance(ds)
    assert first.queries == 3 and reads == []
    same(performance(ds), first)
    assert len(reads) == 1 and performance(ds).queries == 0

    sliced = m.dataset(environment="production", where={"member": True})
    got = kept(sliced)
    assert got.queries == 3 and len(reads) == 1
    same(got, direct(sliced))


def test_regression_means_and_variances_merge_a_quantile_does_not(
    store: es.Store,
    reads: list[tuple[Any, ...]],
) -> None:
    """A regression model's MAE, RMSE, MAPE and mean error (means and standard deviations)
    from their days equal the rows'; a residual quantile and R² (a covariance, for its
    interval) do not merge across days: the rows are read, as without profiles."""
    rng = np.random.default_rng(11)
    n = 2000
    frame = pd.DataFrame(
        {
            "id": np.arange(n),
            "ts": pd.Timestamp("2024-03-01")
            + pd.to_timedelta(np.sort(rng.random(n)) * 5 * 86400, unit="s"),
            "temp": rng.normal(15, 8, n),
            "yhat": rng.normal(1e4, 20, n),  # large values, small spread: a variance's test
        }
    )
    frame["y"] = frame["yhat"] + rng.normal(3, 5, n)
    schema = es.Schema(prediction_id="id", timestamp="ts", features=["temp"],
                       prediction_score="yhat")  # fmt: skip
    reg = store.model("days-regression", task="regression")
    reg.log(frame.drop(columns="y"), schema=schema, version="v1", environment="production")
    reg.log_actuals(frame[["id", "y"]], prediction_id="id", actual="y", environment="production")
    ds = reg.dataset(environment="production", start="2024-03-01", end="2024-03-06")
    metrics = ["mae", "rmse", "mse", "mape", "mean_error"]
    want = direct(ds, metrics)
    same(kept(ds, metrics), want)
    again = performance(ds, metrics)
    assert again.queries == 0 and len(reads) == 1
    same(again, want)
    errors = frame["yhat"] - frame["y"]
    assert again.value("mae") == pytest.approx(np.abs(errors).mean(), rel=1e-12)

    for other in (["mae", "residual_p50"], ["r2"]):
        got = kept(ds, other)
        assert got.queries == 1 and len(reads) == 1
        same(got, direct(ds, other))


@pytest.mark.parametrize("seed", range(6))
def test_a_variance_over_days_equals_numpy(seed: int) -> None:
    """The merge of days' (count, mean, population variance) against NumPy on random
    splits, with empty days and days of one value; a mean alike."""
    rng = np.random.default_rng(seed)
    values = rng.normal(rng.uniform(-1e3, 1e3), rng.uniform(0.01, 50), rng.integers(2, 400))
    cuts = np.sort(rng.integers(0, len(values) + 1, rng.integers(1, 8)))
    days = [d for d in np.split(values, cuts)]
    got = []
    for d in days:
        got.append(
            {
                "s__n": len(d),
                "s__m": float(d.mean()) if len(d) else None,
                "s__v": float(d.var()) if len(d) else None,
                "m__n": len(d),
                "m": float(d.mean()) if len(d) else None,
            }
        )
    columns = [
        _days._Column("s", "variance", ("s__n", "s__m", "s__v"), ddof=1, root=True),
        _days._Column("m", "mean", ("m__n", "m")),
    ]
    merged = _days._merge_main(got, columns)
    assert merged["s"] == pytest.approx(values.std(ddof=1), rel=1e-10)
    assert merged["m"] == pytest.approx(values.mean(), rel=1e-12)
    pop = _days._Column("v", "variance", ("s__n", "s__m", "s__v"))
    assert _days._variance(got, pop) == pytest.approx(values.var(), rel=1e-10)
    one = [{"s__n": 1, "s__m": 5.0, "s__v": 0.0}]
    assert _days._variance(one, columns[0]) is None  # a sample variance of one value: NULL


def test_a_dataset_like_object_reads_its_rows(model: Model) -> None:
    """Any object with ``table`` and ``execute`` (not a Dataset: no store, no profiles)
    gets the same metrics, from its rows."""
    m, _, _ = model
    ds = m.dataset(environment="production", start="2024-03-01", end="2024-03-07")
    like = SimpleNamespace(table=ds.table, execute=ds.execute, task=ds.task)
    with _merged.keeping():
        got = performance(like)  # type: ignore[arg-type]
    assert got.queries == 3
    same(got, direct(ds))


def test_a_day_without_actuals_runs_only_the_main_query(
    model: Model, reads: list[tuple[Any, ...]]
) -> None:
    """A batch of new inferences into a day of their own (their actuals come later): that
    day's histogram and calibration bins, of rows with an actual, are not asked of the
    engine, and the metrics equal the rows'; once their actuals come, every query runs."""
    m, _, _ = model
    ds, late, rng = kept_then_batch(m, reads, "2024-03-08", 400, pd.Timestamp("2024-03-07T02:00"))
    after = read_after_batch(ds, reads, datetime(2024, 3, 7))
    assert after.queries == 1

    log_their_actuals(m, late, rng)
    again = performance(ds)
    assert again.queries == 3 * len(reads[1:])  # every day read again, every query run
    same(again, direct(ds))


def test_which_queries_read_rows_with_an_actual_only() -> None:
    """The score histograms (binned and exact) and the calibration bins keep only rows with
    an actual; a query of every row, or a union with one, does not."""
    t = ibis.table(
        {"prediction_score": "float64", "prediction_label": "int64", "actual_label": "int64"},
        name="evalstore_selection",
    )
    m = prepare(t, Task.BINARY_CLASSIFICATION, {"k": ibis.literal(0)}, score_bins=1024)
    for key in ("roc_auc", "roc_auc_exact", "ece"):
        (query,) = get_metric(key).queries_for(m).values()
        assert actual_rows_only(query, m), key
        assert no_rows(query) is not None and no_rows(query).num_rows == 0  # type: ignore[union-attr]
    every = m.table.group_by("k").aggregate(n=m.table.count())
    assert not actual_rows_only(every, m)
    both = m.table.filter(m.has_actual & m.score.notnull())
    assert actual_rows_only(both.group_by("k").aggregate(n=both.count()), m)
    union = ibis.union(both.group_by("k").aggregate(n=both.count()), every)
    assert not actual_rows_only(union, m)


def test_which_aggregates_count_rows_with_an_actual_only() -> None:
    """A binary model's confusion counts (the accuracy's, the F1's) count rows with an
    actual only: 0 where there are none; a count without that filter, one where the filter
    is an alternative, or a sum, are not counts of them."""
    t = ibis.table(
        {"prediction_score": "float64", "prediction_label": "int64", "actual_label": "int64"},
        name="evalstore_selection",
    )
    m = prepare(t, Task.BINARY_CLASSIFICATION, {"k": ibis.literal(0)})
    for key in ("accuracy", "f1", "recall"):
        aggregates = get_metric(key).aggregates_for(m)
        assert aggregates, key
        assert all(counts_actual_rows(a.op(), m) for a in aggregates.values()), key
    rows, has = m.table, m.has_actual
    assert counts_actual_rows(rows.count(where=m.score.notnull() & (has & m.is_positive)).op(), m)
    assert counts_actual_rows(m.score.count(where=has).op(), m)
    assert not counts_actual_rows(rows.count().op(), m)
    assert not counts_actual_rows(rows.count(where=~has).op(), m)
    assert not counts_actual_rows(rows.count(where=has | m.is_positive).op(), m)
    assert not counts_actual_rows(m.score.sum(where=has).op(), m)
