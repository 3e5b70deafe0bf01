"""Wasserstein-1 distance (earth mover's), divided by the reference's standard deviation.

``W = integral |F_ref(x) - F_cur(x)| dx`` over valid values, reported as ``W / std_ref``
(population std, as Evidently), so 0.1 means "a tenth of a standard deviation of mass
moved" whatever the unit. Computed on the same ~1000 fine reference-quantile bins as KS:
the ECDFs are exact at every edge and, inside a bin, the gap is taken linear between its
two ends (exact whenever the values inside a bin are spread evenly). Outside the reference
range the integral is exact: the current's summed distance to the range (two more sums in
the same scan) over its number of values.

Error bound: inside a bin of width w the gap stays in ``[gap_before - q, gap_before + p]``
(p, q the bin's shares), so ``W`` lies between the sums of ``w * min |gap|`` and
``w * max |gap|`` over the bins; both bounds (normalised) are in ``details``. Their
distance is about ``sum(w * (p + q))``: ~2/1000 of the reference range, more for long
tails. Against ``scipy.stats.wasserstein_distance / np.std(reference)`` on normal,
lognormal, uniform, Poisson and bimodal samples of 500 to 100k rows the bounds always held
and the estimate was within 0.0025 (in reference standard deviations) of the exact value;
for Cauchy samples, where a standard deviation means little, the bounds held too
(tests/test_drift.py). A constant reference (std 0) gives 0 if nothing moved, else
infinity.

p-value: the two-sample KS test on the same bins (both are functionals of the same ECDF
gap). Default threshold 0.1 (Evidently's for this normalised distance).
"""

from __future__ import annotations

import math

import numpy as np

from evalstore.analyses.drift._registry import (
    DriftInput,
    DriftMethod,
    DriftValue,
    register_drift_method,
)
from evalstore.analyses.drift._stats import ecdf_gaps, ks_p_value

__all__ = ["wasserstein_distance"]


def wasserstein_distance(data: DriftInput) -> tuple[float, float, float]:
    """(estimate, lower bound, upper bound) of W, not normalised, from fine histograms."""
    ecdf = ecdf_gaps(data.reference, data.current)
    edges = data.binning.edges_ or ()
    if ecdf is None or not edges:
        return math.nan, math.nan, math.nan
    # outside the reference range one ECDF is 0 (or 1): the integral is exactly the
    # current's summed distance to the range, over its number of values
    outside = (data.below_distance + data.above_distance) / ecdf.n_current
    inner = list(edges) if len(edges) > 1 else [edges[0], edges[0]]
    widths = np.diff(np.array(inner, dtype=np.float64))
    cells = slice(1, len(widths) + 1)  # the value bins, between below and above
    a, b = ecdf.gap_before[cells], ecdf.gap[cells]
    total = np.abs(a) + np.abs(b)
    crossing = np.divide(a * a + b * b, 2 * total, out=np.zeros_like(total), where=total > 0)
    estimate = float(np.sum(widths * np.where(a * b >= 0, total / 2, crossing)))
    low, high = ecdf.low[cells], ecdf.high[cells]
    least = np.where((low <= 0) & (high >= 0), 0.0, np.minimum(np.abs(low), np.abs(high)))
    most = np.maximum(np.abs(low), np.abs(high))
    return (
        outside + estimate,
        outside + float(np.sum(widths * least)),
        outside + float(np.sum(widths * most)),
    )


def _normalise(value: float, std: float | None) -> float:
    if math.isnan(value) or std is None or math.isnan(std):
        return math.nan
    if std > 0:
        return value / std
    return 0.0 if value == 0 else math.inf


def _compute(data: DriftInput) -> DriftValue:
    estimate, low, high = wasserstein_distance(data)
    std = data.binning.std_
    n_ref, n_cur = int(data.reference[:-1].sum()), int(data.current[:-1].sum())
    ecdf = ecdf_gaps(data.reference, data.current)
    statistic = float(np.max(np.abs(ecdf.gap))) if ecdf is not None else math.nan
    details = {
        "distance": estimate,
        "lower_bound": _normalise(low, std),
        "upper_bound": _normalise(high, std),
        "ks_statistic": statistic,
    }
    return DriftValue(_normalise(estimate, std), ks_p_value(statistic, n_ref, n_cur), details)


register_drift_method(
    DriftMethod(
        "wasserstein",
        "Wasserstein distance (normalised)",
        ["numeric"],
        0.1,
        _compute,
        bins="fine",
        description="earth mover's distance divided by the reference standard deviation "
        "(on ~1000 fine reference-quantile bins, bounds in details)",
        significance="two-sample KS test on the same bins",
    )
)
