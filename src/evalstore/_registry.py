"""One registry mechanism for every extension point (metrics, drift methods, ...).

Entries describe themselves and carry a ``key``; the built-ins register through the
same ``register`` a user calls, and an unknown key names every registered one.
"""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar

from evalstore.errors import ParameterError, did_you_mean

__all__ = ["Registry"]


class _Keyed(Protocol):
    @property
    def key(self) -> str: ...


T = TypeVar("T", bound=_Keyed)


class Registry(Generic[T]):
    """Entries of one type by key, in registration order.

    ``noun`` names an entry in messages ("metric", "drift method"); ``param`` is the
    argument name an unknown key is reported under.
    """

    def __init__(self, entry_type: type[T], noun: str, param: str) -> None:
        self._entries: dict[str, T] = {}
        self._type = entry_type
        self._noun = noun
        self._param = param

    def register(self, entry: T, *, replace: bool = False) -> T:
        """Add ``entry``; a key already taken is refused unless ``replace=True``."""
        if not isinstance(entry, self._type):
            raise ParameterError(
                self._param, f"an evalstore {self._type.__name__}", type(entry).__name__
            )
        if entry.key in self._entries and not replace:
            raise ParameterError(
                f"{self._param}.key",
                f"a key no other {self._noun} uses",
                entry.key,
                f"Choose another key, or pass replace=True to replace the registered {self._noun}.",
            )
        self._entries[entry.key] = entry
        return entry

    def unregister(self, key: str) -> T:
        """Remove the entry ``key`` and return it."""
        entry = self.get(key)
        del self._entries[key]
        return entry

    def get(self, key: str) -> T:
        """The entry ``key``; an unknown key lists every registered one."""
        try:
            return self._entries[key]
        except (KeyError, TypeError):
            known = sorted(self._entries)
            raise ParameterError(
                self._param, f"one of {known}", key, did_you_mean(str(key), known).strip()
            ) from None

    def entries(self) -> list[T]:
        """Every entry, in registration order."""
        return list(self._entries.values())
