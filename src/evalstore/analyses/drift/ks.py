"""Two-sample Kolmogorov-Smirnov statistic and p-value, from the ECDFs on fine bins.

``D = max |F_ref(x) - F_cur(x)|`` over valid (non-missing) values. Computed from both
histograms on ~1000 fine bins fitted on the reference (sampled quantiles, min and max
exact, finer tails): the ECDFs are exact at every bin edge, so the binned statistic
``D_binned = max over edges`` is a lower bound of the exact D. Inside a bin the gap
between the ECDFs can only move by the bin's reference share p or current share q, so

    D_binned <= D <= max over bins of max(|gap_before - q|, |gap_before + p|)

and the upper bound (``details["upper_bound"]``) is returned with every value; the gap
is at most the largest bin share, about 1/1000 when the current looks like the
reference (it is loose for atoms: a bin holding one frequent integer). Against
``scipy.stats.ks_2samp`` on normal, lognormal, uniform, Poisson, Cauchy and bimodal samples
of 500 to 100k rows, the bounds always held and ``D - D_binned`` was at most 2e-3 (at 500
rows; 2e-4 at 100k): tests/test_drift.py checks both.

The exact statistic needs the ranks of the union of both samples: a GROUP BY on every
distinct value and a running sum, measured at 23.5 s for 20 features x 1M + 1M rows,
against 2.8 s per dataset for the fine histograms (DuckDB ``histogram(x, bounds)``).

p-value of ``D_binned`` (hence conservative) at the actual sizes: exact when
``n + m <= 1000`` (lattice paths, as ``ks_2samp(method="exact")``), else Smirnov's
asymptotic distribution (``scipy.stats.kstwo`` at ``n*m/(n+m)``, as
``ks_2samp(method="asymp")``). Default threshold 0.1 on D. Missing values are not part of
an ECDF: the binned methods see them.
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

__all__ = ["ks_statistic"]


def ks_statistic(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """(binned D, upper bound of the exact D) from two histograms on the same fine bins."""
    ecdf = ecdf_gaps(reference, current)
    if ecdf is None:
        return math.nan, math.nan
    low = float(np.max(np.abs(ecdf.gap)))
    high = float(np.max(np.maximum(np.abs(ecdf.low), np.abs(ecdf.high))))
    return low, max(low, high)


def _compute(data: DriftInput) -> DriftValue:
    statistic, upper = ks_statistic(data.reference, data.current)
    n_ref, n_cur = int(data.reference[:-1].sum()), int(data.current[:-1].sum())
    p_value = ks_p_value(statistic, n_ref, n_cur)
    return DriftValue(statistic, p_value, {"upper_bound": upper})


register_drift_method(
    DriftMethod(
        "ks",
        "Kolmogorov-Smirnov statistic",
        ["numeric"],
        0.1,
        _compute,
        bins="fine",
        description="largest gap between the two ECDFs (on ~1000 fine reference-quantile "
        "bins: a lower bound, with the upper bound in details)",
        significance="two-sample KS test, asymptotic distribution at the actual sizes",
    )
)
