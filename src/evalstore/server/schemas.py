"""The JSON bodies of the REST API, as pydantic models (they make the OpenAPI page at /docs)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from evalstore._checks import MAX_INT64

__all__ = [
    "MAX_CHUNKS",
    "ActualsIn",
    "ActualsUploadIn",
    "BaselineCreateIn",
    "BaselineOut",
    "BaselineSummaryOut",
    "BatchOut",
    "BatchReportOut",
    "ChunkOut",
    "CommitIn",
    "DriftOut",
    "DriftOverTimeOut",
    "ErrorOut",
    "HealthOut",
    "InferencesIn",
    "InferencesUploadIn",
    "ModelCreateIn",
    "ModelInfoOut",
    "PerformanceOut",
    "QualityOut",
    "ReportOut",
    "SlicesOut",
    "StoreInfoOut",
    "UploadOut",
    "error_responses",
]

SCHEMA_DOC = (
    "The schema, as Schema.to_dict() gives it (the same keys as a schema file): which "
    "columns hold the prediction id, timestamp, features, predictions, actuals..."
)


class ErrorDetail(BaseModel):
    type: str = Field(description="The evalstore exception's class name, or an HTTP error type.")
    message: str = Field(description="What went wrong and what to do.")
    details: dict[str, Any] = Field(
        description="The exception's attributes, e.g. column, rows, total, example, fix."
    )


class ErrorOut(BaseModel):
    """The body of every 4xx and 5xx answer."""

    error: ErrorDetail


class HealthOut(BaseModel):
    status: Literal["ok"]
    version: str = Field(description="evalstore's version on the server.")
    max_body_bytes: int = Field(description="The largest request body the server accepts.")


class StoreInfoOut(BaseModel):
    home: str
    data_file: str
    metadata_url: str = Field(description="With any password masked.")
    size_bytes: int
    models: int
    rows: int
    batches: int


class ModelInfoOut(BaseModel):
    name: str
    task: str
    versions: list[str]
    rows: dict[str, int] = Field(description="Inferences per environment.")
    with_actuals: dict[str, int] = Field(description="Inferences whose actual is known.")
    first: datetime | None
    last: datetime | None
    ranges: dict[str, list[datetime | None]] = Field(
        default_factory=dict, description="Per environment, its first and last timestamps."
    )
    batches: int


class ModelCreateIn(BaseModel):
    name: str
    task: str = Field(description="binary_classification, multiclass_classification or regression.")


class BatchOut(BaseModel):
    batch_id: int
    model_id: int
    kind: str = Field(description="inferences or actuals")
    version: str | None
    environment: str
    rows: int
    replaced: int
    actuals: int
    source: str | None
    created_at: datetime


class BatchReportOut(BaseModel):
    """What one batch wrote."""

    batch_id: int
    rows: int
    replaced: int = Field(
        description="Inferences: earlier rows with the same (version, environment, "
        "prediction_id) replaced. Actuals: ids that had an actual already in that environment "
        "(corrected, or re-sent: counted whether or not the value changed)."
    )
    actuals: int
    seconds: float
    matched: int | None = Field(
        None,
        description="For actuals: the logged predictions (rows, of every version) they were "
        "joined to; 0 when none is logged yet in that environment (the actuals are kept and "
        "join predictions logged later). Null for inferences.",
    )
    elsewhere: dict[str, int] | None = Field(
        None,
        description="For actuals that joined no prediction: the other environments holding "
        "predictions with their ids, and how many (most first): most likely the environment "
        "they were meant for. Null otherwise.",
    )


class _Inferences(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    schema_: dict[str, Any] = Field(alias="schema", description=SCHEMA_DOC)
    version: str
    environment: str = Field(description="training, validation or production.")


class _Actuals(BaseModel):
    prediction_id: str = Field(description="The column with the prediction id.")
    actual: str = Field(description="The column with the true class or value.")
    environment: str = "production"


class InferencesIn(_Inferences):
    """A batch of inferences as JSON records (one object per row)."""

    records: list[dict[str, Any]]


class ActualsIn(_Actuals):
    """A batch of actuals as JSON records (one object per row)."""

    records: list[dict[str, Any]]


class InferencesUploadIn(_Inferences):
    kind: Literal["inferences"]
    source: str = Field("upload", description="What the data was read from, for the record.")


class ActualsUploadIn(_Actuals):
    kind: Literal["actuals"]
    source: str = Field("upload", description="What the data was read from, for the record.")


class UploadOut(BaseModel):
    upload_id: str
    model: str
    kind: str
    chunks: list[int] = Field(description="The numbers of the chunks received.")
    rows: int = Field(description="Rows in the chunks received.")
    committed: bool
    report: BatchReportOut | None
    max_chunk_bytes: int | None = Field(None, description="The largest chunk the server accepts.")


class ChunkOut(BaseModel):
    upload_id: str
    chunk: int
    rows: int
    bytes: int


#: the most chunks an upload has (numbered 0 .. MAX_CHUNKS-1): a commit names no more, so that
#: an absurd count is refused rather than checked chunk by chunk
MAX_CHUNKS = 1_000_000


class CommitIn(BaseModel):
    chunks: int = Field(
        ge=1, le=MAX_CHUNKS, description="How many chunks the batch has: 0 .. chunks-1."
    )
    rows: int | None = Field(
        None,
        ge=0,
        le=MAX_INT64,
        description="The batch's rows, checked against the chunks' if given.",
    )


# -- analyses: what each Result's to_dict() holds (the answers are those dicts as they are) ---


class PerformanceOut(BaseModel):
    """``PerformanceResult.to_dict()``: one row per (group, metric)."""

    task: str
    metrics: list[str]
    by: list[str] = Field(description="The group keys: time windows or columns.")
    positive_class: Any
    threshold: float | None
    confidence: float
    rows: list[dict[str, Any]] = Field(
        description="Each {<group key>: value, ..., metric, value, ci_low, ci_high, n, "
        "n_without_actual, detail}."
    )


class DriftOut(BaseModel):
    """``DriftResult.to_dict()``: drift per column, ranked, drifted ones first."""

    drifted: bool
    n_drifted: int
    n_columns: int
    share: float
    alpha: float = Field(description="The false discovery rate held across columns.")
    correction: str
    n_reference: int
    n_current: int
    columns: list[dict[str, Any]] = Field(
        description="Each {column, kind, method, value, threshold, p_value, p_adjusted, "
        "drifted, n_reference, n_current, weight, details, bins}."
    )


class DriftOverTimeOut(BaseModel):
    """``DriftOverTime.to_dict()``: a drift result per time window, oldest first."""

    by: str
    windows: list[dict[str, Any]] = Field(
        description="Each {start, drifted, n_drifted, ..., columns} as the drift endpoint's."
    )


class QualityOut(BaseModel):
    """``QualityResult.to_dict()``: the data-quality checks, overall or per window."""

    ok: bool = Field(description="No issue of severity error.")
    by: str | None
    task: str | None
    n_errors: int
    n_warnings: int
    issues: list[dict[str, Any]]
    columns: list[dict[str, Any]]
    windows: list[dict[str, Any]]
    notes: list[str]
    queries: int


class SlicesOut(BaseModel):
    """``SliceResult.to_dict()``: a metric on every bin of every column."""

    task: str
    metric: str
    higher_is_better: bool | None
    confidence: float
    min_support: int
    positive_class: Any
    threshold: float | None
    columns: list[str]
    overall: dict[str, Any]
    rows: list[dict[str, Any]] = Field(
        description="Each {column, bin, kind, value, ci_low, ci_high, n, n_without_actual, "
        "share, significant, error_bound}; error_bound: the most the score bins can move a "
        "binned roc_auc or pr_auc (null for other metrics)."
    )
    binnings: dict[str, Any] = Field(description="The bins used, per column.")


class ReportOut(BaseModel):
    """``Report.to_dict()``: performance, drift, data quality and slices in one result."""

    format: int
    model: str
    task: str
    created_at: str
    reference: dict[str, Any]
    current: dict[str, Any]
    primary_metric: str
    window: str
    summary: list[dict[str, str]] = Field(description="The headlines, alerts first.")
    performance: dict[str, Any]
    drift: dict[str, Any]
    prediction_drift: dict[str, Any] | None
    quality: dict[str, Any]
    slices: dict[str, Any]
    timings: dict[str, float]


class BaselineSummaryOut(BaseModel):
    name: str
    version: int = Field(description="The latest version.")
    created_at: datetime


class BaselineOut(BaseModel):
    """``Baseline.to_dict()``: what was selected, when it was fitted, and every artifact."""

    format: int
    name: str
    version: int | None
    created_at: str | None
    selector: dict[str, Any]
    moving_days: int | None
    columns: list[str] | None
    n_rows: int | None
    binnings: dict[str, Any]
    expectations: dict[str, Any] | None
    performance: dict[str, Any] | None


class BaselineCreateIn(BaseModel):
    """``Model.create_baseline``'s arguments."""

    name: str = Field(description="1-200 letters, digits, '.', '_' or '-'.")
    environment: str | list[str] | None = None
    version: str | list[str] | None = None
    start: str | None = Field(None, description="ISO 8601, inclusive.")
    end: str | None = Field(None, description="ISO 8601, exclusive.")
    where: dict[str, Any] | None = Field(
        None, description='A filter: {"column": value} or {"column": [values]}.'
    )
    moving_days: int | None = Field(
        None, description="A moving baseline: the N days before each current dataset."
    )
    columns: list[str] | None = Field(
        None, description="The columns to fit (default: features, tags, predictions, actuals)."
    )
    positive_class: str | int | bool | None = Field(
        None,
        description="Binary models: the label counted as positive, as the labels are typed "
        '("yes", 1, true); text labels need it. Stored with the baseline; reports against '
        "it use it.",
    )


_ERROR_TEXT = {
    400: "Refused by evalstore: ParameterError, SchemaError or BatchRejected.",
    401: "No API key, or not this server's (servers bound beyond loopback).",
    404: "ModelNotFound, UploadNotFound, or no such endpoint.",
    409: "UploadConflict: the upload is committed, or incomplete.",
    413: "PayloadTooLarge: the body is over the server's --max-body-size.",
    422: "RequestValidationError: the request does not match this API.",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error answers of a route, all of the one shape."""
    return {s: {"model": ErrorOut, "description": _ERROR_TEXT[s]} for s in (*statuses, 422)}
