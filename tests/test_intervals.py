"""Confidence intervals of every scalar metric, against oracles computed on the rows.

- ``"normal"`` means (log loss, Brier, MAE, MSE, mean error, MAPE, sMAPE): NumPy's
  mean +- z * sd / sqrt(n) of the per-row values, clipped to the metric's range.
- ``"normal"`` by the delta method: WAPE and R² against the centred NumPy formula of
  their influence functions; average precision against the numerical derivative of
  scikit-learn's ``average_precision_score`` by each row's sample weight (the sum of
  its squares is the delta-method variance), on the logit scale.
- ``"bootstrap"`` (F1, the macro and weighted averages, ECE): against a NumPy row
  bootstrap that recomputes the metric with scikit-learn on each resample.
- every interval: against a row bootstrap (loosely), holding its point value,
  shrinking as 1/sqrt(n), deterministic, and None or degenerate (never NaN) when the
  group is too small or constant.

Tolerance against a row bootstrap: for F1 and the averages, resampling the confusion
matrix's cells *is* resampling the rows, so the two percentile intervals estimate the
same quantiles and differ only by Monte Carlo error. The sd of a 2.5% (or 97.5%)
quantile of B draws is sqrt(0.025 * 0.975 / B) / phi(1.96) standard errors: 0.085 for
our B = 1000, 0.060 for the oracle's 2000, so their difference has an sd of 0.104
standard errors; 0.5 is 4.8 sd (and the seeds are fixed: no flakes). ECE's replicas
hold the bin mean scores; measured within 0.3. The normal and delta-method intervals
reach the same quantiles another way, so 0.75: at 500 rows the furthest is AP's lower
endpoint, 0.49 below the bootstrap's, and in a simulation (400 samples each of 100 to
2000 rows) the logit AP interval covered 93-96% of the true AP where the percentile
row bootstrap covered 91-96%: the gap is the percentile bootstrap's own bias.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom
from sklearn import metrics as skm

import evalstore as es
from evalstore.analyses.metrics import available_metrics, classification, get_metric
from evalstore.analyses.metrics._intervals import (
    BOOTSTRAP_REPLICAS,
    bootstrap,
    linear_quantiles,
    normal,
)
from evalstore.analyses.metrics.ranking import BINS
from evalstore.analyses.metrics.regression import R2_MAX_OFFSET
from evalstore.analyses.performance import performance
from test_metrics import BINARY, CLASSES, MULTICLASS, REGRESSION, log, make_frame

Z95 = NormalDist().inv_cdf(0.975)
EPS = float(np.finfo(np.float64).eps)
KINDS = ("wilson", "delong", "normal", "bootstrap")
BOOTSTRAPPED = ("f1", "precision_macro", "recall_macro", "f1_macro", "precision_weighted",
                "f1_weighted", "ece")  # fmt: skip
#: documented gaps: metrics with an interval kind but none for these tasks, and none at all
BINARY_ONLY = {"roc_auc", "roc_auc_exact", "pr_auc", "pr_auc_exact"}
NO_INTERVAL = {f"residual_{q}" for q in ("p05", "p25", "p50", "p75", "p95")}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[es.Store]:
    with es.connect(tmp_path_factory.mktemp("intervals") / "s") as s:
        yield s


_results: dict[tuple[str, int, int], tuple[pd.DataFrame, Any]] = {}


def computed(store: es.Store, task: str, n: int, seed: int = 0) -> tuple[pd.DataFrame, Any]:
    """Every metric of ``task`` on a random frame of ``n`` rows, computed once per module."""
    if (task, n, seed) not in _results:
        frame = make_frame(task, np.random.default_rng(seed), n)
        keys = [m.key for m in available_metrics(task)]
        _results[task, n, seed] = frame, performance(log(store, task, frame).dataset(), keys)
    return _results[task, n, seed]


def interval(result: Any, key: str) -> tuple[float, float]:
    row = result.get(key)
    assert row["ci_low"] is not None and row["ci_high"] is not None, key
    return row["ci_low"], row["ci_high"]


# -- the bootstrap itself ------------------------------------------------------------------


def test_bootstrap_of_a_proportion_has_binomial_endpoints() -> None:
    """Resampled counts are multinomial: the share of one cell is binomial / n."""
    n, k = 400, 120
    low, high = bootstrap(np.array([k, n - k]), lambda x: x[:, 0] / n, 0.95)
    sd = math.sqrt(0.3 * 0.7 / n)
    assert low == pytest.approx(binom.ppf(0.025, n, k / n) / n, abs=0.5 * sd)
    assert high == pytest.approx(binom.ppf(0.975, n, k / n) / n, abs=0.5 * sd)
    # the same counts, the same interval; a wider one at a higher confidence
    assert bootstrap(np.array([k, n - k]), lambda x: x[:, 0] / n, 0.95) == (low, high)
    low99, high99 = bootstrap(np.array([k, n - k]), lambda x: x[:, 0] / n, 0.99)
    assert low99 < low and high99 > high


def test_bootstrap_edge_cases() -> None:
    share = lambda x: x[:, 0] / x.sum(axis=1)  # noqa: E731
    assert bootstrap(np.array([0, 0]), share, 0.95) == (None, None)  # no rows
    assert bootstrap(np.array([5, 0]), share, 0.95) == (1.0, 1.0)  # degenerate
    assert bootstrap(np.array([5, 3]), lambda x: np.full(len(x), np.nan), 0.95) == (None, None)

    def seen(x: np.ndarray) -> np.ndarray:  # an empty cell stays empty in every replica
        assert x.shape == (BOOTSTRAP_REPLICAS, 2, 2) and not x[:, 1, 0].any()
        assert (x.sum(axis=(1, 2)) == 9).all()
        return np.asarray(x[:, 0, 0])

    low, high = bootstrap(np.array([[4, 2], [0, 3]]), seen, 0.95)
    assert low is not None and high is not None and 0 <= low <= high <= 9


# -- normal intervals: means of per-row values -----------------------------------------------


def _per_row(task: str, known: pd.DataFrame) -> dict[str, tuple[np.ndarray, tuple[Any, Any]]]:
    """The per-row values whose mean each metric is, and the metric's range."""
    if task == REGRESSION:
        y, p = known["y"].to_numpy(), known["yhat"].to_numpy()
        err = p - y
        denom = np.abs(y) + np.abs(p)
        return {
            "mae": (np.abs(err), (0.0, None)),
            "mse": (err**2, (0.0, None)),
            "mean_error": (err, (None, None)),
            "mape": (np.abs(err) / np.maximum(np.abs(y), EPS), (0.0, None)),
            "smape": (np.where(denom == 0, 0.0, 2 * np.abs(err) / np.where(denom, denom, 1)),
                      (0.0, 2.0)),
        }  # fmt: skip
    if task == BINARY:
        y, s = known["y"].to_numpy(), known["score"].to_numpy()
        p = np.clip(s, EPS, 1 - EPS)
        loss = -np.where(y == 1, np.log(p), np.log(1 - p))
        return {"log_loss": (loss, (0.0, None)), "brier": ((s - y) ** 2, (0.0, 1.0))}
    scores = known[[f"p_{c}" for c in CLASSES]].to_numpy()
    onehot = (known["y"].to_numpy()[:, None] == np.array(CLASSES)).astype(float)
    p_true = np.clip((scores * onehot).sum(axis=1), EPS, 1 - EPS)
    return {
        "log_loss": (-np.log(p_true), (0.0, None)),
        "brier": (((scores - onehot) ** 2).sum(axis=1), (0.0, 2.0)),
    }


@pytest.mark.parametrize("task", [BINARY, MULTICLASS, REGRESSION])
def test_means_carry_a_normal_interval(store: es.Store, task: str) -> None:
    frame = make_frame(task, np.random.default_rng(5), 160, missing=0.1)
    if task == REGRESSION:
        frame.loc[:1, "y"] = 0.0  # MAPE's eps
        frame.loc[2, ["y", "yhat"]] = 0.0  # sMAPE's 0 / 0
    known = frame[frame["y"].notna()]
    result = performance(log(store, task, frame).dataset(), list(_per_row(task, known)), by="grp")
    for group, part in known.groupby("grp"):
        for key, (values, (lower, upper)) in _per_row(task, part).items():
            assert get_metric(key).interval == "normal"
            row = result.get(key, grp=group)
            half = Z95 * values.std(ddof=1) / math.sqrt(len(values))
            low, high = values.mean() - half, values.mean() + half
            low = max(low, lower) if lower is not None else low
            high = min(high, upper) if upper is not None else high
            want = (low, high)
            assert (row["ci_low"], row["ci_high"]) == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_rmse_interval_is_the_root_of_mse_and_clipped(store: es.Store) -> None:
    frame = make_frame(REGRESSION, np.random.default_rng(6), 6)
    frame["yhat"] = frame["y"] + np.array([0.0, 0.0, 0.0, 0.0, 0.0, 30.0])  # skewed errors
    result = performance(log(store, REGRESSION, frame).dataset(), ["mse", "rmse", "mae"])
    mse = result.get("mse")
    assert mse["ci_low"] == 0.0  # mean - half < 0, clipped: a squared error is not negative
    rmse = result.get("rmse")
    assert rmse["ci_low"] == 0.0
    assert rmse["ci_high"] == pytest.approx(math.sqrt(mse["ci_high"]), rel=1e-12)
    assert result.get("mae")["ci_low"] == 0.0


# -- normal intervals: the delta method ----------------------------------------------------------


def _wape_r2(y: np.ndarray, p: np.ndarray) -> dict[str, tuple[float, float, float]]:
    """Value and delta-method interval of WAPE and R², from centred per-row influences."""
    n, err = len(y), p - y
    a, b = np.abs(err), np.abs(y)
    wape = a.sum() / b.sum()
    se_w = math.sqrt(np.var(a - wape * b, ddof=1) / n) / b.mean()
    e2, d2 = err**2, (y - y.mean()) ** 2
    ratio = e2.mean() / d2.mean()
    se_r = math.sqrt(np.var(e2 - ratio * d2, ddof=1) / n) / d2.mean()
    r2 = 1 - ratio
    return {
        "wape": (wape, max(0.0, wape - Z95 * se_w), wape + Z95 * se_w),
        "r2": (r2, r2 - Z95 * se_r, min(1.0, r2 + Z95 * se_r)),
    }


@pytest.mark.parametrize("offset", [0.0, 1e3, 1e6])
def test_wape_and_r2_carry_delta_method_intervals(store: es.Store, offset: float) -> None:
    """R²'s one-pass moments lose ~2 log10(|mean| / sd) digits: None past R2_MAX_OFFSET."""
    frame = make_frame(REGRESSION, np.random.default_rng(7), 120)
    frame["y"] += offset
    frame["yhat"] += offset
    result = performance(log(store, REGRESSION, frame).dataset(), ["wape", "r2"])
    want = _wape_r2(frame["y"].to_numpy(), frame["yhat"].to_numpy())
    for key in ("wape", "r2"):
        row = result.get(key)
        value, low, high = want[key]
        assert row["value"] == pytest.approx(value, rel=1e-9)
        if key == "r2" and offset > R2_MAX_OFFSET * frame["y"].std():
            assert row["ci_low"] is None and row["ci_high"] is None
            continue
        assert get_metric(key).interval == "normal"
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high), rel=1e-7)


def _ap_logit_interval(y: np.ndarray, s: np.ndarray) -> tuple[float, float, float]:
    """scikit-learn's AP and the logit-scale delta-method interval, the variance being the
    sum over rows of (d AP / d weight of the row)², by central differences."""
    ap = skm.average_precision_score(y, s)
    step, grads = 1e-5, []
    for i in range(len(y)):
        w = np.ones(len(y))
        w[i] = 1 + step
        up = skm.average_precision_score(y, s, sample_weight=w)
        w[i] = 1 - step
        grads.append((up - skm.average_precision_score(y, s, sample_weight=w)) / (2 * step))
    se = math.sqrt(float(np.sum(np.square(grads))))
    half, centre = Z95 * se / (ap * (1 - ap)), math.log(ap / (1 - ap))
    return ap, 1 / (1 + math.exp(half - centre)), 1 / (1 + math.exp(-centre - half))


def test_average_precision_carries_a_delta_method_interval(store: es.Store) -> None:
    frame = make_frame(BINARY, np.random.default_rng(8), 150)
    frame["score"] = (frame["score"] * 30).round() / 30  # ties, within and across bins
    result = performance(log(store, BINARY, frame).dataset(), ["pr_auc", "pr_auc_exact"])
    y, s = frame["y"].to_numpy().astype(int), frame["score"].to_numpy()
    for key, scores in (("pr_auc_exact", s), ("pr_auc", np.minimum(np.floor(s * BINS), BINS - 1))):
        row = result.get(key)
        ap, low, high = _ap_logit_interval(y, scores)
        assert row["value"] == pytest.approx(ap, abs=1e-12)
        # the binned AP's interval is widened by its error bound (the exact one has none)
        bound = row["detail"].get("error_bound", 0.0)
        assert (key == "pr_auc") is (bound > 0)
        low, high = max(0.0, low - bound), min(1.0, high + bound)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high), abs=1e-7), key


# -- every interval against a row bootstrap ------------------------------------------------------
#
# The oracle's statistics run on all 2000 resamples at once in NumPy (per-resample
# weights: how many times each row was drawn); each is checked equal to scikit-learn's
# on the data and on the first resamples, so the oracle stays scikit-learn's.

REPLICAS = 2000


def resample_weights(n: int, replicas: int = REPLICAS, seed: int = 99) -> np.ndarray:
    """Row bootstrap: replicas x n, how many times each row was drawn."""
    rng = np.random.default_rng(seed)
    drawn = rng.integers(0, n, (replicas, n)) + n * np.arange(replicas)[:, None]
    return np.bincount(drawn.ravel(), minlength=replicas * n).reshape(replicas, n)


def check_oracle(
    weights: np.ndarray,
    ours: dict[str, np.ndarray],
    sklearn: Callable[[np.ndarray], dict[str, float]],
) -> None:
    """The vectorised statistics equal scikit-learn's on a few resamples (row indices)."""
    for r in range(5):
        want = sklearn(np.repeat(np.arange(weights.shape[1]), weights[r]))
        for key, value in want.items():
            assert ours[key][r] == pytest.approx(value, rel=1e-9, abs=1e-12, nan_ok=True), key


def assert_close_to(result: Any, replicas: dict[str, np.ndarray]) -> None:
    """Each interval near the row bootstrap's percentile interval: within 0.5 bootstrap
    sd for a bootstrap, 0.75 for an asymptotic one (see the module doc)."""
    for key, values in replicas.items():
        finite = values[np.isfinite(values)]
        want, sd = np.quantile(finite, [0.025, 0.975]), finite.std()
        got = np.array(interval(result, key))
        tolerance = 0.5 if get_metric(key).interval == "bootstrap" else 0.75
        assert np.abs(got - want).max() <= tolerance * sd, (key, got, want, sd)


def _confusion_scores(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall, F1 (macro, weighted) of stacked confusion matrices, as
    scikit-learn's with zero_division=np.nan: undefined classes left out."""
    tp = np.diagonal(cm, axis1=1, axis2=2).astype(float)
    support, called = cm.sum(axis=2).astype(float), cm.sum(axis=1).astype(float)
    out = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for name, values in (
            ("precision", tp / called),
            ("recall", tp / support),
            ("f1", 2 * tp / (called + support)),
        ):
            defined = np.isfinite(values)
            present = np.where(defined, values, 0.0)
            out[f"{name}_macro"] = present.sum(axis=1) / defined.sum(axis=1)
            w = np.where(defined, support, 0.0)
            out[f"{name}_weighted"] = (present * w).sum(axis=1) / w.sum(axis=1)
        out["f1"] = 2 * tp[:, -1] / (called[:, -1] + support[:, -1])  # binary: of class 1
    return out


def _ece_of(weights: np.ndarray, correct: np.ndarray, conf: np.ndarray) -> np.ndarray:
    bins = np.searchsorted(np.linspace(0, 1, 11)[1:-1], conf)
    onehot = bins[:, None] == np.arange(10)
    gaps = weights @ (onehot * (correct - conf)[:, None])
    return np.abs(gaps).sum(axis=1) / weights.sum(axis=1)


def _ap_of(weights: np.ndarray, y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Average precision of weighted rows (distinct scores: one threshold per row)."""
    order = np.argsort(-s)
    w, hit = weights[:, order].astype(float), y[order].astype(float)
    tp, seen = np.cumsum(w * hit, axis=1), np.cumsum(w, axis=1)
    return (w * hit * tp / np.maximum(seen, 1)).sum(axis=1) / tp[:, -1]


@pytest.mark.parametrize("task", [BINARY, MULTICLASS])
def test_classification_intervals_agree_with_a_row_bootstrap(store: es.Store, task: str) -> None:
    frame, result = computed(store, task, 500)
    labels = [0, 1] if task == BINARY else list(CLASSES)
    y = frame["y"].to_numpy().astype(int if task == BINARY else str)
    p = frame["pred"].to_numpy().astype(int if task == BINARY else str)
    if task == BINARY:
        s = frame["score"].to_numpy()
        correct, conf = y.astype(float), s
    else:
        scores = frame[[f"p_{c}" for c in CLASSES]].to_numpy()
        correct, conf = (np.array(CLASSES)[scores.argmax(axis=1)] == y), scores.max(axis=1)
    k = len(labels)
    code = np.searchsorted(labels, y) * k + np.searchsorted(labels, p)
    weights = resample_weights(len(y))
    cells = weights @ (code[:, None] == np.arange(k * k))  # replicas x (actual, predicted)
    ours = _confusion_scores(cells.reshape(-1, k, k))
    ours["ece"] = _ece_of(weights, correct.astype(float), conf)
    if task == BINARY:
        ours["pr_auc"] = _ap_of(weights, y, s)
    else:
        del ours["f1"]

    def sklearn(i: np.ndarray) -> dict[str, float]:
        want = {}
        for name, fn in (("precision", skm.precision_score), ("recall", skm.recall_score),
                         ("f1", skm.f1_score)):  # fmt: skip
            for average in ("macro", "weighted"):
                want[f"{name}_{average}"] = fn(y[i], p[i], average=average, zero_division=np.nan)
        if task == BINARY:
            want["f1"] = skm.f1_score(y[i], p[i], zero_division=np.nan)
            want["pr_auc"] = skm.average_precision_score(y[i], s[i])
        return want

    check_oracle(weights, ours, sklearn)
    del ours["recall_weighted"]  # the accuracy: a Wilson interval
    assert all(get_metric(key).interval == "bootstrap" for key in ours if key != "pr_auc")
    assert_close_to(result, ours)


def test_regression_intervals_agree_with_a_row_bootstrap(store: es.Store) -> None:
    frame, result = computed(store, REGRESSION, 500)
    y, p = frame["y"].to_numpy(), frame["yhat"].to_numpy()
    weights = resample_weights(len(y)).astype(float)
    n = weights.sum(axis=1)
    err = p - y

    def mean(values: np.ndarray) -> np.ndarray:
        return np.asarray(weights @ values / n)

    ybar = mean(y)
    sst = weights @ (y * y) - n * ybar**2
    ours = {
        "mae": mean(np.abs(err)),
        "rmse": np.sqrt(mean(err**2)),
        "mean_error": mean(err),
        "mape": mean(np.abs(err) / np.abs(y)),
        "smape": mean(2 * np.abs(err) / (np.abs(y) + np.abs(p))),
        "wape": (weights @ np.abs(err)) / (weights @ np.abs(y)),
        "r2": 1 - (weights @ err**2) / sst,
    }

    def sklearn(i: np.ndarray) -> dict[str, float]:
        return {
            "mae": skm.mean_absolute_error(y[i], p[i]),
            "rmse": skm.root_mean_squared_error(y[i], p[i]),
            "mape": skm.mean_absolute_percentage_error(y[i], p[i]),
            "r2": skm.r2_score(y[i], p[i]),
        }

    check_oracle(weights.astype(int), ours, sklearn)
    assert_close_to(result, ours)


# -- properties every interval has ---------------------------------------------------------------


@pytest.mark.parametrize("task", [BINARY, MULTICLASS, REGRESSION])
def test_every_metric_has_the_interval_it_describes(store: es.Store, task: str) -> None:
    """An interval exactly where ``Metric.interval`` says (the documented gaps aside),
    holding the point value; the same numbers from a second, identical call."""
    frame, result = computed(store, task, 500)
    again = performance(log(store, task, frame).dataset(), result.metrics)
    for key in result.metrics:
        metric, row = get_metric(key), result.get(key)
        assert metric.interval in (*KINDS, None), key
        gap = key in NO_INTERVAL or (task == MULTICLASS and key in BINARY_ONLY)
        if metric.structured or gap or metric.interval is None:
            assert metric.interval is None or gap, key
            assert row["ci_low"] is None and row["ci_high"] is None, key
            continue
        low, high = interval(result, key)
        assert math.isfinite(low) and low <= row["value"] <= high, key
        assert (again.get(key)["ci_low"], again.get(key)["ci_high"]) == (low, high), key
    for key in NO_INTERVAL & set(result.metrics):
        assert "no interval" in get_metric(key).description
    for key in BINARY_ONLY & set(result.metrics):
        assert "(binary only)" in get_metric(key).description


@pytest.mark.parametrize("task", [BINARY, MULTICLASS, REGRESSION])
def test_intervals_shrink_as_one_over_root_n(store: es.Store, task: str) -> None:
    """4x the rows, half the width: 2x, within [1.5, 2.6] (two different samples, each
    interval's width an estimate; Monte Carlo noise for the bootstraps)."""
    _, small = computed(store, task, 500)
    _, large = computed(store, task, 2000)
    for key in small.metrics:
        row = small.get(key)
        # mape: actuals near 0 give its per-row values a tail too heavy for a variance
        if row["ci_low"] is None or key == "mape":
            continue
        width = row["ci_high"] - row["ci_low"]
        ratio = width / (large.get(key)["ci_high"] - large.get(key)["ci_low"])
        assert 1.5 <= ratio <= 2.6, (key, ratio)


def test_a_higher_confidence_gives_a_wider_interval(store: es.Store) -> None:
    frame, _ = computed(store, BINARY, 500)
    ds = log(store, BINARY, frame).dataset()
    keys = ["f1", "f1_macro", "ece", "pr_auc", "log_loss", "accuracy", "roc_auc"]
    narrow, wide = performance(ds, keys, confidence=0.8), performance(ds, keys, confidence=0.99)
    for key in keys:
        assert wide.get(key)["ci_low"] < narrow.get(key)["ci_low"], key
        assert wide.get(key)["ci_high"] > narrow.get(key)["ci_high"], key


# -- small and constant groups: None or degenerate, never NaN -----------------------------------


def _rows(store: es.Store, task: str, frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    keys = [m.key for m in available_metrics(task) if not m.structured]
    result = performance(log(store, task, frame).dataset(), keys, task=task)
    return {key: result.get(key) for key in keys}


def _no_nan(rows: dict[str, dict[str, Any]]) -> None:
    for key, row in rows.items():
        low, high = row["ci_low"], row["ci_high"]
        assert (low is None) == (high is None), key
        if low is not None:
            assert math.isfinite(low) and math.isfinite(high) and low <= high, key
            assert row["value"] is not None and low <= row["value"] <= high, key


@pytest.mark.parametrize("task", [BINARY, MULTICLASS, REGRESSION])
def test_one_row_has_no_interval_but_the_bootstrap_s(store: es.Store, task: str) -> None:
    """One row: nothing to estimate a spread from, except a resample of it: degenerate."""
    rows = _rows(store, task, make_frame(task, np.random.default_rng(9), 1))
    _no_nan(rows)
    for key, row in rows.items():
        if row["ci_low"] is not None:
            assert get_metric(key).interval in ("wilson", "bootstrap"), key
            if get_metric(key).interval == "bootstrap":
                assert row["ci_low"] == row["ci_high"] == row["value"], key


def test_constant_and_one_class_groups(store: es.Store) -> None:
    rng = np.random.default_rng(10)
    frame = make_frame(BINARY, rng, 60)
    frame["y"], frame["pred"] = 1.0, 1  # one class, every prediction right
    rows = _rows(store, BINARY, frame)
    _no_nan(rows)
    # F1 1 with no error: not [1, 1] (the bootstrap's), Wilson's 60 of 60 mapped to F1
    j_low = NormalDist().inv_cdf(0.975) ** 2 / 60
    j_low = 1 / (1 + j_low)  # Wilson's lower end at k = n: n / (n + z^2)
    assert rows["f1"]["value"] == 1.0 and rows["f1"]["ci_high"] == 1.0
    assert rows["f1"]["ci_low"] == pytest.approx(2 * j_low / (1 + j_low), abs=1e-12)
    assert rows["pr_auc"]["value"] == 1.0 and rows["pr_auc"]["ci_low"] == 1.0
    assert rows["roc_auc"]["value"] is None and rows["roc_auc"]["ci_low"] is None
    frame = make_frame(BINARY, rng, 60)
    frame["score"] = 0.5  # all scores equal
    _no_nan(_rows(store, BINARY, frame))
    frame = make_frame(REGRESSION, rng, 60)
    frame["yhat"] = frame["y"] + 2.0  # every error 2 (up to rounding): degenerate means
    rows = _rows(store, REGRESSION, frame)
    _no_nan(rows)
    for key in ("mae", "mean_error", "mse", "rmse"):
        assert rows[key]["ci_low"] == pytest.approx(rows[key]["ci_high"], abs=1e-9), key
    frame = make_frame(MULTICLASS, rng, 60)
    frame["y"] = "bee"
    _no_nan(_rows(store, MULTICLASS, frame))


def test_a_huge_confusion_matrix_gets_no_bootstrap(
    store: es.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past MAX_BOOTSTRAP_CELLS non-empty cells the draws would cost too much: None."""
    frame, _ = computed(store, MULTICLASS, 500)
    ds = log(store, MULTICLASS, frame).dataset()
    monkeypatch.setattr(classification, "MAX_BOOTSTRAP_CELLS", 8)  # 3 classes: 9 cells
    row = performance(ds, ["f1_macro"]).get("f1_macro")
    assert row["value"] is not None and row["ci_low"] is None and row["ci_high"] is None


def test_normal_helper_refuses_what_it_cannot_bound() -> None:
    assert normal(1.0, 0.5, 1, 0.95) == (None, None)
    assert normal(1.0, math.inf, 10, 0.95) == (None, None)
    assert normal(math.nan, 1.0, 10, 0.95) == (None, None)
    assert normal(1.0, 0.0, 10, 0.95) == (1.0, 1.0)
    assert normal(0.1, 1.0, 4, 0.95, lower=0.0, upper=0.5) == (0.0, 0.5)


def test_linear_quantiles_are_numpys_to_the_last_bit() -> None:
    """The bootstrap's percentiles without np.quantile (which imports numpy.ma, 70 ms of a
    fresh process): the same bits, ends and ties included."""
    rng = np.random.default_rng(3)
    qs = [0.0, 0.025, 0.05, 0.25, 0.5, 0.5000001, 0.75, 0.975, 1.0]
    for n in (1, 2, 3, 10, 999, 1000, 1001):
        for values in (rng.normal(0, 1, n), rng.integers(0, 3, n).astype(float), np.full(n, 7.5)):
            want = np.quantile(values, qs)
            np.testing.assert_array_equal(linear_quantiles(values, qs), want)


def test_an_auc_of_few_positives_is_not_known_exactly(store: es.Store) -> None:
    """Two positives both scored above every negative: AUC 1 and a DeLong variance of 0,
    an interval [1, 1]. With fewer than ranking.FEW positives or negatives, or a variance
    of 0, the interval holds the Wilson interval of the AUC over min(P, N) trials (the
    largest variance an AUC can have, Birnbaum and Klose): scipy's for 2 of 2 here. (Many
    of both, with a spread, keep DeLong's: test_performance holds it to a NumPy DeLong.)"""
    from scipy.stats import binomtest

    n = 400
    frame = make_frame(BINARY, np.random.default_rng(7), n)
    frame["y"] = 0
    top = frame["score"].nlargest(2).index
    frame.loc[top, "y"] = 1
    result = performance(log(store, BINARY, frame).dataset(), ["roc_auc_exact"])
    row = result.get("roc_auc_exact")
    assert row["value"] == 1.0
    want = binomtest(2, 2).proportion_ci(0.95, method="wilson")
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((want.low, want.high), abs=1e-12)


@pytest.mark.parametrize(("tp", "fp", "fn"), [(0, 3, 4), (6, 0, 0), (3, 1, 2)])
def test_an_f1_of_few_hits_or_errors_is_not_known_exactly(
    store: es.Store, tp: int, fp: int, fn: int
) -> None:
    """No true positive among 7 rows gave F1 0 in [0, 0] (every bootstrap replica leaves
    the empty cell empty); no error gave 1 in [1, 1]. F1 = 2J / (1 + J), J the share of
    true positives among the rows predicted or actually positive: with fewer than 10 of
    either, the interval holds scipy's Wilson interval of J mapped through 2J / (1 + J)."""
    from scipy.stats import binomtest

    tn = 40
    y = [1] * tp + [0] * fp + [1] * fn + [0] * tn
    pred = [1] * tp + [1] * fp + [0] * fn + [0] * tn
    frame = make_frame(BINARY, np.random.default_rng(3), len(y))
    frame["y"], frame["pred"] = np.array(y, dtype="float64"), np.array(pred, dtype="int64")
    row = performance(log(store, BINARY, frame).dataset(), ["f1"]).get("f1")
    assert row["value"] == pytest.approx(skm.f1_score(y, pred, zero_division=np.nan), abs=1e-12)
    ci = binomtest(tp, tp + fp + fn).proportion_ci(0.95, method="wilson")
    low, high = (2 * j / (1 + j) for j in (ci.low, ci.high))
    assert row["ci_low"] <= low + 1e-12 and row["ci_high"] >= high - 1e-12
    if min(tp, fp + fn) == 0:  # the bootstrap's interval is a point: Wilson's is the interval
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high), abs=1e-12)
    assert row["ci_high"] - row["ci_low"] > 0.2
