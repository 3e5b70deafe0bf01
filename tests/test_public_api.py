"""The public surface of ``evalstore``: held in place so that a name never moves by accident."""

from __future__ import annotations

import importlib

import evalstore

EXPECTED = {
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
}


def test_all_is_sorted_and_holds_the_expected_names() -> None:
    assert evalstore.__all__ == sorted(evalstore.__all__)
    assert len(evalstore.__all__) == len(set(evalstore.__all__))
    assert set(evalstore.__all__) == EXPECTED


def test_every_public_name_is_importable() -> None:
    module = importlib.import_module("evalstore")
    for name in evalstore.__all__:
        assert getattr(module, name) is not None, name
    namespace: dict[str, object] = {}
    exec("from evalstore import *", namespace)
    assert set(EXPECTED) - {"__version__"} <= set(namespace)


def test_errors_share_one_base() -> None:
    for name in ("BatchRejected", "ModelNotFound", "ParameterError", "SchemaError", "StoreLocked"):
        assert issubclass(getattr(evalstore, name), evalstore.EvalstoreError), name
    assert issubclass(evalstore.ModelNotFound, KeyError)
    assert issubclass(evalstore.StoreLocked, RuntimeError)
    assert issubclass(evalstore.BatchRejected, ValueError)


def test_version_matches_the_package_metadata() -> None:
    from importlib.metadata import version

    assert evalstore.__version__ == version("evalstore")


def test_package_is_typed() -> None:
    from importlib.resources import files

    assert files("evalstore").joinpath("py.typed").is_file()
