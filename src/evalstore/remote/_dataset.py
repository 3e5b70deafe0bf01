"""``RemoteDataset``: a selection of a remote model's rows, read lazily from the server.

The embedded ``Dataset``'s reading methods (``count``, ``to_arrow``, ``to_pandas``,
``to_polars``, ``columns``), each one request to ``/models/{name}/rows``; the rows come as
an Arrow IPC stream, decoded batch by batch as it arrives. Ibis expressions (``table``,
``execute``) cannot travel: the analyses run in the server through the model's methods.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import httpx
import pyarrow as pa

from evalstore._checks import whole_number
from evalstore._frames import polars_frame
from evalstore.errors import NotSupported, ParameterError, ServerError
from evalstore.remote._params import Params, _dataset_args, _dataset_params, _many, _scalar

if TYPE_CHECKING:
    import pandas as pd

    from evalstore.remote._model import RemoteModel
    from evalstore.schema import Task

__all__ = ["RemoteDataset"]

_NO_EXPRESSIONS = (
    "Ibis expressions cannot travel to the server: a remote dataset has no {what}. Run the "
    "analyses in the server with the model's methods (model.performance(), model.drift(), "
    "model.quality(), model.slices(), model.report()), giving them the selection as a dict "
    'of model.dataset() arguments ({{"environment": "production", "where": {{...}}}}); or '
    "read the rows with to_arrow()/to_pandas() and compute locally."
)


class _Body(io.RawIOBase):
    """A response body's chunks as a readable file, for ``pyarrow.ipc.open_stream``."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._rest = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._rest:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._rest = memoryview(chunk)
        n = min(len(buffer), len(self._rest))
        buffer[:n] = self._rest[:n]
        self._rest = self._rest[n:]
        return n


class RemoteDataset:
    """A lazy selection of a remote model's inferences, actuals joined: nothing is fetched
    until rows, their count or their columns are asked for. Get one with
    ``model.dataset(...)`` on a model of ``es.connect("http://...")``::

        ds = model.dataset(environment="production", where={"region": "EU"})
        ds.count(); ds.columns; ds.to_pandas(); ds.to_arrow(columns=["score"], limit=1000)

    A selection the server refuses (an unknown environment, column, a start after the end)
    raises at the first read, with the embedded ``Dataset``'s message.
    """

    def __init__(
        self,
        model: RemoteModel,
        *,
        environment: str | Sequence[str] | None = None,
        version: str | Sequence[str] | None = None,
        start: Any = None,
        end: Any = None,
        where: Mapping[str, Any] | None = None,
    ) -> None:
        self._model = model
        given = {
            "environment": environment,
            "version": version,
            "start": start,
            "end": end,
            "where": where,
        }
        self._args = _dataset_args(given, "selection")
        """the selection as JSON-ready ``model.dataset()`` arguments"""
        self._params: Params = _dataset_params(self._args, "selection")
        self.task: Task = model.task
        self.environments = _listed(self._args.get("environment"))
        self.versions = _listed(self._args.get("version"))
        self.start: Any = start
        self.end: Any = end
        self.where = where

    # -- what the server sends ----------------------------------------------------------------

    def _path(self, tail: str = "") -> str:
        return f"/models/{self._model.name}/rows{tail}"

    @contextmanager
    def _stream(
        self, columns: str | Sequence[str] | None, limit: int | None
    ) -> Iterator[pa.RecordBatchReader]:
        """The server's stream of the selected rows, decoded as it arrives; the request is
        closed on exit, and a stream that breaks off raises ServerError."""
        if limit is not None:
            limit = whole_number("limit", limit, what="a whole number of rows")
        store = self._model._store
        params = self._params + _many("columns", columns) + _scalar("limit", limit)
        response = store._request(
            "GET",
            self._path(),
            params=params,
            stream=True,
            # a large selection takes as long as it takes
            timeout=httpx.Timeout(store.timeout, read=None),
        )
        try:
            body = io.BufferedReader(_Body(response.iter_bytes()), buffer_size=1 << 20)
            with pa.ipc.open_stream(body) as reader:
                yield reader
        except (httpx.HTTPError, pa.ArrowInvalid) as exc:
            raise ServerError(
                f"the rows from the server at {store.url} ended before they were all read "
                f"({type(exc).__name__}: {exc}). Read them again; if it goes on, check the "
                "server's log.",
                error_type=type(exc).__name__,
            ) from None
        finally:
            response.close()

    def _read(self, columns: str | Sequence[str] | None, limit: int | None) -> pa.Table:
        with self._stream(columns, limit) as reader:
            return reader.read_all()

    def to_batches(self, rows: int = 65_536) -> Iterator[pa.RecordBatch]:
        """Every selected row as Arrow record batches of at most ``rows`` rows, decoded as
        they arrive from the server, which reads them as it sends them."""
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
            raise ParameterError("rows", "a number of rows, 1 or more", rows)
        return self._rechunked(rows)

    def _rechunked(self, rows: int) -> Iterator[pa.RecordBatch]:
        with self._stream(None, None) as reader:
            for batch in reader:
                for start in range(0, batch.num_rows, rows):
                    yield batch.slice(start, rows)

    def count(self) -> int:
        """The number of inferences selected."""
        found = self._model._store._request("GET", self._path("/count"), params=self._params)
        return int(found.json()["rows"])

    def to_arrow(
        self, *, columns: str | Sequence[str] | None = None, limit: int | None = None
    ) -> pa.Table:
        """Every selected row as an Arrow table (actuals joined; missing ones are null).
        ``columns``: only these; ``limit``: at most this many rows (which ones is not
        defined)."""
        return self._read(columns, limit)

    def to_pandas(
        self, *, columns: str | Sequence[str] | None = None, limit: int | None = None
    ) -> pd.DataFrame:
        """Every selected row as a pandas DataFrame (``columns`` and ``limit`` as in
        :meth:`to_arrow`)."""
        frame: pd.DataFrame = self._read(columns, limit).to_pandas()
        return frame

    def to_polars(
        self, *, columns: str | Sequence[str] | None = None, limit: int | None = None
    ) -> Any:
        """Every selected row as a polars DataFrame (needs ``pip install polars``)."""
        return polars_frame(lambda: self._read(columns, limit))

    @property
    def columns(self) -> list[str]:
        """The selected rows' columns, from one request that sends no rows."""
        return list(self._read(None, 0).column_names)

    # -- what cannot travel ---------------------------------------------------------------------

    @property
    def table(self) -> NoReturn:
        """Not available through the server: raises ``NotSupported``."""
        raise NotSupported(_NO_EXPRESSIONS.format(what="table (an Ibis expression)"))

    def execute(self, expr: Any) -> NoReturn:
        """Not available through the server: raises ``NotSupported``."""
        raise NotSupported(_NO_EXPRESSIONS.format(what="execute()"))

    def __repr__(self) -> str:
        parts = [
            f"{k}={v!r}"
            for k, v in (
                ("model", self._model.name),
                ("environment", self.environments),
                ("version", self.versions),
                ("start", self.start),
                ("end", self.end),
                ("where", self.where),
            )
            if v is not None
        ]
        return f"RemoteDataset({', '.join(parts)})"


def _listed(value: Any) -> list[str] | None:
    if value is None:
        return None
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]
