"""Performance: metrics overall, per time window and per column, with intervals
(``evalstore.analyses.performance.performance``)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from evalstore.analyses.performance import performance, refuse_numeric_by
from evalstore.server.deps import ModelDep, StateDep
from evalstore.server.routes._analyses import (
    Confidence,
    DatasetDep,
    PositiveClass,
    Threshold,
    answer,
    parse_positive_class,
    reading,
)
from evalstore.server.schemas import PerformanceOut, error_responses

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/models/{name}", tags=["analyses"])


@router.get(
    "/performance",
    response_model=None,
    responses={200: {"model": PerformanceOut}, **error_responses(400, 401, 404)},
)
def get_performance(
    state: StateDep,
    model: ModelDep,
    selection: DatasetDep,
    metrics: Annotated[
        list[str] | None,
        Query(description="A metric key; repeat for several (default: the task's)."),
    ] = None,
    by: Annotated[
        list[str] | None,
        Query(
            description="Group by a time window (hour, day, week, month, year) or a "
            "categorical, boolean or integer column; repeat for several."
        ),
    ] = None,
    positive_class: PositiveClass = None,
    threshold: Threshold = None,
    confidence: Confidence = 0.95,
) -> JSONResponse:
    """Metrics of the selected rows, overall or per group, with confidence intervals
    (``performance(model.dataset(...), metrics, by=...)``); rows without an actual are
    counted per group (``n_without_actual``)."""
    with reading(state):
        ds = selection.dataset(model)
        # no bins here: the slices endpoint bins a numeric column
        refuse_numeric_by(
            ds,
            by,
            lambda numeric: (
                f"{numeric!r} is numeric (integer features are too) and this endpoint takes "
                f"no bin edges: GET /api/v1/models/{quote(model.name)}/slices?columns="
                f"{quote(numeric)} gives a metric per bin of it; to group by each of its "
                f"values, log it with feature_types {numeric!r}: categorical in the schema."
            ),
        )
        result = performance(
            ds,
            metrics,
            by=by,
            positive_class=parse_positive_class(ds, positive_class),
            threshold=threshold,
            confidence=confidence,
        )
    return answer(result.to_dict())
