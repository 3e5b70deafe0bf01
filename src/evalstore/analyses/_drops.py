"""Is a value worse than a reference beyond chance? The one test behind every alert of a
drop: the report's and the UI's on the overall metric, the slices' (``_slice_tests.py``).

The test is normal on the difference of the two values, each side's standard error read
from the half of its interval that faces the other value (intervals need not be
symmetric: Wilson's are not); one-sided, as only a drop is an alert. A reference without
an interval counts as a point. Why both intervals: with a reference of the current data's
size, the old rule (the current interval misses the reference value) alerted on ~8% of
unchanged datasets where its level says 2.5%; ``tests/test_drops.py`` counts both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from statistics import NormalDist
from typing import Any

from evalstore.analyses.metrics._intervals import z_value

__all__ = ["alerts", "drop_p", "worse_p"]


def _half(
    value: float, low: float | None, high: float | None, upward: bool, z: float
) -> float | None:
    """The standard error of ``value`` from the half of its interval above (``upward``) or
    below it; the whole interval when that half is empty (a value at its bound)."""
    if low is None or high is None:
        return None
    half = (high - value) if upward else (value - low)
    if not half > 0:
        half = (high - low) / 2
    return half / z if half > 0 else None


def drop_p(
    value: float | None,
    low: float | None,
    high: float | None,
    against: float | None,
    against_low: float | None,
    against_high: float | None,
    *,
    higher_is_better: bool,
    z: float,
    own: bool = True,
) -> float:
    """One-sided p-value that ``value`` (interval ``low``-``high`` at the normal quantile
    ``z``) is worse than ``against``; ``own``: ``against``'s interval counts, else its
    value alone. NaN when untestable (a value or an interval missing or empty)."""
    if value is None or against is None:
        return math.nan
    # the halves that face each other: a drop below a higher reference (higher is better)
    se = _half(value, low, high, higher_is_better, z)
    se_against = _half(against, against_low, against_high, not higher_is_better, z) if own else 0.0
    if se is None or se_against is None:
        return math.nan
    gap = (against - value) if higher_is_better else (value - against)
    return NormalDist().cdf(-gap / math.hypot(se, se_against))  # the upper tail, exact far out


def worse_p(
    higher_is_better: bool | None,
    current: Mapping[str, Any],
    reference: Mapping[str, Any],
    confidence: float,
) -> float | None:
    """The p-value that ``current`` (a performance row: ``value``, ``ci_low``,
    ``ci_high``) is worse than ``reference`` (a row, its interval counted when it has
    one); None where nothing can be tested (a metric without a direction, no value, no
    current interval)."""
    if higher_is_better is None:
        return None
    z = z_value(confidence)
    ends = (current.get("value"), current.get("ci_low"), current.get("ci_high"))
    against = reference.get("value")
    p = drop_p(
        *ends,
        against,
        reference.get("ci_low"),
        reference.get("ci_high"),
        higher_is_better=higher_is_better,
        z=z,
    )
    if math.isnan(p):  # the reference without an interval: as a point
        p = drop_p(*ends, against, None, None, higher_is_better=higher_is_better, z=z, own=False)
    return None if math.isnan(p) else p


def alerts(p: float, confidence: float) -> bool:
    """Whether ``p`` (:func:`worse_p`) is an alert: below the one-sided level of the
    intervals (0.025 for 95% ones), the level of the rule it replaced."""
    return p < (1 - confidence) / 2
