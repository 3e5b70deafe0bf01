"""What queries cost to build, kept per input: an Ibis expression and its SQL are pure
functions of what built them, so the same inputs share them. The store keeps compiled SQL
(``store/_compiled.py``: 0.3-0.5 s of Ibis compilation per report), the slices their built
branches (0.57 s of expression building per view of the slices page).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["Memo"]

T = TypeVar("T")


class Memo(Generic[T]):
    """The ``size`` most recently used results of ``build``, by key. Thread-safe; a key
    that cannot be hashed is built every time."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._found: OrderedDict[Hashable, T] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        try:
            hash(key)
        except TypeError:
            return build()
        with self._lock:
            if key in self._found:
                self._found.move_to_end(key)
                self.hits += 1
                return self._found[key]
        value = build()  # two threads may build the same value at once: the result is the same
        with self._lock:
            self.misses += 1
            self._found[key] = value
            while len(self._found) > self.size:
                self._found.popitem(last=False)
        return value
