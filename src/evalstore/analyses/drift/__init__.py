"""Drift between two datasets, per column and overall, with an effect size and a significance.

::

    from evalstore.analyses.drift import drift, drift_over_time

    result = drift(model.dataset(environment="training"),
                   model.dataset(environment="production"))
    result.drifted, result.drifted_columns, result["age"].value, result["age"].p_adjusted
    daily = drift_over_time(reference, current, by="day")

How a column is judged: its bins are fitted on the reference and frozen (:mod:`..binning`:
deciles plus below/above/missing for numbers, the top 20 values plus other/missing for
categories). A method gives an **effect size** and a **p-value** at the actual sample
sizes. Across the columns tested together, the p-values are adjusted with
Benjamini-Hochberg (weighted by feature importance when given, see :mod:`._fdr`), which
holds the false discovery rate at ``alpha`` (default 0.05). A column **drifted** when its
effect reaches the method's threshold **and** its adjusted p-value is below alpha: the
effect threshold keeps tiny but real changes of huge samples from raising alarms, the test
keeps noise of small samples (a day's window) from doing so. The dataset drifted when any
column did.

Methods (registry: :func:`available_drift_methods`, one module each, all registered with
:func:`register_drift_method` as a user's would be):

============  ==============================  =========  ======================  ==========
key           effect size                     threshold  p-value                 kinds
============  ==============================  =========  ======================  ==========
psi           population stability index      0.1        chi-square, same bins   both
js            Jensen-Shannon distance, base 2 0.1        chi-square, same bins   both
kl            KL(current || reference), nats  0.05       chi-square, same bins   both
hellinger     Hellinger distance              0.1        chi-square, same bins   both
chi2          Cramer's V                      0.1        chi-square test         both
ks            KS statistic D (fine bins)      0.1        two-sample KS test      numeric
wasserstein   W1 / reference std (fine bins)  0.1        KS on the same bins     numeric
============  ==============================  =========  ======================  ==========

Default: ``psi`` for numeric and categorical columns (``DEFAULT_METHODS``), threshold 0.1,
significance from Pearson's chi-square test of homogeneity on the same bins. Why: one scale
for every column, so that they rank against each other; the thresholds everyone knows
(< 0.1 stable, > 0.25 major); on the anchor data it flags exactly the 5 injected features
at 100k and 1M rows (num_09, the weakest, at PSI 0.103), and on census 2015 vs 2016-2018
nothing, where the p-values alone would flag several columns every year (ANC at
p < 1e-34; AGEP at p < 1e-100 in 2017 and 2018: real changes, of PSI 0.01-0.04). The
chi-square test asks exactly what PSI measures (did the shares of these bins, missing and
out-of-range included, change?), exists for categories too, and costs nothing more: PSI
needs only the standard bins, one scan of 1M rows x 25 features in 0.4 s, where KS as the
significance would need the fine bins (about 5x the time). Smoothing of empty bins (PSI,
KL): bins empty on both sides are dropped, shares floored at 1e-4 and renormalised. ``ks``
and ``wasserstein`` use ~1000 fine reference-quantile bins; their modules document the
error bounds, which every result carries in ``details``.
"""

from __future__ import annotations

from evalstore.analyses.drift import chi2, hellinger, js, kl, ks, psi, wasserstein
from evalstore.analyses.drift._compute import drift, drift_families, drift_over_time
from evalstore.analyses.drift._fdr import benjamini_hochberg
from evalstore.analyses.drift._registry import (
    DEFAULT_METHODS,
    DriftInput,
    DriftMethod,
    DriftValue,
    available_drift_methods,
    get_drift_method,
    register_drift_method,
    unregister_drift_method,
)
from evalstore.analyses.drift._stats import EPSILON
from evalstore.analyses.drift.result import ColumnDrift, DriftOverTime, DriftResult, DriftWindow

__all__ = [
    "DEFAULT_METHODS",
    "EPSILON",
    "ColumnDrift",
    "DriftInput",
    "DriftMethod",
    "DriftOverTime",
    "DriftResult",
    "DriftValue",
    "DriftWindow",
    "available_drift_methods",
    "benjamini_hochberg",
    "chi2",
    "drift",
    "drift_families",
    "drift_over_time",
    "get_drift_method",
    "hellinger",
    "js",
    "kl",
    "ks",
    "psi",
    "register_drift_method",
    "unregister_drift_method",
    "wasserstein",
]
