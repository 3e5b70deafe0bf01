"""Re-sending a batch never duplicates: one row per (version, environment, prediction_id)."""

from __future__ import annotations

import pandas as pd
import pytest

import evalstore as es
from conftest import BINARY_SCHEMA, binary_frame, frame_equal


@pytest.fixture
def model(store: es.Store) -> es.Model:
    return store.model("m", task="binary_classification")


def test_relogging_the_same_batch(store: es.Store, model: es.Model) -> None:
    df = binary_frame(20)
    first = model.log(df, schema=BINARY_SCHEMA, version="v1", environment="production")
    before = model.dataset().to_arrow().drop_columns(["batch_id"]).sort_by("prediction_id")
    second = model.log(df, schema=BINARY_SCHEMA, version="v1", environment="production")
    assert (first.rows, first.replaced) == (20, 0)
    assert (second.rows, second.replaced) == (20, 20)
    assert second.batch_id > first.batch_id
    assert model.dataset().count() == 20
    after = model.dataset().to_arrow()
    assert set(after.column("batch_id").to_pylist()) == {second.batch_id}
    assert after.drop_columns(["batch_id"]).sort_by("prediction_id").equals(before)
    assert [b["replaced"] for b in model.batches()] == [0, 20]
    assert store.info().rows == 20


def test_last_write_wins(model: es.Model) -> None:
    df = binary_frame(10)
    model.log(df, schema=BINARY_SCHEMA, version="v1", environment="production")
    changed = df.iloc[3:7].assign(score=0.99, city="rome", label=1)
    report = model.log(changed, schema=BINARY_SCHEMA, version="v1", environment="production")
    assert report.replaced == 4
    expected = pd.concat([df.iloc[:3], changed, df.iloc[7:]])
    frame_equal(model.dataset().to_pandas(), expected, BINARY_SCHEMA)


def test_partly_overlapping_batch(model: es.Model) -> None:
    model.log(binary_frame(10), schema=BINARY_SCHEMA, version="v1", environment="production")
    report = model.log(
        binary_frame(10, start=6), schema=BINARY_SCHEMA, version="v1", environment="production"
    )
    assert (report.rows, report.replaced) == (10, 4)
    assert model.dataset().count() == 16
    frame_equal(model.dataset().to_pandas(), binary_frame(16), BINARY_SCHEMA)


def test_same_ids_under_another_version_are_separate_rows(model: es.Model) -> None:
    df = binary_frame(10)
    model.log(df, schema=BINARY_SCHEMA, version="v1", environment="production")
    report = model.log(
        df.assign(score=0.5), schema=BINARY_SCHEMA, version="v2", environment="production"
    )
    assert report.replaced == 0
    assert model.dataset().count() == 20
    frame_equal(model.dataset(version="v1").to_pandas(), df, BINARY_SCHEMA)
    frame_equal(model.dataset(version="v2").to_pandas(), df.assign(score=0.5), BINARY_SCHEMA)
    assert model.versions() == ["v1", "v2"]


def test_same_ids_in_another_environment_are_separate_rows(model: es.Model) -> None:
    df = binary_frame(10)
    model.log(df, schema=BINARY_SCHEMA, version="v1", environment="training")
    report = model.log(df, schema=BINARY_SCHEMA, version="v1", environment="production")
    assert report.replaced == 0
    assert model.info().rows == {"training": 10, "production": 10}
    again = model.log(df, schema=BINARY_SCHEMA, version="v1", environment="training")
    assert again.replaced == 10
    assert model.info().rows == {"training": 10, "production": 10}


def test_relogging_after_other_versions_and_environments(model: es.Model) -> None:
    """Replacement touches only its own (version, environment)."""
    df = binary_frame(5)
    for version in ("v1", "v2"):
        for env in ("training", "validation", "production"):
            model.log(df, schema=BINARY_SCHEMA, version=version, environment=env)
    report = model.log(
        df.assign(score=0.01), schema=BINARY_SCHEMA, version="v2", environment="validation"
    )
    assert report.replaced == 5
    got = model.dataset().to_pandas()
    assert len(got) == 30
    changed = got[(got["version"] == "v2") & (got["environment"] == "validation")]
    assert changed["prediction_score"].tolist() == [0.01] * 5
    assert (got.drop(changed.index)["prediction_score"] != 0.01).all()


def test_relogging_a_file(store: es.Store, model: es.Model, tmp_path) -> None:
    path = tmp_path / "batch.parquet"
    binary_frame(12).to_parquet(path)
    model.log(path, schema=BINARY_SCHEMA, version="v1", environment="production")
    report = model.log(path, schema=BINARY_SCHEMA, version="v1", environment="production")
    assert report.replaced == 12
    assert model.dataset().count() == 12
    assert [b["source"] for b in model.batches()] == ["batch.parquet", "batch.parquet"]
