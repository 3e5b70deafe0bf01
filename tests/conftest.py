"""Shared fixtures and the oracle that compares what a store reads back with what was logged.

``frame_equal(got, data, schema)`` is the one place that states how the store
normalises values; every round-trip test goes through it:

- prediction ids come back as strings (``1`` -> ``"1"``);
- numeric features, tags, scores and SHAP values as float64;
- categorical features and tags (str or pandas ``category``) as strings;
- boolean features as booleans;
- timestamps (the timestamp column and datetime features) as naive UTC
  ``datetime64[us]``: tz-aware values are converted to UTC, ISO 8601 text is
  parsed with its offset (text without one is UTC), numbers are Unix seconds;
- labels keep their kind: integers, booleans or strings;
- embeddings as float32 vectors.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import evalstore as es
from evalstore.store import _compiled

# every recipe a test finds is built again and its SQL compared (``store/_compiled.py``):
# a recipe key that misses an input of its query fails the test that reads it, here and
# in the processes the tests start
os.environ["EVALSTORE_CHECK_RECIPES"] = "1"
_compiled.CHECK_RECIPES = True

#: columns every inference row has besides the ones a schema brings
SYSTEM_COLUMNS = ("batch_id", "version", "environment", "prediction_id", "timestamp")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """No test may touch ~/.evalstore or a metadata database named in the environment."""
    monkeypatch.setenv("EVALSTORE_HOME", str(tmp_path_factory.mktemp("evalstore_home")))
    monkeypatch.delenv("EVALSTORE_METADATA_URL", raising=False)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[es.Store]:
    with es.connect(tmp_path / "store") as s:
        yield s


# -- small frames, one per task ------------------------------------------------------------


def binary_frame(n: int = 6, *, start: int = 0) -> pd.DataFrame:
    """A binary classifier's batch: ids start..start+n-1, one row per hour from 2024-01-01."""
    ids = np.arange(start, start + n)
    return pd.DataFrame(
        {
            "id": ids,
            "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(ids, unit="h"),
            "age": (20 + ids % 50).astype("int64"),
            "income": 1000.25 + ids * 37.5,
            "city": np.array(["paris", "lyon", "nice"])[ids % 3],
            "region": np.array(["EU", "US"])[ids % 2],
            "score": (ids % 10) / 10 + 0.05,
            "pred": (ids % 10 >= 5).astype("int64"),
            "label": (ids % 3 == 0).astype("int64"),
        }
    )


BINARY_SCHEMA = es.Schema(
    prediction_id="id",
    timestamp="ts",
    features=["age", "income", "city"],
    tags=["region"],
    prediction_label="pred",
    prediction_score="score",
    actual_label="label",
)


def random_classes(
    scores: dict[str, str], n: int, seed: int, *, prefix: str, actual: str
) -> pd.DataFrame:
    """``n`` rows of random class scores summing to 1 (``scores``: class -> column), ids
    ``prefix`` + i, a feature ``x`` and a random actual class in column ``actual``."""
    rng = np.random.default_rng(seed)
    raw = rng.random((n, len(scores)))
    probs = raw / raw.sum(axis=1, keepdims=True)
    frame = pd.DataFrame({"id": [f"{prefix}{i}" for i in range(n)], "x": rng.random(n)})
    for i, column in enumerate(scores.values()):
        frame[column] = probs[:, i]
    frame[actual] = np.array(list(scores))[rng.integers(0, len(scores), n)]
    return frame


def multiclass_frame(n: int = 6, *, start: int = 0) -> pd.DataFrame:
    ids = np.arange(start, start + n)
    raw = np.stack([(ids % 3) + 1.0, (ids % 5) + 1.0, (ids % 7) + 1.0], axis=1)
    probs = raw / raw.sum(axis=1, keepdims=True)
    classes = np.array(["cat", "dog", "fox"])
    return pd.DataFrame(
        {
            "id": [f"p{i}" for i in ids],
            "ts": pd.Timestamp("2024-02-01", tz="UTC") + pd.to_timedelta(ids, unit="min"),
            "x": ids * 0.5,
            "p_cat": probs[:, 0],
            "p_dog": probs[:, 1],
            "p_fox": probs[:, 2],
            "pred": classes[probs.argmax(axis=1)],
            "truth": classes[ids % 3],
        }
    )


MULTICLASS_SCHEMA = es.Schema(
    prediction_id="id",
    timestamp="ts",
    features=["x"],
    prediction_label="pred",
    prediction_score={"cat": "p_cat", "dog": "p_dog", "fox": "p_fox"},
    actual_label="truth",
)


def regression_frame(n: int = 6, *, start: int = 0) -> pd.DataFrame:
    ids = np.arange(start, start + n)
    return pd.DataFrame(
        {
            "id": ids,
            "ts": pd.Timestamp("2024-03-01") + pd.to_timedelta(ids, unit="D"),
            "temp": ids * 1.5 - 3.0,
            "season": np.array(["winter", "spring"])[ids % 2],
            "yhat": ids * 10.0 + 0.5,
            "y": ids * 10.0 - 1.25,
        }
    )


REGRESSION_SCHEMA = es.Schema(
    prediction_id="id",
    timestamp="ts",
    features=["temp", "season"],
    prediction_score="yhat",
    actual_score="y",
)


# -- the oracle ------------------------------------------------------------------------------


def utc_naive(values: pd.Series) -> pd.Series:
    """Timestamps as the store keeps them: naive UTC datetime64[us]."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        out = pd.to_datetime(values, unit="s")
    elif pd.api.types.is_datetime64_any_dtype(values):
        out = values
    else:
        out = pd.to_datetime(values, utc=True, format="ISO8601")
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_convert("UTC").dt.tz_localize(None)
    return out.astype("datetime64[us]")


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def _plain(values: pd.Series) -> list[Any]:
    return [None if _is_missing(v) else v for v in values.tolist()]


def _feature_kind(values: pd.Series, declared: es.FeatureType | None) -> str:
    if declared is not None:
        return declared.value
    if pd.api.types.is_bool_dtype(values):
        return "boolean"
    if isinstance(values.dtype, pd.CategoricalDtype):
        return _feature_kind(pd.Series(values.cat.categories), None)
    if pd.api.types.is_numeric_dtype(values):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(values):
        return "datetime"
    present = [v for v in values.tolist() if not _is_missing(v)]
    if present and all(isinstance(v, bool) for v in present):
        return "boolean"
    return "categorical"


def expected_columns(data: pd.DataFrame, schema: es.Schema) -> dict[str, tuple[str, pd.Series]]:
    """Stored column name -> (kind, input values) for a batch logged with ``schema``."""
    out: dict[str, tuple[str, pd.Series]] = {"prediction_id": ("id", data[schema.prediction_id])}
    if schema.timestamp is not None:
        out["timestamp"] = ("datetime", data[schema.timestamp])
    declared: Mapping[str, Any] = schema.feature_types
    for name in [*schema.resolve_features(list(data.columns)), *schema.tags]:
        out[name] = (_feature_kind(data[name], declared.get(name)), data[name])
    for role in ("prediction_label", "actual_label"):
        column = getattr(schema, role)
        if column is not None:
            out[role] = ("label", data[column])
    score = schema.prediction_score
    if isinstance(score, str):
        out["prediction_score"] = ("numeric", data[score])
    elif score is not None:
        for cls, column in score.items():
            out[f"prediction_score:{cls}"] = ("numeric", data[column])
    if schema.actual_score is not None:
        out["actual_score"] = ("numeric", data[schema.actual_score])
    for feature, column in schema.shap_values.items():
        out[f"shap:{feature}"] = ("numeric", data[column])
    for name, column in schema.embeddings.items():
        out[name] = ("vector", data[column])
    return out


def frame_equal(got: pd.DataFrame, data: pd.DataFrame, schema: es.Schema) -> None:
    """Assert that ``got`` (read back from a store) holds exactly the rows of ``data``.

    Rows are matched on the prediction id, so read order does not matter;
    columns are compared after the normalisations listed in this module's
    docstring, with NumPy as the oracle.
    """
    assert len(got) == len(data), f"{len(got)} rows read back, {len(data)} logged"
    expected = expected_columns(data, schema)
    missing = set(expected) - set(got.columns)
    assert not missing, f"columns not read back: {sorted(missing)}"
    # Python string order, not NumPy's: NumPy's fixed-width strings drop trailing NULs,
    # so '' and '\x00' would compare equal and the two sides could pair up differently.
    order_in = _order([str(v) for v in data[schema.prediction_id]])
    order_out = _order([str(v) for v in got["prediction_id"]])
    got = got.iloc[order_out].reset_index(drop=True)
    for name, (kind, values) in expected.items():
        values = values.iloc[order_in].reset_index(drop=True)
        _column_equal(name, kind, got[name], values)


def _order(keys: list[str]) -> list[int]:
    return sorted(range(len(keys)), key=keys.__getitem__)


def _column_equal(name: str, kind: str, got: pd.Series, values: pd.Series) -> None:
    where = f"column {name!r}"
    if kind == "id":
        assert got.tolist() == [str(v) for v in values.tolist()], where
    elif kind == "numeric":
        assert got.dtype == np.float64, f"{where}: {got.dtype}"
        want = pd.to_numeric(values.astype(object)).astype("float64").to_numpy()
        np.testing.assert_array_equal(got.to_numpy(), want, err_msg=where)
    elif kind == "categorical":
        want = [None if _is_missing(v) else str(v) for v in values.astype(object).tolist()]
        assert _plain(got) == want, where
    elif kind == "boolean":
        assert _plain(got) == [None if _is_missing(v) else bool(v) for v in values.tolist()], where
    elif kind == "datetime":
        assert got.dtype == "datetime64[us]", f"{where}: {got.dtype}"
        np.testing.assert_array_equal(got.to_numpy(), utc_naive(values).to_numpy(), err_msg=where)
    elif kind == "label":
        want = _plain(values.astype(object))
        if pd.api.types.is_float_dtype(values):  # whole-number floats are integer labels
            want = [None if v is None else int(v) for v in want]
        assert _plain(got) == want, where
        kinds = {type(v) for v in want if v is not None}
        if kinds == {int} and len(want) == len([v for v in want if v is not None]):
            assert got.dtype == np.int64, f"{where}: {got.dtype}"
        elif kinds == {bool} and None not in want:
            assert got.dtype == np.bool_, f"{where}: {got.dtype}"
    elif kind == "vector":
        for i, (vec, want_vec) in enumerate(zip(got.tolist(), values.tolist(), strict=True)):
            if want_vec is None:
                assert vec is None, f"{where} row {i}"
                continue
            assert isinstance(vec, np.ndarray), f"{where} row {i}: {type(vec)}"
            assert vec.dtype == np.float32, f"{where} row {i}: {vec.dtype}"
            np.testing.assert_array_equal(vec, np.asarray(want_vec, dtype=np.float32))
    else:  # pragma: no cover
        raise AssertionError(f"unknown kind {kind}")


# -- store state, for "nothing was written" ------------------------------------------------


def snapshot(store: es.Store) -> dict[str, Any]:
    """Everything a failed batch could have touched: rows, batches and the columns of every model.

    The catalog of stored columns (``model_columns``) has no public reader, so it is
    read from the store's own DuckDB connection.
    """
    models = {}
    for info in store.models():
        table = store.model(info.name).dataset().to_arrow()
        keys = [(c, "ascending") for c in ("version", "environment", "prediction_id")]
        models[info.name] = (table.sort_by(keys), info)
    catalog = store._engine.con.execute(
        "SELECT model_id, name, role, kind, stored FROM model_columns ORDER BY model_id, name"
    ).fetchall()
    return {"batches": store._engine.batches(), "model_columns": catalog, "models": models}
