"""How input Arrow types map to the types evalstore stores.

Stored types are few on purpose, so that batches from pandas, polars, Arrow,
Parquet and CSV agree: every numeric feature is a DOUBLE, every categorical
one a VARCHAR, labels are BOOLEAN, BIGINT or VARCHAR, timestamps are
TIMESTAMP (UTC, microseconds), embeddings FLOAT[].
"""

from __future__ import annotations

import pyarrow as pa

from evalstore.schema import FeatureType

__all__ = [
    "LABEL_KINDS",
    "describe_arrow",
    "feature_type_of",
    "label_kind_of",
    "quote",
    "stored_feature_type",
]

#: logical feature type -> DuckDB column type
_FEATURE_STORAGE = {
    FeatureType.NUMERIC: "DOUBLE",
    FeatureType.CATEGORICAL: "VARCHAR",
    FeatureType.BOOLEAN: "BOOLEAN",
    FeatureType.DATETIME: "TIMESTAMP",
}

#: label kind -> DuckDB column type
LABEL_KINDS = {"boolean": "BOOLEAN", "integer": "BIGINT", "string": "VARCHAR"}


def quote(name: str) -> str:
    """Quote an identifier for DuckDB SQL."""
    return '"' + name.replace('"', '""') + '"'


def _base(t: pa.DataType) -> pa.DataType:
    return t.value_type if pa.types.is_dictionary(t) else t


def is_stringish(t: pa.DataType) -> bool:
    t = _base(t)
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t))


def is_numeric(t: pa.DataType) -> bool:
    t = _base(t)
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t))


def is_temporal(t: pa.DataType) -> bool:
    t = _base(t)
    return bool(pa.types.is_timestamp(t) or pa.types.is_date(t))


def is_list(t: pa.DataType) -> bool:
    return bool(pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t))


def describe_arrow(t: pa.DataType) -> str:
    """A short, user-facing name for an Arrow type."""
    if pa.types.is_dictionary(t):
        return f"categorical of {describe_arrow(t.value_type)}"
    return str(t)


def feature_type_of(t: pa.DataType) -> FeatureType | None:
    """Infer the logical type of a feature from its Arrow type; None if it cannot be told."""
    base = _base(t)
    if pa.types.is_boolean(base):
        return FeatureType.BOOLEAN
    if is_numeric(base):
        return FeatureType.NUMERIC
    if is_stringish(base):
        return FeatureType.CATEGORICAL
    if is_temporal(base):
        return FeatureType.DATETIME
    return None


def stored_feature_type(kind: FeatureType) -> str:
    return _FEATURE_STORAGE[kind]


def label_kind_of(t: pa.DataType) -> str | None:
    """'boolean', 'integer' (also for floats, checked to be whole) or 'string'; None if neither."""
    base = _base(t)
    if pa.types.is_boolean(base):
        return "boolean"
    if pa.types.is_integer(base) or pa.types.is_floating(base) or pa.types.is_decimal(base):
        return "integer"
    if is_stringish(base):
        return "string"
    return None
