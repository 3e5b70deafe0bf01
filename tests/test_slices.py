"""slices(): a metric per bin of every feature and tag, intervals, the worst slices.

Oracles: scikit-learn (``roc_auc_score`` on the 2^16-binned scores the binned AUC uses,
``accuracy_score``, ``f1_score``, ``mean_absolute_error``) on the pandas rows of each slice,
the slice of a row found by NumPy (``test_performance.binning_labels``), scipy's Wilson
interval; a planted bad segment must come first in ``worst()``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest
from sklearn import metrics as skm

import evalstore as es
from evalstore.analyses.binning import Binning, fit_binnings
from evalstore.analyses.metrics import get_metric
from evalstore.analyses.performance import performance
from evalstore.analyses.slices import SCORE_BINS, Slice, SliceResult, slices
from evalstore.errors import NotFittedError, ParameterError
from test_performance import binning_labels

_names = itertools.count()
REGIONS = ["north", "south", "east", "west"]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[es.Store]:
    with es.connect(tmp_path_factory.mktemp("slices") / "s") as s:
        yield s


def make(rng: np.random.Generator, n: int, bad: str | None = None) -> pd.DataFrame:
    """A binary classifier's rows: features age (with NaN), member (bool), tag region (with
    None); the model fails (actuals are coin flips) in region ``bad``; 10% lack an actual."""
    x = rng.normal(size=n)
    score = 1 / (1 + np.exp(-2 * x))
    frame = pd.DataFrame(
        {
            "id": np.arange(n),
            "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n), unit="min"),
            "age": rng.normal(45, 15, n).round(),
            "member": rng.random(n) < 0.3,
            "region": pd.Series(rng.choice(REGIONS, n, p=[0.4, 0.3, 0.2, 0.1]), dtype=object),
            "score": score,
            "pred": (score >= 0.5).astype("int64"),
            "y": (rng.random(n) < score).astype("float64"),
        }
    )
    if bad is not None:
        noisy = (frame["region"] == bad).to_numpy()
        frame.loc[noisy, "y"] = (rng.random(noisy.sum()) < 0.5).astype(float)
    frame.loc[rng.random(n) < 0.05, "age"] = np.nan
    frame.loc[rng.random(n) < 0.03, "region"] = None
    frame.loc[rng.random(n) < 0.1, "y"] = np.nan
    return frame


SCHEMA = es.Schema(
    prediction_id="id", timestamp="ts", features=["age", "member"], tags=["region"],
    prediction_label="pred", prediction_score="score",
)  # fmt: skip


def log(
    store: es.Store,
    frames: dict[str, pd.DataFrame],
    task: str = "binary_classification",
    schema: es.Schema = SCHEMA,
) -> es.Model:
    """Log each frame as an environment's rows, then its known actuals apart."""
    model = store.model(f"m{next(_names)}", task=task)
    for env, frame in frames.items():
        model.log(frame, schema=schema, version="v1", environment=env)
        known = frame[frame["y"].notna()][["id", "y"]]
        if task == "binary_classification":
            known = known.astype({"y": "int64"})
        model.log_actuals(known, prediction_id="id", actual="y", environment=env)
    return model


@pytest.fixture(scope="module")
def credit(store: es.Store) -> tuple[es.Model, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(7)
    reference, current = make(rng, 1500), make(rng, 2500, bad="west")
    current["age"] += 3  # some current ages lie above the reference's bins
    model = log(store, {"training": reference, "production": current})
    return model, reference, current


def oracle(metric: str, part: pd.DataFrame) -> tuple[float | None, int]:
    """scikit-learn on the rows of ``part`` with an actual: the value and n."""
    known = part[part["y"].notna()]
    n = len(known)
    if metric in ("mae", "residual_p50"):
        y, yhat = known["y"], known["yhat"]
        if not n:
            return None, 0
        if metric == "mae":
            return skm.mean_absolute_error(y, yhat), n
        return float(np.quantile(yhat - y, 0.5)), n
    y, p = known["y"].astype(int), known["pred"]
    if metric == "roc_auc":
        if y.nunique() < 2:
            return None, n
        return skm.roc_auc_score(y, np.floor(known["score"] * SCORE_BINS)), n
    if not n:
        return None, 0
    if metric == "accuracy":
        return skm.accuracy_score(y, p), n
    assert metric == "f1"
    if not (y.sum() or p.sum()):
        return None, n
    return skm.f1_score(y, p), n


def check_rows(result: SliceResult, frame: pd.DataFrame, metric: str) -> None:
    """Every slice of ``result`` matches the oracle on the rows of ``frame`` in its bin."""
    want, n = oracle(metric, frame)
    assert result.overall.value == pytest.approx(want, abs=1e-12)
    assert (result.overall.column, result.overall.bin, result.overall.n) == (None, "all", n)
    assert result.overall.share == 1.0
    for column in result.columns:
        b = result.binnings[column]
        got = [s for s in result.rows if s.column == column]
        assert [s.bin for s in got] == b.labels  # every bin, in bin order
        assert [s.kind for s in got] == b.bin_kinds
        labels = binning_labels(frame[column], b)
        for s in got:
            part = frame[labels == s.bin]
            value, used = oracle(metric, part)
            where = f"{column} = {s.bin}"
            assert s.n == used, where
            assert s.n_without_actual == int(part["y"].isna().sum()), where
            if value is None:
                assert s.value is None, where
                continue
            assert s.value == pytest.approx(value, abs=1e-12), where
            assert s.share == pytest.approx(used / n), where
            if s.ci_low is not None:
                assert s.ci_low <= s.value <= s.ci_high, where
                outside = not s.ci_low <= result.overall.value <= s.ci_high
                assert s.significant is outside, where


# -- values ------------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", ["roc_auc", "accuracy", "f1"])
def test_binary_slices_match_sklearn(
    credit: tuple[es.Model, pd.DataFrame, pd.DataFrame], metric: str
) -> None:
    model, _, current = credit
    result = slices(
        model.dataset(environment="production"),
        metric,
        reference=model.dataset(environment="training"),
    )
    assert result.metric == metric and result.task == "binary_classification"
    assert result.columns == ["age", "member", "region"]  # features and tags
    check_rows(result, current, metric)
    # missing values are a slice of their own, values beyond the reference's too
    for column, bin in (("age", "missing"), ("region", "missing"), ("age", "above")):
        found = result.find(column, bin)
        assert found is not None and found.n > 0, (column, bin)
    # an empty bin is a row too, so that two results on the same bins line up
    assert result.find("age", "below") == Slice("age", "below", "below", None, share=0.0)
    assert result.find("region", "nowhere") is None
    if metric == "accuracy":  # a Wilson interval, as scipy's
        s = result.find("region", "west")
        assert s is not None
        k = round(s.value * s.n)
        ci = binomtest(k, s.n).proportion_ci(confidence_level=0.95, method="wilson")
        assert (s.ci_low, s.ci_high) == pytest.approx((ci.low, ci.high), abs=1e-12)
    assert get_metric(metric).interval is not None
    assert all(s.ci_low is not None for s in result.rows if s.n >= 30 and s.value is not None)


def test_auc_bins_where_every_row_or_no_row_has_an_actual(store: es.Store) -> None:
    """The AUC's main query counts only the rows without an actual, and its histogram the
    others: a bin whose rows all have an actual, and one whose rows have none, are each
    still a slice with the oracle's value, n and rows without an actual."""
    rng = np.random.default_rng(11)
    frame = make(rng, 2000)
    north, south = (frame["region"] == "north").to_numpy(), (frame["region"] == "south").to_numpy()
    frame.loc[north, "y"] = np.nan
    filled = south & frame["y"].isna().to_numpy()
    frame.loc[filled, "y"] = (rng.random(filled.sum()) < frame.loc[filled, "score"]).astype(float)
    model = log(store, {"production": frame})
    result = slices(model.dataset(environment="production"), "roc_auc")
    check_rows(result, frame, "roc_auc")
    none, every = result.find("region", "north"), result.find("region", "south")
    assert none is not None and every is not None
    assert (none.value, none.n, none.n_without_actual) == (None, 0, int(north.sum()))
    assert every.value is not None and every.n == int(south.sum()) and every.n_without_actual == 0


def test_equal_to_performance_per_column(credit: tuple[es.Model, pd.DataFrame, Any]) -> None:
    model, _, _ = credit
    current = model.dataset(environment="production")
    result = slices(current, "roc_auc", reference=model.dataset(environment="training"))
    assert result.queries == 2  # the main aggregate and the AUC histogram, for every column
    for column, b in result.binnings.items():
        per = performance(current, "roc_auc", by=column, bins={column: b}, score_bins=SCORE_BINS)
        for row in per.rows:
            s = result.find(column, row[column])
            assert s is not None
            assert (s.value, s.ci_low, s.ci_high, s.n) == (
                row["value"], row["ci_low"], row["ci_high"], row["n"]
            )  # fmt: skip


def test_binnings_given_and_fitted(credit: tuple[es.Model, pd.DataFrame, pd.DataFrame]) -> None:
    model, reference, current = credit
    training, production = (
        model.dataset(environment="training"),
        model.dataset(environment="production"),
    )
    baseline = fit_binnings(training, ["age"], Binning(bins=4))
    result = slices(production, "accuracy", binnings=baseline, columns=["age", "region"])
    assert result.binnings["age"] is baseline["age"]  # used as given
    assert [s.bin for s in result.rows if s.column == "age"] == baseline["age"].labels
    # a column without a binning is fitted on the dataset itself without a reference
    assert result.binnings["region"].n_reference_ == len(current)
    check_rows(result, current, "accuracy")
    result = slices(production, "accuracy", columns="region", reference=training)
    assert result.binnings["region"].n_reference_ == len(reference)
    assert list(result.matrix()) == ["region"]


def test_regression_lower_is_better(store: es.Store) -> None:
    rng = np.random.default_rng(3)
    n = 1200
    frame = pd.DataFrame(
        {
            "id": np.arange(n),
            "ts": pd.Timestamp("2024-02-01") + pd.to_timedelta(np.arange(n), unit="min"),
            "temp": rng.normal(15, 8, n),
            "season": rng.choice(["winter", "spring", "summer"], n),
            "yhat": rng.normal(100, 20, n),
        }
    )
    noise = np.where(frame["season"] == "summer", 25.0, 4.0)  # summer is hard to predict
    frame["y"] = frame["yhat"] + rng.normal(0, 1, n) * noise
    schema = es.Schema(prediction_id="id", timestamp="ts", features=["temp"], tags=["season"],
                       prediction_score="yhat")  # fmt: skip
    model = log(store, {"production": frame}, "regression", schema)
    result = slices(model.dataset())
    assert result.metric == "mae" and result.higher_is_better is False
    check_rows(result, frame, "mae")
    worst = result.worst(3)
    assert (worst[0].column, worst[0].bin) == ("season", "summer")
    assert worst[0].significant is True
    assert [s.value for s in worst] == sorted((s.value for s in worst), reverse=True)
    # a metric without an interval nor a direction: values only
    median = slices(model.dataset(), "residual_p50")
    check_rows(median, frame, "residual_p50")
    assert get_metric("residual_p50").interval is None
    assert all(s.ci_low is None and s.significant is None for s in median.rows)
    with pytest.raises(ParameterError, match="a metric with a direction"):
        median.worst()


def test_multiclass_default_is_accuracy(store: es.Store) -> None:
    rng = np.random.default_rng(4)
    n = 600
    classes = np.array(["ant", "bee", "cat"])
    raw = rng.random((n, 3))
    probs = raw / raw.sum(axis=1, keepdims=True)
    frame = pd.DataFrame(
        {
            "id": np.arange(n),
            "ts": pd.Timestamp("2024-02-01") + pd.to_timedelta(np.arange(n), unit="min"),
            "grp": rng.choice(["a", "b"], n),
            "pred": classes[probs.argmax(axis=1)],
            "y": classes[rng.integers(0, 3, n)],
        }
    )
    for i, c in enumerate(classes):
        frame[f"p_{c}"] = probs[:, i]
    schema = es.Schema(prediction_id="id", timestamp="ts", features=[], tags=["grp"],
                       prediction_label="pred",
                       prediction_score={c: f"p_{c}" for c in classes})  # fmt: skip
    model = log(store, {"production": frame}, "multiclass_classification", schema)
    result = slices(model.dataset())
    assert result.metric == "accuracy"
    for grp, part in frame.groupby("grp"):
        s = result.find("grp", grp)
        assert s is not None
        assert s.value == pytest.approx(skm.accuracy_score(part["y"], part["pred"]))


def test_default_metric_follows_the_predictions(store: es.Store) -> None:
    frame = make(np.random.default_rng(5), 300)
    labels_only = es.Schema(prediction_id="id", timestamp="ts", features=["age"],
                            prediction_label="pred")  # fmt: skip
    model = log(store, {"production": frame}, schema=labels_only)
    assert slices(model.dataset()).metric == "accuracy"
    model = log(store, {"production": frame})
    assert slices(model.dataset()).metric == "roc_auc"


# -- the worst slices ----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_planted_bad_segment_comes_first(store: es.Store, seed: int) -> None:
    rng = np.random.default_rng(seed)
    bad = REGIONS[seed % 4]
    model = log(store, {"training": make(rng, 2000), "production": make(rng, 3000, bad=bad)})
    result = slices(
        model.dataset(environment="production"),
        reference=model.dataset(environment="training"),
        min_support=50,
    )
    worst = result.worst(5)
    assert (worst[0].column, worst[0].bin) == ("region", bad)
    assert worst[0].significant is True
    assert worst[0].value < result.overall.value
    # surest first: by the upper end of each interval (higher is better)
    assert [s.ci_high for s in worst] == sorted(s.ci_high for s in worst)
    assert all(s.n >= 50 for s in worst)


def test_min_support_and_ties() -> None:
    def s(column: str, bin: str, value: float | None, n: int) -> Slice:
        return Slice(column, bin, "value", value, n=n)

    rows = [s("a", "x", 0.9, 100), s("a", "y", 0.5, 40), s("a", "z", 0.5, 400),
            s("b", "x", 0.1, 5), s("b", "y", None, 0), s("b", "z", 0.7, 100)]  # fmt: skip
    result = SliceResult(
        task="binary_classification", metric="accuracy", higher_is_better=True,
        confidence=0.95, min_support=30, positive_class=1, threshold=0.5, columns=["a", "b"],
        overall=Slice(None, "all", "all", 0.8, n=645), rows=rows,
    )  # fmt: skip
    # lowest first; a tie goes to the larger slice; b=x has too few rows, b=y no value
    assert [(w.column, w.bin) for w in result.worst()] == [
        ("a", "z"), ("a", "y"), ("b", "z"), ("a", "x")
    ]  # fmt: skip
    assert [(w.column, w.bin) for w in result.worst(2, min_support=0)] == [("b", "x"), ("a", "z")]
    assert result.worst(0) == []
    lower = SliceResult(**{**result.__dict__, "higher_is_better": False})
    assert [(w.column, w.bin) for w in lower.worst(2)] == [("a", "x"), ("b", "z")]
    undirected = SliceResult(**{**result.__dict__, "higher_is_better": None})
    with pytest.raises(ParameterError, match="a metric with a direction"):
        undirected.worst()
    with pytest.raises(ParameterError, match="k must be a whole number"):
        result.worst(-1)
    assert result.matrix() == {
        "a": [("x", 0.9, 100), ("y", 0.5, 40), ("z", 0.5, 400)],
        "b": [("x", 0.1, 5), ("y", None, 0), ("z", 0.7, 100)],
    }


def test_worst_ranks_the_surely_worse_first() -> None:
    """A noisy slice (AUC 0.47 anywhere in [0.05, 0.89]) against a reference of a few rows
    ([0.34, 1]) is not ranked above a slice that surely fell (0.84 in [0.81, 0.87] against
    0.98 in [0.975, 0.99]): the trial's report had put the noise first and the broken
    region twentieth."""

    def s(bin: str, value: float, low: float, high: float, n: int) -> Slice:
        return Slice("c", bin, "value", value, low, high, n=n)

    def result(rows: list[Slice]) -> SliceResult:
        return SliceResult(
            task="binary_classification", metric="roc_auc", higher_is_better=True,
            confidence=0.95, min_support=30, positive_class=1, threshold=None, columns=["c"],
            overall=Slice(None, "all", "all", 0.95, 0.94, 0.96, n=30_000), rows=rows,
        )  # fmt: skip

    current = result([s("noise", 0.466, 0.046, 0.886, 12_091), s("west", 0.837, 0.805, 0.869,
                      16_619), s("east", 0.96, 0.955, 0.965, 9_000)])  # fmt: skip
    reference = result([s("noise", 1.0, 0.342, 1.0, 5_000), s("west", 0.983, 0.975, 0.99, 6_000),
                        s("east", 0.97, 0.96, 0.98, 4_000)])  # fmt: skip
    assert [w.bin for w in current.worst(3, reference=reference)] == ["west", "east", "noise"]
    # without a reference: by the upper end of each interval
    assert [w.bin for w in current.worst(3)] == ["west", "noise", "east"]


# -- the result ----------------------------------------------------------------------------------


def test_result_is_plain_json(credit: tuple[es.Model, pd.DataFrame, pd.DataFrame]) -> None:
    model, _, _ = credit
    result = slices(model.dataset(environment="production"), "roc_auc", min_support=10)
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["metric"] == "roc_auc" and data["higher_is_better"] is True
    assert data["positive_class"] == 1 and data["min_support"] == 10
    assert list(data["rows"][0]) == ["column", "bin", "kind", "value", "ci_low", "ci_high", "n",
                                     "n_without_actual", "share", "significant",
                                     "error_bound"]  # fmt: skip
    back = SliceResult.from_dict(data)
    assert back == result
    # slices kept before the error bound was: read with none
    for row in data["rows"]:
        del row["error_bound"]
    del data["overall"]["error_bound"]
    older = SliceResult.from_dict(data)
    assert [s.value for s in older.rows] == [s.value for s in result.rows]
    assert all(s.error_bound is None for s in older.rows)
    assert back.worst(3) == result.worst(3)
    assert back.binnings["age"].fingerprint == result.binnings["age"].fingerprint
    frame = result.to_pandas()
    assert len(frame) == len(result.rows) and frame["n"].sum() == 3 * result.overall.n
    with pytest.raises(ParameterError, match=r"written by SliceResult\.to_dict"):
        SliceResult.from_dict({"metric": "roc_auc"})


def test_a_slice_says_how_far_its_score_bins_can_move_its_auc(store: es.Store) -> None:
    """A slice whose scores bunch in a few of the SCORE_BINS bins (a well-separated segment
    near 1) can be far from its exact AUC; the slice says by how much at most, the report
    shows it beside the value, and a metric without bins has none."""
    rng = np.random.default_rng(3)
    n = 4000
    frame = make(rng, n)
    high = (frame["region"] == "east").to_numpy()
    # east: every score in [0.9995, 1), i.e. the top one or two of 1,024 bins
    frame.loc[high, "score"] = 0.9995 + rng.random(high.sum()) * 0.0004999
    frame.loc[high & frame["y"].notna().to_numpy(), "y"] = (
        rng.random((high & frame["y"].notna().to_numpy()).sum()) < 0.8
    ).astype(float)
    model = log(store, {"production": frame})
    ds = model.dataset(environment="production")
    found = slices(ds, "roc_auc", columns=["region"], min_support=10)
    east = found.find("region", "east")
    known = frame[high & frame["y"].notna().to_numpy()]
    exact = skm.roc_auc_score(known["y"].astype(int), known["score"])
    assert east is not None and east.error_bound is not None
    assert east.error_bound > 0.1  # the bins hold the scores' order of this slice
    assert abs(east.value - exact) <= east.error_bound + 1e-12
    assert east.ci_low <= exact <= east.ci_high  # widened by the bound
    spread = [s for s in found.rows if s.bin in ("north", "south")]
    assert all(s.error_bound is not None and s.error_bound < 0.01 for s in spread)
    assert found.overall.error_bound is not None
    assert all(s.error_bound is None for s in slices(ds, "accuracy", columns=["region"]).rows)
    # exactly performance()'s bound on the slice's rows, on the same bins
    alone = performance(
        model.dataset(environment="production", where={"region": "east"}),
        ["roc_auc"],
        score_bins=SCORE_BINS,
    ).rows[0]
    assert east.error_bound == pytest.approx(alone["detail"]["error_bound"], abs=1e-12)
    assert east.value == pytest.approx(alone["value"], abs=1e-12)


def test_empty_selection(credit: tuple[es.Model, pd.DataFrame, pd.DataFrame]) -> None:
    model, _, _ = credit
    empty = model.dataset(environment="production", start="2031-01-01")
    bins = fit_binnings(model.dataset(environment="training"), ["age", "region"])
    result = slices(empty, "accuracy", columns=["age", "region"], binnings=bins)
    assert result.overall.value is None and result.overall.n == 0
    assert all(s.n == 0 and s.value is None for s in result.rows)
    assert result.worst() == []
    with pytest.raises(ParameterError, match="Pass binnings="):
        slices(empty, "accuracy", columns=["age"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"metric": "acuracy"}, r"metric must be one of \[.*'accuracy'.*\]; got 'acuracy'"),
        ({"metric": "mae"}, "'mae' is for regression"),
        ({"metric": "confusion_matrix"}, "a metric with one value per slice"),
        ({"metric": 3}, "a metric key"),
        ({"columns": ["regoin"]}, "Did you mean 'region'"),
        ({"columns": ["age", "age"]}, "without repeats"),
        ({"columns": ["timestamp"]}, "a numeric, text or boolean column"),
        ({"columns": ["prediction_id"]}, "prediction_id identifies rows and batches"),
        ({"columns": ["batch_id"]}, "batch_id identifies rows and batches"),
        ({"binnings": [1]}, "a mapping of column -> fitted Binning"),
        ({"binnings": {"age": "deciles"}}, r"binnings\['age'\] must be a fitted Binning"),
        ({"min_support": -1}, "min_support must be a whole number"),
        ({"confidence": 2}, "confidence must be a number between 0 and 1"),
        ({"threshold": -1}, "threshold must be a number between 0 and 1"),
        ({"task": "regression", "positive_class": 1}, "given only for a binary model"),
        ({"reference": "training"}, "reference must be None or an evalstore Dataset"),
    ],
)
def test_parameter_errors_say_what_to_do(
    credit: tuple[es.Model, pd.DataFrame, pd.DataFrame], kwargs: dict[str, Any], match: str
) -> None:
    model, _, _ = credit
    with pytest.raises(ParameterError, match=match):
        slices(model.dataset(environment="production"), **kwargs)


def test_binning_errors(credit: tuple[es.Model, pd.DataFrame, pd.DataFrame]) -> None:
    model, _, _ = credit
    ds = model.dataset(environment="production")
    with pytest.raises(NotFittedError):
        slices(ds, columns=["age"], binnings={"age": Binning()})
    region = Binning().fit(ds, "region")
    with pytest.raises(ParameterError, match="a Binning fitted on 'age'"):
        slices(ds, columns=["age"], binnings={"age": region})
    with pytest.raises(ParameterError, match="an evalstore Dataset"):
        slices(pd.DataFrame())  # type: ignore[arg-type]
