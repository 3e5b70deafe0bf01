"""The checks every request passes before it reaches a route: the API key, then the body's
size and encoding.

Both are plain ASGI middleware, so they cover every path, unknown routes included, and
answer in the one error shape (``server/errors.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from evalstore.server.errors import MAX_HEAD_BYTES, error_body, head_too_large

__all__ = [
    "API_PREFIX",
    "PUBLIC_PATHS",
    "SESSION_COOKIE",
    "ApiKeyMiddleware",
    "BodyLimitMiddleware",
    "safe_next",
    "session_token",
]

#: What needs no key: the API's own description, the login page and what it loads (the UI's
#: stylesheet, script and icon, plotly.js). None of it holds data.
PUBLIC_PATHS = ("/docs", "/docs/", "/openapi.json", "/login", "/logout", "/favicon.ico")
PUBLIC_PREFIXES = ("/docs/assets/", "/static/")
#: the REST API: its clients get 401 in the error shape, never a redirect to the login page
API_PREFIX = "/api/"
#: the cookie ``POST /login`` sets, holding :func:`session_token`
SESSION_COOKIE = "evalstore_session"

#: A body announced over the limit is read and dropped up to this many bytes before the 413
#: goes out, so that the client, which sends the whole body before it reads the answer, gets
#: the 413 rather than a broken connection; past it the connection is simply closed.
DRAIN_LIMIT = 256 << 20


async def _send_error(send: Send, status: int, type_: str, message: str, **headers: str) -> None:
    await _send_body(send, status, error_body(type_, message), **headers)


async def _send_body(send: Send, status: int, error: dict[str, Any], **headers: str) -> None:
    body = json.dumps(error).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _unauthorized(send: Send, message: str) -> None:
    await _send_error(send, 401, "Unauthorized", message, www_authenticate="Bearer")


async def _send_redirect(send: Send, location: str, status: int = 303) -> None:
    raw = [(b"location", location.encode("latin-1")), (b"content-length", b"0")]
    raw.append((b"cache-control", b"no-store"))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": b""})


#: what the session cookie signs; changing it signs every browser out
_SESSION_MESSAGE = b"evalstore web UI session v1"


def session_token(api_key: str) -> str:
    """The session cookie's value: an HMAC-SHA256 of a fixed message under the API key.

    It is valid exactly as long as the key is (a new key signs every browser out), and it
    never holds the key::

        >>> session_token("k") == session_token("k") != session_token("other")
        True
    """
    return hmac.new(api_key.encode(), _SESSION_MESSAGE, hashlib.sha256).hexdigest()


def safe_next(target: str | None) -> str:
    """``target`` when it is a path on this server (one leading ``/``), else ``"/"``: the
    login page never sends a browser to another site.

    >>> safe_next("/models/churn?window=day"), safe_next("//evil.example"), safe_next("http://x")
    ('/models/churn?window=day', '/', '/')
    """
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    # browsers drop tabs and newlines from URLs ('/\t/evil' is '//evil') and read '\' as '/'
    if any(ch < " " or ch in "\\\x7f" for ch in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def _page_request(scope: Scope) -> bool:
    """A browser asking for a page (not the REST API, not a script's fetch of JSON)."""
    accept = _header(scope, b"accept") or ""
    path: str = scope["path"]
    return (
        scope.get("method") == "GET"
        and "text/html" in accept.lower()
        and not (path + "/").startswith(API_PREFIX)
    )


def _login_url(scope: Scope) -> str:
    # the path as the browser sent it, still percent-encoded
    raw = scope.get("raw_path")
    target = bytes(raw).decode("latin-1") if raw else quote(scope["path"])
    query = bytes(scope.get("query_string", b"")).decode("latin-1")
    if query:
        target += "?" + query
    return "/login?" + urlencode({"next": safe_next(target)})


def _cookies(scope: Scope, name: str) -> list[str]:
    """Every value the request's ``Cookie`` headers give ``name``."""
    found = []
    for key, value in scope.get("headers", ()):
        if key.lower() != b"cookie":
            continue
        for pair in bytes(value).decode("latin-1").split(";"):
            key_, sep, val = pair.strip().partition("=")
            if sep and key_ == name:
                found.append(val.strip().strip('"'))
    return found


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


class ApiKeyMiddleware:
    """Every request (but the API docs, the login page and the UI's static files) must carry
    ``Authorization: Bearer <key>`` or the session cookie that ``POST /login`` sets.

    A browser asking for a page without either is sent to ``/login?next=<page>``; any other
    request gets 401 in the one error shape.
    """

    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self.app = app
        self.key = api_key.encode()
        self.session = session_token(api_key).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._public(scope["path"]):
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"authorization")
        how = (
            "Send the header 'Authorization: Bearer <key>'; from Python, "
            "es.connect(url, api_key=...) or the environment variable EVALSTORE_API_KEY; "
            "in a browser, sign in at /login."
        )
        if given is None:
            if self._signed_in(scope):
                await self.app(scope, receive, send)
            elif _page_request(scope):
                await _send_redirect(send, _login_url(scope))
            else:
                await _unauthorized(send, f"this server needs an API key. {how}")
            return
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            await _unauthorized(send, f"this server needs an API key. {how}")
            return
        # constant time, so that the answer's timing tells nothing about the key
        if not hmac.compare_digest(token.strip().encode(), self.key):
            await _unauthorized(send, f"the API key is not this server's. {how}")
            return
        await self.app(scope, receive, send)

    def _signed_in(self, scope: Scope) -> bool:
        # every candidate is compared, in constant time: a browser may send the name twice
        ok = False
        for value in _cookies(scope, SESSION_COOKIE):
            ok |= hmac.compare_digest(value.encode("latin-1"), self.session)
        return ok

    @staticmethod
    def _public(path: str) -> bool:
        return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


async def _drain(receive: Receive, size: int | None) -> None:
    """Read and drop a body the server refuses, up to ``DRAIN_LIMIT`` bytes, so that the
    client, which sends the whole body before it reads the answer, gets the answer rather
    than a broken connection."""
    if size is not None and size > DRAIN_LIMIT:
        return
    seen, more = 0, True
    while more and seen <= DRAIN_LIMIT:
        message = await receive()
        seen += len(message.get("body", b""))
        more = message.get("type") == "http.request" and message.get("more_body", False)


class BodyLimitMiddleware:
    """Refuse request bodies over ``limit`` bytes with 413, announced or streamed, compressed
    bodies (a ``Content-Encoding`` other than ``identity``) with 415, and heads over
    ``MAX_HEAD_BYTES`` with the HTTP parser's 400 (which refuses only a head still arriving
    past the limit, not a whole one read at once)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    def _message(self, size: int | None) -> str:
        got = f" ({size:,} bytes)" if size is not None else ""
        return (
            f"the request body{got} is over this server's limit of {self.limit:,} bytes. Send "
            "large batches in chunks (the Python SDK does: es.connect(url).model(...).log(...)), "
            "or start the server with a larger --max-body-size."
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        head = len(scope["method"]) + len(scope.get("raw_path") or b"") + len(scope["query_string"])
        head += sum(len(k) + len(v) + 4 for k, v in scope["headers"])
        if head > MAX_HEAD_BYTES:
            await _send_body(send, 400, head_too_large(), connection="close")
            return
        announced = _header(scope, b"content-length")
        size = int(announced) if announced is not None and announced.isdigit() else None
        if size is not None and size > self.limit:
            await _drain(receive, size)
            await _send_error(send, 413, "PayloadTooLarge", self._message(size), connection="close")
            return
        encoding = _header(scope, b"content-encoding")
        codings = [c.strip().lower() for c in (encoding or "").split(",")]
        if any(c not in ("", "identity") for c in codings):
            # else the route reads the compressed bytes as JSON, Arrow or a form, and fails
            # on them with a message that says nothing of the compression
            await _drain(receive, size)
            await _send_error(
                send,
                415,
                "UnsupportedMediaType",
                f"the request body is compressed (Content-Encoding: {encoding}); this server "
                "does not accept compressed bodies. Send the body uncompressed, without a "
                "Content-Encoding header (large batches go in chunks: the Python SDK sends them).",
                connection="close",
            )
            return
        seen = 0
        limit = self.limit

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # the route reading the body stops here; the handler answers in the shape
                    raise StarletteHTTPException(413, self._message(None))
            return message

        await self.app(scope, limited, send)
