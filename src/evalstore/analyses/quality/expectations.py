"""Expectations: what each column looked like in a baseline, learned once, editable, JSON.

::

    exp = learn_expectations(model.dataset(environment="training"))
    exp["age"].max = 120                    # edit any field
    exp["city"].categories = ["lyon", "nice", "paris"]
    Expectations.from_dict(exp.to_dict())   # plain JSON round trip

Learning rules (one aggregate scan of the reference, plus one GROUP BY of the values of
each categorical column):

- ``max_missing_share``: ``max(2 * share, share + 0.01)``, at most 1, where ``share`` is
  the reference's share of missing (null or NaN) values: twice the baseline rate, and
  never less than one point above it. Actuals (``actual_label``, ``actual_score``) get 1:
  they arrive late, so a missing actual is not a fault of the data.
- ``min``, ``max``: the reference's range, for numeric (integer or float) columns.
- ``categories``: the distinct values of a categorical (text, integer, boolean) column, in
  order, or None when there are more than ``max_categories`` (1000): then new and
  vanished categories are not checked.
- ``category_shares``: each category's share of the reference's non-missing values; a
  category is reported as vanished only when a window without it is unlikely by chance
  under that share (see ``_checks.chance_vanished``).
- ``constant_ok``: the reference column holds at most one distinct value.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import ibis.expr.types as ir

from evalstore.analyses.binning import KINDS, column_kinds, feature_columns
from evalstore.analyses.quality._scan import (
    Target,
    distinct_values,
    dtype_name,
    has_range,
    scan,
)
from evalstore.analyses.quality.result import Category, from_json_float, to_json
from evalstore.errors import ParameterError, did_you_mean

if TYPE_CHECKING:
    from evalstore.dataset import Dataset

__all__ = ["ColumnExpectation", "Expectations", "default_columns", "learn_expectations"]

#: version of the ``Expectations.to_dict`` format
FORMAT = 1
#: above this many distinct values a column's categories are not learned
MAX_CATEGORIES = 1000
#: the least headroom over the reference's missing share
MISSING_TOLERANCE = 0.01
#: columns whose missing values are expected (late actuals)
ACTUALS = ("actual_label", "actual_score")
_SCORE_PREFIX = "prediction_score:"


def missing_limit(share: float) -> float:
    """The learned ``max_missing_share`` of a column missing ``share`` of its values."""
    return min(1.0, max(2 * share, share + MISSING_TOLERANCE))


def default_columns(dataset: Dataset) -> list[str]:
    """Features and tags (``binning.feature_columns``), then the prediction and actual
    columns present: ``prediction_label``, ``prediction_score``, the class scores
    ``prediction_score:<class>``, ``actual_label``, ``actual_score``."""
    present = dataset.table.columns
    out = feature_columns(dataset)
    out += [c for c in ("prediction_label", "prediction_score") if c in present]
    out += [c for c in present if c.startswith(_SCORE_PREFIX)]
    out += [c for c in ACTUALS if c in present]
    return out


def check_dataset(value: object, name: str) -> Dataset:
    """``value`` if it is a Dataset (anything with an Ibis ``table`` and ``execute``)."""
    if not isinstance(getattr(value, "table", None), ir.Table) or not callable(
        getattr(value, "execute", None)
    ):
        raise ParameterError(
            name, "an evalstore Dataset", type(value).__name__, "Get one with model.dataset(...)."
        )
    dataset: Dataset = value  # type: ignore[assignment]
    return dataset


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass
class ColumnExpectation:
    """What one column should look like; every field may be edited.

    - ``dtype``: the Ibis type (``float64``, ``string``, ``int64``, ``boolean``); another
      type in the current data is an error;
    - ``kind``: ``numeric`` (floating point) or ``categorical``;
    - ``max_missing_share``: the largest acceptable share of missing rows (0 to 1);
    - ``min``, ``max``: the acceptable range (None: unbounded on that side);
    - ``categories``: the acceptable values (None: any); ``allow_new_categories``: other
      values are fine (vanished ones are still reported);
    - ``category_shares``: ``{category: share}`` of the reference's non-missing values, as
      learned (None when written by hand). A category absent from a window is reported
      only when, at its share, no row of it among the window's values is unlikely by
      chance (``_checks.chance_vanished``); a category without a share (added by hand) is
      reported whenever it is absent;
    - ``constant_ok``: a column with a single value is fine;
    - ``learned_range``: ``[min, max]`` as learned from the reference (None when written by
      hand). While ``min`` and ``max`` are still these, a few rows past them are allowed
      as chance (a sample of the same distribution lands past the extremes of the
      reference's now and then: see ``_checks.chance_out_of_range``); edited limits say
      what is acceptable, so every row past them is reported.
    """

    column: str
    dtype: str
    kind: str
    max_missing_share: float = 1.0
    min: float | None = None
    max: float | None = None
    categories: list[Category] | None = None
    category_shares: dict[Category, float] | None = None
    allow_new_categories: bool = False
    constant_ok: bool = False
    learned_range: list[float | None] | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ParameterError naming the first field with an unusable value (fields can
        be edited after construction, so analyses call this before use)."""
        where = f"expectations[{self.column!r}]"
        if not isinstance(self.column, str) or not self.column:
            raise ParameterError("ColumnExpectation.column", "a column name", self.column)
        if not isinstance(self.dtype, str) or not self.dtype:
            raise ParameterError(
                f"{where}.dtype", "an Ibis type name such as 'float64'", self.dtype
            )
        if self.kind not in KINDS:
            raise ParameterError(f"{where}.kind", f"one of {list(KINDS)}", self.kind)
        share = self.max_missing_share
        if not _number(share) or not 0 <= share <= 1:
            raise ParameterError(f"{where}.max_missing_share", "a number from 0 to 1", share)
        for name in ("min", "max"):
            value = getattr(self, name)
            if value is not None and (not _number(value) or math.isnan(value)):
                raise ParameterError(f"{where}.{name}", "None or a number", value)
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ParameterError(f"{where}.max", f"at least min ({self.min})", self.max)
        cats = self.categories
        if cats is not None:
            ok = isinstance(cats, list | tuple) and all(
                isinstance(c, str | int | float | bool) for c in cats
            )
            if not ok:
                raise ParameterError(
                    f"{where}.categories", "None or a list of values (text, numbers)", cats
                )
            self.categories = list(cats)
        shares = self.category_shares
        if shares is not None:
            ok = isinstance(shares, Mapping) and all(
                isinstance(c, str | int | float | bool) and _number(v) and 0 <= v <= 1
                for c, v in shares.items()
            )
            if not ok:
                raise ParameterError(
                    f"{where}.category_shares",
                    "None or a dict of category -> share of the reference (0 to 1)",
                    shares,
                )
            self.category_shares = dict(shares)
        learned = self.learned_range
        if learned is not None:
            ok = isinstance(learned, list | tuple) and len(learned) == 2
            if not ok or not all(v is None or (_number(v) and not math.isnan(v)) for v in learned):
                raise ParameterError(f"{where}.learned_range", "None or [min, max]", learned)
            self.learned_range = list(learned)
        for name in ("allow_new_categories", "constant_ok"):
            if not isinstance(getattr(self, name), bool):
                raise ParameterError(f"{where}.{name}", "True or False", getattr(self, name))

    def to_dict(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        if self.category_shares is not None:
            # [category, share] pairs: JSON object keys are text, categories need not be
            values["category_shares"] = [list(pair) for pair in self.category_shares.items()]
        out: dict[str, Any] = to_json(values)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnExpectation:
        names = [f.name for f in fields(cls)]
        if not isinstance(data, Mapping) or set(data) - set(names):
            got = sorted(set(data) - set(names)) if isinstance(data, Mapping) else data
            raise ParameterError("ColumnExpectation data", f"a dict with keys from {names}", got)
        values = dict(data)
        for name in ("min", "max"):
            values[name] = from_json_float(values.get(name))
        learned = values.get("learned_range")
        if isinstance(learned, list | tuple):
            values["learned_range"] = [from_json_float(v) for v in learned]
        shares = values.get("category_shares")
        if isinstance(shares, list | tuple):
            pairs = [p for p in shares if isinstance(p, list | tuple) and len(p) == 2]
            if len(pairs) != len(shares):
                raise ParameterError(
                    f"expectations[{values.get('column')!r}].category_shares",
                    "a list of [category, share] pairs",
                    shares,
                )
            values["category_shares"] = {c: v for c, v in pairs}
        return cls(**values)

    def allows_chance(self) -> bool:
        """Whether rows past ``min``/``max`` may be chance: the limits are still the ones
        learned from the reference (not edited, not written by hand)."""
        learned = self.learned_range
        return learned is not None and [self.min, self.max] == list(learned)


@dataclass
class Expectations:
    """Expectations per column, indexed by column name: ``exp["age"].max = 120``.

    ``n_reference``: the rows they were learned on (0 when written by hand).
    """

    columns: dict[str, ColumnExpectation] = field(default_factory=dict)
    n_reference: int = 0

    def __getitem__(self, column: str) -> ColumnExpectation:
        if column not in self.columns:
            names = list(self.columns)
            raise ParameterError(
                "column",
                f"a column of the expectations ({', '.join(names) or 'none'})",
                column,
                did_you_mean(str(column), names).strip(),
            )
        return self.columns[column]

    def __setitem__(self, column: str, expectation: ColumnExpectation) -> None:
        if not isinstance(expectation, ColumnExpectation) or expectation.column != column:
            raise ParameterError(
                f"expectations[{column!r}]",
                f"a ColumnExpectation(column={column!r}, ...)",
                expectation,
            )
        self.columns[column] = expectation

    def __delitem__(self, column: str) -> None:
        self[column]  # an unknown name raises as reading it does
        del self.columns[column]

    def __repr__(self) -> str:
        from evalstore.render.tables import expectations_table

        return expectations_table(self).text()

    def _repr_html_(self) -> str:  # Jupyter
        from evalstore.render.tables import expectations_table

        return expectations_table(self).html()

    def __contains__(self, column: object) -> bool:
        return column in self.columns

    def __iter__(self) -> Iterator[str]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    def validate(self) -> None:
        for name, expectation in self.columns.items():
            if not isinstance(expectation, ColumnExpectation) or expectation.column != name:
                raise ParameterError(
                    f"expectations[{name!r}]",
                    f"a ColumnExpectation(column={name!r}, ...)",
                    expectation,
                )
            expectation.validate()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: ``{"format", "n_reference", "columns": [ColumnExpectation dicts]}``."""
        self.validate()
        return {
            "format": FORMAT,
            "n_reference": self.n_reference,
            "columns": [e.to_dict() for e in self.columns.values()],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Expectations:
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            got = data.get("format") if isinstance(data, Mapping) else data
            raise ParameterError("Expectations data", f"a dict with format {FORMAT}", got)
        columns = [ColumnExpectation.from_dict(c) for c in data.get("columns", [])]
        return cls({c.column: c for c in columns}, int(data.get("n_reference", 0)))


def learn_expectations(
    reference: Dataset,
    columns: Sequence[str] | None = None,
    *,
    max_categories: int = MAX_CATEGORIES,
) -> Expectations:
    """Learn every column's expectations from ``reference`` (see the module doc for the
    rules): one aggregate scan, plus one GROUP BY (at most ``max_categories + 1`` rows
    read) per categorical column.

    ``columns`` defaults to :func:`default_columns` (features, tags, predictions and
    actuals). Example::

        exp = learn_expectations(model.dataset(environment="training"))
        exp["age"]   # ColumnExpectation(column='age', dtype='float64', min=18.0, ...)
    """
    reference = check_dataset(reference, "reference")
    if (
        isinstance(max_categories, bool)
        or not isinstance(max_categories, int)
        or max_categories < 1
    ):
        raise ParameterError("max_categories", "a positive integer", max_categories)
    if columns is None:
        names = default_columns(reference)
    else:
        names = [columns] if isinstance(columns, str) else list(columns)
        if len(set(names)) != len(names):
            raise ParameterError("columns", "distinct column names", names)
    kinds = column_kinds(reference, names)  # unknown or unsupported columns raise here
    schema = reference.table.schema()
    targets = [Target(name, schema[name]) for name in names]
    found = scan(reference, targets, {}, None, exact_distinct=None)[None]  # no check needs them
    if found.n == 0:
        raise ParameterError(
            "reference",
            "a dataset with rows",
            "no rows",
            "Check its environment, version or dates.",
        )
    out: dict[str, ColumnExpectation] = {}
    for target in targets:
        name, counts = target.name, found.columns[target.name]
        share = (found.n - counts.valid) / found.n
        numeric = has_range(target.dtype)
        categories = shares = None
        if kinds[name] == "categorical":
            rows = distinct_values(reference, name, max_categories)
            if rows is not None:
                categories = list(rows)
                total = sum(rows.values())
                shares = {c: k / total for c, k in rows.items()}
        out[name] = ColumnExpectation(
            column=name,
            dtype=dtype_name(target.dtype),
            kind=kinds[name],
            max_missing_share=1.0 if name in ACTUALS else missing_limit(share),
            min=counts.min if numeric else None,
            max=counts.max if numeric else None,
            categories=categories,
            category_shares=shares,
            constant_ok=counts.constant or counts.valid == 0,
            learned_range=[counts.min, counts.max] if numeric else None,
        )
    return Expectations(out, found.n)
