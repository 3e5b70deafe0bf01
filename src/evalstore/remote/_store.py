"""``RemoteStore``: an evalstore server, with the API of the embedded ``Store``."""

from __future__ import annotations

import os
from typing import Any

import httpx

from evalstore._keys import check_key
from evalstore.errors import ParameterError
from evalstore.ingest.sources import Source
from evalstore.remote._http import API, RECONNECT, send
from evalstore.remote._model import RemoteModel
from evalstore.remote._params import _model_info
from evalstore.remote._upload import CHUNK_BYTES, upload
from evalstore.schema import Task
from evalstore.sdk import ModelInfo, StoreInfo, check_name
from evalstore.store.base import BatchReport

__all__ = ["RemoteStore"]


class RemoteStore:
    """An evalstore server, with the API of the embedded ``Store``: models, logging, baselines
    and the analyses.

    Get one with ``es.connect("http://host:port", api_key=...)``. ``api_key`` defaults to
    ``$EVALSTORE_API_KEY``. Requests that fail on the way (no answer, 502/503/504) are
    sent again up to ``retries`` times, waiting longer each time; every request the SDK
    sends again is safe to repeat (``create_baseline``, which stores a new version each
    time, is sent once). The chunks and the commit of an upload (``model.log``,
    ``model.log_actuals``) go on being sent for up to ``reconnect`` seconds while the
    server cannot be reached, so that a batch being sent outlives a restart of the server.
    """

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        retries: int = 5,
        reconnect: float = RECONNECT,
        chunk_bytes: int = CHUNK_BYTES,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ParameterError("url", "an http:// or https:// URL", url)
        self.url = url.rstrip("/")
        if api_key is not None:
            key: str | None = check_key(api_key, "api_key")
        else:
            key = os.environ.get("EVALSTORE_API_KEY")
            key = check_key(key, "EVALSTORE_API_KEY (the default api_key)") if key else None
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        if isinstance(reconnect, bool) or not isinstance(reconnect, int | float) or reconnect < 0:
            raise ParameterError("reconnect", "a number of seconds, 0 or more", reconnect)
        self.retries = retries
        self.reconnect = float(reconnect)
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
        self,
        method: str,
        path: str,
        *,
        retries: int | None = None,
        reconnect: float = 0.0,
        stream: bool = False,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send a request, again on a failure on the way; raise what the server refused.
        ``reconnect``: seconds to go on sending it while the server is gone, for a request
        safe to repeat. ``stream``: answer before the body is read (the caller closes the
        response)."""
        retries = self.retries if retries is None else retries
        return send(
            self._http,
            self.url,
            method,
            path,
            retries=retries,
            reconnect=reconnect,
            stream=stream,
            **kwargs,
        )

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

    def keep_profiles(self, keep: bool = True) -> None:
        """As ``Store.keep_profiles``, where the profiles live in the server: it keeps each
        hour's histograms for all of its clients (``evalstore serve`` asks its store for
        them), so ``keep=True`` asks for what it does already. One client cannot stop them
        for the others: ``keep=False`` is refused."""
        if not isinstance(keep, bool):
            raise ParameterError("keep", "True or False", keep)
        if not keep:
            raise ParameterError(
                "keep",
                "True: the server keeps profiles for all of its clients",
                keep,
                "Read from the rows with an embedded store (es.connect(folder)) instead.",
            )

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
        return upload(self, model, start, source, progress, description)
