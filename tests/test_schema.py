"""Schema: validation of its fields, serialisation, and how it resolves the feature columns."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import evalstore as es

FULL = es.Schema(
    prediction_id="id",
    timestamp="ts",
    features=["age", "income", "zip"],
    tags=["region"],
    prediction_label="pred",
    prediction_score={"a": "p_a", "b": "p_b"},
    actual_label="label",
    shap_values={"age": "shap_age"},
    embeddings={"text": "text_vec"},
    feature_types={"zip": "categorical", "age": es.FeatureType.NUMERIC},
    excluded=["debug"],
)


# -- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", 5])
def test_prediction_id_is_required(value: object) -> None:
    with pytest.raises(es.ParameterError, match=r"Schema\.prediction_id must be") as info:
        es.Schema(prediction_id=value)  # type: ignore[arg-type]
    assert info.value.name == "Schema.prediction_id"


def test_prediction_id_missing_from_call() -> None:
    with pytest.raises(TypeError):
        es.Schema()  # type: ignore[call-arg]


@pytest.mark.parametrize("field", ["features", "tags", "excluded"])
def test_column_list_given_as_a_string_says_how_to_fix(field: str) -> None:
    with pytest.raises(es.ParameterError) as info:
        es.Schema(prediction_id="id", **{field: "age"})
    message = str(info.value)
    assert f"Schema.{field} must be a list of column names" in message
    assert "Use ['age']" in message


def test_column_list_with_an_empty_name_is_refused() -> None:
    with pytest.raises(es.ParameterError, match="non-empty column names"):
        es.Schema(prediction_id="id", features=["age", ""])


def test_bad_feature_type_lists_the_valid_ones() -> None:
    with pytest.raises(es.ParameterError) as info:
        es.Schema(prediction_id="id", feature_types={"zip": "numerc"})
    message = str(info.value)
    assert "feature_types['zip']" in message
    assert "['boolean', 'categorical', 'datetime', 'numeric']" in message
    assert "'numerc'" in message
    assert "Did you mean 'numeric'?" in message


@pytest.mark.parametrize("field", ["timestamp", "prediction_label", "actual_label", "actual_score"])
def test_single_column_fields_must_be_names(field: str) -> None:
    with pytest.raises(es.ParameterError, match=f"Schema.{field} must be a column name"):
        es.Schema(prediction_id="id", **{field: ""})
    with pytest.raises(es.ParameterError, match=f"Schema.{field}"):
        es.Schema(prediction_id="id", **{field: ["a"]})


def test_empty_prediction_score_is_refused() -> None:
    with pytest.raises(es.ParameterError, match=r"Schema\.prediction_score"):
        es.Schema(prediction_id="id", prediction_score="")


@pytest.mark.parametrize("field", ["shap_values", "embeddings", "prediction_score"])
def test_mappings_must_map_names_to_columns(field: str) -> None:
    with pytest.raises(es.ParameterError, match=f"Schema.{field}"):
        es.Schema(prediction_id="id", **{field: {"a": ""}})
    with pytest.raises(es.ParameterError, match=f"Schema.{field}"):
        es.Schema(prediction_id="id", **{field: {"a": 1}})


def test_mapping_fields_reject_non_mappings() -> None:
    with pytest.raises(es.ParameterError, match="a mapping of name -> column"):
        es.Schema(prediction_id="id", shap_values=["age"])  # type: ignore[arg-type]


def test_a_column_with_two_roles_is_a_schema_error() -> None:
    with pytest.raises(
        es.SchemaError, match="two roles, prediction_id and prediction_label"
    ) as info:
        es.Schema(prediction_id="id", prediction_label="id")
    assert info.value.column == "id"
    with pytest.raises(es.SchemaError, match="two roles"):
        es.Schema(prediction_id="id", prediction_score={"a": "s"}, shap_values={"x": "s"})


@pytest.mark.parametrize(
    ("fields", "role"),
    [
        ({"prediction_id": "c"}, "prediction_id"),
        ({"timestamp": "c"}, "timestamp"),
        ({"prediction_label": "c"}, "prediction_label"),
        ({"prediction_score": "c"}, "prediction_score"),
        ({"prediction_score": {"a": "c", "b": "d"}}, "prediction_score:a"),
        ({"actual_label": "c"}, "actual_label"),
        ({"actual_score": "c"}, "actual_score"),
        ({"shap_values": {"x": "c"}}, "shap:x"),
        ({"embeddings": {"v": "c"}}, "embedding:v"),
    ],
)
@pytest.mark.parametrize("listed", ["features", "tags"])
def test_a_feature_or_tag_with_another_role_is_a_schema_error(
    fields: dict[str, object], role: str, listed: str
) -> None:
    fields = {"prediction_id": "id", **fields}
    with pytest.raises(es.SchemaError) as info:
        es.Schema(**{listed: ["x", "c"]}, **fields)  # type: ignore[arg-type]
    assert info.value.column == "c"
    message = str(info.value)
    assert f"'c' is given two roles, {role} and {listed[:-1]}" in message
    assert f"Remove 'c' from Schema.{listed}" in message


def test_a_column_both_feature_and_tag_is_a_schema_error() -> None:
    with pytest.raises(es.SchemaError, match="two roles, feature and tag") as info:
        es.Schema(prediction_id="id", features=["x", "region"], tags=["region"])
    assert info.value.column == "region"


def test_feature_types_are_parsed_to_the_enum() -> None:
    assert FULL.feature_types == {"zip": es.FeatureType.CATEGORICAL, "age": es.FeatureType.NUMERIC}
    assert isinstance(FULL.features, tuple)
    assert isinstance(FULL.tags, tuple)


def test_task_parse_lists_valid_tasks() -> None:
    assert es.Task.parse("regression") is es.Task.REGRESSION
    with pytest.raises(es.ParameterError) as info:
        es.Task.parse("regresion")
    assert "Did you mean 'regression'?" in str(info.value)
    assert "binary_classification" in str(info.value)


# -- features=None ---------------------------------------------------------------------------


def test_features_none_means_every_column_without_another_role() -> None:
    schema = es.Schema(
        prediction_id="id",
        timestamp="ts",
        tags=["region"],
        prediction_label="pred",
        prediction_score="score",
        actual_label="label",
        shap_values={"age": "shap_age"},
        embeddings={"v": "vec"},
        excluded=["debug"],
    )
    columns = [
        "id",
        "ts",
        "age",
        "region",
        "pred",
        "score",
        "label",
        "shap_age",
        "vec",
        "debug",
        "income",
    ]
    assert schema.resolve_features(columns) == ("age", "income")
    assert list(schema.used_columns(columns)) == [
        "id",
        "ts",
        "pred",
        "score",
        "label",
        "shap_age",
        "vec",
        "age",
        "income",
        "region",
    ]


def test_explicit_features_are_kept_in_order() -> None:
    schema = es.Schema(prediction_id="id", features=["b", "a"])
    assert schema.resolve_features(["id", "a", "b", "c"]) == ("b", "a")


def test_features_none_resolves_when_logging(store: es.Store) -> None:
    df = pd.DataFrame(
        {
            "id": [1, 2],
            "age": [30, 40],
            "debug": ["x", "y"],
            "region": ["EU", "US"],
            "s": [0.1, 0.2],
        }
    )
    schema = es.Schema(
        prediction_id="id", tags=["region"], prediction_score="s", excluded=["debug"]
    )
    model = store.model("m", task="binary_classification")
    model.log(df, schema=schema, version="v1", environment="production")
    assert model.dataset().columns == [
        "batch_id",
        "version",
        "environment",
        "prediction_id",
        "timestamp",
        "age",
        "region",
        "prediction_score",
    ]


# -- serialisation ---------------------------------------------------------------------------


def test_to_dict_holds_only_the_fields_that_are_set() -> None:
    assert es.Schema(prediction_id="id", prediction_score="s").to_dict() == {
        "prediction_id": "id",
        "prediction_score": "s",
    }


def test_to_dict_is_plain_data() -> None:
    data = FULL.to_dict()
    assert data["feature_types"] == {"zip": "categorical", "age": "numeric"}
    assert data["features"] == ["age", "income", "zip"]
    assert data["prediction_score"] == {"a": "p_a", "b": "p_b"}
    assert json.loads(json.dumps(data)) == data


@pytest.mark.parametrize(
    "schema",
    [FULL, es.Schema(prediction_id="id"), es.Schema(prediction_id="i", features=[], tags=["t"])],
)
def test_dict_round_trip(schema: es.Schema) -> None:
    assert es.Schema.from_dict(schema.to_dict()) == schema


def test_yaml_and_json_text_round_trip() -> None:
    assert es.Schema.from_dict(yaml.safe_load(FULL.to_yaml())) == FULL
    assert es.Schema.from_dict(json.loads(FULL.to_json())) == FULL


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".json"])
def test_file_round_trip(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"schema{suffix}"
    path.write_text(FULL.to_json() if suffix == ".json" else FULL.to_yaml(), encoding="utf-8")
    assert es.Schema.from_file(path) == FULL
    assert es.Schema.from_file(str(path)) == FULL


def test_handwritten_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "schema.yaml"
    path.write_text(
        "prediction_id: id\nfeatures: [age, zip]\nfeature_types:\n  zip: categorical\n"
        "prediction_score: score\n",
        encoding="utf-8",
    )
    schema = es.Schema.from_file(path)
    assert schema == es.Schema(
        prediction_id="id",
        features=["age", "zip"],
        feature_types={"zip": "categorical"},
        prediction_score="score",
    )


def test_unknown_field_suggests_the_right_one() -> None:
    with pytest.raises(es.SchemaError) as info:
        es.Schema.from_dict({"prediction_id": "id", "feature": ["age"]})
    message = str(info.value)
    assert "unknown schema field 'feature'" in message
    assert "Did you mean 'features'?" in message
    assert "Valid fields:" in message and "prediction_score" in message


def test_unknown_field_in_a_file(tmp_path: Path) -> None:
    path = tmp_path / "schema.json"
    path.write_text(json.dumps({"prediction_id": "id", "timestmp": "ts"}), encoding="utf-8")
    with pytest.raises(es.SchemaError, match="Did you mean 'timestamp'"):
        es.Schema.from_file(path)


def test_from_dict_requires_prediction_id() -> None:
    with pytest.raises(es.SchemaError, match="has no 'prediction_id'"):
        es.Schema.from_dict({"features": ["a"]})


def test_from_dict_requires_a_mapping() -> None:
    with pytest.raises(es.SchemaError, match="must be a mapping"):
        es.Schema.from_dict(["prediction_id"])  # type: ignore[arg-type]


def test_empty_file_has_no_prediction_id(tmp_path: Path) -> None:
    path = tmp_path / "schema.yaml"
    path.write_text("", encoding="utf-8")
    with pytest.raises(es.SchemaError, match="has no 'prediction_id'"):
        es.Schema.from_file(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(es.SchemaError, match="cannot read schema file"):
        es.Schema.from_file(tmp_path / "nope.yaml")


@pytest.mark.parametrize(("suffix", "text"), [(".json", "{not json"), (".yaml", "a: [b")])
def test_invalid_file(tmp_path: Path, suffix: str, text: str) -> None:
    path = tmp_path / f"schema{suffix}"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(es.SchemaError, match="is not valid"):
        es.Schema.from_file(path)


def test_schema_errors_are_value_errors() -> None:
    assert issubclass(es.SchemaError, ValueError)
    assert issubclass(es.ParameterError, ValueError)
    assert issubclass(es.SchemaError, es.EvalstoreError)


def test_integer_classes_name_their_score_columns(tmp_path: Path) -> None:
    """A multiclass model with integer labels may map its scores from the labels
    themselves ({0: "p0", ...}): they are stored as the classes' text, and the metrics
    equal scikit-learn's; a key that is no class name is refused with an example."""
    from sklearn.metrics import accuracy_score, log_loss

    from evalstore.analyses.performance import performance

    rng = np.random.default_rng(0)
    n = 600
    p = rng.dirichlet([1, 1, 1], n)
    y = rng.integers(0, 3, n)
    frame = pd.DataFrame({"id": range(n), "p0": p[:, 0], "p1": p[:, 1], "p2": p[:, 2], "y": y})
    schema = es.Schema(
        prediction_id="id", prediction_score={0: "p0", 1: "p1", 2: "p2"}, actual_label="y"
    )
    assert schema.prediction_score == {"0": "p0", "1": "p1", "2": "p2"}
    with es.connect(tmp_path / "store") as store:
        model = store.model("m", task="multiclass_classification")
        model.log(frame, schema=schema, version="v1", environment="production", progress=False)
        found = performance(model.dataset(), ["accuracy", "log_loss"])
    assert found.get("accuracy")["value"] == pytest.approx(accuracy_score(y, p.argmax(axis=1)))
    assert found.get("log_loss")["value"] == pytest.approx(log_loss(y, p), rel=1e-9)
    with pytest.raises(es.ParameterError, match=r"names \(text\).*e\.g\. \{'setosa'"):
        es.Schema(prediction_id="id", prediction_score={1.5: "p0"})
