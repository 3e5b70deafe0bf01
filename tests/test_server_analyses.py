"""Every analysis over REST against a real server, and the remote SDK's analyses and baselines:
the answers are the embedded results on the same rows, errors have the one shape and name the
parameter, refusals write nothing, and reads run -- and see a batch whole or not at all --
while a large batch commits."""

from __future__ import annotations

import io
import json
import math
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.metrics import roc_auc_score

import evalstore as es
from conftest import BINARY_SCHEMA, binary_frame
from evalstore.analyses.baseline import Baseline
from evalstore.analyses.binning import feature_columns
from evalstore.analyses.drift import DriftOverTime, DriftResult, drift, drift_over_time
from evalstore.analyses.performance import PerformanceResult, performance
from evalstore.analyses.quality import QualityResult, learn_expectations, quality
from evalstore.analyses.report import Report
from evalstore.analyses.slices import SliceResult, slices
from evalstore.remote import RemoteModel
from server_harness import Server

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"
DEFAULT_URL = "http://127.0.0.1:8080"
ARROW = {"Content-Type": "application/vnd.apache.arrow.stream"}


def fill(store: es.Store, name: str = "clf", n: int = 1000) -> es.Model:
    """A binary model with training rows, and production rows that drifted (ids shifted:
    other ages, incomes, times), every row with its actual."""
    model = store.model(name, task="binary_classification")
    model.log(binary_frame(n), schema=BINARY_SCHEMA, version="v1", environment="training")
    model.log(
        binary_frame(n, start=3 * n),
        schema=BINARY_SCHEMA,
        version="v2",
        environment="production",
    )
    return model


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    path = tmp_path_factory.mktemp("analyses") / "store"
    with es.connect(path) as store:
        fill(store)
        store.model("empty", task="regression")
    with Server(path) as running:
        yield running


@pytest.fixture(scope="module")
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.api("/models/clf"), timeout=120) as client:
        yield client


def assert_error(r: httpx.Response, status: int, type_: str) -> dict[str, Any]:
    """The one error shape, with this status and type."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"type", "message", "details"}
    assert body["error"]["type"] == type_, body
    assert body["error"]["message"]
    return body["error"]  # type: ignore[no-any-return]


# -- the endpoints -----------------------------------------------------------------------------


def test_every_analysis_answers_its_result(http: httpx.Client) -> None:
    perf = http.get("/performance", params={"environment": "production", "by": "day"})
    assert perf.status_code == 200, perf.text
    body = perf.json()
    assert body["by"] == ["day"] and body["task"] == "binary_classification"
    assert {r["metric"] for r in body["rows"]} >= {"accuracy", "roc_auc"}
    assert all(r["day"].startswith("2024-") for r in body["rows"])
    grouped = http.get(
        "/performance",
        params=[("metrics", "accuracy"), ("metrics", "recall"), ("by", "city"), ("by", "region")],
    ).json()
    assert grouped["metrics"] == ["accuracy", "recall"] and grouped["by"] == ["city", "region"]
    assert len(grouped["rows"]) == 3 * 2 * 2

    d = http.get("/drift", params={"reference": "training", "current": "production"}).json()
    assert d["drifted"] and d["n_reference"] == d["n_current"] == 1000
    assert {c["column"] for c in d["columns"]} == {"age", "income", "city", "region"}
    over = http.get(
        "/drift/over-time",
        params={"reference": "training", "current": "environment=production", "by": "week"},
    ).json()
    assert over["by"] == "week" and len(over["windows"]) == 7
    assert sum(w["n_current"] for w in over["windows"]) == 1000

    q = http.get("/quality", params={"environment": "production", "reference": "training"}).json()
    assert q["ok"] and {i["check"] for i in q["issues"]} == {"out_of_range"}
    plain = http.get("/quality", params={"environment": "production", "by": "week"}).json()
    assert plain["by"] == "week" and not any(i["check"] == "out_of_range" for i in plain["issues"])

    s = http.get(
        "/slices",
        params={"environment": "production", "metric": "accuracy", "columns": "city"},
    ).json()
    assert s["metric"] == "accuracy" and s["columns"] == ["city"]
    assert {r["bin"] for r in s["rows"]} >= {"lyon", "nice", "paris"}
    assert sum(r["n"] for r in s["rows"]) == s["overall"]["n"] == 1000

    report = http.get("/report", params={"reference": "training", "current": "production"})
    assert report.status_code == 200 and report.headers["content-type"] == "application/json"
    body = report.json()
    assert body["model"] == "clf" and body["summary"][0]["status"] == "alert"
    assert body["reference"]["rows"] == body["current"]["rows"] == 1000
    page = http.get(
        "/report", params={"reference": "training", "current": "production", "format": "html"}
    )
    assert page.headers["content-type"].startswith("text/html")
    assert page.text.startswith("<!DOCTYPE html>") and 'src="http' not in page.text
    md = http.get(
        "/report",
        params={"reference": "training", "current": "production", "format": "markdown"},
    )
    assert md.headers["content-type"].startswith("text/markdown")
    assert "## Summary" in md.text


def test_selections_in_every_form(http: httpx.Client) -> None:
    """A name, key=value pairs and a JSON object select the same rows, filters included."""
    counts = []
    for current in (
        "production",
        "environment=production",
        "environment=production,version=v1|v2",  # v1 has training rows only
        "environment=production,start=2024-01-01,end=2030-01-01",
        '{"environment": ["production"], "version": "v2"}',
    ):
        r = http.get("/drift", params={"reference": "training", "current": current})
        assert r.status_code == 200, (current, r.text)
        counts.append(r.json()["n_current"])
    assert counts == [1000] * 5
    paris = '{"environment": "production", "where": {"city": "paris", "region": ["EU", "US"]}}'
    r = http.get("/drift", params={"reference": "training", "current": paris})
    assert r.json()["n_current"] == 334  # ids 3000..3999 with id % 3 == 0
    by_query = http.get(
        "/performance",
        params={"environment": "production", "where": '{"city": "paris"}', "metrics": "accuracy"},
    ).json()
    assert by_query["rows"][0]["n"] == 334


def test_baselines_are_created_listed_read_and_used(http: httpx.Client) -> None:
    assert "train" not in [b["name"] for b in http.get("/baselines").json()]
    r = http.post("/baselines", json={"name": "train", "environment": "training"})
    assert r.status_code == 201, r.text
    first = r.json()
    assert (first["name"], first["version"], first["n_rows"]) == ("train", 1, 1000)
    assert first["selector"]["environment"] == ["training"]
    assert set(first["binnings"]) >= {"age", "income", "city", "region", "prediction_score"}
    second = http.post(
        "/baselines",
        json={"name": "train", "environment": "training", "where": {"region": "EU"}},
    ).json()
    assert second["version"] == 2 and second["n_rows"] == 500
    (listed,) = [b for b in http.get("/baselines").json() if b["name"] == "train"]
    assert listed["version"] == 2
    assert http.get("/baselines/train").json()["n_rows"] == 500
    assert http.get("/baselines/train", params={"version": 1}).json() == first

    # the baseline's frozen bins and expectations are what the analyses use
    for reference in ("train", "baseline=train", "baseline=train@2"):
        r = http.get("/drift", params={"reference": reference, "current": "production"})
        assert r.status_code == 200 and r.json()["n_reference"] == 500
    assert (
        http.get(
            "/drift", params={"reference": "baseline=train@1", "current": "production"}
        ).json()["n_reference"]
        == 1000
    )
    q = http.get("/quality", params={"environment": "production", "reference": "train"}).json()
    assert any(i["check"] == "out_of_range" for i in q["issues"])
    s = http.get(
        "/slices", params={"environment": "production", "reference": "baseline=train@1"}
    ).json()
    assert s["binnings"]["age"] == first["binnings"]["age"]
    report = http.get("/report", params={"reference": "train", "current": "production"}).json()
    assert report["reference"]["baseline"] == {"name": "train", "version": 2, "moving_days": None}

    moving = http.post(
        "/baselines", json={"name": "last-day", "environment": "production", "moving_days": 1}
    )
    assert moving.status_code == 201 and moving.json()["moving_days"] == 1
    r = http.get("/drift", params={"reference": "last-day", "current": "production"})
    assert r.status_code == 400  # nothing the day before production starts
    assert "no rows" in r.json()["error"]["message"]


# -- errors ------------------------------------------------------------------------------------

#: (path, params, status, type, the parameter named in details)
BAD: list[tuple[str, dict[str, Any], int, str, str | None]] = [
    ("/performance", {"metrics": "acuracy"}, 400, "ParameterError", "metric"),
    ("/performance", {"metrics": "mae"}, 400, "ParameterError", "metrics"),
    ("/performance", {"by": "nope"}, 400, "ParameterError", "by"),
    # a numeric column: by is what is wrong here, where there are no bins to pass
    ("/performance", {"by": "income"}, 400, "ParameterError", "by"),
    ("/performance", {"environment": "prod"}, 400, "ParameterError", "environment"),
    ("/performance", {"start": "yesterday"}, 400, "ParameterError", "start"),
    ("/performance", {"start": "2024-02-01", "end": "2024-01-01"}, 400, "ParameterError", "end"),
    ("/performance", {"where": "{city: paris}"}, 400, "ParameterError", "where"),
    ("/performance", {"where": '["paris"]'}, 400, "ParameterError", "where"),
    ("/performance", {"where": '{"city": {"a": 1}}'}, 400, "ParameterError", "where['city']"),
    ("/performance", {"where": '{"age": "old"}'}, 400, "ParameterError", "where['age']"),
    ("/performance", {"where": '{"timestamp": "x"}'}, 400, "ParameterError", "where['timestamp']"),
    ("/performance", {"where": '{"nope": 1}'}, 400, "ParameterError", "where"),
    ("/performance", {"positive_class": "yes"}, 400, "ParameterError", "positive_class"),
    ("/performance", {"threshold": "2"}, 400, "ParameterError", "threshold"),
    ("/performance", {"threshold": "nan"}, 400, "ParameterError", "threshold"),
    ("/performance", {"confidence": "1"}, 400, "ParameterError", "confidence"),
    ("/performance", {"threshold": "high"}, 422, "RequestValidationError", None),
    ("/drift", {"current": "production"}, 422, "RequestValidationError", None),
    ("/drift", {"reference": "trian", "current": "production"}, 400, "ParameterError", "reference"),
    (
        "/drift",
        {"reference": "training", "current": "baseline=train"},
        400,
        "ParameterError",
        "current",
    ),
    (
        "/drift",
        {"reference": "env=training", "current": "production"},
        400,
        "ParameterError",
        "reference",
    ),
    ("/drift", {"reference": "{", "current": "production"}, 400, "ParameterError", "reference"),
    (
        "/drift",
        {"reference": '{"environment": 5}', "current": "production"},
        400,
        "ParameterError",
        "reference.environment",
    ),
    (
        "/drift",
        {"reference": '{"env": "training"}', "current": "production"},
        400,
        "ParameterError",
        "reference",
    ),
    (
        "/drift",
        {"reference": "baseline=nope@2", "current": "production"},
        400,
        "ParameterError",
        "reference.baseline",
    ),
    (
        "/drift",
        {"reference": "training", "current": "production", "method": "psy"},
        400,
        "ParameterError",
        None,
    ),
    (
        "/drift",
        {"reference": "training", "current": "production", "alpha": "1.5"},
        400,
        "ParameterError",
        "alpha",
    ),
    (
        "/drift",
        {"reference": "training", "current": "production", "threshold": "-1"},
        400,
        "ParameterError",
        "threshold",
    ),
    (
        "/drift/over-time",
        {"reference": "training", "current": "production", "threshold": "inf"},
        400,
        "ParameterError",
        "threshold",
    ),
    (
        "/drift",
        {"reference": "training", "current": "production", "columns": "nope"},
        400,
        "ParameterError",
        None,
    ),
    (
        "/drift/over-time",
        {"reference": "training", "current": "production", "by": "fortnight"},
        400,
        "ParameterError",
        None,
    ),
    ("/quality", {"by": "minute"}, 400, "ParameterError", None),
    ("/quality", {"reference": "validation"}, 400, "ParameterError", "reference"),
    ("/quality", {"min_rows": "0"}, 400, "ParameterError", "min_rows"),
    ("/slices", {"metric": "confusion_matrix"}, 400, "ParameterError", "metric"),
    ("/slices", {"min_support": "-1"}, 400, "ParameterError", "min_support"),
    ("/slices", {"columns": "timestamp"}, 400, "ParameterError", None),
    (
        "/report",
        {"reference": "training", "current": "validation"},
        400,
        "ParameterError",
        "current",
    ),
    (
        "/report",
        {"reference": "training", "current": "production", "window": "minute"},
        400,
        "ParameterError",
        "window",
    ),
    (
        "/report",
        {"reference": "training", "current": "production", "format": "pdf"},
        422,
        "RequestValidationError",
        None,
    ),
    ("/baselines/nope", {}, 400, "ParameterError", "baseline"),
    ("/baselines/kept", {"version": "0"}, 422, "RequestValidationError", None),
    ("/baselines/kept", {"version": "7"}, 400, "ParameterError", "version"),
    (
        "/drift",
        {"reference": "baseline=kept@7", "current": "production"},
        400,
        "ParameterError",
        "reference.version",
    ),
]


UNKNOWN_VERSION = [
    ("/performance", {"version": "v404"}),
    ("/quality", {"version": ["v1", "v404"]}),
    ("/slices", {"environment": "production", "version": "v404"}),
    ("/drift", {"reference": "training", "current": "environment=production,version=v404"}),
    ("/drift/over-time", {"reference": "version=v404", "current": "production"}),
    ("/report", {"reference": "training", "current": '{"version": "v404"}'}),
]


@pytest.mark.parametrize(("path", "params"), UNKNOWN_VERSION)
def test_an_unknown_version_is_refused_by_every_analysis(
    http: httpx.Client, path: str, params: dict[str, Any]
) -> None:
    # it answered 200 with every metric null, while the UI refused it
    error = assert_error(http.get(path, params=params), 400, "ParameterError")
    # within a side of a comparison, the side is named too
    side = next((k for k in ("current", "reference") if "v404" in str(params.get(k))), "")
    assert error["details"] == {
        "name": f"{side}.version" if side else "version",
        "expected": "a version of model 'clf' (v1, v2)",
        "got": "v404",
    }


def test_an_unknown_version_is_no_rows_for_a_dataset_and_refused_by_an_analysis(
    server: Server, http: httpx.Client, tmp_path: Path
) -> None:
    # model.dataset() is a query, which may match nothing; the analyses given a selection
    # by its arguments refuse a version never logged, embedded and through the server alike
    assert http.get("/rows/count", params={"version": "v404"}).json() == {"rows": 0}
    assert_error(
        http.post("/baselines", json={"name": "b404", "version": "v404"}), 400, "ParameterError"
    )
    with es.connect(server.url) as remote:
        served = remote.model("clf")
        assert served.dataset(version="v404").count() == 0
        with pytest.raises(es.ParameterError) as remote_error:
            served.performance({"version": "v404"})
    with es.connect(tmp_path / "s") as store:
        embedded = fill(store, n=50)
        assert embedded.dataset(version="v404").count() == 0
        with pytest.raises(es.ParameterError) as embedded_error:
            embedded.performance({"version": "v404"})
        with pytest.raises(es.ParameterError, match="Did you mean 'v2'"):
            embedded.create_baseline("b", version="V2")
    assert str(remote_error.value) == str(embedded_error.value)
    assert (
        str(embedded_error.value)
        == "version must be a version of model 'clf' (v1, v2); got 'v404'."
    )


@pytest.mark.parametrize(("path", "params", "status", "type_", "name"), BAD)
def test_bad_requests_name_the_problem(
    http: httpx.Client,
    path: str,
    params: dict[str, Any],
    status: int,
    type_: str,
    name: str | None,
) -> None:
    if http.get("/baselines/kept").status_code == 400:  # a baseline of its own, one version
        assert http.post("/baselines", json={"name": "kept"}).status_code == 201
    error = assert_error(http.get(path, params=params), status, type_)
    if name is not None:
        assert error["details"]["name"] == name, error


def test_advice_names_only_what_the_caller_can_pass(
    server: Server, http: httpx.Client, tmp_path: Path
) -> None:
    """A numeric ``by``, and slices of a selection without rows: the REST answer names
    query parameters and endpoints, the Python one the model's methods; neither names an
    argument the caller does not have (``bins`` of the analyses' performance(), the
    internal ``ds`` and ``binnings`` of slices())."""
    numeric = {"environment": "production", "metrics": "accuracy", "by": "income"}
    error = assert_error(http.get("/performance", params=numeric), 400, "ParameterError")
    assert error["details"]["name"] == "by"
    assert error["message"] == (
        "by must be a time window or a categorical, boolean or integer column; got 'income'. "
        "'income' is numeric (integer features are too) and this endpoint takes no bin "
        "edges: GET /api/v1/models/clf/slices?columns=income gives a metric per bin of it; to "
        "group by each of its values, log it with feature_types 'income': categorical in the "
        "schema."
    )
    named = http.get("/slices", params={"environment": "production", "columns": "income"})
    assert named.status_code == 200 and named.json()["columns"] == ["income"]
    empty = {"environment": "production", "start": "2030-01-01"}
    error = assert_error(http.get("/slices", params=empty), 400, "ParameterError")
    assert error["message"] == (
        "selection must be rows to fit the bins on; got 'no rows for "
        "environment=production&start=2030-01-01'. Pick another time range (start, end), "
        "environment or version, or pass reference= (a baseline, or other rows) to take the "
        "bins from."
    )
    binned = http.get("/slices", params={**empty, "reference": "training"})
    assert binned.status_code == 200 and binned.json()["overall"]["n"] == 0
    # the remote model says what the server says
    with es.connect(server.url) as remote, pytest.raises(es.ParameterError, match="no bin edges"):
        remote.model("clf").performance("production", ["accuracy"], by="income")

    with es.connect(tmp_path / "s") as store:
        model = fill(store, n=50)
        with pytest.raises(es.ParameterError) as exc:
            model.performance("production", ["accuracy"], by="income")
        assert str(exc.value) == (
            "by must be a time window or a categorical, boolean or integer column; got "
            "'income'. 'income' is numeric (integer features are too): model.slices(dataset, "
            "metric, columns=['income']) gives a metric per bin of it, and "
            "evalstore.analyses.performance.performance(model.dataset(...), metrics, "
            "by='income', bins={'income': [0, 30, 60]}) groups it on edges of your own; to "
            "group by each of its values, log it with feature_types={'income': 'categorical'} "
            "in the Schema."
        )
        # both ways it names work
        assert model.slices("production", "accuracy", columns=["income"]).columns == ["income"]
        rows = model.dataset(environment="production")
        grouped = performance(rows, ["accuracy"], by="income", bins={"income": [0, 30, 60]})
        assert sum(r["n"] for r in grouped.rows) == 50
        with pytest.raises(es.ParameterError) as exc:
            model.slices({"environment": "production", "start": "2030-01-01"})
        assert str(exc.value) == (
            "dataset must be a selection with rows to fit the bins on; got 'no rows for "
            "environment=production, from 2030-01-01 00:00'. Pick another time range, "
            "environment or version (model.info() shows what the store holds), or pass "
            "reference= (a baseline, or other rows) to take the bins from."
        )


def test_refusals_write_nothing(server: Server, http: httpx.Client) -> None:
    before = httpx.get(server.api("/store")).json()
    versions = {b["name"]: b["version"] for b in http.get("/baselines").json()}
    refused = [
        ({"name": "bad name!", "environment": "training"}, 400, "ParameterError"),
        ({"name": "b", "environment": "prod"}, 400, "ParameterError"),
        ({"name": "b", "where": {"age": "old"}}, 400, "ParameterError"),
        ({"name": "b", "where": {"nope": 1}}, 400, "ParameterError"),
        ({"name": "b", "start": "2031-01-01"}, 400, "ParameterError"),
        ({"name": "b", "moving_days": 0}, 400, "ParameterError"),
        ({"name": "b", "moving_days": 10**9}, 400, "ParameterError"),
        ({"name": "b", "columns": ["nope"]}, 400, "ParameterError"),
        ({"environment": "training"}, 422, "RequestValidationError"),
    ]
    for body, status, type_ in refused:
        assert_error(http.post("/baselines", json=body), status, type_)
    assert {b["name"]: b["version"] for b in http.get("/baselines").json()} == versions
    assert httpx.get(server.api("/store")).json() == before
    # and the analyses never write
    for path, params, *_ in BAD[:5]:
        http.get(path, params=params)
    http.get("/report", params={"reference": "training", "current": "production"})
    assert httpx.get(server.api("/store")).json() == before
    assert_error(httpx.get(server.api("/models/nope/performance")), 404, "ModelNotFound")
    empty = httpx.get(server.api("/models/empty/performance"))  # no rows: no metric, as embedded
    assert empty.status_code == 200 and empty.json()["rows"] == []


# -- the remote SDK --------------------------------------------------------------------------


def _close(a: Any, b: Any, where: str = "") -> None:
    """Equal, floats to 1e-9 (DuckDB's parallel sums may differ in the last bits)."""
    if isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or (a != a and b != b), where
    elif isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _close(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def test_remote_results_equal_embedded_results(tmp_path: Path) -> None:
    path = tmp_path / "store"
    with es.connect(path) as store:
        fill(store, n=600)
    production = {"environment": "production"}
    eu = {"environment": "production", "where": {"region": "EU"}}
    with Server(path) as served, es.connect(served.url) as remote:
        model = remote.model("clf")
        assert isinstance(model, RemoteModel)
        base = model.create_baseline("base", environment="training", version="v1")
        assert isinstance(base, Baseline) and (base.version, base.n_rows_) == (1, 600)
        got: dict[str, Any] = {
            "perf": model.performance(production, ["accuracy", "roc_auc"], by="day"),
            "perf_city": model.performance("production", by=["city"], threshold=0.3),
            "drift": model.drift("training", "production"),
            "drift_base": model.drift(base, production, method="ks"),
            "over_time": model.drift_over_time("training", "production", by="week"),
            "quality": model.quality("production", reference="training", by="week"),
            "quality_base": model.quality(production, reference=base),
            "quality_issues": model.quality("production", reference=base, details=False),
            "slices": model.slices("production", "accuracy", reference="training"),
            "slices_base": model.slices(eu, reference="baseline=base@1", min_support=5),
            "report": model.report(base, {**production, "start": "2024-04-01"}),
            "baseline": model.baseline("base"),
            "baselines": model.baselines(),
        }
        types = {
            "perf": PerformanceResult,
            "drift": DriftResult,
            "over_time": DriftOverTime,
            "quality": QualityResult,
            "slices": SliceResult,
            "report": Report,
            "baseline": Baseline,
        }
        for key, kind in types.items():
            assert isinstance(got[key], kind), key
        assert served.stop() in (0, -15)

    with es.connect(path) as store:
        m = store.model("clf")
        cur = m.dataset(environment="production")
        train = m.dataset(environment="training")
        stored = m.baseline("base")
        ref = stored.selector.dataset(m)
        expected = {
            "perf": performance(cur, ["accuracy", "roc_auc"], by="day"),
            "perf_city": performance(cur, by=["city"], threshold=0.3),
            "drift": drift(train, cur),
            "drift_base": drift(
                ref, cur, feature_columns(ref), method="ks", binnings=stored.binnings_
            ),
            "over_time": drift_over_time(train, cur, by="week"),
            "quality": quality(cur, learn_expectations(train), by="week"),
            "quality_base": quality(cur, stored.expectations_),
            "quality_issues": quality(cur, stored.expectations_, details=False),
            "slices": slices(cur, "accuracy", reference=train),
            "slices_base": slices(
                m.dataset(**eu), binnings=stored.binnings_, reference=ref, min_support=5
            ),
            "report": m.report("base", {**production, "start": "2024-04-01"}),
            "baseline": stored,
            "baselines": m.baselines(),
        }
        # the embedded model's methods take the remote one's arguments and mean the same
        methods: dict[str, Any] = {
            "perf": m.performance(production, ["accuracy", "roc_auc"], by="day"),
            "perf_city": m.performance("production", by=["city"], threshold=0.3),
            "drift": m.drift("training", "production"),
            "drift_base": m.drift(stored, production, method="ks"),
            "over_time": m.drift_over_time("training", "production", by="week"),
            "quality": m.quality("production", reference="training", by="week"),
            "quality_base": m.quality(production, reference=stored),
            "quality_issues": m.quality("production", reference=stored, details=False),
            "slices": m.slices("production", "accuracy", reference="training"),
            "slices_base": m.slices(eu, reference="base", min_support=5),
        }
    for key, value in methods.items():
        _close(value.to_dict(), expected[key].to_dict(), f"embedded {key}")
    for key, value in expected.items():
        ours, theirs = got[key], value
        if key == "baselines":
            assert ours == theirs
            continue
        a, b = ours.to_dict(), theirs.to_dict()
        if key == "report":
            for part in (a, b):
                part.pop("created_at"), part.pop("timings")
        _close(a, b, key)


def test_remote_sdk_refusals(server: Server, tmp_path: Path) -> None:
    with es.connect(server.url) as remote, es.connect(tmp_path / "local") as local:
        model = remote.model("clf")
        lm = fill(local, n=50)
        with pytest.raises(es.ParameterError, match="give its selection as a dict") as exc:
            model.report("training", lm.dataset(environment="production"))
        assert exc.value.name == "current"
        with pytest.raises(es.ParameterError, match="A Dataset cannot travel"):
            model.performance(lm.dataset())
        with pytest.raises(es.ParameterError, match="cannot travel to the server"):
            model.slices({"where": lambda t: t.age > 3})
        with pytest.raises(es.ParameterError, match="a stored baseline"):
            model.drift(Baseline("unsaved"), "production")
        with pytest.raises(es.ParameterError, match="keys among"):
            model.quality({"environment": "production", "env": "x"})
        # the server's refusals are the embedded ones, message and all
        mistakes = [
            (
                lambda: model.performance("production", ["acuracy"]),
                lambda: performance(lm.dataset(environment="production"), ["acuracy"]),
            ),
            (
                lambda: model.drift("training", "production", alpha=1.5),
                lambda: drift(lm.dataset(environment="training"), lm.dataset(), alpha=1.5),
            ),
            (
                lambda: model.report("training", "prod"),
                lambda: lm.report("training", "prod"),
            ),
            (
                lambda: model.slices("production", "confusion_matrix"),
                lambda: slices(lm.dataset(), "confusion_matrix"),
            ),
        ]
        for served, embedded in mistakes:
            with pytest.raises(es.ParameterError) as theirs:
                embedded()
            with pytest.raises(es.ParameterError) as ours:
                served()
            assert str(ours.value) == str(theirs.value)
            assert ours.value.name == theirs.value.name
        with pytest.raises(es.ParameterError, match="baseline"):
            model.baseline("nope")
        with pytest.raises(es.ModelNotFound):
            remote.model("nope")


# -- reads while a batch commits ---------------------------------------------------------------


def _ipc(df: pd.DataFrame) -> bytes:
    table = pa.Table.from_pandas(df, preserve_index=False)
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def test_reads_run_while_a_large_batch_commits_and_see_it_whole_or_not(server: Server) -> None:
    api = server.api("")
    http = httpx.Client(base_url=api, timeout=300)
    http.post("/models", json={"name": "busy", "task": "binary_classification"})
    schema = BINARY_SCHEMA.to_dict()
    for environment, start in (("training", 0), ("validation", 10_000)):
        rows = binary_frame(500, start=start).to_json(orient="records", date_format="iso")
        r = http.post(
            "/models/busy/inferences",
            json={
                "schema": schema,
                "version": "v1",
                "environment": environment,
                "records": json.loads(rows),
            },
        )
        assert r.status_code == 201, r.text
    big = binary_frame(400_000, start=100_000)
    upload = http.post(
        "/models/busy/uploads",
        json={"kind": "inferences", "schema": schema, "version": "v2", "environment": "validation"},
    ).json()
    for n, part in enumerate((big.iloc[:200_000], big.iloc[200_000:])):
        assert (
            http.put(
                f"/uploads/{upload['upload_id']}/chunks/{n}", content=_ipc(part), headers=ARROW
            ).status_code
            == 200
        )
    before, after = 500, 500 + len(big)

    reads: list[tuple[str, float, int, Any]] = []
    done = threading.Event()

    def count(kind: str, body: dict[str, Any]) -> Any:
        if kind == "performance":
            row = body["rows"][0]
            return row["n"] + row["n_without_actual"]
        if kind == "drift":
            return body["n_current"]
        if kind == "quality":
            return body["windows"][0]["n"]
        # one report reads in one snapshot: each of its parts counts the same rows
        perf = body["performance"]["current"]["rows"][0]
        return (
            body["current"]["rows"],
            body["drift"]["n_current"],
            body["quality"]["windows"][0]["n"],
            perf["n"] + perf["n_without_actual"],
        )

    queries = {
        "performance": ("/models/busy/performance", {"environment": "validation"}),
        "drift": ("/models/busy/drift", {"reference": "training", "current": "validation"}),
        "quality": ("/models/busy/quality", {"environment": "validation"}),
        "report": ("/models/busy/report", {"reference": "training", "current": "validation"}),
    }

    def reader(kind: str) -> None:
        path, params = queries[kind]
        with httpx.Client(base_url=api, timeout=300) as client:
            while True:
                last = done.is_set()
                r = client.get(path, params=params)
                body = r.json() if r.status_code == 200 else r.text
                found = count(kind, body) if r.status_code == 200 else None
                reads.append((kind, time.monotonic(), r.status_code, found))
                if last:
                    return

    threads = [threading.Thread(target=reader, args=(k,)) for k in queries]
    for t in threads:
        t.start()
    time.sleep(0.5)  # the readers are going
    started = time.monotonic()
    commit = http.post(f"/uploads/{upload['upload_id']}/commit", json={"chunks": 2})
    ended = time.monotonic()
    done.set()
    for t in threads:
        t.join(300)
    http.close()
    assert commit.status_code == 200 and commit.json()["rows"] == len(big), commit.text

    assert reads and all(status == 200 for _, _, status, _ in reads), reads
    for kind, _, _, found in reads:
        if kind == "report":
            assert found in ((before,) * 4, (after,) * 4), found
        else:
            assert found in (before, after), (kind, found)
    during = [r for r in reads if started < r[1] < ended and r[0] != "report"]
    assert during, f"no read finished during the {ended - started:.1f} s commit"
    last = {kind: found for kind, _, _, found in sorted(reads, key=lambda r: r[1])}
    assert last["performance"] == last["drift"] == last["quality"] == after


def test_a_snapshot_reads_one_state_of_the_store(store: es.Store) -> None:
    """Reads in a snapshot do not see a batch committed meanwhile (by another thread), new
    columns included; the next read after it does."""
    model = fill(store, n=100)
    engine = store._engine
    ds = model.dataset(environment="production")
    extra = binary_frame(50, start=1000).assign(tenure=1.5)
    wider = es.Schema(
        **{**BINARY_SCHEMA.to_dict(), "features": ["age", "income", "city", "tenure"]}
    )
    with engine.snapshot():
        assert ds.count() == 100
        with engine.snapshot():  # nests
            writer = threading.Thread(
                target=model.log,
                args=(extra,),
                kwargs={"schema": wider, "version": "v3", "environment": "production"},
            )
            writer.start()
            writer.join()
        assert model.dataset(environment="production").count() == 100
        assert "tenure" not in model.dataset().columns
        assert performance(ds, ["accuracy"]).rows[0]["n"] == 100
    assert model.dataset(environment="production").count() == 150
    assert "tenure" in model.dataset().columns
    with pytest.raises(es.ParameterError), engine.snapshot():  # an error ends it
        model.dataset(environment="prod")
    assert model.dataset().count() == 250


def test_parse_selection() -> None:
    from evalstore.selection import BaselineRef, parse_selection

    assert parse_selection(" training ", "r") == "training"
    assert parse_selection("baseline=base", "r") == BaselineRef("base", None)
    assert parse_selection("baseline=base@12", "r") == BaselineRef("base", 12)
    assert parse_selection("environment=production,version=v1|v2,start=2024-06-01", "r") == {
        "environment": "production",
        "version": ["v1", "v2"],
        "start": "2024-06-01",
    }
    assert parse_selection('{"environment": ["training"], "where": {"a": [1, "x"]}}', "r") == {
        "environment": ["training"],
        "where": {"a": [1, "x"]},
    }
    for bad, name in (
        ("env=training", "--current"),
        ("baseline=base,environment=training", "--current"),
        ("baseline=base@x", "--current"),
        ('{"environment": "training"', "--current"),
        ('{"env": "training"}', "--current"),
        ('{"start": 5}', "--current.start"),
        ('{"where": {"a": {"b": 1}}}', "--current.where['a']"),
        ('{"where": {"a": []}}', "--current.where['a']"),
    ):
        with pytest.raises(es.ParameterError) as exc:
            parse_selection(bad, "--current")
        assert exc.value.name == name, bad


# -- docs/api.md -------------------------------------------------------------------------------

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def _blocks(lang: str) -> list[str]:
    return [m.group(2) for m in _FENCE.finditer(DOC.read_text()) if m.group(1) == lang]


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_api_doc_analysis_examples_run(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (python,) = _blocks("python3")
    assert DEFAULT_URL in python
    exec(compile(python.replace(DEFAULT_URL, server.url), str(DOC), "exec"), {})
    shells = _blocks("shell")
    assert len(shells) == 2
    outputs = []
    for block in shells:
        r = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", block.replace(DEFAULT_URL, server.url)],
            capture_output=True,
            text=True,
            timeout=120,
            env=os.environ,
        )
        assert r.returncode == 0, block + r.stderr
        outputs.append(r.stdout)
    answers = outputs[0].replace("}{", "}\n{").splitlines()
    perf, drifted, weekly, checked, sliced = (json.loads(a) for a in answers)
    assert perf["by"] == ["week"] and drifted["drifted"] and "issues" in checked
    assert weekly["by"] == "week" and weekly["windows"][0]["columns"][0]["column"] == "tenure"
    assert sliced["metric"] == "accuracy"
    created, stored, listed = outputs[1].replace("}{", "}\n{").replace("}[", "}\n[").splitlines()
    assert json.loads(created) == json.loads(stored)
    assert json.loads(created)["name"] == "late-july"
    assert [b["name"] for b in json.loads(listed)] == ["late-july", "training"]
    assert (tmp_path / "report.html").read_text().startswith("<!DOCTYPE html>")


def test_remote_text_labels_positive_class(server: Server, tmp_path: Path) -> None:
    """A yes/no model through the server: report and baseline take positive_class, as the
    embedded ones do, with the same numbers and the same refusal."""
    rng = np.random.default_rng(7)
    n = 800
    score = rng.random(n)
    schema = es.Schema(prediction_id="id", prediction_score="score", actual_label="y")
    frames = {
        env: pd.DataFrame(
            {
                "id": [f"{env}-{i}" for i in range(n)],
                "score": score,
                "y": np.where(rng.random(n) < score, "yes", "no"),
            }
        )
        for env in ("training", "production")
    }
    with es.connect(server.url) as remote, es.connect(tmp_path / "local") as local:
        models = [
            remote.model("text-labels", task="binary_classification"),
            local.model("text-labels", task="binary_classification"),
        ]
        reports = []
        for model in models:
            for env, df in frames.items():
                model.log(df, schema=schema, version="v1", environment=env)
            with pytest.raises(es.ParameterError, match=r"to report\(\)"):
                model.report("training", "production")
            base = model.create_baseline("train", environment="training", positive_class="no")
            assert base.positive_class == "no" and model.baseline("train").positive_class == "no"
            reports.append(
                [
                    model.report("training", "production", positive_class="yes"),
                    model.report("train", "production"),  # the baseline's: "no"
                ]
            )
    y = frames["production"].y
    for given, stored in reports:
        assert given.performance_current.value("roc_auc") == pytest.approx(
            roc_auc_score(y == "yes", score), abs=1e-4
        )
        assert stored.performance_current.positive_class == "no"
        assert stored.performance_current.value("roc_auc") == pytest.approx(
            roc_auc_score(y == "no", score), abs=1e-4
        )
    (remote_given, remote_stored), (local_given, local_stored) = reports
    assert remote_given.performance_current.rows == local_given.performance_current.rows
    assert remote_stored.performance_current.rows == local_stored.performance_current.rows
