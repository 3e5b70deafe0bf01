"""The REST API against a real server: every endpoint, the one error shape, the size limit,
uploads, and that a refused request writes nothing."""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import evalstore as es
from server_harness import Server, shared_server

LIMIT = 1_000_000  # the shared server's --max-body-size
SCHEMA = {"prediction_id": "id", "prediction_score": "score", "features": ["x", "city"]}
ARROW = {"Content-Type": "application/vnd.apache.arrow.stream"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Server:
    return shared_server(tmp_path_factory)


@pytest.fixture(scope="module")
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.api(""), timeout=60) as client:
        yield client


def frame(n: int = 5, start: int = 0) -> pd.DataFrame:
    ids = range(start, start + n)
    return pd.DataFrame(
        {
            "id": [f"p{i}" for i in ids],
            "x": [i * 0.5 for i in ids],
            "city": [["paris", "lyon"][i % 2] for i in ids],
            "score": [(i % 10) / 10 for i in ids],
            "label": [i % 2 for i in ids],
        }
    )


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(df.to_json(orient="records"))


def ipc(df: pd.DataFrame | pa.Table) -> bytes:
    table = df if isinstance(df, pa.Table) else pa.Table.from_pandas(df, preserve_index=False)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def make_model(http: httpx.Client, name: str, task: str = "binary_classification") -> None:
    r = http.post("/models", json={"name": name, "task": task})
    assert r.status_code in (200, 201), r.text


def inferences(
    version: str = "v1", environment: str = "production", **extra: Any
) -> dict[str, Any]:
    return {"schema": SCHEMA, "version": version, "environment": environment, **extra}


def assert_error(r: httpx.Response, status: int, type_: str) -> dict[str, Any]:
    """The one error shape: {"error": {"type", "message", "details"}} and nothing else."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"type", "message", "details"}, error
    assert error["type"] == type_, error
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], dict)
    return error  # type: ignore[no-any-return]


def state(http: httpx.Client) -> tuple[int, int, int]:
    """(models, rows, batches) of the store: what a refused request must leave unchanged."""
    info = http.get("/store").json()
    return info["models"], info["rows"], info["batches"]


# -- the server and its models -----------------------------------------------------------------


def test_health_store_and_offline_docs(server: Server, http: httpx.Client) -> None:
    r = http.get("/health")
    assert r.json() == {"status": "ok", "version": es.__version__, "max_body_bytes": LIMIT}
    info = http.get("/store").json()
    assert info["home"] == str(server.store.resolve())
    assert info["metadata_url"].startswith("sqlite:///")
    page = httpx.get(f"{server.url}/docs")
    assert page.status_code == 200 and "evalstore API" in page.text
    links = [u for u in _links(page.text) if not u.startswith("/")]
    assert links == [], f"the docs page fetches from outside the server: {links}"
    for asset in _links(page.text):
        assert httpx.get(server.url + asset).status_code == 200, asset
    spec = httpx.get(f"{server.url}/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    assert "/api/v1/uploads/{upload_id}/commit" in spec["paths"]
    assert spec["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"


def _links(html: str) -> list[str]:
    import re

    return re.findall(r'(?:src|href)="([^"]+)"', html) + re.findall(r"url: '([^']+)'", html)


def test_models_create_get_list_versions_batches(http: httpx.Client) -> None:
    r = http.post("/models", json={"name": "churn-api", "task": "binary_classification"})
    assert r.status_code == 201
    assert r.json() == {
        "name": "churn-api",
        "task": "binary_classification",
        "versions": [],
        "rows": {},
        "with_actuals": {},
        "first": None,
        "last": None,
        "batches": 0,
        "ranges": {},
    }
    again = http.post("/models", json={"name": "churn-api", "task": "binary_classification"})
    assert again.status_code == 200 and again.json() == r.json()
    other = assert_error(
        http.post("/models", json={"name": "churn-api", "task": "regression"}),
        400,
        "ParameterError",
    )
    assert other["details"]["name"] == "task"
    assert_error(
        http.post("/models", json={"name": "bad name!", "task": "regression"}),
        400,
        "ParameterError",
    )
    assert_error(http.post("/models", json={"name": "m", "task": "ranking"}), 400, "ParameterError")

    assert http.get("/models/churn-api/versions").json() == []
    assert http.get("/models/churn-api/batches").json() == []
    r = http.post("/models/churn-api/inferences", json=inferences(records=records(frame())))
    assert r.status_code == 201, r.text
    report = r.json()
    fields = {"batch_id", "rows", "replaced", "actuals", "seconds", "matched", "elsewhere"}
    assert set(report) == fields and report["matched"] is report["elsewhere"] is None
    assert (report["rows"], report["replaced"]) == (5, 0)
    assert http.get("/models/churn-api/versions").json() == ["v1"]
    (batch,) = http.get("/models/churn-api/batches").json()
    assert batch["batch_id"] == report["batch_id"] and batch["kind"] == "inferences"
    assert batch["rows"] == 5 and batch["version"] == "v1"
    info = http.get("/models/churn-api").json()
    assert info["rows"] == {"production": 5} and info["batches"] == 1
    names = [m["name"] for m in http.get("/models").json()]
    assert "churn-api" in names and names == sorted(names)


# -- logging in one request ------------------------------------------------------------------


def test_log_json_inferences_then_actuals(http: httpx.Client) -> None:
    make_model(http, "json-model")
    df = frame(8)
    df.loc[3, "x"] = None  # a missing value travels as null
    r = http.post("/models/json-model/inferences", json=inferences(records=records(df)))
    assert r.status_code == 201, r.text
    again = http.post("/models/json-model/inferences", json=inferences(records=records(df)))
    assert again.json()["replaced"] == 8  # last write wins: re-sending never duplicates
    labels = [{"pid": f"p{i}", "y": i % 2} for i in range(6)]
    body = {"prediction_id": "pid", "actual": "y", "records": labels}
    r = http.post("/models/json-model/actuals", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["rows"] == 6 and r.json()["matched"] == 6
    assert again.json()["matched"] is None  # inferences
    info = http.get("/models/json-model").json()
    assert info["rows"] == {"production": 8} and info["with_actuals"] == {"production": 6}


@pytest.mark.parametrize("kind", ["parquet", "arrow-stream", "arrow-file", "csv"])
def test_log_a_file_in_a_form(http: httpx.Client, kind: str) -> None:
    name = f"file-{kind}"
    make_model(http, name)
    df = frame(20)
    table = pa.Table.from_pandas(df, preserve_index=False)
    buf = io.BytesIO()
    if kind == "parquet":
        pq.write_table(table, buf)
    elif kind == "arrow-stream":
        buf.write(ipc(table))
    elif kind == "arrow-file":
        with pa.ipc.new_file(buf, table.schema) as writer:
            writer.write_table(table)
    else:
        df.to_csv(buf, index=False)
    filename = {"csv": "preds.csv"}.get(kind, "preds.bin")
    form = {"schema": json.dumps(SCHEMA), "version": "v2", "environment": "validation"}
    r = http.post(
        f"/models/{name}/inferences/file", data=form, files={"file": (filename, buf.getvalue())}
    )
    assert r.status_code == 201, r.text
    assert r.json()["rows"] == 20
    labels = pd.DataFrame({"pid": df["id"], "y": df["label"]}).to_csv(index=False).encode()
    r = http.post(
        f"/models/{name}/actuals/file",
        data={"prediction_id": "pid", "actual": "y", "environment": "validation"},
        files={"file": ("labels.csv", labels)},
    )
    assert r.status_code == 201, r.text
    info = http.get(f"/models/{name}").json()
    assert info["rows"] == {"validation": 20} and info["with_actuals"] == {"validation": 20}


# -- errors: one shape, the right status, nothing written ------------------------------------


def _bad_requests(http: httpx.Client) -> list[tuple[httpx.Response, int, str]]:
    bad_score = records(frame().assign(score=[0.1, 1.5, 0.2, 0.3, 7.0]))
    mixed = [
        {"id": "a", "x": 1.0, "city": "p", "score": 0.1},
        {"id": "b", "x": "one", "city": "p", "score": 0.2},
    ]
    good = records(frame())
    upload = http.post("/models/errors/uploads", json={"kind": "inferences", **inferences()}).json()
    uid = upload["upload_id"]
    return [
        (
            http.post("/models/errors/inferences", json=inferences("v1", "prod", records=good)),
            400,
            "ParameterError",
        ),
        (
            http.post("/models/errors/inferences", json=inferences("bad version", records=good)),
            400,
            "ParameterError",
        ),
        (
            http.post(
                "/models/errors/inferences",
                json={
                    **inferences(records=good),
                    "schema": {"prediction_id": "id", "featurez": []},
                },
            ),
            400,
            "SchemaError",
        ),
        (
            http.post(
                "/models/errors/inferences",
                json={**inferences(records=good), "schema": {"score": "s"}},
            ),
            400,
            "SchemaError",
        ),
        (
            http.post("/models/errors/inferences", json=inferences(records=bad_score)),
            400,
            "BatchRejected",
        ),
        (
            http.post("/models/errors/inferences", json=inferences(records=mixed)),
            400,
            "BatchRejected",
        ),
        (
            http.post("/models/errors/inferences", json=inferences(records=[{"id": "a"}])),
            400,
            "BatchRejected",
        ),
        (http.post("/models/nope/inferences", json=inferences(records=good)), 404, "ModelNotFound"),
        (http.get("/models/nope"), 404, "ModelNotFound"),
        (
            http.post("/models/errors/inferences", json={"schema": SCHEMA, "records": good}),
            422,
            "RequestValidationError",
        ),
        (
            http.post(
                "/models/errors/inferences",
                content=b"{not json",
                headers={"Content-Type": "application/json"},
            ),
            422,
            "RequestValidationError",
        ),
        (
            http.post(
                "/models/errors/inferences/file",
                data={"schema": "{", "version": "v1", "environment": "training"},
                files={"file": ("a.parquet", b"PAR1")},
            ),
            400,
            "SchemaError",
        ),
        (
            http.post(
                "/models/errors/inferences/file",
                data={"schema": json.dumps(SCHEMA), "version": "v1", "environment": "training"},
                files={"file": ("a.bin", b"not a known format")},
            ),
            400,
            "ParameterError",
        ),
        (
            http.post(
                "/models/errors/inferences/file",
                data={"schema": json.dumps(SCHEMA), "version": "v1", "environment": "training"},
                files={"file": ("a.parquet", b"PAR1 but cut short")},
            ),
            400,
            "ParameterError",
        ),
        (
            http.post(
                "/models/errors/actuals",
                json={"prediction_id": "id", "actual": "nope", "records": good},
            ),
            400,
            "BatchRejected",
        ),
        (http.get("/no/such/route"), 404, "NotFound"),
        (httpx.get(str(http.base_url).replace("/api/v1/", "/elsewhere")), 404, "NotFound"),
        (http.delete("/models"), 405, "MethodNotAllowed"),
        (http.get("/uploads/0123456789abcdef0123456789abcdef"), 404, "UploadNotFound"),
        (http.get("/uploads/../../etc"), 404, "NotFound"),
        (
            http.put(f"/uploads/{uid}/chunks/0", content=b"garbage", headers=ARROW),
            400,
            "ParameterError",
        ),
        (
            http.put(f"/uploads/{uid}/chunks/-1", content=ipc(frame()), headers=ARROW),
            422,
            "RequestValidationError",
        ),
        (http.post(f"/uploads/{uid}/commit", json={"chunks": 1}), 409, "UploadConflict"),
        (http.post(f"/uploads/{uid}/commit", json={"chunks": 0}), 422, "RequestValidationError"),
        (
            http.post(
                "/models/errors/uploads", json={"kind": "inferences", **inferences("v1", "staging")}
            ),
            400,
            "ParameterError",
        ),
        (
            http.post("/models/errors/uploads", json={"kind": "predictions"}),
            422,
            "RequestValidationError",
        ),
        (
            http.post("/models/errors/inferences", json=inferences(records=good * 40_000)),
            413,
            "PayloadTooLarge",
        ),
    ]


def test_every_error_has_the_one_shape_and_writes_nothing(http: httpx.Client) -> None:
    make_model(http, "errors")
    before = state(http)
    for response, status, type_ in _bad_requests(http):
        error = assert_error(response, status, type_)
        if type_ == "BatchRejected":
            assert error["message"].endswith("Nothing was written.")
            assert set(error["details"]) == {"column", "rows", "total", "example", "fix"}
    assert state(http) == before
    assert http.get("/models/errors/batches").json() == []


def test_error_details_carry_the_exception_attributes(http: httpx.Client) -> None:
    make_model(http, "details")
    bad = records(frame().assign(score=[0.1, 1.5, 0.2, 0.3, 7.0]))
    error = assert_error(
        http.post("/models/details/inferences", json=inferences(records=bad)), 400, "BatchRejected"
    )
    assert error["details"]["column"] == "score"
    assert (error["details"]["rows"], error["details"]["total"]) == (2, 5)
    assert error["message"].startswith("column 'score': 2 of 5 rows have scores outside [0, 1]")
    error = assert_error(
        http.post("/models/details/inferences", json=inferences("v1", "prod", records=[])),
        400,
        "ParameterError",
    )
    assert error["details"] == {
        "name": "environment",
        "expected": "one of ['training', 'validation', 'production']",
        "got": "prod",
    }
    assert "Did you mean 'production'?" in error["message"]
    error = assert_error(
        http.get(
            "/models/details/performance", params={"start": "2024-02-01", "end": "2024-01-01"}
        ),
        400,
        "ParameterError",
    )
    assert error["details"]["got"] == "2024-01-01T00:00:00"  # ISO text, not a Python repr
    assert error["message"].endswith("got '2024-01-01T00:00:00'.")
    error = assert_error(http.get("/models/detials"), 404, "ModelNotFound")
    assert (
        error["details"] == {"model": "detials"} and "Did you mean 'details'?" in error["message"]
    )
    error = assert_error(
        http.post("/models/details/inferences", json={"records": []}), 422, "RequestValidationError"
    )
    locs = {tuple(e["loc"]) for e in error["details"]["errors"]}
    assert {("body", "schema"), ("body", "version"), ("body", "environment")} <= locs


def test_body_over_the_limit_is_413(http: httpx.Client) -> None:
    make_model(http, "limits")
    before = state(http)
    big = ipc(frame(200_000))
    assert len(big) > LIMIT
    upload = http.post("/models/limits/uploads", json={"kind": "inferences", **inferences()}).json()
    announced = http.put(f"/uploads/{upload['upload_id']}/chunks/0", content=big, headers=ARROW)
    error = assert_error(announced, 413, "PayloadTooLarge")
    assert "--max-body-size" in error["message"]

    def stream() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for start in range(0, len(big), 1 << 20):
            yield big[start : start + (1 << 20)]

    streamed = http.put(f"/uploads/{upload['upload_id']}/chunks/0", content=stream(), headers=ARROW)
    assert_error(streamed, 413, "PayloadTooLarge")
    streamed_json = http.post(
        "/models/limits/inferences",
        content=stream(),
        headers={"Content-Type": "application/json"},
    )
    assert_error(streamed_json, 413, "PayloadTooLarge")
    assert http.get(f"/uploads/{upload['upload_id']}").json()["chunks"] == []
    assert state(http) == before
    assert http.get("/health").status_code == 200  # and the server is fine


@pytest.mark.parametrize(
    "head",
    [
        # 20 KB of a head that has not ended: over the limit, refused without waiting for more
        b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000,
        # the same head whole, read at once: the parser takes it, the server refuses it
        b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n",
        b"NOT HTTP AT ALL\r\n\r\n",
    ],
    ids=["head-over-16-KiB-arriving", "head-over-16-KiB-whole", "not-http"],
)
def test_a_request_that_is_not_http_or_too_big_gets_the_error_shape(
    server: Server, http: httpx.Client, head: bytes
) -> None:
    """Refused before any route runs (by the HTTP parser or the server), in the one error
    shape."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head)
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    status_line, _, rest = raw.partition(b"\r\n")
    headers, _, body = rest.partition(b"\r\n\r\n")
    assert status_line.startswith(b"HTTP/1.1 400"), raw[:200]
    assert b"content-type: application/json" in headers.lower()
    error = json.loads(body)["error"]
    assert (error["type"], error["details"]) == ("BadRequest", {"max_head_bytes": 16384})
    assert "16 KiB" in error["message"]
    # a head under the limit is served
    ok = http.get("/health", headers={"X-Big": "a" * 10_000})
    assert ok.status_code == 200


# -- uploads -----------------------------------------------------------------------------------


def test_upload_chunks_retries_and_commit(http: httpx.Client) -> None:
    make_model(http, "up")
    before = state(http)
    start = http.post(
        "/models/up/uploads", json={"kind": "inferences", **inferences(source="test")}
    )
    assert start.status_code == 201, start.text
    upload = start.json()
    assert upload["max_chunk_bytes"] == LIMIT and upload["chunks"] == [] and not upload["committed"]
    uid = upload["upload_id"]
    parts = [frame(100, start=i * 100) for i in range(3)]
    # out of order, and chunk 1 twice (a retry): chunk n sent again replaces chunk n
    for n in (2, 1, 0, 1):
        r = http.put(f"/uploads/{uid}/chunks/{n}", content=ipc(parts[n]), headers=ARROW)
        assert r.status_code == 200, r.text
        assert r.json()["rows"] == 100 and r.json()["chunk"] == n
    status = http.get(f"/uploads/{uid}").json()
    assert status["chunks"] == [0, 1, 2] and status["rows"] == 300
    assert_error(http.post(f"/uploads/{uid}/commit", json={"chunks": 4}), 409, "UploadConflict")
    wrong = assert_error(
        http.post(f"/uploads/{uid}/commit", json={"chunks": 2}), 409, "UploadConflict"
    )
    assert wrong["details"]["extra"] == [2]
    assert_error(
        http.post(f"/uploads/{uid}/commit", json={"chunks": 3, "rows": 301}), 409, "UploadConflict"
    )
    assert state(http) == before

    first = http.post(f"/uploads/{uid}/commit", json={"chunks": 3, "rows": 300})
    assert first.status_code == 200, first.text
    assert first.json()["rows"] == 300
    again = http.post(f"/uploads/{uid}/commit", json={"chunks": 3, "rows": 300})
    assert again.json() == first.json()  # a retried commit answers the same, writes nothing
    assert http.get(f"/uploads/{uid}").json()["committed"] is True
    assert_error(
        http.put(f"/uploads/{uid}/chunks/3", content=ipc(parts[0]), headers=ARROW),
        409,
        "UploadConflict",
    )
    _, rows, batches = state(http)
    assert (rows, batches) == (before[1] + 300, before[2] + 1)
    (batch,) = http.get("/models/up/batches").json()
    assert batch["rows"] == 300
    assert http.delete(f"/uploads/{uid}").status_code == 204
    assert_error(http.get(f"/uploads/{uid}"), 404, "UploadNotFound")
    assert http.get("/models/up").json()["rows"] == {"production": 300}  # the batch stays


def test_upload_refusals_write_nothing(http: httpx.Client) -> None:
    make_model(http, "up-bad")
    before = state(http)
    uid = http.post("/models/up-bad/uploads", json={"kind": "inferences", **inferences()}).json()[
        "upload_id"
    ]
    http.put(f"/uploads/{uid}/chunks/0", content=ipc(frame(10)), headers=ARROW)
    other = frame(10, start=10).assign(x=lambda d: d["x"].astype(str))  # x changes type
    http.put(f"/uploads/{uid}/chunks/1", content=ipc(other), headers=ARROW)
    error = assert_error(
        http.post(f"/uploads/{uid}/commit", json={"chunks": 2}), 400, "BatchRejected"
    )
    assert (
        "chunk 1 of the upload has other columns or types than chunk 0 (differing: x)"
        in error["message"]
    )
    # a row refused in the last chunk refuses the whole batch
    uid = http.post("/models/up-bad/uploads", json={"kind": "inferences", **inferences()}).json()[
        "upload_id"
    ]
    parts = [frame(10), frame(10, start=10).assign(score=2.0)]
    for n, part in enumerate(parts):
        http.put(f"/uploads/{uid}/chunks/{n}", content=ipc(part), headers=ARROW)
    error = assert_error(
        http.post(f"/uploads/{uid}/commit", json={"chunks": 2}), 400, "BatchRejected"
    )
    assert error["details"]["rows"] == 10 and error["details"]["total"] == 20
    assert state(http) == before
    assert http.get("/models/up-bad/batches").json() == []


def test_upload_of_actuals_and_parquet_chunks(http: httpx.Client) -> None:
    make_model(http, "up-act")
    r = http.post("/models/up-act/inferences", json=inferences(records=records(frame(30))))
    assert r.status_code == 201
    start = {"kind": "actuals", "prediction_id": "pid", "actual": "y"}
    uid = http.post("/models/up-act/uploads", json=start).json()["upload_id"]
    for n in range(3):
        buf = io.BytesIO()
        ids = range(n * 10, n * 10 + 10)
        pq.write_table(pa.table({"pid": [f"p{i}" for i in ids], "y": [i % 2 for i in ids]}), buf)
        r = http.put(
            f"/uploads/{uid}/chunks/{n}",
            content=buf.getvalue(),
            headers={"Content-Type": "application/vnd.apache.parquet"},
        )
        assert r.status_code == 200, r.text
    report = http.post(f"/uploads/{uid}/commit", json={"chunks": 3, "rows": 30}).json()
    assert report["rows"] == 30
    assert http.get("/models/up-act").json()["with_actuals"] == {"production": 30}


# -- integers beyond 64 bits -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "name"),
    [
        ("/rows", {"limit": 2**63}, "limit"),
        ("/rows", {"limit": 10**20}, "limit"),
        ("/slices", {"min_support": 10**20}, "min_support"),
        ("/quality", {"min_rows": 2**63}, "min_rows"),
        ("/report", {"reference": "production", "current": "production", "min_support": 2**64},
         "min_support"),
    ],
)  # fmt: skip
def test_an_integer_beyond_64_bits_is_refused_by_name_with_its_range(
    http: httpx.Client, path: str, params: dict[str, Any], name: str
) -> None:
    make_model(http, "huge")
    if not http.get("/models/huge").json()["batches"]:
        r = http.post("/models/huge/inferences", json=inferences(records=records(frame(40))))
        assert r.status_code == 201, r.text
    error = assert_error(http.get(f"/models/huge{path}", params=params), 400, "ParameterError")
    assert error["details"]["name"] == name
    assert "to 9,223,372,036,854,775,807" in error["message"], error["message"]


def test_a_commit_of_absurdly_many_chunks_is_refused_at_once(http: httpx.Client) -> None:
    make_model(http, "up-huge")
    uid = http.post("/models/up-huge/uploads", json={"kind": "inferences", **inferences()}).json()[
        "upload_id"
    ]
    for body, field in (({"chunks": 2**63}, "chunks"), ({"chunks": 1, "rows": 2**64}, "rows")):
        # checked before any chunk is looked for: it answers at once, not after 2**63 steps
        r = http.post(f"/uploads/{uid}/commit", json=body, timeout=10)
        error = assert_error(r, 422, "RequestValidationError")
        assert error["details"]["errors"][0]["loc"] == ["body", field]
        assert "less than or equal to" in error["message"]


# -- an empty batch ----------------------------------------------------------------------------


def test_an_empty_batch_is_refused_as_empty_in_every_form(http: httpx.Client) -> None:
    make_model(http, "empty")
    before = state(http)
    empty = pa.Table.from_pandas(frame(0), preserve_index=False)
    parquet = io.BytesIO()
    pq.write_table(empty, parquet)
    form = {"schema": json.dumps(SCHEMA), "version": "v1", "environment": "production"}
    uid = http.post("/models/empty/uploads", json={"kind": "inferences", **inferences()}).json()[
        "upload_id"
    ]
    assert http.put(f"/uploads/{uid}/chunks/0", content=ipc(empty), headers=ARROW).is_success
    actuals = {"prediction_id": "id", "actual": "y", "records": []}
    files = "/models/empty/inferences/file"
    answers = [
        http.post("/models/empty/inferences", json=inferences(records=[])),
        http.post("/models/empty/actuals", json=actuals),
        http.post(files, data=form, files={"file": ("a.parquet", parquet.getvalue())}),
        http.post(files, data=form, files={"file": ("a.arrow", ipc(empty))}),
        http.post(f"/uploads/{uid}/commit", json={"chunks": 1, "rows": 0}),
    ]
    for r in answers:
        error = assert_error(r, 400, "BatchRejected")
        assert error["message"].startswith("the batch has no rows."), error["message"]
        assert error["details"]["column"] is None
    assert state(http) == before


# -- what upload errors say --------------------------------------------------------------------


def test_upload_errors_name_the_column_the_extra_chunks_and_the_users_file(
    http: httpx.Client,
) -> None:
    make_model(http, "up-say")
    before = state(http)
    start = {"kind": "inferences", **inferences(source="preds.parquet")}
    uid = http.post("/models/up-say/uploads", json=start).json()["upload_id"]
    http.put(f"/uploads/{uid}/chunks/0", content=ipc(frame(10)), headers=ARROW)
    other = frame(10, start=10).assign(score=lambda d: d["score"].astype(str))
    http.put(f"/uploads/{uid}/chunks/1", content=ipc(other), headers=ARROW)
    error = assert_error(
        http.post(f"/uploads/{uid}/commit", json={"chunks": 2}), 400, "BatchRejected"
    )
    assert "(differing: score)" in error["message"]
    assert error["details"]["column"] == "score"  # it was null

    # more chunks than the commit names: not 'send the missing chunks', of which there are none
    error = assert_error(
        http.post(f"/uploads/{uid}/commit", json={"chunks": 1}), 409, "UploadConflict"
    )
    assert error["details"] == {"missing": [], "extra": [1]}
    message = error["message"]
    assert "it holds chunks [1] beyond the 1 the commit names (0..0)" in message, message
    assert "Commit with chunks=2 if they belong to the batch" in message, message
    assert "missing" not in message, message
    error = assert_error(
        http.post(f"/uploads/{uid}/commit", json={"chunks": 3}), 409, "UploadConflict"
    )
    assert error["message"].startswith(
        f"upload {uid!r} cannot commit 3 chunks: chunks [2] of 0..2 are missing. Send the "
        "missing chunks."
    ), error["message"]

    # a file is named as the client named it, not as the server spooled it
    form = {"schema": json.dumps(SCHEMA), "version": "v1", "environment": "production"}
    for sent, shown in (
        ("my preds.parquet", "my preds.parquet"),
        ("C:\\data\\june.arrow", "june.arrow"),
        ("dir/july.csv", "july.csv"),
    ):
        files = {"file": (sent, b"PAR1 cut short" if sent.endswith("parquet") else b"\x00")}
        r = http.post("/models/up-say/inferences/file", data=form, files=files)
        error = assert_error(r, 400, "ParameterError")
        assert error["details"]["got"] == shown, error
        assert "upload." not in error["message"], error["message"]
    assert state(http) == before


def test_a_compressed_body_is_refused_as_compressed(http: httpx.Client) -> None:
    """A body the server would read as JSON, Arrow or a form, compressed, is refused by what
    it is (415), not by the parser that fails on it, and writes nothing."""
    make_model(http, "gzipped")
    before = state(http)
    body = json.dumps(inferences(records=records(frame()))).encode()
    upload = http.post("/models/gzipped/uploads", json={"kind": "inferences", **inferences()})
    uid = upload.json()["upload_id"]
    for encoding, send in [
        ("gzip", lambda h: http.post("/models/gzipped/inferences", content=gzip_(body), headers=h)),
        ("deflate", lambda h: http.post("/models/gzipped/inferences", content=body, headers=h)),
        (
            "GZIP, identity",
            lambda h: http.post("/models/gzipped/inferences", content=body, headers=h),
        ),
        ("br", lambda h: http.put(f"/uploads/{uid}/chunks/0", content=ipc(frame()), headers=h)),
    ]:
        headers = {"Content-Type": "application/json", "Content-Encoding": encoding}
        error = assert_error(send(headers), 415, "UnsupportedMediaType")
        assert f"(Content-Encoding: {encoding})" in error["message"]
        assert "does not accept compressed bodies" in error["message"]
        assert "Send the body uncompressed" in error["message"]
    assert http.get(f"/uploads/{uid}").json()["chunks"] == []
    assert state(http) == before
    same = {"Content-Type": "application/json", "Content-Encoding": "identity"}
    r = http.post("/models/gzipped/inferences", content=body, headers=same)
    assert r.status_code == 201, r.text


def gzip_(body: bytes) -> bytes:
    import gzip

    return gzip.compress(body)


def test_a_body_that_cannot_be_parsed_is_a_documented_bad_request(http: httpx.Client) -> None:
    """FastAPI's own 400 (a body it cannot parse) has a type api.md lists, as every
    HTTP-only error has."""
    make_model(http, "forms")
    # bytes that are not UTF-8 where JSON is expected: FastAPI's 400, not its 422
    r = http.post(
        "/models/forms/inferences",
        content=b"\x1f\x8b\x08\x00\xff\xfe",
        headers={"Content-Type": "application/json"},
    )
    error = assert_error(r, 400, "BadRequest")
    assert "cannot be read as this endpoint expects it" in error["message"]
    from evalstore.server.errors import _HTTP_TYPES

    documented = (Path(__file__).parent.parent / "docs" / "api.md").read_text()
    for status, type_ in _HTTP_TYPES.items():
        assert f"| {status} | `{type_}` |" in documented, (status, type_)
