"""The public surface of ``evalstore``: held in place so that a name never moves by accident."""

from __future__ import annotations

import importlib
import inspect

import evalstore

EXPECTED = {
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


def _public_methods(cls: type) -> dict[str, list[tuple[str, object, object]]]:
    """Each public method's parameters: name, kind and default (annotations may differ: an
    embedded model also takes a Dataset where the remote one takes its arguments)."""
    found = {}
    for name in dir(cls):
        attr = getattr(cls, name)
        if name.startswith("_") or not callable(attr):
            continue
        params = inspect.signature(attr).parameters.values()
        found[name] = [(p.name, p.kind, p.default) for p in params]
    return found


def test_embedded_and_remote_models_have_the_same_methods() -> None:
    from evalstore.remote import RemoteModel

    embedded, remote = _public_methods(evalstore.Model), _public_methods(RemoteModel)
    assert embedded.keys() == remote.keys()
    for name, params in embedded.items():
        assert params == remote[name], name
    assert {"performance", "drift", "drift_over_time", "quality", "slices"} <= embedded.keys()
