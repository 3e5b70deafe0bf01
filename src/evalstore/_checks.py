"""Whole-number parameters, checked in one place with one message: what the parameter is,
the range it takes, what was given.

A count or a row limit ends up in a query, where DuckDB holds it in 64 bits: a larger one
would fail there as an internal error, so it is refused here, by name, with the range.
"""

from __future__ import annotations

import numpy as np

from evalstore.errors import ParameterError

__all__ = ["MAX_INT64", "whole_number"]

#: the largest count a query can hold (DuckDB's BIGINT)
MAX_INT64 = 2**63 - 1


def whole_number(
    name: str, value: object, low: int = 0, high: int = MAX_INT64, what: str = "a whole number"
) -> int:
    """``value`` as an int if it is a whole number from ``low`` to ``high``; else a
    ParameterError naming ``name`` and the range.

    >>> whole_number("limit", 10)
    10
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, int | np.integer)
        or not low <= int(value) <= high
    ):
        raise ParameterError(name, f"{what} from {low:,} to {high:,}", value)
    return int(value)
