"""The checks every request passes before it reaches a route: the API key, then the body size.

Both are plain ASGI middleware, so they cover every path, unknown routes included, and
answer in the one error shape (``server/errors.py``).
"""

from __future__ import annotations

import hmac
import json

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from evalstore.server.errors import error_body

__all__ = ["PUBLIC_PATHS", "ApiKeyMiddleware", "BodyLimitMiddleware"]

#: The API's own description needs no key: it holds no data, and a browser cannot send one.
PUBLIC_PATHS = ("/docs", "/docs/", "/openapi.json")
PUBLIC_PREFIXES = ("/docs/assets/",)

#: A body announced over the limit is read and dropped up to this many bytes before the 413
#: goes out, so that the client, which sends the whole body before it reads the answer, gets
#: the 413 rather than a broken connection; past it the connection is simply closed.
DRAIN_LIMIT = 256 << 20


async def _send_error(send: Send, status: int, type_: str, message: str, **headers: str) -> None:
    body = json.dumps(error_body(type_, message)).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


class ApiKeyMiddleware:
    """Every request (but the API docs) must carry ``Authorization: Bearer <key>``."""

    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self.app = app
        self.key = api_key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._public(scope["path"]):
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"authorization") or ""
        scheme, _, token = given.partition(" ")
        how = (
            "Send the header 'Authorization: Bearer <key>'; from Python, "
            "es.connect(url, api_key=...) or the environment variable EVALSTORE_API_KEY."
        )
        if scheme.lower() != "bearer" or not token.strip():
            await _send_error(
                send,
                401,
                "Unauthorized",
                f"this server needs an API key. {how}",
                www_authenticate="Bearer",
            )
            return
        # constant time, so that the answer's timing tells nothing about the key
        if not hmac.compare_digest(token.strip().encode(), self.key):
            await _send_error(
                send,
                401,
                "Unauthorized",
                f"the API key is not this server's. {how}",
                www_authenticate="Bearer",
            )
            return
        await self.app(scope, receive, send)

    @staticmethod
    def _public(path: str) -> bool:
        return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


class BodyLimitMiddleware:
    """Refuse request bodies over ``limit`` bytes with 413, announced or streamed."""

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
        announced = _header(scope, b"content-length")
        if announced is not None and announced.isdigit() and int(announced) > self.limit:
            size = int(announced)
            if size <= DRAIN_LIMIT:
                more = True
                while more:
                    message = await receive()
                    more = message.get("type") == "http.request" and message.get("more_body", False)
            await _send_error(send, 413, "PayloadTooLarge", self._message(size), connection="close")
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
