"""Metadata through SQLAlchemy (SQLite by default, or PostgreSQL): models, versions, baselines."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

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

# A baseline's every fit is kept (version 1, 2, ...): a stored result names the version it
# was computed against, so it can be reproduced after the baseline is refitted.
baselines_table = sa.Table(
    "baselines",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("store_id", sa.String(36), nullable=False),
    sa.Column("model_id", sa.Integer, nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.UniqueConstraint("store_id", "model_id", "name", "version"),
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

    def add_baseline(
        self, model_id: int, name: str, body: Mapping[str, Any]
    ) -> tuple[int, datetime]:
        """Store ``body`` (plain JSON data) as the next version of baseline ``name``."""
        t = baselines_table
        where = (t.c.store_id == self.store_id, t.c.model_id == model_id, t.c.name == name)
        created = _now()
        with self.engine.begin() as conn:
            last = conn.execute(sa.select(sa.func.max(t.c.version)).where(*where)).scalar()
            version = int(last or 0) + 1
            conn.execute(
                sa.insert(t).values(
                    store_id=self.store_id,
                    model_id=model_id,
                    name=name,
                    version=version,
                    created_at=created,
                    body=json.dumps(dict(body), sort_keys=True),
                )
            )
        return version, created

    def baseline(
        self, model_id: int, name: str, version: int | None = None
    ) -> tuple[int, datetime, dict[str, Any]] | None:
        """(version, created_at, body) of baseline ``name`` (the latest version by default)."""
        t = baselines_table
        query = sa.select(t.c.version, t.c.created_at, t.c.body).where(
            t.c.store_id == self.store_id, t.c.model_id == model_id, t.c.name == name
        )
        if version is not None:
            query = query.where(t.c.version == version)
        with self.engine.connect() as conn:
            row = conn.execute(query.order_by(t.c.version.desc()).limit(1)).first()
        if row is None:
            return None
        return int(row[0]), row[1], json.loads(row[2])

    def baseline_versions(self, model_id: int, name: str) -> list[int]:
        """The stored versions of baseline ``name``, oldest first (none: no such baseline)."""
        t = baselines_table
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.c.version)
                .where(t.c.store_id == self.store_id, t.c.model_id == model_id, t.c.name == name)
                .order_by(t.c.version)
            ).all()
        return [int(r[0]) for r in rows]

    def baselines(self, model_id: int) -> list[dict[str, Any]]:
        """Every baseline of a model: name, latest version, when it was fitted, by name."""
        t = baselines_table
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.c.name, sa.func.max(t.c.version), sa.func.max(t.c.created_at))
                .where(t.c.store_id == self.store_id, t.c.model_id == model_id)
                .group_by(t.c.name)
                .order_by(t.c.name)
            ).all()
        return [{"name": r[0], "version": int(r[1]), "created_at": r[2]} for r in rows]
