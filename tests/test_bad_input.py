"""Bad input is refused as a whole, with a message that says where, how much, and what to do.

Every rejection here is checked the same way (``rejected``): the error is a
``BatchRejected`` whose message ends with "Fix: ... Nothing was written.", and
a snapshot of the store (rows, batches, catalog of columns) is unchanged.
Row-level problems also name the count ("N of M rows") and an example; a
problem with a column's type or with the schema has no rows to count.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import evalstore as es
from conftest import BINARY_SCHEMA, REGRESSION_SCHEMA, binary_frame, regression_frame, snapshot
from evalstore.ingest.sources import DEFAULT_CHUNK_ROWS, open_source


@pytest.fixture
def binary(store: es.Store) -> es.Model:
    """A binary model with one committed batch (v1, production, ids 0-5)."""
    model = store.model("clicks", task="binary_classification")
    model.log(binary_frame(6), schema=BINARY_SCHEMA, version="v1", environment="production")
    return model


@pytest.fixture
def regression(store: es.Store) -> es.Model:
    model = store.model("bikes", task="regression")
    model.log(regression_frame(6), schema=REGRESSION_SCHEMA, version="v1", environment="training")
    return model


@pytest.fixture(params=["pandas", "parquet", "record_batch_reader"])
def chunked(request: pytest.FixtureRequest) -> str:
    """An input kind that evalstore reads in chunks of DEFAULT_CHUNK_ROWS or fewer."""
    return str(request.param)


def as_chunked(table: pa.Table, kind: str, tmp_path: Path) -> Any:
    """``table`` as an input that is read in several chunks (checked, so the test means it)."""
    if kind == "pandas":
        data: Any = table.to_pandas()
    elif kind == "parquet":
        data = tmp_path / "batch.parquet"
        pq.write_table(table, data)
    else:
        batches = table.to_batches(max_chunksize=DEFAULT_CHUNK_ROWS)
        data = pa.RecordBatchReader.from_batches(table.schema, batches)
        assert len(batches) > 1
        return data
    assert sum(1 for _ in open_source(data).batches) > 1
    return data


def rejected(
    store: es.Store, log: Callable[[], Any], *, column: str | None, rows: tuple[int, int] | None
) -> es.BatchRejected:
    """Run ``log``; check it is refused, the message's form, and that the store is unchanged."""
    before = snapshot(store)
    with pytest.raises(es.BatchRejected) as info:
        log()
    after = snapshot(store)
    assert after == before, "a rejected batch changed the store"
    error = info.value
    message = str(error)
    assert message.endswith(" Nothing was written."), message
    assert re.search(r"\. Fix: \S", message), message
    assert error.fix, message
    assert error.column == column, message
    if column is not None:
        assert message.startswith(f"column {column!r}: "), message
    if rows is None:
        assert error.rows is None, message
    else:
        assert (error.rows, error.total) == rows, message
        assert f"{rows[0]:,} of {rows[1]:,} rows " in message, message
        assert error.example is not None and f"(e.g. {error.example})" in message, message
    return error


def log_binary(model: es.Model, data: Any, schema: es.Schema = BINARY_SCHEMA, **kw: Any) -> Any:
    kw = {"version": "v1", "environment": "production", **kw}
    return partial(model.log, data, schema=schema, **kw)


# -- the schema names columns the data does not have -----------------------------------------------


def test_missing_column(store: es.Store, binary: es.Model) -> None:
    df = binary_frame(6).drop(columns="city")
    error = rejected(store, log_binary(binary, df), column="city", rows=None)
    assert "is not in the data" in str(error)
    assert "The data has columns: 'id', 'ts', 'age'" in str(error)


def test_misspelt_column(store: es.Store, binary: es.Model) -> None:
    schema = es.Schema(
        prediction_id="id",
        timestamp="ts",
        features=["age", "incme", "city"],
        tags=["region"],
        prediction_label="pred",
        prediction_score="score",
        actual_label="label",
    )
    error = rejected(store, log_binary(binary, binary_frame(6), schema), column="incme", rows=None)
    assert "Did you mean 'income'?" in str(error)


def test_misspelt_role_column(store: es.Store, binary: es.Model) -> None:
    schema = es.Schema(prediction_id="idd", prediction_score="score")
    error = rejected(store, log_binary(binary, binary_frame(6), schema), column="idd", rows=None)
    assert "Did you mean 'id'?" in str(error)


# -- wrong types ---------------------------------------------------------------------------------


def test_text_in_a_declared_numeric_feature(store: es.Store, binary: es.Model) -> None:
    df = binary_frame(6).astype({"age": str})
    df.loc[[1, 4], "age"] = ["thirty", "n/a"]
    schema = es.Schema(**{**BINARY_SCHEMA.to_dict(), "feature_types": {"age": "numeric"}})
    error = rejected(store, log_binary(binary, df, schema), column="age", rows=(2, 6))
    assert "have values that are not numbers" in str(error)
    assert error.example == "'thirty' at row 1, prediction_id '1'"


def test_text_in_a_feature_that_was_numeric(store: es.Store, binary: es.Model) -> None:
    df = binary_frame(6).astype({"age": str})
    error = rejected(store, log_binary(binary, df), column="age", rows=None)
    assert "was numeric in this model's earlier batches but is categorical" in str(error)
    assert "feature_types={'age': 'numeric'}" in str(error)


def test_float_prediction_ids(store: es.Store, binary: es.Model) -> None:
    df = binary_frame(6).astype({"id": float})
    df.loc[2, "id"] = np.nan
    error = rejected(store, log_binary(binary, df), column="id", rows=None)
    assert "prediction ids must be strings or integers" in str(error)
    # to integers, not text: 1.0 as text is the id '1.0', which matches no prediction '1'
    assert "df[col].astype('int64')" in str(error) and "'1.0'" in str(error)
    booleans = binary_frame(6).assign(id=[True, False] * 3)
    error = rejected(store, log_binary(binary, booleans), column="id", rows=None)
    assert "astype(str)" in str(error)


def test_non_numeric_score(store: es.Store, binary: es.Model) -> None:
    df = binary_frame(6).astype({"score": str})
    error = rejected(store, log_binary(binary, df), column="score", rows=None)
    assert "scores must be numeric" in str(error)


def test_declared_boolean_with_other_values(store: es.Store) -> None:
    model = store.model("m", task="regression")
    df = pd.DataFrame({"id": [1, 2, 3], "flag": ["yes", "maybe", "no"], "yhat": [1.0, 2.0, 3.0]})
    schema = es.Schema(
        prediction_id="id", prediction_score="yhat", feature_types={"flag": "boolean"}
    )
    log = partial(model.log, df, schema=schema, version="v1", environment="training")
    error = rejected(store, log, column="flag", rows=(1, 3))
    assert error.example == "'maybe' at row 1, prediction_id '2'"


def test_unsupported_feature_type(store: es.Store) -> None:
    model = store.model("m", task="regression")
    table = pa.table({"id": [1, 2], "s": [{"a": 1}, {"a": 2}], "yhat": [1.0, 2.0]})
    schema = es.Schema(prediction_id="id", prediction_score="yhat")
    log = partial(model.log, table, schema=schema, version="v1", environment="training")
    error = rejected(store, log, column="s", rows=None)
    assert "not a supported feature type" in str(error)


def test_feature_without_values_needs_a_declared_type(store: es.Store) -> None:
    model = store.model("m", task="regression")
    df = pd.DataFrame({"id": [1, 2], "empty": [None, None], "yhat": [1.0, 2.0]})
    schema = es.Schema(prediction_id="id", prediction_score="yhat")
    log = partial(model.log, df, schema=schema, version="v1", environment="training")
    error = rejected(store, log, column="empty", rows=None)
    assert "its type cannot be inferred" in str(error)
    declared = es.Schema(
        prediction_id="id", prediction_score="yhat", feature_types={"empty": "numeric"}
    )
    model.log(df, schema=declared, version="v1", environment="training")
    assert model.dataset().to_pandas()["empty"].isna().all()


def test_mixed_types_in_a_pandas_object_column(store: es.Store, binary: es.Model) -> None:
    df = binary_frame(6).astype({"city": object})
    df.loc[3, "city"] = 12
    error = rejected(store, log_binary(binary, df), column="city", rows=None)
    assert "mixed types" in str(error)


def test_mixed_types_after_the_sampled_rows(store: es.Store) -> None:
    """The pandas reader types a column from its first rows; a later surprise is still caught."""
    model = store.model("m", task="regression")
    n = 3000
    df = pd.DataFrame({"id": np.arange(n), "c": pd.Series(["a"] * n, dtype=object), "yhat": 1.0})
    df.loc[n - 1, "c"] = 3.5
    schema = es.Schema(prediction_id="id", prediction_score="yhat")
    log = partial(model.log, df, schema=schema, version="v1", environment="training")
    rejected(store, log, column="c", rows=None)


def test_feature_types_naming_no_feature(store: es.Store, binary: es.Model) -> None:
    schema = es.Schema(**{**BINARY_SCHEMA.to_dict(), "feature_types": {"agee": "numeric"}})
    error = rejected(store, log_binary(binary, binary_frame(6), schema), column="agee", rows=None)
    assert "is not a feature or tag of this batch" in str(error)
    assert "Did you mean 'age'?" in str(error)


def test_csv_column_that_changes_type_late(store: es.Store, tmp_path: Path) -> None:
    """The CSV reader types columns from the first 16 MiB; a later surprise writes nothing."""
    model = store.model("m", task="regression")
    n = 1_200_000  # about 20 MB: the bad value is in the second block
    lines = [f"{i},{i},1.5" for i in range(n)]
    lines.append(f"{n},oops,1.5")
    path = tmp_path / "late.csv"
    path.write_text("id,x,yhat\n" + "\n".join(lines) + "\n", encoding="utf-8")
    before = snapshot(store)
    with pytest.raises(es.ParameterError, match="a CSV file whose columns keep one type") as info:
        model.log(
            path,
            schema=es.Schema(prediction_id="id", prediction_score="yhat"),
            version="v1",
            environment="training",
        )
    assert "invalid value 'oops'" in str(info.value)
    assert snapshot(store) == before


# -- prediction ids ------------------------------------------------------------------------------


def test_null_prediction_ids(store: es.Store, binary: es.Model) -> None:
    df = binary_frame(6).astype({"id": str})
    df.loc[[2, 5], "id"] = None
    error = rejected(store, log_binary(binary, df), column="id", rows=(2, 6))
    assert "have no prediction id" in str(error)
    assert error.example == "a missing value at row 2"


def test_duplicate_prediction_ids(store: es.Store, binary: es.Model) -> None:
    df = binary_frame(6)
    df.loc[[3, 4], "id"] = 1
    error = rejected(store, log_binary(binary, df), column="id", rows=(3, 6))
    assert "share their prediction id" in str(error)
    assert "(1 id appears more than once)" in str(error)
    assert error.example == "prediction_id '1'"
    assert "drop_duplicates" in str(error)


def test_duplicates_across_chunks_of_a_large_batch(
    store: es.Store, regression: es.Model, tmp_path: Path, chunked: str
) -> None:
    n = DEFAULT_CHUNK_ROWS + 100
    ids = np.arange(n)
    ids[-1] = 7  # the last row repeats an id of the first chunk
    table = pa.table({"id": ids, "temp": np.zeros(n), "season": ["s"] * n, "yhat": np.ones(n)})
    data = as_chunked(table, chunked, tmp_path)
    schema = es.Schema(prediction_id="id", features=["temp", "season"], prediction_score="yhat")
    log = partial(regression.log, data, schema=schema, version="v2", environment="training")
    error = rejected(store, log, column="id", rows=(2, n))
    assert error.example == "prediction_id '7'"


# -- values out of range -------------------------------------------------------------------------


def test_unparseable_timestamps(store: es.Store, binary: es.Model) -> None:
    df = binary_frame(6)
    df["ts"] = df["ts"].astype(str)
    df.loc[[1, 2, 3], "ts"] = ["yesterday", "2024-13-01", "01/02/2024"]
    error = rejected(store, log_binary(binary, df), column="ts", rows=(3, 6))
    assert "timestamps that cannot be parsed" in str(error)
    assert error.example == "'yesterday' at row 1, prediction_id '1'"
    assert "ISO 8601" in error.fix


def test_missing_timestamps(store: es.Store, binary: es.Model) -> None:
    df = binary_frame(6)
    df.loc[0, "ts"] = pd.NaT
    error = rejected(store, log_binary(binary, df), column="ts", rows=(1, 6))
    assert "have no timestamp" in str(error)


def test_epoch_milliseconds_are_not_seconds(store: es.Store, binary: es.Model) -> None:
    df = binary_frame(6)
    df["ts"] = df["ts"].astype("datetime64[ms]").astype("int64")  # ms since the epoch
    error = rejected(store, log_binary(binary, df), column="ts", rows=(6, 6))
    assert "outside the range of Unix seconds" in str(error)
    assert "divide milliseconds by 1000" in error.fix


def test_scores_outside_zero_one(store: es.Store, binary: es.Model) -> None:
    df = binary_frame(6)
    df.loc[[1, 4], "score"] = [1.5, -0.01]
    error = rejected(store, log_binary(binary, df), column="score", rows=(2, 6))
    assert "scores outside [0, 1]" in str(error)
    assert error.example == "'1.5' at row 1, prediction_id '1'"


def test_nan_score_in_a_classifier(store: es.Store, binary: es.Model) -> None:
    table = pa.Table.from_pandas(binary_frame(6), preserve_index=False)
    scores = pa.array([0.1, float("nan"), 0.2, 0.3, 0.4, 0.5])
    table = table.set_column(table.schema.get_field_index("score"), "score", scores)
    rejected(store, log_binary(binary, table), column="score", rows=(1, 6))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_nan_or_infinite_regression_score(
    store: es.Store, regression: es.Model, bad: float
) -> None:
    table = pa.Table.from_pandas(regression_frame(6), preserve_index=False)
    yhat = table.column("yhat").to_pylist()
    yhat[3] = bad
    table = table.set_column(table.schema.get_field_index("yhat"), "yhat", pa.array(yhat))
    log = partial(
        regression.log, table, schema=REGRESSION_SCHEMA, version="v1", environment="training"
    )
    error = rejected(store, log, column="yhat", rows=(1, 6))
    assert "NaN or infinite" in str(error)


def test_labels_that_are_not_whole_numbers(store: es.Store, binary: es.Model) -> None:
    df = binary_frame(6).astype({"pred": float})
    df.loc[2, "pred"] = 0.5
    error = rejected(store, log_binary(binary, df), column="pred", rows=(1, 6))
    assert "not whole numbers" in str(error)


# -- arguments -------------------------------------------------------------------------------------


@pytest.mark.parametrize("environment", ["prod", "Production", "", None, "test"])
def test_unknown_environment(store: es.Store, binary: es.Model, environment: Any) -> None:
    before = snapshot(store)
    with pytest.raises(es.ParameterError, match="environment must be one of") as info:
        binary.log(binary_frame(6), schema=BINARY_SCHEMA, version="v1", environment=environment)
    assert "['training', 'validation', 'production']" in str(info.value)
    with pytest.raises(es.ParameterError, match="environment must be one of"):
        binary.log_actuals(
            binary_frame(6), prediction_id="id", actual="label", environment=environment
        )
    assert snapshot(store) == before


def test_unknown_environment_suggests_the_closest(binary: es.Model) -> None:
    with pytest.raises(es.ParameterError, match="Did you mean 'production'"):
        binary.log(binary_frame(6), schema=BINARY_SCHEMA, version="v1", environment="productoin")


@pytest.mark.parametrize("version", ["", " v1", "v 1", "-v1", "v/1", "x" * 201, 1, None])
def test_bad_version(store: es.Store, binary: es.Model, version: Any) -> None:
    before = snapshot(store)
    with pytest.raises(es.ParameterError, match="version must be 1-200 letters, digits"):
        binary.log(binary_frame(6), schema=BINARY_SCHEMA, version=version, environment="training")
    assert snapshot(store) == before


@pytest.mark.parametrize("name", ["", "a b", "-x", ".x", "x" * 201, "a/b", 3])
def test_bad_model_name(store: es.Store, name: Any) -> None:
    with pytest.raises(es.ParameterError, match="model name must be 1-200 letters, digits"):
        store.model(name, task="regression")
    assert store.models() == []


@pytest.mark.parametrize("name", ["a", "A.b-c_d", "1", "x" * 200])
def test_good_model_names(store: es.Store, name: str) -> None:
    assert store.model(name, task="regression").name == name
    assert store.model(name).task is es.Task.REGRESSION


def test_unknown_model_suggests_a_close_name(store: es.Store, binary: es.Model) -> None:
    with pytest.raises(es.ModelNotFound) as info:
        store.model("click")
    message = str(info.value)
    assert message.startswith("no model named 'click'")
    assert "Did you mean 'clicks'?" in message
    assert "store.model(name, task=...)" in message
    assert info.value.model == "click"
    with pytest.raises(KeyError):
        store.model("zzz")
    with pytest.raises(es.ModelNotFound, match="Known models: clicks"):
        store.model("zzz")
    assert [m.name for m in store.models()] == ["clicks"]


def test_unknown_model_in_an_empty_store(store: es.Store) -> None:
    with pytest.raises(es.ModelNotFound, match="no model named 'm' in this store"):
        store.model("m")
    assert store.models() == []


def test_task_of_an_existing_model_cannot_change(store: es.Store, binary: es.Model) -> None:
    with pytest.raises(es.ParameterError, match="binary_classification"):
        store.model("clicks", task="regression")
    assert store.model("clicks", task="binary_classification").task is es.Task.BINARY_CLASSIFICATION


def test_unknown_task(store: es.Store) -> None:
    with pytest.raises(es.ParameterError, match="Did you mean 'regression'"):
        store.model("m", task="regresion")
    assert store.models() == []


def test_schema_must_be_a_schema(store: es.Store, binary: es.Model) -> None:
    with pytest.raises(es.ParameterError, match=r"schema must be an evalstore.Schema; got 'dict'"):
        binary.log(
            binary_frame(6), schema=BINARY_SCHEMA.to_dict(), version="v1", environment="production"
        )


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ([{"id": 1}], "data must be a pandas or polars DataFrame"),
        ({"id": [1]}, "data must be a pandas or polars DataFrame"),
        ("no/such/file.parquet", "file must be an existing Parquet or CSV file"),
    ],
)
def test_unsupported_data(store: es.Store, binary: es.Model, data: Any, match: str) -> None:
    before = snapshot(store)
    with pytest.raises(es.ParameterError, match=match):
        binary.log(data, schema=BINARY_SCHEMA, version="v1", environment="production")
    assert snapshot(store) == before


def test_file_of_another_format(store: es.Store, binary: es.Model, tmp_path: Path) -> None:
    path = tmp_path / "batch.json"
    path.write_text("{}", encoding="utf-8")
    with pytest.raises(es.ParameterError, match=r"file must be a \.parquet or \.csv file"):
        binary.log(path, schema=BINARY_SCHEMA, version="v1", environment="production")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet")
    with pytest.raises(es.ParameterError, match="file must be a readable Parquet file"):
        binary.log(broken, schema=BINARY_SCHEMA, version="v1", environment="production")


def test_pandas_column_names_must_be_unique_strings(binary: es.Model) -> None:
    df = binary_frame(6)
    with pytest.raises(es.ParameterError, match="unique column names"):
        binary.log(
            pd.concat([df, df[["age"]]], axis=1),
            schema=BINARY_SCHEMA,
            version="v1",
            environment="production",
        )
    with pytest.raises(es.ParameterError, match="string column names"):
        binary.log(
            df.rename(columns={"age": 0}),
            schema=BINARY_SCHEMA,
            version="v1",
            environment="production",
        )


def test_connect_to_a_url_without_a_server_says_how_to_start_one() -> None:
    # port 9 (discard) has no listener on a test machine: the refusal comes at once
    with pytest.raises(es.ServerError, match=r"cannot reach the evalstore server.*evalstore serve"):
        es.connect("http://127.0.0.1:9")


# -- the model's earlier batches -------------------------------------------------------------------


def test_feature_set_differs_within_a_version(store: es.Store, binary: es.Model) -> None:
    df = binary_frame(6).assign(extra=1.0)
    schema = es.Schema(
        **{**BINARY_SCHEMA.to_dict(), "features": ["age", "income", "city", "extra"]}
    )
    error = rejected(store, log_binary(binary, df, schema), column=None, rows=None)
    assert "the features of this batch differ from this version's earlier batches" in str(error)
    assert "new 'extra'" in str(error)
    fewer = es.Schema(**{**BINARY_SCHEMA.to_dict(), "features": ["age"]})
    error = rejected(store, log_binary(binary, df, fewer), column=None, rows=None)
    assert "missing 'city', 'income'" in str(error)
    # under a new version the new feature set is fine
    binary.log(df, schema=schema, version="v2", environment="production")
    assert binary.dataset(version="v2").to_pandas()["extra"].tolist() == [1.0] * 6
    assert binary.dataset(version="v1").to_pandas()["extra"].isna().all()


def test_predictions_differ_within_a_version(store: es.Store, binary: es.Model) -> None:
    schema = es.Schema(**{**BINARY_SCHEMA.to_dict(), "prediction_label": None})
    error = rejected(store, log_binary(binary, binary_frame(6), schema), column=None, rows=None)
    assert "the predictions of this batch differ" in str(error)


def test_timestamp_column_dropped_within_a_version(store: es.Store, binary: es.Model) -> None:
    schema = es.Schema(**{**BINARY_SCHEMA.to_dict(), "timestamp": None})
    error = rejected(store, log_binary(binary, binary_frame(6), schema), column=None, rows=None)
    assert "had timestamp column" in str(error)


def test_a_tag_reused_as_a_feature(store: es.Store, binary: es.Model) -> None:
    schema = es.Schema(
        **{**BINARY_SCHEMA.to_dict(), "features": ["age", "income", "city", "region"], "tags": []}
    )
    error = rejected(
        store, log_binary(binary, binary_frame(6), schema, version="v2"), column="region", rows=None
    )
    assert "is a feature here but was a tag" in str(error)


def test_feature_type_changed_under_a_new_version(store: es.Store, binary: es.Model) -> None:
    df = binary_frame(6).assign(income=lambda f: f["income"] > 1500)
    error = rejected(store, log_binary(binary, df, version="v2"), column="income", rows=None)
    assert "was numeric in this model's earlier batches but is boolean" in str(error)


def test_label_type_differs_from_the_predictions(store: es.Store, binary: es.Model) -> None:
    actuals = pd.DataFrame({"id": [0, 1], "y": ["yes", "no"]})
    log = partial(binary.log_actuals, actuals, prediction_id="id", actual="y")
    error = rejected(store, log, column="y", rows=None)
    assert "holds string labels, but this model's labels are integers" in str(error)
    df = binary_frame(6).assign(label=lambda f: f["label"].astype(bool))
    error = rejected(store, log_binary(binary, df, version="v2"), column="label", rows=None)
    assert "holds boolean labels" in str(error)


def test_actual_label_type_follows_the_prediction_label_of_the_same_batch(store: es.Store) -> None:
    model = store.model("m", task="binary_classification")
    df = pd.DataFrame({"id": [1, 2], "pred": ["a", "b"], "label": [0, 1]})
    schema = es.Schema(prediction_id="id", prediction_label="pred", actual_label="label")
    log = partial(model.log, df, schema=schema, version="v1", environment="training")
    rejected(store, log, column="label", rows=None)


def test_a_feature_renamed_only_in_case(store: es.Store) -> None:
    model = store.model("m", task="regression")
    first = pd.DataFrame({"id": [1], "Age": [30.0], "yhat": [1.0]})
    model.log(
        first,
        schema=es.Schema(prediction_id="id", prediction_score="yhat"),
        version="v1",
        environment="training",
    )
    second = first.rename(columns={"Age": "age"})
    log = partial(
        model.log,
        second,
        schema=es.Schema(prediction_id="id", prediction_score="yhat"),
        version="v2",
        environment="training",
    )
    error = rejected(store, log, column="age", rows=None)
    assert "differs only in case from 'Age'" in str(error)


# -- the task --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "schema", "column", "text"),
    [
        (
            "regression",
            es.Schema(prediction_id="id", prediction_label="label", prediction_score="s"),
            "label",
            "prediction_label is for classification models",
        ),
        (
            "regression",
            es.Schema(prediction_id="id", prediction_score="s", actual_label="label"),
            "label",
            "actual_label is for classification models",
        ),
        ("regression", es.Schema(prediction_id="id"), None, "needs its predicted value"),
        (
            "regression",
            es.Schema(prediction_id="id", prediction_score={"a": "s"}),
            None,
            "takes one prediction_score column",
        ),
        (
            "binary_classification",
            es.Schema(prediction_id="id", prediction_score="s", actual_score="y"),
            "y",
            "actual_score is for regression models",
        ),
        ("binary_classification", es.Schema(prediction_id="id"), None, "needs a prediction"),
        (
            "binary_classification",
            es.Schema(prediction_id="id", prediction_score={"a": "s"}),
            None,
            "one score column",
        ),
        (
            "multiclass_classification",
            es.Schema(prediction_id="id", prediction_score="s"),
            "s",
            "one score column per class",
        ),
    ],
)
def test_schema_does_not_fit_the_task(
    store: es.Store, task: str, schema: es.Schema, column: str | None, text: str
) -> None:
    model = store.model("m", task=task)
    df = pd.DataFrame({"id": [1, 2], "s": [0.2, 0.4], "label": [0, 1], "y": [1.0, 2.0]})
    log = partial(model.log, df, schema=schema, version="v1", environment="training")
    error = rejected(store, log, column=column, rows=None)
    assert text in str(error)


@pytest.mark.parametrize("scores", [{}, {"a": "pa"}])
def test_multiclass_with_fewer_than_two_score_columns(store: es.Store, scores: dict) -> None:
    model = store.model("m", task="multiclass_classification")
    df = pd.DataFrame({"id": [1, 2], "x": [0.5, 0.6], "pa": [0.1, 0.2]})
    schema = es.Schema(prediction_id="id", prediction_score=scores)
    log = partial(model.log, df, schema=schema, version="v1", environment="training")
    error = rejected(store, log, column=None, rows=None)
    assert "one score column per class" in str(error)


# -- names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["version", "Timestamp", "batch_id", "PREDICTION_SCORE"])
def test_feature_named_like_a_system_column(store: es.Store, name: str) -> None:
    model = store.model("m", task="regression")
    df = pd.DataFrame({"id": [1, 2], name: [1.0, 2.0], "yhat": [1.0, 2.0]})
    schema = es.Schema(prediction_id="id", prediction_score="yhat")
    log = partial(model.log, df, schema=schema, version="v1", environment="training")
    error = rejected(store, log, column=name, rows=None)
    assert "named like one of evalstore's own columns" in str(error)


def test_two_columns_differing_only_in_case(store: es.Store) -> None:
    model = store.model("m", task="regression")
    df = pd.DataFrame({"id": [1, 2], "Age": [1.0, 2.0], "age": [3.0, 4.0], "yhat": [1.0, 2.0]})
    schema = es.Schema(prediction_id="id", prediction_score="yhat")
    log = partial(model.log, df, schema=schema, version="v1", environment="training")
    error = rejected(store, log, column="age", rows=None)
    assert "names are compared without case" in str(error)


def test_shap_values_for_a_column_that_is_not_a_feature(store: es.Store, binary: es.Model) -> None:
    df = binary_frame(6).assign(shap_region=0.1)
    schema = es.Schema(**{**BINARY_SCHEMA.to_dict(), "shap_values": {"region": "shap_region"}})
    error = rejected(
        store, log_binary(binary, df, schema, version="v2"), column="shap_region", rows=None
    )
    assert "which is not a feature of this schema" in str(error)


# -- embeddings ------------------------------------------------------------------------------------


def test_vectors_of_different_lengths(store: es.Store) -> None:
    model = store.model("m", task="regression")
    df = pd.DataFrame({"id": [1, 2, 3], "v": [[1.0, 2.0], [1.0, 2.0], [1.0]], "yhat": 1.0})
    schema = es.Schema(prediction_id="id", prediction_score="yhat", embeddings={"v": "v"})
    log = partial(model.log, df, schema=schema, version="v1", environment="training")
    error = rejected(store, log, column="v", rows=None)
    assert "vectors of different lengths (from 1 to 2)" in str(error)


def test_vectors_of_another_length_than_earlier_batches(store: es.Store) -> None:
    model = store.model("m", task="regression")
    schema = es.Schema(prediction_id="id", prediction_score="yhat", embeddings={"v": "v"})
    model.log(
        pd.DataFrame({"id": [1], "v": [[1.0, 2.0]], "yhat": 1.0}),
        schema=schema,
        version="v1",
        environment="training",
    )
    later = pd.DataFrame({"id": [2], "v": [[1.0, 2.0, 3.0]], "yhat": 1.0})
    log = partial(model.log, later, schema=schema, version="v1", environment="training")
    error = rejected(store, log, column="v", rows=None)
    assert "(from 3 to 3; earlier batches have 2)" in str(error)


def test_embedding_that_is_not_a_vector(store: es.Store) -> None:
    model = store.model("m", task="regression")
    df = pd.DataFrame({"id": [1, 2], "v": ["a", "b"], "yhat": 1.0})
    schema = es.Schema(prediction_id="id", prediction_score="yhat", embeddings={"v": "v"})
    log = partial(model.log, df, schema=schema, version="v1", environment="training")
    error = rejected(store, log, column="v", rows=None)
    assert "embeddings must be lists or arrays of numbers" in str(error)


# -- empty, and bad data late in a batch -----------------------------------------------------------


def test_empty_batch(store: es.Store, binary: es.Model) -> None:
    error = rejected(store, log_binary(binary, binary_frame(6).iloc[:0]), column=None, rows=None)
    assert "the batch has no rows" in str(error)


@pytest.mark.parametrize(
    "empty",
    [
        pd.DataFrame(),  # no columns at all: not refused for a missing column
        pd.DataFrame({"id": [], "score": []}),  # float ids, as pandas types an empty column
        pa.table({}),
        pa.RecordBatchReader.from_batches(pa.schema([]), []),
    ],
    ids=["frame-without-columns", "frame-with-columns", "arrow-without-columns", "stream"],
)
def test_an_empty_batch_is_refused_as_empty_whatever_its_columns(
    store: es.Store, binary: es.Model, empty: Any
) -> None:
    error = rejected(store, log_binary(binary, empty), column=None, rows=None)
    assert str(error).startswith("the batch has no rows."), error
    error = rejected(
        store,
        partial(binary.log_actuals, empty, prediction_id="id", actual="y"),
        column=None,
        rows=None,
    )
    assert str(error).startswith("the batch has no rows."), error


def test_empty_actuals(store: es.Store, binary: es.Model) -> None:
    actuals = pd.DataFrame({"id": pd.Series([], dtype="int64"), "y": pd.Series([], dtype="int64")})
    log = partial(binary.log_actuals, actuals, prediction_id="id", actual="y")
    rejected(store, log, column=None, rows=None)


def test_bad_data_only_in_the_last_chunk(store: es.Store, regression: es.Model) -> None:
    good = regression_frame(30, start=100)
    parts = [pa.Table.from_pandas(good.iloc[i : i + 10], preserve_index=False) for i in (0, 10, 20)]
    last = parts[-1].to_pandas()
    last.loc[9, "yhat"] = np.inf
    parts[-1] = pa.Table.from_pandas(last, preserve_index=False, schema=parts[0].schema)
    reader = pa.RecordBatchReader.from_batches(
        parts[0].schema, [b for p in parts for b in p.to_batches()]
    )
    log = partial(
        regression.log, reader, schema=REGRESSION_SCHEMA, version="v1", environment="training"
    )
    error = rejected(store, log, column="yhat", rows=(1, 30))
    assert error.example == "'inf' at row 29, prediction_id '129'"
    assert regression.dataset().count() == 6


def test_bad_data_only_in_the_last_chunk_of_a_large_batch(
    store: es.Store, regression: es.Model, tmp_path: Path, chunked: str
) -> None:
    n = DEFAULT_CHUNK_ROWS * 2 + 10
    yhat = np.arange(n, dtype="float64")
    yhat[-3] = np.inf
    table = pa.table(
        {
            "id": np.arange(1000, 1000 + n),
            "temp": np.ones(n),
            "season": pa.array(["s"] * n),
            "yhat": yhat,
        }
    )
    data = as_chunked(table, chunked, tmp_path)
    schema = es.Schema(prediction_id="id", features=["temp", "season"], prediction_score="yhat")
    log = partial(regression.log, data, schema=schema, version="v9", environment="training")
    error = rejected(store, log, column="yhat", rows=(1, n))
    assert error.example == f"'inf' at row {n - 3}, prediction_id '{1000 + n - 3}'"
    assert regression.dataset(version="v9").count() == 0
    assert regression.dataset().count() == 6


# -- late actuals ----------------------------------------------------------------------------------


def test_actuals_with_missing_values(store: es.Store, binary: es.Model) -> None:
    actuals = pd.DataFrame({"id": [0, 1, 2], "y": [1, None, 0]}).astype({"y": "Int64"})
    log = partial(binary.log_actuals, actuals, prediction_id="id", actual="y")
    error = rejected(store, log, column="y", rows=(1, 3))
    assert "have no actual value" in str(error)


def test_actuals_with_duplicate_ids(store: es.Store, binary: es.Model) -> None:
    actuals = pd.DataFrame({"id": [0, 1, 1], "y": [1, 0, 1]})
    log = partial(binary.log_actuals, actuals, prediction_id="id", actual="y")
    rejected(store, log, column="id", rows=(2, 3))


def test_actuals_naming_missing_columns(store: es.Store, binary: es.Model) -> None:
    actuals = pd.DataFrame({"id": [0, 1], "y": [1, 0]})
    log = partial(binary.log_actuals, actuals, prediction_id="id", actual="label")
    error = rejected(store, log, column="label", rows=None)
    assert "is named in the call but is not in the data" in str(error)
    log = partial(binary.log_actuals, actuals, prediction_id="y", actual="y")
    rejected(store, log, column="y", rows=None)


def test_regression_actuals_must_be_finite(store: es.Store, regression: es.Model) -> None:
    actuals = pa.table({"id": [0, 1], "y": pa.array([1.0, float("inf")])})
    log = partial(
        regression.log_actuals, actuals, prediction_id="id", actual="y", environment="training"
    )
    rejected(store, log, column="y", rows=(1, 2))


def test_float_labels_beyond_the_integer_range(store: es.Store) -> None:
    model = store.model("m", task="binary_classification")
    df = pd.DataFrame({"id": [1, 2], "pred": [1.0, 1e30]})
    schema = es.Schema(prediction_id="id", prediction_label="pred")
    log = partial(model.log, df, schema=schema, version="v1", environment="training")
    error = rejected(store, log, column="pred", rows=(1, 2))
    assert error.example == "'1e+30' at row 1, prediction_id '2'"


def test_labels_beyond_the_integer_range(store: es.Store) -> None:
    model = store.model("m", task="binary_classification")
    table = pa.table({"id": [1, 2, 3], "pred": pa.array([1, 0, 2**64 - 1], pa.uint64())})
    schema = es.Schema(prediction_id="id", prediction_label="pred")
    log = partial(model.log, table, schema=schema, version="v1", environment="training")
    error = rejected(store, log, column="pred", rows=(1, 3))
    assert "64-bit integer range" in str(error)


def test_store_accepts_a_good_batch_after_rejections(store: es.Store, binary: es.Model) -> None:
    bad = binary_frame(6, start=6)
    bad.loc[0, "score"] = 2.0
    with pytest.raises(es.BatchRejected):
        binary.log(bad, schema=BINARY_SCHEMA, version="v1", environment="production")
    good = binary_frame(6, start=6)
    report = binary.log(good, schema=BINARY_SCHEMA, version="v1", environment="production")
    assert report.rows == 6
    got = binary.dataset().to_pandas()
    assert sorted(got["prediction_id"].astype(int)) == list(range(12))
    assert [b["rows"] for b in binary.batches()] == [6, 6]
