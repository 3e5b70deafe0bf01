"""Data quality per dataset and per time window, against expectations learned from a baseline.

::

    from evalstore.analyses.quality import learn_expectations, quality

    exp = learn_expectations(model.dataset(environment="training"))
    exp["age"].max = 120                       # expectations are plain, editable data
    res = quality(model.dataset(environment="production"), exp, by="day")
    res.ok                                     # no issue of severity "error"
    [i.message for i in res.issues]            # sentences with the numbers
    res.to_dict()                              # JSON; QualityResult.from_dict reads it back

Checks (``CHECKS`` describes each; severity in brackets):

- ``missing``: a column's missing share (null or NaN) above ``max_missing_share``
  [error]; without expectations, a column without any value [warning].
- ``type``: a column absent, or of another Ibis type than expected [error].
- ``out_of_range``: rows below ``min`` or above ``max`` [warning].
- ``new_categories``: rows with values outside ``categories``, with up to 5 of the most
  frequent as examples [warning]; ``vanished_categories``: expected values without a
  row, reported when the column has at least ``min_rows`` (100) values [warning].
- ``constant``: one distinct value in at least ``min_rows`` values, where the reference
  varied (or, without expectations, at all) [warning].
- ``duplicate_ids``: rows repeating a prediction id within a (version, environment)
  [error]. The store's last write wins, so data logged through evalstore has none: a
  safety check. Ids logged under several versions are counted, never an issue.
- score/label consistency by task: ``score_range``, ``label_score`` (binary),
  ``score_sum``, ``label_argmax``, ``unknown_actual_class`` (multiclass), ``non_finite``
  (regression).

Cardinality: every column's distinct count is reported (``ColumnQuality.distinct``). By
default it is DuckDB's ``approx_count_distinct`` (HyperLogLog), at a tenth of the cost of
``count(DISTINCT)``: on random sets of 1 to 200,000 values the mean error was 2%, 99% of
estimates were within 8%, the worst 17% (one too few out of 6). ``exact_distinct=True``
counts exactly. Constant columns are found exactly (``min == max``), not from this.

Engine work, overall or per window alike: one aggregate scan for every column's
statistics, the consistency counts and the values of small category sets (up to 16); one
GROUP BY per column with a larger set, or with new values to show; one GROUP BY for
duplicate ids. Learning: one scan plus one GROUP BY per categorical column (see
:mod:`~evalstore.analyses.quality.expectations` for the rules). Anchor data, 1M rows x 25
features on 2 busy cores: learning 5 s, checking 4 to 6 s, of which about 2 s is the
actuals join that checking ``actual_label`` costs.
"""

from __future__ import annotations

from evalstore.analyses.quality._checks import CHECKS, Check
from evalstore.analyses.quality._compute import MIN_ROWS, quality
from evalstore.analyses.quality.expectations import (
    MAX_CATEGORIES,
    ColumnExpectation,
    Expectations,
    default_columns,
    learn_expectations,
)
from evalstore.analyses.quality.result import (
    ColumnQuality,
    QualityIssue,
    QualityResult,
    WindowQuality,
)

__all__ = [
    "CHECKS",
    "MAX_CATEGORIES",
    "MIN_ROWS",
    "Check",
    "ColumnExpectation",
    "ColumnQuality",
    "Expectations",
    "QualityIssue",
    "QualityResult",
    "WindowQuality",
    "default_columns",
    "learn_expectations",
    "quality",
]
