"""Jensen-Shannon distance (base 2) between the binned shares: in [0, 1], symmetric.

``JS = sqrt((KL(p || m) + KL(q || m)) / 2)`` with ``m = (p + q) / 2`` and base-2 logs, on
the standard bins, no smoothing needed (``scipy.spatial.distance.jensenshannon(p, q,
base=2)``). Default threshold 0.1 (Evidently's); for small shifts JS ~ sqrt(PSI / 5.5),
so 0.1 is stricter than PSI 0.1 (it matches PSI ~ 0.055). p-value: Pearson's chi-square
test of homogeneity on the same bins.
"""

from __future__ import annotations

import math

import numpy as np

from evalstore.analyses.drift._registry import (
    DriftMethod,
    chi2_tested,
    register_drift_method,
)
from evalstore.analyses.drift._stats import shares

__all__ = ["js_distance"]


def js_distance(reference: np.ndarray, current: np.ndarray) -> float:
    """Jensen-Shannon distance, base 2, of two histograms (NaN if one is empty)."""
    p, q = shares(reference), shares(current)
    if p is None or q is None:
        return math.nan
    m = (p + q) / 2
    left = np.sum(p[p > 0] * np.log2(p[p > 0] / m[p > 0]))
    right = np.sum(q[q > 0] * np.log2(q[q > 0] / m[q > 0]))
    return float(math.sqrt(max(0.0, (left + right) / 2)))


register_drift_method(
    DriftMethod(
        "js",
        "Jensen-Shannon distance",
        ["numeric", "categorical"],
        0.1,
        chi2_tested(js_distance),
        description="Jensen-Shannon distance (base 2, in [0, 1]) of the binned shares",
        significance="chi-square test of homogeneity on the same bins",
    )
)
