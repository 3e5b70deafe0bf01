"""Benjamini-Hochberg adjusted p-values, optionally weighted (Genovese, Roeder, Wasserman 2006)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from evalstore.errors import ParameterError

__all__ = ["benjamini_hochberg"]


def benjamini_hochberg(
    p_values: Sequence[float] | np.ndarray, weights: Sequence[float] | np.ndarray | None = None
) -> np.ndarray:
    """BH-adjusted p-values: reject where ``adjusted < alpha`` to control the FDR at alpha.

    NaN p-values are not tests: they stay NaN and do not count in m. With ``weights``
    (non-negative, e.g. feature importances) the weighted procedure runs BH on ``p / w``
    with the weights rescaled to mean 1 over the tests, which keeps the FDR at alpha while
    giving important columns a lower bar; weight 0 is never rejected (adjusted 1).
    Unweighted, this equals ``scipy.stats.false_discovery_control(p, method="bh")``.
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, math.nan)
    tested = ~np.isnan(p)
    if np.any((p[tested] < 0) | (p[tested] > 1)):
        raise ParameterError("p_values", "numbers between 0 and 1 (or NaN)", p_values)
    m = int(tested.sum())
    if m == 0:
        return out
    q = p[tested]
    if weights is not None:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != p.shape or not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ParameterError("weights", "one finite, non-negative weight per p-value", weights)
        w = w[tested]
        if w.sum() <= 0:
            raise ParameterError("weights", "weights that are not all 0", weights)
        w = w / w.mean()
        q = np.divide(q, w, out=np.full_like(q, np.inf), where=w > 0)
    order = np.argsort(q, kind="stable")
    scaled = q[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    result = np.empty(m)
    result[order] = np.minimum(adjusted, 1.0)
    out[tested] = result
    return out
