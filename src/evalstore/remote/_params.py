"""What travels between the remote SDK and the server as text: the analyses' arguments as
query parameters and JSON, and the answers' times back as datetimes."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, NoReturn

from evalstore import errors
from evalstore.errors import ParameterError
from evalstore.sdk import ModelInfo
from evalstore.selection import DATASET_KEYS

__all__ = ["Params"]

Params = list[tuple[str, str]]


def _parse_time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _model_info(data: Mapping[str, Any]) -> ModelInfo:
    ranges = {
        env: [_parse_time(t) for t in span] for env, span in (data.get("ranges") or {}).items()
    }
    return ModelInfo(
        **{
            **data,
            "first": _parse_time(data["first"]),
            "last": _parse_time(data["last"]),
            "ranges": ranges,
        }
    )


# -- arguments of the analyses, as query parameters ------------------------------------------


def _jsonable(value: Any, name: str) -> Any:
    """``value`` as JSON can carry it: datetimes as ISO 8601, NumPy values as Python ones."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if hasattr(value, "tolist"):  # NumPy arrays and scalars, pandas Series
        return _jsonable(value.tolist(), name)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v, f"{name}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [_jsonable(v, name) for v in items]
    raise ParameterError(name, "text, a number, a date or a list of them", value)


def _no_dataset(name: str) -> NoReturn:
    raise ParameterError(
        name,
        "a dict of the rows' selection when connected to a server",
        "a Dataset object",
        "A Dataset cannot travel to the server: give its selection as a dict of "
        'model.dataset() arguments, e.g. {"environment": "production", "version": "v2", '
        '"start": "2024-06-01", "where": {"region": "EU"}}, or an environment name.',
    )


def _dataset_args(value: Any, name: str) -> dict[str, Any]:
    """A selection of rows (an environment name or a dict of ``model.dataset()`` arguments)
    as JSON-ready arguments."""
    from evalstore.dataset import Dataset

    if isinstance(value, Dataset):
        _no_dataset(name)
    if isinstance(value, str):
        return {"environment": value}
    if not isinstance(value, Mapping):
        raise ParameterError(
            name, "an environment name or a dict of model.dataset() arguments", value
        )
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key not in DATASET_KEYS:
            raise ParameterError(
                name,
                f"a dict with keys among {list(DATASET_KEYS)}",
                key,
                errors.did_you_mean(str(key), DATASET_KEYS).strip(),
            )
        if item is None:
            continue
        if key == "where" and not isinstance(item, Mapping):
            raise ParameterError(
                "where",
                "a dict of column -> value(s) when connected to a server",
                type(item).__name__,
                "Functions and ibis expressions cannot travel to the server; "
                'filter with a dict such as {"region": "EU"}.',
            )
        out[key] = _jsonable(item, key)
    return out


def _dataset_params(value: Any, name: str = "dataset") -> Params:
    """A selection of rows as the query parameters environment, version, start, end, where."""
    if value is None:
        return []
    args = _dataset_args(value, name)
    params: Params = []
    for key in ("environment", "version"):
        if key in args:
            found = args[key]
            params += [(key, str(v)) for v in (found if isinstance(found, list) else [found])]
    params += [(key, str(args[key])) for key in ("start", "end") if key in args]
    if "where" in args:
        params.append(("where", json.dumps(args["where"])))
    return params


def _selection(value: Any, name: str, baselines: bool) -> str:
    """A reference or current selection as the API's selection text."""
    from evalstore.analyses.baseline import Baseline
    from evalstore.dataset import Dataset

    if isinstance(value, Baseline):
        if not baselines:
            raise ParameterError(name, "a dict, or an environment name", "a Baseline")
        if value.version is None:
            raise ParameterError(
                name,
                "a stored baseline (from model.baseline() or model.create_baseline())",
                value.name,
            )
        return f"baseline={value.name}@{value.version}"
    if isinstance(value, str):
        return value
    if isinstance(value, Dataset):
        _no_dataset(name)
    if isinstance(value, Mapping):
        return json.dumps(_dataset_args(value, name))
    raise ParameterError(
        name, "a Baseline, a baseline or environment name, or a dict", type(value).__name__
    )


def _many(name: str, value: str | Sequence[str] | None) -> Params:
    """A repeated query parameter."""
    if value is None:
        return []
    values = [value] if isinstance(value, str) else list(value)
    return [(name, str(v)) for v in values]


def _scalar(name: str, value: Any) -> Params:
    """An optional query parameter: a number, a flag or text."""
    if value is None:
        return []
    if isinstance(value, bool):
        return [(name, "true" if value else "false")]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    return [(name, str(value))]
