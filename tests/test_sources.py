"""Streams of any batch sizes are regrouped into chunks that fill whole DuckDB row groups."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from evalstore.ingest.sources import DEFAULT_CHUNK_ROWS, open_source, rechunk

DUCKDB_ROW_GROUP = 122_880


def test_default_chunk_fills_whole_row_groups() -> None:
    # A chunk that ends inside a row group leaves a partial group per chunk, which the next
    # checkpoint merges by rewriting the table (seconds for a 10M-row batch).
    assert DEFAULT_CHUNK_ROWS % DUCKDB_ROW_GROUP == 0


@settings(max_examples=50, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=40), max_size=12),
    rows=st.integers(min_value=1, max_value=25),
)
def test_rechunk_gives_exact_sizes_in_order(sizes: list[int], rows: int) -> None:
    start, batches = 0, []
    for n in sizes:
        batches.append(pa.record_batch({"x": np.arange(start, start + n)}))
        start += n
    out = list(rechunk(iter(batches), rows))
    assert all(t.num_rows == rows for t in out[:-1])
    assert not out or 0 < out[-1].num_rows <= rows
    values = [v for t in out for v in t.column("x").to_pylist()]
    assert values == list(range(start))


def test_streams_are_regrouped(tmp_path) -> None:
    n = 1000
    table = pa.table({"id": np.arange(n), "x": np.random.default_rng(0).random(n)})
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=7))
    source = open_source(reader, chunk_rows=300)
    assert [t.num_rows for t in source.batches] == [300, 300, 300, 100]
    path = tmp_path / "t.csv"
    import pyarrow.csv as pacsv

    pacsv.write_csv(table, path)
    assert [t.num_rows for t in open_source(path, chunk_rows=256).batches] == [256] * 3 + [232]


def test_a_pandas_frames_unnamed_index_is_not_logged(tmp_path) -> None:
    """pandas writes a filtered or shuffled frame's index as ``__index_level_0__`` (to
    Parquet, and in ``pa.Table.from_pandas``); it reads it back as the index, not as a
    column, so it is not a feature. A named index stays, under its name."""
    import pandas as pd

    import evalstore as es

    frame = pd.DataFrame(
        {
            "id": [f"p{i}" for i in range(8)],
            "age": np.arange(8.0),
            "region": list("nsewnsew"),
            "score": np.linspace(0, 1, 8),
        }
    )
    picked = frame.iloc[[6, 0, 3, 5]]  # an index other than 0, 1, 2...
    path = tmp_path / "preds.parquet"
    picked.to_parquet(path)
    assert "__index_level_0__" in pq.read_schema(path).names
    two_levels = pa.Table.from_pandas(picked.set_index([picked.index, picked.index * 2]))
    assert {"__index_level_0__", "__index_level_1__"} <= set(two_levels.column_names)
    named = pa.Table.from_pandas(picked.set_index("region"))

    store = es.connect(tmp_path / "store")
    schema = es.Schema(prediction_id="id", prediction_score="score")
    for i, data in enumerate([path, two_levels, named]):
        model = store.model(f"m{i}", task="binary_classification")
        model.log(data, schema=schema, version="v1", environment="production")
        stored = model.dataset().to_pandas()
        assert not [c for c in stored.columns if c.startswith("__index_level_")]
        assert sorted(stored.prediction_id) == sorted(picked.id)
        assert "region" in stored.columns
        assert (
            stored.set_index("prediction_id").age.to_dict() == picked.set_index("id").age.to_dict()
        )
    store.close()
