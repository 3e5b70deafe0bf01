"""Slices: a metric on every bin of every feature and tag, with intervals
(``evalstore.analyses.slices``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from evalstore.analyses.baseline import Baseline
from evalstore.analyses.slices import no_rows_to_bin, slices
from evalstore.dataset import Dataset
from evalstore.errors import ParameterError
from evalstore.server.deps import ModelDep, StateDep
from evalstore.server.routes._analyses import (
    SELECTION_DOC,
    Columns,
    Confidence,
    DatasetDep,
    PositiveClass,
    Threshold,
    answer,
    parse_positive_class,
    reading,
    reference_for,
)
from evalstore.server.schemas import SlicesOut, error_responses

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/models/{name}", tags=["analyses"])


@router.get(
    "/slices",
    response_model=None,
    responses={200: {"model": SlicesOut}, **error_responses(400, 401, 404)},
)
def get_slices(
    state: StateDep,
    model: ModelDep,
    selection: DatasetDep,
    metric: Annotated[
        str | None,
        Query(
            description="A metric with one value per slice (default: roc_auc, else accuracy "
            "for binary models; accuracy for multiclass; mae for regression)."
        ),
    ] = None,
    columns: Columns = None,
    reference: Annotated[
        str | None,
        Query(
            max_length=10_000,
            description="What the bins are fitted on: a baseline (its frozen bins) or other "
            "rows (default: the selected rows themselves). " + SELECTION_DOC,
        ),
    ] = None,
    min_support: Annotated[
        int, Query(description="The fewest rows a slice needs to rank among the worst.")
    ] = 30,
    confidence: Confidence = 0.95,
    positive_class: PositiveClass = None,
    threshold: Threshold = None,
) -> JSONResponse:
    """The metric on every bin of every column, with intervals and whether each differs
    from the overall value (``slices(model.dataset(...), metric, ...)``)."""
    with reading(state):
        ds = selection.dataset(model)
        rows: Dataset | None = None
        fitted: Baseline | None = None
        if reference is not None:
            rows, fitted = reference_for(model, reference, ds)
        try:
            result = slices(
                ds,
                metric,
                columns=columns,
                binnings=fitted.binnings_ if fitted is not None else None,
                reference=rows,
                min_support=min_support,
                confidence=confidence,
                positive_class=parse_positive_class(ds, positive_class),
                threshold=threshold,
            )
        except ParameterError as exc:
            if not no_rows_to_bin(exc):
                raise
            raise ParameterError(
                "selection",
                "rows to fit the bins on",
                f"no rows for {selection.describe()}",
                "Pick another time range (start, end), environment or version, or pass "
                "reference= (a baseline, or other rows) to take the bins from.",
            ) from None
    return answer(result.to_dict())
