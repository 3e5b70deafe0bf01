"""Arrow numbers to NumPy and back (``evalstore._arrow``) against pyarrow's own conversions:
the same values and dtypes, on slices, several chunks, empty arrays and nulls."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from evalstore._arrow import from_numbers, numbers

TYPES = [
    pa.int8(),
    pa.int16(),
    pa.int32(),
    pa.int64(),
    pa.uint8(),
    pa.uint32(),
    pa.uint64(),
    pa.float32(),
    pa.float64(),
]


@pytest.mark.parametrize("kind", TYPES, ids=str)
def test_numbers_equal_to_numpy(kind: pa.DataType) -> None:
    values = pa.array([0, 1, 2, 3, 4, 5, 100], type=kind)
    for array in (values, values.slice(2, 4), values.slice(7), values.slice(0, 0)):
        got = numbers(array)
        want = array.to_numpy(zero_copy_only=False)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    chunked = pa.chunked_array([values.slice(1, 3), values.slice(4)], type=kind)
    np.testing.assert_array_equal(numbers(chunked), chunked.to_numpy())
    assert numbers(pa.chunked_array([], type=kind)).dtype == chunked.to_numpy().dtype


def test_numbers_keep_nan_and_fall_back_for_nulls_and_other_types() -> None:
    nan = pa.array([1.5, float("nan"), -np.inf])
    np.testing.assert_array_equal(numbers(nan), nan.to_numpy())
    for array in (
        pa.array([1, None, 3]),
        pa.array([True, False, None]),
        pa.array(["a", "b"]),
        pa.array([True, False]),
    ):
        got, want = numbers(array), array.to_numpy(zero_copy_only=False)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    "values",
    [
        np.arange(5, dtype=np.int64),
        np.array([0.5, np.nan, np.inf, -0.0]),
        np.arange(10, dtype=np.float64)[::3],  # not contiguous
        np.zeros(0),
        np.array([1, 2], dtype=np.uint32),
    ],
)
def test_from_numbers_equals_pa_array(values: np.ndarray) -> None:
    got, want = from_numbers(values), pa.array(values)
    assert got.type == want.type
    assert got.null_count == want.null_count == 0
    assert got.to_pylist() == pytest.approx(want.to_pylist(), nan_ok=True)
    assert got.equals(want) or np.isnan(values).any()


def test_from_numbers_leaves_other_arrays_to_pyarrow() -> None:
    with pytest.raises(pa.ArrowNotImplementedError):  # as pa.array: byte-swapped
        from_numbers(np.array([1.0, 2.0], dtype=">f8"))
    assert from_numbers(np.array([True, False])).equals(pa.array([True, False]))
