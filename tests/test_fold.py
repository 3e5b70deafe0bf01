"""The folded copy of the actuals equals the join it replaces, after any sequence of batches.

The oracle is ``joined_actuals``: the latest actual per (environment, prediction_id) joined
at read time from the append-only actuals table, as every read did before the fold.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

import evalstore as es
from conftest import BINARY_SCHEMA, REGRESSION_SCHEMA, binary_frame, regression_frame

ENVIRONMENTS = ("training", "production")
KEY = ["version", "environment", "prediction_id"]


def _both(store: es.Store, model: es.Model) -> tuple[pd.DataFrame, pd.DataFrame]:
    engine = store._engine
    mid = model._record.id
    folded = engine.execute(engine.with_actuals(mid, engine.inferences(mid))).to_pandas()
    joined = engine.execute(engine.joined_actuals(mid, engine.inferences(mid))).to_pandas()
    return (
        folded.sort_values(KEY).reset_index(drop=True),
        joined.sort_values(KEY).reset_index(drop=True),
    )


def _random_batches(model: es.Model, task: str, rng: np.random.Generator, steps: int) -> None:
    frame, schema, actual = (
        (binary_frame, BINARY_SCHEMA, "label")
        if task == "binary_classification"
        else (regression_frame, REGRESSION_SCHEMA, "y")
    )
    kinds = rng.permutation(["inferences"] * (steps - steps // 3) + ["actuals"] * (steps // 3))
    for kind in kinds:
        env = str(rng.choice(ENVIRONMENTS))
        ids = np.sort(rng.choice(40, size=int(rng.integers(1, 15)), replace=False))
        if kind == "inferences":  # with their actuals all there, some or none
            df = pd.concat([frame(1, start=int(i)) for i in ids], ignore_index=True)
            df[actual] = df[actual].astype("float64")
            df.loc[rng.random(len(df)) < rng.choice([0.0, 0.5, 1.0]), actual] = np.nan
            if task == "binary_classification":
                df[actual] = df[actual].astype("Int64")
            version = str(rng.choice(["v1", "v2"]))
            model.log(df, schema=schema, version=version, environment=env)
        else:  # late (or early) actuals, for ids that may not exist yet
            values = (
                rng.integers(0, 2, len(ids)) if task != "regression" else rng.normal(size=len(ids))
            )
            late = pd.DataFrame({"pid": ids, "y": values})
            with warnings.catch_warnings():  # early actuals of ids the other environment has
                warnings.simplefilter("ignore", es.UnmatchedActualsWarning)
                model.log_actuals(late, prediction_id="pid", actual="y", environment=env)


@pytest.mark.parametrize("task", ["binary_classification", "regression"])
@pytest.mark.parametrize("seed", range(6))
def test_fold_equals_join(store: es.Store, task: str, seed: int) -> None:
    model = store.model(f"m{seed}", task=task)
    _random_batches(model, task, np.random.default_rng(seed), steps=14)
    folded, joined = _both(store, model)
    assert len(folded) > 0
    pd.testing.assert_frame_equal(folded, joined)
    actual = "actual_label" if task == "binary_classification" else "actual_score"
    assert folded[actual].notna().any()


def test_actuals_of_one_inference_batch_reach_other_versions(store: es.Store) -> None:
    """An actual belongs to (environment, prediction_id): v2's labels are v1's too."""
    model = store.model("m", task="binary_classification")
    no_labels = binary_frame(4).assign(label=pd.array([None] * 4, dtype="Int64"))
    model.log(no_labels, schema=BINARY_SCHEMA, version="v1", environment="production")
    model.log(binary_frame(4), schema=BINARY_SCHEMA, version="v2", environment="production")
    got = model.dataset(version="v1").to_pandas().sort_values("prediction_id")
    assert got["actual_label"].tolist() == binary_frame(4)["label"].tolist()
    folded, joined = _both(store, model)
    pd.testing.assert_frame_equal(folded, joined)


def test_a_store_from_before_the_fold_is_folded_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "store"
    with es.connect(path) as store:
        model = store.model("m", task="binary_classification")
        _random_batches(model, "binary_classification", np.random.default_rng(7), steps=10)
        before = model.dataset().to_pandas().sort_values(KEY).reset_index(drop=True)
        mid = model._record.id
    con = duckdb.connect(str(path / "evalstore.duckdb"))  # remove the copy, as older stores
    con.execute(f"ALTER TABLE inferences_{mid} DROP COLUMN actual_label")
    con.close()
    with es.connect(path) as store:
        columns = store._engine.inferences(mid).columns
        assert "actual_label" in columns
        model = store.model("m")
        after = model.dataset().to_pandas().sort_values(KEY).reset_index(drop=True)
        pd.testing.assert_frame_equal(after, before)
        folded, joined = _both(store, model)
        pd.testing.assert_frame_equal(folded, joined)


def test_actuals_come_last_after_a_new_feature(store: es.Store) -> None:
    """A feature added by a later batch lands after the folded actuals in the table; reads
    still give the actuals last, as the join did (without a new feature: the table as is)."""
    from dataclasses import replace

    model = store.model("grown", task="binary_classification")
    mid = model._record.id
    engine = store._engine
    model.log(binary_frame(6), schema=BINARY_SCHEMA, version="v1", environment="production")
    plain = engine.inferences(mid)
    assert engine.with_actuals(mid, plain) is plain  # the actuals are already last
    grown = binary_frame(6, start=6).assign(tenure=np.arange(6, dtype="int64"))
    schema = replace(BINARY_SCHEMA, features=[*BINARY_SCHEMA.features, "tenure"])
    model.log(grown, schema=schema, version="v2", environment="production")
    assert engine.inferences(mid).columns[-1] == "tenure"
    assert model.dataset().table.columns[-1] == "actual_label"
    folded, joined = _both(store, model)
    pd.testing.assert_frame_equal(folded, joined)
    assert folded["tenure"].notna().sum() == 6
