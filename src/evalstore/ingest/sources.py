"""Read what users log — pandas, polars, Arrow, Parquet, CSV — as a stream of Arrow record batches.

Nothing is materialised whole: a pandas frame is converted slice by slice, a
Parquet file row group by row group, a CSV file block by block, so a file
larger than memory can be logged.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from evalstore.errors import BatchRejected, ParameterError

__all__ = ["DEFAULT_CHUNK_ROWS", "Source", "open_source"]

#: Rows per chunk: large enough for the engine to work in parallel, small enough to bound
#: memory, and two of DuckDB's 122,880-row row groups, so that chunk after chunk fills whole
#: row groups (a partial one per chunk costs a rewrite of the table at the next checkpoint).
DEFAULT_CHUNK_ROWS = 245_760


def rechunk(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
    """Regroup a stream of record batches of any sizes into tables of exactly ``rows`` rows
    (the last one shorter)."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        pending.append(batch)
        count += batch.num_rows
        if count >= rows:
            table = pa.Table.from_batches(pending)
            while table.num_rows >= rows:
                yield table.slice(0, rows)
                table = table.slice(rows)
            pending, count = table.to_batches(), table.num_rows
    if count:
        yield pa.Table.from_batches(pending)


@dataclass
class Source:
    """An input as an Arrow schema plus a one-shot stream of record batches."""

    schema: pa.Schema
    batches: Iterator[pa.RecordBatch | pa.Table]
    rows: int | None
    """total rows when known up front (for progress bars)"""
    name: str


def _pandas_schema(df: Any) -> pa.Schema:
    """Arrow types for a frame from a sample; object columns the sample cannot type, in full."""
    schema = pa.Table.from_pandas(df.iloc[:1000], preserve_index=False).schema
    fields = []
    for field in schema:
        if pa.types.is_null(field.type) and len(df) > 1000:
            field = field.with_type(_column_to_arrow(df, field.name).type)
        fields.append(field)
    return pa.schema(fields)


def _column_to_arrow(df: Any, column: str) -> pa.Array:
    try:
        return pa.array(df[column], from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise _mixed(column, exc) from None


def _mixed(column: str, exc: Exception) -> BatchRejected:
    return BatchRejected(
        f"has values of mixed types that cannot form one column ({exc})",
        column=column,
        fix="give the column one type (pandas: df[col].astype(str), or pd.to_numeric)",
    )


def _from_pandas(df: Any, chunk_rows: int) -> Source:
    if df.columns.duplicated().any():
        dup = df.columns[df.columns.duplicated()][0]
        raise ParameterError("data", "a DataFrame with unique column names", f"duplicate {dup!r}")
    for name in df.columns:
        if not isinstance(name, str):
            raise ParameterError(
                "data",
                "a DataFrame with string column names",
                name,
                "Rename the columns, e.g. df.columns = df.columns.astype(str).",
            )
    try:
        schema = _pandas_schema(df)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        for name in df.columns:  # find the column at fault, to name it
            _column_to_arrow(df, name)
        raise

    def gen() -> Iterator[pa.Table]:
        for start in range(0, len(df), chunk_rows):
            part = df.iloc[start : start + chunk_rows]
            try:
                table = pa.Table.from_pandas(part, schema=schema, preserve_index=False)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                for name in df.columns:
                    try:
                        pa.array(part[name], type=schema.field(name).type, from_pandas=True)
                    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                        raise _mixed(name, exc) from None
                raise
            yield table

    return Source(schema, gen(), len(df), "DataFrame")


def _from_table(table: pa.Table, name: str) -> Source:
    # Already in memory: one chunk, so the engine scans it in one parallel pass.
    return Source(table.schema, iter([table]), table.num_rows, name)


def _from_parquet(path: Path, chunk_rows: int) -> Source:
    try:
        # pre_buffer (the default) keeps every column chunk it read ahead until the file is
        # closed: 1.8 GiB of a 10M-row file by its end, against 0.4 GiB without
        pf = pq.ParquetFile(path, pre_buffer=False)
    except (OSError, pa.ArrowException) as exc:
        raise ParameterError("file", "a readable Parquet file", str(path), str(exc)) from None
    batches = rechunk(pf.iter_batches(batch_size=chunk_rows), chunk_rows)
    return Source(pf.schema_arrow, batches, pf.metadata.num_rows, path.name)


def _from_csv(path: Path, chunk_rows: int) -> Source:
    try:
        reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=16 << 20))
    except (OSError, pa.ArrowException) as exc:
        raise ParameterError(
            "file", "a readable CSV file with a header row", str(path), str(exc)
        ) from None

    def gen() -> Iterator[pa.RecordBatch]:
        try:
            yield from reader
        except pa.ArrowInvalid as exc:
            raise ParameterError(
                "file",
                "a CSV file whose columns keep one type",
                str(path),
                f"{exc}. Give such columns one type throughout the file, or convert it to Parquet.",
            ) from None

    return Source(reader.schema, rechunk(gen(), chunk_rows), None, path.name)


def _no_rows() -> BatchRejected:
    return BatchRejected("the batch has no rows", fix="log a batch with at least one row")


def _not_empty(source: Source) -> Source:
    """``source``, refused when it has no rows. Checked before its columns are: an empty
    batch often has none (``"records": []`` over HTTP, ``pd.DataFrame()``), and would be
    refused for a missing column, which is not what is wrong."""
    if source.rows is not None:
        if source.rows == 0:
            raise _no_rows()
        return source
    for first in source.batches:  # a stream: read up to its first rows
        if first.num_rows:
            source.batches = itertools.chain([first], source.batches)
            return source
    raise _no_rows()


def open_source(data: Any, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Source:
    """Wrap anything evalstore can log as a Source; an unknown type says what is accepted,
    and a batch without rows is refused as such (BatchRejected)."""
    return _not_empty(_without_pandas_index(_open(data, chunk_rows)))


#: the column pandas writes an unnamed index as (one per level), when it is not 0, 1, 2...
_INDEX_COLUMN = re.compile(r"__index_level_\d+__")


def _pandas_index(schema: pa.Schema) -> list[str]:
    """The columns that hold a pandas frame's unnamed index (a Parquet file pandas wrote, an
    Arrow table from ``pa.Table.from_pandas``): its row labels, not data. pandas reads them
    back as the index, not as columns. A named index stays a column, under its name."""
    raw = (schema.metadata or {}).get(b"pandas")
    if raw is None:
        return []
    try:
        listed = json.loads(raw).get("index_columns", [])
    except (ValueError, AttributeError):  # metadata pandas did not write
        return []
    return [
        name
        for name in listed
        if isinstance(name, str) and _INDEX_COLUMN.fullmatch(name) and name in schema.names
    ]


def _without_pandas_index(source: Source) -> Source:
    """``source`` without the columns of a pandas frame's unnamed index (a filtered or
    shuffled frame's index would otherwise be logged as a feature)."""
    index = _pandas_index(source.schema)
    if not index:
        return source
    keep = [name for name in source.schema.names if name not in index]
    schema = pa.schema([source.schema.field(name) for name in keep], source.schema.metadata)
    batches = (batch.select(keep) for batch in source.batches)
    return Source(schema, batches, source.rows, source.name)


def _open(data: Any, chunk_rows: int) -> Source:
    module = type(data).__module__.split(".")[0]
    if isinstance(data, pa.Table):
        return _from_table(data, "Arrow table")
    if isinstance(data, pa.RecordBatch):
        return _from_table(pa.Table.from_batches([data]), "Arrow record batch")
    if isinstance(data, pa.RecordBatchReader):
        return Source(data.schema, rechunk(iter(data), chunk_rows), None, "Arrow stream")
    if module == "pandas" and type(data).__name__ == "DataFrame":
        return _from_pandas(data, chunk_rows)
    if module == "polars":
        if type(data).__name__ == "LazyFrame":
            data = data.collect()
        if type(data).__name__ == "DataFrame":
            return _from_table(data.to_arrow(), "polars DataFrame")
    if isinstance(data, (str, Path)):
        path = Path(data)
        if not path.is_file():
            raise ParameterError("file", "an existing Parquet or CSV file", str(path))
        suffix = path.suffix.lower()
        if suffix in (".parquet", ".pq"):
            return _from_parquet(path, chunk_rows)
        if suffix in (".csv", ".tsv", ".txt"):
            return _from_csv(path, chunk_rows)
        raise ParameterError("file", "a .parquet or .csv file", str(path))
    raise ParameterError(
        "data",
        "a pandas or polars DataFrame, a pyarrow Table, RecordBatch or RecordBatchReader, "
        "or the path of a Parquet or CSV file",
        type(data).__name__,
    )
