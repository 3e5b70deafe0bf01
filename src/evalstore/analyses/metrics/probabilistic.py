"""Probabilistic classification metrics: log loss, Brier score, calibration.

- ``log_loss``: mean of -ln p(actual class), p clipped to [eps, 1 - eps] with eps the
  float64 machine epsilon, as scikit-learn. Multiclass: an actual class without a score
  column gets p = 0 (clipped), the loss of a model that ruled it out; so does a class
  score the row lacks (read as 0 by ``_inputs.prepare``, the row kept).
- ``brier``: mean squared difference between the scores and the one-hot actual: binary
  (p - y)^2, as scikit-learn's ``brier_score_loss``; multiclass the sum over classes,
  unscaled (scikit-learn's ``scale_by_half="auto"`` for 3+ classes).
- ``ece``: expected calibration error over 10 equal-width bins of [0, 1], bins as
  scikit-learn's ``calibration_curve(strategy="uniform")`` (a score on an edge goes to
  the lower bin): sum_b n_b / n * |hits_b / n_b - mean score_b|. Binary: the positive
  class score against "actual is positive"; multiclass: the top score against "top
  class is the actual" (top-label calibration).
- ``calibration_curve``: the same 10 bins as structured data (detail: edges, count,
  mean_predicted, fraction_positive; None for an empty bin).

Intervals: ``log_loss`` and ``brier`` are means of per-row values and carry a normal
interval, mean +- z * sd / sqrt(n) (the engine's sample sd), clipped to the metric's
range ([0, inf), [0, 1] binary, [0, 2] multiclass). ``ece`` carries a percentile
bootstrap interval (``_intervals.bootstrap``) over its (bin, hit) cells, 10 x 2
multinomial counts: exact for the hits of each bin, approximate for its mean score,
which a replica holds at each cell's observed mean (a row bootstrap would also vary
it). Within a bin 0.1 wide a score's variance is at most 0.1² / 4 = 0.0025, so what
is left out is small beside the variance p (1 - p) of a hit, except where p is near 0
or 1. The ECE is biased upwards (an |.| of noise), and so are its replicas: where the
point value falls below the replicas' lower percentile (a well-calibrated model,
few rows), the interval is extended down to it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
from evalstore.analyses.metrics._intervals import Floats, bootstrap, normal
from evalstore.schema import Task

__all__ = ["CALIBRATION_BINS", "EDGES"]

BINARY = Task.BINARY_CLASSIFICATION
MULTICLASS = Task.MULTICLASS_CLASSIFICATION

CALIBRATION_BINS = 10
#: bin edges, the very doubles NumPy's linspace gives (the SQL compares with these)
EDGES: tuple[float, ...] = tuple(float(e) for e in np.linspace(0.0, 1.0, CALIBRATION_BINS + 1))
EPS = float(np.finfo(np.float64).eps)


def _clip(p: ir.FloatingValue) -> ir.FloatingValue:
    return ibis.least(ibis.greatest(p, EPS), 1 - EPS)


def _usable(m: MetricInput) -> ir.BooleanValue:
    """Rows with an actual and every score the metric reads."""
    score = m.score if m.task is BINARY else m.top_score  # top_score is NULL if any score is
    return m.has_actual & score.notnull()


def _log_loss(m: MetricInput) -> dict[str, ir.Scalar]:
    if m.task is BINARY:
        p = _clip(m.score)
        loss = -ibis.ifelse(m.is_positive, p.ln(), (1 - p).ln())
    else:
        p_true = ibis.cases(*[(m.actual == c, m.class_score(c)) for c in m.classes], else_=0.0)
        loss = -_clip(p_true).ln()
    return _moments("loss", loss, m)


def _brier(m: MetricInput) -> dict[str, ir.Scalar]:
    if m.task is BINARY:
        sq = (m.score - m.is_positive.cast("float64")) ** 2
    else:
        terms = [(m.class_score(c) - (m.actual == c).cast("float64")) ** 2 for c in m.classes]
        sq = terms[0]
        for term in terms[1:]:
            sq = sq + term
    return _moments("brier", sq, m)


def _moments(name: str, value: ir.FloatingValue, m: MetricInput) -> dict[str, ir.Scalar]:
    used = _usable(m)
    return {
        name: value.mean(where=used),
        f"{name}_sd": value.std(where=used),
        "n": m.table.count(where=used),
    }


def _mean(name: str) -> Callable[[GroupData], MetricValue]:
    def finalize(group: GroupData) -> MetricValue:
        n = int(group["n"] or 0)
        value = group[name]
        if not n or value is None:
            return MetricValue(None, n=n)
        upper = None
        if name == "brier":  # the squared distance between two points of the simplex
            upper = 1.0 if group.input.task is BINARY else 2.0
        sd = group[f"{name}_sd"]
        low, high = normal(float(value), sd, n, group.input.confidence, lower=0.0, upper=upper)
        return MetricValue(float(value), low, high, n)

    return finalize


def _calibration_query(m: MetricInput) -> dict[str, ir.Table]:
    return {"calibration": m.shared("probabilistic.calibration", lambda: _calibration_table(m))}


def _calibration_table(m: MetricInput) -> ir.Table:
    if m.task is BINARY:
        conf, hit = m.score, m.is_positive
    else:
        conf, hit = m.top_score, m.top_class == m.actual
    rows = m.table.select(*m.keys, __es_c=conf, __es_hit=hit, __es_has=m.has_actual)
    rows = rows.filter(rows["__es_has"], rows["__es_c"].notnull())
    c = rows["__es_c"]
    bin_ = sum(((c > e).cast("int64") for e in EDGES[1:-1]), start=ibis.literal(0))
    grouped = rows.group_by([*m.keys, bin_.name("bin")])
    hit = rows["__es_hit"]
    return grouped.aggregate(
        count=rows.count(), score_sum=c.sum(), hits=rows.count(where=hit), hit_sum=c.sum(where=hit)
    )


def _curve(group: GroupData) -> tuple[int, list[dict[str, Any]]]:
    bins: list[dict[str, Any]] = [
        {"count": 0, "score_sum": 0.0, "hits": 0, "hit_sum": 0.0} for _ in range(CALIBRATION_BINS)
    ]
    for r in group.rows("calibration"):
        bins[int(r["bin"])] = {
            "count": int(r["count"]),
            "score_sum": float(r["score_sum"]),
            "hits": int(r["hits"]),
            "hit_sum": float(r["hit_sum"] or 0.0),
        }
    return sum(b["count"] for b in bins), bins


def _ece(group: GroupData) -> MetricValue:
    n, bins = _curve(group)
    if n == 0:
        return MetricValue(None, n=0)
    ece = sum(abs(b["hits"] - b["score_sum"]) for b in bins if b["count"]) / n
    # cells (bin, missed | hit): their counts, resampled, and their mean scores, held
    counts = np.array([[b["count"] - b["hits"], b["hits"]] for b in bins], dtype=np.int64)
    sums = np.array([[b["score_sum"] - b["hit_sum"], b["hit_sum"]] for b in bins])
    means = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)

    def statistic(x: Floats) -> Floats:
        gaps = np.abs(x[:, :, 1] - (x * means).sum(axis=2))
        return np.asarray(gaps.sum(axis=1) / n, dtype=np.float64)

    low, high = bootstrap(counts, statistic, group.input.confidence)
    if low is not None and high is not None:
        low, high = min(low, ece), min(max(high, ece), 1.0)
    return MetricValue(ece, low, high, n, detail={"bins": CALIBRATION_BINS})


def _calibration_curve(group: GroupData) -> MetricValue:
    n, bins = _curve(group)
    detail = {
        "edges": list(EDGES),
        "count": [b["count"] for b in bins],
        "mean_predicted": [b["score_sum"] / b["count"] if b["count"] else None for b in bins],
        "fraction_positive": [b["hits"] / b["count"] if b["count"] else None for b in bins],
    }
    return MetricValue(None, n=n, detail=detail)


for _metric in (
    Metric(
        key="log_loss",
        name="Log loss",
        tasks=[BINARY, MULTICLASS],
        higher_is_better=False,
        needs=["score"],
        aggregates=_log_loss,
        finalize=_mean("loss"),
        description="mean negative log-likelihood of the actual class (cross-entropy)",
        interval="normal",
        default=True,
    ),
    Metric(
        key="brier",
        name="Brier score",
        tasks=[BINARY, MULTICLASS],
        higher_is_better=False,
        needs=["score"],
        aggregates=_brier,
        finalize=_mean("brier"),
        description="mean squared difference between scores and the one-hot actual",
        interval="normal",
        default=True,
    ),
    Metric(
        key="ece",
        name="Expected calibration error",
        tasks=[BINARY, MULTICLASS],
        higher_is_better=False,
        needs=["score"],
        queries=_calibration_query,
        finalize=_ece,
        description=f"count-weighted mean |fraction positive - mean score| over "
        f"{CALIBRATION_BINS} equal-width score bins",
        interval="bootstrap",
        default=True,
    ),
    Metric(
        key="calibration_curve",
        name="Calibration curve",
        tasks=[BINARY, MULTICLASS],
        higher_is_better=None,
        needs=["score"],
        queries=_calibration_query,
        finalize=_calibration_curve,
        description=f"fraction positive and mean score per bin, {CALIBRATION_BINS} "
        "equal-width bins (detail: edges, count, mean_predicted, fraction_positive)",
        structured=True,
    ),
):
    register_metric(_metric)
