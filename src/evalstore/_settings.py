"""Where the store lives: settings read from the environment, in one place.

- ``EVALSTORE_HOME``: the folder of the embedded store (default ``~/.evalstore``).
- ``EVALSTORE_METADATA_URL``: a SQLAlchemy URL for the metadata database
  (default: ``sqlite:///<home>/metadata.sqlite``; e.g. ``postgresql+psycopg://...``).
- ``EVALSTORE_WRITE_MEMORY``: the memory the engine may use while writing a batch, on
  top of the batch itself (default ``2GB``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from evalstore.errors import ParameterError

__all__ = ["DATA_FILE", "StoreLocation", "as_url", "resolve"]

# a scheme of two letters at least: ``C:/data`` is a Windows folder, not a URL
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):/+(.*)$", re.S)

DATA_FILE = "evalstore.duckdb"
METADATA_FILE = "metadata.sqlite"


@dataclass(frozen=True)
class StoreLocation:
    home: Path
    data_file: Path
    metadata_url: str
    write_memory: str


def as_url(path: str | os.PathLike[str]) -> str | None:
    """The URL ``path`` is, when it looks like one (``scheme://...``), else None. A ``Path``
    made of a URL has lost a slash (``http:/host:8080``): it is given back whole."""
    found = _URL.match(os.fspath(path))
    return f"{found.group(1)}://{found.group(2)}" if found else None


def resolve(
    path: str | os.PathLike[str] | None,
    metadata_url: str | None,
    write_memory: str | None = None,
) -> StoreLocation:
    """A folder, a ``.duckdb`` file, or None for ``$EVALSTORE_HOME`` (default ``~/.evalstore``)."""
    if path is None:
        path = os.environ.get("EVALSTORE_HOME") or Path.home() / ".evalstore"
    given = as_url(path)
    if given is not None:  # else a folder named after the URL would be made, silently
        raise ParameterError(
            "path",
            "a store folder or a .duckdb file on this machine",
            given,
            "A store served over HTTP is reached with es.connect('http://host:port') "
            "(http or https, lowercase).",
        )
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
