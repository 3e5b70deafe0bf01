"""Writing a batch that came over HTTP: the same calls as ``Model.log`` / ``Model.log_actuals``.

Callers hold ``ServerState.write_lock`` around a write.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from evalstore.errors import (
    BatchRejected,
    ParameterError,
    SchemaError,
    UnmatchedActualsWarning,
)
from evalstore.ingest.sources import _mixed
from evalstore.schema import Schema
from evalstore.sdk import check_environment, check_name
from evalstore.server.deps import ServerState
from evalstore.store.base import BatchReport

__all__ = [
    "check_actuals",
    "check_inferences",
    "log_actuals",
    "log_inferences",
    "parse_schema",
    "records_to_table",
]


def parse_schema(value: Mapping[str, Any] | str) -> Schema:
    """A Schema from its dict, or from that dict as JSON text (a form field)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise SchemaError(
                f"the schema is not valid JSON ({exc}); send Schema.to_dict() as JSON, e.g. "
                '{"prediction_id": "id", "prediction_score": "score"}.'
            ) from None
    if not isinstance(value, Mapping):
        raise SchemaError(f"a schema must be a mapping of field -> value; got {value!r}.")
    return Schema.from_dict(value)


def check_inferences(params: Mapping[str, Any]) -> tuple[Schema, str, str]:
    """The schema, version and environment of a batch of inferences, checked as Model.log does."""
    schema = parse_schema(params["schema"])
    version = check_name(params["version"], "version")
    return schema, version, check_environment(params["environment"])


def check_actuals(params: Mapping[str, Any]) -> tuple[str, str, str]:
    for key in ("prediction_id", "actual"):
        if not isinstance(params[key], str) or not params[key]:
            raise ParameterError(key, "the name of a column", params[key])
    return params["prediction_id"], params["actual"], check_environment(params["environment"])


def log_inferences(
    state: ServerState, name: str, data: Any, params: Mapping[str, Any]
) -> BatchReport:
    schema, version, environment = check_inferences(params)
    model = state.store.model(name)
    return model.log(data, schema=schema, version=version, environment=environment, progress=False)


def log_actuals(state: ServerState, name: str, data: Any, params: Mapping[str, Any]) -> BatchReport:
    prediction_id, actual, environment = check_actuals(params)
    model = state.store.model(name)
    # the client's mistake, not the server's: its answer says matched 0 (a warning here would
    # reach only the server's log, or fail the request where warnings are errors)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnmatchedActualsWarning)
        return model.log_actuals(
            data,
            prediction_id=prediction_id,
            actual=actual,
            environment=environment,
            progress=False,
        )


def records_to_table(records: list[dict[str, Any]]) -> pa.Table:
    """JSON records (one object per row; a missing key is a missing value) as an Arrow table,
    typed column by column so that a column of mixed types is named in the refusal."""
    names = list(dict.fromkeys(key for record in records for key in record))
    columns = {}
    for name in names:
        values = [record.get(name) for record in records]
        try:
            columns[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise _mixed(name, exc) from None
        except OverflowError:  # an integer beyond 64 bits: JSON has them, Arrow does not
            raise BatchRejected(
                "has an integer too large for 64 bits",
                column=name,
                fix="send it as a float or as text",
            ) from None
    if not columns:
        return pa.table({})
    return pa.table(columns)
