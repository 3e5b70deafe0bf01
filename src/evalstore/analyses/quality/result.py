"""Data-quality results: plain data, JSON-serialisable, never a chart."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any, TypeAlias

from evalstore.errors import ParameterError, did_you_mean

__all__ = ["ColumnQuality", "QualityIssue", "QualityResult", "WindowQuality"]

Category: TypeAlias = str | int | float | bool

#: issue severities, worst first; ``QualityResult.ok`` is false when any issue is an error
SEVERITIES = ("error", "warning")


def to_json(value: Any) -> Any:
    """A JSON-ready copy: NaN -> None, infinities -> 'inf' / '-inf', datetimes as ISO 8601,
    NumPy scalars as Python ones."""
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(value) if math.isinf(value) else value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return to_json(value.item())
    return value


def from_json_float(value: Any) -> Any:
    """The inverse of :func:`to_json` for a number that may be infinite."""
    if isinstance(value, str) and value in ("inf", "-inf"):
        return float(value)
    return value


def from_json_time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _order(window: datetime | None) -> tuple[bool, datetime]:
    return (window is not None, window or datetime.min)


@dataclass(frozen=True)
class QualityIssue:
    """One finding of a check.

    ``column`` (None for the dataset as a whole), ``check`` (a key of ``CHECKS``),
    ``severity`` (``"error"`` or ``"warning"``), ``message`` (a sentence with the numbers),
    ``count`` (the rows, or for vanished categories the values, concerned), ``share`` (of
    the window's rows; None when not a share of rows) and ``window`` (its start; None for
    the dataset overall and for checks of the schema, which hold for every window).
    """

    column: str | None
    check: str
    severity: str
    message: str
    count: int | None = None
    share: float | None = None
    window: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = to_json(asdict(self))
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QualityIssue:
        values = dict(data)
        values["window"] = from_json_time(values.get("window"))
        return cls(**values)


@dataclass(frozen=True)
class ColumnQuality:
    """Statistics of one column in one window (``window`` None: the whole dataset).

    - ``n`` rows, ``missing`` (null or NaN) and ``missing_share`` (None without rows);
    - ``distinct``: non-missing distinct values, from HyperLogLog unless
      ``distinct_exact`` (see the package doc for its error); None when not counted
      (``quality(details=False)``);
    - ``min``, ``max``: of the non-missing values (numbers, text or booleans), exact;
    - ``constant``: at least one value and all equal (``min == max``);
    - ``out_of_range``: ``{"below": rows < expected min, "above": rows > expected max}``,
      None when the expectation has no range;
    - ``new_categories``: up to 5 values outside the expected set, most frequent first;
      ``new_category_rows`` rows and ``new_category_values`` distinct values in all (None
      when no set is expected); ``vanished_categories``: expected values without a row.
    """

    column: str
    dtype: str
    kind: str
    n: int
    missing: int
    missing_share: float | None
    distinct: int | None
    distinct_exact: bool
    min: Any
    max: Any
    constant: bool
    out_of_range: dict[str, int] | None = None
    new_categories: list[Category] = field(default_factory=list)
    new_category_rows: int | None = None
    new_category_values: int | None = None
    vanished_categories: list[Category] = field(default_factory=list)
    window: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = to_json(asdict(self))
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnQuality:
        values = dict(data)
        if str(values.get("dtype", "")).startswith("float"):  # only floats can be infinite
            values["min"] = from_json_float(values.get("min"))
            values["max"] = from_json_float(values.get("max"))
        values["window"] = from_json_time(values.get("window"))
        return cls(**values)


@dataclass(frozen=True)
class WindowQuality:
    """Checks of the dataset as a whole, in one window (``window`` None: overall).

    ``duplicate_rows``: rows beyond the first of each ``(version, environment,
    prediction_id)``; ``duplicate_ids``: ``(environment, prediction_id)`` pairs with such a
    repeat; ``ids_in_several_versions``: ``(environment, prediction_id)`` pairs logged under
    more than one version (normal for shadow deployments: reported, never an issue; None
    when not counted, ``quality(details=False)``).
    ``consistency``: per score/label check, ``{"rows": offending, "checked": rows checked}``.
    """

    n: int
    duplicate_ids: int = 0
    duplicate_rows: int = 0
    ids_in_several_versions: int | None = 0
    consistency: dict[str, dict[str, int]] = field(default_factory=dict)
    window: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = to_json(asdict(self))
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WindowQuality:
        values = dict(data)
        values["window"] = from_json_time(values.get("window"))
        values["consistency"] = {k: dict(v) for k, v in dict(values["consistency"]).items()}
        return cls(**values)


@dataclass(frozen=True)
class QualityResult:
    """Data quality of a dataset, overall (``by`` None) or per time window.

    ``issues``: errors first, then warnings, each in column order (window by window
    when ``by`` is set); ``ok``: no error. ``columns``: a :class:`ColumnQuality` per
    (window, column); ``windows``: a :class:`WindowQuality` per window. ``notes``: checks
    that could not run, and why. ``queries``: how many engine queries computed it.
    """

    by: str | None
    columns: list[ColumnQuality]
    windows: list[WindowQuality]
    issues: list[QualityIssue]
    task: str | None = None
    notes: list[str] = field(default_factory=list)
    queries: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def errors(self) -> list[QualityIssue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[QualityIssue]:
        return [i for i in self.issues if i.severity == "warning"]

    def column(self, name: str, window: datetime | None = None) -> ColumnQuality:
        """The statistics of column ``name`` in ``window`` (None: overall)."""
        for c in self.columns:
            if c.column == name and c.window == window:
                return c
        names = list(dict.fromkeys(c.column for c in self.columns))
        if name in names:
            starts = sorted({c.window for c in self.columns if c.column == name}, key=_order)
            raise ParameterError("window", f"one of {starts}", window)
        raise ParameterError(
            "column", f"one of {names}", name, did_you_mean(str(name), names).strip()
        )

    def window(self, start: datetime | None = None) -> WindowQuality:
        """The dataset-level checks of the window starting at ``start`` (None: overall)."""
        for w in self.windows:
            if w.window == start:
                return w
        raise ParameterError("start", f"one of {[w.window for w in self.windows]}", start)

    def __repr__(self) -> str:
        from evalstore.render.tables import quality_table

        return quality_table(self).text()

    def _repr_html_(self) -> str:  # Jupyter
        from evalstore.render.tables import quality_table

        return quality_table(self).html()

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable: ``{"ok", "by", "task", "issues", "columns", "windows", ...}``."""
        return {
            "ok": self.ok,
            "by": self.by,
            "task": self.task,
            "n_errors": len(self.errors),
            "n_warnings": len(self.warnings),
            "issues": [i.to_dict() for i in self.issues],
            "columns": [c.to_dict() for c in self.columns],
            "windows": [w.to_dict() for w in self.windows],
            "notes": list(self.notes),
            "queries": self.queries,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QualityResult:
        """A result from :meth:`to_dict`'s output (derived counts are recomputed)."""
        if not isinstance(data, Mapping) or "issues" not in data:
            raise ParameterError("QualityResult data", "a dict written by to_dict()", data)
        return cls(
            by=data.get("by"),
            columns=[ColumnQuality.from_dict(c) for c in data.get("columns", [])],
            windows=[WindowQuality.from_dict(w) for w in data.get("windows", [])],
            issues=[QualityIssue.from_dict(i) for i in data["issues"]],
            task=data.get("task"),
            notes=list(data.get("notes", [])),
            queries=int(data.get("queries", 0)),
        )
