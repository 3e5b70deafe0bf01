"""Confidence intervals, from the tiny aggregated values a query returns (never from rows).

Analytic where one exists, a bootstrap of aggregated counts otherwise. Which one a
metric carries is its ``Metric.interval``:

- ``"wilson"`` (:func:`wilson`) for proportions (accuracy, precision, recall, ...): the
  Wilson score interval, without continuity correction; good coverage even for small
  ``n`` or a proportion near 0 or 1, where the normal (Wald) interval fails.
- ``"normal"`` (:func:`normal`) for means of per-row values (MAE, log loss, Brier, ...):
  mean +- z * sd / sqrt(n), by the central limit theorem, with ``sd`` the engine's
  (numerically stable) sample standard deviation. Also for metrics that are smooth
  functions of such means or of counts, with the delta method: WAPE and R²
  (``regression``), average precision (``ranking``, on the logit scale).
- ``"delong"``: the AUC's DeLong variance (``ranking``), from the same score histogram
  as the AUC itself.
- ``"bootstrap"`` (:func:`bootstrap`) for metrics that are functions of a few
  aggregated counts (F1 and the macro/weighted averages from the confusion matrix, ECE
  from the calibration bins): the counts are resampled as a multinomial,
  ``BOOTSTRAP_REPLICAS`` times, and the interval is the percentile interval of the
  metric over the replicas. A row of the group falls in one cell (a confusion-matrix
  cell, a (bin, hit) cell); resampling the rows with replacement puts a
  multinomial(n, counts / n) number of them in each cell, so when the metric depends
  on the rows only through those counts this *is* the row bootstrap, without reading
  a row. The seed is fixed (``BOOTSTRAP_SEED``): the same counts give the same
  interval, call after call.

With ``BOOTSTRAP_REPLICAS = 1000``, the Monte Carlo error of a 95% percentile endpoint
is about 0.085 standard errors of the metric (the sd of the 2.5% quantile of 1000 draws:
sqrt(0.025 * 0.975 / 1000) / phi(1.96)), i.e. ~2% of the interval's width. The draws
cost ~0.1 microsecond per non-empty cell and replica: ~0.4 ms per group for a binary
confusion matrix (shared by F1 and the averages of that group), ~2 ms for the 20
calibration cells.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from statistics import NormalDist
from typing import Any

import numpy as np

from evalstore.errors import ParameterError

__all__ = [
    "BOOTSTRAP_REPLICAS",
    "BOOTSTRAP_SEED",
    "KINDS",
    "bootstrap",
    "check_confidence",
    "hull",
    "normal",
    "percentile",
    "wilson",
    "z_value",
]

#: every kind of interval a metric may declare (``Metric.interval``)
KINDS = ("bootstrap", "delong", "normal", "wilson")
#: replicas of every bootstrap interval (see the module doc for its Monte Carlo error)
BOOTSTRAP_REPLICAS = 1000
#: the seed of every bootstrap: the same counts always give the same interval
BOOTSTRAP_SEED = 20240101

Floats = np.ndarray[Any, np.dtype[np.float64]]


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


def wilson(k: float, n: int, confidence: float) -> tuple[float | None, float | None]:
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
    # it holds p (exactly 1 at k = n, 0 at k = 0), which rounding can miss by an ulp
    return max(0.0, min(centre - half, p)), min(1.0, max(centre + half, p))


def hull(
    interval: tuple[float | None, float | None], other: tuple[float, float]
) -> tuple[float, float]:
    """The smallest interval holding both (``interval`` may be undefined: (None, None))."""
    low, high = interval
    return (
        other[0] if low is None else min(low, other[0]),
        other[1] if high is None else max(high, other[1]),
    )


def normal(
    mean: float | None,
    sd: float | None,
    n: int,
    confidence: float,
    *,
    lower: float | None = None,
    upper: float | None = None,
) -> tuple[float | None, float | None]:
    """mean +- z * sd / sqrt(n), clipped to the metric's range [lower, upper].

    (None, None) without a mean, with fewer than 2 rows, or when either is not finite
    (an overflow). ``sd = 0`` (every row alike) gives the degenerate (mean, mean).
    """
    if mean is None or sd is None or n < 2 or not math.isfinite(sd) or not math.isfinite(mean):
        return None, None
    half = z_value(confidence) * sd / math.sqrt(n)
    low, high = mean - half, mean + half
    if lower is not None:
        low = max(low, lower)
    if upper is not None:
        high = min(high, upper)
    return low, high


def percentile(values: Floats, confidence: float) -> tuple[float | None, float | None]:
    """The percentile interval of bootstrap ``values``, leaving out undefined (NaN) ones.

    (None, None) when no replica is defined. Endpoints are NumPy's default (linear)
    quantiles at (1 - confidence) / 2 and (1 + confidence) / 2.
    """
    defined = values[np.isfinite(values)]
    if defined.size == 0:
        return None, None
    low, high = linear_quantiles(defined, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(low), float(high)


def linear_quantiles(values: Floats, qs: Sequence[float]) -> Floats:
    """``np.quantile(values, qs)`` (the linear method), to the last bit: np.quantile
    imports numpy.ma on its first call (70 ms of a fresh process that reports)."""
    ordered = np.sort(values)
    position = np.asarray(qs, dtype=np.float64) * (len(ordered) - 1)
    below = np.floor(position).astype(np.int64)
    above = np.minimum(below + 1, len(ordered) - 1)
    a, b, t = ordered[below], ordered[above], position - below
    diff = b - a
    # NumPy's lerp: from the nearer end, so that it stays monotonic
    out: Floats = np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)
    return out


def bootstrap(
    counts: np.ndarray[Any, Any],
    statistic: Callable[[Floats], Floats],
    confidence: float,
    *,
    replicas: int = BOOTSTRAP_REPLICAS,
) -> tuple[float | None, float | None]:
    """The percentile bootstrap interval of ``statistic`` over multinomial ``counts``.

    ``counts`` (any shape: the cells of a confusion matrix, of a (bin, class)
    histogram) are resampled ``replicas`` times as multinomial(n, counts / n), n their
    total; ``statistic`` maps the replicas, shape ``(replicas, *counts.shape)``, to one
    value per replica (NaN where undefined: the percentile leaves those out).
    (None, None) when there are no counts or no defined replica. ::

        def f1(c):  # c[:, 0] = tp, c[:, 1] = fp, c[:, 2] = fn, c[:, 3] = tn
            return 2 * c[:, 0] / (2 * c[:, 0] + c[:, 1] + c[:, 2])

        bootstrap(np.array([40, 10, 5, 45]), f1, 0.95)  # (0.755..., 0.915...)
    """
    cells = np.asarray(counts, dtype=np.int64)
    if int(cells.sum()) <= 0:
        return None, None
    with np.errstate(divide="ignore", invalid="ignore"):
        values = np.asarray(statistic(_replicas(cells, replicas)), dtype=np.float64)
    return percentile(values, confidence)


# The metrics of one group that resample the same counts (f1 and the macro and
# weighted averages: one confusion matrix) share one draw: the last one is kept.
_last: tuple[object, Floats] | None = None
_KEEP_BYTES = 2**23  # 8 MB: up to ~1000 cells (~30 classes, all confused)


def _replicas(cells: np.ndarray[Any, np.dtype[np.int64]], replicas: int) -> Floats:
    """``replicas`` multinomial draws of ``cells`` (read-only); the same for the same cells."""
    global _last
    key = (cells.shape, cells.tobytes(), replicas)
    last = _last  # one read: another thread may replace it
    if last is not None and last[0] == key:
        return last[1]
    flat = cells.ravel()
    n = int(flat.sum())
    full = np.flatnonzero(flat)  # an empty cell stays empty: draw only the others
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    drawn = np.zeros((replicas, flat.size))
    drawn[:, full] = rng.multinomial(n, flat[full] / n, size=replicas)
    drawn = drawn.reshape((replicas, *cells.shape))
    drawn.flags.writeable = False
    if drawn.nbytes <= _KEEP_BYTES:
        _last = (key, drawn)
    return drawn
