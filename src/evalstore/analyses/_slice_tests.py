"""Is a slice's drop more than chance, among all the slices looked at?

A report names its worst slice. With a hundred slices or more (every bin of every feature),
some slice's interval misses its reference value by chance alone: on the adult census data
split at random (the same distribution on both sides, nothing changed), 6 of 12 reports
raised a slice alert before this test, 1 of 12 with it. So a slice alerts only when its
drop holds once the false discovery rate across every slice compared is controlled
(Benjamini-Hochberg, as drift does across columns).

The test of one slice is that of every drop (``_drops.py``): normal on the difference of
the two values, each side's standard error read from the half of its interval that faces
the other value. Against the reference's same slice when it has one with an interval, else
against the current overall value (whose own uncertainty, far smaller and shared with the
slice, is left out).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from evalstore.analyses._drops import drop_p
from evalstore.analyses.drift._fdr import benjamini_hochberg
from evalstore.analyses.metrics._intervals import z_value

if TYPE_CHECKING:
    from evalstore.analyses.slices import Slice, SliceResult

__all__ = ["SliceKey", "drop_p_values"]

#: a slice by its column and bin label
SliceKey = tuple[str | None, str]


def _drop_p(s: Slice, against: Slice, higher_is_better: bool, z: float, own: bool) -> float:
    """One-sided p-value that ``s`` is worse than ``against`` (NaN when untestable);
    ``own``: ``against``'s interval counts (the reference's slice), else its value alone."""
    return drop_p(
        s.value,
        s.ci_low,
        s.ci_high,
        against.value,
        against.ci_low,
        against.ci_high,
        higher_is_better=higher_is_better,
        z=z,
        own=own,
    )


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
