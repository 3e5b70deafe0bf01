"""Baselines: list them, create one (fit and store a new version), read one
(``Model.create_baseline``, ``Model.baseline``, ``Model.baselines``)."""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from evalstore.selection import check_where
from evalstore.server.deps import ModelDep, StateDep
from evalstore.server.routes._analyses import DatasetArgs, answer, reading
from evalstore.server.schemas import (
    BaselineCreateIn,
    BaselineOut,
    BaselineSummaryOut,
    error_responses,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/models/{name}/baselines", tags=["baselines"])

#: one baseline stored at a time: a version number is the last one + 1, and two fits of one
#: name at once would both take the same number
_CREATING = threading.Lock()

BaselineName = Annotated[str, Path(description="The baseline's name.")]


@router.get("", response_model=list[BaselineSummaryOut], responses=error_responses(401, 404))
def list_baselines(model: ModelDep) -> list[dict[str, Any]]:
    """Every stored baseline of the model, by name, with its latest version
    (``model.baselines()``)."""
    return model.baselines()


@router.post(
    "",
    status_code=201,
    response_model=None,
    responses={201: {"model": BaselineOut}, **error_responses(400, 401, 404)},
)
def create_baseline(state: StateDep, model: ModelDep, body: BaselineCreateIn) -> JSONResponse:
    """Fit a baseline on the selected rows -- bins, data-quality expectations, performance --
    and store it as the next version of ``name`` (``model.create_baseline``). A fit reads
    the store; it never holds up the batches being logged."""
    where = check_where(body.where) if body.where is not None else None
    args = DatasetArgs(body.environment, body.version, body.start, body.end, where)
    with reading(state):
        args.dataset(model)  # the selection and the filter's types, checked before any fit
        with _CREATING:
            base = model.create_baseline(
                body.name,
                environment=args.environment,
                version=args.version,
                start=args.start,
                end=args.end,
                where=args.where,
                moving_days=body.moving_days,
                columns=body.columns,
                positive_class=body.positive_class,
            )
    return JSONResponse(base.to_dict(), status_code=201)


@router.get(
    "/{baseline}",
    response_model=None,
    responses={200: {"model": BaselineOut}, **error_responses(400, 401, 404)},
)
def get_baseline(
    model: ModelDep,
    baseline: BaselineName,
    version: Annotated[
        int | None,
        Query(ge=1, le=2**31 - 1, description="The version to read (default: the latest)."),
    ] = None,
) -> JSONResponse:
    """A stored baseline with everything fitted on it (``model.baseline(name, version)``)."""
    return answer(model.baseline(baseline, version).to_dict())
