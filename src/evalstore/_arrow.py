"""Arrow numbers to NumPy and back without pyarrow's pandas bridge.

``Array.to_numpy()``, ``pa.array(ndarray)`` and ``take(ndarray)`` import pandas the first
time a process calls them (pyarrow converts through its pandas layer): 0.2-0.35 s of every
fresh process that reports, for arrays that are plain numbers. These read and wrap the
buffers instead: the same values, zero-copy where ``to_numpy()`` is. Anything else (nulls,
booleans, text, nested types) goes through pyarrow as before.

::

    numbers(table.column("n"))          # int64 ndarray, a view of the column's buffer
    from_numbers(np.arange(3.0))        # pa.DoubleArray of the same buffer
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = ["from_numbers", "numbers"]

#: Arrow's fixed-width number types and the NumPy dtype of their buffers
_DTYPES: dict[pa.DataType, np.dtype] = {
    pa.int8(): np.dtype(np.int8),
    pa.int16(): np.dtype(np.int16),
    pa.int32(): np.dtype(np.int32),
    pa.int64(): np.dtype(np.int64),
    pa.uint8(): np.dtype(np.uint8),
    pa.uint16(): np.dtype(np.uint16),
    pa.uint32(): np.dtype(np.uint32),
    pa.uint64(): np.dtype(np.uint64),
    pa.float32(): np.dtype(np.float32),
    pa.float64(): np.dtype(np.float64),
}
_TYPES: dict[np.dtype, pa.DataType] = {dtype: kind for kind, dtype in _DTYPES.items()}


def numbers(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """``values.to_numpy(zero_copy_only=False)``: a read-only view of the buffer for numbers
    without nulls in one chunk (a copy for several), else pyarrow's own conversion."""
    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    dtype = _DTYPES.get(array.type)
    if dtype is None or array.null_count:
        out: np.ndarray = array.to_numpy(zero_copy_only=False)
        return out
    data = array.buffers()[1]
    if data is None:  # an empty array may have no buffer
        return np.zeros(0, dtype=dtype)
    return np.frombuffer(data, dtype=dtype, count=len(array), offset=array.offset * dtype.itemsize)


def from_numbers(values: np.ndarray) -> pa.Array:
    """``pa.array(values)`` for a 1-D array of numbers (no nulls: NaN stays NaN, as
    ``pa.array`` keeps it), sharing its buffer when it is contiguous."""
    data = np.ascontiguousarray(values)
    kind = _TYPES.get(data.dtype)  # native byte order only: '>f8' is not float64 here
    if kind is None or data.ndim != 1:
        return pa.array(data)
    return pa.Array.from_buffers(kind, len(data), [None, pa.py_buffer(data)])
