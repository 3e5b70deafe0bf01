"""Schema: which input column plays which role, tasks and feature types.

A Schema maps the columns of a batch to roles. Field names follow Arize's and
Phoenix's schemas without the ``_column_name(s)`` suffix, so a migration is a
rename (see ``docs/schema.md`` for the table)::

    schema = Schema(
        prediction_id="id",
        timestamp="ts",
        features=["age", "income"],
        tags=["region"],
        prediction_score="score",
        actual_label="label",
    )

Columns are stored, and read back, under these names: ``prediction_id``,
``timestamp``, ``prediction_label``, ``prediction_score`` (multiclass:
``prediction_score:<class>``), ``actual_label``, ``actual_score``; features,
tags and embeddings under their own names; SHAP values as ``shap:<feature>``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from numbers import Integral
from pathlib import Path
from typing import Any, TypeVar

from evalstore.errors import ParameterError, SchemaError, did_you_mean

__all__ = ["RESERVED_COLUMNS", "FeatureType", "Schema", "Task"]


E = TypeVar("E", bound=Enum)


def _parse(cls: type[E], value: object, name: str) -> E:
    if isinstance(value, cls):
        return value
    try:
        return cls(str(value))
    except ValueError:
        names = sorted(str(member.value) for member in cls)
        raise ParameterError(
            name, f"one of {names}", value, did_you_mean(str(value), names).strip()
        ) from None


class Task(str, Enum):
    """What a model predicts."""

    BINARY_CLASSIFICATION = "binary_classification"
    MULTICLASS_CLASSIFICATION = "multiclass_classification"
    REGRESSION = "regression"

    @classmethod
    def parse(cls, value: Task | str) -> Task:
        """Accept a Task or its name; an unknown name lists the valid ones."""
        return _parse(cls, value, "task")

    @property
    def is_classification(self) -> bool:
        return self is not Task.REGRESSION


class FeatureType(str, Enum):
    """The logical type of a feature or tag column."""

    NUMERIC = "numeric"
    CATEGORICAL = "categorical"
    BOOLEAN = "boolean"
    DATETIME = "datetime"

    @classmethod
    def parse(cls, value: FeatureType | str, column: str) -> FeatureType:
        """Accept a FeatureType or its name; an unknown name lists the valid ones."""
        return _parse(cls, value, f"feature_types[{column!r}]")


#: Column names evalstore uses for its own roles; a feature or tag may not take one.
RESERVED_COLUMNS = frozenset(
    {
        "prediction_id",
        "timestamp",
        "version",
        "environment",
        "batch_id",
        "prediction_label",
        "prediction_score",
        "actual_label",
        "actual_score",
    }
)


def _names(value: Sequence[str] | None, field_name: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        raise ParameterError(field_name, "a list of column names", value, f"Use [{value!r}].")
    out = tuple(value)
    for name in out:
        if not isinstance(name, str) or not name:
            raise ParameterError(field_name, "a list of non-empty column names", value)
    return out


def _class_name(key: object) -> object:
    """A class of ``prediction_score``'s mapping as the store names it: integer labels
    (0, 1, 2) as their text, which the labels are compared with; anything else as is."""
    if isinstance(key, Integral) and not isinstance(key, bool):
        return str(int(key))
    return key


def _mapping(value: Mapping[str, str] | None, field_name: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ParameterError(field_name, "a mapping of name -> column", value)
    out = {}
    for key, col in value.items():
        if not isinstance(key, str) or not isinstance(col, str) or not key or not col:
            raise ParameterError(
                field_name,
                "a mapping of non-empty names (text) to column names (text)",
                value,
                f"The key {key!r} -> {col!r} is not; e.g. {{'setosa': 'p_setosa'}}.",
            )
        out[key] = col
    return out


@dataclass(frozen=True)
class Schema:
    """Which input columns hold the prediction id, timestamp, features, predictions and actuals.

    ``features=None`` means every column that has no other role and is not in
    ``excluded`` (as in Phoenix). ``prediction_score`` is a column name, or for
    multiclass models a mapping ``class -> column``. ``feature_types``
    overrides the inferred type of a feature or tag (``numeric``,
    ``categorical``, ``boolean``, ``datetime``); e.g. a zip code held as an
    integer is best declared ``categorical``.
    """

    prediction_id: str
    timestamp: str | None = None
    features: Sequence[str] | None = None
    tags: Sequence[str] = ()
    prediction_label: str | None = None
    prediction_score: str | Mapping[str, str] | None = None
    actual_label: str | None = None
    actual_score: str | None = None
    shap_values: Mapping[str, str] = field(default_factory=dict)
    embeddings: Mapping[str, str] = field(default_factory=dict)
    feature_types: Mapping[str, FeatureType | str] = field(default_factory=dict)
    excluded: Sequence[str] = ()

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if not isinstance(self.prediction_id, str) or not self.prediction_id:
            raise ParameterError(
                "Schema.prediction_id",
                "the name of the column holding a unique id per prediction",
                self.prediction_id,
            )
        for name in ("timestamp", "prediction_label", "actual_label", "actual_score"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise ParameterError(f"Schema.{name}", "a column name or None", value)
        set_(self, "features", _names(self.features, "Schema.features"))
        set_(self, "tags", _names(self.tags, "Schema.tags") or ())
        set_(self, "excluded", _names(self.excluded, "Schema.excluded") or ())
        set_(self, "shap_values", _mapping(self.shap_values, "Schema.shap_values"))
        set_(self, "embeddings", _mapping(self.embeddings, "Schema.embeddings"))
        score: Any = self.prediction_score
        if isinstance(score, Mapping):  # integer classes name their columns as text: 0 -> "0"
            score = {_class_name(k): v for k, v in score.items()}
        if score is not None and not isinstance(score, str):
            set_(self, "prediction_score", _mapping(score, "Schema.prediction_score"))
        elif score == "":
            raise ParameterError("Schema.prediction_score", "a column name or a mapping", score)
        types = {str(k): FeatureType.parse(v, str(k)) for k, v in dict(self.feature_types).items()}
        set_(self, "feature_types", types)
        self._check_roles()  # a column given two roles is an error now, not at log time

    # -- roles -----------------------------------------------------------------------------

    def role_columns(self) -> dict[str, str]:
        """Input column -> role for every column with a fixed role (not features or tags)."""
        roles: dict[str, str] = {}

        def add(column: str | None, role: str) -> None:
            if column is None:
                return
            if column in roles and roles[column] != role:
                raise SchemaError(
                    f"column {column!r} is given two roles, {roles[column]} and {role}; "
                    "use a separate column for each role.",
                    column,
                )
            roles[column] = role

        add(self.prediction_id, "prediction_id")
        add(self.timestamp, "timestamp")
        add(self.prediction_label, "prediction_label")
        if isinstance(self.prediction_score, Mapping):
            for cls, col in self.prediction_score.items():
                add(col, f"prediction_score:{cls}")
        else:
            add(self.prediction_score, "prediction_score")
        add(self.actual_label, "actual_label")
        add(self.actual_score, "actual_score")
        for feat, col in self.shap_values.items():
            add(col, f"shap:{feat}")
        for name, col in self.embeddings.items():
            add(col, f"embedding:{name}")
        return roles

    def _check_roles(self) -> None:
        """Raise SchemaError for a column listed as a feature or tag that has another role too."""
        roles = self.role_columns()
        listed = [(col, "feature") for col in self.features or ()]
        listed += [(col, "tag") for col in self.tags]
        for column, role in listed:
            other = roles.get(column)
            if other is not None and other != role:
                raise SchemaError(
                    f"column {column!r} is given two roles, {other} and {role}; each column "
                    f"plays one role. Remove {column!r} from Schema.{role}s, or copy it to a "
                    "new column if it must play both.",
                    column,
                )
            roles[column] = role

    def resolve_features(self, columns: Sequence[str]) -> tuple[str, ...]:
        """The feature columns for a batch with these columns."""
        if self.features is not None:
            return tuple(self.features)
        taken = set(self.role_columns()) | set(self.tags) | set(self.excluded)
        return tuple(c for c in columns if c not in taken)

    def used_columns(self, columns: Sequence[str]) -> Iterator[str]:
        """Every input column the schema reads from a batch with these columns."""
        yield from self.role_columns()
        yield from self.resolve_features(columns)
        yield from self.tags

    # -- serialisation ---------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (JSON/YAML-ready) holding only the fields that are set."""
        out: dict[str, Any] = {"prediction_id": self.prediction_id}
        for name in ("timestamp", "prediction_label", "actual_label", "actual_score"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.features is not None:
            out["features"] = list(self.features)
        if self.tags:
            out["tags"] = list(self.tags)
        if self.prediction_score is not None:
            score = self.prediction_score
            out["prediction_score"] = score if isinstance(score, str) else dict(score)
        for name in ("shap_values", "embeddings"):
            if getattr(self, name):
                out[name] = dict(getattr(self, name))
        if self.feature_types:
            out["feature_types"] = {
                k: FeatureType.parse(v, k).value for k, v in self.feature_types.items()
            }
        if self.excluded:
            out["excluded"] = list(self.excluded)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schema:
        """Build a Schema from a dict such as ``to_dict()`` returns; unknown keys are an error."""
        if not isinstance(data, Mapping):
            raise SchemaError(f"a schema must be a mapping of field -> value; got {data!r}.")
        fields = set(cls.__dataclass_fields__)
        for key in data:
            if key not in fields:
                raise SchemaError(
                    f"unknown schema field {key!r}.{did_you_mean(str(key), fields)} "
                    f"Valid fields: {', '.join(sorted(fields))}."
                )
        if "prediction_id" not in data:
            raise SchemaError(
                "the schema has no 'prediction_id': name the column that holds a unique "
                "id per prediction."
            )
        return cls(**dict(data))

    @classmethod
    def from_file(cls, path: str | Path) -> Schema:
        """Read a schema from a YAML (``.yaml``/``.yml``) or JSON (``.json``) file."""
        import yaml

        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SchemaError(f"cannot read schema file {str(path)!r}: {exc.strerror}.") from None
        try:
            data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as exc:
            raise SchemaError(f"schema file {str(path)!r} is not valid: {exc}") from None
        return cls.from_dict(data or {})

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)
