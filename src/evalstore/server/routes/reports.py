"""The report: performance, drift, data quality and the worst slices of a selection against a
reference, as JSON, a self-contained HTML page or Markdown (``Model.report``)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from evalstore.server.deps import ModelDep, StateDep
from evalstore.server.routes._analyses import (
    Columns,
    PositiveClass,
    Reference,
    SelectionText,
    answer,
    current_of,
    parse_positive_class,
    reading,
    resolve,
)
from evalstore.server.schemas import ReportOut, error_responses

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/models/{name}", tags=["analyses"])


@router.get(
    "/report",
    response_model=None,
    responses={
        200: {
            "model": ReportOut,
            "description": "The report: JSON (Report.to_dict()), or with format=html a "
            "self-contained HTML page, or with format=markdown its Markdown summary.",
            "content": {"text/html": {}, "text/markdown": {}},
        },
        **error_responses(400, 401, 404),
    },
)
def get_report(
    state: StateDep,
    model: ModelDep,
    reference: Reference,
    current: SelectionText,
    metrics: Annotated[
        list[str] | None,
        Query(description="A metric key; repeat for several (default: the task's)."),
    ] = None,
    columns: Columns = None,
    window: Annotated[
        str | None,
        Query(
            description="The performance-over-time window: hour, day, week, month or year "
            "(default: by the span of the data)."
        ),
    ] = None,
    slice_columns: Annotated[
        list[str] | None,
        Query(description="The columns to slice on; repeat (default: the drift columns)."),
    ] = None,
    min_support: Annotated[
        int, Query(description="The fewest rows a slice needs to rank among the worst.")
    ] = 30,
    positive_class: PositiveClass = None,
    format_: Annotated[
        Literal["json", "html", "markdown"],
        Query(alias="format", description="json (default), html or markdown."),
    ] = "json",
) -> Response:
    """Performance, drift, data quality and the worst slices of ``current`` against
    ``reference`` (``model.report(reference, current, ...)``). ``positive_class`` defaults
    to the reference baseline's."""
    with reading(state):
        ref = resolve(model, reference, "reference", baselines=True)
        cur = current_of(model, current)
        result = model.report(
            ref,
            cur,
            metrics=metrics,
            columns=columns,
            window=window,
            slice_columns=slice_columns,
            min_support=min_support,
            progress=False,
            positive_class=parse_positive_class(cur, positive_class),
        )
    if format_ == "html":
        return HTMLResponse(result.to_html())
    if format_ == "markdown":
        return Response(result.to_markdown(), media_type="text/markdown; charset=utf-8")
    return answer(result.to_dict())
