"""Rows: a model's selected inferences (actuals joined) as an Arrow IPC stream, and their count
(``model.dataset(...).to_arrow()`` and ``.count()``).

The rows are read by one query, as they are sent, in record batches of :data:`BATCH_ROWS`
rows each: the server holds a batch at a time, and the client decodes them as they arrive.
A refused selection is refused before the first byte, in the server's one error shape.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Annotated

import pyarrow as pa
from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from evalstore._checks import whole_number
from evalstore.errors import ParameterError, did_you_mean
from evalstore.sdk import Model
from evalstore.server.deps import ModelDep, ServerState, StateDep
from evalstore.server.routes._analyses import DatasetArgs, DatasetDep, reading
from evalstore.server.schemas import error_responses
from evalstore.store.duckdb import DuckDBStore, RowStream

__all__ = ["ARROW_STREAM", "BATCH_ROWS", "router"]

router = APIRouter(prefix="/api/v1/models/{name}", tags=["rows"])

ARROW_STREAM = "application/vnd.apache.arrow.stream"
#: rows per record batch of the stream: big enough that framing costs nothing, small enough
#: that a client holds little undecoded
BATCH_ROWS = 65_536


class RowsCountOut(BaseModel):
    rows: int = Field(description="The number of selected rows.")


def _check_limit(limit: int | None) -> int | None:
    if limit is None:
        return None
    return whole_number("limit", limit, what="a whole number of rows")


def _check_columns(wanted: list[str] | None, have: list[str]) -> list[str] | None:
    """The columns asked for, each once, in the order asked; an unknown one is refused."""
    if wanted is None:
        return None
    for column in wanted:
        if column not in have:
            raise ParameterError(
                "columns",
                "columns of the model's rows",
                column,
                f"{did_you_mean(column, have).strip()} Columns: {', '.join(have)}.".lstrip(),
            )
    return list(dict.fromkeys(wanted))


def _open(
    state: ServerState,
    model: Model,
    selection: DatasetArgs,
    columns: list[str] | None,
    limit: int | None,
) -> RowStream:
    """The selected rows as a stream of record batches, read as they are sent: the query
    runs (and a bad selection is refused) before the first byte."""
    with reading(state):
        ds = selection.dataset(model, known_versions=False)
        columns = _check_columns(columns, ds.columns)
    expr = ds.table if columns is None else ds.table.select(*columns)
    if limit is not None:
        expr = expr.limit(limit)
    engine: DuckDBStore = state.store._engine
    return engine.stream(expr, BATCH_ROWS)


def _stream(rows: RowStream) -> Iterator[bytes]:
    """``rows`` as an Arrow IPC stream: the schema, then one message per record batch."""
    buffer = io.BytesIO()
    with pa.ipc.new_stream(buffer, rows.schema) as writer:
        for batch in rows:
            writer.write_batch(batch)
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()  # the schema, when there was no batch; the end-of-stream marker


@router.get(
    "/rows",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {ARROW_STREAM: {}},
            "description": "The rows as an Arrow IPC stream, in record batches.",
        },
        **error_responses(400, 401, 404),
    },
)
def get_rows(
    state: StateDep,
    model: ModelDep,
    selection: DatasetDep,
    columns: Annotated[
        list[str] | None,
        Query(description="A column to send; repeat for several (default: every column)."),
    ] = None,
    limit: Annotated[
        int | None, Query(description="At most this many rows (default: every selected row).")
    ] = None,
) -> StreamingResponse:
    """The selected rows, actuals joined (``model.dataset(...).to_arrow()``), as an Arrow IPC
    stream (``application/vnd.apache.arrow.stream``) in record batches of up to 65,536 rows;
    ``limit=0`` sends the columns and types without rows. Read it with
    ``pyarrow.ipc.open_stream``."""
    rows = _open(state, model, selection, columns, _check_limit(limit))
    return StreamingResponse(_stream(rows), media_type=ARROW_STREAM)


@router.get("/rows/count", response_model=RowsCountOut, responses=error_responses(400, 401, 404))
def count_rows(state: StateDep, model: ModelDep, selection: DatasetDep) -> dict[str, int]:
    """The number of selected rows (``model.dataset(...).count()``): ``{"rows": n}``."""
    with reading(state):
        return {"rows": selection.dataset(model, known_versions=False).count()}
