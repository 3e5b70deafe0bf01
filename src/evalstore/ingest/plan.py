"""Turn (Schema, input Arrow schema, the model's earlier batches) into an ingest plan.

A plan is the list of stored columns with the SQL that computes each from an
input chunk, and the row checks that refuse a batch. Everything here is pure:
it reads types, not data. Data checks run in the engine (``ingest/batch.py``),
as one aggregate over each chunk, so validation costs one scan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from evalstore.errors import BatchRejected, did_you_mean
from evalstore.ingest import types as T
from evalstore.ingest.types import quote
from evalstore.schema import RESERVED_COLUMNS, FeatureType, Schema, Task

__all__ = ["Check", "Column", "ModelState", "Plan", "plan_actuals", "plan_inferences"]

ENVIRONMENTS = ("training", "validation", "production")


@dataclass(frozen=True)
class Column:
    """One stored column and how to compute it from an input chunk."""

    target: str
    role: str
    stored: str
    kind: str
    source: str
    expr: str


@dataclass(frozen=True)
class Check:
    """A row check: rows where ``bad`` holds make the batch fail."""

    column: str
    bad: str
    problem: str
    fix: str
    example: str


@dataclass
class ModelState:
    """What the store knows of a model before this batch."""

    task: Task
    columns: Mapping[str, tuple[str, str, str]] = field(default_factory=dict)
    """stored name -> (role, kind, stored type)"""
    version_layout: Mapping[str, Any] | None = None
    """the resolved layout of the version's earlier batches, if any"""

    @property
    def label_kind(self) -> str | None:
        for role, kind, _ in self.columns.values():
            if role in ("prediction_label", "actual_label"):
                return kind
        return None


@dataclass
class Plan:
    """The stored columns of a batch: its id, the inference columns and the actual columns."""

    id: Column
    inferences: list[Column]
    actuals: list[Column]
    checks: list[Check]
    layout: dict[str, Any]
    classes: tuple[str, ...] = ()
    """a multiclass model's classes (its class score columns, earlier and in this batch),
    which text actual labels are checked against: one differing from a class only in case
    or surrounding spaces is refused (``_batch.py``)"""


_CLASS_SCORE = "prediction_score:"


def _classes(state: ModelState, cols: Sequence[Column]) -> tuple[str, ...]:
    """The classes of a multiclass model whose actual labels are text: the names of its
    class score columns, earlier batches' and this batch's (``cols``); () otherwise."""
    if state.task is not Task.MULTICLASS_CLASSIFICATION:
        return ()
    actual = next((c for c in cols if c.role == "actual_label"), None)
    if actual is None or actual.kind != "string":
        return ()
    names = {n for n in state.columns if n.startswith(_CLASS_SCORE)}
    names |= {c.target for c in cols if c.target.startswith(_CLASS_SCORE)}
    return tuple(sorted(n[len(_CLASS_SCORE) :] for n in names))


def _reject(column: str | None, problem: str, fix: str) -> BatchRejected:
    return BatchRejected(problem, column=column, fix=fix)


def _require_columns(names: Sequence[str], available: Sequence[str], where: str) -> None:
    for name in names:
        if name not in available:
            shown = ", ".join(repr(c) for c in list(available)[:12])
            more = " ..." if len(available) > 12 else ""
            raise _reject(
                name,
                f"is named in {where} but is not in the data",
                f"check the spelling.{did_you_mean(name, available)} "
                f"The data has columns: {shown}{more}.",
            )


# -- per-role SQL ------------------------------------------------------------------------------


def _id_column(source: str, t: pa.DataType) -> tuple[Column, list[Check]]:
    s = quote(source)
    if not (T.is_stringish(t) or pa.types.is_integer(t)):
        fix = "convert the ids to strings (pandas: df[col].astype(str))"
        if pa.types.is_floating(t):
            # astype(str) would make 1.0 the id '1.0', which matches no prediction '1'
            fix = (
                "a float id column usually holds integer ids with missing values: fill or "
                "drop the rows without one, then convert them to integers (pandas: "
                "df[col].astype('int64')); as text, 1.0 would be the id '1.0', not '1'"
            )
        raise _reject(
            source,
            f"prediction ids must be strings or integers, but this column is {T.describe_arrow(t)}",
            fix,
        )
    col = Column(
        "prediction_id", "prediction_id", "VARCHAR", "string", source, f"CAST({s} AS VARCHAR)"
    )
    check = Check(
        source,
        f"{s} IS NULL",
        "have no prediction id",
        "every row needs a unique id; fill or drop the rows without one",
        "NULL",
    )
    return col, [check]


def _timestamp_column(source: str, t: pa.DataType) -> tuple[Column, list[Check]]:
    s = quote(source)
    missing = Check(
        source,
        f"{s} IS NULL",
        "have no timestamp",
        "fill the missing timestamps, or leave 'timestamp' out of the schema to use the "
        "time of logging",
        "NULL",
    )
    if T.is_temporal(t):
        return Column(
            "timestamp", "timestamp", "TIMESTAMP", "datetime", source, f"CAST({s} AS TIMESTAMP)"
        ), [missing]
    if T.is_stringish(t):
        expr = f"CAST(TRY_CAST({s} AS TIMESTAMPTZ) AS TIMESTAMP)"
        bad = Check(
            source,
            f"{s} IS NOT NULL AND {expr} IS NULL",
            "have timestamps that cannot be parsed",
            "use ISO 8601 text such as '2024-05-01 13:00:00' or '2024-05-01T13:00:00+02:00', "
            "or pass datetime values",
            f"CAST({s} AS VARCHAR)",
        )
        return Column("timestamp", "timestamp", "TIMESTAMP", "datetime", source, expr), [
            missing,
            bad,
        ]
    if T.is_numeric(t):
        # DOUBLE first: int32 seconds times 10^6 would overflow in the source type
        expr = f"make_timestamp(CAST(CAST({s} AS DOUBLE) * 1000000 AS BIGINT))"
        bad = Check(
            source,
            f"{s} < 0 OR {s} > 1e11 OR isnan(CAST({s} AS DOUBLE))",
            "have numeric timestamps outside the range of Unix seconds",
            "numeric timestamps are read as seconds since 1970-01-01 UTC; divide milliseconds "
            "by 1000, or pass datetime values",
            f"CAST({s} AS VARCHAR)",
        )
        return Column("timestamp", "timestamp", "TIMESTAMP", "datetime", source, expr), [
            missing,
            bad,
        ]
    raise _reject(
        source,
        f"timestamps must be datetimes, ISO 8601 text or Unix seconds, not {T.describe_arrow(t)}",
        "convert the column (pandas: pd.to_datetime(df[col]))",
    )


def _feature_column(
    source: str, t: pa.DataType, role: str, kind: FeatureType
) -> tuple[Column, list[Check]]:
    s = quote(source)
    stored = T.stored_feature_type(kind)
    null = pa.types.is_null(t)
    checks: list[Check] = []
    if kind is FeatureType.NUMERIC:
        if T.is_numeric(t) or pa.types.is_boolean(t) or null:
            expr = f"CAST({s} AS DOUBLE)"
        elif T.is_stringish(t):
            expr = f"TRY_CAST({s} AS DOUBLE)"
            checks.append(
                Check(
                    source,
                    f"{s} IS NOT NULL AND {expr} IS NULL",
                    "have values that are not numbers",
                    "fix those values, or declare the column categorical in "
                    "Schema(feature_types={...})",
                    f"CAST({s} AS VARCHAR)",
                )
            )
        else:
            raise _type_mismatch(source, t, kind)
    elif kind is FeatureType.CATEGORICAL:
        if T.is_list(t) or pa.types.is_struct(t) or pa.types.is_binary(t):
            raise _type_mismatch(source, t, kind)
        expr = f"CAST({s} AS VARCHAR)"
    elif kind is FeatureType.BOOLEAN:
        if pa.types.is_boolean(t) or null:
            expr = f"CAST({s} AS BOOLEAN)"
        elif T.is_numeric(t) or T.is_stringish(t):
            expr = f"TRY_CAST({s} AS BOOLEAN)"
            # numbers other than 0 and 1 would cast to true: refuse them
            bad = f"{s} NOT IN (0, 1)" if T.is_numeric(t) else f"{expr} IS NULL"
            checks.append(
                Check(
                    source,
                    f"{s} IS NOT NULL AND {bad}",
                    "have values that are not booleans",
                    "use true/false, 1/0 or yes/no",
                    f"CAST({s} AS VARCHAR)",
                )
            )
        else:
            raise _type_mismatch(source, t, kind)
    else:
        if T.is_temporal(t) or null:
            expr = f"CAST({s} AS TIMESTAMP)"
        elif T.is_stringish(t):
            expr = f"CAST(TRY_CAST({s} AS TIMESTAMPTZ) AS TIMESTAMP)"
            checks.append(
                Check(
                    source,
                    f"{s} IS NOT NULL AND {expr} IS NULL",
                    "have dates that cannot be parsed",
                    "use ISO 8601 text such as '2024-05-01 13:00:00'",
                    f"CAST({s} AS VARCHAR)",
                )
            )
        else:
            raise _type_mismatch(source, t, kind)
    return Column(source, role, stored, kind.value, source, expr), checks


def _type_mismatch(source: str, t: pa.DataType, kind: FeatureType) -> BatchRejected:
    return _reject(
        source,
        f"is {T.describe_arrow(t)}, which cannot be stored as a {kind.value} feature",
        "convert the column, declare another type in Schema(feature_types={...}), or log "
        "vectors under Schema(embeddings={...})",
    )


def _label_column(
    source: str, t: pa.DataType, target: str, model_kind: str | None
) -> tuple[Column, list[Check]]:
    s = quote(source)
    kind = T.label_kind_of(t)
    if pa.types.is_null(t) and model_kind is not None:
        kind = model_kind
    if kind is None:
        raise _reject(
            source,
            f"labels must be booleans, integers or strings, not {T.describe_arrow(t)}",
            "convert the column to the class labels your model predicts",
        )
    if model_kind is not None and kind != model_kind:
        raise _reject(
            source,
            f"holds {kind} labels, but this model's labels are {model_kind}s",
            f"send the labels as {model_kind}s, the same type as the model's other labels",
        )
    checks: list[Check] = []
    stored = T.LABEL_KINDS[kind]
    if kind == "integer" and not pa.types.is_null(t):
        # Floats must be whole and every value must fit 64 bits (uint64 may not).
        expr = f"TRY_CAST({s} AS BIGINT)"
        whole = "" if pa.types.is_integer(t) else f" OR {s} <> round({s})"
        checks.append(
            Check(
                source,
                f"{s} IS NOT NULL AND ({expr} IS NULL{whole})",
                "have labels that are not whole numbers in the 64-bit integer range",
                "class labels must be integers, booleans or strings; a score belongs in "
                "prediction_score",
                f"CAST({s} AS VARCHAR)",
            )
        )
    else:
        expr = f"CAST({s} AS {stored})"
    return Column(target, target, stored, kind, source, expr), checks


def _score_column(
    source: str, t: pa.DataType, target: str, role: str, probability: bool
) -> tuple[Column, list[Check]]:
    s = quote(source)
    if not (T.is_numeric(t) or pa.types.is_null(t)):
        raise _reject(
            source,
            f"scores must be numeric, but this column is {T.describe_arrow(t)}",
            "convert the column to numbers (pandas: pd.to_numeric(df[col]))",
        )
    expr = f"CAST({s} AS DOUBLE)"
    if probability:
        check = Check(
            source,
            f"{expr} < 0 OR {expr} > 1 OR isnan({expr})",
            "have scores outside [0, 1]",
            "classification scores must be probabilities; apply a sigmoid or softmax to raw "
            "model outputs",
            f"CAST({s} AS VARCHAR)",
        )
    else:
        check = Check(
            source,
            f"isnan({expr}) OR isinf({expr})",
            "have NaN or infinite values",
            "replace them with the real value, or leave the value missing (null)",
            f"CAST({s} AS VARCHAR)",
        )
    return Column(target, role, "DOUBLE", "numeric", source, expr), [check]


def _embedding_column(source: str, t: pa.DataType, name: str) -> Column:
    if not (T.is_list(t) and T.is_numeric(t.value_type)) and not pa.types.is_null(t):
        raise _reject(
            source,
            f"embeddings must be lists or arrays of numbers, not {T.describe_arrow(t)}",
            "pass one vector per row (a list or a NumPy array)",
        )
    return Column(
        name, "embedding", "FLOAT[]", "vector", source, f"CAST({quote(source)} AS FLOAT[])"
    )


# -- the plans ---------------------------------------------------------------------------------


def _check_task(schema: Schema, task: Task) -> None:
    score = schema.prediction_score
    if task is Task.REGRESSION:
        if schema.prediction_label is not None:
            raise _reject(
                schema.prediction_label,
                "prediction_label is for classification models",
                "for a regression model, name the predicted value prediction_score",
            )
        if schema.actual_label is not None:
            raise _reject(
                schema.actual_label,
                "actual_label is for classification models",
                "for a regression model, name the actual value actual_score",
            )
        if score is None:
            raise _reject(
                None,
                "a regression model needs its predicted value",
                "set Schema(prediction_score=<column with the predicted value>)",
            )
        if not isinstance(score, str):
            raise _reject(
                None,
                "a regression model takes one prediction_score column, not one per class",
                "set Schema(prediction_score=<column with the predicted value>)",
            )
        return
    if schema.actual_score is not None:
        raise _reject(
            schema.actual_score,
            "actual_score is for regression models",
            "for a classification model, name the true class actual_label",
        )
    if schema.prediction_label is None and score is None:
        raise _reject(
            None,
            f"a {task.value} model needs a prediction",
            "set prediction_label (the predicted class) and/or prediction_score",
        )
    if task is Task.BINARY_CLASSIFICATION and score is not None and not isinstance(score, str):
        raise _reject(
            None,
            "a binary model takes one score column, the positive class probability",
            "set Schema(prediction_score='<column>')",
        )
    if task is Task.MULTICLASS_CLASSIFICATION and isinstance(score, Mapping) and len(score) < 2:
        raise _reject(
            None,
            "a multiclass model takes one score column per class, for two classes or more",
            "set Schema(prediction_score={'class_a': 'score_a', 'class_b': 'score_b', ...})",
        )
    if task is Task.MULTICLASS_CLASSIFICATION and isinstance(score, str):
        raise _reject(
            score,
            "a multiclass model takes one score column per class",
            "set Schema(prediction_score={'class_a': 'score_a', ...})",
        )


def _check_names(targets: list[Column]) -> None:
    seen: dict[str, str] = {}
    for col in targets:
        key = col.target.lower()
        if col.role in ("feature", "tag", "embedding") and col.target.lower() in RESERVED_COLUMNS:
            raise _reject(
                col.source,
                f"is a {col.role} named like one of evalstore's own columns",
                f"rename it; reserved names are {', '.join(sorted(RESERVED_COLUMNS))}",
            )
        if key in seen:
            raise _reject(
                col.source,
                f"would be stored as {col.target!r}, which is also the name of "
                f"column {seen[key]!r} (names are compared without case)",
                "rename one of the two columns",
            )
        seen[key] = col.source


def _feature_kind(
    source: str, t: pa.DataType, declared: FeatureType | None, earlier: tuple[str, str, str] | None
) -> FeatureType:
    inferred = T.feature_type_of(t)
    earlier_kind = FeatureType(earlier[1]) if earlier else None
    if declared is not None:
        kind = declared
    elif earlier_kind is not None and (inferred is None or pa.types.is_null(t)):
        kind = earlier_kind
    elif inferred is not None:
        kind = inferred
    elif pa.types.is_null(t):
        raise _reject(
            source,
            "has no values, so its type cannot be inferred",
            f"declare it: Schema(feature_types={{{source!r}: 'numeric'}}) or "
            "'categorical', 'boolean', 'datetime'",
        )
    else:
        raise _reject(
            source,
            f"is {T.describe_arrow(t)}, which is not a supported feature type",
            "features are numeric, categorical, boolean or datetime; log vectors "
            "under Schema(embeddings={...})",
        )
    if earlier_kind is not None and kind is not earlier_kind:
        raise _reject(
            source,
            f"was {earlier_kind.value} in this model's earlier batches but is "
            f"{kind.value} ({T.describe_arrow(t)}) here",
            f"send it as {earlier_kind.value}, or declare "
            f"Schema(feature_types={{{source!r}: {earlier_kind.value!r}}})",
        )
    return kind


def plan_inferences(
    schema: Schema, arrow_schema: pa.Schema, state: ModelState, environment: str
) -> Plan:
    """Plan a batch of inferences; raises BatchRejected for anything wrong before reading data."""
    _check_task(schema, state.task)
    names = list(arrow_schema.names)
    types = {f.name: f.type for f in arrow_schema}
    features = schema.resolve_features(names)
    _require_columns(list(schema.role_columns()), names, "the schema")
    _require_columns(list(features) + list(schema.tags), names, "the schema's features or tags")
    for feat in schema.shap_values:
        if feat not in features:
            raise _reject(
                schema.shap_values[feat],
                f"holds SHAP values for {feat!r}, which is not a feature of this schema",
                "name SHAP columns by the feature they explain",
            )

    for name in schema.feature_types:
        if name not in features and name not in schema.tags:
            raise _reject(
                name,
                "has a type in Schema.feature_types but is not a feature or tag of this batch",
                f"name a feature or tag.{did_you_mean(name, [*features, *schema.tags])}",
            )
    cols: list[Column] = []
    checks: list[Check] = []

    def add(pair: tuple[Column, list[Check]]) -> None:
        cols.append(pair[0])
        checks.extend(pair[1])

    add(_id_column(schema.prediction_id, types[schema.prediction_id]))
    if schema.timestamp is not None:
        add(_timestamp_column(schema.timestamp, types[schema.timestamp]))
    declared: Mapping[str, Any] = schema.feature_types
    for role, group in (("feature", features), ("tag", schema.tags)):
        for name in group:
            earlier = state.columns.get(name)
            kind = _feature_kind(name, types[name], declared.get(name), earlier)
            add(_feature_column(name, types[name], role, kind))
    actual_cols: list[Column] = []
    probability = state.task.is_classification
    if schema.prediction_label is not None:
        add(
            _label_column(
                schema.prediction_label,
                types[schema.prediction_label],
                "prediction_label",
                state.label_kind,
            )
        )
    score = schema.prediction_score
    if isinstance(score, str):
        add(_score_column(score, types[score], "prediction_score", "prediction_score", probability))
    elif score is not None:
        for cls, source in score.items():
            add(
                _score_column(
                    source, types[source], f"prediction_score:{cls}", "prediction_score", True
                )
            )
    for feat, source in schema.shap_values.items():
        add(_score_column(source, types[source], f"shap:{feat}", "shap", False))
    for name, source in schema.embeddings.items():
        cols.append(_embedding_column(source, types[source], name))
    if schema.actual_label is not None:
        col, more = _label_column(
            schema.actual_label,
            types[schema.actual_label],
            "actual_label",
            state.label_kind or _kind_of(cols, "prediction_label"),
        )
        actual_cols.append(col)
        checks.extend(more)
    if schema.actual_score is not None:
        col, more = _score_column(
            schema.actual_score, types[schema.actual_score], "actual_score", "actual_score", False
        )
        actual_cols.append(col)
        checks.extend(more)
    _check_names(cols + actual_cols)
    _check_against_model(cols + actual_cols, state)
    layout = {
        "features": [c.target for c in cols if c.role == "feature"],
        "tags": [c.target for c in cols if c.role == "tag"],
        "predictions": [
            c.target for c in cols if c.role in ("prediction_label", "prediction_score")
        ],
        "shap": [c.target for c in cols if c.role == "shap"],
        "embeddings": [c.target for c in cols if c.role == "embedding"],
        "timestamp": schema.timestamp is not None,
        "schema": schema.to_dict(),
    }
    _check_version_layout(layout, state.version_layout)
    return Plan(cols[0], cols[1:], actual_cols, checks, layout, _classes(state, cols + actual_cols))


def _kind_of(cols: list[Column], role: str) -> str | None:
    for col in cols:
        if col.role == role:
            return col.kind
    return None


def _check_against_model(cols: list[Column], state: ModelState) -> None:
    by_lower = {name.lower(): name for name in state.columns}
    for col in cols:
        earlier = state.columns.get(col.target)
        spelt = by_lower.get(col.target.lower())
        if earlier is None and spelt is not None:
            raise _reject(
                col.source,
                f"differs only in case from {spelt!r} in this model's earlier batches "
                "(names are compared without case)",
                f"use the same spelling, {spelt!r}, or another name",
            )
        if earlier is None:
            continue
        role, _kind, stored = earlier
        if role != col.role:
            raise _reject(
                col.source,
                f"is a {col.role} here but was a {role} in this model's earlier batches",
                f"log it as a {role} again, or under another name",
            )
        if stored != col.stored:
            raise _reject(
                col.source,
                f"would be stored as {col.stored}, but this model stores it as {stored}",
                f"convert the column to match ({stored})",
            )


def _check_version_layout(layout: Mapping[str, Any], earlier: Mapping[str, Any] | None) -> None:
    if earlier is None:
        return
    for key in ("features", "tags", "predictions", "shap", "embeddings"):
        before, now = set(earlier.get(key, [])), set(layout[key])
        if before != now:
            missing, extra = sorted(before - now), sorted(now - before)
            parts = []
            if missing:
                parts.append(f"missing {', '.join(map(repr, missing))}")
            if extra:
                parts.append(f"new {', '.join(map(repr, extra))}")
            raise _reject(
                None,
                f"the {key} of this batch differ from this version's earlier "
                f"batches ({'; '.join(parts)})",
                "send the same columns as before for this version, or log the changed "
                "model under a new version",
            )
    if bool(earlier.get("timestamp")) != bool(layout["timestamp"]):
        raise _reject(
            None,
            "this version's earlier batches "
            f"{'had' if earlier.get('timestamp') else 'had no'} timestamp column",
            "name the timestamp column the same way in every batch of a version",
        )


def plan_actuals(
    arrow_schema: pa.Schema, state: ModelState, prediction_id: str, actual: str
) -> Plan:
    """Plan a batch of late actuals: prediction id plus the actual label (or value)."""
    names = list(arrow_schema.names)
    _require_columns([prediction_id, actual], names, "the call")
    if prediction_id == actual:
        raise _reject(
            actual,
            "is named as both the prediction id and the actual",
            "pass two different columns",
        )
    types = {f.name: f.type for f in arrow_schema}
    id_col, checks = _id_column(prediction_id, types[prediction_id])
    if state.task.is_classification:
        col, more = _label_column(actual, types[actual], "actual_label", state.label_kind)
    else:
        col, more = _score_column(actual, types[actual], "actual_score", "actual_score", False)
    checks = [
        *checks,
        *more,
        Check(
            actual,
            f"{quote(actual)} IS NULL",
            "have no actual value",
            "drop the rows whose outcome is not known yet and send them once it is",
            "NULL",
        ),
    ]
    _check_against_model([col], state)
    return Plan(id_col, [], [col], checks, {"actual": col.target}, _classes(state, [col]))
