"""The SDK over HTTP (``es.connect("http://...")``) against a real server: the same API, types
and errors as the embedded store, the same rows stored, and retries that never duplicate."""

from __future__ import annotations

import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pyarrow as pa
import pytest

import evalstore as es
from conftest import (
    BINARY_SCHEMA,
    MULTICLASS_SCHEMA,
    REGRESSION_SCHEMA,
    binary_frame,
    frame_equal,
    multiclass_frame,
    regression_frame,
)
from evalstore.remote import RemoteModel, RemoteStore
from server_harness import Server, shared_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Server:
    return shared_server(tmp_path_factory)


def _cases() -> list[tuple[str, str, pd.DataFrame, es.Schema]]:
    return [
        ("bin", "binary_classification", binary_frame(30_000), BINARY_SCHEMA),
        ("multi", "multiclass_classification", multiclass_frame(3_000), MULTICLASS_SCHEMA),
        ("reg", "regression", regression_frame(2_000), REGRESSION_SCHEMA),
    ]


def _log_everything(store: Any, parquet: Path) -> list[es.BatchReport]:
    """The same calls on an embedded or a remote store."""
    reports = []
    for name, task, df, schema in _cases():
        model = store.model(name, task=task)
        reports.append(model.log(df, schema=schema, version="v1", environment="training"))
        # a second version from a Parquet file, without actuals, replacing nothing
        reports.append(
            model.log(
                df.drop(columns=[c for c in ("label", "truth", "y") if c in df]),
                schema=es.Schema(
                    **{**schema.to_dict(), "actual_label": None, "actual_score": None}
                ),
                version="v2",
                environment="production",
            )
        )
    late = pd.DataFrame({"pid": binary_frame(30_000)["id"][::3], "outcome": 1})
    reports.append(store.model("bin").log_actuals(late, prediction_id="pid", actual="outcome"))
    reports.append(
        store.model("bin").log(
            parquet, schema=BINARY_SCHEMA, version="v3", environment="validation"
        )
    )
    return reports


def test_remote_logging_stores_what_embedded_logging_stores(tmp_path: Path) -> None:
    parquet = tmp_path / "preds.parquet"
    binary_frame(5_000, start=100_000).to_parquet(parquet)
    with es.connect(tmp_path / "embedded") as local:
        expected = _log_everything(local, parquet)
    served = Server(tmp_path / "served", "--max-body-size", "1MB").start()
    try:
        with es.connect(served.url) as remote:
            got = _log_everything(remote, parquet)
            infos = remote.models()
    finally:
        assert served.stop() in (0, -15)
    strip = [(r.rows, r.replaced, r.actuals) for r in got]
    assert strip == [(r.rows, r.replaced, r.actuals) for r in expected]
    with (
        es.connect(tmp_path / "embedded") as local,
        es.connect(tmp_path / "served") as server_store,
    ):
        assert server_store.models() == local.models() == infos
        for name, _, df, schema in _cases():
            ours = server_store.model(name).dataset(version="v1").to_pandas()
            frame_equal(ours, df, schema)
            theirs = local.model(name).dataset().to_pandas()
            ours = server_store.model(name).dataset().to_pandas()
            keys = ["version", "environment", "prediction_id"]
            pd.testing.assert_frame_equal(
                ours.drop(columns="batch_id").sort_values(keys).reset_index(drop=True),
                theirs.drop(columns="batch_id").sort_values(keys).reset_index(drop=True),
            )


def test_same_api_types_and_errors_as_embedded(server: Server, store: es.Store) -> None:
    with es.connect(server.url) as remote:
        assert isinstance(remote, RemoteStore) and repr(remote) == f"RemoteStore({server.url!r})"
        model = remote.model("types", task="regression")
        assert isinstance(model, RemoteModel) and model.task is es.Task.REGRESSION
        assert remote.model("types").name == "types"
        report = model.log(
            regression_frame(10), schema=REGRESSION_SCHEMA, version="v1", environment="training"
        )
        assert isinstance(report, es.BatchReport) and report.rows == 10
        info = model.info()
        assert isinstance(info, es.ModelInfo) and info.rows == {"training": 10}
        assert isinstance(info.first, datetime) and info.first == datetime(2024, 3, 1)
        assert model.versions() == ["v1"]
        (batch,) = model.batches()
        assert isinstance(batch["created_at"], datetime) and batch["rows"] == 10
        assert "types" in [m.name for m in remote.models()]
        assert all(isinstance(m, es.ModelInfo) for m in remote.models())
        assert remote.keep_profiles() is None  # the server keeps them already
        with pytest.raises(es.ParameterError, match="keeps profiles for all of its clients"):
            remote.keep_profiles(False)
        with pytest.raises(es.ParameterError, match="keep must be True or False"):
            remote.keep_profiles("yes")  # type: ignore[arg-type]
        store_info = remote.info()
        assert isinstance(store_info, es.StoreInfo) and store_info.home == str(
            server.store.resolve()
        )

        local = store.model("types", task="regression")
        local.log(
            regression_frame(10), schema=REGRESSION_SCHEMA, version="v1", environment="training"
        )
        bad_scores = binary_frame(6).assign(score=[0.1, 1.5, 0.2, 0.3, 0.4, 9.0])
        remote.model("bin-errors", task="binary_classification")
        store.model("bin-errors", task="binary_classification")
        mistakes = [
            lambda s: s.model("types", task="binary_classification"),
            lambda s: s.model("bad name!"),
            lambda s: s.model("types").log(
                regression_frame(3), schema=REGRESSION_SCHEMA, version="v1", environment="prod"
            ),
            lambda s: s.model("types").log(
                regression_frame(3),
                schema={"prediction_id": "id"},
                version="v1",
                environment="training",
            ),
            lambda s: s.model("types").log(
                regression_frame(3).drop(columns="temp"),
                schema=REGRESSION_SCHEMA,
                version="v1",
                environment="training",
            ),
            lambda s: s.model("bin-errors").log(
                bad_scores, schema=BINARY_SCHEMA, version="v1", environment="training"
            ),
            lambda s: s.model("bin-errors").log(
                pd.DataFrame({"id": [1, "a"]}),
                schema=BINARY_SCHEMA,
                version="v1",
                environment="training",
            ),
            lambda s: s.model("types").log_actuals(
                regression_frame(3), prediction_id="id", actual="nope"
            ),
            lambda s: s.model("types").log(
                42, schema=REGRESSION_SCHEMA, version="v1", environment="training"
            ),
        ]
        for mistake in mistakes:
            with pytest.raises(es.EvalstoreError) as embedded:
                mistake(store)
            with pytest.raises(es.EvalstoreError) as served:
                mistake(remote)
            assert type(served.value) is type(embedded.value)
            assert str(served.value) == str(embedded.value)
            for attr in ("name", "expected", "got", "column", "rows", "total", "example", "fix"):
                if hasattr(embedded.value, attr) and attr != "got":
                    assert getattr(served.value, attr) == getattr(embedded.value, attr), attr
        with pytest.raises(es.ModelNotFound) as missing:
            remote.model("tpyes")
        assert missing.value.model == "tpyes" and "Did you mean 'types'?" in str(missing.value)
        # rows come back (tests/test_remote_dataset.py); Ibis expressions cannot travel
        with pytest.raises(es.NotSupported, match=r"model\.performance\(\)"):
            model.dataset(environment="training").execute(None)
        assert model.info().rows == {"training": 10}  # no mistake wrote anything
    assert remote._http.is_closed


def test_connect_refusals() -> None:
    started = time.perf_counter()
    with pytest.raises(es.ServerError, match="cannot reach the evalstore server") as exc:
        es.connect("http://127.0.0.1:9")  # the discard port: nothing listens there
    assert exc.value.status is None
    assert time.perf_counter() - started < 5, "connecting to nothing should fail fast"
    with pytest.raises(es.ParameterError, match="write_memory"):
        es.connect("http://127.0.0.1:9", write_memory="1GB")
    with pytest.raises(es.ParameterError, match="api_key"):
        es.connect("some-folder", api_key="k")  # type: ignore[call-overload]
    # a key read from a file, with its newline: refused by name, not as an unreachable server
    with pytest.raises(es.ParameterError, match=r"^api_key must be a key without whitespace"):
        es.connect("http://127.0.0.1:9", api_key="k123456789abcdef\n")
    with pytest.raises(es.ParameterError, match=r"pass it with \.strip\(\)") as exc:
        es.connect("http://127.0.0.1:9", api_key=" k123456789abcdef")
    assert "k123456789abcdef" not in str(exc.value), "the key is never shown"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("EVALSTORE_API_KEY", "k123456789abcdef\r\n")
        with pytest.raises(es.ParameterError, match=r"^EVALSTORE_API_KEY \(the default api_key\)"):
            es.connect("http://127.0.0.1:9")


class FlakyTransport(httpx.HTTPTransport):
    """A real transport that loses the answer to chosen requests after the server handled
    them, as a dropped connection would: the client cannot know whether they took effect."""

    def __init__(self, lose: list[str]) -> None:
        super().__init__()
        self.lose = lose
        self.lost: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        key = f"{request.method} {request.url.path.split('/api/v1')[-1]}"
        for pattern in self.lose:
            if key.startswith(pattern.split(" ")[0]) and key.endswith(pattern.split(" ")[1]):
                self.lose.remove(pattern)
                self.lost.append(key)
                response.read()
                response.close()
                raise httpx.ReadError(
                    "connection lost after the request was handled", request=request
                )
        return response


def test_retried_chunks_and_commits_never_duplicate(server: Server) -> None:
    flaky = FlakyTransport(["PUT /chunks/1", "PUT /chunks/1", "POST /commit", "POST /commit"])
    with RemoteStore(server.url, transport=flaky, retries=3) as remote:
        model = remote.model("flaky", task="binary_classification")
        df = binary_frame(20_000)
        report = model.log(df, schema=BINARY_SCHEMA, version="v1", environment="production")
        assert len(flaky.lost) == 4, flaky.lost  # chunk 1 twice, the commit twice
        late = pd.DataFrame({"pid": df["id"], "y": 1})
        flaky.lose += ["POST /commit"]
        actuals = model.log_actuals(late, prediction_id="pid", actual="y")
        assert len(flaky.lost) == 5
        assert (report.rows, report.replaced) == (20_000, 0)
        assert (actuals.rows, actuals.matched) == (20_000, 20_000)  # the retried commit's
        batches = model.batches()
        assert [(b["kind"], b["rows"]) for b in batches] == [
            ("inferences", 20_000),
            ("actuals", 20_000),
        ]
        assert [b["batch_id"] for b in batches] == [report.batch_id, actuals.batch_id]
        info = model.info()
        assert info.rows == {"production": 20_000} and info.with_actuals == {"production": 20_000}
        assert remote.info().rows >= 20_000


class RestartingTransport(httpx.HTTPTransport):
    """A real transport to a server that goes away after chunk 0 of an upload (or before
    its commit) and refuses connections for ``down`` seconds, as during a restart."""

    def __init__(self, down: float, at: str = "/chunks/1") -> None:
        super().__init__()
        self.down, self.at = down, at
        self.back_at: float | None = None
        self.refused = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.back_at is None and request.url.path.endswith(self.at):
            self.back_at = time.monotonic() + self.down
        if self.back_at is not None and time.monotonic() < self.back_at:
            self.refused += 1
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        return super().handle_request(request)


@pytest.fixture
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Waits of a few ms between tries, so that a test of a long outage runs fast."""
    monkeypatch.setattr("evalstore.remote._http.FIRST_WAIT", 0.01)
    monkeypatch.setattr("evalstore.remote._http.LAST_WAIT", 0.05)


@pytest.mark.usefixtures("quick_backoff")
@pytest.mark.parametrize("at", ["/chunks/1", "/commit"])
def test_an_upload_outlives_a_server_restart(server: Server, at: str) -> None:
    # retries=2 alone gives up after 0.03 s; the server is away far longer than that
    restart = RestartingTransport(down=0.6, at=at)
    with RemoteStore(server.url, transport=restart, retries=2, reconnect=5) as remote:
        model = remote.model(f"restart{at.count('chunks')}", task="binary_classification")
        df = binary_frame(20_000)
        report = model.log(df, schema=BINARY_SCHEMA, version="v1", environment="production")
        assert restart.refused > 3, restart.refused
        assert report.rows == 20_000
        assert [b["rows"] for b in model.batches()] == [20_000]
        assert model.info().rows == {"production": 20_000}


@pytest.mark.usefixtures("quick_backoff")
def test_an_upload_gives_up_naming_the_upload(server: Server) -> None:
    restart = RestartingTransport(down=60)
    with RemoteStore(server.url, transport=restart, retries=1, reconnect=0.3) as remote:
        model = remote.model("gone", task="binary_classification")
        started = time.monotonic()
        with pytest.raises(es.ServerError, match="cannot reach the evalstore server") as exc:
            model.log(
                binary_frame(20_000), schema=BINARY_SCHEMA, version="v1", environment="training"
            )
        assert time.monotonic() - started < 3
        message = str(exc.value)
        assert re.search(r"Upload [0-9a-f]{32} stopped at chunk 1", message), message
        assert "Log the batch again" in message and "never duplicates" in message
        assert exc.value.status is None and exc.value.error_type == "ConnectError"
        restart.back_at = 0  # the server is back: nothing of the batch was written
        assert model.info().rows == {}
    with pytest.raises(es.ParameterError, match="reconnect"):
        RemoteStore(server.url, reconnect=-1)


def test_big_frames_go_in_chunks_under_the_limit(server: Server) -> None:
    with es.connect(server.url) as remote:
        assert isinstance(remote, RemoteStore)
        assert remote.max_body_bytes == 1_000_000 and remote.chunk_bytes < 1_000_000
        model = remote.model("chunks", task="binary_classification")
        table = pa.Table.from_pandas(binary_frame(40_000), preserve_index=False)
        assert table.nbytes > 3 * remote.chunk_bytes
        report = model.log(
            table, schema=BINARY_SCHEMA, version="v1", environment="training", progress=True
        )
        assert report.rows == 40_000
        with pytest.raises(es.BatchRejected, match="the batch has no rows"):  # as embedded
            model.log(table.slice(0, 0), schema=BINARY_SCHEMA, version="v1", environment="training")
        assert model.info().rows == {"training": 40_000}


def test_actuals_sent_to_the_wrong_environment_are_the_clients_mistake(server: Server) -> None:
    """Over HTTP, actuals that join nothing in their environment (but another holds their
    ids) answer matched 0 and the environments that hold them, as embedded, and the remote
    SDK warns as the embedded store does; the server neither fails the request nor writes
    the warning to its own log."""
    with es.connect(server.url) as remote:
        model = remote.model("wrong-env", task="binary_classification")
        model.log(binary_frame(5), schema=BINARY_SCHEMA, version="v1", environment="training")
        late = pd.DataFrame({"pid": binary_frame(5)["id"], "y": 1})
        with pytest.warns(es.UnmatchedActualsWarning, match="send them with environment='train"):
            report = model.log_actuals(late, prediction_id="pid", actual="y")  # to production
        assert (report.rows, report.matched, report.elsewhere) == (5, 0, {"training": 5})
        right = model.log_actuals(late, prediction_id="pid", actual="y", environment="training")
        assert (right.matched, right.elsewhere) == (5, None)
        records = [{"pid": i, "y": 0} for i in late["pid"].tolist()]
        body = {"records": records, "prediction_id": "pid", "actual": "y"}
        answer = httpx.post(f"{server.url}/api/v1/models/wrong-env/actuals", json=body)
    assert answer.status_code == 201, answer.text
    assert (answer.json()["matched"], answer.json()["elsewhere"]) == (0, {"training": 5})
    assert "UnmatchedActualsWarning" not in server.output()
