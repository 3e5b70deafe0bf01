"""The column checks: a column's statistics and its expectation in, issues out."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from evalstore.analyses._tails import binomial_sf
from evalstore.analyses.quality.expectations import ColumnExpectation
from evalstore.analyses.quality.result import ColumnQuality, QualityIssue

__all__ = ["CHECKS", "Check"]


@dataclass(frozen=True)
class Check:
    """What one check looks at, how bad a finding is, and whether it needs expectations."""

    key: str
    severity: str
    needs_expectations: bool
    description: str


_ALL = (
    Check("no_rows", "warning", False, "the dataset has no rows"),
    Check(
        "type",
        "error",
        True,
        "a column is absent or has another type than expected (its range and category "
        "checks are then skipped)",
    ),
    Check(
        "missing",
        "error",
        False,
        "missing share above max_missing_share (error); without expectations, a column "
        "with no values at all (warning)",
    ),
    Check("out_of_range", "warning", True, "rows below the expected min or above the max"),
    Check("new_categories", "warning", True, "rows holding values outside the expected set"),
    Check(
        "vanished_categories",
        "warning",
        True,
        "expected values without a row, when the column has at least min_rows values and "
        "the absence is unlikely by chance at the value's share of the reference",
    ),
    Check(
        "constant",
        "warning",
        False,
        "one distinct value in at least min_rows values, where the reference varied",
    ),
    Check("duplicate_ids", "error", False, "prediction ids repeated within a version"),
    Check("score_range", "error", False, "binary: scores outside [0, 1]"),
    Check("label_score", "warning", False, "binary: label disagrees with score >= threshold"),
    Check("score_sum", "warning", False, "multiclass: class scores not summing to 1"),
    Check("label_argmax", "warning", False, "multiclass: label is not the top-scoring class"),
    Check(
        "unknown_actual_class",
        "warning",
        False,
        "multiclass: actual label that is none of the model's classes (score columns)",
    ),
    Check("non_finite", "error", False, "regression: infinite or NaN predictions"),
)
#: every check, by key, in the order issues are listed
CHECKS = {c.key: c for c in _ALL}
#: what chance explains: an out-of-range count or a vanished category is news only when an
#: unchanged distribution gives it with a probability below this
CHANCE = 1e-3


def show(value: Any) -> str:
    """A value for a message: floats to 6 significant digits, text quoted."""
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value) if isinstance(value, str) else str(value)


def show_list(values: Sequence[Any], limit: int = 5) -> str:
    text = ", ".join(show(v) for v in values[:limit])
    return text + (f" and {len(values) - limit:,} more" if len(values) > limit else "")


def pct(share: float) -> str:
    """A share as a percentage; a tiny one is '<0.1%', never a misleading '0.0%'."""
    return "<0.1%" if 0 < share < 0.0005 else f"{share:.1%}"


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _share(count: int, n: int) -> float | None:
    return count / n if n else None


def type_issue(column: str, expected: ColumnExpectation, got: str | None) -> QualityIssue:
    if got is None:
        message = f"{column}: absent from the dataset; expected a {expected.dtype} column."
    else:
        message = (
            f"{column}: {got} instead of the expected {expected.dtype}; its range and "
            "category checks were skipped."
        )
    return QualityIssue(column, "type", "error", message)


@functools.lru_cache(maxsize=4096)
def chance_out_of_range(valid: int, n_reference: int) -> int:
    """How many of ``valid`` values may fall outside the range of ``n_reference`` values of
    the same distribution before it is news.

    A new value of the same continuous distribution lands outside the min-max of
    ``n_reference`` values with probability 2 / (n_reference + 1); the allowance is the
    count that Binomial(valid, that) exceeds with probability below 1e-3. Without a known
    reference size (expectations written by hand) nothing is allowed. Kept per (valid,
    n_reference): a result by the hour asks for thousands, most of them alike."""
    if n_reference <= 0 or valid <= 0:
        return 0
    # binom.isf: the smallest k with P(X > k) <= CHANCE, from the normal approximation of
    # its 0.999 quantile (CHANCE's), then walked to on both sides
    p = min(1.0, 2 / (n_reference + 1))
    if p >= 1.0:
        return valid
    guess = valid * p + 3.090232306167813 * math.sqrt(valid * p * (1 - p))
    k = min(valid, max(0, math.ceil(guess)))
    while k > 0 and binomial_sf(k - 1, valid, p) <= CHANCE:
        k -= 1
    while k < valid and binomial_sf(k, valid, p) > CHANCE:
        k += 1
    return k


def chance_vanished(valid: int, share: float | None) -> bool:
    """Whether ``valid`` values without a row of a category that held ``share`` of the
    reference's values is explained by chance.

    Under an unchanged distribution the category is absent from ``valid`` values with
    probability P(0 | valid, share) = (1 - share) ** valid; at :data:`CHANCE` or more, its
    absence is no news (a category of 0.03% is missing from a day of 400 values 89% of the
    time). Without a share (a category added by hand) absence is never chance."""
    if share is None:
        return False
    if share >= 1.0:
        return valid <= 0
    # in logs: (1 - share) ** valid underflows to 0 for large windows
    return valid * math.log1p(-share) >= math.log(CHANCE)


def column_issues(
    c: ColumnQuality, expected: ColumnExpectation | None, min_rows: int, n_reference: int = 0
) -> list[QualityIssue]:
    """The issues of one column in one window (``c.window``), in ``CHECKS`` order.

    Out-of-range values past learned limits are an issue only beyond
    :func:`chance_out_of_range`: a sample of an unchanged distribution always has a few
    values past the reference's extremes. Past edited limits, every row is. Likewise an
    expected category without a row is an issue only when :func:`chance_vanished` says
    its absence is unlikely at its share of the reference."""
    out: list[QualityIssue] = []
    name, n, w = c.column, c.n, c.window
    valid = n - c.missing
    if n and expected is not None and c.missing_share is not None:
        if c.missing_share > expected.max_missing_share:
            out.append(
                QualityIssue(
                    name,
                    "missing",
                    "error",
                    f"{name}: {c.missing:,} of {n:,} rows ({pct(c.missing_share)}) are missing; "
                    f"at most {pct(expected.max_missing_share)} expected.",
                    c.missing,
                    c.missing_share,
                    w,
                )
            )
    elif n and c.missing == n:
        out.append(
            QualityIssue(
                name, "missing", "warning", f"{name}: all {n:,} rows are missing.", n, 1.0, w
            )
        )
    if c.out_of_range is not None and expected is not None:
        below, above = c.out_of_range["below"], c.out_of_range["above"]
        chance = chance_out_of_range(valid, n_reference) if expected.allows_chance() else 0
        if below + above > chance:
            lo = show(expected.min) if expected.min is not None else "-inf"
            hi = show(expected.max) if expected.max is not None else "inf"
            out.append(
                QualityIssue(
                    name,
                    "out_of_range",
                    "warning",
                    f"{name}: {below + above:,} of {n:,} rows ({pct((below + above) / n)}) "
                    f"outside the expected range [{lo}, {hi}]: {below:,} below, {above:,} "
                    f"above (observed {show(c.min)} to {show(c.max)}).",
                    below + above,
                    _share(below + above, n),
                    w,
                )
            )
    if expected is not None and c.new_category_rows and not expected.allow_new_categories:
        rows = c.new_category_rows
        out.append(
            QualityIssue(
                name,
                "new_categories",
                "warning",
                f"{name}: {rows:,} of {n:,} rows ({pct(rows / n)}) hold "
                f"{_plural(c.new_category_values or 0, 'value')} not among the expected "
                f"categories, e.g. {show_list(c.new_categories)}.",
                rows,
                _share(rows, n),
                w,
            )
        )
    if expected is not None and c.vanished_categories and valid >= min_rows:
        shares = expected.category_shares or {}
        gone = [v for v in c.vanished_categories if not chance_vanished(valid, shares.get(v))]
        if gone:
            why = ""
            if all(v in shares for v in gone):
                why = f" (at its share of the reference, each has a chance below {CHANCE:g})"
            out.append(
                QualityIssue(
                    name,
                    "vanished_categories",
                    "warning",
                    f"{name}: {len(gone):,} of {len(expected.categories or ()):,} expected "
                    f"categories have no rows among {valid:,} values{why}: {show_list(gone)}.",
                    len(gone),
                    None,
                    w,
                )
            )
    if c.constant and valid >= min_rows and not (expected and expected.constant_ok):
        unlike = ", unlike the reference" if expected is not None else ""
        out.append(
            QualityIssue(
                name,
                "constant",
                "warning",
                f"{name}: all {valid:,} values are {show(c.min)} (constant{unlike}).",
                valid,
                _share(valid, n),
                w,
            )
        )
    return out


def duplicate_issue(rows: int, ids: int, n: int, window: datetime | None) -> QualityIssue:
    return QualityIssue(
        "prediction_id",
        "duplicate_ids",
        "error",
        f"prediction_id: {rows:,} rows repeat {ids:,} prediction ids within the same version "
        "and environment; evalstore keeps the last write of an id, so check how these rows "
        "were written.",
        rows,
        _share(rows, n),
        window,
    )
