"""docs/api.md holds: its Python and curl examples run against a real server, the error it
pastes is what the server answers, and it names every endpoint the server has.

The Python example is fenced as ``py`` rather than ``python``: it needs a running server, so
it runs here, not in test_docs.py's server-less runner.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

import evalstore as es
from evalstore.server import create_app
from server_harness import shared_server

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
DEFAULT_URL = "http://127.0.0.1:8080"


def _blocks(lang: str) -> list[str]:
    return [m.group(2) for m in _FENCE.finditer(DOC.read_text()) if m.group(1) == lang]


def test_every_endpoint_is_documented(tmp_path: Path) -> None:
    doc = DOC.read_text()
    with es.connect(tmp_path / "store") as store:
        paths = create_app(store).openapi()["paths"]
    endpoints = [f"{method.upper()} {path}" for path, ops in paths.items() for method in ops]
    assert len(endpoints) >= 16
    for endpoint in endpoints:
        assert f"`{endpoint}`" in doc, endpoint
    # and every flag of `evalstore serve`
    for flag in ("--host", "--port", "--api-key", "--max-body-size", "--store"):
        assert f"`{flag}`" in doc, flag


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_examples_run_against_a_server(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    pd.DataFrame({"id": ["d", "e", "f"], "score": [0.1, 0.9, 0.5], "label": [0, 1, 1]}).to_parquet(
        "preds.parquet"
    )
    server = shared_server(tmp_path_factory)
    (python,) = _blocks("py")
    assert DEFAULT_URL in python
    exec(compile(python.replace(DEFAULT_URL, server.url), str(DOC), "exec"), {})

    curls = [b for b in _blocks("bash") if "curl" in b]
    assert len(curls) == 3
    outputs = []
    for block in curls:
        r = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", block.replace(DEFAULT_URL, server.url)],
            capture_output=True,
            text=True,
            timeout=60,
            env=os.environ,
        )
        assert r.returncode == 0, block + r.stderr
        outputs.append(r.stdout)
    form, upload, refused = outputs
    assert json.loads(form)["rows"] == 3
    chunk, report = (json.loads(line) for line in upload.replace("}{", "}\n{").splitlines())
    assert chunk["rows"] == 3 and report["rows"] == 3
    (pasted,) = _blocks("json")
    assert json.loads(refused) == json.loads(pasted)

    with es.connect(server.url) as store:
        info = store.model("churn").info()
    assert info.versions == ["v1", "v2", "v3"]
    assert info.rows == {"production": 9} and info.with_actuals == {"production": 2}
