"""Selections written as text: the CLI's ``--reference``/``--current`` and the REST API's
``reference``/``current`` parameters, in one syntax.

::

    training                                     a stored baseline's name, else an environment's
    baseline=training    baseline=training@2     a stored baseline: its latest version, or the 2nd
    environment=production,version=v1|v2,start=2024-06-01,end=2024-07-01
    {"environment": "production", "where": {"region": "EU"}}    JSON: Model.dataset() arguments

``parse_selection`` turns the text into what ``Model.report`` takes (a name or a dict of
``Model.dataset()`` arguments), or a :class:`BaselineRef`. The JSON form says everything the
``key=value`` form cannot (a ``where`` filter, values holding commas); its values are checked
here, so that a wrong type is a ``ParameterError`` naming the parameter.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NamedTuple, TypeAlias

from evalstore.errors import ParameterError, did_you_mean

__all__ = [
    "DATASET_KEYS",
    "SELECTION_KEYS",
    "BaselineRef",
    "Selection",
    "check_dataset_args",
    "check_where",
    "parse_selection",
    "span_text",
]

#: the keys of the ``key=value`` form
SELECTION_KEYS = ("environment", "version", "start", "end", "baseline")
#: the keys of the JSON form: ``Model.dataset()``'s arguments
DATASET_KEYS = ("environment", "version", "start", "end", "where")


class BaselineRef(NamedTuple):
    """``baseline=NAME`` (the latest version) or ``baseline=NAME@VERSION``."""

    name: str
    version: int | None = None


Selection: TypeAlias = str | dict[str, Any] | BaselineRef
"""A name (a baseline's, else an environment's), ``Model.dataset()`` arguments, or a baseline."""


def span_text(start: str | None, end: str | None) -> str:
    """A time range (its ends already written as text) as people read it in a title or an
    error: ``2024-04-01 .. 2024-05-01``, ``from 2024-04-01``, ``until 2024-05-01`` or
    ``all time`` -- never ``2024-04-01 .. ...``."""
    if start and end:
        return f"{start} .. {end}"
    if start:
        return f"from {start}"
    return f"until {end}" if end else "all time"


def parse_selection(text: str, name: str) -> Selection:
    """``training`` (a baseline or an environment), ``baseline=NAME`` or ``baseline=NAME@2``,
    ``key=value`` pairs separated by commas (environment, version -- ``v1|v2`` for several --,
    start, end), or a JSON object of ``Model.dataset()`` arguments. ``name`` is the parameter
    named in errors (``--reference``, ``reference``)."""
    if not isinstance(text, str):
        raise ParameterError(name, "a selection as text", text)
    text = text.strip()
    if text.startswith("{"):
        return _parse_json(text, name)
    if "=" not in text:
        return text
    fields: dict[str, Any] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or key not in SELECTION_KEYS or not value:
            raise ParameterError(
                name,
                "a name, or key=value pairs separated by commas with keys among "
                f"{', '.join(SELECTION_KEYS)}",
                text,
                "Example: environment=production,version=v2,start=2024-06-01",
            )
        fields[key] = value.split("|") if key in ("environment", "version") else value
    if "baseline" in fields:
        if len(fields) > 1:
            raise ParameterError(name, "baseline=NAME alone", text)
        base, _, number = str(fields["baseline"]).partition("@")
        if not base or (number and not number.isdigit()):
            raise ParameterError(name, "baseline=NAME or baseline=NAME@VERSION", text)
        return BaselineRef(base, int(number) if number else None)
    for key in ("environment", "version"):
        if key in fields and len(fields[key]) == 1:
            fields[key] = fields[key][0]
    return fields


def _parse_json(text: str, name: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ParameterError(
            name,
            "a JSON object of dataset() arguments",
            text[:200],
            f"It is not valid JSON ({exc}). Example: "
            '{"environment": "production", "where": {"region": "EU"}}',
        ) from None
    return check_dataset_args(value, name)


def check_dataset_args(value: object, name: str) -> dict[str, Any]:
    """``value`` if it is a mapping of ``Model.dataset()`` arguments of the types JSON can
    carry: environment and version a string or a list of strings, start and end ISO 8601
    text, where a filter (:func:`check_where`)."""
    if not isinstance(value, Mapping):
        raise ParameterError(name, "a JSON object of dataset() arguments", value)
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key not in DATASET_KEYS:
            raise ParameterError(
                name,
                f"a dict with keys among {list(DATASET_KEYS)}",
                key,
                did_you_mean(str(key), DATASET_KEYS).strip(),
            )
        if item is None:
            continue
        if key in ("environment", "version"):
            many = isinstance(item, list) and item and all(isinstance(v, str) for v in item)
            if not (isinstance(item, str) or many):
                raise ParameterError(
                    f"{name}.{key}", "a string or a non-empty list of strings", item
                )
        elif key in ("start", "end"):
            if not isinstance(item, str):
                raise ParameterError(f"{name}.{key}", "an ISO 8601 date or time as text", item)
        else:
            item = check_where(item, f"{name}.where")
        out[key] = item
    return out


def check_where(value: object, name: str = "where") -> dict[str, Any]:
    """A filter ``{column: value or [values]}`` whose values are JSON scalars (text, numbers,
    booleans, null)."""
    if not isinstance(value, Mapping):
        raise ParameterError(name, 'a JSON object such as {"region": "EU"}', value)
    out: dict[str, Any] = {}
    for column, item in value.items():
        items = item if isinstance(item, list) else [item]
        if isinstance(item, list) and not item:
            raise ParameterError(f"{name}[{column!r}]", "a value or a non-empty list", item)
        for v in items:
            if v is not None and not isinstance(v, (str, int, float, bool)):
                raise ParameterError(
                    f"{name}[{column!r}]", "text, a number, a boolean, null, or a list of them", v
                )
        out[str(column)] = item
    return out
