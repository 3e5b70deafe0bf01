"""The HTTP under the remote SDK: sending a request again when it fails on the way, and
turning the server's error answers back into the exceptions they describe."""

from __future__ import annotations

import time
from typing import Any

import httpx

from evalstore import errors
from evalstore.errors import ServerError

__all__ = ["API", "RECONNECT", "RETRY_STATUSES", "send"]

API = "/api/v1"
#: HTTP statuses worth another try: the server is restarting, or a proxy lost it
RETRY_STATUSES = frozenset({502, 503, 504})
#: seconds a request that is safe to repeat keeps being sent while the server cannot be
#: reached: long enough for `evalstore serve` to be restarted
RECONNECT = 60.0
#: the first wait between two tries, doubled each time up to ``LAST_WAIT``
FIRST_WAIT = 0.25
LAST_WAIT = 5.0
#: failures where the server went away (refused, reset, closed): a restart, not a slow answer
_GONE = (httpx.NetworkError, httpx.RemoteProtocolError)
#: evalstore's own errors, rebuilt client-side with their attributes
_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "ParameterError": ("name", "expected", "got"),
    "SchemaError": ("column",),
    "BatchRejected": ("column", "rows", "total", "example", "fix"),
    "ModelNotFound": ("model",),
    "MetricError": ("metric", "stage"),
    "NotFittedError": (),
    "NotSupported": (),
    "StoreLocked": (),
}


def _rebuild(status: int, body: Any, url: str) -> errors.EvalstoreError:
    """The exception the server described, as its own class when it is one of evalstore's."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or "message" not in error:
        text = str(body)[:300]
        return ServerError(
            f"the server at {url} answered HTTP {status} without an evalstore error: {text}",
            status=status,
        )
    type_ = str(error.get("type", ""))
    message = str(error["message"])
    found = error.get("details")
    details: dict[str, Any] = found if isinstance(found, dict) else {}
    if type_ in _ATTRIBUTES:
        cls: type[errors.EvalstoreError] = getattr(errors, type_)
        exc = cls.__new__(cls)
        Exception.__init__(exc, message)  # the server's message, as it was written
        for name in _ATTRIBUTES[type_]:
            setattr(exc, name, details.get(name, "" if name == "fix" else None))
        return exc
    return ServerError(message, status=status, error_type=type_ or None, details=details)


def send(
    http: httpx.Client,
    url: str,
    method: str,
    path: str,
    *,
    retries: int,
    reconnect: float = 0.0,
    stream: bool = False,
    **kwargs: Any,
) -> httpx.Response:
    """Send a request, again on a failure on the way; raise what the server refused. ``url``
    is the server's, as errors name it. ``retries``: tries after the first. ``reconnect``:
    for a request safe to repeat, the seconds it goes on being sent, beyond ``retries``,
    while the server is gone (connection refused or lost, 502/503/504), as during a restart.
    ``stream``: answer before the body is read (read it with ``iter_bytes()``, then close
    the response)."""
    first_failure: float | None = None
    attempt = 0
    while True:
        wait = min(FIRST_WAIT * 2**attempt, LAST_WAIT)
        try:
            if stream:
                response = http.send(http.build_request(method, path, **kwargs), stream=True)
            else:
                response = http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            first_failure = time.monotonic() if first_failure is None else first_failure
            if attempt < retries or (
                isinstance(exc, _GONE) and time.monotonic() + wait - first_failure <= reconnect
            ):
                time.sleep(wait)
                attempt += 1
                continue
            tried = "once" if attempt == 0 else f"{attempt + 1} times over "
            tried += "" if attempt == 0 else f"{time.monotonic() - first_failure:.0f} s"
            raise ServerError(
                f"cannot reach the evalstore server at {url} ({type(exc).__name__}: "
                f"{exc}; tried {tried}). Is it running? "
                "Start it with `evalstore serve`; check the URL.",
                error_type=type(exc).__name__,
            ) from None
        if response.status_code in RETRY_STATUSES:
            first_failure = time.monotonic() if first_failure is None else first_failure
            if attempt < retries or time.monotonic() + wait - first_failure <= reconnect:
                response.close()
                time.sleep(wait)
                attempt += 1
                continue
        if response.status_code >= 400:
            try:
                if stream:
                    response.read()  # an error's body is small: its JSON
                body = response.json()
            except ValueError:
                body = response.text
            finally:
                response.close()
            raise _rebuild(response.status_code, body, url) from None
        return response
