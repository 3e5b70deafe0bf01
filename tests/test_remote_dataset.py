"""``model.dataset(...)`` through a real server: ``GET /api/v1/models/{name}/rows`` and
``.../rows/count``, and the SDK's lazy ``RemoteDataset`` over them, hold the rows that the
embedded ``Dataset`` reads from the same store with the same selection."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pyarrow as pa
import pytest

import evalstore as es
from conftest import BINARY_SCHEMA, binary_frame
from evalstore.remote import RemoteDataset, RemoteModel, RemoteStore
from evalstore.server.routes.rows import ARROW_STREAM, BATCH_ROWS
from server_harness import Server

MODEL = "rows"
#: more rows than one record batch holds, so that the stream has several
ROWS = BATCH_ROWS + 4_000
DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, es.Store]]:
    """A server over a store, and an embedded copy of that store made before it started."""
    root = tmp_path_factory.mktemp("rows")
    with es.connect(root / "served") as store:
        model = store.model(MODEL, task="binary_classification")
        frame = binary_frame(ROWS)
        model.log(frame, schema=BINARY_SCHEMA, version="v1", environment="training")
        late = binary_frame(3_000, start=ROWS)
        no_actuals = es.Schema(**{**BINARY_SCHEMA.to_dict(), "actual_label": None})
        model.log(late, schema=no_actuals, version="v2", environment="production")
        outcomes = late[["id", "label"]].iloc[::2]
        model.log_actuals(outcomes, prediction_id="id", actual="label")
    shutil.copytree(root / "served", root / "embedded")
    server = Server(root / "served").start()
    embedded = es.connect(root / "embedded")
    try:
        yield server, embedded
    finally:
        embedded.close()
        assert server.stop() in (0, -15)


def _sorted(table: pa.Table) -> pa.Table:
    return table.sort_by([("environment", "ascending"), ("prediction_id", "ascending")])


SELECTIONS: list[dict[str, Any]] = [
    {},
    {"environment": "production"},
    {"environment": ["training", "production"], "version": "v1"},
    {"version": ["v1", "v2"]},
    {"start": "2024-01-03", "end": "2024-01-05T12:00:00"},
    {"start": pd.Timestamp("2031-06-01", tz="Europe/Paris")},
    {"where": {"region": "EU"}},
    {"where": {"city": ["nice", "lyon"], "age": 33}},
    {"environment": "production", "where": {"actual_label": None}},
    {"environment": "production", "start": "2032-01-01"},  # no rows
]


@pytest.mark.parametrize("selection", SELECTIONS, ids=repr)
def test_rows_equal_the_embedded_datasets(
    stores: tuple[Server, es.Store], selection: dict[str, Any]
) -> None:
    server, local = stores
    expected = local.model(MODEL).dataset(**selection)
    with es.connect(server.url) as remote:
        ds = remote.model(MODEL).dataset(**selection)
        assert isinstance(ds, RemoteDataset)
        rows = ds.to_arrow()
        assert rows.schema == expected.to_arrow().schema
        assert _sorted(rows).equals(_sorted(expected.to_arrow()))
        assert ds.count() == expected.count() == rows.num_rows
        assert ds.columns == expected.columns
        frame = ds.to_pandas().sort_values(["environment", "prediction_id"])
        theirs = expected.to_pandas().sort_values(["environment", "prediction_id"])
        pd.testing.assert_frame_equal(frame.reset_index(drop=True), theirs.reset_index(drop=True))


def test_columns_limit_and_polars(stores: tuple[Server, es.Store]) -> None:
    server, local = stores
    expected = local.model(MODEL).dataset(environment="production")
    with es.connect(server.url) as remote:
        ds = remote.model(MODEL).dataset(environment="production")
        some = ds.to_arrow(columns=["prediction_id", "actual_label", "prediction_id"])
        assert some.column_names == ["prediction_id", "actual_label"]
        theirs = expected.to_arrow().select(["prediction_id", "actual_label"])
        key = [("prediction_id", "ascending")]
        assert some.sort_by(key).equals(theirs.sort_by(key))
        assert ds.to_arrow(limit=10).num_rows == 10
        assert ds.to_arrow(limit=10**9).num_rows == 3_000
        empty = ds.to_arrow(limit=0)
        assert empty.num_rows == 0 and empty.schema == expected.to_arrow().schema
        assert ds.to_pandas(columns="age", limit=5).shape == (5, 1)
        polars = ds.to_polars(columns=["prediction_id", "age"])
        assert polars.shape == (3_000, 2)
        assert sorted(polars["prediction_id"].to_list()) == sorted(
            theirs["prediction_id"].to_pylist()
        )


def test_the_stream_comes_in_record_batches(stores: tuple[Server, es.Store]) -> None:
    server, _ = stores
    url = server.api(f"/models/{MODEL}/rows")
    with httpx.stream("GET", url, params={"environment": "training"}, timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == ARROW_STREAM
        body = response.read()
    reader = pa.ipc.open_stream(body)
    sizes = [batch.num_rows for batch in reader]
    assert sizes == [BATCH_ROWS, ROWS - BATCH_ROWS]
    count = httpx.get(f"{url}/count", params={"environment": "training"}).json()
    assert count == {"rows": ROWS}


class _Counting(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return super().handle_request(request)


def test_nothing_is_fetched_until_asked(stores: tuple[Server, es.Store]) -> None:
    server, _ = stores
    transport = _Counting()
    with RemoteStore(server.url, transport=transport) as remote:
        model = remote.model(MODEL)
        before = len(transport.paths)
        ds = model.dataset(environment="production", where={"region": "EU"})
        assert repr(ds) == (
            "RemoteDataset(model='rows', environment=['production'], where={'region': 'EU'})"
        )
        assert len(transport.paths) == before
        assert ds.count() == 1_500
        assert transport.paths[-1] == f"/api/v1/models/{MODEL}/rows/count"


def test_expressions_cannot_travel(stores: tuple[Server, es.Store]) -> None:
    server, _ = stores
    with es.connect(server.url) as remote:
        ds = remote.model(MODEL).dataset()
        with pytest.raises(es.NotSupported, match=r"model\.performance\(\)"):
            ds.table  # noqa: B018
        with pytest.raises(es.NotSupported, match="Ibis expressions cannot travel"):
            ds.execute(None)
        with pytest.raises(es.ParameterError, match="cannot travel to the server") as exc:
            remote.model(MODEL).dataset(where=lambda t: t.age > 3)
        assert exc.value.name == "where"
        with pytest.raises(es.ParameterError) as exc:
            ds.to_arrow(limit=-1)
        assert exc.value.name == "limit"


READS = [lambda ds: ds.count(), lambda ds: ds.to_arrow(), lambda ds: ds.columns]


def test_refusals_are_the_embedded_ones(stores: tuple[Server, es.Store]) -> None:
    server, local = stores
    with es.connect(server.url) as remote:
        model, theirs = remote.model(MODEL), local.model(MODEL)
        for selection in (
            {"environment": "prod"},
            {"start": "2024-02-01", "end": "2024-01-01"},
            {"where": {"regoin": "EU"}},
        ):
            with pytest.raises(es.ParameterError) as embedded:
                theirs.dataset(**selection).count()
            for read in READS:
                with pytest.raises(es.ParameterError) as served:
                    read(model.dataset(**selection))
                assert str(served.value) == str(embedded.value), selection
                assert served.value.name == embedded.value.name
        with pytest.raises(es.ParameterError, match="Did you mean 'region'") as exc:
            model.dataset().to_arrow(columns=["regoin"])
        assert exc.value.name == "columns"


@pytest.mark.parametrize(
    ("path", "params", "status", "name"),
    [
        ("/rows", {"limit": "-1"}, 400, "limit"),
        ("/rows", {"columns": "nope"}, 400, "columns"),
        ("/rows", {"environment": "prod"}, 400, "environment"),
        ("/rows", {"where": "{region: EU}"}, 400, "where"),
        ("/rows", {"where": '{"age": "old"}'}, 400, "where['age']"),
        ("/rows", {"start": "yesterday"}, 400, "start"),
        ("/rows/count", {"version": "v1", "where": "[1]"}, 400, "where"),
        ("/rows/count", {"end": "not a date"}, 400, "end"),
        ("/rows", {"limit": "ten"}, 422, "limit"),
    ],
)
def test_bad_parameters_answer_the_error_shape(
    stores: tuple[Server, es.Store], path: str, params: dict[str, str], status: int, name: str
) -> None:
    server, _ = stores
    response = httpx.get(server.api(f"/models/{MODEL}{path}"), params=params)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"type", "message", "details"}
    if status == 400:
        assert error["type"] == "ParameterError" and error["details"]["name"] == name
    else:
        assert error["type"] == "RequestValidationError"
        assert name in error["details"]["errors"][0]["loc"]


@pytest.mark.parametrize("path", ["/rows", "/rows/count"])
def test_an_unknown_model_is_404(stores: tuple[Server, es.Store], path: str) -> None:
    server, _ = stores
    response = httpx.get(server.api(f"/models/nope{path}"))
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "ModelNotFound"
    with es.connect(server.url) as remote:
        gone = RemoteModel(remote, "nope", es.Task.REGRESSION)  # as if deleted since
        for read in READS:
            with pytest.raises(es.ModelNotFound, match="nope"):
                read(gone.dataset())


# -- docs/api.md ------------------------------------------------------------------------------

_FENCE = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_api_doc_rows_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (block,) = _FENCE.findall(DOC.read_text())
    monkeypatch.chdir(tmp_path)
    preds = pd.DataFrame({"id": ["a", "b", "c"], "score": [0.8, 0.3, 0.6], "label": [1, 0, 1]})
    schema = es.Schema(prediction_id="id", prediction_score="score", prediction_label="label")
    with Server(tmp_path / "store") as server:
        with es.connect(server.url) as remote:
            model = remote.model("churn", task="binary_classification")
            model.log(preds, schema=schema, version="v1", environment="production")
        r = subprocess.run(
            [
                "bash",
                "-e",
                "-o",
                "pipefail",
                "-c",
                block.replace("http://127.0.0.1:8080", server.url),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env=os.environ,
        )
    assert r.returncode == 0, block + r.stderr
    assert r.stdout.strip() == '{"rows":3}'
    table = pa.ipc.open_stream((tmp_path / "rows.arrow").read_bytes()).read_all()
    assert table.column_names == ["prediction_id", "prediction_score"]
    assert sorted(table["prediction_id"].to_pylist()) == ["a", "c"]


def test_to_batches_arrives_in_batches_of_at_most_rows(stores: tuple[Server, es.Store]) -> None:
    server, embedded = stores
    with es.connect(server.url) as store:
        remote = store.model(MODEL).dataset(environment="training")
        batches = list(remote.to_batches(rows=700))
        with pytest.raises(es.ParameterError, match="rows"):
            remote.to_batches(rows=0)
    assert batches and max(b.num_rows for b in batches) <= 700
    key = [("prediction_id", "ascending")]
    theirs = embedded.model(MODEL).dataset(environment="training").to_arrow()
    assert pa.Table.from_batches(batches).sort_by(key).equals(theirs.sort_by(key))


def test_to_polars_without_polars_says_how_and_reads_nothing(
    stores: tuple[Server, es.Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, embedded = stores
    monkeypatch.setitem(sys.modules, "polars", None)  # import polars fails
    reads: list[int] = []
    with es.connect(server.url) as remote:
        ds = remote.model(MODEL).dataset()
        original = ds._read
        monkeypatch.setattr(ds, "_read", lambda *a: reads.append(1) or original(*a))
        for dataset in (ds, embedded.model(MODEL).dataset()):
            with pytest.raises(es.ParameterError, match=r"pip install 'evalstore\[polars\]'"):
                dataset.to_polars()
    assert reads == []
