"""Models: list them, create one with its task, read one's info, versions and batches."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from evalstore.errors import ModelNotFound
from evalstore.schema import Task
from evalstore.server.deps import ModelDep, StateDep
from evalstore.server.schemas import BatchOut, ModelCreateIn, ModelInfoOut, error_responses

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/models", tags=["models"])


@router.get("", response_model=list[ModelInfoOut], responses=error_responses(401))
def list_models(state: StateDep) -> list[dict[str, Any]]:
    """Every model with what the store holds for it, by name (``Store.models()``)."""
    return [info.to_dict() for info in state.store.models()]


@router.post(
    "",
    response_model=ModelInfoOut,
    status_code=201,
    responses={
        200: {"description": "The model existed already, with this task."},
        **error_responses(400, 401),
    },
)
def create_model(state: StateDep, body: ModelCreateIn, response: Response) -> dict[str, Any]:
    """Create a model with its task (``store.model(name, task=...)``); 201 when created, 200
    when a model of that name and task exists, 400 when it exists with another task."""
    task = Task.parse(body.task)
    with state.write_lock:
        try:
            state.store.model(body.name)
            response.status_code = 200
        except ModelNotFound:
            pass
        model = state.store.model(body.name, task=task)
    return model.info().to_dict()


@router.get("/{name}", response_model=ModelInfoOut, responses=error_responses(401, 404))
def model_info(model: ModelDep) -> dict[str, Any]:
    """Rows per environment, how many have actuals, time range, versions, batches."""
    return model.info().to_dict()


@router.get("/{name}/versions", response_model=list[str], responses=error_responses(401, 404))
def model_versions(model: ModelDep) -> list[str]:
    """Versions with at least one committed batch, oldest first."""
    return model.versions()


@router.get("/{name}/batches", response_model=list[BatchOut], responses=error_responses(401, 404))
def model_batches(model: ModelDep) -> list[dict[str, Any]]:
    """Every committed batch of this model, oldest first."""
    return model.batches()
