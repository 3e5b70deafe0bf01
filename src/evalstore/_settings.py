"""Where the store lives: settings read from the environment, in one place.

- ``EVALSTORE_HOME``: the folder of the embedded store (default ``~/.evalstore``).
- ``EVALSTORE_METADATA_URL``: a SQLAlchemy URL for the metadata database
  (default: ``sqlite:///<home>/metadata.sqlite``; e.g. ``postgresql+psycopg://...``).
- ``EVALSTORE_WRITE_MEMORY``: the memory the engine may use while writing a batch, on
  top of the batch itself (default ``2GB``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DATA_FILE", "StoreLocation", "resolve"]

DATA_FILE = "evalstore.duckdb"
METADATA_FILE = "metadata.sqlite"


@dataclass(frozen=True)
class StoreLocation:
    home: Path
    data_file: Path
    metadata_url: str
    write_memory: str


def resolve(
    path: str | os.PathLike[str] | None,
    metadata_url: str | None,
    write_memory: str | None = None,
) -> StoreLocation:
    """A folder, a ``.duckdb`` file, or None for ``$EVALSTORE_HOME`` (default ``~/.evalstore``)."""
    if path is None:
        path = os.environ.get("EVALSTORE_HOME") or Path.home() / ".evalstore"
    p = Path(path).expanduser()
    if p.suffix == ".duckdb" and p.name != DATA_FILE:
        home, data_file, meta = p.parent, p, p.with_suffix(".metadata.sqlite")
    else:
        p = p.parent if p.name == DATA_FILE else p
        home, data_file, meta = p, p / DATA_FILE, p / METADATA_FILE
    home.mkdir(parents=True, exist_ok=True)
    url = metadata_url or os.environ.get("EVALSTORE_METADATA_URL") or f"sqlite:///{meta.resolve()}"
    memory = write_memory or os.environ.get("EVALSTORE_WRITE_MEMORY") or "2GB"
    return StoreLocation(home.resolve(), data_file.resolve(), url, memory)
