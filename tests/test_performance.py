"""performance(): groups (time windows, environment, version, slices, bins), intervals,
positive class and threshold, errors, the result's shape, and the real census data.

Oracles: scikit-learn per group (through ``test_metrics.expected_metrics``), pandas for
the groups, scipy's Wilson interval, a NumPy DeLong, and on ``census_employment_ma``
scikit-learn's ``roc_auc_score`` against the binned AUC and its error bound.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest
from sklearn import metrics as skm

import evalstore as es
from evalstore.analyses.binning import Binning, histograms
from evalstore.analyses.metrics import available_metrics, wilson
from evalstore.analyses.performance import ROW_FIELDS, PerformanceResult, performance
from evalstore.analyses.quality import quality
from evalstore.analyses.slices import slices
from evalstore.errors import NotFittedError, ParameterError
from test_metrics import (
    BINARY,
    CLASSES,
    MULTICLASS,
    REGRESSION,
    assert_metric,
    expected_metrics,
    log,
    make_frame,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
Z95 = NormalDist().inv_cdf(0.975)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[es.Store]:
    with es.connect(tmp_path_factory.mktemp("performance") / "s") as s:
        yield s


def delong(y: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    """AUC and DeLong's variance from the placement values (mid-ranks for ties)."""
    pos, neg = s[y == 1], s[y == 0]
    neg_sorted, pos_sorted = np.sort(neg), np.sort(pos)
    below = np.searchsorted(neg_sorted, pos, "left")
    tied = np.searchsorted(neg_sorted, pos, "right") - below
    v10 = (below + 0.5 * tied) / len(neg)
    above = len(pos) - np.searchsorted(pos_sorted, neg, "right")
    tied = np.searchsorted(pos_sorted, neg, "right") - np.searchsorted(pos_sorted, neg, "left")
    v01 = (above + 0.5 * tied) / len(pos)
    return float(v10.mean()), float(v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg))


def check_groups(
    task: str, frame: pd.DataFrame, result: PerformanceResult, key: str, column: str = ""
) -> None:
    """Every row of ``result``, grouped on ``key``, matches the oracle on the rows of
    ``frame`` with that value in ``column`` (default: ``key``)."""
    groups = frame.groupby(column or key, dropna=False, sort=True)
    assert len(result.rows) == groups.ngroups * len(result.metrics)
    for value, part in groups:
        value = value[0] if isinstance(value, tuple) else value
        value = None if pd.isna(value) else value
        if isinstance(value, pd.Timestamp):
            value = value.to_pydatetime()
        want = expected_metrics(task, part, result.metrics)
        for metric in result.metrics:
            row = result.get(metric, **{key: value})
            assert row["n_without_actual"] == int(part["y"].isna().sum())
            assert_metric(metric, row, want[metric])


# -- groups ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("by", "oracle"),
    [
        ("hour", lambda ts: ts.dt.floor("h")),
        ("day", lambda ts: ts.dt.floor("D")),
        ("week", lambda ts: ts.dt.to_period("W-SUN").dt.start_time),  # weeks from Monday
        ("month", lambda ts: ts.dt.to_period("M").dt.start_time),
        ("year", lambda ts: ts.dt.to_period("Y").dt.start_time),
    ],
)
def test_time_windows_match_pandas(store: es.Store, by: str, oracle: Any) -> None:
    frame = make_frame(BINARY, np.random.default_rng(11), 150, missing=0.2)
    frame["ts"] = pd.Timestamp("2023-12-20") + pd.to_timedelta(np.arange(150) * 31, unit="h")
    frame[by] = oracle(frame["ts"])
    ds = log(store, BINARY, frame).dataset()
    result = performance(ds, ["accuracy", "recall", "roc_auc", "log_loss"], by=by)
    assert result.by == [by]
    check_groups(BINARY, frame, result, by)


def test_environment_version_and_slice(store: es.Store) -> None:
    frame = make_frame(MULTICLASS, np.random.default_rng(5), 240, missing=0.25)
    frame["env"] = np.where(np.arange(240) % 3 == 0, "training", "production")
    frame["ver"] = np.where(np.arange(240) % 2 == 0, "v1", "v2")
    model = store.model("envs", task=MULTICLASS)
    schema = es.Schema(
        prediction_id="id", timestamp="ts", tags=["grp"], features=[], prediction_label="pred",
        prediction_score={c: f"p_{c}" for c in CLASSES}, actual_label="y",
    )  # fmt: skip
    for (env, ver), part in frame.groupby(["env", "ver"]):
        model.log(part, schema=schema, version=ver, environment=env)
    keys = ["accuracy", "f1_macro", "precision_weighted", "roc_auc", "log_loss", "ece"]
    result = performance(model.dataset(), keys, by=["environment", "version", "grp"])
    assert result.by == ["environment", "version", "grp"]
    groups = frame.groupby(["env", "ver", "grp"])
    assert len(result.rows) == groups.ngroups * len(keys)
    for (env, ver, grp), part in groups:
        want = expected_metrics(MULTICLASS, part, keys)
        for key in keys:
            row = result.get(key, environment=env, version=ver, grp=grp)
            assert row["n_without_actual"] == int(part["y"].isna().sum())
            assert_metric(key, row, want[key])
    # sorted by group, metrics in the order asked
    order = [(r["environment"], r["version"], r["grp"]) for r in result.rows]
    assert order == sorted(order)
    assert [r["metric"] for r in result.rows[: len(keys)]] == keys


def test_numeric_slices_on_bin_edges(store: es.Store) -> None:
    rng = np.random.default_rng(8)
    frame = make_frame(REGRESSION, rng, 200, missing=0.1)
    frame["age"] = rng.normal(45, 20, 200).round()
    frame.loc[::17, "age"] = np.nan
    model = store.model("ages", task=REGRESSION)
    schema = es.Schema(
        prediction_id="id", timestamp="ts", features=["age"], prediction_score="yhat"
    )
    model.log(frame, schema=schema, version="v1", environment="production")
    model.log_actuals(frame[frame["y"].notna()], prediction_id="id", actual="y")

    class Fitted:  # what a fitted binning offers
        edges = None
        edges_ = (30, 45.5, 60)

    for spec in ([30, 45.5, 60], Fitted()):
        result = performance(
            model.dataset(), ["mae", "r2", "residual_p50"], by="age", bins={"age": spec}
        )
        labels = pd.cut(frame["age"], [-np.inf, 30, 45.5, 60, np.inf], right=False)
        names = ["< 30", "[30, 45.5)", "[45.5, 60)", ">= 60"]
        names = dict(zip(labels.cat.categories, names, strict=True))
        frame["age_bin"] = labels.map(names).astype(object)
        check_groups(REGRESSION, frame, result, "age", "age_bin")
        assert [r["age"] for r in result.rows[::3]] == [
            "< 30",
            "[30, 45.5)",
            "[45.5, 60)",
            ">= 60",
            None,
        ]


def binning_labels(values: pd.Series, b: Binning) -> pd.Series:
    """Each value's label in ``b.labels``, by NumPy: the oracle of the Binning semantics."""
    labels = np.array(b.labels, dtype=object)
    if b.kind_ == "categorical":
        cats = list(b.categories_ or ())
        present = values.notna().to_numpy()
        index = np.array([cats.index(v) if v in cats else len(cats) for v in values])
        return pd.Series(labels[np.where(present, index, len(cats) + 1)], index=values.index)
    x = values.to_numpy(dtype=float)
    edges = np.array(b.edges_)
    uppers = edges[1:] if len(edges) > 1 else edges
    index = np.searchsorted(uppers, x, side="left") + 1  # bin j holds (e[j-1], e[j]]
    index = np.where(x < edges[0], 0, index)
    index = np.where(np.isnan(x), len(uppers) + 2, index)
    return pd.Series(labels[index], index=values.index)


def test_slices_on_a_fitted_binning_match_pandas(store: es.Store) -> None:
    rng = np.random.default_rng(21)
    frame = make_frame(BINARY, rng, 400, missing=0.15)
    frame["age"] = rng.normal(45, 15, 400).round()
    frame.loc[::13, "age"] = np.nan
    frame["member"] = rng.random(400) < 0.3
    frame["city"] = rng.choice(["paris", "lyon", "nice", "brest"], 400, p=[0.4, 0.3, 0.2, 0.1])
    frame.loc[::17, "city"] = None
    model = store.model("binned", task=BINARY)
    schema = es.Schema(
        prediction_id="id", timestamp="ts", features=["age", "member"], tags=["city", "grp"],
        prediction_label="pred", prediction_score="score",
    )  # fmt: skip
    model.log(frame.iloc[:200], schema=schema, version="v1", environment="training")
    model.log(frame.iloc[200:], schema=schema, version="v1", environment="production")
    known = frame[frame["y"].notna()].astype({"y": "int64"})
    for env, part in (
        ("training", known[known["id"] < 200]),
        ("production", known[known["id"] >= 200]),
    ):
        model.log_actuals(part, prediction_id="id", actual="y", environment=env)
    reference = model.dataset(environment="training")
    current = model.dataset(environment="production")
    fitted = {
        "age": Binning(bins=4).fit(reference, "age"),
        "member": Binning().fit(reference, "member"),
        "city": Binning(top_k=2).fit(reference, "city"),  # two of four cities: 'other'
        "prediction_label": Binning().fit(reference, "prediction_label"),  # integers
    }
    part = frame.iloc[200:].copy()
    keys = ["accuracy", "roc_auc", "f1"]
    hist = histograms(current, fitted)
    for column, b in fitted.items():
        source = "pred" if column == "prediction_label" else column
        part["bin"] = binning_labels(part[source], b)
        result = performance(current, keys, by=column, bins={column: b})
        check_groups(BINARY, part, result, column, "bin")
        # bin order, the labels of the Binning, and exactly the counts of its histogram
        seen = [r[column] for r in result.rows[:: len(keys)]]
        assert seen == [label for label in b.labels if label in set(part["bin"])]
        rows = {r[column]: r["n"] + r["n_without_actual"] for r in result.rows[:: len(keys)]}
        assert [rows.get(label, 0) for label in b.labels] == hist[column].tolist()
    assert "missing" in set(binning_labels(part["age"], fitted["age"]))
    assert "other" in set(binning_labels(part["city"], fitted["city"]))


def test_binning_bins_are_closed_on_the_right(store: es.Store) -> None:
    frame = make_frame(REGRESSION, np.random.default_rng(22), 9)
    frame["x"] = [29.9, 30, 35, 40, 40.1, 50, 50.5, np.nan, -np.inf]
    model = store.model("edges", task=REGRESSION)
    schema = es.Schema(prediction_id="id", timestamp="ts", features=["x"], prediction_score="yhat",
                       actual_score="y")  # fmt: skip
    model.log(frame, schema=schema, version="v1", environment="production")
    b = Binning(strategy="edges", edges=(30, 40, 50)).fit(model.dataset(), "x")
    result = performance(model.dataset(), "mae", by="x", bins={"x": b})
    got = {r["x"]: r["n"] for r in result.rows}
    assert got == {"below": 2, "[30, 40]": 3, "(40, 50]": 2, "above": 1, "missing": 1}
    one = Binning(strategy="edges", edges=(30,)).fit(model.dataset(), "x")  # one edge: [30, 30]
    result = performance(model.dataset(), "mae", by="x", bins={"x": one})
    assert {r["x"]: r["n"] for r in result.rows} == {
        "below": 2, "[30, 30]": 1, "above": 5, "missing": 1
    }  # fmt: skip


def test_binning_bins_errors(binary_ds: es.Dataset) -> None:
    income = Binning(bins=3).fit(binary_ds, "income")
    grp = Binning().fit(binary_ds, "grp")
    cases: list[tuple[dict[str, Any], str]] = [
        (
            {"by": "grp", "bins": {"grp": income}},
            "a Binning fitted on 'grp'; got \"one fitted on 'income'",
        ),
        ({"by": "income", "bins": {"income": grp}}, "a Binning fitted on 'income'"),
    ]
    for kwargs, match in cases:
        with pytest.raises(ParameterError, match=match):
            performance(binary_ds, "accuracy", **kwargs)
    numeric = Binning(bins=3).fit(binary_ds, "income")
    numeric.column_ = "grp"  # as if fitted on a numeric 'grp' elsewhere
    with pytest.raises(ParameterError, match="a categorical Binning for a string column"):
        performance(binary_ds, "accuracy", by="grp", bins={"grp": numeric})
    numbers = Binning(kind="categorical").fit(binary_ds, "income")
    numbers.column_ = "grp"
    with pytest.raises(ParameterError, match="categories compare with the string column"):
        performance(binary_ds, "accuracy", by="grp", bins={"grp": numbers})
    with pytest.raises(NotFittedError, match="not fitted"):
        performance(binary_ds, "accuracy", by="grp", bins={"grp": Binning()})


def test_rows_without_actuals_are_counted_not_dropped(store: es.Store) -> None:
    frame = make_frame(BINARY, np.random.default_rng(2), 120, missing=0.4)
    ds = log(store, BINARY, frame).dataset()
    result = performance(ds, ["accuracy", "roc_auc"], by="grp")
    for grp, part in frame.groupby("grp"):
        row = result.get("accuracy", grp=grp)
        assert row["n_without_actual"] == int(part["y"].isna().sum()) > 0
        assert row["n"] == int(part["y"].notna().sum())
    # a group whose rows all lack an actual is still reported
    frame.loc[frame["grp"] == "g1", "y"] = np.nan
    ds = log(store, BINARY, frame).dataset()
    row = performance(ds, ["accuracy"], by="grp").get("accuracy", grp="g1")
    assert row["value"] is None and row["n"] == 0
    assert row["n_without_actual"] == int((frame["grp"] == "g1").sum())


def test_as_few_queries_as_possible(store: es.Store) -> None:
    ds = log(store, BINARY, make_frame(BINARY, np.random.default_rng(4), 100)).dataset()
    counts = [
        "accuracy",
        "precision",
        "recall",
        "f1",
        "fpr",
        "fnr",
        "specificity",
        "log_loss",
        "brier",
    ]
    assert performance(ds, counts, by="day").queries == 1
    assert performance(ds, [*counts, "roc_auc"], by="day").queries == 2
    # the AUC and the AP share one score histogram (its sums are finished in NumPy)
    assert performance(ds, [*counts, "roc_auc", "pr_auc"], by="day").queries == 2
    assert performance(ds, [*counts, "roc_auc", "pr_auc", "ece", "calibration_curve"]).queries == 3
    # the main query always runs: it counts the rows of each group
    assert performance(ds, ["roc_auc", "roc_auc_exact", "pr_auc_exact"]).queries == 3
    ds = log(store, MULTICLASS, make_frame(MULTICLASS, np.random.default_rng(4), 60)).dataset()
    keys = [m.key for m in available_metrics(MULTICLASS)]
    # main, confusion matrix, calibration, binned and exact histograms
    assert performance(ds, keys, by="grp").queries == 5


# -- intervals -----------------------------------------------------------------------------


@pytest.mark.parametrize(("k", "n"), [(0, 1), (1, 1), (0, 10), (3, 10), (10, 10), (517, 1000)])
@pytest.mark.parametrize("confidence", [0.8, 0.95, 0.99])
def test_wilson_matches_scipy(k: int, n: int, confidence: float) -> None:
    want = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    low, high = wilson(k, n, confidence)
    assert low == pytest.approx(want.low, abs=1e-12)
    assert high == pytest.approx(want.high, abs=1e-12)
    assert wilson(0, 0, confidence) == (None, None)


def test_proportion_intervals_are_wilson(store: es.Store) -> None:
    frame = make_frame(BINARY, np.random.default_rng(9), 150)
    ds = log(store, BINARY, frame).dataset()
    result = performance(ds, ["accuracy", "precision", "recall", "specificity", "fpr", "fnr"],
                         confidence=0.9)  # fmt: skip
    y, p = frame["y"].to_numpy().astype(int), frame["pred"].to_numpy()
    tn, fp, fn, tp = skm.confusion_matrix(y, p).ravel().tolist()
    counts = {
        "accuracy": (tp + tn, tp + tn + fp + fn),
        "precision": (tp, tp + fp),
        "recall": (tp, tp + fn),
        "specificity": (tn, tn + fp),
        "fpr": (fp, fp + tn),
        "fnr": (fn, fn + tp),
    }
    for key, (k, n) in counts.items():
        row = result.get(key)
        ci = binomtest(k, n).proportion_ci(confidence_level=0.9, method="wilson")
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((ci.low, ci.high), abs=1e-12)
        assert row["n"] == n


def test_auc_interval_is_delong(store: es.Store) -> None:
    rng = np.random.default_rng(12)
    frame = make_frame(BINARY, rng, 400)
    frame["score"] = (frame["score"] * 20).round() / 20  # ties
    ds = log(store, BINARY, frame).dataset()
    y, s = frame["y"].to_numpy().astype(int), frame["score"].to_numpy()
    for key, scores in (("roc_auc_exact", s), ("roc_auc", np.floor(s * 2**16))):
        row = performance(ds, [key]).get(key)
        auc, var = delong(y, scores)
        assert row["value"] == pytest.approx(auc, abs=1e-12)
        half = Z95 * math.sqrt(var)
        # the binned AUC's interval is widened by its error bound (the exact one has none)
        bound = row["detail"].get("error_bound", 0.0)
        assert (key == "roc_auc") is (bound > 0)
        assert row["ci_low"] == pytest.approx(max(0, max(0, auc - half) - bound), abs=1e-9)
        assert row["ci_high"] == pytest.approx(min(1, min(1, auc + half) + bound), abs=1e-9)


def test_binned_auc_interval_holds_the_exact_auc_when_scores_share_a_bin(
    store: es.Store,
) -> None:
    """Scores all in [0, 1e-5] fall in one of the fixed score bins: the binned AUC is 0.5
    with an error bound of 0.5, and its interval, widened by that bound, holds the exact
    AUC (scikit-learn's), where the binned value's own interval was [0.5, 0.5]."""
    rng = np.random.default_rng(5)
    n = 2000
    score = rng.uniform(0, 1e-5, n)
    y = (rng.random(n) < score / 1e-5 * 0.2).astype(int)
    frame = pd.DataFrame({"id": np.arange(n), "score": score, "y": y})
    model = store.model("tiny-scores", task="binary_classification")
    schema = es.Schema(prediction_id="id", prediction_score="score", actual_label="y")
    model.log(frame, schema=schema, version="v1", environment="production", progress=False)
    result = performance(model.dataset(), ["roc_auc", "pr_auc"])
    auc, ap = result.get("roc_auc"), result.get("pr_auc")
    assert auc["value"] == 0.5 and auc["detail"]["error_bound"] == pytest.approx(0.5)
    assert auc["ci_low"] <= skm.roc_auc_score(y, score) <= auc["ci_high"]
    assert ap["ci_low"] <= skm.average_precision_score(y, score) <= ap["ci_high"]


def test_regression_intervals_are_normal(store: es.Store) -> None:
    frame = make_frame(REGRESSION, np.random.default_rng(13), 90)
    ds = log(store, REGRESSION, frame).dataset()
    result = performance(ds, ["mae", "mse", "rmse", "mean_error"])
    err = (frame["yhat"] - frame["y"]).to_numpy()
    for key, values in (("mae", np.abs(err)), ("mse", err**2), ("mean_error", err)):
        half = Z95 * values.std(ddof=1) / math.sqrt(len(values))
        row = result.get(key)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(
            (values.mean() - half, values.mean() + half), rel=1e-9
        )
    mse = result.get("mse")
    assert result.get("rmse")["ci_low"] == pytest.approx(math.sqrt(mse["ci_low"]), rel=1e-9)


# -- positive class, threshold, predictions derived from scores ----------------------------------


def test_text_labels_need_a_positive_class(store: es.Store) -> None:
    frame = make_frame(BINARY, np.random.default_rng(6), 80)
    frame["pred"] = np.where(frame["pred"] == 1, "yes", "no")
    frame["y"] = np.where(frame["y"] == 1, "yes", "no")
    model = store.model("text", task=BINARY)
    schema = es.Schema(prediction_id="id", timestamp="ts", features=[], prediction_label="pred",
                       prediction_score="score", actual_label="y")  # fmt: skip
    model.log(frame, schema=schema, version="v1", environment="production")
    with pytest.raises(
        ParameterError, match="positive_class must be given when the labels are text"
    ):
        performance(model.dataset(), ["precision"])
    with pytest.raises(ParameterError, match="a string"):
        performance(model.dataset(), ["precision"], positive_class=1)
    for positive in ("yes", "no"):
        result = performance(model.dataset(), ["precision", "recall", "roc_auc_exact"],
                             positive_class=positive)  # fmt: skip
        y, p = frame["y"], frame["pred"]
        assert result.value("precision") == pytest.approx(
            skm.precision_score(y, p, pos_label=positive)
        )
        assert result.value("recall") == pytest.approx(skm.recall_score(y, p, pos_label=positive))
        s = frame["score"] if positive == "yes" else 1 - frame["score"]
        want = skm.roc_auc_score(y == positive, s)
        assert result.value("roc_auc_exact") == pytest.approx(
            want if positive == "yes" else 1 - want, abs=1e-12
        )
        assert result.to_dict()["positive_class"] == positive


def test_boolean_and_integer_positive_classes(store: es.Store) -> None:
    frame = make_frame(BINARY, np.random.default_rng(14), 60)
    model = store.model("bools", task=BINARY)
    schema = es.Schema(prediction_id="id", timestamp="ts", features=[], prediction_label="pred",
                       prediction_score="score", actual_label="y")  # fmt: skip
    model.log(frame.astype({"pred": bool, "y": bool}), schema=schema, version="v1",
              environment="production")  # fmt: skip
    y, p = frame["y"].astype(int), frame["pred"]
    assert performance(model.dataset(), "recall").value("recall") == skm.recall_score(y, p)
    assert performance(model.dataset(), "recall", positive_class=0).value("recall") == (
        skm.recall_score(y, p, pos_label=0)
    )
    with pytest.raises(ParameterError, match="True or False"):
        performance(model.dataset(), "recall", positive_class="yes")
    ds = log(store, BINARY, frame).dataset()  # integer labels
    assert performance(ds, "recall", positive_class=False).value("recall") == (
        skm.recall_score(y, p, pos_label=0)
    )


def test_a_positive_class_among_no_labels_is_an_error(store: es.Store) -> None:
    frame = make_frame(BINARY, np.random.default_rng(16), 40)
    ds = log(store, BINARY, frame).dataset()  # 0/1 labels
    with pytest.raises(ParameterError) as info:
        performance(ds, ["precision", "recall"], positive_class=7)
    assert info.value.name == "positive_class" and info.value.got == 7
    assert "The labels logged are 0, 1; pass one of them." in str(info.value)
    with pytest.raises(ParameterError, match="labels logged are 0, 1"):
        slices(ds, "recall", columns=["grp"], positive_class=7)
    with pytest.raises(ParameterError, match="labels logged are 0, 1"):
        quality(ds, positive_class=7)


def test_a_positive_class_absent_from_a_window_is_not_an_error(store: es.Store) -> None:
    frame = make_frame(BINARY, np.random.default_rng(17), 40)
    frame["pred"] = np.where(frame["pred"] == 1, "yes", "no")
    frame["y"] = np.where(frame["y"] == 1, "yes", "no")
    later = frame.assign(id=frame["id"] + 1000, ts=frame["ts"] + pd.Timedelta(days=60))
    later["pred"] = later["y"] = "maybe"
    model = store.model("text_windows", task=BINARY)
    schema = es.Schema(prediction_id="id", timestamp="ts", features=[], prediction_label="pred",
                       prediction_score="score", actual_label="y")  # fmt: skip
    model.log(pd.concat([frame, later]), schema=schema, version="v1", environment="production")
    january = model.dataset(end="2024-02-01")
    result = performance(january, ["recall"], positive_class="maybe")  # logged in March only
    assert result.value("recall") is None and result.get("recall")["n"] == 0
    with pytest.raises(ParameterError, match="labels logged are 'maybe', 'no', 'yes'"):
        performance(january, ["recall"], positive_class="Maybe")


def test_labels_from_scores_and_threshold(store: es.Store) -> None:
    frame = make_frame(BINARY, np.random.default_rng(15), 120)
    model = store.model("scores_only", task=BINARY)
    schema = es.Schema(prediction_id="id", timestamp="ts", features=[], prediction_score="score",
                       actual_label="y")  # fmt: skip
    model.log(frame.astype({"y": int}), schema=schema, version="v1", environment="production")
    y, s = frame["y"].astype(int), frame["score"]
    for threshold in (0.5, 0.3, 0.0, 1.0):
        result = performance(model.dataset(), ["accuracy", "f1"], threshold=threshold)
        assert result.value("accuracy") == pytest.approx(skm.accuracy_score(y, s >= threshold))
        assert result.to_dict()["threshold"] == threshold
    # a row without a logged label falls back on its score
    frame["pred"] = frame["pred"].astype(float)
    frame.loc[::3, "pred"] = np.nan
    ds = log(store, BINARY, frame).dataset()
    p = frame["pred"].fillna((frame["score"] >= 0.7).astype(float))
    assert performance(ds, "accuracy", threshold=0.7).value("accuracy") == pytest.approx(
        skm.accuracy_score(y, p)
    )


def test_multiclass_labels_from_scores(store: es.Store) -> None:
    frame = make_frame(MULTICLASS, np.random.default_rng(16), 90)
    frame["pred"] = np.array(CLASSES)[np.random.default_rng(0).integers(0, 3, 90)]  # not argmax
    model = store.model("mc_scores_only", task=MULTICLASS)
    schema = es.Schema(prediction_id="id", timestamp="ts", features=[], actual_label="y",
                       prediction_score={c: f"p_{c}" for c in CLASSES})  # fmt: skip
    model.log(frame, schema=schema, version="v1", environment="production")
    argmax = np.array(CLASSES)[frame[[f"p_{c}" for c in CLASSES]].to_numpy().argmax(axis=1)]
    result = performance(model.dataset(), ["accuracy", "f1_macro"])
    assert result.value("accuracy") == pytest.approx(skm.accuracy_score(frame["y"], argmax))
    want = skm.f1_score(frame["y"], argmax, average="macro")
    assert result.value("f1_macro") == pytest.approx(want)
    assert result.task == MULTICLASS  # inferred from the class score columns


def test_defaults_follow_what_was_logged(store: es.Store) -> None:
    frame = make_frame(BINARY, np.random.default_rng(17), 30)
    model = store.model("labels_only", task=BINARY)
    schema = es.Schema(prediction_id="id", timestamp="ts", features=[], prediction_label="pred",
                       actual_label="y")  # fmt: skip
    model.log(frame.astype({"y": int}), schema=schema, version="v1", environment="production")
    result = performance(model.dataset(), task=model.task)
    assert result.metrics == ["accuracy", "precision", "recall", "specificity", "fpr", "fnr", "f1"]
    with pytest.raises(ParameterError, match="'roc_auc' needs prediction scores"):
        performance(model.dataset(), ["roc_auc"], task=BINARY)
    # labels only could be binary or multiclass, but a model's dataset knows its task
    assert model.dataset().task is es.Task.BINARY_CLASSIFICATION
    assert performance(model.dataset()).metrics == result.metrics
    ds = log(store, REGRESSION, make_frame(REGRESSION, np.random.default_rng(1), 5)).dataset()
    assert performance(ds).metrics == [
        "mae", "mse", "mean_error", "rmse", "mape", "smape", "wape", "r2"
    ]  # fmt: skip


# -- errors and the result -------------------------------------------------------------------


@pytest.fixture(scope="module")
def binary_ds(store: es.Store) -> es.Dataset:
    frame = make_frame(BINARY, np.random.default_rng(18), 50)
    frame["income"] = np.linspace(0, 1, 50)
    model = store.model("errors", task=BINARY)
    schema = es.Schema(
        prediction_id="id", timestamp="ts", features=["income"], tags=["grp"],
        prediction_label="pred", prediction_score="score", actual_label="y",
    )  # fmt: skip
    model.log(frame.astype({"y": int}), schema=schema, version="v1", environment="production")
    return model.dataset()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"metrics": ["acuracy"]}, r"metric must be one of \[.*'accuracy'.*\]; got 'acuracy'"),
        # only the model's own metrics are offered
        ({"metrics": ["rmsee"]}, r"one of \[[^]]*'accuracy'(?![^]]*'rmse')[^]]*\]; got 'rmsee'"),
        ({"metrics": ["mae"]}, "'mae' is for regression. Metrics for binary_classification"),
        ({"metrics": []}, "non-empty list"),
        ({"by": "grpp"}, "Did you mean 'grp'"),
        ({"by": "income"}, r"bins=\{'income': \[0, 30, 60\]\}"),
        ({"by": "grp", "bins": {"income": [1]}}, "Add 'income' to by"),
        ({"by": "income", "bins": {"income": [2, 1]}}, "increasing finite bin edges"),
        ({"by": "grp", "bins": {"grp": [1]}}, "given for a numeric column"),
        ({"by": "income", "bins": [0, 1]}, "a mapping of column -> bin edges"),
        ({"by": "metric"}, "other than the result fields"),
        ({"by": ["grp", "grp"]}, "without repeats"),
        ({"by": 3}, "None, a column or time window name"),
        ({"by": "timestamp"}, "categorical, boolean or integer column"),
        ({"threshold": 1.5}, "threshold must be a number between 0 and 1"),
        ({"confidence": 1}, "confidence must be a number between 0 and 1"),
        ({"task": "regression", "positive_class": 1}, "given only for a binary model"),
        ({"task": "ranking"}, "task must be one of"),
    ],
)
def test_parameter_errors_say_what_to_do(
    binary_ds: es.Dataset, kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(ParameterError, match=match):
        performance(binary_ds, **kwargs)


def test_not_a_dataset() -> None:
    with pytest.raises(ParameterError, match="an evalstore Dataset"):
        performance(pd.DataFrame())  # type: ignore[arg-type]


def test_result_is_plain_json(binary_ds: es.Dataset) -> None:
    keys = ["accuracy", "roc_auc", "confusion_matrix", "calibration_curve"]
    result = performance(binary_ds, keys, by=["day", "grp"])
    data = json.loads(json.dumps(result.to_dict()))
    assert data["task"] == BINARY and data["by"] == ["day", "grp"] and data["metrics"] == keys
    assert data["positive_class"] == 1 and data["confidence"] == 0.95
    for row in data["rows"]:
        assert list(row) == ["day", "grp", *ROW_FIELDS]
        pd.Timestamp(row["day"])  # ISO 8601
    frame = result.to_pandas()
    assert list(frame.columns) == ["day", "grp", *ROW_FIELDS] and len(frame) == len(result.rows)
    with pytest.raises(ParameterError, match="present in the result"):
        result.get("accuracy", grp="nope")


def test_empty_selection(binary_ds: es.Dataset, store: es.Store) -> None:
    ds = store.model("errors").dataset(start="2031-01-01")
    assert performance(ds, ["accuracy"], by="grp").rows == []
    (row,) = performance(ds, ["accuracy"]).rows
    assert row["value"] is None and row["n"] == 0 and row["n_without_actual"] == 0


# -- real data -------------------------------------------------------------------------------

CENSUS_SCHEMA = es.Schema(
    prediction_id="id", timestamp="ts", features=["AGEP", "SCHL", "MAR"], tags=["SEX", "RAC1P"],
    prediction_label="prediction", prediction_score="predicted_probability",
    actual_label="employed",
)  # fmt: skip


@pytest.fixture(scope="module")
def census(store: es.Store) -> tuple[es.Model, pd.DataFrame]:
    path = DATA / "census_employment_ma.parquet"
    if not path.is_file():
        pytest.skip(f"{path} is absent: the real datasets live in ../shared/data beside the repo")
    df = pd.read_parquet(path)
    df["ts"] = pd.to_datetime(df["year"].astype(str) + "-07-01")
    model = store.model("census", task=BINARY)
    for period, env in (("reference", "training"), ("analysis", "production")):
        part = df[df["period"] == period]
        model.log(part, schema=CENSUS_SCHEMA, version="v1", environment=env)
    df["environment"] = np.where(df["period"] == "reference", "training", "production")
    df["year_start"] = df["ts"].dt.to_period("Y").dt.start_time
    return model, df


@pytest.mark.shared_data
def test_census_binned_auc_error_is_within_its_bound(census: tuple[es.Model, pd.DataFrame]) -> None:
    model, df = census
    started = time.perf_counter()
    groupings: list[tuple[Any, str]] = [(None, ""), ("year", "year_start"), ("SEX", "SEX"),
                                        ("environment", "environment")]  # fmt: skip
    worst = 0.0
    for by, column in groupings:
        result = performance(
            model.dataset(), ["roc_auc", "roc_auc_exact", "pr_auc", "pr_auc_exact"], by=by
        )
        parts = [(None, df)] if by is None else list(df.groupby(column))
        for value, part in parts:
            group = {} if by is None else {by: value.to_pydatetime() if by == "year" else value}
            y, s = part["employed"].to_numpy(), part["predicted_probability"].to_numpy()
            exact_auc, exact_ap = skm.roc_auc_score(y, s), skm.average_precision_score(y, s)
            binned = result.get("roc_auc", **group)
            error = abs(binned["value"] - exact_auc)
            worst = max(worst, error)
            # the guaranteed bound counts exactly tied scores too, so it is pessimistic
            assert error <= binned["detail"]["error_bound"] <= 2e-4
            assert result.value("roc_auc_exact", **group) == pytest.approx(exact_auc, abs=1e-12)
            ap = result.get("pr_auc", **group)
            assert abs(ap["value"] - exact_ap) <= ap["detail"]["error_bound"]
            assert result.value("pr_auc_exact", **group) == pytest.approx(exact_ap, abs=1e-12)
    print(
        f"census: max |binned AUC - sklearn| = {worst:.2e} ({time.perf_counter() - started:.1f} s)"
    )
    assert worst < 3e-5


@pytest.mark.shared_data
def test_census_metrics_by_year_and_slice(census: tuple[es.Model, pd.DataFrame]) -> None:
    model, df = census
    keys = ["accuracy", "precision", "recall", "f1", "f1_macro", "specificity", "log_loss",
            "brier", "ece", "calibration_curve", "confusion_matrix"]  # fmt: skip
    frame = df.rename(
        columns={"employed": "y", "prediction": "pred", "predicted_probability": "score"}
    )
    frame["y"] = frame["y"].astype(float)
    result = performance(model.dataset(), keys, by="year")
    check_groups(BINARY, frame, result, "year", "year_start")
    result = performance(model.dataset(), keys, by="AGEP", bins={"AGEP": [25, 45, 65]})
    frame["age"] = pd.cut(frame["AGEP"], [-np.inf, 25, 45, 65, np.inf], right=False)
    names = ["< 25", "[25, 45)", "[45, 65)", ">= 65"]
    frame["age"] = frame["age"].map(dict(zip(frame["age"].cat.categories, names, strict=True)))
    frame["age"] = frame["age"].astype(object)
    check_groups(BINARY, frame, result, "AGEP", "age")
    # DeLong interval on the real scores, overall
    y, s = df["employed"].to_numpy(), df["predicted_probability"].to_numpy()
    auc, var = delong(y, s)
    row = performance(model.dataset(), ["roc_auc_exact"]).get("roc_auc_exact")
    assert row["ci_low"] == pytest.approx(auc - Z95 * math.sqrt(var), abs=1e-9)
    assert row["ci_high"] == pytest.approx(auc + Z95 * math.sqrt(var), abs=1e-9)


def test_model_performance_is_performance_of_its_dataset(store: es.Store) -> None:
    frame = make_frame(BINARY, np.random.default_rng(18), 80)
    model = log(store, BINARY, frame)
    window = {"environment": "production", "start": "2024-01-02", "end": "2024-01-10"}
    got = model.performance(window, ["accuracy", "roc_auc"], by="day", threshold=0.3)
    want = performance(model.dataset(**window), ["accuracy", "roc_auc"], by="day", threshold=0.3)
    assert got.to_dict() == want.to_dict()
    assert model.performance().to_dict() == performance(model.dataset()).to_dict()
    ds = model.dataset(environment="production")
    assert model.performance(ds, "recall").to_dict() == performance(ds, "recall").to_dict()
    with pytest.raises(ParameterError, match="Did you mean 'production'"):
        model.performance("prod")
