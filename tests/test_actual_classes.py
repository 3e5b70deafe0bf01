"""A multiclass model's actual labels against its classes (the names of its score columns).

A label that differs from a class only in case or surrounding spaces ('Mid' for 'mid', an
upstream change of spelling) is refused at log time, whichever way it comes (with the
inferences, as late actuals, embedded or through a server), naming the column, the labels
and the class each likely meant; nothing is written. A label that is no class at all (a
new outcome, 'part-time') is accepted, and quality() counts it (``unknown_actual_class``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score

import evalstore as es
from conftest import random_classes
from server_harness import Server, shared_server
from test_bad_input import rejected

CLASSES = ("high", "low", "mid", "very high")
SCORES = {c: f"p_{c.replace(' ', '_')}" for c in CLASSES}
INFERENCES = es.Schema(prediction_id="id", features=["x"], prediction_score=SCORES)


def _frame(n: int = 200) -> pd.DataFrame:
    return random_classes(SCORES, n, 5, prefix="r", actual="truth")


def _misspelt(frame: pd.DataFrame) -> pd.DataFrame:
    """The first 30 labels title-cased ('Mid', 'Very High'), the next 5 ' mid '."""
    bad = frame.copy()
    bad.loc[:29, "truth"] = bad.loc[:29, "truth"].str.title()
    bad.loc[30:34, "truth"] = " mid "
    return bad


def _says(error: es.BatchRejected, frame: pd.DataFrame, bad: pd.DataFrame) -> None:
    message = str(error)
    changed = bad["truth"] != frame["truth"]
    assert error.column == "truth"
    assert (error.rows, error.total) == (int(changed.sum()), len(bad))
    for label, count in bad.loc[changed, "truth"].value_counts().items():
        meant = label.strip().lower()
        rows = "row" if count == 1 else "rows"
        assert f"{label!r} ({count:,} {rows}; did you mean {meant!r}?)" in message, message


def _ways(model: Any, frame: pd.DataFrame) -> list[Callable[[], Any]]:
    with_actuals = es.Schema(
        prediction_id="id", features=["x"], prediction_score=SCORES, actual_label="truth"
    )
    return [
        lambda: model.log(frame, schema=with_actuals, version="v2", environment="validation"),
        lambda: model.log_actuals(frame[["id", "truth"]], prediction_id="id", actual="truth"),
    ]


def test_labels_differing_only_in_case_are_refused(store: es.Store) -> None:
    frame = _frame()
    model = store.model("hours", task="multiclass_classification")
    model.log(frame.drop(columns="truth"), schema=INFERENCES, version="v1",
              environment="production")  # fmt: skip
    bad = _misspelt(frame)
    for way in _ways(model, bad):
        _says(rejected(store, way, column="truth", rows=(35, len(bad))), frame, bad)
    # the labels as the classes are named go in, and the metrics are scikit-learn's
    model.log_actuals(frame[["id", "truth"]], prediction_id="id", actual="truth")
    predicted = np.array(CLASSES)[frame[list(SCORES.values())].to_numpy().argmax(axis=1)]
    got = model.performance("production", ["accuracy"]).get("accuracy")
    assert got["n"] == len(frame)
    assert got["value"] == pytest.approx(accuracy_score(frame["truth"], predicted))


def test_a_new_outcome_is_accepted_and_counted_by_quality(store: es.Store) -> None:
    frame = _frame()
    frame.loc[:16, "truth"] = "part-time"
    model = store.model("hours", task="multiclass_classification")
    model.log(frame.drop(columns="truth"), schema=INFERENCES, version="v1",
              environment="production")  # fmt: skip
    report = model.log_actuals(frame[["id", "truth"]], prediction_id="id", actual="truth")
    assert report.actuals == len(frame)
    unknown = int((~frame["truth"].isin(CLASSES)).sum())
    issues = [i for i in model.quality("production").issues if i.check == "unknown_actual_class"]
    assert [(i.column, i.severity, i.count) for i in issues] == [
        ("actual_label", "warning", unknown)
    ]
    assert f"{unknown:,} of {len(frame):,} rows" in issues[0].message
    assert "'very high'" in issues[0].message
    # the labels are stored as sent, and every metric counts them: a miss for accuracy
    predicted = np.array(CLASSES)[frame[list(SCORES.values())].to_numpy().argmax(axis=1)]
    got = model.performance("production", ["accuracy"]).get("accuracy")
    assert (got["n"], got["value"]) == (len(frame), pytest.approx(
        accuracy_score(frame["truth"], predicted)))  # fmt: skip


def test_classes_of_this_batch_count_too(store: es.Store) -> None:
    """A model's first batch brings its classes and its actuals together."""
    bad = _misspelt(_frame())
    model = store.model("first", task="multiclass_classification")
    way = _ways(model, bad)[0]
    _says(rejected(store, way, column="truth", rows=(35, len(bad))), _frame(), bad)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Server:
    return shared_server(tmp_path_factory)


def test_a_server_refuses_them_alike(server: Server) -> None:
    frame = _frame()
    bad = _misspelt(frame)
    remote = es.connect(server.url)
    try:
        model = remote.model("actual-classes", task="multiclass_classification")
        model.log(frame.drop(columns="truth"), schema=INFERENCES, version="v1",
                  environment="production")  # fmt: skip
        for way in _ways(model, bad):
            with pytest.raises(es.BatchRejected) as info:
                way()
            message = str(info.value)
            assert "differ from the model's classes only in case" in message, message
            assert "'Mid'" in message and "did you mean 'mid'?" in message, message
        assert model.performance("production", ["accuracy"]).get("accuracy")["n"] == 0
    finally:
        remote.close()
