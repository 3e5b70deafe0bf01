"""A fuzz run of the REST API from its own OpenAPI description (schemathesis): requests that
fit the description and requests that break it, to every endpoint of a real server whose
store holds a model with data and a baseline. No answer may be a 5xx, and every error has
the one shape.

Most requests name the model that exists (a random name only reaches the 404), and each
endpoint gets a bounded number of examples, so that the run takes well under a minute.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup

import evalstore as es
from conftest import (
    BINARY_SCHEMA,
    MULTICLASS_SCHEMA,
    REGRESSION_SCHEMA,
    binary_frame,
    multiclass_frame,
    regression_frame,
)
from evalstore.analyses.drift import available_drift_methods
from evalstore.analyses.metrics import available_metrics
from server_harness import Server

# chunks of an upload are binary bodies: sent as the fuzzer's bytes
schemathesis.serializer.alias(
    ["application/vnd.apache.arrow.stream", "application/vnd.apache.parquet"],
    "application/octet-stream",
)

MODEL = "fuzz"
#: models with data, one per task
MODELS = (MODEL, "fuzz-multi", "fuzz-reg")
#: examples per endpoint
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 16))
#: and per analysis endpoint, of the realistic values below
REALISTIC = int(os.environ.get("FUZZ_REALISTIC", 24))

_METRICS = sorted({m.key for m in available_metrics()})
_COLUMNS = ["age", "income", "city", "region", "x", "temp", "season", "prediction_score"]
_COLUMNS += ["prediction_label", "actual_label", "actual_score", "timestamp", "batch_id", "nope"]
_SELECTIONS = [
    "training",
    "production",
    "validation",
    "base",
    "baseline=base",
    "baseline=base@1",
    "baseline=base@7",
    "baseline=moving",
    "baseline=nope",
    "environment=production,version=v2",
    "environment=training|production",
    "start=2024-01-01,end=2024-01-02T06:00",
    "environment=production,start=2030-01-01",
    "end=2024-01-01,start=2024-02-01",
    '{"environment": "production", "where": {"city": ["paris", "lyon"]}}',
    '{"where": {"age": 20}}',
    '{"where": {"age": "x"}}',
    '{"where": {"timestamp": "2024-01-01T03:00:00"}}',
    '{"environment": 5}',
    '{"version": []}',
    "{",
    "",
    "baseline=",
    "environment=,",
]
#: plausible values of each query parameter: real names, edge numbers, near misses
POOLS: dict[str, list[Any]] = {
    "reference": _SELECTIONS,
    "current": _SELECTIONS,
    "environment": ["training", "production", "validation", "prod"],
    "version": ["v1", "v2", "v9"],
    "start": ["2024-01-01", "2024-01-01T05:00:00+02:00", "2024-13-01", "9999-12-31", "0001-01-01"],
    "end": ["2024-01-02", "2024-01-10T00:00:00Z", "nan", "0001-01-01T00:00:00"],
    "where": [
        '{"city": "paris"}',
        '{"age": [20, 21]}',
        '{"region": null}',
        '{"income": "x"}',
        '{"timestamp": "2024-01-01"}',
        '{"prediction_id": 1}',
        '{"actual_label": true}',
        '{"nope": 1}',
        '{"city": {"a": 1}}',
        '{"age": 1e400}',
        "[]",
        "null",
    ],
    "metrics": [*_METRICS, "nope"],
    "metric": [*_METRICS, "nope"],
    "by": [
        *("hour", "day", "week", "month", "year", "city", "region", "age", "income", "season"),
        *("environment", "version", "prediction_label", "actual_label", "timestamp", "nope"),
    ],
    "columns": _COLUMNS,
    "slice_columns": _COLUMNS,
    "method": [m.key for m in available_drift_methods()] + ["nope"],
    "alpha": [0.05, 0, 1, -1, "nan", 1e-300],
    "threshold": [0.5, 0, 1, 2, "nan", "inf"],
    "confidence": [0.95, 0, 1, 0.5, "nan"],
    "positive_class": ["1", "0", "true", "yes", "cat", "-3", "99999999999999999999"],
    "min_support": [0, 1, 30, -1, 10**12],
    "min_rows": [0, 1, 100, -1, 10**12],
    "window": ["hour", "day", "week", "month", "year", "minute"],
    "format": ["json", "html", "markdown"],
    "exact_distinct": ["true", "false"],
}
_REPEATED = {"environment", "version", "metrics", "by", "columns", "slice_columns"}


@st.composite
def _realistic(draw: st.DrawFn, operation: Any, names: list[str]) -> schemathesis.Case:
    """A request of ``operation`` whose query holds values drawn from POOLS."""
    case = draw(operation.as_strategy(GenerationMode.POSITIVE, path_parameters={"name": MODEL}))
    case.path_parameters = {**(case.path_parameters or {}), "name": draw(st.sampled_from(MODELS))}
    query: dict[str, Any] = {}
    for name in names:
        if name not in POOLS or not draw(st.booleans()):
            continue
        pool = st.sampled_from(POOLS[name])
        query[name] = (
            draw(st.lists(pool, min_size=1, max_size=3)) if name in _REPEATED else draw(pool)
        )
    for name in ("reference", "current"):  # required where they exist
        if name in names and name not in query:
            query[name] = draw(st.sampled_from(_SELECTIONS))
    case.query = query
    return case


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    path = tmp_path_factory.mktemp("fuzz") / "store"
    with es.connect(path) as store:
        model = store.model(MODEL, task="binary_classification")
        model.log(binary_frame(300), schema=BINARY_SCHEMA, version="v1", environment="training")
        model.log(
            binary_frame(300, start=500),
            schema=BINARY_SCHEMA,
            version="v2",
            environment="production",
        )
        model.create_baseline("base", environment="training")
        model.create_baseline("moving", environment="production", moving_days=1)
        for name, task, frame, schema in (
            ("fuzz-multi", "multiclass_classification", multiclass_frame, MULTICLASS_SCHEMA),
            ("fuzz-reg", "regression", regression_frame, REGRESSION_SCHEMA),
        ):
            other = store.model(name, task=task)
            other.log(frame(200), schema=schema, version="v1", environment="training")
            other.log(frame(200, start=300), schema=schema, version="v2", environment="production")
            other.create_baseline("base", environment="training")
    with Server(path, "--max-body-size", "1MB") as running:
        yield running


#: the request head uvicorn's HTTP parser accepts (h11's default), less room for the headers
HEAD_LIMIT = 16 * 1024 - 1024


def _head_bytes(case: schemathesis.Case) -> int:
    query = urlencode(case.query or {}, doseq=True)
    return len(case.formatted_path) + len(query) + len(json.dumps(case.headers or {}))


def _error_shape(response: Any) -> str | None:
    """What is wrong with an error answer's body, if anything."""
    try:
        body = response.json()
    except ValueError:
        return f"not JSON: {response.text[:200]!r}"
    error = body.get("error") if isinstance(body, dict) else None
    if set(body) != {"error"} or not isinstance(error, dict):
        return f"not the error shape: {body!r:.300}"
    if set(error) != {"type", "message", "details"} or not error["message"]:
        return f"not the error shape: {body!r:.300}"
    return None


def test_no_request_gets_a_5xx(server: Server) -> None:
    spec = httpx.get(f"{server.url}/openapi.json").json()
    schema = schemathesis.openapi.from_dict(spec)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 24
    for operation in operations:
        named = {"name": MODEL} if "{name}" in operation.path else None
        strategies = [
            operation.as_strategy(mode, path_parameters=fixed)
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
            for fixed in ([named, None] if named else [None])
        ]
        declared = spec["paths"][operation.path][operation.method.lower()].get("parameters", [])
        names = [p["name"] for p in declared if p["in"] == "query"]
        examples = EXAMPLES
        if operation.method.upper() == "GET" and set(names) & set(POOLS):
            strategies += [_realistic(operation, names)] * 3  # mostly realistic
            examples += REALISTIC

        @given(case=st.one_of(strategies))
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=not os.environ.get("FUZZ_EXPLORE"),  # the same requests every run
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            try:
                response = case.call(base_url=server.url, timeout=60)
            except requests.RequestException as exc:
                # uvicorn (h11) drops a request whose head is over 16 KiB before the app
                # sees it: not an answer of ours, and no 5xx
                if _head_bytes(case) > HEAD_LIMIT:
                    return
                failures.append(f"{case.method} {case.formatted_path}: {exc!r:.300}")
                return
            where = f"{case.method} {case.formatted_path} {case.query or ''}"
            try:
                case.validate_response(response, checks=[not_a_server_error])
            except (AssertionError, FailureGroup):  # a failed check
                failures.append(f"{where}: HTTP {response.status_code} {response.text[:300]}")
                return
            if response.status_code >= 400:
                wrong = _error_shape(response)
                if wrong:
                    failures.append(f"{where}: HTTP {response.status_code} {wrong}")

        run()
    assert not failures, "\n".join(sorted(set(failures))[:30])
    # the server is fine after all of it
    with es.connect(server.url) as remote:
        assert remote.model(MODEL).info().rows["training"] >= 300


def test_server_log_has_no_traceback(server: Server, tmp_path: Path) -> None:
    """Nothing the fuzzer sent made the server log an internal error."""
    assert "Traceback" not in server.output(), server.output()[-3000:]
