"""quality(): the checks of one dataset, overall or per time window."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from evalstore._checks import whole_number
from evalstore.analyses.binning import column_kinds
from evalstore.analyses.metrics._inputs import binary_only, resolve_positive_class
from evalstore.analyses.metrics._labels import check_positive_class
from evalstore.analyses.quality import _consistency, _scan
from evalstore.analyses.quality._checks import (
    column_issues,
    duplicate_issue,
    type_issue,
)
from evalstore.analyses.quality._scan import (
    Counts,
    Found,
    Repeats,
    Scanned,
    Target,
    Window,
    category_counts,
    check_by,
    dtype_name,
    has_range,
    kind_of,
    repeated_ids,
    scan,
)
from evalstore.analyses.quality.expectations import (
    ColumnExpectation,
    Expectations,
    check_dataset,
    default_columns,
)
from evalstore.analyses.quality.result import (
    SEVERITIES,
    ColumnQuality,
    QualityIssue,
    QualityResult,
    WindowQuality,
)
from evalstore.dataset import beside, query_table
from evalstore.errors import ParameterError
from evalstore.schema import Task

if TYPE_CHECKING:
    import ibis.expr.datatypes as dt

    from evalstore.dataset import Dataset

__all__ = ["quality"]

#: the fewest values in which a missing category or a constant column is reported
MIN_ROWS = 100


def _columns(
    dataset: Dataset, expectations: Expectations | None, columns: Sequence[str] | None
) -> list[str]:
    if columns is None:
        return list(expectations) if expectations is not None else default_columns(dataset)
    names = [columns] if isinstance(columns, str) else list(columns)
    if len(set(names)) != len(names):
        raise ParameterError("columns", "distinct column names", names)
    if expectations is not None:
        for name in names:
            expectations[name]  # an unknown name raises, listing the expected columns
    else:
        column_kinds(dataset, names)  # raises for unknown or unsupported columns
    return names


def _categories_fit(expected: ColumnExpectation, dtype: dt.DataType) -> None:
    """Categories edited by hand must compare with the column's values."""
    cats = expected.categories or []
    if dtype.is_boolean():
        ok = all(isinstance(c, bool) for c in cats)
    elif dtype.is_integer():
        ok = all(isinstance(c, int) and not isinstance(c, bool) for c in cats)
    elif dtype.is_string():
        ok = all(isinstance(c, str) for c in cats)
    else:
        ok = all(isinstance(c, int | float) and not isinstance(c, bool) for c in cats)
    if not ok:
        raise ParameterError(
            f"expectations[{expected.column!r}].categories",
            f"values of the column's type ({dtype_name(dtype)})",
            cats,
        )


def _targets(
    dataset: Dataset, expectations: Expectations | None, columns: Sequence[str] | None
) -> tuple[list[QualityIssue], list[Target], dict[str, ColumnExpectation]]:
    """The type issues, the columns to scan, and the expectations that apply: a column of
    another type than expected gets only the self-contained checks."""
    schema = dataset.table.schema()
    issues: list[QualityIssue] = []
    targets: list[Target] = []
    expected: dict[str, ColumnExpectation] = {}
    for name in _columns(dataset, expectations, columns):
        exp = expectations[name] if expectations is not None else None
        dtype = schema.get(name)
        if dtype is None or kind_of(dtype) is None:
            assert exp is not None  # without expectations, _columns refused it
            issues.append(type_issue(name, exp, None if dtype is None else dtype_name(dtype)))
            continue
        if exp is not None and exp.dtype != dtype_name(dtype):
            issues.append(type_issue(name, exp, dtype_name(dtype)))
            exp = None
        if exp is None:
            targets.append(Target(name, dtype))
            continue
        expected[name] = exp
        ranged = has_range(dtype)
        cats = exp.categories
        if cats is not None:
            _categories_fit(exp, dtype)
        small = tuple(cats) if cats is not None and len(cats) <= _scan.SUMS_LIMIT else None
        low, high = (exp.min, exp.max) if ranged else (None, None)
        targets.append(Target(name, dtype, low, high, small))
    return issues, targets, expected


def _categories(
    dataset: Dataset,
    targets: Sequence[Target],
    expected: Mapping[str, ColumnExpectation],
    scanned: Mapping[Window, Scanned],
    by: str | None,
    early: Mapping[str, Callable[[], dict[Window, Found]]],
) -> tuple[dict[str, dict[Window, Found]], int]:
    """Per column with expected categories, what each window holds of them (and the
    GROUP BYs run for it): small sets come from the scan's sums; a GROUP BY runs for
    large sets, and for small ones with new values, to count and show those."""
    found: dict[str, dict[Window, Found]] = {}
    grouped: dict[str, Callable[[], dict[Window, Found]]] = {}  # GROUP BYs, side by side
    for target in targets:
        exp = expected.get(target.name)
        if exp is None or exp.categories is None:
            continue
        counts = {w: s.columns[target.name] for w, s in scanned.items()}
        if target.categories is not None:
            found[target.name] = {w: _summed(target.categories, c) for w, c in counts.items()}
            if any(f.new_rows for f in found[target.name].values()):
                grouped[target.name] = beside(
                    dataset, _counter(dataset, target.name, exp.categories, by)
                )
        elif any(c.valid for c in counts.values()):
            started = early.get(target.name)
            grouped[target.name] = started or beside(
                dataset, _counter(dataset, target.name, exp.categories, by)
            )
    found.update({name: result() for name, result in grouped.items()})
    return found, len(grouped)


def _large_sets(
    dataset: Dataset,
    targets: Sequence[Target],
    expected: Mapping[str, ColumnExpectation],
    by: str | None,
) -> dict[str, Callable[[], dict[Window, Found]]]:
    """The GROUP BYs of the columns with large expected category sets, started now: they
    need nothing of the scan but whether the column has values (most have), so they run
    beside it rather than after (on the 10M-row UI store, a model's health after a batch
    waited 10-40 ms for them after the scan)."""
    out = {}
    for target in targets:
        exp = expected.get(target.name)
        if exp is not None and exp.categories is not None and target.categories is None:
            out[target.name] = beside(dataset, _counter(dataset, target.name, exp.categories, by))
    return out


def _counter(
    dataset: Dataset, name: str, categories: Sequence[Any], by: str | None
) -> Callable[[], dict[Window, Found]]:
    def count() -> dict[Window, Found]:
        return category_counts(dataset, name, categories, by)

    return count


def _summed(categories: Sequence[Any], counts: Counts) -> Found:
    """What the scan's per-value sums tell: the values present, the rows of other values."""
    present = frozenset(v for v, rows in zip(categories, counts.category_rows, strict=True) if rows)
    new_rows = counts.valid - sum(counts.category_rows)
    # with new rows, a GROUP BY replaces this to count and show the new values
    return Found(present, new_rows, 0, [])


def _column(
    target: Target,
    counts: Counts,
    n: int,
    found: Found | None,
    expected: ColumnExpectation | None,
    exact: bool | None,
    window: Window,
) -> ColumnQuality:
    out_of_range = None
    if target.low is not None or target.high is not None:
        out_of_range = {"below": counts.below or 0, "above": counts.above or 0}
    new: dict[str, Any] = {}
    if expected is not None and expected.categories is not None and found is not None:
        new = {
            "new_categories": found.examples,
            "new_category_rows": found.new_rows,
            "new_category_values": found.new_values,
            "vanished_categories": [c for c in expected.categories if c not in found.present],
        }
    elif expected is not None and expected.categories is not None:  # no value in the window
        new = {"new_category_rows": 0, "new_category_values": 0}
        new["vanished_categories"] = list(expected.categories)
    return ColumnQuality(
        column=target.name,
        dtype=dtype_name(target.dtype),
        kind=kind_of(target.dtype) or "",
        n=n,
        missing=n - counts.valid,
        missing_share=(n - counts.valid) / n if n else None,
        distinct=counts.distinct,
        distinct_exact=bool(exact),
        min=counts.min,
        max=counts.max,
        constant=counts.constant,
        out_of_range=out_of_range,
        window=window,
        **new,
    )


def quality(
    dataset: Dataset,
    expectations: Expectations | None = None,
    *,
    by: str | None = None,
    columns: Sequence[str] | None = None,
    task: Task | str | None = None,
    threshold: float | None = None,
    positive_class: Any = None,
    min_rows: int = MIN_ROWS,
    exact_distinct: bool = False,
    details: bool = True,
) -> QualityResult:
    """Check the data quality of ``dataset``, overall or per time window.

    - ``expectations``: from :func:`learn_expectations` (and edited); without them only
      the self-contained checks run: missing values, constant columns, cardinality,
      duplicate ids and score/label consistency.
    - ``by``: None (overall), or ``hour``, ``day``, ``week`` (from Monday), ``month``
      (UTC): every window is checked against the same expectations, in one grouped scan.
    - ``columns``: default the expectations' columns, else the default columns (features,
      tags, predictions, actuals).
    - ``task``: default ``dataset.task``; picks the score/label checks. ``threshold`` (default
      0.5) and ``positive_class``: binary only (a ParameterError for other tasks), how a
      score maps to a label.
    - ``min_rows``: the fewest non-missing values for reporting vanished categories and
      constant columns (absence in a small sample is weak evidence).
    - ``exact_distinct``: exact distinct counts (about 10x slower) instead of HyperLogLog.
    - ``details``: False computes only what the checks need, for a summary of the issues:
      no distinct counts (``ColumnQuality.distinct`` None) and, on the store's own rows,
      no count of ids logged under several versions (``ids_in_several_versions`` None).
      The issues are the same; a model's health summary after a batch costs ~20% less.

    Engine work: one aggregate scan, one GROUP BY per column with more than 16 expected
    categories (or new values to show), one GROUP BY for duplicate ids. Example::

        exp = learn_expectations(model.dataset(environment="training"))
        res = quality(model.dataset(environment="production"), exp, by="day")
        res.ok, [i.message for i in res.issues]
    """
    dataset = check_dataset(dataset, "dataset")
    if expectations is not None:
        if not isinstance(expectations, Expectations):
            raise ParameterError(
                "expectations",
                "None or Expectations",
                type(expectations).__name__,
                "Get them with learn_expectations(reference) or Expectations.from_dict(...).",
            )
        expectations.validate()
    by = check_by(by)
    min_rows = whole_number("min_rows", min_rows, 1)
    if not isinstance(exact_distinct, bool):
        raise ParameterError("exact_distinct", "True or False", exact_distinct)
    if not isinstance(details, bool):
        raise ParameterError("details", "True or False", details)
    task = task if task is not None else getattr(dataset, "task", None)
    parsed = Task.parse(task) if task is not None else None
    cutoff = binary_only(parsed, positive_class, threshold)

    issues, targets, expected = _targets(dataset, expectations, columns)
    n_reference = expectations.n_reference if expectations is not None else 0
    consistency = _consistency.plan(query_table(dataset), parsed, cutoff, positive_class)
    if positive_class is not None:  # plan() refused it unless the model is binary
        typed = resolve_positive_class(query_table(dataset), positive_class)
        check_positive_class(dataset, positive_class, typed)
    # it needs nothing below
    repeated = beside(dataset, lambda: repeated_ids(dataset, by, shared=details))
    early = _large_sets(dataset, targets, expected, by)
    distinct = exact_distinct if details else None
    scanned = scan(dataset, targets, consistency.aggregates, by, distinct)
    found, queries = _categories(dataset, targets, expected, scanned, by, early)
    counted = repeated()
    repeats = counted if counted is not None else {}
    queries += 1 if counted is None else 2  # the scan and the duplicates

    notes = list(consistency.notes)
    columns_out: list[ColumnQuality] = []
    windows_out: list[WindowQuality] = []
    if sum(s.n for s in scanned.values()) == 0:
        issues.append(QualityIssue(None, "no_rows", "warning", "The dataset has no rows.", 0))
    for window, s in scanned.items():
        for target in targets:
            exp = expected.get(target.name)
            values = found.get(target.name, {}).get(window)
            counts = s.columns[target.name]
            c = _column(target, counts, s.n, values, exp, distinct, window)
            columns_out.append(c)
            issues += column_issues(c, exp, min_rows, n_reference)
        r = repeats.get(window, Repeats())
        if r.duplicate_rows:
            issues.append(duplicate_issue(r.duplicate_rows, r.duplicate_ids, s.n, window))
        checked, found_issues, skipped = consistency.evaluate(s.extra, s.n, window)
        issues += found_issues
        notes += skipped
        windows_out.append(
            WindowQuality(
                n=s.n,
                duplicate_ids=r.duplicate_ids,
                duplicate_rows=r.duplicate_rows,
                ids_in_several_versions=r.shared_ids if counted is not None else None,
                consistency=checked,
                window=window,
            )
        )
    issues.sort(key=lambda i: SEVERITIES.index(i.severity))  # stable: errors first
    return QualityResult(
        by=by,
        columns=columns_out,
        windows=windows_out,
        issues=issues,
        task=parsed.value if parsed is not None else None,
        notes=notes,
        queries=queries,
    )
