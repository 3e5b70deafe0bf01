"""Drift of every feature between two selections, overall and per time window
(``evalstore.analyses.drift``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from evalstore.analyses.binning import feature_columns
from evalstore.analyses.drift import drift, drift_over_time
from evalstore.analyses.drift.result import DriftOverTime, DriftResult
from evalstore.sdk import Model
from evalstore.server.deps import ModelDep, StateDep
from evalstore.server.routes._analyses import (
    Columns,
    Reference,
    SelectionText,
    answer,
    current_of,
    reading,
    reference_for,
)
from evalstore.server.schemas import DriftOut, DriftOverTimeOut, error_responses

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/models/{name}", tags=["analyses"])

Method = Annotated[
    str | None,
    Query(
        description="A drift method (psi, js, kl, hellinger, chi2, ks, wasserstein) for the "
        "columns of a kind it handles; default psi."
    ),
]
Alpha = Annotated[
    float, Query(description="The false discovery rate held across columns, between 0 and 1.")
]
EffectThreshold = Annotated[
    float | None,
    Query(description="The effect size at which a column drifts (default: the method's)."),
]
_ERRORS = error_responses(400, 401, 404)


def _compute(
    model: Model,
    reference: str,
    current: str,
    columns: list[str] | None,
    method: str | None,
    alpha: float,
    threshold: float | None,
    by: str | None,
) -> DriftResult | DriftOverTime:
    cur = current_of(model, current)
    ref, fitted = reference_for(model, reference, cur)
    # features and tags by default, whether the reference is a baseline or not
    names = columns if columns is not None else feature_columns(ref)
    binnings = fitted.binnings_ if fitted is not None else None
    if by is None:
        return drift(ref, cur, names, method, alpha, threshold=threshold, binnings=binnings)
    return drift_over_time(
        ref, cur, by, names, method, alpha, threshold=threshold, binnings=binnings
    )


@router.get("/drift", response_model=None, responses={200: {"model": DriftOut}, **_ERRORS})
def get_drift(
    state: StateDep,
    model: ModelDep,
    reference: Reference,
    current: SelectionText,
    columns: Columns = None,
    method: Method = None,
    alpha: Alpha = 0.05,
    threshold: EffectThreshold = None,
) -> JSONResponse:
    """Drift of each column of ``current`` against ``reference``: an effect size and a
    significance per column, the false discovery rate held across columns
    (``drift(reference, current, ...)``). With a baseline as the reference, its frozen bins
    are used."""
    with reading(state):
        result = _compute(model, reference, current, columns, method, alpha, threshold, None)
    return answer(result.to_dict())


@router.get(
    "/drift/over-time",
    response_model=None,
    responses={200: {"model": DriftOverTimeOut}, **_ERRORS},
)
def get_drift_over_time(
    state: StateDep,
    model: ModelDep,
    reference: Reference,
    current: SelectionText,
    by: Annotated[
        str, Query(description="The window: hour, day, week (from Monday) or month, UTC.")
    ] = "day",
    columns: Columns = None,
    method: Method = None,
    alpha: Alpha = 0.05,
    threshold: EffectThreshold = None,
) -> JSONResponse:
    """Drift of each time window of ``current`` against ``reference``
    (``drift_over_time``); windows without rows are absent."""
    with reading(state):
        result = _compute(model, reference, current, columns, method, alpha, threshold, by)
    return answer(result.to_dict())
