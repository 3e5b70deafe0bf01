"""KL divergence of the current shares from the reference shares, in nats.

``KL = sum(q * ln(q / p))`` on the standard bins, smoothed as :mod:`._stats` says (floor
1e-4, renormalised), i.e. ``scipy.stats.entropy(q, p)`` on the smoothed shares. Not
symmetric: it measures how surprising the current data are under the reference. Default
threshold 0.05: for small shifts PSI ~ 2 KL, so this matches PSI's 0.1. p-value: Pearson's
chi-square test of homogeneity on the same bins.
"""

from __future__ import annotations

import math

import numpy as np

from evalstore.analyses.drift._registry import (
    DriftMethod,
    chi2_tested,
    register_drift_method,
)
from evalstore.analyses.drift._stats import smoothed

__all__ = ["kl_divergence"]


def kl_divergence(reference: np.ndarray, current: np.ndarray) -> float:
    """KL(current || reference) of two histograms on the same bins (NaN if one is empty)."""
    pair = smoothed(reference, current)
    if pair is None:
        return math.nan
    p, q = pair
    return float(np.sum(q * np.log(q / p)))


register_drift_method(
    DriftMethod(
        "kl",
        "Kullback-Leibler divergence",
        ["numeric", "categorical"],
        0.05,
        chi2_tested(kl_divergence),
        description="KL(current || reference) of the binned shares, in nats "
        "(empty bins floored at 1e-4)",
        significance="chi-square test of homogeneity on the same bins",
    )
)
