"""What the analysis routes share: the query parameters of a selection, reading one state of
the store, selections made datasets and baselines, and their JSON answers.

Analyses are reads: they never take the server's write lock, and run in the thread pool
(the routes are plain ``def``). Each request reads in one snapshot of the store
(``DuckDBStore.snapshot``): a batch committed while it runs is in none of its queries, or
-- committed before it began -- in all of them.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query
from fastapi.responses import JSONResponse

from evalstore.analyses.baseline import Baseline
from evalstore.analyses.metrics._inputs import parse_positive_class as parse_text
from evalstore.dataset import Dataset, as_timestamp
from evalstore.errors import ParameterError
from evalstore.sdk import Model
from evalstore.selection import BaselineRef, check_where, parse_selection
from evalstore.server.deps import ServerState

__all__ = [
    "SELECTION_DOC",
    "Columns",
    "Confidence",
    "DatasetArgs",
    "DatasetDep",
    "PositiveClass",
    "Reference",
    "SelectionText",
    "Threshold",
    "answer",
    "current_of",
    "parse_positive_class",
    "reading",
    "reference_for",
    "resolve",
]

SELECTION_DOC = (
    "A selection, as the CLI's --reference/--current take it: a name (a stored baseline's, "
    "else an environment's: training, validation, production), `baseline=NAME` or "
    "`baseline=NAME@VERSION`, `key=value` pairs separated by commas (environment, version -- "
    "`v1|v2` for several --, start, end: `environment=production,start=2024-06-01`), or a JSON "
    'object of dataset arguments: `{"environment": "production", "where": {"region": "EU"}}`.'
)

Columns = Annotated[
    list[str] | None,
    Query(description="A column to analyse; repeat for several (default: features and tags)."),
]
# numbers are checked by the analyses, so that a wrong one is the ParameterError that the
# embedded SDK raises (the Python client raises it too), not a bare 422
Threshold = Annotated[
    float | None,
    Query(
        description="Binary models only, from 0 to 1 (default 0.5): a row without a predicted "
        "label is positive when its score >= threshold. Refused for other models."
    ),
]
PositiveClass = Annotated[
    str | None,
    Query(
        description="Binary models: the positive class (default 1 for integer labels, true "
        "for booleans; needed for text labels). Read as the labels' type."
    ),
]
Confidence = Annotated[
    float, Query(description="The level of the confidence intervals, between 0 and 1.")
]


def _text(description: str) -> Any:
    return Query(description=description, max_length=10_000)


SelectionText = Annotated[str, _text("What to check. " + SELECTION_DOC)]
Reference = Annotated[str, _text("What to compare against. " + SELECTION_DOC)]


@dataclass(frozen=True)
class DatasetArgs:
    """The rows a single-dataset analysis reads: ``Model.dataset()``'s arguments."""

    environment: str | list[str] | None = None
    version: str | list[str] | None = None
    start: str | None = None
    end: str | None = None
    where: dict[str, Any] | None = None

    def describe(self) -> str:
        """The query parameters given, as passed: ``environment=production&start=2030-01-01``
        (``all rows`` for none)."""
        pairs = []
        for key in ("environment", "version", "start", "end"):
            value = getattr(self, key)
            for v in [value] if isinstance(value, str) else value or []:
                pairs.append(f"{key}={v}")
        if self.where is not None:
            pairs.append(f"where={json.dumps(self.where)}")
        return "&".join(pairs) or "all rows"

    def dataset(self, model: Model, *, known_versions: bool = True) -> Dataset:
        """The selected rows. ``known_versions``: refuse a version the model never logged, as
        the analyses do (``Model._described``); the rows endpoints, which are
        ``model.dataset()``, select it as no rows."""
        select = model._described if known_versions else model.dataset
        base = select(self.environment, self.version, self.start, self.end)
        if self.where is None:
            return base
        _check_where_types(base, self.where)
        return model.dataset(self.environment, self.version, self.start, self.end, self.where)


def parse_where(text: str | None, name: str = "where") -> dict[str, Any] | None:
    """A ``where`` query parameter: a JSON object ``{column: value or [values]}``."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ParameterError(
            name,
            'a JSON object such as {"region": "EU"} or {"region": ["EU", "US"]}',
            text[:200],
            f"It is not valid JSON ({exc}).",
        ) from None
    return check_where(value, name)


def _check_where_types(ds: Dataset, where: dict[str, Any]) -> None:
    """Refuse filter values of the wrong type for their column now, with the column's name,
    rather than let the engine fail on them when the query runs."""
    schema = ds.table.schema()
    for column, value in where.items():
        if column not in schema:
            continue  # Dataset names the unknown column, with the close matches
        dtype = schema[column]
        for v in value if isinstance(value, list) else [value]:
            if v is None:
                continue
            if dtype.is_temporal():
                ok = isinstance(v, str)
                if ok:
                    as_timestamp(v, f"where[{column!r}]")
            elif dtype.is_boolean():
                ok = isinstance(v, bool)
            elif dtype.is_numeric():
                ok = isinstance(v, (int, float)) and not isinstance(v, bool)
            else:
                ok = dtype.is_string()
            if not ok:
                raise ParameterError(
                    f"where[{column!r}]", f"values of the column's type ({dtype})", v
                )


async def dataset_args(
    environment: Annotated[
        list[str] | None,
        Query(description="training, validation or production; repeat for several."),
    ] = None,
    version: Annotated[
        list[str] | None, Query(description="A model version; repeat for several.")
    ] = None,
    start: Annotated[
        str | None,
        Query(description="The first timestamp, inclusive: ISO 8601 (UTC without an offset)."),
    ] = None,
    end: Annotated[
        str | None, Query(description="The end of the time range, exclusive: ISO 8601.")
    ] = None,
    where: Annotated[
        str | None,
        _text('A filter as a JSON object: {"column": value} or {"column": [values]}.'),
    ] = None,
) -> DatasetArgs:
    return DatasetArgs(environment, version, start, end, parse_where(where))


DatasetDep = Annotated[DatasetArgs, Depends(dataset_args)]


def reading(state: ServerState) -> AbstractContextManager[None]:
    """A read of one state of the store (a snapshot), without the write lock."""
    snapshot = getattr(state.store._engine, "snapshot", None)
    return snapshot() if snapshot is not None else nullcontext()


def resolve(model: Model, text: str, name: str, *, baselines: bool) -> Dataset | Baseline:
    """A selection parameter as a Dataset, or a stored Baseline when ``baselines``; a bad
    value inside it is named as part of ``name`` (``current.environment must be ...``)."""
    parsed = parse_selection(text, name)
    if isinstance(parsed, BaselineRef):
        if not baselines:
            raise ParameterError(
                name, "an environment name, key=value pairs or a JSON object", text
            )
        try:
            return model.baseline(parsed.name, parsed.version)
        except ParameterError as exc:
            raise exc.within(name) from None
    if isinstance(parsed, dict):
        try:
            return DatasetArgs(**parsed).dataset(model)
        except ParameterError as exc:
            raise exc.within(name) from None
    # a name: the embedded SDK's own resolution, so that it means what it means there
    return model._selection(parsed, name, baselines)


def current_of(model: Model, text: str, name: str = "current") -> Dataset:
    """A selection parameter that must be rows (not a baseline) as a Dataset."""
    found = resolve(model, text, name, baselines=False)
    assert isinstance(found, Dataset)  # without baselines, a selection is rows
    return found


def reference_for(model: Model, text: str, current: Dataset) -> tuple[Dataset, Baseline | None]:
    """The reference rows and, when the reference is a baseline, the fitted baseline to use
    (a moving one fitted on the days before ``current``)."""
    found = resolve(model, text, "reference", baselines=True)
    if isinstance(found, Baseline):
        return found.reference_for(model, current)
    return found, None


def parse_positive_class(ds: Dataset, text: str | None) -> Any:
    """The positive class from a query parameter, typed as the stored labels are."""
    return parse_text(ds.table, text)


def answer(data: dict[str, Any]) -> JSONResponse:
    """A result's ``to_dict()`` as the JSON answer."""
    return JSONResponse(data)
