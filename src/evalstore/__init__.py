"""evalstore: ML observability backed by an evaluation store.

Log every inference of every model version — features, predictions, scores,
the actual outcomes that arrive later — and ask how the model is doing.
"""

from evalstore.dataset import Dataset
from evalstore.errors import (
    BatchRejected,
    EvalstoreError,
    ModelNotFound,
    NotFittedError,
    NotSupported,
    ParameterError,
    SchemaError,
    ServerError,
    StoreLocked,
)
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
    "Model",
    "ModelInfo",
    "ModelNotFound",
    "NotFittedError",
    "NotSupported",
    "ParameterError",
    "Schema",
    "SchemaError",
    "ServerError",
    "Store",
    "StoreInfo",
    "StoreLocked",
    "Task",
    "__version__",
    "connect",
]
