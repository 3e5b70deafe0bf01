"""Rows as a polars DataFrame, for the embedded and the remote datasets alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa

from evalstore.errors import ParameterError

__all__ = ["polars_frame"]


def polars_frame(read: Callable[[], pa.Table]) -> Any:
    """``read()`` as a polars DataFrame; a clear error, before anything is read, without
    polars."""
    try:
        import polars as pl
    except ImportError:
        raise ParameterError(
            "to_polars",
            "used with polars installed",
            "no polars",
            "Install it: pip install 'evalstore[polars]'.",
        ) from None
    return pl.from_arrow(read())
