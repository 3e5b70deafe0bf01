"""Hellinger distance between the binned shares: in [0, 1], symmetric.

``H = sqrt(1 - sum(sqrt(p * q)))`` = ``||sqrt(p) - sqrt(q)||_2 / sqrt(2)`` on the standard
bins, no smoothing needed. Default threshold 0.1 (Evidently's); for small shifts
H ~ sqrt(PSI / 8), so 0.1 matches PSI ~ 0.08. p-value: Pearson's chi-square test of
homogeneity on the same bins.
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

__all__ = ["hellinger_distance"]


def hellinger_distance(reference: np.ndarray, current: np.ndarray) -> float:
    """Hellinger distance of two histograms on the same bins (NaN if one is empty)."""
    p, q = shares(reference), shares(current)
    if p is None or q is None:
        return math.nan
    return float(math.sqrt(max(0.0, 1.0 - float(np.sum(np.sqrt(p * q))))))


register_drift_method(
    DriftMethod(
        "hellinger",
        "Hellinger distance",
        ["numeric", "categorical"],
        0.1,
        chi2_tested(hellinger_distance),
        description="Hellinger distance (in [0, 1]) of the binned shares",
        significance="chi-square test of homogeneity on the same bins",
    )
)
