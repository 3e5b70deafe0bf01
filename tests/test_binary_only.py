"""``positive_class`` and ``threshold`` are for binary models: any other model refuses them
with one message, naming the parameter, what it is for and what to do instead, in Python,
over REST, through the remote SDK and in the CLI (the trial's ``threshold=0.3`` on a
regression model was accepted silently; ``positive_class='mid'`` said only "must be None")."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import mean_absolute_error

import evalstore as es
from conftest import random_classes
from server_harness import Server, shared_server
from test_cli import run

CLASSES = ("high", "low", "mid")
SCORES = {c: f"p_{c}" for c in CLASSES}


def _multiclass(n: int = 60) -> pd.DataFrame:
    return random_classes(SCORES, n, 0, prefix="m", actual="y")


def _regression(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"id": [f"r{i}" for i in range(n)], "x": rng.random(n)})
    frame["yhat"] = rng.normal(10, 2, n)
    frame["y"] = frame["yhat"] + rng.normal(0, 1, n)
    return frame


def _fill(store: Any, prefix: str) -> tuple[Any, Any]:
    mc = store.model(f"{prefix}mc", task="multiclass_classification")
    mc.log(
        _multiclass(),
        schema=es.Schema(prediction_id="id", features=["x"], prediction_score=SCORES,
                         actual_label="y"),
        version="v1", environment="production",
    )  # fmt: skip
    reg = store.model(f"{prefix}reg", task="regression")
    reg.log(
        _regression(),
        schema=es.Schema(prediction_id="id", features=["x"], prediction_score="yhat",
                         actual_score="y"),
        version="v1", environment="production",
    )  # fmt: skip
    return mc, reg


def _calls(mc: Any, reg: Any) -> list[tuple[str, Callable[[], Any]]]:
    return [
        ("positive_class", lambda: mc.performance("production", positive_class="mid")),
        ("positive_class", lambda: mc.slices("production", positive_class="mid")),
        ("positive_class", lambda: mc.quality("production", positive_class="mid")),
        ("positive_class", lambda: reg.performance("production", positive_class="mid")),
        ("threshold", lambda: reg.performance("production", threshold=0.3)),
        ("threshold", lambda: reg.slices("production", threshold=0.3)),
        ("threshold", lambda: reg.quality("production", threshold=0.3)),
        ("threshold", lambda: mc.performance("production", threshold=0.5)),
    ]


def _says(message: str, name: str) -> None:
    assert message.startswith(f"{name} must be given only for a binary model"), message
    if name == "positive_class" and "multiclass" in message:
        assert "need no positive class" in message, message
        assert "confusion_matrix" in message and "per_class" in message, message
    assert "leave it out" in message, message


def test_python_refuses_them_for_other_models(store: es.Store) -> None:
    mc, reg = _fill(store, "")
    for name, call in _calls(mc, reg):
        with pytest.raises(es.ParameterError) as info:
            call()
        assert info.value.name == name
        _says(str(info.value), name)
    # left out, the default still holds, and a binary-only setting is in no result
    result = reg.performance("production", ["mae"])
    frame = _regression()
    assert result.value("mae") == pytest.approx(mean_absolute_error(frame["y"], frame["yhat"]))
    assert result.threshold is None and result.positive_class is None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Server:
    return shared_server(tmp_path_factory)


def test_rest_and_remote_refuse_them_alike(server: Server) -> None:
    remote = es.connect(server.url)
    try:
        mc, reg = _fill(remote, "binary-only-")
        for name, call in _calls(mc, reg):
            with pytest.raises(es.ParameterError) as info:
                call()
            _says(str(info.value), name)
    finally:
        remote.close()
    for model, params, name in (
        ("binary-only-reg", {"threshold": "0.3"}, "threshold"),
        ("binary-only-mc", {"positive_class": "mid"}, "positive_class"),
    ):
        got = httpx.get(
            server.api(f"/models/{model}/performance"),
            params={"environment": "production", **params},
        )
        assert got.status_code == 400
        error = got.json()["error"]
        assert error["type"] == "ParameterError" and error["details"]["name"] == name
        _says(error["message"], name)
    ok = httpx.get(server.api("/models/binary-only-reg/performance"), params={"metrics": "mae"})
    assert ok.status_code == 200 and ok.json()["threshold"] is None


def test_cli_names_the_flag(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with es.connect(home) as store:
        _fill(store, "")
    done = run(
        "report", "--model", "mc", "--reference", "production", "--current", "production",
        "--positive-class", "mid", store=home,
    )  # fmt: skip
    assert done.returncode != 0
    text = " ".join(done.stderr.split())
    assert "--positive-class must be given only for a binary model" in text, text
    assert "need no positive class" in text and "confusion_matrix" in text, text
