"""Metadata — models and versions — through SQLAlchemy (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from evalstore.schema import Task

__all__ = ["Metadata", "ModelRecord"]

_meta = sa.MetaData()

models_table = sa.Table(
    "models",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("task", sa.String(40), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

versions_table = sa.Table(
    "versions",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("model_id", "name"),
)


@dataclass(frozen=True)
class ModelRecord:
    id: int
    name: str
    task: Task
    created_at: datetime


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Metadata:
    """The metadata database. Every write is its own transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = sa.create_engine(url)
        _meta.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    @staticmethod
    def _record(row: Sequence[Any]) -> ModelRecord:
        return ModelRecord(int(row[0]), str(row[1]), Task(row[2]), row[3])

    def get_model(self, name: str) -> ModelRecord | None:
        t = models_table
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(t.c.id, t.c.name, t.c.task, t.c.created_at).where(t.c.name == name)
            ).first()
        return self._record(row) if row else None

    def create_model(self, name: str, task: Task) -> ModelRecord:
        """Create a model; if another writer created it first, return that one."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    sa.insert(models_table).values(name=name, task=task.value, created_at=_now())
                )
        except IntegrityError:
            pass
        record = self.get_model(name)
        assert record is not None
        return record

    def models(self) -> list[ModelRecord]:
        t = models_table
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.c.id, t.c.name, t.c.task, t.c.created_at).order_by(t.c.name)
            ).all()
        return [self._record(r) for r in rows]

    def add_version(self, model_id: int, name: str) -> None:
        t = versions_table
        with self.engine.begin() as conn:
            exists = conn.execute(
                sa.select(t.c.id).where(t.c.model_id == model_id, t.c.name == name)
            ).first()
            if exists is None:
                conn.execute(sa.insert(t).values(model_id=model_id, name=name, created_at=_now()))

    def versions(self, model_id: int) -> list[str]:
        t = versions_table
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.c.name).where(t.c.model_id == model_id).order_by(t.c.created_at, t.c.id)
            ).all()
        return [r[0] for r in rows]
