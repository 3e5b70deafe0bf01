"""Chunked uploads: a batch read slice by slice, sent as Arrow IPC chunks, then committed.

A chunk or a commit that fails on the way is sent again, and that cannot duplicate a row:
chunk ``n`` sent twice is chunk ``n``, and a commit sent twice answers the first commit's
report.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from queue import Empty, Full, Queue
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import pyarrow as pa

from evalstore import errors
from evalstore._progress import progress_bar
from evalstore.errors import ServerError
from evalstore.ingest.sources import Source
from evalstore.remote._http import RETRY_STATUSES
from evalstore.store.base import BatchReport

if TYPE_CHECKING:
    from evalstore.remote._store import RemoteStore

__all__ = ["ARROW_STREAM", "CHUNK_BYTES", "abort", "upload"]

T = TypeVar("T")

ARROW_STREAM = "application/vnd.apache.arrow.stream"
#: the largest chunk sent, whatever the server would accept: big enough that the request
#: overhead is nothing, small enough that a retry costs little
CHUNK_BYTES = 64 << 20


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()  # type: ignore[no-any-return]


def _pieces(table: pa.Table, limit: int) -> Iterator[pa.Table]:
    """``table`` in slices of at most about ``limit`` bytes each (one row at least)."""
    if table.nbytes <= limit or table.num_rows <= 1:
        yield table
        return
    rows = max(1, int(table.num_rows * limit / table.nbytes))
    for start in range(0, table.num_rows, rows):
        yield table.slice(start, rows)


def _bodies(source: Source, limit: int) -> Iterator[tuple[bytes, int]]:
    """The source as Arrow IPC streams of at most about ``limit`` bytes, with their row counts;
    one empty chunk for a source without rows, so that its columns are still checked."""
    sent = False
    for piece in source.batches:
        table = piece if isinstance(piece, pa.Table) else pa.Table.from_batches([piece])
        for part in _pieces(table, limit):
            sent = True
            yield _ipc(part), part.num_rows
    if not sent:
        yield _ipc(source.schema.empty_table()), 0


def _prefetch(items: Iterator[T]) -> Iterator[T]:
    """``items``, produced one ahead in a thread (reading and encoding overlap sending)."""
    done = object()
    queue: Queue[Any] = Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        queue.put((item, None), timeout=0.1)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            queue.put((done, None))
        except BaseException as exc:  # handed to the consumer, which raises it
            queue.put((done, exc))

    thread = threading.Thread(target=produce, name="evalstore-upload-reader", daemon=True)
    thread.start()
    try:
        while True:
            item, exc = queue.get()
            if exc is not None:
                raise exc
            if item is done:
                return
            yield item
    finally:
        stop.set()
        with contextlib.suppress(Empty):
            queue.get_nowait()  # unblock a producer waiting to put
        thread.join()


def upload(
    store: RemoteStore,
    model: str,
    start: dict[str, Any],
    source: Source,
    progress: bool | None,
    description: str,
) -> BatchReport:
    """Send ``source`` as the chunks of one upload, then commit it: one batch."""
    found = store._request("POST", f"/models/{model}/uploads", json=start).json()
    upload_id = found["upload_id"]
    limit = min(store.chunk_bytes, int(found.get("max_chunk_bytes") or store.chunk_bytes))
    chunks = rows = 0
    try:
        with progress_bar(description, source.rows, progress) as advance:
            # the next chunk is read and encoded while this one is on the wire
            for body, count in _prefetch(_bodies(source, limit)):
                store._request(
                    "PUT",
                    f"/uploads/{upload_id}/chunks/{chunks}",
                    reconnect=store.reconnect,
                    content=body,
                    headers={"Content-Type": ARROW_STREAM},
                )
                chunks += 1
                rows += count
                if advance is not None:
                    advance(count)
    except ServerError as exc:
        abort(store, upload_id)
        if _gone(exc):
            raise _gave_up(
                exc,
                f"Upload {upload_id} stopped at chunk {chunks}: nothing of this batch was written.",
            ) from None
        raise
    except BaseException:
        abort(store, upload_id)
        raise
    try:
        report = store._request(
            "POST",
            f"/uploads/{upload_id}/commit",
            reconnect=store.reconnect,
            json={"chunks": chunks, "rows": rows},
            # writing a large batch takes as long as it takes
            timeout=httpx.Timeout(store.timeout, read=None),
        ).json()
    except errors.EvalstoreError as exc:
        if not isinstance(exc, ServerError):  # refused: nothing was written, drop it
            abort(store, upload_id)
        elif _gone(exc):
            raise _gave_up(
                exc,
                f"The commit of upload {upload_id} got no answer: the batch may or may not "
                f"have been written (GET {store.url}/api/v1/uploads/{upload_id} tells, "
                "once the server answers).",
            ) from None
        raise
    return BatchReport(**report)


def _gone(exc: ServerError) -> bool:
    """Whether the server could not be reached (no answer, or a proxy's for it)."""
    return exc.status is None or exc.status in RETRY_STATUSES


def _gave_up(exc: ServerError, what: str) -> ServerError:
    """``exc`` with what became of the upload and what to do."""
    return ServerError(
        f"{exc} {what} Log the batch again once the server answers: that is safe, a batch "
        "sent again replaces its rows and never duplicates them.",
        status=exc.status,
        error_type=exc.error_type,
        details=exc.details,
    )


def abort(store: RemoteStore, upload_id: str) -> None:
    """Drop an upload and its chunks, if the server can be reached."""
    with contextlib.suppress(httpx.HTTPError):  # else the server drops it when it expires
        store._http.delete(f"/uploads/{upload_id}")
