"""Regression metrics, each an aggregate over the rows with both an actual and a prediction.

The error of a row is ``prediction - actual`` (positive: the model over-predicts);
``mean_error`` and the residual quantiles use that sign.

- ``mae``, ``mse``, ``rmse``, ``mean_error``: as scikit-learn; ``mae``, ``mse`` and
  ``mean_error`` carry a normal (central limit) interval mean +- z * sd / sqrt(n);
  ``rmse``'s is the square root of ``mse``'s.
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

__all__ = ["QUANTILES"]

REGRESSION = Task.REGRESSION
EPS = float(np.finfo(np.float64).eps)
QUANTILES = {"p05": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95}


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


def _mean_with_interval(name: str, root: bool = False) -> Callable[[GroupData], MetricValue]:
    def finalize(group: GroupData) -> MetricValue:
        n = int(group["n"] or 0)
        mean = group[name]
        if not n or mean is None:
            return MetricValue(None, n=n)
        low, high = normal(float(mean), group[f"{name}_sd"], n, group.input.confidence)
        if root:
            low = math.sqrt(max(low, 0.0)) if low is not None else None
            high = math.sqrt(max(high, 0.0)) if high is not None else None
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


def _abs_error(m: MetricInput) -> ir.FloatingValue:
    return _error(m).abs()


def _sq_error(m: MetricInput) -> ir.FloatingValue:
    return _error(m) ** 2


def _mape(m: MetricInput) -> ir.Scalar:
    ratio = _error(m).abs() / ibis.greatest(m.actual.abs(), EPS)
    return ratio.mean(where=_used(m))


def _smape(m: MetricInput) -> ir.Scalar:
    denom = m.actual.abs() + m.score.abs()
    term = ibis.ifelse(denom == 0, 0.0, 2 * _error(m).abs() / denom)
    return term.mean(where=_used(m))


def _wape(m: MetricInput) -> dict[str, ir.Scalar]:
    used = _used(m)
    return {
        **_n(m),
        "abs_error": _error(m).abs().sum(where=used),
        "abs_actual": m.actual.abs().sum(where=used),
    }


def _wape_finalize(group: GroupData) -> MetricValue:
    n = int(group["n"] or 0)
    total = group["abs_actual"]
    if not n or not total:
        return MetricValue(None, n=n)
    return MetricValue(float(group["abs_error"]) / float(total), n=n)


def _r2(m: MetricInput) -> dict[str, ir.Scalar]:
    used = _used(m)
    actual: ir.FloatingColumn = m.actual
    return {
        **_n(m),
        "sse": (_error(m) ** 2).sum(where=used),
        "var": actual.var(how="pop", where=used),
    }


def _r2_finalize(group: GroupData) -> MetricValue:
    n = int(group["n"] or 0)
    if not n or group["var"] is None or group["sse"] is None:
        return MetricValue(None, n=n)
    sst = float(group["var"]) * n
    if sst == 0 or not math.isfinite(sst):
        return MetricValue(None, n=n)
    return MetricValue(1 - float(group["sse"]) / sst, n=n)


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
                finalize=_mean_with_interval(key, root),
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
    plain = (
        ("mape", "Mean absolute percentage error", _mape, "mean |error| / |actual|, a fraction"),
        ("smape", "Symmetric MAPE", _smape, "mean 2 |error| / (|actual| + |prediction|)"),
    )
    for key, name, agg, description in plain:
        aggregates, finalize = _plain(key, agg)
        register_metric(
            Metric(
                key=key,
                name=name,
                tasks=[REGRESSION],
                higher_is_better=False,
                needs=["score"],
                aggregates=aggregates,
                finalize=finalize,
                description=description,
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
            description="sum |error| / sum |actual|",
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
            description="coefficient of determination, 1 - SSE / SST",
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
                description=f"exact {q:.0%} quantile of prediction - actual",
            )
        )


_register()
