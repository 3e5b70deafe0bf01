"""Uploads: a batch of any size sent in chunks, written in one transaction at commit.

``POST /models/{name}/uploads`` starts one; ``PUT /uploads/{id}/chunks/{n}`` sends chunk
``n`` (an Arrow IPC stream, or Parquet), again if need be; ``POST /uploads/{id}/commit``
writes the batch, and answers the same report when repeated. See ``server/uploads.py``.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import pyarrow as pa
from fastapi import APIRouter, Body, Path, Request, Response
from fastapi.concurrency import run_in_threadpool

from evalstore.server import writes
from evalstore.server.deps import ModelName, StateDep
from evalstore.server.schemas import (
    MAX_CHUNKS,
    ActualsUploadIn,
    BatchReportOut,
    ChunkOut,
    CommitIn,
    InferencesUploadIn,
    UploadOut,
    error_responses,
)
from evalstore.server.uploads import Upload
from evalstore.store.base import BatchReport

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["uploads"])

UploadId = Annotated[str, Path(description="The id POST /models/{name}/uploads answered.")]
_BINARY = {"schema": {"type": "string", "format": "binary"}}


@router.post(
    "/models/{name}/uploads",
    response_model=UploadOut,
    status_code=201,
    responses=error_responses(400, 401, 404),
)
def start_upload(
    state: StateDep,
    name: ModelName,
    body: Annotated[InferencesUploadIn | ActualsUploadIn, Body(discriminator="kind")],
) -> dict[str, Any]:
    """Start an upload of inferences or actuals. Its parameters are checked now, as
    ``Model.log`` / ``Model.log_actuals`` check them, before any chunk is sent."""
    model = state.store.model(name)
    if isinstance(body, InferencesUploadIn):
        params = {"schema": body.schema_, "version": body.version, "environment": body.environment}
        writes.check_inferences(params)
    else:
        params = {
            "prediction_id": body.prediction_id,
            "actual": body.actual,
            "environment": body.environment,
        }
        writes.check_actuals(params)
    upload = state.uploads.create(model.name, body.kind, params, body.source)
    return {**state.uploads.status(upload.id), "max_chunk_bytes": state.max_body_bytes}


@router.get("/uploads/{upload_id}", response_model=UploadOut, responses=error_responses(401, 404))
def upload_status(state: StateDep, upload_id: UploadId) -> dict[str, Any]:
    """The chunks received so far, and the report once committed."""
    return {**state.uploads.status(upload_id), "max_chunk_bytes": state.max_body_bytes}


@router.put(
    "/uploads/{upload_id}/chunks/{number}",
    response_model=ChunkOut,
    responses=error_responses(400, 401, 404, 409, 413),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The chunk's rows: an Arrow IPC stream (or a Parquet file).",
            "content": {
                "application/vnd.apache.arrow.stream": _BINARY,
                "application/vnd.apache.parquet": _BINARY,
            },
        }
    },
)
async def put_chunk(
    state: StateDep,
    upload_id: UploadId,
    number: Annotated[int, Path(ge=0, le=MAX_CHUNKS - 1, description="0, 1, 2... in order.")],
    request: Request,
) -> dict[str, Any]:
    """Send chunk ``number``; sending it again replaces it (so a retry never duplicates)."""
    body = await request.body()
    result: dict[str, Any] = await run_in_threadpool(
        state.uploads.put_chunk, upload_id, number, body
    )
    return result


@router.post(
    "/uploads/{upload_id}/commit",
    response_model=BatchReportOut,
    responses=error_responses(400, 401, 404, 409),
)
def commit_upload(state: StateDep, upload_id: UploadId, body: CommitIn) -> dict[str, Any]:
    """Write chunks ``0 .. chunks-1`` to the store as one batch, all or nothing. Committing
    again answers the same report and writes nothing."""

    def write(upload: Upload, reader: pa.RecordBatchReader) -> BatchReport:
        log = writes.log_inferences if upload.kind == "inferences" else writes.log_actuals
        return log(state, upload.model, reader, upload.params)

    report = state.uploads.commit(upload_id, body.chunks, body.rows, state.write_lock, write)
    return asdict(report)


@router.delete("/uploads/{upload_id}", status_code=204, responses=error_responses(401, 404))
def abort_upload(state: StateDep, upload_id: UploadId) -> Response:
    """Drop an upload and its chunks (a committed batch stays in the store)."""
    state.uploads.delete(upload_id)
    return Response(status_code=204)
