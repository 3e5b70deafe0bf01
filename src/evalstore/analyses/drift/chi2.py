"""Chi-square test of homogeneity on the standard bins; effect size Cramer's V.

The statistic grows with the sample size, so the value compared with the threshold is
Cramer's V = ``sqrt(chi2 / N)`` (N = both sample sizes; a 2 x B table has
``min(rows, cols) - 1 = 1``), in [0, 1]. Default threshold 0.1 (Cohen's "small" effect);
for equal sample sizes and small shifts V ~ sqrt(PSI / 4), so 0.1 matches PSI ~ 0.04.
p-value: the test itself, ``scipy.stats.chi2_contingency(correction=False)`` on the bins
not empty in both. ``details`` has the statistic and degrees of freedom.
"""

from __future__ import annotations

import math

from evalstore.analyses.drift._registry import (
    DriftInput,
    DriftMethod,
    DriftValue,
    register_drift_method,
)
from evalstore.analyses.drift._stats import chi2_homogeneity

__all__: list[str] = []


def _compute(data: DriftInput) -> DriftValue:
    statistic, dof, p_value = chi2_homogeneity(data.reference, data.current)
    total = float(data.reference.sum() + data.current.sum())
    cramers_v = math.sqrt(statistic / total) if not math.isnan(statistic) else math.nan
    return DriftValue(cramers_v, p_value, {"chi2": statistic, "dof": dof})


register_drift_method(
    DriftMethod(
        "chi2",
        "Chi-square test (Cramer's V)",
        ["numeric", "categorical"],
        0.1,
        _compute,
        description="Cramer's V of the 2 x bins table of counts",
        significance="chi-square test of homogeneity (no continuity correction)",
    )
)
