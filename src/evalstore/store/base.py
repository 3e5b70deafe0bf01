"""The evaluation store interface: what the SDK needs from an engine, and nothing more.

An engine stores a model's inferences and actuals, writes a batch all-or-nothing,
and runs Ibis expressions. Analyses build Ibis expressions on ``inferences()``
and never see the engine, so a distributed engine is one more implementation
of this class.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import ibis.expr.types as ir
import pyarrow as pa

from evalstore.ingest.plan import ModelState, Plan
from evalstore.ingest.sources import Source
from evalstore.schema import Task
from evalstore.store._profiles import Profiles

__all__ = ["BatchReport", "EvaluationStore", "ModelRecord", "Progress"]

T = TypeVar("T")

#: called with the number of rows just written
Progress = Callable[[int], None]


@dataclass(frozen=True)
class ModelRecord:
    """A model as the store knows it: its id keys the model's tables."""

    id: int
    name: str
    task: Task
    created_at: datetime


@dataclass(frozen=True)
class BatchReport:
    """What one log call wrote."""

    batch_id: int
    rows: int
    """rows in the batch"""
    replaced: int
    """for inferences: earlier rows with the same (version, environment, prediction_id) that
    this batch replaced; for actuals: its ids that had an actual already in that environment
    (the earlier actual is no longer read). Counted whether or not a value changed: re-sending
    a batch reports every row as replaced, and changes nothing that is read."""
    actuals: int
    """actuals written (late actuals, or the ones logged with the inferences)"""
    seconds: float
    matched: int | None = None
    """for actuals: the logged predictions (rows, of every version) they were joined to;
    0 when none was logged yet in that environment (they are kept, and join the
    predictions that arrive later). None for inferences."""
    elsewhere: dict[str, int] | None = None
    """for actuals that joined no prediction: the other environments holding predictions
    with their ids, and how many (most first; the likely ``environment=`` they were meant
    for, which :class:`~evalstore.UnmatchedActualsWarning` names); else None."""


class EvaluationStore(abc.ABC):
    """Storage and execution for evaluation data."""

    @property
    @abc.abstractmethod
    def store_id(self) -> str:
        """A stable unique id of this store, kept with its data."""

    @abc.abstractmethod
    def get_model(self, name: str) -> ModelRecord | None:
        """The model of that name, if any."""

    @abc.abstractmethod
    def create_model(self, name: str, task: Task) -> ModelRecord:
        """Create a model (or return the one of that name that exists)."""

    @abc.abstractmethod
    def models(self) -> list[ModelRecord]:
        """Every model, by name."""

    @abc.abstractmethod
    def model_state(self, model_id: int, task: Task, version: str | None) -> ModelState:
        """The columns a model has and the layout of a version's earlier batches."""

    @abc.abstractmethod
    def write_inferences(
        self,
        model_id: int,
        plan: Plan,
        source: Source,
        *,
        version: str,
        environment: str,
        progress: Progress | None = None,
    ) -> BatchReport:
        """Validate and write a batch of inferences in one transaction."""

    @abc.abstractmethod
    def write_actuals(
        self,
        model_id: int,
        plan: Plan,
        source: Source,
        *,
        environment: str,
        progress: Progress | None = None,
    ) -> BatchReport:
        """Validate and write a batch of actuals in one transaction."""

    @abc.abstractmethod
    def inferences(self, model_id: int) -> ir.Table:
        """An Ibis table of the model's inferences (an engine may keep a copy of their
        actuals in it: :meth:`with_actuals` says where they are)."""

    @abc.abstractmethod
    def with_actuals(self, model_id: int, table: ir.Table) -> ir.Table:
        """``table`` (inferences, possibly filtered) with the latest actual per
        (environment, prediction_id) as its last columns."""

    @abc.abstractmethod
    def execute(self, expr: ir.Expr) -> pa.Table:
        """Run an Ibis expression and return its result as Arrow."""

    def read_rows(self, table: ir.Table) -> pa.Table:
        """The rows of ``table`` as Arrow: :meth:`execute` for a result that may be large
        (an engine may read it another way)."""
        return self.execute(table)

    def execute_template(self, expr: ir.Expr, template: ir.Table, selection: ir.Table) -> pa.Table:
        """Run ``expr``, built on a dataset's ``template``, on the rows of ``selection``.

        Here the selection takes the template's place in the expression; an engine may
        instead compile ``expr`` once for every selection of the same columns and bind the
        selection when it runs (``DuckDBStore``)."""
        return self.execute(expr.op().replace({template.op(): selection.op()}).to_expr())

    def execute_recipe(
        self,
        key: Hashable,
        build: Callable[[], ir.Expr],
        template: ir.Table,
        selection: ir.Table,
    ) -> pa.Table:
        """:meth:`execute_template` of ``build()``, whose every input ``key`` names: an
        engine may keep the query's SQL under ``key`` and then run it without building the
        expression (``DuckDBStore``, ``store/_compiled.py``)."""
        return self.execute_template(build(), template, selection)

    def kept_text(self, key: Hashable, make: Callable[[], str]) -> str:
        """``make()``, a text that ``key`` names every input of: an engine that keeps
        recipes keeps it too (what an analysis needs besides a recipe's SQL to read its
        rows)."""
        return make()

    @property
    def profiles(self) -> Profiles | None:
        """Where analyses may keep aggregates per hour of the rows (``_profiles.py``): only
        an engine that forgets the hours each of its writes changes has them, once asked to
        keep them."""
        return None

    def beside(self, fn: Callable[[], T]) -> Callable[[], T]:
        """``fn`` (reads of this store) started while the caller goes on; returns what gives
        its result. Here it runs when the result is asked for: only an engine that reads
        from several threads at once runs it beside."""
        return fn

    def keep_profiles(self, keep: bool = True) -> bool:
        """Keep profiles from now on (or stop, and drop them): worth it in a process that
        reads overlapping ranges again and again, such as the server. Returns whether this
        engine keeps them."""
        return False

    def pairs(self, model_id: int) -> list[tuple[str, str]]:
        """The (environment, version) pairs with inferences: here from :meth:`volumes`; an
        engine may read them from its batches."""
        return sorted(self.volumes(model_id))

    def volumes(self, model_id: int) -> dict[tuple[str, str], tuple[int, Any, Any]]:
        """Rows, first and last timestamp per (environment, version) of the model's
        inferences. Here counted from the rows; an engine may keep them with its batches."""
        t = self.inferences(model_id)
        query = t.group_by(["environment", "version"]).aggregate(
            rows=t.count(), first=t.timestamp.min(), last=t.timestamp.max()
        )
        return {
            (r["environment"], r["version"]): (int(r["rows"]), r["first"], r["last"])
            for r in self.execute(query).to_pylist()
        }

    @abc.abstractmethod
    def batches(self, model_id: int | None = None) -> list[dict[str, Any]]:
        """The committed batches, newest last."""

    @abc.abstractmethod
    def size_bytes(self) -> int:
        """Bytes on disk."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the engine (and its file lock)."""
