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
    DriftInput,
    DriftMethod,
    DriftValue,
    register_drift_method,
)
from evalstore.analyses.drift._stats import chi2_homogeneity, shares

__all__ = ["hellinger_distance"]


def hellinger_distance(reference: np.ndarray, current: np.ndarray) -> float:
    """Hellinger distance of two histograms on the same bins (NaN if one is empty)."""
    p, q = shares(reference), shares(current)
    if p is None or q is None:
        return math.nan
    return float(math.sqrt(max(0.0, 1.0 - float(np.sum(np.sqrt(p * q))))))


def _compute(data: DriftInput) -> DriftValue:
    statistic, dof, p_value = chi2_homogeneity(data.reference, data.current)
    value = hellinger_distance(data.reference, data.current)
    return DriftValue(value, p_value, {"chi2": statistic, "dof": dof})


register_drift_method(
    DriftMethod(
        "hellinger",
        "Hellinger distance",
        ["numeric", "categorical"],
        0.1,
        _compute,
        description="Hellinger distance (in [0, 1]) of the binned shares",
        significance="chi-square test of homogeneity on the same bins",
    )
)
