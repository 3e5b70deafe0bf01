"""Regression metrics, each an aggregate over the rows with both an actual and a prediction.

The error of a row is ``prediction - actual`` (positive: the model over-predicts);
``mean_error`` and the residual quantiles use that sign.

- ``mae``, ``mse``, ``rmse``, ``mean_error``: as scikit-learn.
- ``mape``: mean |error| / max(|actual|, eps), eps the float64 machine epsilon, a
  fraction (not percent), as scikit-learn's ``mean_absolute_percentage_error``.
- ``smape``: mean 2 |error| / (|actual| + |prediction|), 0 where both are 0 (in [0, 2]).
- ``wape``: sum |error| / sum |actual| (None when every actual is 0).
- ``r2``: 1 - SSE / SST, SST from the engine's numerically stable population variance;
  None when SST = 0 (constant actuals, one row), where scikit-learn's
  ``force_finite=False`` gives NaN or -inf.
- ``residual_p05`` ... ``residual_p95``: exact quantiles of the error, linearly
  interpolated (DuckDB ``quantile_cont``, NumPy's default ``np.quantile``); exact, not
  approximate, so each sorts the group's errors.

Intervals, all normal (none needs a second query):

- means of a per-row value (``mae``, ``mse``, ``mean_error``, ``mape``, ``smape``):
  mean +- z * sd / sqrt(n) by the central limit theorem, with the engine's (stable)
  sample sd; ``rmse``'s is the square root of ``mse``'s. Clipped at 0 below for the
  non-negative ones and at 2 above for ``smape``.
- ``wape`` = mean |error| / mean |actual| = a / b, a ratio of means: the delta method,
  se = sqrt(var(a_i - W b_i) / n) / b, with var(a - W b) = var(a) - 2 W cov(a, b)
  + W² var(b) from the engine's sample (co)variances.
- ``r2`` = 1 - A / B with A = mean e², B = mean (y - ybar)²: the delta method on the
  ratio, se = sqrt(var(e_i² - (A/B) d_i²) / n) / B with d = y - ybar (estimating ybar
  adds nothing at first order). One pass cannot centre y, so var(d²) and
  cov(e², d²) are expanded into (co)variances of e², y² and y; that loses about
  2 log10(|ybar| / sd(y)) digits, so the interval is None when
  |ybar| > ``R2_MAX_OFFSET`` * sd(y). The interval is clipped at 1 above.
- residual quantiles: none. A distribution-free interval is a pair of order
  statistics whose ranks depend on the group's n (e.g. nq -+ z sqrt(nq(1-q))); a
  quantile aggregate takes a constant fraction, so it needs a second, ranked pass
  over every row: a second query, for now left out.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import ibis
import ibis.expr.types as ir
import numpy as np

from evalstore.analyses.metrics._base import (
    GroupData,
    Metric,
    MetricInput,
    MetricValue,
    register_metric,
)
from evalstore.analyses.metrics._intervals import normal
from evalstore.schema import Task

__all__ = ["QUANTILES", "R2_MAX_OFFSET"]

REGRESSION = Task.REGRESSION
EPS = float(np.finfo(np.float64).eps)
QUANTILES = {"p05": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95}
#: r2 has no interval when |mean actual| exceeds this many sds of the actual
R2_MAX_OFFSET = 1e4


def _used(m: MetricInput) -> ir.BooleanValue:
    return m.has_actual & m.score.notnull()


def _error(m: MetricInput) -> ir.FloatingValue:
    return m.score - m.actual


def _n(m: MetricInput) -> dict[str, ir.Scalar]:
    return {"n": m.table.count(where=_used(m))}


def _moments(
    name: str, value: Callable[[MetricInput], ir.FloatingValue]
) -> Callable[[MetricInput], dict[str, ir.Scalar]]:
    def aggregates(m: MetricInput) -> dict[str, ir.Scalar]:
        v, used = value(m), _used(m)
        return {**_n(m), name: v.mean(where=used), f"{name}_sd": v.std(where=used)}

    return aggregates


def _mean_with_interval(
    name: str, root: bool = False, lower: float | None = 0.0, upper: float | None = None
) -> Callable[[GroupData], MetricValue]:
    """The mean ``name`` and its normal interval, clipped to [lower, upper]; ``root``:
    their square roots."""

    def finalize(group: GroupData) -> MetricValue:
        n = int(group["n"] or 0)
        mean = group[name]
        if not n or mean is None:
            return MetricValue(None, n=n)
        low, high = normal(
            float(mean), group[f"{name}_sd"], n, group.input.confidence, lower=lower, upper=upper
        )
        if root:
            low = math.sqrt(low) if low is not None else None
            high = math.sqrt(high) if high is not None else None
            return MetricValue(math.sqrt(mean), low, high, n)
        return MetricValue(float(mean), low, high, n)

    return finalize


def _plain(
    name: str, value: Callable[[MetricInput], ir.Scalar]
) -> tuple[Callable[[MetricInput], dict[str, ir.Scalar]], Callable[[GroupData], MetricValue]]:
    def aggregates(m: MetricInput) -> dict[str, ir.Scalar]:
        return {**_n(m), name: value(m)}

    def finalize(group: GroupData) -> MetricValue:
        n = int(group["n"] or 0)
        v = group[name]
        return MetricValue(float(v) if n and v is not None else None, n=n)

    return aggregates, finalize


def _finite(*values: object) -> list[float] | None:
    """The values as floats, or None when any is missing or not finite (an overflow)."""
    out = [float(v) for v in values if isinstance(v, (int, float))]
    if len(out) != len(values) or not all(math.isfinite(v) for v in out):
        return None
    return out


def _delta(
    value: float, variance: float, n: int, confidence: float, upper: float | None = None
) -> tuple[float | None, float | None]:
    """value +- z * sqrt(variance / n), the variance of the influence function given."""
    if n < 2 or not math.isfinite(variance) or variance < 0:
        return None, None
    return normal(value, math.sqrt(variance), n, confidence, upper=upper)


def _abs_error(m: MetricInput) -> ir.FloatingValue:
    return _error(m).abs()


def _sq_error(m: MetricInput) -> ir.FloatingValue:
    return _error(m) ** 2


def _ape(m: MetricInput) -> ir.FloatingValue:
    return _error(m).abs() / ibis.greatest(m.actual.abs(), EPS)


def _sape(m: MetricInput) -> ir.FloatingValue:
    denom = m.actual.abs() + m.score.abs()
    return ibis.ifelse(denom == 0, 0.0, 2 * _error(m).abs() / denom)


def _wape(m: MetricInput) -> dict[str, ir.Scalar]:
    used = _used(m)
    a: ir.FloatingColumn = _error(m).abs()
    b: ir.FloatingColumn = m.actual.abs()
    return {
        **_n(m),
        "abs_error": a.sum(where=used),
        "abs_actual": b.sum(where=used),
        "var_a": a.var(where=used),
        "var_b": b.var(where=used),
        "cov_ab": a.cov(b, where=used),
    }


def _wape_finalize(group: GroupData) -> MetricValue:
    n = int(group["n"] or 0)
    total = group["abs_actual"]
    if not n or not total:
        return MetricValue(None, n=n)
    wape = float(group["abs_error"]) / float(total)
    low = high = None
    moments = _finite(group["var_a"], group["var_b"], group["cov_ab"], total)
    if moments is not None:
        var_a, var_b, cov_ab, total_b = moments
        variance = (var_a - 2 * wape * cov_ab + wape * wape * var_b) / (total_b / n) ** 2
        low, high = _delta(wape, max(variance, 0.0), n, group.input.confidence)
        low = max(low, 0.0) if low is not None else None
    return MetricValue(wape, low, high, n)


def _r2(m: MetricInput) -> dict[str, ir.Scalar]:
    used = _used(m)
    y: ir.FloatingColumn = m.actual
    e2: ir.FloatingColumn = _error(m) ** 2
    y2: ir.FloatingColumn = y * y
    return {
        **_n(m),
        "sse": e2.sum(where=used),
        "var": y.var(how="pop", where=used),
        # for the delta-method interval
        "mean_y": y.mean(where=used),
        "var_y": y.var(where=used),
        "var_e2": e2.var(where=used),
        "var_y2": y2.var(where=used),
        "cov_y2_y": y2.cov(y, where=used),
        "cov_e2_y2": e2.cov(y2, where=used),
        "cov_e2_y": e2.cov(y, where=used),
    }


def _r2_interval(
    group: GroupData, r2: float, sst: float, n: int
) -> tuple[float | None, float | None]:
    names = ("mean_y", "var_y", "var_e2", "var_y2", "cov_y2_y", "cov_e2_y2", "cov_e2_y")
    moments = _finite(*(group[name] for name in names))
    if moments is None or n < 2:
        return None, None
    mean_y, var_y, var_e2, var_y2, cov_y2_y, cov_e2_y2, cov_e2_y = moments
    if mean_y * mean_y > R2_MAX_OFFSET**2 * var_y:
        return None, None  # the expansion below would cancel away the digits it needs
    # d = y - ybar: var(d²) and cov(e², d²) from moments of y, y² and e²
    var_d2 = var_y2 - 4 * mean_y * cov_y2_y + 4 * mean_y * mean_y * var_y
    cov_e2_d2 = cov_e2_y2 - 2 * mean_y * cov_e2_y
    b = sst / n
    r = 1 - r2  # A / B
    variance = (var_e2 + r * r * var_d2 - 2 * r * cov_e2_d2) / (b * b)
    return _delta(r2, max(variance, 0.0), n, group.input.confidence, upper=1.0)


def _r2_finalize(group: GroupData) -> MetricValue:
    n = int(group["n"] or 0)
    if not n or group["var"] is None or group["sse"] is None:
        return MetricValue(None, n=n)
    sst = float(group["var"]) * n
    if sst == 0 or not math.isfinite(sst):
        return MetricValue(None, n=n)
    r2 = 1 - float(group["sse"]) / sst
    low, high = _r2_interval(group, r2, sst, n) if math.isfinite(r2) else (None, None)
    return MetricValue(r2, low, high, n)


def _quantile(q: float) -> Callable[[MetricInput], ir.Scalar]:
    def value(m: MetricInput) -> ir.Scalar:
        return _error(m).quantile(q, where=_used(m))

    return value


def _register() -> None:
    means = (
        ("mae", "Mean absolute error", _abs_error, False, "mean |prediction - actual|"),
        ("mse", "Mean squared error", _sq_error, False, "mean (prediction - actual)^2"),
        ("mean_error", "Mean error", _error, False, "mean (prediction - actual): the bias"),
    )
    for key, name, value, root, description in means:
        register_metric(
            Metric(
                key=key,
                name=name,
                tasks=[REGRESSION],
                higher_is_better=None if key == "mean_error" else False,
                needs=["score"],
                aggregates=_moments(key, value),
                finalize=_mean_with_interval(key, root, None if key == "mean_error" else 0.0),
                description=description,
                interval="normal",
                default=True,
            )
        )
    register_metric(
        Metric(
            key="rmse",
            name="Root mean squared error",
            tasks=[REGRESSION],
            higher_is_better=False,
            needs=["score"],
            aggregates=_moments("mse", _sq_error),
            finalize=_mean_with_interval("mse", root=True),
            description="square root of the mean squared error",
            interval="normal",
            default=True,
        )
    )
    percentages = (
        (
            "mape",
            "Mean absolute percentage error",
            _ape,
            None,
            "mean |error| / |actual|, a fraction",
        ),
        ("smape", "Symmetric MAPE", _sape, 2.0, "mean 2 |error| / (|actual| + |prediction|)"),
    )
    for key, name, value, upper, description in percentages:
        register_metric(
            Metric(
                key=key,
                name=name,
                tasks=[REGRESSION],
                higher_is_better=False,
                needs=["score"],
                aggregates=_moments(key, value),
                finalize=_mean_with_interval(key, upper=upper),
                description=description,
                interval="normal",
                default=True,
            )
        )
    register_metric(
        Metric(
            key="wape",
            name="Weighted absolute percentage error",
            tasks=[REGRESSION],
            higher_is_better=False,
            needs=["score"],
            aggregates=_wape,
            finalize=_wape_finalize,
            description="sum |error| / sum |actual| (interval: delta method)",
            interval="normal",
            default=True,
        )
    )
    register_metric(
        Metric(
            key="r2",
            name="R²",
            tasks=[REGRESSION],
            higher_is_better=True,
            needs=["score"],
            aggregates=_r2,
            finalize=_r2_finalize,
            description="coefficient of determination, 1 - SSE / SST (interval: delta method)",
            interval="normal",
            default=True,
        )
    )
    for label, q in QUANTILES.items():
        aggregates, finalize = _plain("q", _quantile(q))
        register_metric(
            Metric(
                key=f"residual_{label}",
                name=f"Residual {label} (prediction - actual)",
                tasks=[REGRESSION],
                higher_is_better=None,
                needs=["score"],
                aggregates=aggregates,
                finalize=finalize,
                description=f"exact {q:.0%} quantile of prediction - actual (no interval: "
                "an order-statistic interval needs a second, ranked pass over the rows)",
            )
        )


_register()
