"""Statistics shared by the drift methods, on histograms (small arrays, never rows).

- :func:`smoothed`: the smoothing of empty bins used by PSI and KL: bins empty in both
  histograms are dropped, then every share is floored at ``EPSILON`` = 1e-4 (Evidently's
  and NannyML's choice) and each histogram renormalised to sum to 1. Then
  ``PSI = KL(cur||ref) + KL(ref||cur)`` holds exactly.
- :func:`chi2_homogeneity`: Pearson's chi-square test of homogeneity on the 2 x B table of
  counts (bins empty in both dropped, no continuity correction), the significance of every
  method on the standard bins, at the actual sample sizes. :func:`chi2_homogeneity_rows`
  and :func:`smoothed_rows` do the same for many current histograms at once (time windows:
  168 hours x 28 columns took 0.3 s one pair at a time).
- :func:`ecdf_gaps`: the two ECDFs on fine bins, for KS and Wasserstein, with bounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from evalstore.analyses._tails import chi2_sf

__all__ = [
    "EPSILON",
    "Ecdf",
    "chi2_homogeneity",
    "chi2_homogeneity_rows",
    "ecdf_gaps",
    "ks_p_value",
    "shares",
    "smoothed",
    "smoothed_rows",
]

EPSILON = 1e-4


def shares(counts: np.ndarray) -> np.ndarray | None:
    """Counts as shares of their total; None when the total is 0."""
    total = float(np.sum(counts))
    if total <= 0:
        return None
    out: np.ndarray = np.asarray(counts, dtype=np.float64) / total
    return out


def smoothed(reference: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Both histograms as shares, smoothed (see the module doc); None if one is empty."""
    p, q = shares(reference), shares(current)
    if p is None or q is None:
        return None
    keep = (p > 0) | (q > 0)
    p, q = np.maximum(p[keep], EPSILON), np.maximum(q[keep], EPSILON)
    return p / p.sum(), q / q.sum()


def chi2_homogeneity(reference: np.ndarray, current: np.ndarray) -> tuple[float, int, float]:
    """(statistic, degrees of freedom, p-value); NaNs when a side is empty.

    Equals ``scipy.stats.chi2_contingency([reference, current], correction=False)`` on the
    bins that are not empty in both. One non-empty bin: statistic 0, p-value 1.
    """
    table = np.vstack([reference, current]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    rows = table.sum(axis=1)
    if table.shape[1] == 0 or rows.min() <= 0:
        return math.nan, 0, math.nan
    dof = table.shape[1] - 1
    if dof == 0:
        return 0.0, 0, 1.0
    expected = np.outer(rows, table.sum(axis=0)) / rows.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return statistic, dof, float(chi2_sf(np.array(dof), np.array(statistic)))


def smoothed_rows(reference: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`smoothed` of ``reference`` against each row of ``current`` (windows x bins):
    two arrays of that shape, the dropped bins 0, and rows of NaN where a side is empty."""
    ref = np.asarray(reference, dtype=np.float64)[None, :]
    cur = np.asarray(current, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = ref / ref.sum()
        q = cur / cur.sum(axis=1, keepdims=True)
        keep = (p > 0) | (q > 0)
        p = np.where(keep, np.maximum(p, EPSILON), 0.0)
        q = np.where(keep, np.maximum(q, EPSILON), 0.0)
        p = p / p.sum(axis=1, keepdims=True)
        q = q / q.sum(axis=1, keepdims=True)
    empty = (ref.sum() <= 0) | (cur.sum(axis=1) <= 0)
    p[empty], q[empty] = math.nan, math.nan
    return p, q


def chi2_homogeneity_rows(
    reference: np.ndarray, current: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`chi2_homogeneity` of ``reference`` against each row of ``current`` (windows x
    bins): the statistics, degrees of freedom and p-values, one per row."""
    ref = np.asarray(reference, dtype=np.float64)[None, :]
    cur = np.asarray(current, dtype=np.float64)
    column = ref + cur
    used = column > 0
    n_ref, n_cur = ref.sum(), cur.sum(axis=1, keepdims=True)
    total = n_ref + n_cur
    with np.errstate(divide="ignore", invalid="ignore"):
        e_ref, e_cur = n_ref * column / total, n_cur * column / total
        cells = (ref - e_ref) ** 2 / e_ref + (cur - e_cur) ** 2 / e_cur
    statistic = np.where(used, cells, 0.0).sum(axis=1)
    dof = used.sum(axis=1) - 1
    p_value = np.where(dof > 0, chi2_sf(np.maximum(dof, 1), statistic), 1.0)
    statistic = np.where(dof > 0, statistic, 0.0)
    empty = (n_ref <= 0) | (n_cur[:, 0] <= 0) | (dof < 0)
    statistic[empty], p_value[empty] = math.nan, math.nan
    return statistic, np.where(empty, 0, dof), p_value


#: up to n + m = 1000 (and n * m = 100_000) the KS p-value is exact: lattice paths, one
#: NumPy step per diagonal, <= ~10 ms; 50 ms at 1000 x 1000 is too slow per column and window.
#: Above, Smirnov's asymptotics (for very unequal sizes they tend to the exact one-sample law).
KS_EXACT_MAX = 100_000
KS_EXACT_MAX_SIZE = 1_000


def ks_p_value(statistic: float, n_reference: int, n_current: int) -> float:
    """Two-sided two-sample KS p-value of ``statistic`` at these sample sizes.

    Exact when ``n * m <= KS_EXACT_MAX`` and ``n + m <= KS_EXACT_MAX_SIZE`` (the probability
    that a random lattice path leaves the band, as ``scipy.stats.ks_2samp(method="exact")``);
    otherwise as ``ks_2samp(method="asymp")``: ``scipy.stats.kstwo`` at ``n*m/(n+m)``.
    """
    if math.isnan(statistic) or n_reference == 0 or n_current == 0:
        return math.nan
    if statistic <= 0:
        return 1.0
    small = n_reference + n_current <= KS_EXACT_MAX_SIZE
    if small and n_reference * n_current <= KS_EXACT_MAX:
        return _ks_exact(statistic, n_reference, n_current)
    m, n = sorted((float(n_reference), float(n_current)), reverse=True)
    en = max(1.0, float(np.round(m * n / (m + n))))
    return float(min(1.0, _scipy_stats().kstwo.sf(statistic, en)))


def _ks_exact(statistic: float, m: int, n: int) -> float:
    """P(D >= statistic) for samples of m and n values: 1 - the share of the C(m+n, m)
    lattice paths from (0, 0) to (m, n) that stay where ``|i/m - j/n| < statistic``.
    ``a[i]`` on anti-diagonal k = i + j holds (paths to (i, j) inside) / C(k, i), so it
    stays in [0, 1]: ``a[i] = i/k a_prev[i-1] + j/k a_prev[i]``."""
    g = math.gcd(m, n)
    step_i, step_j = n // g, m // g
    band = round(statistic * (m // g) * n)  # D is a multiple of 1/lcm(m, n)
    a = np.ones(1)
    for k in range(1, m + n + 1):
        i = np.arange(max(0, k - n), min(k, m) + 1)
        j = k - i
        previous = np.zeros(len(i))
        low = max(0, k - 1 - n)
        from_left = i - 1 - low  # (i-1, j) on diagonal k-1
        ok = (from_left >= 0) & (from_left < len(a))
        previous[ok] += i[ok] / k * a[from_left[ok]]
        from_below = i - low  # (i, j-1) on diagonal k-1
        ok = (from_below >= 0) & (from_below < len(a)) & (j > 0)
        previous[ok] += j[ok] / k * a[from_below[ok]]
        previous[np.abs(i * step_i - j * step_j) >= band] = 0.0
        a = previous
    return float(min(1.0, max(0.0, 1.0 - a[-1])))


def _scipy_stats() -> Any:
    """scipy.stats, imported when a KS p-value is first needed (it takes ~0.9 s)."""
    from scipy import stats  # type: ignore[import-untyped, unused-ignore]

    return stats


@dataclass(frozen=True)
class Ecdf:
    """The two ECDFs at the cell ends of a fine binning (valid values only).

    Cells are ``below``, the value bins, ``above``; ``p``/``q`` are the reference/current
    shares per cell, ``gap`` the difference F_ref - F_cur at each cell's right end.
    Inside a cell the gap can only range over ``[gap_before - q, gap_before + p]``:
    that bounds every statistic computed from the cells.
    """

    p: np.ndarray
    q: np.ndarray
    gap: np.ndarray
    n_reference: int
    n_current: int

    @property
    def gap_before(self) -> np.ndarray:
        out: np.ndarray = np.concatenate([[0.0], self.gap[:-1]])
        return out

    @property
    def low(self) -> np.ndarray:
        """The smallest value the gap can take inside each cell."""
        out: np.ndarray = self.gap_before - self.q
        return out

    @property
    def high(self) -> np.ndarray:
        """The largest value the gap can take inside each cell."""
        out: np.ndarray = self.gap_before + self.p
        return out


def ecdf_gaps(reference: np.ndarray, current: np.ndarray) -> Ecdf | None:
    """:class:`Ecdf` from two fine-bin histograms (missing bin last, left out)."""
    ref = np.asarray(reference[:-1], dtype=np.float64)
    cur = np.asarray(current[:-1], dtype=np.float64)
    n_ref, n_cur = int(ref.sum()), int(cur.sum())
    if n_ref == 0 or n_cur == 0:
        return None
    p, q = ref / n_ref, cur / n_cur
    gap = np.cumsum(p) - np.cumsum(q)
    gap[-1] = 0.0  # both ECDFs reach 1 after the last cell; no rounding residue
    return Ecdf(p, q, gap, n_ref, n_cur)
