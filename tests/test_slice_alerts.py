"""A report's slice alert is a drop beyond chance among every slice compared
(``analyses/_slice_tests.py``): a hundred slices give some slice a low value by chance, and
the alert that fired whenever the worst one's interval missed its reference value went off
on most reports of unchanged data."""

from __future__ import annotations

import importlib.util
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from evalstore.analyses._slice_tests import drop_p_values
from evalstore.analyses.slices import Slice, SliceResult

Z = stats.norm.ppf(0.975)


def _result(rows: list[Slice], overall: Slice, higher_is_better: bool = True) -> SliceResult:
    return SliceResult(
        task="binary_classification",
        metric="roc_auc" if higher_is_better else "mae",
        higher_is_better=higher_is_better,
        confidence=0.95,
        min_support=30,
        positive_class=1,
        threshold=None,
        columns=sorted({s.column or "" for s in rows}),
        overall=overall,
        rows=rows,
    )


def _s(bin: str, value: float, low: float, high: float, n: int = 500) -> Slice:
    return Slice("c", bin, "value", value, low, high, n)


def test_the_p_values_are_a_one_sided_normal_test_adjusted_by_scipy_s_bh() -> None:
    current = _result(
        [
            _s("a", 0.70, 0.65, 0.74),  # well below its reference
            _s("b", 0.80, 0.70, 0.85, n=100),  # above its reference: no drop
            _s("c", 0.60, 0.20, 0.90, n=10),  # under min_support: not compared
            _s("d", 0.75, 0.70, 0.80),  # no reference slice: against overall
        ],
        overall=Slice(None, "all", "all", 0.78, 0.77, 0.79, 5000),
    )
    reference = _result(
        [_s("a", 0.80, 0.78, 0.82), _s("b", 0.79, 0.77, 0.81), _s("c", 0.8, 0.7, 0.9)],
        overall=Slice(None, "all", "all", 0.8, 0.79, 0.81, 5000),
    )
    found, compared = drop_p_values(current, reference)
    # the halves of the intervals that face each other: the slice's upper, the reference's
    # lower (higher is better); against overall, the slice's upper half alone
    raw = [
        stats.norm.sf((0.80 - 0.70) / math.hypot((0.74 - 0.70) / Z, (0.80 - 0.78) / Z)),
        stats.norm.sf((0.79 - 0.80) / math.hypot((0.85 - 0.80) / Z, (0.79 - 0.77) / Z)),
        stats.norm.sf((0.78 - 0.75) / ((0.80 - 0.75) / Z)),
    ]
    expected = stats.false_discovery_control(raw, method="bh")
    assert compared == 3 and list(found) == [("c", "a"), ("c", "b"), ("c", "d")]
    np.testing.assert_allclose(list(found.values()), expected, rtol=1e-9)
    assert found[("c", "a")] < 0.05 < found[("c", "b")]


def test_where_lower_is_better_a_drop_is_a_rise() -> None:
    current = _result(
        [_s("a", 12.0, 11.0, 13.5), _s("b", 9.0, 8.0, 10.0)],
        overall=Slice(None, "all", "all", 10.0, 9.8, 10.2, 5000),
        higher_is_better=False,
    )
    reference = _result(
        [_s("a", 10.0, 9.0, 10.5), _s("b", 10.0, 9.5, 10.5)],
        overall=Slice(None, "all", "all", 10.0, 9.9, 10.1, 5000),
        higher_is_better=False,
    )
    found, _ = drop_p_values(current, reference)
    # the slice's lower half (12 - 11) faces the reference's upper half (10.5 - 10)
    raw = [
        stats.norm.sf((12.0 - 10.0) / math.hypot(1.0 / Z, 0.5 / Z)),
        stats.norm.sf((9.0 - 10.0) / math.hypot(1.0 / Z, 0.5 / Z)),
    ]
    np.testing.assert_allclose(
        list(found.values()), stats.false_discovery_control(raw, method="bh"), rtol=1e-9
    )


def test_no_direction_no_test() -> None:
    current = _result([_s("a", 1.0, 0.5, 1.5)], overall=Slice(None, "all", "all", 1.0))
    current = replace(current, higher_is_better=None)
    assert drop_p_values(current, None) == ({}, 0)


def _bench() -> Any:
    """``bench/slice_alerts.py``, whose unchanged and dropped data these tests use."""
    path = Path(__file__).resolve().parents[1] / "bench" / "slice_alerts.py"
    spec = importlib.util.spec_from_file_location("slice_alerts_bench", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH = _bench()


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_unchanged_data_raises_no_slice_alert(tmp_path: Path, seed: int) -> None:
    report = BENCH.synthetic_report(seed, tmp_path)
    found = BENCH.outcome(report)
    assert found["status"] == "info", found["text"]
    assert "within chance over the 86 slices compared" in found["text"]
    # what alerted before: the worst slice's interval excludes the overall value and
    # misses its value in the reference (these seeds were picked where it did)
    assert found["before"]


def test_a_real_drop_in_a_slice_still_alerts(tmp_path: Path) -> None:
    report = BENCH.synthetic_report(1, tmp_path, drop=True)
    (item,) = [i for i in report.summary if i["topic"] == "slices"]
    assert item["status"] == "alert", item["text"]
    assert item["text"].startswith("Worst slice: seg = s3, roc_auc")
    adjusted, compared = drop_p_values(report.slices_current, report.slices_reference)
    assert adjusted[("seg", "s3")] < 1e-15 and compared == 86
    assert item["text"].endswith("(p adjusted below 1e-15 over the 86 slices compared).")


@pytest.mark.shared_data
def test_the_adult_census_split_at_random_raises_no_slice_alert(tmp_path: Path) -> None:
    """Real data, nothing changed: a model on 5 of its columns, 20,000 random rows as
    training and the rest as production spread over 6 months; the report on the last two
    months against training. Each of these seeds raised a slice alert before the test."""
    if not BENCH.ADULT.is_file():
        pytest.skip(f"{BENCH.ADULT} is absent: the real datasets live in ../shared/data")
    pytest.importorskip("sklearn")
    for seed in (1, 2, 3, 4):
        ((_, report),) = BENCH.adult_reports(seed, tmp_path / f"s{seed}", ("2024-05-01",))
        found = BENCH.outcome(report)
        assert found["status"] == "info" and found["before"], (seed, found["text"])
