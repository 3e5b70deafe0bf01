"""Is a slice's drop more than chance, among all the slices looked at?

A report names its worst slice. With a hundred slices or more (every bin of every feature),
some slice's interval misses its reference value by chance alone: on the adult census data
split at random (the same distribution on both sides, nothing changed), 6 of 12 reports
raised a slice alert before this test, 1 of 12 with it. So a slice alerts only when its
drop holds once the false discovery rate across every slice compared is controlled
(Benjamini-Hochberg, as drift does across columns).

The test of one slice is normal on the difference of the two values, each side's standard
error read from the half of its interval that faces the other value (intervals need not be
symmetric: Wilson's are not); one-sided, as only a drop is an alert. Against the reference's
same slice when it has one with an interval, else against the current overall value (whose
own uncertainty, far smaller and shared with the slice, is left out).
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import TYPE_CHECKING

from evalstore.analyses.drift._fdr import benjamini_hochberg
from evalstore.analyses.metrics._intervals import z_value

if TYPE_CHECKING:
    from evalstore.analyses.slices import Slice, SliceResult

__all__ = ["SliceKey", "drop_p_values"]

#: a slice by its column and bin label
SliceKey = tuple[str | None, str]


def _half(s: Slice, upward: bool, z: float) -> float | None:
    """The standard error of ``s`` from the half of its interval above (``upward``) or
    below its value; the whole interval when that half is empty (a value at its bound)."""
    if s.value is None or s.ci_low is None or s.ci_high is None:
        return None
    half = (s.ci_high - s.value) if upward else (s.value - s.ci_low)
    if not half > 0:
        half = (s.ci_high - s.ci_low) / 2
    return half / z if half > 0 else None


def _drop_p(s: Slice, against: Slice, higher_is_better: bool, z: float, own: bool) -> float:
    """One-sided p-value that ``s`` is worse than ``against`` (NaN when untestable);
    ``own``: ``against``'s interval counts (the reference's slice), else its value alone."""
    if s.value is None or against.value is None:
        return math.nan
    # the halves that face each other: a drop below a higher reference (higher is better)
    se_s = _half(s, higher_is_better, z)
    se_a = _half(against, not higher_is_better, z) if own else 0.0
    if se_s is None or se_a is None:
        return math.nan
    gap = (against.value - s.value) if higher_is_better else (s.value - against.value)
    return NormalDist().cdf(-gap / math.hypot(se_s, se_a))  # the upper tail, exact far out


def drop_p_values(
    current: SliceResult, reference: SliceResult | None
) -> tuple[dict[SliceKey, float], int]:
    """Per slice of ``current`` with ``min_support`` rows or more and an interval: the
    Benjamini-Hochberg adjusted p-value of its drop against the same slice of
    ``reference`` (against ``current``'s overall value when the reference has no such
    slice), and how many slices were compared. Empty for a metric without a direction."""
    if current.higher_is_better is None:
        return {}, 0
    z = z_value(current.confidence)
    keys: list[SliceKey] = []
    p: list[float] = []
    for s in current.rows:
        if s.n < current.min_support:
            continue
        found = reference.find(s.column, s.bin) if reference is not None else None
        if found is not None and found.ci_low is not None and found.value is not None:
            value = _drop_p(s, found, current.higher_is_better, z, own=True)
        else:
            value = _drop_p(s, current.overall, current.higher_is_better, z, own=False)
        if not math.isnan(value):
            keys.append((s.column, s.bin))
            p.append(value)
    if not p:
        return {}, 0
    adjusted = benjamini_hochberg(p)
    return dict(zip(keys, (float(a) for a in adjusted), strict=True)), len(p)
