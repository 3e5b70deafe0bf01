"""Dataset: a selection of a model's inferences, with their actuals, read lazily."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa
from ibis.common.deferred import Deferred
from ibis.common.exceptions import IbisError

from evalstore._frames import polars_frame
from evalstore._memo import Memo
from evalstore.errors import ParameterError, did_you_mean
from evalstore.store._compiled import TEMPLATE

T = TypeVar("T")

if TYPE_CHECKING:
    import pandas as pd

    from evalstore.schema import Task
    from evalstore.store.base import EvaluationStore

__all__ = ["Dataset", "Where", "query_table"]

#: the templates each query is built on: finding them walks the whole expression (40 ms for
#: the slices' 26 branches), and a query is built once and run on many selections
_TEMPLATES: Memo[frozenset[ops.Node]] = Memo(1024)


def _templates(op: ops.Node) -> frozenset[ops.Node]:
    return _TEMPLATES.get(
        op, lambda: frozenset(t for t in op.find(ops.UnboundTable) if t.name == TEMPLATE)
    )


#: the selections built (their Ibis filter, 1.5-2 ms each: a model's health page built 14
#: after a batch, the same ones after the next batch), by table and bounds
_SELECTIONS: Memo[ir.Table] = Memo(512)


def _tuple(values: list[str] | None) -> tuple[str, ...] | None:
    return None if values is None else tuple(values)


#: a filter: {column: value or values}, a function of the table, or an ibis deferred (ibis._.x > 1)
Where: TypeAlias = Mapping[str, Any] | Callable[[ir.Table], ir.BooleanValue] | Deferred

TimeLike: TypeAlias = datetime | date | str


def query_table(ds: Any) -> ir.Table:
    """The table an analysis builds its queries on: a Dataset's ``template`` (compiled once
    for every selection of the same columns), or the ``table`` of any other dataset-like
    object (one with ``table`` and ``execute``)."""
    template = getattr(ds, "template", None)
    return template if isinstance(template, ir.Table) else ds.table


def run_recipe(ds: Any, key: Hashable | None, build: Callable[[], ir.Expr]) -> pa.Table:
    """``build()`` run on ``ds``: by :meth:`Dataset.execute_recipe` under ``key`` (every
    input of the expression; None: there is no such key) where ``ds`` has it, else built
    and executed."""
    execute_recipe = getattr(ds, "execute_recipe", None)
    if key is None or not callable(execute_recipe):
        return ds.execute(build())
    table: pa.Table = execute_recipe(key, build)
    return table


def beside(ds: Any, fn: Callable[[], T]) -> Callable[[], T]:
    """``fn`` (reads of ``ds``) started while the caller goes on, where the dataset's store
    reads from several threads at once (``EvaluationStore.beside``); returns what gives
    ``fn``'s result. Elsewhere ``fn`` runs when the result is asked for."""
    start = getattr(getattr(ds, "_store", None), "beside", None)
    return start(fn) if callable(start) else fn


def as_timestamp(value: TimeLike, name: str) -> datetime:
    """A naive UTC datetime from a datetime, date, pandas Timestamp or ISO 8601 text."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ParameterError(name, "an ISO 8601 date or time", value) from None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    raise ParameterError(name, "a datetime, a date or ISO 8601 text", value)


def _as_list(value: str | Sequence[str] | None, name: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    items = list(value)
    if not items or not all(isinstance(v, str) for v in items):
        raise ParameterError(name, "a string or a non-empty list of strings", value)
    return items


def _equals(t: ir.Table, column: str, value: Any) -> Any:
    """``column == value`` (or ``isin`` for a list, ``isnull`` for None), typed like the column."""
    if column not in t.columns:
        raise ParameterError(
            "where",
            "a filter on existing columns",
            column,
            f"{did_you_mean(column, t.columns).strip()} Columns: {', '.join(t.columns)}.".lstrip(),
        )
    col = t[column]
    if value is None:
        return col.isnull()
    many = isinstance(value, (list, tuple, set, frozenset)) or hasattr(value, "tolist")
    values = list(value.tolist() if hasattr(value, "tolist") else value) if many else [value]
    if col.type().is_string():  # ids are stored as text: 5 matches "5"
        values = [v if isinstance(v, str) else str(v) for v in values]
    try:
        return col.isin(values) if many else col == values[0]
    except IbisError as exc:
        raise ParameterError(
            f"where[{column!r}]", f"a value comparable with {col.type()}", value, str(exc)
        ) from None


class Dataset:
    """A lazy selection of a model's inferences. Nothing is read until you ask for rows.

    ``ds.table`` is the Ibis expression behind it (actuals included), for
    aggregates that run in the engine: ``ds.execute(ds.table.count())``.
    """

    def __init__(
        self,
        store: EvaluationStore,
        model_id: int,
        *,
        environment: str | Sequence[str] | None = None,
        version: str | Sequence[str] | None = None,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        where: Where | None = None,
        task: Task | None = None,
    ) -> None:
        from evalstore.ingest.plan import ENVIRONMENTS

        self._store = store
        self.task = task
        """the model's task, so analyses know which metrics apply"""
        self.environments = _as_list(environment, "environment")
        for env in self.environments or []:
            if env not in ENVIRONMENTS:
                raise ParameterError(
                    "environment",
                    f"one of {list(ENVIRONMENTS)}",
                    env,
                    did_you_mean(env, ENVIRONMENTS).strip(),
                )
        self.versions = _as_list(version, "version")
        self.where = where
        """the filter as given (a baseline stores it when it is a dict)"""
        self.model_id = model_id
        self.start = as_timestamp(start, "start") if start is not None else None
        self.end = as_timestamp(end, "end") if end is not None else None
        if self.start and self.end and self.start >= self.end:
            raise ParameterError("end", f"later than start ({self.start.isoformat()})", self.end)
        whole = store.inferences(model_id)
        key = (whole.op(), _tuple(self.environments), _tuple(self.versions), self.start, self.end)
        t = _SELECTIONS.get(key, lambda: self._select(whole))
        self._inferences = t if where is None else None  # counts need no actuals
        t = store.with_actuals(model_id, t)
        if where is not None:
            t = t.filter(self._predicate(t, where))
        self.table: ir.Table = t
        self._selected = t
        self._template: tuple[ir.Table, ir.Table] | None = None
        self._filter: tuple[ops.Node | None, frozenset[str]] | None = None

    def _select(self, t: ir.Table) -> ir.Table:
        """The rows of the environments, versions and time range of this dataset."""
        preds: list[ir.BooleanValue] = []
        if self.environments:
            preds.append(t.environment.isin(self.environments))
        if self.versions:
            preds.append(t.version.isin(self.versions))
        if self.start is not None:
            preds.append(t.timestamp >= self.start)
        if self.end is not None:
            preds.append(t.timestamp < self.end)
        return t.filter(*preds) if preds else t

    @staticmethod
    def _predicate(t: ir.Table, where: Where) -> Any:
        if isinstance(where, Mapping):
            preds = [_equals(t, column, value) for column, value in where.items()]
            return ibis.and_(*preds) if preds else ibis.literal(True)
        if not (isinstance(where, Deferred) or callable(where)):
            raise ParameterError(
                "where",
                "a dict of column -> value, a function of the table, or "
                "an ibis deferred expression such as ibis._.age > 30",
                where,
            )
        try:
            pred = where.resolve(t) if isinstance(where, Deferred) else where(t)
        except (AttributeError, IbisError) as exc:
            raise ParameterError(
                "where",
                "an expression on the dataset's columns",
                where,
                f"{exc}. Columns: {', '.join(t.columns)}.",
            ) from None
        return pred

    @property
    def unique_ids(self) -> bool:
        """Whether no row repeats another's (version, environment, prediction_id): true of the
        store's rows (a re-sent row replaces the earlier one), while ``table`` is this
        dataset's own selection."""
        return self.table is self._selected

    @property
    def template(self) -> ir.Table:
        """``table``'s columns as a parameter: an expression built on it runs on the rows of
        the dataset that executes it. Analyses build on it, so that a query is compiled
        once for every selection of these columns (another window, version or filter)."""
        if self._template is None or self._template[0] is not self.table:
            self._template = (self.table, ibis.table(self.table.schema(), name=TEMPLATE))
        return self._template[1]

    @property
    def filter_key(self) -> tuple[ops.Node | None, frozenset[str]]:
        """The filter as a key of what is kept per selection (the store's profiles): its
        predicate on :attr:`template`, the same for any window, environment or version of
        these columns, and the columns it reads; (None, no columns) without a filter."""
        if self.where is None:
            return None, frozenset()
        if self._filter is None:
            pred = self._predicate(self.template, self.where).op()
            self._filter = (pred, frozenset(f.name for f in pred.find(ops.Field)))
        return self._filter

    def execute(self, expr: ir.Expr) -> pa.Table:
        """Run an Ibis expression built on ``self.table`` (or ``self.template``) in the
        store's engine."""
        found = _templates(expr.op())
        if not found:
            return self._store.execute(expr)
        if found != {self.template.op()}:
            raise ParameterError(
                "expr",
                "an expression on this dataset's table, or on a template of its columns",
                "one on a template of other columns",
                f"This dataset's columns: {', '.join(self.table.columns)}.",
            )
        return self._store.execute_template(expr, self.template, self.table)

    def execute_recipe(self, key: Hashable, build: Callable[[], ir.Expr]) -> pa.Table:
        """:meth:`execute` of ``build()``, an expression on :attr:`template` that ``key``
        names every input of (the key its builder keeps it under). The store keeps its SQL
        under ``key``, in this process and for later ones: where it has it, nothing is
        built (``store/_compiled.py``)."""
        return self._store.execute_recipe(key, build, self.template, self.table)

    def kept_text(self, key: Hashable, make: Callable[[], str]) -> str:
        """``make()``, kept like a recipe's SQL (:meth:`execute_recipe`) under ``key`` for
        queries on :attr:`template`: what an analysis needs besides the SQL to read a
        recipe's rows."""
        return self._store.kept_text((self.template.op(), key), make)

    def count(self) -> int:
        """The number of inferences selected."""
        table = self._inferences if self._inferences is not None else self.table
        result = self._store.execute(table.count().name("n"))
        return int(result.column(0)[0].as_py())

    def to_arrow(self) -> pa.Table:
        """Every selected row as an Arrow table (actuals joined; missing ones are null)."""
        return self._store.read_rows(self.table)

    def to_batches(self, rows: int = 65_536) -> Iterator[pa.RecordBatch]:
        """Every selected row, as Arrow record batches of at most ``rows`` rows, read from the
        engine as you consume them (a selection larger than memory can be written out batch
        by batch). Stores that cannot stream read the rows at once and cut them."""
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
            raise ParameterError("rows", "a number of rows, 1 or more", rows)
        return self._batches(rows)

    def _batches(self, rows: int) -> Iterator[pa.RecordBatch]:
        stream = getattr(self._store, "stream", None)
        if stream is None:
            yield from self.to_arrow().to_batches(max_chunksize=rows)
        else:
            yield from stream(self.table, rows)

    def to_pandas(self) -> pd.DataFrame:
        """Every selected row as a pandas DataFrame."""
        frame: pd.DataFrame = self.to_arrow().to_pandas()
        return frame

    def to_polars(self) -> Any:
        """Every selected row as a polars DataFrame (needs ``pip install polars``)."""
        return polars_frame(self.to_arrow)

    @property
    def columns(self) -> list[str]:
        return list(self.table.columns)

    def __repr__(self) -> str:
        parts = [
            f"{k}={v!r}"
            for k, v in (
                ("environment", self.environments),
                ("version", self.versions),
                ("start", self.start),
                ("end", self.end),
            )
            if v is not None
        ]
        return f"Dataset({', '.join(parts)})"
