"""Log, read back, compare: every task, feature type, input format and dataset selector."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import evalstore as es
from conftest import (
    BINARY_SCHEMA,
    MULTICLASS_SCHEMA,
    REGRESSION_SCHEMA,
    SYSTEM_COLUMNS,
    binary_frame,
    frame_equal,
    multiclass_frame,
    regression_frame,
)

TASKS = {
    "binary_classification": (binary_frame, BINARY_SCHEMA),
    "multiclass_classification": (multiclass_frame, MULTICLASS_SCHEMA),
    "regression": (regression_frame, REGRESSION_SCHEMA),
}


# -- every task, every reader -----------------------------------------------------------------


@pytest.mark.parametrize("task", sorted(TASKS))
def test_each_task_round_trips(store: es.Store, task: str) -> None:
    make, schema = TASKS[task]
    df = make(30)
    model = store.model("m", task=task)
    report = model.log(df, schema=schema, version="v1", environment="production")
    assert (report.rows, report.replaced, report.actuals) == (30, 0, 30)
    ds = model.dataset()
    frame_equal(ds.to_pandas(), df, schema)
    frame_equal(ds.to_arrow().to_pandas(), df, schema)
    polars_frame = ds.to_polars()
    assert isinstance(polars_frame, pl.DataFrame)
    frame_equal(polars_frame.to_pandas(), df, schema)
    assert ds.count() == len(ds.to_pandas()) == 30


@pytest.mark.parametrize("task", sorted(TASKS))
def test_read_back_has_exactly_the_stored_columns(store: es.Store, task: str) -> None:
    make, schema = TASKS[task]
    df = make(5)
    model = store.model("m", task=task)
    model.log(df, schema=schema, version="v1", environment="training")
    got = model.dataset().to_pandas()
    stored = set(got.columns) - set(SYSTEM_COLUMNS)
    expected = {
        "binary_classification": {
            "age",
            "income",
            "city",
            "region",
            "prediction_label",
            "prediction_score",
            "actual_label",
        },
        "multiclass_classification": {
            "x",
            "prediction_label",
            "prediction_score:cat",
            "prediction_score:dog",
            "prediction_score:fox",
            "actual_label",
        },
        "regression": {"temp", "season", "prediction_score", "actual_score"},
    }[task]
    assert stored == expected
    assert set(got["version"]) == {"v1"}
    assert set(got["environment"]) == {"training"}
    assert got["batch_id"].nunique() == 1


def test_system_columns_and_types(store: es.Store) -> None:
    model = store.model("m", task="binary_classification")
    model.log(binary_frame(4), schema=BINARY_SCHEMA, version="v1", environment="production")
    schema = model.dataset().to_arrow().schema
    assert schema.names[: len(SYSTEM_COLUMNS)] == list(SYSTEM_COLUMNS)
    assert schema.field("prediction_id").type == pa.string()
    assert schema.field("timestamp").type == pa.timestamp("us")
    assert schema.field("age").type == pa.float64()
    assert schema.field("city").type == pa.string()
    assert schema.field("prediction_label").type == pa.int64()
    assert schema.field("actual_label").type == pa.int64()


# -- feature types ------------------------------------------------------------------------------


def feature_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["a", "b", "c", "d"],
            "n_int": np.array([1, -2, 3, 2**40], dtype="int64"),
            "n_int32": np.array([7, 8, 9, 10], dtype="int32"),
            "n_float": [0.5, None, -1.25, 1e300],
            "n_nullable_int": pd.array([1, None, 3, 4], dtype="Int64"),
            "c_str": ["x", None, "y", "z"],
            "c_category": pd.Categorical(["lo", "hi", "lo", None]),
            "zip": [75001, 69002, 6000, 13001],
            "b_bool": [True, False, True, False],
            "b_nullable": [True, None, False, True],
            "d_naive": pd.to_datetime(
                ["2020-01-01", "2021-06-30 12:34:56.789", None, "1999-12-31"], format="ISO8601"
            ),
            "d_aware": pd.to_datetime(
                ["2020-01-01 00:30", "2020-07-01 12:00", "2020-01-01", None], format="ISO8601"
            ).tz_localize("Europe/Paris"),
            "d_text": [
                "2024-05-01T13:00:00+02:00",
                "2024-05-01 13:00:00",
                None,
                "2024-05-01T00:00:00Z",
            ],
            "score": [0.1, 0.2, 0.3, 0.4],
        }
    )


FEATURE_SCHEMA = es.Schema(
    prediction_id="id",
    prediction_score="score",
    feature_types={"zip": "categorical", "d_text": "datetime"},
)


def test_every_feature_type_round_trips(store: es.Store) -> None:
    df = feature_frame()
    model = store.model("m", task="binary_classification")
    model.log(df, schema=FEATURE_SCHEMA, version="v1", environment="production")
    got = model.dataset().to_pandas()
    frame_equal(got, df, FEATURE_SCHEMA)
    got = got.set_index("prediction_id")
    assert got.loc["b", "d_text"] == pd.Timestamp("2024-05-01 13:00:00")
    assert got.loc["a", "d_text"] == pd.Timestamp("2024-05-01 11:00:00")
    assert got.loc["a", "d_aware"] == pd.Timestamp("2019-12-31 23:30:00")
    assert got.loc["b", "d_aware"] == pd.Timestamp("2020-07-01 10:00:00")
    assert got.loc["b", "zip"] == "69002"
    assert got["n_int"].dtype == np.float64 and got.loc["d", "n_int"] == 2.0**40
    assert got["b_bool"].dtype == np.bool_


def test_features_from_polars_and_arrow_types(store: es.Store) -> None:
    frame = pl.DataFrame(
        {
            "id": [1, 2, 3],
            "cat": pl.Series(["a", "b", None], dtype=pl.Categorical),
            "i8": pl.Series([1, None, 3], dtype=pl.Int8),
            "u64": pl.Series([1, 2, 2**53], dtype=pl.UInt64),
            "f32": pl.Series([0.5, 1.5, None], dtype=pl.Float32),
            "when": pl.Series(
                [dt.datetime(2024, 1, 1, 12), None, dt.datetime(2024, 6, 1)],
                dtype=pl.Datetime("ns"),
            ).dt.replace_time_zone("America/New_York"),
            "day": [dt.date(2024, 1, 1), dt.date(2024, 2, 29), None],
            "flag": [True, None, False],
            "score": [0.1, 0.2, 0.3],
        }
    )
    schema = es.Schema(prediction_id="id", prediction_score="score")
    model = store.model("m", task="binary_classification")
    model.log(frame, schema=schema, version="v1", environment="production")
    got = model.dataset().to_pandas()
    frame_equal(got, frame.to_pandas(), schema)
    got = got.set_index("prediction_id")
    assert got.loc["1", "when"] == pd.Timestamp("2024-01-01 17:00:00")
    assert got.loc["2", "day"] == pd.Timestamp("2024-02-29")


def test_declared_types_override_inference(store: es.Store) -> None:
    df = pd.DataFrame(
        {
            "id": [1, 2, 3],
            "as_number": ["1.5", "2", None],
            "as_bool": [1, 0, 1],
            "as_text_bool": ["true", "false", "yes"],
            "as_date": ["2024-01-01", "2024-01-02T03:04:05", "2024-01-03"],
            "score": [0.5, 0.5, 0.5],
        }
    )
    schema = es.Schema(
        prediction_id="id",
        prediction_score="score",
        feature_types={
            "as_number": "numeric",
            "as_bool": "boolean",
            "as_text_bool": "boolean",
            "as_date": "datetime",
        },
    )
    model = store.model("m", task="binary_classification")
    model.log(df, schema=schema, version="v1", environment="production")
    got = model.dataset().to_pandas().set_index("prediction_id")
    np.testing.assert_array_equal(got["as_number"].to_numpy(), [1.5, 2.0, np.nan])
    assert got["as_bool"].tolist() == [True, False, True]
    assert got["as_text_bool"].tolist() == [True, False, True]
    assert got.loc["2", "as_date"] == pd.Timestamp("2024-01-02 03:04:05")


def test_column_names_are_quoted(store: es.Store) -> None:
    df = pd.DataFrame(
        {"id": [1, 2], 'we"ird name': [1.0, 2.0], "ünï-cøde.x": ["a", "b"], "s": [0.5, 0.1]}
    )
    schema = es.Schema(prediction_id="id", prediction_score="s")
    model = store.model("m", task="binary_classification")
    model.log(df, schema=schema, version="v1", environment="production")
    frame_equal(model.dataset().to_pandas(), df, schema)


# -- timestamps -----------------------------------------------------------------------------------

TIMESTAMP_INPUTS: dict[str, Callable[[], Any]] = {
    "naive": lambda: pd.to_datetime(
        ["2024-01-01 00:00", "2024-01-01 01:30:15.123456"], format="ISO8601"
    ),
    "utc": lambda: pd.to_datetime(["2024-01-01 00:00", "2024-07-01 01:30"]).tz_localize("UTC"),
    "paris": lambda: pd.to_datetime(["2024-01-01 00:00", "2024-07-01 01:30"]).tz_localize(
        "Europe/Paris"
    ),
    "iso_text_offsets": lambda: [
        "2024-01-01T12:00:00+02:00",
        "2024-01-01T12:00:00-05:30",
    ],
    "iso_text_z_and_naive": lambda: ["2024-01-01T12:00:00Z", "2024-01-01 12:00:00.5"],
    "epoch_int": lambda: np.array([0, 1_700_000_000], dtype="int64"),
    "epoch_float": lambda: np.array([1_700_000_000.5, 1_600_000_000.25]),
}


@pytest.mark.parametrize("kind", sorted(TIMESTAMP_INPUTS))
def test_timestamps_are_stored_as_naive_utc(store: es.Store, kind: str) -> None:
    df = pd.DataFrame({"id": ["a", "b"], "ts": TIMESTAMP_INPUTS[kind](), "yhat": [1.0, 2.0]})
    schema = es.Schema(prediction_id="id", timestamp="ts", prediction_score="yhat")
    model = store.model("m", task="regression")
    model.log(df, schema=schema, version="v1", environment="production")
    frame_equal(model.dataset().to_pandas(), df, schema)


def test_known_timestamp_values(store: es.Store) -> None:
    df = pd.DataFrame(
        {
            "id": ["offset", "zulu", "epoch", "float"],
            "ts": [
                "2024-01-01T12:00:00+02:00",
                "2024-01-01T12:00:00Z",
                "1970-01-02T00:00:00",
                "2001-09-09T01:46:40.5+00:00",
            ],
            "yhat": [1.0, 2.0, 3.0, 4.0],
        }
    )
    schema = es.Schema(prediction_id="id", timestamp="ts", prediction_score="yhat")
    model = store.model("m", task="regression")
    model.log(df, schema=schema, version="v1", environment="production")
    got = model.dataset().to_pandas().set_index("prediction_id")["timestamp"]
    assert got["offset"] == pd.Timestamp("2024-01-01 10:00:00")
    assert got["zulu"] == pd.Timestamp("2024-01-01 12:00:00")
    assert got["epoch"] == pd.Timestamp("1970-01-02")
    assert got["float"] == pd.Timestamp("2001-09-09 01:46:40.5")
    epoch = pd.DataFrame({"id": ["e"], "ts": [1_000_000_000.5], "yhat": [0.0]})
    model.log(epoch, schema=schema, version="v2", environment="production")
    got = model.dataset(version="v2").to_pandas()["timestamp"]
    assert got.iloc[0] == pd.Timestamp("2001-09-09 01:46:40.5")


def test_without_a_timestamp_column_the_logging_time_is_used(store: es.Store) -> None:
    before = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    model = store.model("m", task="regression")
    df = regression_frame(3)
    model.log(
        df,
        schema=es.Schema(prediction_id="id", prediction_score="yhat"),
        version="v1",
        environment="production",
    )
    after = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    stamps = model.dataset().to_pandas()["timestamp"]
    assert stamps.nunique() == 1
    assert pd.Timestamp(before) <= stamps.iloc[0] <= pd.Timestamp(after)


@pytest.mark.parametrize("dtype", ["int32", "uint32"])
def test_epoch_seconds_of_any_integer_width(store: es.Store, dtype: str) -> None:
    df = pd.DataFrame(
        {"id": ["a", "b"], "ts": np.array([1_700_000_000, 0], dtype=dtype), "yhat": [1.0, 2.0]}
    )
    schema = es.Schema(prediction_id="id", timestamp="ts", prediction_score="yhat")
    model = store.model("m", task="regression")
    try:
        model.log(df, schema=schema, version="v1", environment="production")
    except Exception as exc:  # report any failure as an evalstore one, for `raises=`
        raise es.EvalstoreError(f"{type(exc).__name__}: {exc}") from exc
    frame_equal(model.dataset().to_pandas(), df, schema)


_TZ_SCRIPT = """
import sys, pandas as pd, evalstore as es
store = es.connect(sys.argv[1])
df = pd.DataFrame({
    "id": ["aware", "text"],
    "ts": ["2024-01-01T12:00:00+02:00", "2024-07-01T12:00:00-05:00"],
    "when": pd.to_datetime(["2024-01-01 12:00", "2024-07-01 12:00"]).tz_localize("Europe/Paris"),
    "yhat": [1.0, 2.0],
})
model = store.model("m", task="regression")
schema = es.Schema(prediction_id="id", timestamp="ts", prediction_score="yhat")
model.log(df, schema=schema, version="v1", environment="production")
for row in model.dataset().to_pandas().sort_values("prediction_id").itertuples():
    print(row.prediction_id, row.timestamp.isoformat(), row.when.isoformat())
"""


def test_timestamps_are_utc_whatever_the_machine_time_zone(tmp_path: Path) -> None:
    env = {**os.environ, "TZ": "America/New_York"}
    done = subprocess.run(
        [sys.executable, "-c", _TZ_SCRIPT, str(tmp_path / "store")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"child failed: {done.stderr[-2000:]}")
    assert done.stdout.split() == [
        "aware",
        "2024-01-01T10:00:00",
        "2024-01-01T11:00:00",
        "text",
        "2024-07-01T17:00:00",
        "2024-07-01T10:00:00",
    ]


# -- tags, SHAP values, embeddings -------------------------------------------------------------


def test_tags_shap_values_and_embeddings(store: es.Store) -> None:
    rng = np.random.default_rng(1)
    n = 20
    df = pd.DataFrame(
        {
            "id": np.arange(n),
            "age": rng.integers(18, 90, n),
            "income": rng.normal(3000, 500, n),
            "region": rng.choice(["EU", "US", "APAC"], n),
            "shap_age": rng.normal(size=n),
            "shap_income": rng.normal(size=n),
            "text_vec": [rng.normal(size=4).astype("float32") for _ in range(n)],
            "image_vec": [list(rng.random(3)) for _ in range(n)],
            "score": rng.random(n),
        }
    )
    df.loc[3, "image_vec"] = None
    schema = es.Schema(
        prediction_id="id",
        features=["age", "income"],
        tags=["region"],
        prediction_score="score",
        shap_values={"age": "shap_age", "income": "shap_income"},
        embeddings={"text": "text_vec", "image": "image_vec"},
    )
    model = store.model("m", task="binary_classification")
    model.log(df, schema=schema, version="v1", environment="production")
    got = model.dataset().to_pandas()
    frame_equal(got, df, schema)
    assert {"shap:age", "shap:income", "text", "image", "region"} <= set(got.columns)
    assert model.dataset().to_arrow().schema.field("text").type == pa.list_(pa.float32())


def test_embeddings_from_arrow_fixed_size_lists(store: es.Store) -> None:
    vectors = pa.FixedSizeListArray.from_arrays(pa.array(np.arange(6, dtype="float64")), 2)
    table = pa.table({"id": ["a", "b", "c"], "v": vectors, "yhat": [1.0, 2.0, 3.0]})
    schema = es.Schema(prediction_id="id", prediction_score="yhat", embeddings={"vec": "v"})
    model = store.model("m", task="regression")
    model.log(table, schema=schema, version="v1", environment="production")
    frame_equal(model.dataset().to_pandas(), table.to_pandas(), schema)


# -- input formats --------------------------------------------------------------------------------


def _as(kind: str, df: pd.DataFrame, tmp_path: Path) -> Any:
    table = pa.Table.from_pandas(df, preserve_index=False)
    if kind == "pandas":
        return df
    if kind == "polars":
        return pl.from_pandas(df)
    if kind == "polars_lazy":
        return pl.from_pandas(df).lazy()
    if kind == "arrow_table":
        return table
    if kind == "arrow_chunked":
        return pa.Table.from_batches(table.to_batches(max_chunksize=7))
    if kind == "record_batch":
        return table.combine_chunks().to_batches()[0]
    if kind == "record_batch_reader":
        return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=5))
    if kind in ("parquet", "parquet_str"):
        path = tmp_path / "batch.parquet"
        pq.write_table(table, path, row_group_size=9)
        return str(path) if kind == "parquet_str" else path
    if kind == "csv":
        path = tmp_path / "batch.csv"
        df.to_csv(path, index=False)
        return path
    raise AssertionError(kind)


FORMATS = [
    "pandas",
    "polars",
    "polars_lazy",
    "arrow_table",
    "arrow_chunked",
    "record_batch",
    "record_batch_reader",
    "parquet",
    "parquet_str",
    "csv",
]


@pytest.mark.parametrize("kind", FORMATS)
@pytest.mark.parametrize("task", sorted(TASKS))
def test_every_input_format(store: es.Store, tmp_path: Path, kind: str, task: str) -> None:
    make, schema = TASKS[task]
    df = make(25)
    model = store.model("m", task=task)
    report = model.log(_as(kind, df, tmp_path), schema=schema, version="v1", environment="training")
    assert report.rows == 25
    frame_equal(model.dataset().to_pandas(), df, schema)


def test_formats_store_the_same_values(store: es.Store, tmp_path: Path) -> None:
    """Every format of one batch is stored identically (compared on Arrow, not via the oracle)."""
    df = binary_frame(25)
    tables = []
    for i, kind in enumerate(FORMATS):
        model = store.model(f"m{i}", task="binary_classification")
        model.log(
            _as(kind, df, tmp_path), schema=BINARY_SCHEMA, version="v1", environment="production"
        )
        table = model.dataset().to_arrow().drop_columns(["batch_id"])
        tables.append((kind, table.sort_by("prediction_id")))
    for kind, table in tables[1:]:
        assert table.equals(tables[0][1]), kind


def test_pandas_frames_larger_than_a_chunk(store: es.Store) -> None:
    n = 300_000
    rng = np.random.default_rng(7)
    df = pd.DataFrame({"id": np.arange(n), "x": rng.normal(size=n), "yhat": rng.normal(size=n)})
    schema = es.Schema(prediction_id="id", prediction_score="yhat")
    model = store.model("m", task="regression")
    assert model.log(df, schema=schema, version="v1", environment="production").rows == n
    ds = model.dataset()
    sums = ds.execute(ds.table.aggregate(x=ds.table.x.sum(), n=ds.table.count())).to_pylist()[0]
    assert sums["n"] == n
    np.testing.assert_allclose(sums["x"], df["x"].sum(), rtol=1e-9)


# -- selectors ------------------------------------------------------------------------------------


@pytest.fixture
def selected(store: es.Store) -> tuple[es.Model, pd.DataFrame]:
    """A model with batches in every environment and two versions, and the same rows in pandas."""
    model = store.model("m", task="binary_classification")
    logged = []
    for version, env, start, n in [
        ("v1", "training", 0, 48),
        ("v1", "validation", 48, 24),
        ("v1", "production", 72, 48),
        ("v2", "production", 72, 48),  # the same ids under another version
        ("v2", "production", 120, 24),
    ]:
        df = binary_frame(n, start=start)
        model.log(df, schema=BINARY_SCHEMA, version=version, environment=env)
        logged.append(df.assign(version=version, environment=env))
    return model, pd.concat(logged, ignore_index=True)


def _keys(frame: pd.DataFrame, id_column: str) -> list[tuple[str, str, str]]:
    return sorted(
        zip(frame["version"], frame["environment"], frame[id_column].astype(str), strict=True)
    )


def _check(ds: es.Dataset, expected: pd.DataFrame) -> None:
    got = ds.to_pandas()
    assert _keys(got, "prediction_id") == _keys(expected, "id")
    assert ds.count() == len(got) == len(expected)


@pytest.mark.parametrize(
    ("environment", "version"),
    [
        (None, None),
        ("production", None),
        (["training", "validation"], None),
        (None, "v2"),
        (None, ["v1", "v2"]),
        ("production", "v1"),
        (["production"], ["v2"]),
        ("training", "v2"),
    ],
)
def test_environment_and_version(
    selected: tuple[es.Model, pd.DataFrame], environment: Any, version: Any
) -> None:
    model, all_rows = selected
    envs = [environment] if isinstance(environment, str) else environment
    versions = [version] if isinstance(version, str) else version
    mask = np.ones(len(all_rows), dtype=bool)
    if envs:
        mask &= all_rows["environment"].isin(envs).to_numpy()
    if versions:
        mask &= all_rows["version"].isin(versions).to_numpy()
    _check(model.dataset(environment=environment, version=version), all_rows[mask])


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2024-01-02", None),
        (None, "2024-01-02"),
        ("2024-01-01T10:00:00", "2024-01-03T05:00:00"),
        (dt.date(2024, 1, 3), dt.datetime(2024, 1, 4, 12)),
        # 12:00 at UTC+1 is 11:00 UTC: the bound is converted to UTC
        (dt.datetime(2024, 1, 2, 12, tzinfo=dt.timezone(dt.timedelta(hours=1))), None),
        ("2024-01-02T12:00:00+01:00", "2024-01-03T00:00:00Z"),
        (pd.Timestamp("2024-01-05"), None),
    ],
)
def test_time_range(selected: tuple[es.Model, pd.DataFrame], start: Any, end: Any) -> None:
    model, all_rows = selected
    ts = all_rows["ts"].to_numpy()
    mask = np.ones(len(all_rows), dtype=bool)
    if start is not None:
        mask &= ts >= _utc(start)
    if end is not None:
        mask &= ts < _utc(end)
    assert 0 < mask.sum() < len(all_rows)  # the case selects something, not everything
    _check(model.dataset(start=start, end=end), all_rows[mask])


def _utc(value: Any) -> np.datetime64:
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.to_datetime64()


def test_start_is_inclusive_and_end_exclusive(selected: tuple[es.Model, pd.DataFrame]) -> None:
    model, _ = selected
    # ids 10 and 11 have timestamps 10:00 and 11:00 on 2024-01-01 (training only)
    ds = model.dataset(environment="training", start="2024-01-01T10:00", end="2024-01-01T11:00")
    assert ds.to_pandas()["prediction_id"].tolist() == ["10"]
    ds = model.dataset(environment="training", start="2024-01-01T10:00", end="2024-01-01T11:00:01")
    assert sorted(ds.to_pandas()["prediction_id"]) == ["10", "11"]


#: a filter, and the same filter on the logged pandas rows (the oracle)
WHERES: dict[str, tuple[Any, Callable[[pd.DataFrame], Any]]] = {
    "dict": ({"region": "EU"}, lambda f: f.region == "EU"),
    "dict_list": (
        {"city": ["paris", "nice"], "region": "US"},
        lambda f: f.city.isin(["paris", "nice"]) & (f.region == "US"),
    ),
    "dict_on_actual": ({"actual_label": 1}, lambda f: f.label == 1),
    "lambda": (lambda t: t.age > 40, lambda f: f.age > 40),
    "lambda_and": (
        lambda t: (t.prediction_score >= 0.5) & (t.city != "lyon"),
        lambda f: (f.score >= 0.5) & (f.city != "lyon"),
    ),
    "deferred": (ibis._.age > 40, lambda f: f.age > 40),
    "deferred_between": (
        ibis._.income.between(1200, 1700),
        lambda f: f.income.between(1200, 1700),
    ),
}


@pytest.mark.parametrize("name", list(WHERES))
def test_where(selected: tuple[es.Model, pd.DataFrame], name: str) -> None:
    model, all_rows = selected
    where, oracle = WHERES[name]
    ds = model.dataset(where=where)
    _check(ds, all_rows[oracle(all_rows).to_numpy()])
    assert 0 < ds.count() < len(all_rows)


def test_where_none_selects_missing_values(store: es.Store) -> None:
    df = pd.DataFrame({"id": [1, 2, 3], "c": ["a", None, "b"], "s": [0.1, 0.2, 0.3]})
    model = store.model("m", task="binary_classification")
    model.log(
        df,
        schema=es.Schema(prediction_id="id", prediction_score="s"),
        version="v1",
        environment="production",
    )
    assert model.dataset(where={"c": None}).to_pandas()["prediction_id"].tolist() == ["2"]


def test_where_on_an_integer_prediction_id(selected: tuple[es.Model, pd.DataFrame]) -> None:
    model, all_rows = selected
    try:
        count = model.dataset(where={"prediction_id": 5}).count()
    except es.ParameterError as exc:
        assert "prediction_id" in str(exc)
    else:
        assert count == int((all_rows["id"] == 5).sum())


def test_selectors_combine(selected: tuple[es.Model, pd.DataFrame]) -> None:
    model, all_rows = selected
    ts = all_rows["ts"].to_numpy()
    mask = (
        (all_rows["environment"] == "production")
        & (all_rows["version"] == "v1")
        & (ts >= np.datetime64("2024-01-04T06:00"))
        & (all_rows["region"] == "EU")
    )
    ds = model.dataset(
        environment="production", version="v1", start="2024-01-04T06:00", where={"region": "EU"}
    )
    _check(ds, all_rows[mask.to_numpy()])


def test_aggregates_in_the_engine_match_numpy(selected: tuple[es.Model, pd.DataFrame]) -> None:
    model, all_rows = selected
    ds = model.dataset()
    t = ds.table
    expr = t.group_by(["version", "environment"]).aggregate(
        n=t.count(),
        score=t.prediction_score.mean(),
        income=t.income.sum(),
        positives=t.actual_label.sum(),
    )
    got = ds.execute(expr).to_pandas().set_index(["version", "environment"]).sort_index()
    want = (
        all_rows.groupby(["version", "environment"])
        .agg(
            n=("id", "size"),
            score=("score", "mean"),
            income=("income", "sum"),
            positives=("label", "sum"),
        )
        .sort_index()
    )
    np.testing.assert_array_equal(got["n"].to_numpy(), want["n"].to_numpy())
    np.testing.assert_array_equal(got["positives"].to_numpy(), want["positives"].to_numpy())
    np.testing.assert_allclose(got["score"].to_numpy(), want["score"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(got["income"].to_numpy(), want["income"].to_numpy(), rtol=1e-12)


def test_empty_selection(selected: tuple[es.Model, pd.DataFrame]) -> None:
    model, _ = selected
    ds = model.dataset(environment="training", version="v2")
    assert ds.count() == 0
    assert len(ds.to_pandas()) == 0
    assert ds.to_arrow().schema.names == model.dataset().to_arrow().schema.names


def test_dataset_of_a_model_with_nothing_logged(store: es.Store) -> None:
    ds = store.model("m", task="regression").dataset()
    assert ds.count() == 0
    assert ds.columns == list(SYSTEM_COLUMNS)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"environment": "prodution"}, r"environment must be one of .*Did you mean 'production'"),
        ({"environment": []}, "environment must be a string or a non-empty list"),
        ({"version": [1]}, "version must be a string or a non-empty list"),
        ({"start": "yesterday"}, "start must be an ISO 8601"),
        ({"end": 5}, "end must be a datetime, a date or ISO 8601 text"),
        ({"start": "2024-01-02", "end": "2024-01-01"}, "end must be later than start"),
        ({"start": "2024-01-02", "end": "2024-01-02"}, "end must be later than start"),
        ({"where": {"regoin": "EU"}}, "Did you mean 'region'"),
        ({"where": 5}, "where must be a dict of column -> value"),
    ],
)
def test_bad_selectors(
    selected: tuple[es.Model, pd.DataFrame], kwargs: dict[str, Any], match: str
) -> None:
    model, _ = selected
    with pytest.raises(es.ParameterError, match=match):
        model.dataset(**kwargs)


def test_dataset_repr_and_columns(selected: tuple[es.Model, pd.DataFrame]) -> None:
    model, _ = selected
    ds = model.dataset(environment="production", version=["v1"])
    assert repr(ds) == "Dataset(environment=['production'], version=['v1'])"
    assert ds.columns == list(ds.to_arrow().schema.names)
