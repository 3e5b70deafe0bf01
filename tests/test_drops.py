"""The test behind every alert of a drop (``analyses/_drops.py``): the overall metric of a
report and of the UI's pages, and the slices. Its p-value against scipy's normal tail, its
false alarms on unchanged data against the rule it replaced, and what a report and a model's
health page say on either side of the line."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

import evalstore as es
from evalstore.analyses._drops import alerts, drop_p, worse_p
from evalstore.analyses.metrics._intervals import wilson, z_value


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("higher_is_better", [True, False])
def test_the_p_value_is_the_normal_tail_of_the_gap_over_both_facing_halves(
    seed: int, higher_is_better: bool
) -> None:
    rng = np.random.default_rng(seed)
    z = z_value(0.9 if seed % 2 else 0.95)
    for _ in range(20):
        value, against = rng.normal(0.7, 0.05, 2)
        lo, hi = value - rng.uniform(0.001, 0.05), value + rng.uniform(0.001, 0.05)
        a_lo, a_hi = against - rng.uniform(0.001, 0.05), against + rng.uniform(0.001, 0.05)
        got = drop_p(value, lo, hi, against, a_lo, a_hi, higher_is_better=higher_is_better, z=z)
        # the halves that face each other: the current's towards better, the reference's
        # towards worse
        if higher_is_better:
            se, se_against, gap = (hi - value) / z, (against - a_lo) / z, against - value
        else:
            se, se_against, gap = (value - lo) / z, (a_hi - against) / z, value - against
        want = norm.sf(gap / math.hypot(se, se_against))
        assert got == pytest.approx(want, rel=1e-9, abs=1e-15)
        point = drop_p(
            value, lo, hi, against, None, None, higher_is_better=higher_is_better, z=z, own=False
        )
        assert point == pytest.approx(norm.sf(gap / se), rel=1e-9, abs=1e-15)
    assert math.isnan(drop_p(None, 0.1, 0.2, 0.3, 0.2, 0.4, higher_is_better=True, z=z))
    assert math.isnan(drop_p(0.5, None, None, 0.3, 0.2, 0.4, higher_is_better=True, z=z))


def test_on_unchanged_data_it_alerts_at_its_level_where_the_old_rule_alerted_three_times_more() -> (
    None
):
    """Accuracy of two samples of the same size from the same law, Wilson intervals: the
    old rule (the current interval misses the reference value) alerts on about 8.3% of
    pairs (P(Z > 1.96 / sqrt 2)); the test on both intervals on about 2.5%, its level."""
    rng = np.random.default_rng(0)
    n, p, trials, level = 2_000, 0.8, 6_000, 0.95
    old = new = 0
    for k_ref, k_cur in rng.binomial(n, p, size=(trials, 2)):
        ref = dict(zip(("ci_low", "ci_high"), wilson(k_ref, n, level), strict=True))
        cur = dict(zip(("ci_low", "ci_high"), wilson(k_cur, n, level), strict=True))
        ref["value"], cur["value"] = k_ref / n, k_cur / n
        old += cur["ci_high"] < ref["value"]
        found = worse_p(True, cur, ref, level)
        assert found is not None
        new += alerts(found, level)
    assert 0.07 < old / trials < 0.10
    assert 0.018 < new / trials < 0.032
    # and a real drop is still found: 0.80 to 0.76 on 2,000 rows each (a gap of 3.15
    # standard errors of the difference)
    caught = 0
    for k_ref, k_cur in zip(rng.binomial(n, 0.8, 500), rng.binomial(n, 0.76, 500), strict=True):
        ref = dict(zip(("ci_low", "ci_high"), wilson(k_ref, n, level), strict=True))
        cur = dict(zip(("ci_low", "ci_high"), wilson(k_cur, n, level), strict=True))
        ref["value"], cur["value"] = k_ref / n, k_cur / n
        caught += alerts(worse_p(True, cur, ref, level) or 1.0, level)
    assert caught / 500 > 0.75  # its power there: P(Z > 1.96 - 3.15) = 0.88


def test_a_reference_without_an_interval_is_a_point() -> None:
    cur = {"value": 0.7, "ci_low": 0.68, "ci_high": 0.72}
    got = worse_p(True, cur, {"value": 0.75}, 0.95)
    assert got == pytest.approx(norm.sf(0.05 / (0.02 / z_value(0.95))))
    assert worse_p(None, cur, {"value": 0.75}, 0.95) is None  # a metric without a direction
    assert worse_p(True, {"value": 0.7}, {"value": 0.75}, 0.95) is None  # no interval


def _labels(n: int, right: int, start: datetime, prefix: str) -> pd.DataFrame:
    """``n`` rows over a day from ``start``, the prediction right on the first ``right``."""
    actual = np.arange(n) % 2
    predicted = actual.copy()
    predicted[right:] = 1 - predicted[right:]
    return pd.DataFrame(
        {
            "id": [f"{prefix}{i}" for i in range(n)],
            "ts": [start + timedelta(seconds=80 * i) for i in range(n)],
            "x": np.linspace(0, 1, n),
            "pred": predicted,
            "label": actual,
        }
    )


@pytest.mark.parametrize(
    ("right", "alert"),
    # accuracy 0.77 against 0.80 on 1,000 rows each: the current interval (0.743-0.795)
    # misses 0.80, but the two together do not tell (p 0.047); 0.75 does (p 0.004)
    [(770, False), (750, True)],
)
def test_the_report_and_the_health_page_alert_beyond_chance_only(
    tmp_path: Path, right: int, alert: bool
) -> None:
    from evalstore.ui.cache import ResultCache
    from evalstore.ui.views import Views

    schema = es.Schema(
        prediction_id="id",
        timestamp="ts",
        features=["x"],
        prediction_label="pred",
        actual_label="label",
    )
    with es.connect(tmp_path / "store") as store:
        model = store.model("m", task="binary_classification")
        model.log(_labels(1_000, 800, datetime(2024, 1, 1), "t"), schema=schema,
                  version="v1", environment="training")  # fmt: skip
        model.log(_labels(1_000, right, datetime(2024, 2, 1), "p"), schema=schema,
                  version="v1", environment="production")  # fmt: skip
        report = model.report("training", "production", metrics=["accuracy"], progress=False)
        cur = next(r for r in report.performance_current.rows if r["metric"] == "accuracy")
        ref = next(r for r in report.performance_reference.rows if r["metric"] == "accuracy")
        assert cur["ci_high"] < ref["value"]  # what the rule before alerted on
        p = worse_p(True, cur, ref, 0.95)
        assert p is not None and (p < 0.025) is alert
        topic = next(t for t in report.summary if t["topic"] == "performance")
        assert topic["status"] == ("alert" if alert else "ok")
        said = "worse beyond chance" if alert else "worse within chance"
        assert f"{said} (p {p:.3g}, one-sided)" in topic["text"]

        views = Views(store, ResultCache())
        facts = views.facts("m")
        health = views.health(facts)
        assert health.view.metric == "accuracy"
        assert health.reference_value == pytest.approx(0.8)
        assert health.worse is alert
