"""The HTTP/1.1 protocol the server runs: uvicorn's h11 one, whose answer to a request that
is not HTTP/1.1 (or whose head is over h11's 16 KiB) is the one error shape of every other
4xx, in JSON, instead of uvicorn's plain text."""

from __future__ import annotations

import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from evalstore.server.errors import MAX_HEAD_BYTES, head_too_large

__all__ = ["MAX_HEAD_BYTES", "JsonErrorH11Protocol"]


class JsonErrorH11Protocol(H11Protocol):
    def send_400_response(self, msg: str) -> None:
        body = json.dumps(head_too_large()).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event))
        self.transport.close()
