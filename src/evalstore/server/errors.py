"""One JSON error shape for every 4xx and 5xx answer, and the map from evalstore's errors to
HTTP statuses.

Every error the server sends has this body, whatever raised it (evalstore, FastAPI's request
validation, an unknown route, the API key or size checks, a bug)::

    {"error": {"type": "BatchRejected", "message": "column 'score': ...", "details": {...}}}

``type`` is the evalstore exception's class name, or one of the HTTP-only types below;
``details`` holds the exception's attributes (``column``, ``rows``, ``example``... for
``BatchRejected``), so that the Python client raises the same exception with the same
message and attributes.

======================  ======  ==================================================
type                    status  when
======================  ======  ==================================================
ParameterError          400     an argument has the wrong value
SchemaError             400     the schema is invalid or does not fit the data
BatchRejected           400     the batch failed validation; nothing was written
NotFittedError          409     an analysis was computed before it was fitted
ModelNotFound           404     no model of that name
MetricError             500     a registered (custom) metric failed while computed
NotSupported            501     not available through the server (yet)
StoreLocked             503     the store file is held by another process
RequestValidationError  422     the request does not match the API (see /docs)
BadRequest              400     not HTTP/1.1, a head over 16 KiB, a body that cannot be parsed
Unauthorized            401     missing or wrong API key
NotFound                404     no such endpoint
UploadNotFound          404     no upload with that id (or it expired)
MethodNotAllowed        405     the endpoint exists, not with that method
UploadConflict          409     the upload is committed, or incomplete
PayloadTooLarge         413     the request body is over the server's limit
UnsupportedMediaType    415     a compressed body (Content-Encoding other than identity)
InternalError           500     a bug: the server log has the traceback
======================  ======  ==================================================
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from evalstore import errors

__all__ = ["STATUS", "ApiError", "error_body", "error_response", "install_handlers"]

log = logging.getLogger("evalstore.server")

#: HTTP status per evalstore error class (the nearest class in the MRO wins)
STATUS: dict[type[errors.EvalstoreError], int] = {
    errors.ParameterError: 400,
    errors.SchemaError: 400,
    errors.BatchRejected: 400,
    errors.NotFittedError: 409,
    errors.ModelNotFound: 404,
    errors.MetricError: 500,
    errors.NotSupported: 501,
    errors.StoreLocked: 503,
    errors.EvalstoreError: 400,
}

#: the attributes of each evalstore error that travel in ``details``
ATTRIBUTES: dict[type[errors.EvalstoreError], tuple[str, ...]] = {
    errors.ParameterError: ("name", "expected", "got"),
    errors.SchemaError: ("column",),
    errors.BatchRejected: ("column", "rows", "total", "example", "fix"),
    errors.ModelNotFound: ("model",),
    errors.MetricError: ("metric", "stage"),
}

#: the type of each HTTP-only error, by status
_HTTP_TYPES = {
    400: "BadRequest",
    401: "Unauthorized",
    404: "NotFound",
    405: "MethodNotAllowed",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    422: "RequestValidationError",
    500: "InternalError",
}


class ApiError(Exception):
    """An HTTP error that is not one of evalstore's own: an unknown upload, a wrong API key."""

    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.type = type_
        self.message = message
        self.details = details or {}
        self.headers = headers
        super().__init__(message)


def _plain(value: object) -> object:
    """A JSON-safe stand-in for an attribute value."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # JSON has no NaN or infinity: 'nan', 'inf'
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    shown = errors.iso(value)  # a datetime as ISO text, as in the message
    return shown if isinstance(shown, str) else repr(value)


def status_of(exc: errors.EvalstoreError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def details_of(exc: errors.EvalstoreError) -> dict[str, Any]:
    for cls in type(exc).__mro__:
        if cls in ATTRIBUTES:
            return {name: _plain(getattr(exc, name, None)) for name in ATTRIBUTES[cls]}
    return {}


def error_body(type_: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"type": type_, "message": message, "details": details or {}}}


#: the limit on a request's head (request line and headers): h11's, which the HTTP parser
#: enforces on a head still arriving, and the server on a whole one (``middleware.py``)
MAX_HEAD_BYTES = 16 * 1024


def head_too_large() -> dict[str, Any]:
    """The error body of a request the server cannot read as HTTP/1.1 or whose head is too
    large (the parser cannot tell the two apart)."""
    return error_body(
        "BadRequest",
        "The request is not valid HTTP/1.1, or its head (request line and headers) is over "
        f"{MAX_HEAD_BYTES // 1024} KiB. Send a valid request with a smaller head; large values "
        "belong in the body.",
        {"max_head_bytes": MAX_HEAD_BYTES},
    )


def error_response(
    status: int,
    type_: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(error_body(type_, message, details), status_code=status, headers=headers)


def _location(loc: Any) -> str:
    parts = [str(p) for p in loc]
    return ".".join(parts) if parts else "request"


def _browsing(request: Request) -> bool:
    """A browser asking for a page (not the API, nor a file of the UI's)."""
    path = request.url.path
    return (
        request.method == "GET"
        and "text/html" in request.headers.get("accept", "")
        and not path.startswith(("/api/", "/static/"))
    )


def _page_not_found(request: Request) -> Response:
    """A readable page, as the UI's other errors are, rather than the API's JSON."""
    from evalstore.ui.rendering import error_page  # the UI builds on this module's app

    message = (
        f"There is no page {request.url.path}. Every model's pages start from the list of models."
    )
    return error_page(request, time.perf_counter(), 404, "Not found", "NotFound", message)


def install_handlers(app: FastAPI) -> None:
    """Route every exception to the one error shape."""

    @app.exception_handler(errors.EvalstoreError)
    async def _evalstore(request: Request, exc: errors.EvalstoreError) -> JSONResponse:
        return error_response(status_of(exc), type(exc).__name__, str(exc), details_of(exc))

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.type, exc.message, exc.details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        # 'input' may be a whole batch of records and 'ctx' may hold exceptions: leave both out
        found = [
            {
                "loc": [str(p) for p in e.get("loc", ())],
                "message": e.get("msg", ""),
                "type": e.get("type", ""),
            }
            for e in exc.errors()
        ]
        text = "; ".join(f"{_location(e['loc'])}: {e['message']}" for e in found[:5])
        if len(found) > 5:
            text += f"; and {len(found) - 5} more"
        message = f"the request does not match the API: {text}. The API is described at /docs."
        return error_response(422, "RequestValidationError", message, {"errors": found})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        status = exc.status_code
        if status == 404 and _browsing(request):
            return _page_not_found(request)
        # every type is one api.md documents: an unexpected status is a bad request or a bug
        type_ = _HTTP_TYPES.get(status) or ("BadRequest" if status < 500 else "InternalError")
        if status == 404:
            message = (
                f"no endpoint {request.method} {request.url.path}. The API is described at /docs."
            )
        elif status == 405:
            allowed = {k.lower(): v for k, v in (exc.headers or {}).items()}.get("allow", "")
            message = f"{request.method} is not allowed on {request.url.path}; allowed: {allowed}."
        elif status == 400:  # starlette's: a form or multipart body it cannot parse
            message = (
                f"{str(exc.detail).rstrip('.')}: the request body cannot be read as this "
                "endpoint expects it. The API is described at /docs."
            )
        else:
            message = str(exc.detail)
        return error_response(status, type_, message, headers=dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return error_response(
            500,
            "InternalError",
            f"the server failed on this request ({type(exc).__name__}); its log has the details.",
        )
