"""Actuals: attached to predictions by (environment, prediction_id), the latest one wins."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn import metrics as skm

import evalstore as es
from conftest import BINARY_SCHEMA, REGRESSION_SCHEMA, binary_frame, regression_frame
from evalstore.analyses.performance import performance

#: the binary schema without its actuals
PREDICTIONS = es.Schema(**{**BINARY_SCHEMA.to_dict(), "actual_label": None})


def actual_labels(model: es.Model, **selector: str) -> dict[str, object]:
    got = model.dataset(**selector).to_pandas()
    if "actual_label" not in got.columns:
        return dict.fromkeys(got["prediction_id"])
    return {
        pid: (None if pd.isna(v) else v)
        for pid, v in zip(got["prediction_id"], got["actual_label"], strict=True)
    }


@pytest.fixture
def model(store: es.Store) -> es.Model:
    return store.model("m", task="binary_classification")


def test_late_actuals_attach(model: es.Model) -> None:
    df = binary_frame(10)
    model.log(df, schema=PREDICTIONS, version="v1", environment="production")
    assert set(actual_labels(model).values()) == {None}
    late = pd.DataFrame({"pid": [2, 5, 7], "outcome": [1, 0, 1]})
    report = model.log_actuals(late, prediction_id="pid", actual="outcome")
    assert (report.rows, report.actuals, report.replaced) == (3, 3, 0)
    got = actual_labels(model)
    assert {k: v for k, v in got.items() if v is not None} == {"2": 1, "5": 0, "7": 1}
    assert sum(v is None for v in got.values()) == 7
    assert model.dataset().to_arrow().schema.field("actual_label").type == pa.int64()


def test_the_report_says_how_many_predictions_the_actuals_joined(model: es.Model) -> None:
    model.log(binary_frame(10), schema=PREDICTIONS, version="v1", environment="production")
    model.log(binary_frame(4), schema=PREDICTIONS, version="v2", environment="production")
    logged = model.log(binary_frame(3), schema=PREDICTIONS, version="v1", environment="training")
    assert logged.matched is None  # inferences
    late = pd.DataFrame({"id": [2, 5, 12, 40], "y": [1, 0, 1, 0]})
    report = model.log_actuals(late, prediction_id="id", actual="y")
    # ids 2 and 5 in v1 and 2 in v2 (the same prediction id, both versions); 12 and 40
    # not logged: kept for later; training's id 2 is another environment's
    assert (report.actuals, report.matched) == (4, 3)
    assert model.dataset(where={"actual_label": 1}).count() == 2
    with pytest.warns(es.UnmatchedActualsWarning, match="3 predictions in 'production'"):
        elsewhere = model.log_actuals(
            late, prediction_id="id", actual="y", environment="validation"
        )
    assert elsewhere.matched == 0  # production's 3 rows first, then training's id 2
    assert list((elsewhere.elsewhere or {}).items()) == [("production", 3), ("training", 1)]
    assert report.elsewhere is None  # it joined


def test_actuals_of_ids_nobody_logged_warn_nothing(model: es.Model) -> None:
    """Actuals may arrive before their predictions: ids no environment holds are no
    mistake, and neither are actuals that join."""
    import warnings

    model.log(binary_frame(4), schema=PREDICTIONS, version="v1", environment="production")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        early = model.log_actuals(pd.DataFrame({"id": [90], "y": [1]}), prediction_id="id",
                                  actual="y")  # fmt: skip
        joined = model.log_actuals(pd.DataFrame({"id": [1], "y": [1]}), prediction_id="id",
                                   actual="y")  # fmt: skip
    assert (early.matched, joined.matched) == (0, 1)


def test_actual_before_its_prediction(model: es.Model) -> None:
    early = model.log_actuals(
        pd.DataFrame({"id": [3, 4, 99], "y": [1, 1, 0]}), prediction_id="id", actual="y"
    )
    assert early.matched == 0
    assert model.dataset().count() == 0
    model.log(binary_frame(6), schema=PREDICTIONS, version="v1", environment="production")
    got = actual_labels(model)
    assert {k: v for k, v in got.items() if v is not None} == {"3": 1, "4": 1}
    assert model.dataset(where={"actual_label": 1}).count() == 2


def test_later_actual_replaces_earlier(model: es.Model) -> None:
    model.log(binary_frame(6), schema=PREDICTIONS, version="v1", environment="production")
    model.log_actuals(pd.DataFrame({"id": [1, 2], "y": [0, 0]}), prediction_id="id", actual="y")
    model.log_actuals(pd.DataFrame({"id": [2, 3], "y": [1, 1]}), prediction_id="id", actual="y")
    got = actual_labels(model)
    assert {k: v for k, v in got.items() if v is not None} == {"1": 0, "2": 1, "3": 1}


def test_resending_actuals_is_idempotent_for_reads(model: es.Model) -> None:
    model.log(binary_frame(6), schema=PREDICTIONS, version="v1", environment="production")
    late = pd.DataFrame({"id": [0, 1, 2], "y": [1, 0, 1]})
    model.log_actuals(late, prediction_id="id", actual="y")
    first = model.dataset().to_arrow().sort_by("prediction_id")
    again = model.log_actuals(late, prediction_id="id", actual="y")
    assert again.actuals == 3
    assert model.dataset().to_arrow().sort_by("prediction_id").equals(first)
    assert model.dataset().count() == 6
    assert model.info().with_actuals == {"production": 3}


def test_a_correction_batch_reports_the_actuals_it_replaced(
    store: es.Store, model: es.Model
) -> None:
    """A re-labelling batch: some ids new, some corrected, one from an inline actual, one in
    another environment (not a correction); replaced and the metrics follow the oracle."""
    rng = np.random.default_rng(7)
    n = 200
    preds = binary_frame(n)
    model.log(preds, schema=PREDICTIONS, version="v1", environment="production")
    model.log(preds, schema=PREDICTIONS, version="v1", environment="training")
    inline = binary_frame(1, start=n)  # an actual sent with its prediction
    model.log(inline, schema=BINARY_SCHEMA, version="v1", environment="production")
    first = pd.DataFrame({"id": np.arange(0, 120), "y": rng.integers(0, 2, 120)})
    model.log_actuals(first, prediction_id="id", actual="y")
    model.log_actuals(first.iloc[:50], prediction_id="id", actual="y", environment="training")
    ids = np.concatenate([rng.choice(np.arange(0, 120), 45, replace=False), np.arange(150, 180)])
    fix = pd.DataFrame({"id": np.append(ids, n), "y": rng.integers(0, 2, len(ids) + 1)})
    report = model.log_actuals(fix, prediction_id="id", actual="y")

    had = set(first["id"]) | set(inline["id"])  # production's actuals before the batch
    assert report.replaced == int(fix["id"].isin(had).sum()) == 46
    assert (report.rows, report.actuals) == (len(fix), len(fix))
    assert model.batches()[-1]["replaced"] == report.replaced
    assert store.info().rows == 2 * n + 1  # actuals replace no inference row

    latest = pd.concat([inline.rename(columns={"label": "y"})[["id", "y"]], first, fix])
    latest = latest.drop_duplicates("id", keep="last").set_index("id")["y"]
    truth = pd.concat([preds, inline]).set_index("id").join(latest, how="inner")
    result = performance(model.dataset(environment="production"), ["accuracy", "roc_auc"])
    assert result.get("accuracy")["n"] == len(truth)
    assert result.value("accuracy") == pytest.approx(
        skm.accuracy_score(truth["y"], truth["pred"]), abs=1e-12
    )
    assert result.value("roc_auc") == pytest.approx(
        skm.roc_auc_score(truth["y"], truth["score"]), abs=1e-4
    )


def test_resending_the_same_actuals_reports_them_replaced(store: es.Store, model: es.Model) -> None:
    """A retry counts every actual as replaced (as a re-sent inference batch does) and
    changes no read; the store's row count is the inferences', untouched."""
    model.log(binary_frame(6), schema=PREDICTIONS, version="v1", environment="production")
    late = pd.DataFrame({"id": [0, 1, 2, 9], "y": [1, 0, 1, 1]})
    assert model.log_actuals(late, prediction_id="id", actual="y").replaced == 0
    before = model.dataset().to_arrow().sort_by("prediction_id")
    again = model.log_actuals(late, prediction_id="id", actual="y")
    assert (again.rows, again.replaced) == (4, 4)
    assert model.dataset().to_arrow().sort_by("prediction_id").equals(before)
    assert store.info().rows == 6


def test_actuals_are_per_environment(model: es.Model) -> None:
    df = binary_frame(8)
    model.log(df, schema=PREDICTIONS, version="v1", environment="training")
    model.log(df, schema=PREDICTIONS, version="v1", environment="production")
    model.log_actuals(
        pd.DataFrame({"id": ["5"], "y": [1]}),
        prediction_id="id",
        actual="y",
        environment="training",
    )
    model.log_actuals(pd.DataFrame({"id": ["5", "6"], "y": [0, 0]}), prediction_id="id", actual="y")
    training = actual_labels(model, environment="training")
    production = actual_labels(model, environment="production")
    assert {k: v for k, v in training.items() if v is not None} == {"5": 1}
    assert {k: v for k, v in production.items() if v is not None} == {"5": 0, "6": 0}
    assert model.info().with_actuals == {"training": 1, "production": 2}


def test_a_time_window_joins_the_same_actuals(model: es.Model) -> None:
    """Reads of a time window join only that window's actuals: the result must not change."""
    df = binary_frame(48)
    model.log(df, schema=PREDICTIONS, version="v1", environment="production")
    model.log(df, schema=PREDICTIONS, version="v1", environment="training")
    late = pd.DataFrame({"id": range(0, 48, 3), "y": [i % 2 for i in range(0, 48, 3)]})
    model.log_actuals(late, prediction_id="id", actual="y")
    model.log_actuals(
        late.assign(y=1 - late["y"]), prediction_id="id", actual="y", environment="training"
    )
    everything = model.dataset().to_pandas()
    for start, end in [("2024-01-01T05:00", "2024-01-01T20:00"), ("2024-01-02", None)]:
        window = model.dataset(start=start, end=end).to_pandas()
        ts = everything["timestamp"]
        mask = (ts >= pd.Timestamp(start)) & (ts < pd.Timestamp(end or "2100-01-01"))
        key = ["environment", "prediction_id"]
        want = everything[mask].sort_values(key).reset_index(drop=True)
        got = window.sort_values(key).reset_index(drop=True)
        pd.testing.assert_frame_equal(got, want)
        assert got["actual_label"].notna().sum() > 0
        where = model.dataset(start=start, end=end, where={"actual_label": 1})
        assert where.count() == int((want["actual_label"] == 1).sum())


def test_actuals_default_to_production(model: es.Model) -> None:
    """Sent without an environment, actuals go to production; when they join none there
    and another environment has predictions with their ids, a warning says which."""
    model.log(binary_frame(4), schema=PREDICTIONS, version="v1", environment="validation")
    with pytest.warns(es.UnmatchedActualsWarning) as said:
        report = model.log_actuals(pd.DataFrame({"id": [1], "y": [1]}), prediction_id="id",
                                   actual="y")  # fmt: skip
    assert report.matched == 0
    assert str(said[0].message) == (
        "none of the 1 actuals joined a prediction in 'production', but 1 predictions in "
        "'validation' have their ids: send them with environment='validation' (log_actuals "
        "logs to 'production' unless told). These are kept in 'production', where they join "
        "predictions logged later with the same ids."
    )
    assert set(actual_labels(model).values()) == {None}
    model.log_actuals(
        pd.DataFrame({"id": [1], "y": [1]}),
        prediction_id="id",
        actual="y",
        environment="validation",
    )
    assert actual_labels(model)["1"] == 1


def test_an_actual_applies_to_every_version(model: es.Model) -> None:
    df = binary_frame(4)
    model.log(df, schema=PREDICTIONS, version="v1", environment="production")
    model.log(df, schema=PREDICTIONS, version="v2", environment="production")
    model.log_actuals(pd.DataFrame({"id": [0], "y": [1]}), prediction_id="id", actual="y")
    got = model.dataset(where={"prediction_id": "0"}).to_pandas()
    assert sorted(got["version"]) == ["v1", "v2"]
    assert got["actual_label"].tolist() == [1, 1]


def test_integer_and_text_ids_join(model: es.Model) -> None:
    model.log(binary_frame(4), schema=PREDICTIONS, version="v1", environment="production")
    model.log_actuals(pd.DataFrame({"id": ["3"], "y": [1]}), prediction_id="id", actual="y")
    assert actual_labels(model)["3"] == 1


def test_inline_actuals_count_as_actuals(model: es.Model) -> None:
    df = binary_frame(6)
    report = model.log(df, schema=BINARY_SCHEMA, version="v1", environment="production")
    assert report.actuals == 6
    assert actual_labels(model) == {
        str(i): int(v) for i, v in zip(df["id"], df["label"], strict=True)
    }
    # a late actual replaces an inline one, and the next inline one replaces that
    model.log_actuals(pd.DataFrame({"id": [0], "y": [0]}), prediction_id="id", actual="y")
    assert actual_labels(model)["0"] == 0
    model.log(df.iloc[:1], schema=BINARY_SCHEMA, version="v1", environment="production")
    assert actual_labels(model)["0"] == 1
    assert model.info().with_actuals == {"production": 6}


def test_missing_inline_actuals_are_not_actuals(model: es.Model) -> None:
    df = binary_frame(4).astype({"label": "Int64"})
    df.loc[[1, 2], "label"] = pd.NA
    report = model.log(df, schema=BINARY_SCHEMA, version="v1", environment="production")
    assert report.actuals == 2
    assert actual_labels(model) == {"0": 1, "1": None, "2": None, "3": 1}
    model.log_actuals(pd.DataFrame({"id": [1], "y": [1]}), prediction_id="id", actual="y")
    # re-logging row 1 without its actual keeps the actual that arrived meanwhile
    model.log(df.iloc[[1]], schema=BINARY_SCHEMA, version="v1", environment="production")
    assert actual_labels(model)["1"] == 1
    assert model.info().with_actuals == {"production": 3}


def test_regression_actuals(store: es.Store) -> None:
    model = store.model("r", task="regression")
    df = regression_frame(5)
    schema = es.Schema(**{**REGRESSION_SCHEMA.to_dict(), "actual_score": None})
    model.log(df, schema=schema, version="v1", environment="training")
    late = pd.DataFrame({"id": [0, 4], "y": [1.5, -2.25]})
    model.log_actuals(late, prediction_id="id", actual="y", environment="training")
    got = model.dataset().to_pandas().set_index("prediction_id").sort_index()
    np.testing.assert_array_equal(
        got["actual_score"].to_numpy(), [1.5, np.nan, np.nan, np.nan, -2.25]
    )
    assert model.info().with_actuals == {"training": 2}


def test_multiclass_actuals(store: es.Store) -> None:
    model = store.model("mc", task="multiclass_classification")
    df = pd.DataFrame({"id": ["a", "b", "c"], "pred": ["cat", "dog", "cat"]})
    model.log(
        df,
        schema=es.Schema(prediction_id="id", prediction_label="pred"),
        version="v1",
        environment="production",
    )
    model.log_actuals(
        pd.DataFrame({"id": ["a", "c"], "truth": ["cat", "fox"]}),
        prediction_id="id",
        actual="truth",
    )
    assert actual_labels(model) == {"a": "cat", "b": None, "c": "fox"}


def test_boolean_labels(model: es.Model) -> None:
    df = pd.DataFrame({"id": [1, 2, 3], "pred": [True, False, True]})
    model.log(
        df,
        schema=es.Schema(prediction_id="id", prediction_label="pred"),
        version="v1",
        environment="production",
    )
    model.log_actuals(
        pd.DataFrame({"id": [1, 2], "y": [False, False]}), prediction_id="id", actual="y"
    )
    assert actual_labels(model) == {"1": False, "2": False, "3": None}


def test_info_counts_rows_with_actuals(model: es.Model) -> None:
    model.log(binary_frame(10), schema=PREDICTIONS, version="v1", environment="production")
    model.log(binary_frame(4), schema=PREDICTIONS, version="v1", environment="training")
    model.log_actuals(
        pd.DataFrame({"id": [1, 2, 3, 50], "y": [1, 0, 1, 1]}), prediction_id="id", actual="y"
    )
    info = model.info()
    assert info.rows == {"production": 10, "training": 4}
    assert info.with_actuals == {"production": 3, "training": 0}
    assert info.versions == ["v1"]
    assert info.batches == 3
    assert info.first == pd.Timestamp("2024-01-01").to_pydatetime()
    assert info.last == pd.Timestamp("2024-01-01 09:00").to_pydatetime()
    assert info.to_dict()["with_actuals"] == {"production": 3, "training": 0}


def test_info_of_a_model_without_actuals(store: es.Store, model: es.Model) -> None:
    model.log(binary_frame(4), schema=PREDICTIONS, version="v1", environment="production")
    info = model.info()
    assert info.rows == {"production": 4}
    assert info.with_actuals == {"production": 0}
    assert [m.name for m in store.models()] == ["m"]


def test_info_of_an_empty_model(store: es.Store, model: es.Model) -> None:
    info = model.info()
    assert (info.rows, info.with_actuals, info.versions, info.batches) == ({}, {}, [], 0)
    assert info.first is None and info.last is None


def test_store_info_counts_rows_and_batches(store: es.Store, model: es.Model) -> None:
    model.log(binary_frame(6), schema=BINARY_SCHEMA, version="v1", environment="production")
    model.log(
        binary_frame(6, start=3), schema=BINARY_SCHEMA, version="v1", environment="production"
    )
    model.log_actuals(pd.DataFrame({"id": [0], "y": [0]}), prediction_id="id", actual="y")
    info = store.info()
    assert (info.models, info.rows, info.batches) == (1, 9, 3)
    assert info.rows == model.dataset().count()
    assert info.size_bytes > 0
    assert info.home == str(store.location.home)
    assert info.metadata_url.startswith("sqlite:///")
    assert [m.name for m in store.models()] == ["m"]
