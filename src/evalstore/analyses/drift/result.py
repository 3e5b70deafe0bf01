"""Drift results: plain data, JSON-serialisable, never a chart."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from evalstore.errors import ParameterError, did_you_mean

__all__ = ["ColumnDrift", "DriftOverTime", "DriftResult", "DriftWindow"]


def _json(value: Any) -> Any:
    """Floats JSON can hold: NaN -> None, infinities -> 'inf' / '-inf'."""
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return str(value)
        return value
    if isinstance(value, Mapping):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


@dataclass(frozen=True)
class ColumnDrift:
    """Drift of one column.

    ``value`` is the method's effect size, ``p_value`` its significance at the actual
    sample sizes and ``p_adjusted`` the Benjamini-Hochberg adjusted p-value across the
    columns tested together. ``drifted``: the effect reaches ``threshold`` and
    ``p_adjusted < alpha``. ``bins``: per standard bin, its label and kind, the reference
    and current shares (of all rows, missing included) and counts, for charts (empty in
    drift over time). ``weight``: the column's weight in the (weighted) BH procedure.
    """

    column: str
    kind: str
    method: str
    value: float
    threshold: float
    p_value: float
    p_adjusted: float
    drifted: bool
    n_reference: int
    n_current: int
    weight: float = 1.0
    details: Mapping[str, float] = field(default_factory=dict)
    bins: list[dict[str, Any]] = field(default_factory=list)

    def __repr__(self) -> str:
        from evalstore.render.tables import column_drift_line

        return column_drift_line(self)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = _json(asdict(self))
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnDrift:
        values = dict(data)
        for name in ("value", "threshold", "p_value", "p_adjusted", "weight"):
            values[name] = _float(values.get(name))
        values["details"] = {k: _float(v) for k, v in dict(values.get("details", {})).items()}
        return cls(**values)


@dataclass(frozen=True)
class DriftResult:
    """Drift between a reference and a current dataset, column by column and overall.

    ``columns`` are ranked: drifted ones first, then by ``value / threshold`` times the
    column's importance weight. ``drifted`` (dataset level) is true when any column drifted
    after the false discovery rate across columns was held at ``alpha`` (Benjamini-Hochberg,
    weighted by feature importance when given: ``correction``).
    """

    columns: list[ColumnDrift]
    alpha: float
    correction: str
    n_reference: int
    n_current: int

    @property
    def n_columns(self) -> int:
        return len(self.columns)

    @property
    def n_drifted(self) -> int:
        return sum(c.drifted for c in self.columns)

    @property
    def share(self) -> float:
        """Share of the columns that drifted (0 when there are none)."""
        return self.n_drifted / self.n_columns if self.columns else 0.0

    @property
    def drifted(self) -> bool:
        return self.n_drifted > 0

    @property
    def drifted_columns(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]

    def __getitem__(self, column: str) -> ColumnDrift:
        for c in self.columns:
            if c.column == column:
                return c
        names = [c.column for c in self.columns]
        raise ParameterError(
            "column", f"one of {names}", column, did_you_mean(str(column), names).strip()
        )

    def __iter__(self) -> Iterator[ColumnDrift]:
        return iter(self.columns)

    def __repr__(self) -> str:
        from evalstore.render.tables import drift_table

        return drift_table(self).text()

    def _repr_html_(self) -> str:  # Jupyter
        from evalstore.render.tables import drift_table

        return drift_table(self).html()

    def to_dict(self) -> dict[str, Any]:
        return {
            "drifted": self.drifted,
            "n_drifted": self.n_drifted,
            "n_columns": self.n_columns,
            "share": self.share,
            "alpha": self.alpha,
            "correction": self.correction,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "columns": [c.to_dict() for c in self.columns],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftResult:
        return cls(
            columns=[ColumnDrift.from_dict(c) for c in data["columns"]],
            alpha=float(data["alpha"]),
            correction=str(data["correction"]),
            n_reference=int(data["n_reference"]),
            n_current=int(data["n_current"]),
        )


@dataclass(frozen=True)
class DriftWindow:
    """Drift of one time window of the current dataset against the reference."""

    start: datetime
    result: DriftResult

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start.isoformat(), **self.result.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftWindow:
        start = data["start"]
        start = start if isinstance(start, datetime) else datetime.fromisoformat(str(start))
        return cls(start, DriftResult.from_dict(data))


@dataclass(frozen=True)
class DriftOverTime:
    """Drift per time window (``by``: hour, day, week or month, UTC), oldest first."""

    by: str
    windows: list[DriftWindow]

    def series(self, column: str, what: str = "value") -> list[tuple[datetime, float]]:
        """``(window start, value)`` for one column; ``what``: any ColumnDrift number."""
        if what not in ("value", "p_value", "p_adjusted", "drifted", "n_current"):
            raise ParameterError("what", "value, p_value, p_adjusted, drifted or n_current", what)
        return [(w.start, float(getattr(w.result[column], what))) for w in self.windows]

    def __repr__(self) -> str:
        from evalstore.render.tables import drift_over_time_table

        return drift_over_time_table(self).text()

    def _repr_html_(self) -> str:  # Jupyter
        from evalstore.render.tables import drift_over_time_table

        return drift_over_time_table(self).html()

    def to_dict(self) -> dict[str, Any]:
        return {"by": self.by, "windows": [w.to_dict() for w in self.windows]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftOverTime:
        """A result from :meth:`to_dict`'s output."""
        return cls(str(data["by"]), [DriftWindow.from_dict(w) for w in data["windows"]])
