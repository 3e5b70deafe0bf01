"""Metadata through SQLAlchemy (SQLite by default, PostgreSQL by URL): models, versions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

import sqlalchemy as sa

from evalstore.store.base import ModelRecord

__all__ = ["Metadata"]

_meta = sa.MetaData()

# Rows are keyed by the store they describe (its id lives in the DuckDB file), so one
# metadata database -- a shared PostgreSQL, say -- can serve many stores.
models_table = sa.Table(
    "models",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("store_id", sa.String(36), nullable=False),
    sa.Column("model_id", sa.Integer, nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("task", sa.String(40), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("store_id", "name"),
    sa.UniqueConstraint("store_id", "model_id"),
)

versions_table = sa.Table(
    "versions",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("store_id", sa.String(36), nullable=False),
    sa.Column("model_id", sa.Integer, nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("store_id", "model_id", "name"),
)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Metadata:
    """The metadata database of one store. Every write is its own transaction.

    The evaluation store owns model ids and names; this database mirrors them
    (``sync_models``) and holds what only it keeps: versions, and later
    baselines, monitors and users.
    """

    def __init__(self, url: str, store_id: str) -> None:
        self.url = url
        self.store_id = store_id
        self.engine = sa.create_engine(url)
        _meta.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def sync_models(self, records: Sequence[ModelRecord]) -> None:
        """Record every model of the store that this database does not know yet."""
        t = models_table
        with self.engine.begin() as conn:
            known = set(
                conn.execute(sa.select(t.c.model_id).where(t.c.store_id == self.store_id)).scalars()
            )
            for r in records:
                if r.id not in known:
                    conn.execute(
                        sa.insert(t).values(
                            store_id=self.store_id,
                            model_id=r.id,
                            name=r.name,
                            task=r.task.value,
                            created_at=r.created_at,
                        )
                    )

    def add_version(self, model_id: int, name: str) -> None:
        t = versions_table
        where = (t.c.store_id == self.store_id, t.c.model_id == model_id, t.c.name == name)
        with self.engine.begin() as conn:
            if conn.execute(sa.select(t.c.id).where(*where)).first() is None:
                conn.execute(
                    sa.insert(t).values(
                        store_id=self.store_id, model_id=model_id, name=name, created_at=_now()
                    )
                )

    def versions(self, model_id: int) -> list[str]:
        t = versions_table
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.c.name)
                .where(t.c.store_id == self.store_id, t.c.model_id == model_id)
                .order_by(t.c.created_at, t.c.id)
            ).all()
        return [r[0] for r in rows]
