"""The garbage collector and the objects that live as long as the process.

Why: Python's full collections walk every object the collector tracks, and the store's stack
(Ibis, sqlglot, SQLAlchemy, pyarrow) leaves ~300k of them behind its imports, the server
more again in its caches and profiles. Measured on the 2-core benchmark machine:

- a report on 10% of the 1M-row benchmark's production, in a new process: one full
  collection of 42-58 ms in a report of ~0.6 s; 9-21 ms of collections in all once the
  imports are frozen;
- on the 10M-row UI store (``bench/ui_latency.py``), a warm server's week-by-the-hour pages
  met a full collection of 64-84 ms every third or fourth load; 1-10 ms once the warm
  state is frozen.

Frozen objects (``gc.freeze``) stay out of every later collection's walk. They are still
freed when nothing refers to them; only a reference cycle among them outlives its use, until
the next :func:`refreeze` (which unfreezes, collects, then freezes what is left).

``EVALSTORE_GC_FREEZE=0`` leaves the collector as Python set it.
"""

from __future__ import annotations

import gc
import os
import threading
import time

__all__ = ["REFREEZE_EVERY", "freeze", "refreeze"]

#: a server collects and freezes again at most this often (seconds): a full collection of
#: its warm state holds the interpreter for 0.1-0.3 s
REFREEZE_EVERY = 300.0

_lock = threading.Lock()
_last_refreeze: list[float] = []


def _wanted() -> bool:
    setting = os.environ.get("EVALSTORE_GC_FREEZE", "1").strip().lower()
    return setting not in {"0", "false", "no", "off"} and gc.isenabled()


def freeze() -> None:
    """Leave the objects alive now (the modules imported) out of later collections' walks."""
    if _wanted():
        gc.freeze()


def refreeze() -> bool:
    """After a server warmed its views: collect every object (the frozen ones too), then
    freeze the survivors, at most once every ``REFREEZE_EVERY`` seconds. Returns whether it
    ran."""
    if not _wanted():
        return False
    now = time.monotonic()
    with _lock:
        if _last_refreeze and now - _last_refreeze[0] < REFREEZE_EVERY:
            return False
        _last_refreeze[:] = [now]
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    return True
