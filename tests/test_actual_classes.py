"""A multiclass model's actual labels against its classes (the names of its score columns):
a label that is no class at all (a new outcome, 'part-time') is accepted, and quality()
counts it (``unknown_actual_class``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score

import evalstore as es

CLASSES = ("high", "low", "mid", "very high")
SCORES = {c: f"p_{c.replace(' ', '_')}" for c in CLASSES}
INFERENCES = es.Schema(prediction_id="id", features=["x"], prediction_score=SCORES)


def _frame(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    raw = rng.random((n, len(CLASSES)))
    probs = raw / raw.sum(axis=1, keepdims=True)
    frame = pd.DataFrame({"id": [f"r{i}" for i in range(n)], "x": rng.random(n)})
    for i, c in enumerate(CLASSES):
        frame[SCORES[c]] = probs[:, i]
    frame["truth"] = np.array(CLASSES)[rng.integers(0, len(CLASSES), n)]
    return frame


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
