"""Analyses compile a query once per selection shape (``store/_compiled.py``): another window
reuses the SQL, and every number equals the engine-neutral path, where each selection is
put into the expression whole and compiled with it."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pytest

import evalstore as es
from conftest import BINARY_SCHEMA, REGRESSION_SCHEMA, binary_frame, regression_frame
from evalstore.analyses.performance import performance
from evalstore.errors import ParameterError
from evalstore.store import _compiled
from evalstore.store.base import EvaluationStore

N = 600  # rows per environment, one an hour


def _model(store: es.Store) -> es.Model:
    model = store.model("m", task="binary_classification")
    model.log(binary_frame(N), schema=BINARY_SCHEMA, version="v1", environment="training")
    prod = binary_frame(N, start=N)
    prod["age"] = prod["age"] + 7  # something to drift
    model.log(prod, schema=BINARY_SCHEMA, version="v1", environment="production")
    return model


def _numbers(report: Any) -> dict[str, Any]:
    out = report.to_dict()
    for key in ("timings", "created_at"):
        out.pop(key, None)
    return out


def _whole(store: es.Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on, each selection is compiled into each query (the base class's way)."""
    engine = store._engine
    whole = functools.partial(EvaluationStore.execute_template, engine)
    monkeypatch.setattr(engine, "execute_template", whole)


def test_a_new_window_compiles_nothing_and_equals_compiling_it_whole(
    store: es.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _model(store)
    model.create_baseline("train", environment="training")
    engine = store._engine
    # production runs from hour 600 (2024-01-26 00:00) for 25 days
    windows = [("2024-01-27", "2024-02-03"), ("2024-02-03", "2024-02-10")]

    def report(start: str, end: str) -> Any:
        current = {"environment": "production", "start": start, "end": end}
        return model.report(
            reference="train", current=current, slice_columns=["city", "region"], progress=False
        )

    first = report(*windows[0])
    compiled = engine._sql.misses
    assert compiled > 5 and engine._sql.hits > 0  # each selection's SQL is used more than once

    def no_compile(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("compiled a query")

    with monkeypatch.context() as patch:
        # the new window's selection has the first's shape: its bounds are written in
        patch.setattr(_compiled.ibis, "to_sql", no_compile)
        second = report(*windows[1])
    assert engine._sql.misses == compiled + 1  # only the new selection itself
    assert first.current["rows"] == second.current["rows"] == 168
    assert _numbers(first) != _numbers(second)  # two windows, two results

    _whole(store, monkeypatch)
    assert _numbers(report(*windows[0])) == _numbers(first)
    assert _numbers(report(*windows[1])) == _numbers(second)


def test_filtered_and_grouped_selections_equal_compiling_them_whole(
    store: es.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _model(store)
    selections = [
        model.dataset(environment="production", where=ibis._.age > 40),
        model.dataset(environment="production", where={"city": ["paris", "nice"]}),
        model.dataset(version="v1", start="2024-01-10", end="2024-02-01"),
        model.dataset(start="2024-01-30 06:30:00.000001", end="2024-02-02 23:59:59.999999"),
        # time bounds in a filter too, one of them the window's own end
        model.dataset(
            end="2024-02-01",
            where=lambda t: (t.timestamp < datetime(2024, 2, 1)) | (t.timestamp.hour() == 3),
        ),
        model.dataset(where=ibis._.timestamp.between(datetime(2024, 1, 5), datetime(2024, 1, 9))),
    ]
    cached = [performance(ds, by=["day", "region"]).to_dict() for ds in selections]
    _whole(store, monkeypatch)
    whole = [performance(ds, by=["day", "region"]).to_dict() for ds in selections]
    assert cached == whole
    assert len({str(c) for c in cached}) == len(selections)


def test_a_template_runs_on_the_rows_of_the_dataset_that_executes_it(store: es.Store) -> None:
    model = _model(store)
    training = model.dataset(environment="training")
    week = model.dataset(environment="production", start="2024-01-27", end="2024-02-03")
    query = week.template.count().name("n")
    assert training.execute(query).column(0)[0].as_py() == N  # a parameter, bound here
    assert week.execute(query).column(0)[0].as_py() == 168
    # a plain table is its own selection wherever it runs
    assert training.execute(week.table.count().name("n")).column(0)[0].as_py() == 168
    other = store.model("other", task="regression")
    other.log(
        regression_frame(10), schema=REGRESSION_SCHEMA, version="v1", environment="production"
    )
    with pytest.raises(ParameterError, match="a template of other columns"):
        training.execute(other.dataset().template.count())


def test_the_template_follows_a_rewritten_table(store: es.Store) -> None:
    model = _model(store)
    ds = model.dataset(environment="production")
    ds.table = ds.table.mutate(age2=ds.table.age * 2)
    t = ds.template
    assert t.columns == ds.table.columns and "age2" in t.columns
    want = 2 * int((binary_frame(N, start=N)["age"] + 7).sum())
    assert ds.execute(t.age2.sum().name("s")).column(0)[0].as_py() == want


# -- the volumes the web UI shows, from the batches --------------------------------------------


def _volumes_of_rows(store: es.Store, model: es.Model) -> dict[tuple[str, str], tuple[Any, ...]]:
    """The base class's volumes: counted from the rows, as every engine can."""
    return EvaluationStore.volumes(store._engine, model._record.id)


def test_volumes_from_the_batches_equal_counting_the_rows(store: es.Store) -> None:
    model = store.model("volumes", task="binary_classification")
    engine = store._engine
    mid = model._record.id
    log = functools.partial(model.log, schema=BINARY_SCHEMA, progress=False)
    log(binary_frame(50), version="v1", environment="training")
    log(binary_frame(30, start=100), version="v1", environment="production")
    log(binary_frame(30, start=130), version="v1", environment="production")
    log(binary_frame(20, start=100), version="v2", environment="production")
    queries: list[str] = []
    original = engine._fetch
    engine._fetch = lambda q, p=None: queries.append(q) or original(q, p)  # type: ignore[method-assign]
    want = _volumes_of_rows(store, model)
    queries.clear()
    assert engine.volumes(mid) == want
    assert len(queries) == 1  # the batches only: no replacement, every range known
    # re-sent rows replace earlier ones, at other times: v1 production is counted again
    again = binary_frame(10, start=100)  # the earliest rows move: the first time changes
    again["ts"] = again["ts"] + pd.Timedelta(days=30)
    log(again, version="v1", environment="production")
    model.log_actuals(
        binary_frame(5, start=100), prediction_id="id", actual="label", progress=False
    )
    want = _volumes_of_rows(store, model)
    queries.clear()
    volumes = engine.volumes(mid)
    assert volumes == want and len(queries) == 2
    assert volumes[("production", "v1")][0] == 60 and volumes[("training", "v1")][0] == 50
    # a store from before the ranges were kept: its batches have none, and are counted
    engine.con.execute("UPDATE batches SET first_ts = NULL, last_ts = NULL")
    assert engine.volumes(mid) == _volumes_of_rows(store, model)


# -- compiled SQL kept beside the store, for the next process -----------------------------------

WINDOW = {"environment": "production", "start": "2024-01-27", "end": "2024-02-03"}

#: a later process: opens the store, runs the report, prints what it compiled and read
LATER = """
import json, sys
import ibis
import evalstore as es
from evalstore.analyses.binning import _count
from evalstore.analyses import performance, slices
from evalstore.analyses.metrics import _evaluate
from evalstore.analyses.quality import _scan
calls, built = [], []
to_sql = ibis.to_sql
ibis.to_sql = lambda *a, **k: calls.append(1) or to_sql(*a, **k)
for module, name in ((_count, "_plan"), (_scan, "_aggregates"), (_scan, "_category_query"),
                     (slices, "_build_branch"), (performance, "_bin_index"),
                     (performance, "prepare"), (slices, "prepare"), (_evaluate, "plan")):
    setattr(module, name, (lambda f: lambda *a, **k: built.append(1) or f(*a, **k))(
        getattr(module, name)))
with es.connect(sys.argv[1]) as store:
    report = store.model("m").report(reference="train", current=json.loads(sys.argv[2]),
                                     slice_columns=["city"], progress=False)
    auc = report.performance_current.value("roc_auc")
    print(json.dumps({"compiled": len(calls), "from_file": store._engine._sql.from_file,
                      "built": len(built), "rows": report.current["rows"], "auc": auc}))
"""


def test_a_later_process_reads_the_sql_an_earlier_one_compiled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SQL of each query is kept in a file beside the store: later processes (other
    hash seeds) read it, the second compiles nothing, and both get the same numbers; the
    drift scan's query, with its builtin ``histogram`` aggregate, is kept too."""
    folder = tmp_path / "store"
    with es.connect(folder) as store:
        model = _model(store)
        model.create_baseline("train", environment="training")
        first = model.report(
            reference="train", current=WINDOW, slice_columns=["city"], progress=False
        )
        assert store._engine._sql.from_file == 0
    kept = folder / "evalstore.compiled.sqlite"
    with sqlite3.connect(kept) as db:
        (n,) = db.execute("SELECT count(*) FROM compiled").fetchone()
        (hist,) = db.execute(
            "SELECT count(*) FROM compiled WHERE sql LIKE '%HISTOGRAM(%'"
        ).fetchone()
    assert n > 5 and hist > 0
    runs = []
    for seed in ("12345", "678"):  # the first may compile what the baseline just fitted built
        out = subprocess.run(
            [sys.executable, "-c", LATER, str(folder), json.dumps(WINDOW)],
            capture_output=True, text=True, timeout=300, check=True,
            # as users run it: recipes found are not built again to check them
            env={**os.environ, "PYTHONHASHSEED": seed, "EVALSTORE_CHECK_RECIPES": "0"},
        )  # fmt: skip
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    assert runs[0]["from_file"] > 5
    assert runs[1]["compiled"] == 0  # every query of the report read from the file
    # the drift and quality scans, the category counts, the performance and the slices
    # are recipes: none was built (no input prepared, no metric planned, no bin index)
    assert runs[0]["built"] == runs[1]["built"] == 0
    assert runs[1]["from_file"] == runs[0]["from_file"] + runs[0]["compiled"]
    for later in runs:
        assert later["rows"] == first.current["rows"] == 168
        assert later["auc"] == first.performance_current.value("roc_auc")


def test_kept_sql_is_read_only_for_the_same_code_and_a_bad_file_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another version of the code (another namespace) reads none of the kept SQL; the file
    keeps at most ``KEEP_QUERIES``; a damaged file is left alone and queries compile."""
    folder = tmp_path / "store"

    def report(store: es.Store) -> dict[str, Any]:
        model = store.model("m")
        result = model.report(
            reference="train", current=WINDOW, slice_columns=["city"], progress=False
        )
        return _numbers(result)

    with es.connect(folder) as store:
        _model(store).create_baseline("train", environment="training")
        want = report(store)
    with es.connect(folder) as store:
        assert report(store) == want and store._engine._sql.from_file > 5
    monkeypatch.setattr(_compiled, "_NAMESPACE", [b"another version of the code"])
    with es.connect(folder) as store:
        assert report(store) == want and store._engine._sql.from_file == 0
    monkeypatch.setattr(_compiled, "KEEP_QUERIES", 3)
    with es.connect(folder), sqlite3.connect(folder / "evalstore.compiled.sqlite") as db:
        assert db.execute("SELECT count(*) FROM compiled").fetchone() == (3,)
    (folder / "evalstore.compiled.sqlite").write_bytes(b"not a database " * 100)
    with es.connect(folder) as store:
        assert store._engine._sql._db is None
        assert report(store) == want and store._engine._sql.from_file == 0


def test_a_read_marks_its_query_used_at_most_once_an_hour(tmp_path: Path) -> None:
    """Marking a query used is a write to the file (~5 ms): a read marks it only when its
    mark is older than ``USED_EVERY``, so the least recently used still go first."""
    path = tmp_path / "compiled.sqlite"
    ops_ = [ibis.literal(i).op() for i in range(3)]
    cache = _compiled.CompiledSql(path)
    for op in ops_:
        cache.sql(op)
    cache.close()

    def marks() -> dict[str, float]:
        with sqlite3.connect(path) as db:
            return dict(db.execute("SELECT key, used FROM compiled").fetchall())

    written = marks()
    old, recent = sorted(written)[:2]
    with sqlite3.connect(path) as db:  # one mark two hours old, one in the future
        db.execute("UPDATE compiled SET used = used - 7200 WHERE key = ?", (old,))
        db.execute("UPDATE compiled SET used = used + 7200 WHERE key = ?", (recent,))
    before = marks()
    later = _compiled.CompiledSql(path)  # a later process reads all three from the file
    for op in ops_:
        later.sql(op)
    assert later.from_file == 3
    later.close()
    after = marks()
    for key in written:
        if key in (old, recent):  # stale or impossible: marked now
            assert before[key] != after[key]
            assert abs(after[key] - written[key]) < 60
        else:  # marked within the hour: left as it was, no write
            assert after[key] == before[key] == written[key]


STABLE = """
import sys
from datetime import datetime
import ibis
from evalstore.analyses.quality._scan import Target
from evalstore.schema import Task
from evalstore.store import _compiled
t = ibis.table({"x": "float64", "c": "string"}, name=_compiled.TEMPLATE)
key = (t.op(), (t.x > 0.25).op(), Task.BINARY_CLASSIFICATION, 0.1, -0.0, "c", None, True, 3,
       (1, 2.5), {"k": [1, "a"]}, datetime(2024, 1, 2, 3), b"raw",
       Target("c", ibis.dtype("string"), None, None, ("a", "b")))
print(_compiled.stable_key(key).hex())
"""


def test_a_recipe_key_is_written_alike_by_every_process() -> None:
    """What a recipe is kept under reads the same in processes with other hash seeds (Ibis
    operations and types by their pickle, frozen dataclasses by their fields); values of
    different types differ, and a value without a stable form gives no key at all."""
    found = set()
    for seed in ("1", "2024"):
        out = subprocess.run(
            [sys.executable, "-c", STABLE], capture_output=True, text=True, timeout=120,
            check=True, env={**os.environ, "PYTHONHASHSEED": seed},
        )  # fmt: skip
        found.add(out.stdout.strip())
    assert len(found) == 1 and len(found.pop()) > 100
    keys = [_compiled.stable_key((v,)) for v in (1, 1.0, True, "1", b"1", None)]
    assert None not in keys and len(set(keys)) == len(keys)
    t = ibis.table({"x": "float64"}, name=_compiled.TEMPLATE)
    assert _compiled.stable_key((t.x > 1).op()) != _compiled.stable_key((t.x > 2).op())

    @dataclasses.dataclass
    class Mutable:
        x: int = 0

    for unstable in (lambda: 0, {1, 2}, frozenset({1}), Mutable(), object()):
        assert _compiled.stable_key(("ok", unstable)) is None


def test_a_kept_recipe_builds_nothing_and_a_key_missing_an_input_is_caught(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A recipe read from the file (another process's) runs without its build; a key that
    does not name every input returns the SQL kept for another query, which the check the
    tests run with (``CHECK_RECIPES``) refuses."""
    path = tmp_path / "compiled.sqlite"
    t = ibis.table({"x": "float64"}, name=_compiled.TEMPLATE)
    first = _compiled.CompiledSql(path)
    total = first.recipe(("total", 1), lambda: t.x.sum().op())
    assert "SUM(" in total.upper()
    first.close()

    def never() -> Any:
        raise AssertionError("a kept recipe was built")

    monkeypatch.setattr(_compiled, "CHECK_RECIPES", False)
    later = _compiled.CompiledSql(path)
    assert later.recipe(("total", 1), never) == total and later.from_file == 1
    assert later.recipe(("total", 1), never) == total and later.from_file == 1  # in memory
    # the same key for another query: unchecked, the SQL kept for the first
    assert later.recipe(("total", 1), lambda: t.x.mean().op()) == total
    monkeypatch.setattr(_compiled, "CHECK_RECIPES", True)
    with pytest.raises(_compiled.RecipeMismatch, match="total"):
        later.recipe(("total", 1), lambda: t.x.mean().op())
    assert later.recipe(("total", 1), lambda: t.x.sum().op()) == total
    # without a file, or with a key that has no stable form: kept in this process only
    read = later.from_file
    for cache, key in ((_compiled.CompiledSql(None), ("total", 1)), (later, ("set", {1}))):
        mean = cache.recipe(key, lambda: t.x.mean().op())
        assert "AVG(" in mean.upper() and cache.recipe(key, lambda: t.x.mean().op()) == mean
    assert later.from_file == read
    later.close()
    with sqlite3.connect(path) as db:
        (n,) = db.execute("SELECT count(*) FROM compiled").fetchone()
    assert n == 3  # the sum and its recipe, the mean the check compiled; no "set" recipe
