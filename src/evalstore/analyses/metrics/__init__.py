"""Performance metrics: one registry, each entry describing itself and computed in the engine.

::

    from evalstore.analyses.metrics import available_metrics, get_metric

    [m.key for m in available_metrics("binary_classification")]
    get_metric("roc_auc").describe()

Built-in metrics (every one registered with :func:`register_metric`, as a custom one):

- classification (binary and multiclass): ``accuracy``, ``precision``, ``recall``,
  ``f1``, ``specificity``, ``fpr``, ``fnr`` (binary, of the positive class),
  ``precision|recall|f1_micro|macro|weighted``, ``roc_auc`` / ``roc_auc_exact``
  (multiclass: one-vs-rest macro), ``roc_auc_weighted[_exact]`` (multiclass),
  ``pr_auc`` / ``pr_auc_exact``, ``log_loss``, ``brier``, ``ece``, and the structured
  ``confusion_matrix`` and ``calibration_curve``;
- regression: ``mae``, ``mse``, ``rmse``, ``mape``, ``smape``, ``wape``, ``r2``,
  ``mean_error``, ``residual_p05|p25|p50|p75|p95``.

See each module for definitions, intervals and approximation bounds:
``classification``, ``ranking``, ``probabilistic``, ``regression``.
"""

from __future__ import annotations

from evalstore.analyses.metrics import classification, probabilistic, ranking, regression
from evalstore.analyses.metrics._base import (
    NEEDS,
    GroupData,
    Metric,
    MetricInput,
    MetricValue,
    available_metrics,
    get_metric,
    register_metric,
    unregister_metric,
)
from evalstore.analyses.metrics._intervals import wilson

__all__ = [
    "NEEDS",
    "GroupData",
    "Metric",
    "MetricInput",
    "MetricValue",
    "available_metrics",
    "classification",
    "get_metric",
    "probabilistic",
    "ranking",
    "register_metric",
    "regression",
    "unregister_metric",
    "wilson",
]
