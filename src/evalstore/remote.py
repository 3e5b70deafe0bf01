"""The SDK over HTTP: ``es.connect("http://host:port")`` talks to an evalstore server.

::

    import evalstore as es

    store = es.connect("http://127.0.0.1:8080", api_key=None)   # `evalstore serve` runs it
    model = store.model("churn", task="binary_classification")
    report = model.log(df, schema=schema, version="v3", environment="production")
    model.log_actuals(labels, prediction_id="id", actual="churned")
    model.info(); model.versions(); model.batches(); store.models(); store.info()

The same calls as the embedded store, returning the same types (``BatchReport``,
``ModelInfo``, ``StoreInfo``), raising the same exceptions with the same messages
(``BatchRejected``, ``ModelNotFound``...); what only HTTP can go wrong with (no server
at the URL, a wrong API key, a body over the server's limit) is a ``ServerError``.

A batch of any size goes as an upload: the data is read as the embedded SDK reads it (a
DataFrame slice by slice, a Parquet file row group by row group), sent as Arrow IPC
chunks, then committed; the server writes it to the store at the commit, in one
transaction. A chunk or a commit that fails on the way is sent again, and that cannot
duplicate a row: chunk ``n`` sent twice is chunk ``n``, and a commit sent twice answers
the first commit's report.

The analyses run in the server, next to the data, and come back as the embedded types::

    model.report("training", {"environment": "production", "start": "2024-06-01"})  # Report
    model.performance("production", ["accuracy"], by="day")     # PerformanceResult
    model.drift("training", "production")                        # DriftResult
    model.drift_over_time("training", "production", by="week")   # DriftOverTime
    model.quality("production", reference="training")            # QualityResult
    model.slices("production", "accuracy", reference="training") # SliceResult
    model.create_baseline("training", environment="training")    # Baseline
    model.baseline("training"); model.baselines()

A selection is a name (a stored baseline's, else an environment's), a dict of
``model.dataset()`` arguments (``where`` a dict of column -> value(s)), or a stored
``Baseline``; a ``Dataset`` object cannot travel, give its selection as a dict. Reading
rows back (``model.dataset()``) is not available through the server: it raises
``NotSupported``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from queue import Empty, Full, Queue
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar
from urllib.parse import quote

import httpx
import pyarrow as pa

from evalstore import errors
from evalstore._progress import progress_bar
from evalstore.errors import NotSupported, ParameterError, ServerError
from evalstore.ingest.sources import Source, open_source
from evalstore.schema import Schema, Task
from evalstore.sdk import ModelInfo, StoreInfo, check_environment, check_name
from evalstore.selection import DATASET_KEYS
from evalstore.store.base import BatchReport

if TYPE_CHECKING:
    from evalstore.analyses.baseline import Baseline
    from evalstore.analyses.drift import DriftOverTime, DriftResult
    from evalstore.analyses.performance import PerformanceResult
    from evalstore.analyses.quality import QualityResult
    from evalstore.analyses.report import Report
    from evalstore.analyses.slices import SliceResult

__all__ = ["RemoteModel", "RemoteStore"]

Params = list[tuple[str, str]]

T = TypeVar("T")

API = "/api/v1"
ARROW_STREAM = "application/vnd.apache.arrow.stream"
#: the largest chunk sent, whatever the server would accept: big enough that the request
#: overhead is nothing, small enough that a retry costs little
CHUNK_BYTES = 64 << 20
#: HTTP statuses worth another try: the server is restarting, or a proxy lost it
RETRY_STATUSES = frozenset({502, 503, 504})
#: evalstore's own errors, rebuilt client-side with their attributes
_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "ParameterError": ("name", "expected", "got"),
    "SchemaError": ("column",),
    "BatchRejected": ("column", "rows", "total", "example", "fix"),
    "ModelNotFound": ("model",),
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


def _parse_time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _model_info(data: Mapping[str, Any]) -> ModelInfo:
    return ModelInfo(
        **{**data, "first": _parse_time(data["first"]), "last": _parse_time(data["last"])}
    )


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


# -- arguments of the analyses, as query parameters ------------------------------------------


def _jsonable(value: Any, name: str) -> Any:
    """``value`` as JSON can carry it: datetimes as ISO 8601, NumPy values as Python ones."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if hasattr(value, "tolist"):  # NumPy arrays and scalars, pandas Series
        return _jsonable(value.tolist(), name)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v, f"{name}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [_jsonable(v, name) for v in items]
    raise ParameterError(name, "text, a number, a date or a list of them", value)


def _no_dataset(name: str) -> NoReturn:
    raise ParameterError(
        name,
        "a dict of the rows' selection when connected to a server",
        "a Dataset object",
        "A Dataset cannot travel to the server: give its selection as a dict of "
        'model.dataset() arguments, e.g. {"environment": "production", "version": "v2", '
        '"start": "2024-06-01", "where": {"region": "EU"}}, or an environment name.',
    )


def _dataset_args(value: Any, name: str) -> dict[str, Any]:
    """A selection of rows (an environment name or a dict of ``model.dataset()`` arguments)
    as JSON-ready arguments."""
    from evalstore.dataset import Dataset

    if isinstance(value, Dataset):
        _no_dataset(name)
    if isinstance(value, str):
        return {"environment": value}
    if not isinstance(value, Mapping):
        raise ParameterError(
            name, "an environment name or a dict of model.dataset() arguments", value
        )
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key not in DATASET_KEYS:
            raise ParameterError(
                name,
                f"a dict with keys among {list(DATASET_KEYS)}",
                key,
                errors.did_you_mean(str(key), DATASET_KEYS).strip(),
            )
        if item is None:
            continue
        if key == "where" and not isinstance(item, Mapping):
            raise ParameterError(
                "where",
                "a dict of column -> value(s) when connected to a server",
                type(item).__name__,
                "Functions and ibis expressions cannot travel to the server; "
                'filter with a dict such as {"region": "EU"}.',
            )
        out[key] = _jsonable(item, key)
    return out


def _dataset_params(value: Any, name: str = "dataset") -> Params:
    """A selection of rows as the query parameters environment, version, start, end, where."""
    if value is None:
        return []
    args = _dataset_args(value, name)
    params: Params = []
    for key in ("environment", "version"):
        if key in args:
            found = args[key]
            params += [(key, str(v)) for v in (found if isinstance(found, list) else [found])]
    params += [(key, str(args[key])) for key in ("start", "end") if key in args]
    if "where" in args:
        params.append(("where", json.dumps(args["where"])))
    return params


def _selection(value: Any, name: str, baselines: bool) -> str:
    """A reference or current selection as the API's selection text."""
    from evalstore.analyses.baseline import Baseline
    from evalstore.dataset import Dataset

    if isinstance(value, Baseline):
        if not baselines:
            raise ParameterError(name, "a dict, or an environment name", "a Baseline")
        if value.version is None:
            raise ParameterError(
                name,
                "a stored baseline (from model.baseline() or model.create_baseline())",
                value.name,
            )
        return f"baseline={value.name}@{value.version}"
    if isinstance(value, str):
        return value
    if isinstance(value, Dataset):
        _no_dataset(name)
    if isinstance(value, Mapping):
        return json.dumps(_dataset_args(value, name))
    raise ParameterError(
        name, "a Baseline, a baseline or environment name, or a dict", type(value).__name__
    )


def _many(name: str, value: str | Sequence[str] | None) -> Params:
    """A repeated query parameter."""
    if value is None:
        return []
    values = [value] if isinstance(value, str) else list(value)
    return [(name, str(v)) for v in values]


def _scalar(name: str, value: Any) -> Params:
    """An optional query parameter: a number, a flag or text."""
    if value is None:
        return []
    if isinstance(value, bool):
        return [(name, "true" if value else "false")]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    return [(name, str(value))]


class RemoteStore:
    """An evalstore server, with the API of the embedded ``Store``: models, logging, baselines
    and the analyses.

    Get one with ``es.connect("http://host:port", api_key=...)``. ``api_key`` defaults to
    ``$EVALSTORE_API_KEY``. Requests that fail on the way (no answer, 502/503/504) are
    sent again up to ``retries`` times, waiting longer each time; every request the SDK
    sends again is safe to repeat (``create_baseline``, which stores a new version each
    time, is sent once).
    """

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        retries: int = 5,
        chunk_bytes: int = CHUNK_BYTES,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ParameterError("url", "an http:// or https:// URL", url)
        self.url = url.rstrip("/")
        key = api_key if api_key is not None else os.environ.get("EVALSTORE_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.retries = retries
        self.timeout = timeout
        self._http = httpx.Client(
            base_url=self.url + API, headers=headers, timeout=timeout, transport=transport
        )
        try:  # fail fast when nothing answers at the URL: one more try only
            health = self._request("GET", "/health", retries=min(retries, 1)).json()
        except BaseException:
            self._http.close()
            raise
        self.server_version: str = health.get("version", "")
        self.max_body_bytes: int = int(health.get("max_body_bytes", chunk_bytes))
        # a chunk's body is its Arrow IPC stream: its buffers plus a few hundred bytes of
        # framing per column, hence the margin below the server's limit
        self.chunk_bytes = max(1, min(chunk_bytes, int(self.max_body_bytes * 0.9) - (64 << 10)))

    # -- HTTP --------------------------------------------------------------------------------

    def _request(
        self, method: str, path: str, *, retries: int | None = None, **kwargs: Any
    ) -> httpx.Response:
        """Send a request, again on a failure on the way; raise what the server refused."""
        retries = self.retries if retries is None else retries
        for attempt in range(retries + 1):
            wait = min(0.25 * 2**attempt, 8.0)
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                if attempt < retries:
                    time.sleep(wait)
                    continue
                raise ServerError(
                    f"cannot reach the evalstore server at {self.url} ({type(exc).__name__}: "
                    f"{exc}). Is it running? Start it with `evalstore serve`; check the URL.",
                    error_type=type(exc).__name__,
                ) from None
            if response.status_code in RETRY_STATUSES and attempt < retries:
                time.sleep(wait)
                continue
            if response.status_code >= 400:
                try:
                    body = response.json()
                except ValueError:
                    body = response.text
                raise _rebuild(response.status_code, body, self.url) from None
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    # -- the Store API -----------------------------------------------------------------------

    def __enter__(self) -> RemoteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RemoteStore({self.url!r})"

    def close(self) -> None:
        """Close the connections to the server (the server and its store keep running)."""
        self._http.close()

    def model(self, name: str, task: Task | str | None = None) -> RemoteModel:
        """Get a model, creating it when ``task`` is given and it does not exist yet."""
        check_name(name, "model name")
        if task is None:
            data = self._request("GET", f"/models/{name}").json()
        else:
            body = {"name": name, "task": Task.parse(task).value}
            data = self._request("POST", "/models", json=body).json()
        return RemoteModel(self, data["name"], Task(data["task"]))

    def models(self) -> list[ModelInfo]:
        """Every model with what the store holds for it, by name."""
        return [_model_info(m) for m in self._request("GET", "/models").json()]

    def info(self) -> StoreInfo:
        """Where the server's store is, its size on disk and what it holds."""
        return StoreInfo(**self._request("GET", "/store").json())

    # -- uploads -----------------------------------------------------------------------------

    def _upload(
        self,
        model: str,
        start: dict[str, Any],
        source: Source,
        progress: bool | None,
        description: str,
    ) -> BatchReport:
        """Send ``source`` as the chunks of one upload, then commit it: one batch."""
        upload = self._request("POST", f"/models/{model}/uploads", json=start).json()
        upload_id = upload["upload_id"]
        limit = min(self.chunk_bytes, int(upload.get("max_chunk_bytes") or self.chunk_bytes))
        chunks = rows = 0
        try:
            with progress_bar(description, source.rows, progress) as advance:
                # the next chunk is read and encoded while this one is on the wire
                for body, count in _prefetch(_bodies(source, limit)):
                    self._request(
                        "PUT",
                        f"/uploads/{upload_id}/chunks/{chunks}",
                        content=body,
                        headers={"Content-Type": ARROW_STREAM},
                    )
                    chunks += 1
                    rows += count
                    if advance is not None:
                        advance(count)
        except BaseException:
            self._abort(upload_id)
            raise
        try:
            report = self._request(
                "POST",
                f"/uploads/{upload_id}/commit",
                json={"chunks": chunks, "rows": rows},
                # writing a large batch takes as long as it takes
                timeout=httpx.Timeout(self.timeout, read=None),
            ).json()
        except errors.EvalstoreError as exc:
            if not isinstance(exc, ServerError):  # refused: nothing was written, drop it
                self._abort(upload_id)
            raise
        return BatchReport(**report)

    def _abort(self, upload_id: str) -> None:
        with contextlib.suppress(httpx.HTTPError):  # else the server drops it when it expires
            self._http.delete(f"/uploads/{upload_id}")


class RemoteModel:
    """A model of an evalstore server. Get it with ``es.connect(url).model(name)``."""

    def __init__(self, store: RemoteStore, name: str, task: Task) -> None:
        self._store = store
        self._name = name
        self._task = task

    @property
    def name(self) -> str:
        return self._name

    @property
    def task(self) -> Task:
        return self._task

    def __repr__(self) -> str:
        return f"RemoteModel(name={self.name!r}, task={self.task.value!r}, url={self._store.url!r})"

    def log(
        self,
        data: Any,
        *,
        schema: Schema,
        version: str,
        environment: str,
        progress: bool | None = None,
    ) -> BatchReport:
        """Log a batch of inferences, all or nothing: as ``Model.log``, through the server."""
        if not isinstance(schema, Schema):
            raise ParameterError(
                "schema",
                "an evalstore.Schema",
                type(schema).__name__,
                "Build one with es.Schema(prediction_id=..., ...).",
            )
        check_name(version, "version")
        environment = check_environment(environment)
        source = open_source(data)
        start = {
            "kind": "inferences",
            "schema": schema.to_dict(),
            "version": version,
            "environment": environment,
            "source": source.name,
        }
        return self._store._upload(
            self.name, start, source, progress, f"logging {self.name} {version}"
        )

    def log_actuals(
        self,
        data: Any,
        *,
        prediction_id: str,
        actual: str,
        environment: str = "production",
        progress: bool | None = None,
    ) -> BatchReport:
        """Log actual outcomes: as ``Model.log_actuals``, through the server."""
        environment = check_environment(environment)
        source = open_source(data)
        start = {
            "kind": "actuals",
            "prediction_id": prediction_id,
            "actual": actual,
            "environment": environment,
            "source": source.name,
        }
        return self._store._upload(self.name, start, source, progress, f"actuals for {self.name}")

    def info(self) -> ModelInfo:
        """Rows per environment, how many have actuals, time range, versions, batches."""
        return _model_info(self._store._request("GET", f"/models/{self.name}").json())

    def versions(self) -> list[str]:
        """Versions with at least one committed batch, oldest first."""
        versions: list[str] = self._store._request("GET", f"/models/{self.name}/versions").json()
        return versions

    def batches(self) -> list[dict[str, Any]]:
        """Every committed batch of this model, oldest first."""
        found = self._store._request("GET", f"/models/{self.name}/batches").json()
        return [{**b, "created_at": _parse_time(b["created_at"])} for b in found]

    def dataset(self, *args: Any, **kwargs: Any) -> NoReturn:
        """Not available through the server yet: raises ``NotSupported``."""
        raise NotSupported(
            "reading a model's rows through the server (model.dataset()) is not available in "
            "this version of evalstore: logging, model info, baselines and the analyses are "
            "(model.report(), model.performance(), model.drift(), ...; give the rows as a dict "
            "of dataset() arguments). To read the rows, stop the server and open the store "
            "directly with es.connect(path), or read them in the server's process."
        )

    # -- analyses: computed by the server, returned as the embedded types -------------------

    def _get(self, path: str, params: Params) -> Any:
        return self._store._request(
            "GET",
            f"/models/{self.name}/{path}",
            params=params,
            # an analysis of a large selection takes as long as it takes
            timeout=httpx.Timeout(self._store.timeout, read=None),
        ).json()

    def performance(
        self,
        dataset: str | Mapping[str, Any] | None = None,
        metrics: str | Sequence[str] | None = None,
        *,
        by: str | Sequence[str] | None = None,
        positive_class: Any = None,
        threshold: float = 0.5,
        confidence: float = 0.95,
    ) -> PerformanceResult:
        """Metrics of the selected rows (all when ``dataset`` is None), overall or per group:
        as ``performance(model.dataset(...), metrics, by=...)``. ``dataset``: an environment
        name or a dict of ``model.dataset()`` arguments."""
        from evalstore.analyses.performance import PerformanceResult

        params = _dataset_params(dataset)
        params += _many("metrics", metrics) + _many("by", by)
        params += _scalar("positive_class", positive_class)
        params += _scalar("threshold", threshold) + _scalar("confidence", confidence)
        return PerformanceResult.from_dict(self._get("performance", params))

    def _drift_params(
        self,
        reference: Any,
        current: Any,
        columns: str | Sequence[str] | None,
        method: str | None,
        alpha: float,
        threshold: float | None,
    ) -> Params:
        if method is not None and not isinstance(method, str):
            raise ParameterError(
                "method", "a drift method's key when connected to a server", method
            )
        params = [
            ("reference", _selection(reference, "reference", baselines=True)),
            ("current", _selection(current, "current", baselines=False)),
        ]
        params += _many("columns", columns) + _scalar("method", method)
        return params + _scalar("alpha", alpha) + _scalar("threshold", threshold)

    def drift(
        self,
        reference: Baseline | str | Mapping[str, Any],
        current: str | Mapping[str, Any],
        columns: str | Sequence[str] | None = None,
        method: str | None = None,
        alpha: float = 0.05,
        *,
        threshold: float | None = None,
    ) -> DriftResult:
        """Drift of every column of ``current`` against ``reference`` (a baseline's frozen bins
        when it is one): as ``drift(reference, current, ...)``. ``columns`` defaults to the
        features and tags."""
        from evalstore.analyses.drift import DriftResult

        params = self._drift_params(reference, current, columns, method, alpha, threshold)
        return DriftResult.from_dict(self._get("drift", params))

    def drift_over_time(
        self,
        reference: Baseline | str | Mapping[str, Any],
        current: str | Mapping[str, Any],
        by: str = "day",
        columns: str | Sequence[str] | None = None,
        method: str | None = None,
        alpha: float = 0.05,
        *,
        threshold: float | None = None,
    ) -> DriftOverTime:
        """Drift of each time window (``by``: hour, day, week, month) of ``current`` against
        ``reference``: as ``drift_over_time(reference, current, by, ...)``."""
        from evalstore.analyses.drift import DriftOverTime

        params = self._drift_params(reference, current, columns, method, alpha, threshold)
        params += _scalar("by", by)
        return DriftOverTime.from_dict(self._get("drift/over-time", params))

    def quality(
        self,
        dataset: str | Mapping[str, Any] | None = None,
        reference: Baseline | str | Mapping[str, Any] | None = None,
        *,
        by: str | None = None,
        columns: str | Sequence[str] | None = None,
        positive_class: Any = None,
        threshold: float = 0.5,
        min_rows: int = 100,
        exact_distinct: bool = False,
    ) -> QualityResult:
        """Data quality of the selected rows, against the expectations of ``reference`` (a
        baseline's stored ones, or learned from those rows; None: only the checks that need
        none): as ``quality(model.dataset(...), learn_expectations(reference), ...)``."""
        from evalstore.analyses.quality import QualityResult

        params = _dataset_params(dataset)
        if reference is not None:
            params.append(("reference", _selection(reference, "reference", baselines=True)))
        params += _scalar("by", by) + _many("columns", columns)
        params += _scalar("positive_class", positive_class) + _scalar("threshold", threshold)
        params += _scalar("min_rows", min_rows) + _scalar("exact_distinct", exact_distinct)
        return QualityResult.from_dict(self._get("quality", params))

    def slices(
        self,
        dataset: str | Mapping[str, Any] | None = None,
        metric: str | None = None,
        *,
        columns: str | Sequence[str] | None = None,
        reference: Baseline | str | Mapping[str, Any] | None = None,
        min_support: int = 30,
        confidence: float = 0.95,
        positive_class: Any = None,
        threshold: float = 0.5,
    ) -> SliceResult:
        """``metric`` on every bin of every column of the selected rows, binned on
        ``reference`` (a baseline's frozen bins, or fitted on those rows; None: on the
        selected rows): as ``slices(model.dataset(...), metric, ...)``."""
        from evalstore.analyses.slices import SliceResult

        params = _dataset_params(dataset) + _scalar("metric", metric)
        params += _many("columns", columns)
        if reference is not None:
            params.append(("reference", _selection(reference, "reference", baselines=True)))
        params += _scalar("min_support", min_support) + _scalar("confidence", confidence)
        params += _scalar("positive_class", positive_class) + _scalar("threshold", threshold)
        return SliceResult.from_dict(self._get("slices", params))

    def report(
        self,
        reference: Baseline | str | Mapping[str, Any],
        current: str | Mapping[str, Any],
        *,
        metrics: Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
        window: str | None = None,
        slice_columns: Sequence[str] | None = None,
        min_support: int = 30,
        progress: bool | None = None,
    ) -> Report:
        """Performance, drift, data quality and the worst slices of ``current`` against
        ``reference``, computed by the server: as ``Model.report``. Each side is a name (a
        stored baseline's, else an environment's) or a dict of ``dataset()`` arguments; the
        reference may be a stored Baseline. ``progress`` is accepted for the embedded
        signature; the server shows none."""
        from evalstore.analyses.report import Report

        params = [
            ("reference", _selection(reference, "reference", baselines=True)),
            ("current", _selection(current, "current", baselines=False)),
        ]
        params += _many("metrics", metrics) + _many("columns", columns)
        params += _scalar("window", window) + _many("slice_columns", slice_columns)
        params += _scalar("min_support", min_support)
        return Report.from_dict(self._get("report", params))

    # -- baselines ---------------------------------------------------------------------------

    def create_baseline(
        self,
        name: str,
        *,
        environment: str | Sequence[str] | None = None,
        version: str | Sequence[str] | None = None,
        start: Any = None,
        end: Any = None,
        where: Mapping[str, Any] | None = None,
        moving_days: int | None = None,
        columns: Sequence[str] | None = None,
    ) -> Baseline:
        """Fit a baseline on the selected rows and store it as the next version of ``name``:
        as ``Model.create_baseline``, fitted by the server."""
        from evalstore.analyses.baseline import Baseline

        check_name(name, "baseline name")
        body = _dataset_args(
            {"environment": environment, "version": version, "start": start, "end": end},
            "selection",
        )
        if where is not None:
            body.update(_dataset_args({"where": where}, "where"))
        body["name"] = name
        body["moving_days"] = _jsonable(moving_days, "moving_days")
        if columns is not None:
            body["columns"] = [columns] if isinstance(columns, str) else list(columns)
        found = self._store._request(
            "POST",
            f"/models/{self.name}/baselines",
            json=body,
            timeout=httpx.Timeout(self._store.timeout, read=None),
            retries=0,  # each fit stores a new version: sent again, it would store two
        ).json()
        return Baseline.from_dict(found)

    def baseline(self, name: str, version: int | None = None) -> Baseline:
        """A stored baseline: the latest version of ``name``, or the one given."""
        from evalstore.analyses.baseline import Baseline

        if not isinstance(name, str) or not name or name.strip(".") == "":
            raise ParameterError("baseline", f"a baseline of model {self.name!r}", name)
        params = _scalar("version", version)
        return Baseline.from_dict(self._get(f"baselines/{quote(name, safe='')}", params))

    def baselines(self) -> list[dict[str, Any]]:
        """Every stored baseline: ``name``, latest ``version``, ``created_at``."""
        found = self._get("baselines", [])
        return [{**b, "created_at": _parse_time(b["created_at"])} for b in found]
