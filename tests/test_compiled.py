"""Analyses compile a query once per selection shape (``store/_compiled.py``): another window
reuses the SQL, and every number equals the engine-neutral path, where each selection is
put into the expression whole and compiled with it."""

from __future__ import annotations

import functools
from typing import Any

import ibis
import pandas as pd
import pytest

import evalstore as es
from conftest import BINARY_SCHEMA, REGRESSION_SCHEMA, binary_frame, regression_frame
from evalstore.analyses.performance import performance
from evalstore.errors import ParameterError
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
    ]
    cached = [performance(ds, by=["day", "region"]).to_dict() for ds in selections]
    _whole(store, monkeypatch)
    whole = [performance(ds, by=["day", "region"]).to_dict() for ds in selections]
    assert cached == whole
    assert len({str(c) for c in cached}) == 3


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
