"""evalstore: ML observability backed by an evaluation store.

Log every inference of every model version — features, predictions, scores,
the actual outcomes that arrive later — and ask how the model is doing.
"""

from typing import TYPE_CHECKING, Any

from evalstore.errors import (
    BatchRejected,
    EvalstoreError,
    MetricError,
    ModelNotFound,
    NotFittedError,
    NotSupported,
    ParameterError,
    SchemaError,
    ServerError,
    StoreLocked,
    UnmatchedActualsWarning,
)

if TYPE_CHECKING:
    from evalstore.analyses.report import Report
    from evalstore.dataset import Dataset
    from evalstore.schema import FeatureType, Schema, Task
    from evalstore.sdk import Model, ModelInfo, Store, StoreInfo, connect
    from evalstore.store.base import BatchReport

__version__ = "0.1.0"

__all__ = [
    "BatchRejected",
    "BatchReport",
    "Dataset",
    "EvalstoreError",
    "FeatureType",
    "MetricError",
    "Model",
    "ModelInfo",
    "ModelNotFound",
    "NotFittedError",
    "NotSupported",
    "ParameterError",
    "Report",
    "Schema",
    "SchemaError",
    "ServerError",
    "Store",
    "StoreInfo",
    "StoreLocked",
    "Task",
    "UnmatchedActualsWarning",
    "__version__",
    "connect",
]

# Imported on first use: the store's stack (ibis, DuckDB, SQLAlchemy, pyarrow) takes about
# half a second to import, which `evalstore --help` and `import evalstore.errors` need not pay.
_LAZY = {
    "BatchReport": "evalstore.store.base",
    "Dataset": "evalstore.dataset",
    "FeatureType": "evalstore.schema",
    "Model": "evalstore.sdk",
    "ModelInfo": "evalstore.sdk",
    "Report": "evalstore.analyses.report",
    "Schema": "evalstore.schema",
    "Store": "evalstore.sdk",
    "StoreInfo": "evalstore.sdk",
    "Task": "evalstore.schema",
    "connect": "evalstore.sdk",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'evalstore' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(_LAZY[name]), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
