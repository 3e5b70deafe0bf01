"""The CLI end to end, in a real subprocess, against a real store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import evalstore as es

SCHEMA = """\
prediction_id: id
timestamp: ts
features: [tenure, plan]
prediction_score: score
prediction_label: label
"""


def run(*args: str, store: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EVALSTORE_HOME": str(store)}
    return subprocess.run(
        [sys.executable, "-m", "evalstore", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def log(
    file: object,
    schema: object,
    *,
    store: Path,
    model: str = "churn",
    environment: str = "production",
    task: str | None = None,
    long_flags: bool = False,
) -> subprocess.CompletedProcess[str]:
    """``evalstore log FILE`` for version v1, with the long or the short flag names."""
    names = (
        ("--model", "--version", "--environment", "--schema")
        if long_flags
        else ("-m", "-v", "-e", "-s")
    )
    values = (model, "v1", environment, str(schema))
    args = [a for pair in zip(names, values, strict=True) for a in pair]
    if task is not None:
        args += ["--task", task]
    return run("log", str(file), *args, store=store)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    preds = pd.DataFrame(
        {
            "id": [f"p{i}" for i in range(6)],
            "ts": pd.date_range("2026-01-01", periods=6, freq="h"),
            "tenure": [1, 2, 3, 4, 5, 6],
            "plan": ["a", "b", "a", "b", "a", "b"],
            "score": [0.1, 0.9, 0.4, 0.6, 0.2, 0.8],
            "label": [0, 1, 0, 1, 0, 1],
        }
    )
    out = {
        "parquet": tmp_path / "preds.parquet",
        "csv": tmp_path / "preds.csv",
        "schema": tmp_path / "schema.yaml",
        "actuals": tmp_path / "actuals.csv",
        "bad": tmp_path / "bad.csv",
    }
    preds.to_parquet(out["parquet"])
    preds.to_csv(out["csv"], index=False)
    out["schema"].write_text(SCHEMA)
    pd.DataFrame({"id": ["p0", "p1", "p9"], "y": [1, 1, 0]}).to_csv(out["actuals"], index=False)
    bad = preds.copy()
    bad.loc[3, "score"] = 1.5
    bad.to_csv(out["bad"], index=False)
    return out


def test_log_actuals_models_info_end_to_end(tmp_path: Path, files: dict[str, Path]) -> None:
    store = tmp_path / "store"
    r = log(
        str(files["parquet"]),
        str(files["schema"]),
        store=store,
        task="binary_classification",
        long_flags=True,
    )
    assert r.returncode == 0, r.stderr
    assert "logged 6 inferences" in r.stdout
    r = log(str(files["csv"]), str(files["schema"]), store=store)
    assert r.returncode == 0, r.stderr
    assert "replacing 6 earlier rows" in r.stdout
    actuals = ["log-actuals", str(files["actuals"]), "--model", "churn", "--prediction-id",
               "id", "--actual", "y"]  # fmt: skip
    r = run(*actuals, store=store)
    assert r.returncode == 0, r.stderr
    assert "logged 3 actuals" in r.stdout
    assert "they joined 2 logged predictions" in r.stdout  # p9 has no prediction yet
    assert "note:" not in r.stdout and "replacing" not in r.stdout
    r = run(*actuals, store=store)  # sent again: every actual replaces its earlier one
    assert r.returncode == 0, r.stderr
    assert "replacing the earlier actual of 3 of them" in r.stdout

    r = run("models", "--json", store=store)
    assert r.returncode == 0, r.stderr
    (info,) = json.loads(r.stdout)
    assert info["name"] == "churn"
    assert info["rows"] == {"production": 6}
    assert info["with_actuals"] == {"production": 2}  # p9 has no prediction yet
    assert info["versions"] == ["v1"]

    r = run("models", store=store)
    assert r.returncode == 0 and "churn" in r.stdout and "binary_classification" in r.stdout
    r = run("info", "--json", store=store)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["models"] == 1 and data["rows"] == 6 and data["batches"] == 4
    assert data["size_bytes"] > 0
    r = run("info", store=store)
    assert str(store.resolve()) in r.stdout

    with es.connect(store) as s:
        df = s.model("churn").dataset().to_pandas().sort_values("prediction_id")
    assert df["actual_label"].tolist()[:2] == [1, 1]
    assert df["prediction_score"].tolist() == [0.1, 0.9, 0.4, 0.6, 0.2, 0.8]

    # actuals for an environment without these predictions: kept, and the user is told
    # where predictions with these ids are (a note, not a Python warning)
    r = run(*actuals, "--environment", "validation", store=store)
    assert r.returncode == 0, r.stderr
    assert "joined 0 logged predictions" in r.stdout
    said = " ".join(r.stdout.split())
    assert "note: none of the" in said and "joined a prediction in 'validation'" in said
    assert "predictions in 'production' have their ids: send them with --environment " in said
    assert "Warning" not in r.stderr
    # ids that no environment holds: kept for predictions logged later
    (tmp_path / "early.csv").write_text("id,y\nnew-1,1\n")
    early = [a if a != str(files["actuals"]) else str(tmp_path / "early.csv") for a in actuals]
    r = run(*early, "--environment", "validation", store=store)
    assert r.returncode == 0, r.stderr
    assert "note: no validation prediction of churn has these ids yet" in r.stdout


def test_bad_file_fails_with_one_line_and_writes_nothing(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    store = tmp_path / "store"
    r = log(str(files["bad"]), str(files["schema"]), store=store, task="binary_classification")
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error: column 'score': 1 of 6 rows have scores outside [0, 1]")
    assert "Nothing was written." in lines[0]
    with es.connect(store) as s:
        assert s.model("churn").dataset().count() == 0
        assert s.info().batches == 0


def test_bad_arguments_create_no_model(tmp_path: Path, files: dict[str, Path]) -> None:
    store = tmp_path / "store"
    r = log(
        str(files["parquet"]),
        str(files["schema"]),
        store=store,
        environment="prod",
        task="binary_classification",
    )
    assert r.returncode == 1
    assert "environment must be one of" in r.stderr and "'production'" in r.stderr
    r = run("models", "--json", store=store)
    assert json.loads(r.stdout) == []
    r = log(str(files["parquet"]), str(files["schema"]), store=store, model="nope")
    assert r.returncode == 1
    assert "no model named 'nope'" in r.stderr
    # the advice is a command, not the Python API's store.model(...)
    assert "evalstore log FILE --model NAME --task TASK" in r.stderr
    assert "store.model(" not in r.stderr
    r = log(str(tmp_path / "missing.parquet"), str(files["schema"]), store=store, task="regression")
    assert r.returncode == 1 and "missing.parquet" in r.stderr
    r = log(str(files["parquet"]), str(tmp_path / "nope.yaml"), store=store, task="regression")
    assert r.returncode == 1 and "cannot read schema file" in r.stderr


def test_every_command_has_help(tmp_path: Path) -> None:
    for cmd in ("log", "log-actuals", "models", "info", "demo"):
        r = run(cmd, "--help", store=tmp_path)
        assert r.returncode == 0, r.stderr
        assert "--store" in r.stdout
    r = run("--help", store=tmp_path)
    assert all(c in r.stdout for c in ("log-actuals", "models", "info", "demo"))
    r = run("--version", store=tmp_path)
    assert r.stdout.strip() == f"evalstore {es.__version__}"


def test_store_locked_by_another_process(tmp_path: Path) -> None:
    store = tmp_path / "store"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, evalstore as es; s = es.connect(sys.argv[1]); print('ready', flush=True); "
            "sys.stdin.read()",
            str(store),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        r = run("info", store=store)
        assert r.returncode == 1
        assert "in use by another process" in r.stderr
        assert f"PID {holder.pid}" in r.stderr
        assert "try again" in r.stderr
    finally:
        holder.communicate("", timeout=30)


def test_models_gives_each_environment_its_time_range(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    """Each environment's row of `evalstore models` shows its own first and last timestamps:
    the model's whole range was printed on the first row (production's, before training's)."""
    store = tmp_path / "store"
    frame = pd.read_parquet(files["parquet"])
    with es.connect(store) as s:
        model = s.model("churn", task="binary_classification")
        schema = es.Schema.from_file(files["schema"])
        model.log(frame, schema=schema, version="v1", environment="production", progress=False)
        early = frame.assign(id=frame["id"] + "-t", ts=frame["ts"] - pd.Timedelta(days=30))
        model.log(early, schema=schema, version="v1", environment="training", progress=False)
    r = run("models", "--json", store=store)
    (info,) = json.loads(r.stdout)
    assert info["ranges"]["production"] == ["2026-01-01 00:00:00", "2026-01-01 05:00:00"]
    assert info["ranges"]["training"] == ["2025-12-02 00:00:00", "2025-12-02 05:00:00"]
    r = run("models", store=store)
    lines = {line.split("│")[4].strip(): line for line in r.stdout.splitlines() if "│" in line}
    assert "2026-01-01 00:00" in lines["production"] and "2025-12-02" not in lines["production"]
    assert "2025-12-02 00:00" in lines["training"] and "2026-01-01" not in lines["training"]


def test_a_server_url_as_store_is_refused_and_makes_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The commands open a store on this machine: a URL given as --store (a Path would make
    it the folder ``http:/127.0.0.1:8080``) is refused, saying what works instead."""
    monkeypatch.chdir(tmp_path)
    for cmd in (["models"], ["info"], ["serve", "--port", "0"]):
        r = run(*cmd, "--store", "http://127.0.0.1:8080", store=tmp_path / "home")
        assert r.returncode == 1, (cmd, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1, r.stderr
        assert lines[0].startswith(
            "error: --store must be a store folder on this machine; got 'http://127.0.0.1:8080'."
        )
        assert "no remote mode" in lines[0]
        assert 'es.connect("http://127.0.0.1:8080")' in lines[0]
        assert "http://127.0.0.1:8080/docs" in lines[0]
    assert list(tmp_path.iterdir()) == [], "no folder was made"
    # the SDK, which reaches a server by an http(s) URL only, makes no folder either
    for url in ("HTTP://127.0.0.1:8080", "ftp://host/store", "s3://bucket/store"):
        with pytest.raises(es.ParameterError, match=r"^path must be a store folder") as exc:
            es.connect(url)
        assert "es.connect('http://host:port')" in str(exc.value)
    assert list(tmp_path.iterdir()) == []
    with es.connect("C:/data") as store:  # a Windows folder, not a URL
        assert store.models() == []
