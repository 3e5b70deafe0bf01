"""Logging a batch in one request: JSON records, or a file (Parquet, Arrow IPC, CSV) in a form.

Each request is one batch, all-or-nothing, with the parameters of ``Model.log`` or
``Model.log_actuals``. For batches over the server's body limit, use an upload
(``routes/uploads.py``), as the Python SDK does.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
from fastapi import APIRouter, File, Form, UploadFile

from evalstore.server import writes
from evalstore.server.deps import ModelName, ServerState, StateDep
from evalstore.server.schemas import (
    SCHEMA_DOC,
    ActualsIn,
    BatchReportOut,
    InferencesIn,
    error_responses,
)
from evalstore.server.uploads import read_body

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/models/{name}", tags=["ingest"])

_ERRORS = error_responses(400, 401, 404, 413)
FileField = Annotated[
    UploadFile,
    File(description="A Parquet file, an Arrow IPC stream or file, or a CSV file (*.csv)."),
]


def _client_name(filename: str | None) -> str | None:
    """The file's name as the client gave it, for messages: its last part only (a browser
    may send a whole Windows path), at most 200 characters."""
    if not filename:
        return None
    return filename.replace("\\", "/").rsplit("/", 1)[-1][:200] or None


def _with_file(state: ServerState, file: UploadFile, log: Any) -> dict[str, Any]:
    """Spool the uploaded file to disk beside the store, read it lazily, log it, delete it."""
    suffix = Path(file.filename or "").suffix.lower()
    fmt = "csv" if suffix in (".csv", ".tsv", ".txt") else None
    with tempfile.TemporaryDirectory(dir=state.uploads.root, prefix=".file-") as tmp:
        path = Path(tmp) / f"upload{suffix if suffix.isascii() and suffix[1:].isalnum() else ''}"
        with open(path, "wb") as out:
            shutil.copyfileobj(file.file, out, 16 << 20)
        schema, batches = read_body(path, fmt, _client_name(file.filename))
        reader = pa.RecordBatchReader.from_batches(schema, batches)
        with state.write_lock:
            report = log(reader)
    return asdict(report)


@router.post("/inferences", response_model=BatchReportOut, status_code=201, responses=_ERRORS)
def log_inferences(state: StateDep, name: ModelName, body: InferencesIn) -> dict[str, Any]:
    """Log a batch of inferences sent as JSON records (``Model.log``), all or nothing."""
    table = writes.records_to_table(body.records)
    params = {"schema": body.schema_, "version": body.version, "environment": body.environment}
    with state.write_lock:
        return asdict(writes.log_inferences(state, name, table, params))


@router.post("/inferences/file", response_model=BatchReportOut, status_code=201, responses=_ERRORS)
def log_inferences_file(
    state: StateDep,
    name: ModelName,
    file: FileField,
    schema_: Annotated[str, Form(alias="schema", description=SCHEMA_DOC + " As JSON text.")],
    version: Annotated[str, Form()],
    environment: Annotated[str, Form(description="training, validation or production.")],
) -> dict[str, Any]:
    """Log a file of inferences sent as a form (``Model.log``), all or nothing."""
    params = {"schema": schema_, "version": version, "environment": environment}
    writes.check_inferences(params)  # before the file is copied
    return _with_file(state, file, lambda data: writes.log_inferences(state, name, data, params))


@router.post("/actuals", response_model=BatchReportOut, status_code=201, responses=_ERRORS)
def log_actuals(state: StateDep, name: ModelName, body: ActualsIn) -> dict[str, Any]:
    """Log actual outcomes sent as JSON records (``Model.log_actuals``), all or nothing."""
    table = writes.records_to_table(body.records)
    params = {
        "prediction_id": body.prediction_id,
        "actual": body.actual,
        "environment": body.environment,
    }
    with state.write_lock:
        return asdict(writes.log_actuals(state, name, table, params))


@router.post("/actuals/file", response_model=BatchReportOut, status_code=201, responses=_ERRORS)
def log_actuals_file(
    state: StateDep,
    name: ModelName,
    file: FileField,
    prediction_id: Annotated[str, Form(description="The column with the prediction id.")],
    actual: Annotated[str, Form(description="The column with the true class or value.")],
    environment: Annotated[str, Form()] = "production",
) -> dict[str, Any]:
    """Log a file of actual outcomes sent as a form (``Model.log_actuals``), all or nothing."""
    params = {"prediction_id": prediction_id, "actual": actual, "environment": environment}
    writes.check_actuals(params)
    return _with_file(state, file, lambda data: writes.log_actuals(state, name, data, params))
