"""API keys, checked in one place: by the server that requires one and the SDK that sends it.

A key travels as ``Authorization: Bearer <key>``: whitespace or a control character cannot be
sent in a header (a key read from a file often ends in a newline), and a short key can be
guessed. A refusal never shows the key, only its shape: its characters as ``*`` but for the
ones at fault.
"""

from __future__ import annotations

from evalstore.errors import ParameterError

__all__ = ["MAKE_KEY", "MIN_KEY_LENGTH", "check_key"]

#: the shortest key a server accepts
MIN_KEY_LENGTH = 16
#: how to make a good key, as messages suggest it
MAKE_KEY = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


def _unsendable(char: str) -> bool:
    return char.isspace() or not char.isprintable()


def _masked(key: str) -> str:
    """``key`` with every character but whitespace and control characters as ``*``."""
    return "".join(c if _unsendable(c) else "*" for c in key)


def check_key(key: str, name: str, *, server: bool = False) -> str:
    """``key`` if it can be sent in a header (and, for a ``server``, is long enough to be a
    secret); else a ParameterError naming ``name``.

    >>> check_key("k" * 16, "api_key")
    'kkkkkkkkkkkkkkkk'
    """
    if not isinstance(key, str):
        raise ParameterError(name, "a string", type(key).__name__)
    if any(_unsendable(c) for c in key):
        strip = "remove the whitespace around it" if server else "pass it with .strip()"
        raise ParameterError(
            name,
            "a key without whitespace or control characters (it is sent in an HTTP header)",
            _masked(key),
            f"A key read from a file often ends in a newline: {strip}."
            if key.strip() and not any(_unsendable(c) for c in key.strip())
            else f"Make one with: {MAKE_KEY}",
        )
    if server and len(key) < MIN_KEY_LENGTH:
        raise ParameterError(
            name,
            f"a long random secret, of {MIN_KEY_LENGTH} characters at least",
            _masked(key),
            f"Make one with: {MAKE_KEY}",
        )
    return key
