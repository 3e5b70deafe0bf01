"""Analytic confidence intervals, from the tiny aggregated counts a query returns.

- :func:`wilson` for proportions (accuracy, precision, recall, ...): the Wilson score
  interval, without continuity correction; good coverage even for small ``n`` or a
  proportion near 0 or 1, where the normal (Wald) interval fails.
- :func:`normal` for means (MAE, mean error): mean +- z * sd / sqrt(n), by the central
  limit theorem.
- AUC: DeLong's variance (``ranking.py``), computed from the same score histogram
  as the AUC itself.
"""

from __future__ import annotations

import math
from statistics import NormalDist

from evalstore.errors import ParameterError

__all__ = ["check_confidence", "normal", "wilson", "z_value"]


def check_confidence(confidence: object) -> float:
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, (int, float))
        or not 0 < confidence < 1
    ):
        raise ParameterError("confidence", "a number between 0 and 1 (exclusive)", confidence)
    return float(confidence)


def z_value(confidence: float) -> float:
    """The two-sided standard normal quantile: 1.959964 for 0.95."""
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson(k: int, n: int, confidence: float) -> tuple[float | None, float | None]:
    """The Wilson score interval of the proportion ``k / n``; (None, None) when n = 0.

    With p = k/n and z the normal quantile: centre (p + z²/2n) / (1 + z²/n),
    half-width z / (1 + z²/n) * sqrt(p(1-p)/n + z²/4n²).
    """
    if n <= 0:
        return None, None
    z = z_value(confidence)
    p = k / n
    z2n = z * z / n
    centre = (p + z2n / 2) / (1 + z2n)
    half = z / (1 + z2n) * math.sqrt(p * (1 - p) / n + z2n / (4 * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def normal(
    mean: float | None, sd: float | None, n: int, confidence: float
) -> tuple[float | None, float | None]:
    """mean +- z * sd / sqrt(n); (None, None) without a mean or with fewer than 2 rows."""
    if mean is None or sd is None or n < 2 or not math.isfinite(sd):
        return None, None
    half = z_value(confidence) * sd / math.sqrt(n)
    return mean - half, mean + half
