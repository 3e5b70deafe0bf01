"""Data quality of a selection, against expectations learned from a reference or a baseline
(``evalstore.analyses.quality``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from evalstore.analyses.quality import Expectations, learn_expectations, quality
from evalstore.server.deps import ModelDep, StateDep
from evalstore.server.routes._analyses import (
    SELECTION_DOC,
    Columns,
    DatasetDep,
    PositiveClass,
    Threshold,
    answer,
    parse_positive_class,
    reading,
    reference_for,
)
from evalstore.server.schemas import QualityOut, error_responses

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/models/{name}", tags=["analyses"])


@router.get(
    "/quality",
    response_model=None,
    responses={200: {"model": QualityOut}, **error_responses(400, 401, 404)},
)
def get_quality(
    state: StateDep,
    model: ModelDep,
    selection: DatasetDep,
    reference: Annotated[
        str | None,
        Query(
            max_length=10_000,
            description="Where the expectations come from: a baseline's stored ones, or "
            "learned from these rows. Without it, only the checks that need none run. "
            + SELECTION_DOC,
        ),
    ] = None,
    by: Annotated[
        str | None,
        Query(description="Check each time window: hour, day, week or month (UTC)."),
    ] = None,
    columns: Columns = None,
    positive_class: PositiveClass = None,
    threshold: Threshold = None,
    min_rows: Annotated[
        int,
        Query(
            description="The fewest values in which a vanished category or a constant "
            "column is reported."
        ),
    ] = 100,
    exact_distinct: Annotated[
        bool, Query(description="Count distinct values exactly (slower) instead of HyperLogLog.")
    ] = False,
    details: Annotated[
        bool,
        Query(
            description="False: only what the checks need, for a summary of the issues (no "
            "distinct counts, no count of ids logged under several versions)."
        ),
    ] = True,
) -> JSONResponse:
    """Missing values, types, ranges, new and vanished categories, constant columns,
    duplicate ids and score/label consistency of the selected rows (``quality``)."""
    with reading(state):
        ds = selection.dataset(model)
        expectations: Expectations | None = None
        if reference is not None:
            rows, fitted = reference_for(model, reference, ds)
            if fitted is not None and fitted.expectations_ is not None:
                expectations = fitted.expectations_
            else:
                expectations = learn_expectations(rows, columns)
        result = quality(
            ds,
            expectations,
            by=by,
            columns=columns,
            positive_class=parse_positive_class(ds, positive_class),
            threshold=threshold,
            min_rows=min_rows,
            exact_distinct=exact_distinct,
            details=details,
        )
    return answer(result.to_dict())
