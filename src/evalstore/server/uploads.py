"""Chunked uploads: a batch sent in pieces, written to the store in one transaction at commit.

A client starts an upload (what the batch is: model, schema, version, environment), sends
its chunks by number, then commits. Only the commit writes to the store, as one batch, so
a batch of any size is all-or-nothing; every step can be retried without duplicating rows:

- sending chunk ``n`` again replaces chunk ``n``;
- committing again returns the report of the first commit (kept in ``report.json``,
  written before the commit answers and before the server may stop).

The upload lives on disk, under ``<store home>/uploads/<id>/``, so it survives a restart
of the server: a client that lost the server mid-upload resumes where it was::

    upload.json       what the batch is, written when the upload starts
    000000.arrows     chunk 0 as sent (an Arrow IPC stream), or 000000.parquet
    000000.json       its row count, written once the chunk is whole
    report.json       the BatchReport, once committed (the chunks are deleted then)

Uploads are deleted ``UPLOAD_TTL`` seconds after they started, committed or not.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from evalstore.errors import BatchRejected, ParameterError
from evalstore.ingest.sources import DEFAULT_CHUNK_ROWS
from evalstore.server.errors import ApiError
from evalstore.store.base import BatchReport

__all__ = ["UPLOAD_TTL", "Upload", "UploadArea", "inspect_body", "read_body"]

#: seconds an upload is kept after it started, committed or not
UPLOAD_TTL = 24 * 3600

_ID = re.compile(r"^[0-9a-f]{32}$")
_CHUNK = re.compile(r"^(\d{6})\.json$")
_FORMATS = {"arrow": "arrows", "parquet": "parquet"}


@dataclass(frozen=True)
class Upload:
    """What an upload will write when committed."""

    id: str
    model: str
    kind: str
    """``inferences`` or ``actuals``"""
    params: dict[str, Any]
    """``schema``, ``version``, ``environment`` (inferences) or ``prediction_id``,
    ``actual``, ``environment`` (actuals)"""
    source: str
    """what the client read the data from, for the batch's record"""
    created_at: float


def _write_json(path: Path, data: Any) -> None:
    """Write whole or not at all: a crash leaves the old file or none, never half of one."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


def inspect_body(body: bytes | pa.Buffer) -> tuple[str, int, pa.Schema]:
    """(format, rows, schema) of a Parquet file or an Arrow IPC stream or file held in memory;
    a ParameterError when it is none of them or is cut short."""
    buf = body if isinstance(body, pa.Buffer) else pa.py_buffer(body)
    head = buf[:8].to_pybytes()
    try:
        if head[:4] == b"PAR1":
            meta = pq.read_metadata(pa.BufferReader(buf))
            return "parquet", int(meta.num_rows), meta.schema.to_arrow_schema()
        if head[:6] == b"ARROW1":
            file = pa.ipc.open_file(buf)
            return (
                "arrow",
                sum(file.get_batch(i).num_rows for i in range(file.num_record_batches)),
                file.schema,
            )
        table = pa.ipc.open_stream(buf).read_all()
        return "arrow", table.num_rows, table.schema
    except (pa.ArrowException, OSError) as exc:
        raise ParameterError(
            "body",
            "an Arrow IPC stream or a Parquet file",
            f"{len(buf):,} bytes starting {head!r}",
            f"It cannot be read: {exc}.",
        ) from None


def read_body(
    path: Path, fmt: str | None = None, name: str | None = None
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """The schema and record batches of a Parquet, Arrow IPC (stream or file) or CSV file on
    disk, read lazily; an unreadable file raises ParameterError, also part way through,
    naming the file ``name`` (the name the client gave it; default the file's own)."""
    with open(path, "rb") as f:
        head = f.read(8)
    name = name or path.name

    def fail(exc: Exception) -> ParameterError:
        return ParameterError(
            "file",
            "a Parquet file, an Arrow IPC stream or file, or a CSV file with a header row",
            name,
            f"It cannot be read: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}.",
        )

    try:
        if head[:4] == b"PAR1":
            pf = pq.ParquetFile(path)
            schema = pf.schema_arrow
            batches: Iterator[pa.RecordBatch] = pf.iter_batches(batch_size=DEFAULT_CHUNK_ROWS)
        elif head[:6] == b"ARROW1":
            file = pa.ipc.open_file(pa.memory_map(str(path)))
            schema = file.schema
            batches = (file.get_batch(i) for i in range(file.num_record_batches))
        elif head[:4] == b"\xff\xff\xff\xff":
            stream = pa.ipc.open_stream(pa.memory_map(str(path)))
            schema = stream.schema
            batches = iter(stream)
        elif fmt == "csv":
            import pyarrow.csv as pacsv

            csv = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=16 << 20))
            schema = csv.schema
            batches = iter(csv)
        else:
            raise ParameterError(
                "file",
                "a Parquet file, an Arrow IPC stream or file, or a CSV file named *.csv",
                name,
                "Its first bytes are none of these formats.",
            )
    except (pa.ArrowException, OSError) as exc:
        raise fail(exc) from None

    def checked() -> Iterator[pa.RecordBatch]:
        try:
            yield from batches
        except (pa.ArrowException, OSError) as exc:
            raise fail(exc) from None

    return schema, checked()


class UploadArea:
    """The uploads of one server, on disk. Thread-safe: one lock per upload."""

    def __init__(self, root: Path, ttl: float = UPLOAD_TTL) -> None:
        self.root = root
        self.ttl = ttl
        root.mkdir(parents=True, exist_ok=True)
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, upload_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(upload_id, threading.Lock())

    def _folder(self, upload_id: str) -> Path:
        return self.root / upload_id

    # -- lifecycle ---------------------------------------------------------------------------

    def create(self, model: str, kind: str, params: dict[str, Any], source: str) -> Upload:
        self.purge()
        upload = Upload(uuid.uuid4().hex, model, kind, params, source, time.time())
        folder = self._folder(upload.id)
        folder.mkdir()
        _write_json(folder / "upload.json", asdict(upload))
        return upload

    def get(self, upload_id: str) -> Upload:
        path = self._folder(upload_id) / "upload.json"
        if not _ID.match(upload_id) or not path.is_file():
            raise ApiError(
                404,
                "UploadNotFound",
                f"no upload {upload_id!r} on this server: it was never started, was aborted, "
                f"or expired (uploads are kept {self.ttl / 3600:g} hours). Start a new one with "
                "POST /api/v1/models/{name}/uploads.",
                {"upload_id": upload_id},
            )
        data = json.loads(path.read_text(encoding="utf-8"))
        return Upload(**data)

    def delete(self, upload_id: str) -> None:
        self.get(upload_id)
        with self._lock(upload_id):
            shutil.rmtree(self._folder(upload_id), ignore_errors=True)
        with self._guard:
            self._locks.pop(upload_id, None)

    def purge(self) -> None:
        """Delete the uploads (and stray temporary files) older than ``ttl`` seconds."""
        cutoff = time.time() - self.ttl
        for entry in self.root.iterdir():
            marker = entry / "upload.json"
            try:
                started = (marker if marker.exists() else entry).stat().st_mtime
            except OSError:
                continue
            if started >= cutoff:
                continue
            lock = self._locks.get(entry.name)
            if lock is not None and lock.locked():
                continue
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            with self._guard:
                self._locks.pop(entry.name, None)

    # -- state -------------------------------------------------------------------------------

    def _chunks(self, upload_id: str) -> dict[int, dict[str, Any]]:
        found = {}
        for path in self._folder(upload_id).iterdir():
            match = _CHUNK.match(path.name)
            if match:
                found[int(match.group(1))] = json.loads(path.read_text(encoding="utf-8"))
        return found

    def _report(self, upload_id: str) -> BatchReport | None:
        path = self._folder(upload_id) / "report.json"
        if not path.is_file():
            return None
        return BatchReport(**json.loads(path.read_text(encoding="utf-8")))

    def status(self, upload_id: str) -> dict[str, Any]:
        upload = self.get(upload_id)
        with self._lock(upload_id):
            chunks = self._chunks(upload_id)
            report = self._report(upload_id)
        return {
            "upload_id": upload.id,
            "model": upload.model,
            "kind": upload.kind,
            "chunks": sorted(chunks),
            "rows": sum(c["rows"] for c in chunks.values()),
            "committed": report is not None,
            "report": asdict(report) if report else None,
        }

    # -- chunks and commit -------------------------------------------------------------------

    def put_chunk(self, upload_id: str, number: int, body: bytes) -> dict[str, Any]:
        """Store chunk ``number``, replacing one sent before under that number."""
        self.get(upload_id)
        fmt, rows, _ = inspect_body(body)
        folder = self._folder(upload_id)
        with self._lock(upload_id):
            if self._report(upload_id) is not None:
                raise ApiError(
                    409,
                    "UploadConflict",
                    f"upload {upload_id!r} is committed; its chunks cannot change. Start a new "
                    "upload for another batch.",
                    {"upload_id": upload_id},
                )
            target = folder / f"{number:06d}.{_FORMATS[fmt]}"
            tmp = folder / f".{number:06d}.{uuid.uuid4().hex}.tmp"
            tmp.write_bytes(body)
            for other in _FORMATS.values():
                (folder / f"{number:06d}.{other}").unlink(missing_ok=True)
            os.replace(tmp, target)
            _write_json(folder / f"{number:06d}.json", {"rows": rows, "format": fmt})
        return {"upload_id": upload_id, "chunk": number, "rows": rows, "bytes": len(body)}

    def commit(
        self,
        upload_id: str,
        chunks: int,
        rows: int | None,
        write_lock: threading.Lock,
        write: Callable[[Upload, pa.RecordBatchReader], BatchReport],
    ) -> BatchReport:
        """Write chunks ``0 .. chunks-1`` as one batch; once committed, return the same report."""
        upload = self.get(upload_id)
        folder = self._folder(upload_id)
        with self._lock(upload_id):
            done = self._report(upload_id)
            if done is not None:
                return done
            have = self._chunks(upload_id)
            missing = [n for n in range(chunks) if n not in have]
            extra = sorted(n for n in have if n >= chunks)
            if missing or extra:
                problems = []
                if missing:
                    problems.append(f"chunks {missing[:10]} of 0..{chunks - 1} are missing")
                if extra:
                    problems.append(
                        f"it holds chunks {extra[:10]} beyond the {chunks} the commit names "
                        f"(0..{chunks - 1})"
                    )
                fixes = []
                if missing:
                    fixes.append("send the missing chunks")
                if extra:
                    fixes.append(
                        f"commit with chunks={max(have) + 1} if they belong to the batch, or "
                        "start a new upload without them (a chunk cannot be taken back)"
                    )
                raise ApiError(
                    409,
                    "UploadConflict",
                    f"upload {upload_id!r} cannot commit {chunks} chunks: "
                    + "; ".join(problems)
                    + ". "
                    + " and ".join(fixes).capitalize()
                    + ". Nothing was written.",
                    {"missing": missing[:1000], "extra": extra[:1000]},
                )
            total = sum(have[n]["rows"] for n in range(chunks))
            if rows is not None and rows != total:
                raise ApiError(
                    409,
                    "UploadConflict",
                    f"the chunks of upload {upload_id!r} hold {total:,} rows, not the {rows:,} "
                    "the commit names; send the chunks again. Nothing was written.",
                    {"rows": total},
                )
            paths = [folder / f"{n:06d}.{_FORMATS[have[n]['format']]}" for n in range(chunks)]
            reader = _reader(paths, upload.source)
            with write_lock:
                report = write(upload, reader)
                _write_json(folder / "report.json", asdict(report))
            for path in paths:
                path.unlink(missing_ok=True)
            return report


def _reader(paths: list[Path], source: str) -> pa.RecordBatchReader:
    """The chunks as one stream, read from disk as the store consumes it; a chunk is named
    after what the client read the batch from (``source``)."""

    def named(n: int) -> str:
        return f"chunk {n} of {source}"

    schemas = [read_body(p, name=named(n))[0] for n, p in enumerate(paths)]
    first = schemas[0].remove_metadata()
    for number, schema in enumerate(schemas):
        if not schema.remove_metadata().equals(first):
            theirs = set(schema.names)
            ours = set(first.names)
            diff = sorted(theirs ^ ours) or [
                f.name for f in schema if f.name in ours and first.field(f.name).type != f.type
            ]
            raise BatchRejected(
                f"chunk {number} of the upload has other columns or types than chunk 0 "
                f"(differing: {', '.join(diff[:10])})",
                column=diff[0] if diff else None,
                fix="send every chunk of a batch with the same columns and types",
            )

    def batches() -> Iterator[pa.RecordBatch]:
        for n, path in enumerate(paths):
            yield from read_body(path, name=named(n))[1]

    return pa.RecordBatchReader.from_batches(first, batches())
