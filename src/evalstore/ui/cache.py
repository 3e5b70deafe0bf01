"""Results the pages computed, kept in this process, and a warmer that computes them ahead.

Every key starts with ``(model name, generation)``, where the generation is the model's
latest batch id and its baselines' versions: a new batch or baseline makes the model's
older entries unreachable, and they are dropped as soon as the new generation is seen.
A key is computed once (single flight): a second request for a key being computed -- the
warmer and a user, or two tabs -- waits for the first instead of running the same queries.

Why: on a 10M-row store a page's queries take seconds on 2 cores (the actuals join, a
scan of the current window per analysis; see ``bench/ui_latency.py``), while a page read
from this cache answers in milliseconds. The :class:`Warmer` computes each viewed model's
default views again after every batch, so that the views people open first are ready.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any, TypeVar

__all__ = ["ResultCache", "Warmer"]

log = logging.getLogger("evalstore.ui")

T = TypeVar("T")

#: entries kept (results are aggregates: tens of KB each)
MAX_ENTRIES = 512


class ResultCache:
    """A bounded, thread-safe map from keys to computed values, computed once per key."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, Future[Any]] = OrderedDict()
        self._generations: dict[str, Hashable] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        """The value of ``key``: cached, being computed by another thread (waited for), or
        computed now by ``compute()``. A failure is not cached (the next call tries again)."""
        with self._lock:
            found = self._entries.get(key)
            owner = found is None
            if found is None:
                found = self._entries[key] = Future()
                self.misses += 1
                self._evict()
            else:
                self._entries.move_to_end(key)
                self.hits += 1
        if owner:
            try:
                found.set_result(compute())
            except BaseException as exc:
                found.set_exception(exc)
                with self._lock:
                    if self._entries.get(key) is found:
                        del self._entries[key]
        value: T = found.result()
        return value

    def peek(self, key: tuple[Any, ...]) -> Any:
        """The value of ``key`` if computed (None otherwise); never computes or waits."""
        with self._lock:
            found = self._entries.get(key)
        if found is None or not found.done() or found.exception() is not None:
            return None
        self.hits += 1
        return found.result()

    def put(self, key: tuple[Any, ...], value: Any) -> None:
        with self._lock:
            done: Future[Any] = Future()
            done.set_result(value)
            self._entries[key] = done
            self._evict()

    def is_ready(self, key: tuple[Any, ...]) -> bool:
        with self._lock:
            found = self._entries.get(key)
        return found is not None and found.done() and found.exception() is None

    def generation_seen(self, model: str, generation: Hashable) -> bool:
        """Record ``generation`` as the model's current one; False when it is new (and the
        model's entries of other generations are dropped)."""
        with self._lock:
            if self._generations.get(model) == generation:
                return True
            self._generations[model] = generation
            stale = [
                k
                for k in self._entries
                if isinstance(k, tuple) and len(k) > 1 and k[0] == model and k[1] != generation
            ]
            for k in stale:
                del self._entries[k]
            return False

    def known_models(self) -> list[str]:
        """The models whose generation this cache has seen."""
        with self._lock:
            return list(self._generations)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._generations.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def _evict(self) -> None:
        while len(self._entries) > self.max_entries:
            oldest = next(iter(self._entries))
            if not self._entries[oldest].done():
                break  # never drop a computation others may be waiting for
            del self._entries[oldest]


class Warmer:
    """One background thread computing models' default views, a model at a time.

    ``warm(name)`` is the work for one model; :meth:`submit` queues a model (once, however
    often it is submitted before its turn). Every ``poll_seconds`` the thread also calls
    ``poll()``, which submits the models whose data changed. Failures are logged, never
    raised: a view that fails here fails again, readably, when a user opens it.
    """

    def __init__(
        self,
        warm: Callable[[str], None],
        poll: Callable[[], list[str]] | None = None,
        poll_seconds: float = 15.0,
        stopped: Callable[[], bool] = lambda: False,
    ) -> None:
        self._warm = warm
        self._poll = poll
        self._closed = stopped
        """true once the store is closed: the thread then ends"""
        self.poll_seconds = poll_seconds
        self.enabled = True
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self.idle = threading.Event()
        self.idle.set()
        self._due: set[str] = set()
        """models whose data changed, waiting for their turn"""
        self._last: dict[str, tuple[float, float]] = {}
        """per model: when its last warming ended, and how long it took"""

    def submit(self, model: str) -> None:
        if not self.enabled or self._stopped.is_set():
            return
        with self._lock:
            if model in self._pending:
                return
            self._pending.add(model)
            self.idle.clear()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="evalstore-ui-warmer", daemon=True
                )
                self._thread.start()
        self._queue.put(model)

    def stop(self) -> None:
        self._stopped.set()
        self._queue.put(None)

    def _run(self) -> None:
        while not self._stopped.is_set() and not self._closed():
            try:
                model = self._queue.get(timeout=self.poll_seconds)
            except queue.Empty:
                self._check()
                continue
            if model is None or self._closed():
                break
            started = time.monotonic()
            try:
                self._warm(model)
            except Exception as exc:  # the store closed, a view that cannot be computed...
                log.debug("warming %s stopped: %s", model, exc)
            finally:
                self._last[model] = (time.monotonic(), time.monotonic() - started)
                with self._lock:
                    self._pending.discard(model)
                    if not self._pending:
                        self.idle.set()

    def _check(self) -> None:
        if self._poll is None or not self.enabled:
            return
        try:
            self._due.update(self._poll())
        except Exception as exc:
            log.debug("checking for new batches failed: %s", exc)
            return
        now = time.monotonic()
        for model in sorted(self._due):
            finished, took = self._last.get(model, (0.0, 0.0))
            # at most half the time spent warming: a model whose views take a minute to
            # compute is warmed at most every two minutes, however often batches arrive
            if now - finished >= 2 * took:
                self._due.discard(model)
                self.submit(model)
