"""Every exception evalstore raises, in one tree.

::

    EvalstoreError                       base of everything below
    ├── ParameterError (ValueError)      an argument has the wrong value or type
    ├── SchemaError (ValueError)         a Schema is inconsistent, or does not fit the data
    ├── BatchRejected (ValueError)       a batch failed validation; nothing of it was written
    ├── ModelNotFound (KeyError)         no model of that name in the store
    ├── MetricError (RuntimeError)       a registered metric failed while it was computed
    ├── NotFittedError (RuntimeError)    an analysis was computed before it was fitted
    ├── NotSupported (NotImplementedError)  this kind of store cannot do that (yet)
    ├── ServerError (RuntimeError)       the evalstore server was unreachable, refused or failed
    └── StoreLocked (RuntimeError)       another process holds the store file

    UnmatchedActualsWarning (UserWarning)  actuals joined no prediction of their
                                           environment, but predictions of another

Every message says what went wrong and what to do next. ``BatchRejected``
carries the details as attributes (``column``, ``rows``, ``example``) so that
the CLI and the server can show them without parsing text. Through the server
(``es.connect("http://...")``) the same classes are raised with the same
messages and attributes; what only HTTP can go wrong with is a ``ServerError``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from datetime import date, time

__all__ = [
    "BatchRejected",
    "EvalstoreError",
    "MetricError",
    "ModelNotFound",
    "NotFittedError",
    "NotSupported",
    "ParameterError",
    "SchemaError",
    "ServerError",
    "StoreLocked",
    "UnmatchedActualsWarning",
]


class EvalstoreError(Exception):
    """Base class of every evalstore error."""


def iso(value: object) -> object:
    """A datetime, date or time (pandas Timestamps too) as ISO 8601 text; anything else as is.

    What a message shows of a value: ``2024-01-01T00:00:00``, not the Python repr
    ``datetime.datetime(2024, 1, 1, 0, 0)``, which means nothing over HTTP or in a shell."""
    if isinstance(value, (date, time)):  # datetime and pandas.Timestamp are dates
        return value.isoformat()
    return value


#: the most characters of a value a message shows (a whole file passed as a schema, say)
SHOWN = 200


def shown(value: object) -> str:
    """A value as a message shows it: its repr (ISO text for times), cut to ``SHOWN``
    characters with how long it was, so that a message stays a line."""
    text = repr(iso(value))
    if len(text) <= SHOWN:
        return text
    return f"{text[: SHOWN - 40]}... ({len(text):,} characters)"


class ParameterError(EvalstoreError, ValueError):
    """An argument has a value or type evalstore cannot use."""

    def __init__(self, name: str, expected: str, got: object, hint: str = "") -> None:
        self.name = name
        self.expected = expected
        self.got = got
        self.hint = hint
        message = f"{name} must be {expected}; got {shown(got)}."
        if hint:
            message += f" {hint}"
        super().__init__(message)

    def within(self, outer: str) -> ParameterError:
        """This error as part of the argument ``outer``: ``environment must be ...`` raised
        while resolving ``current`` becomes ``current.environment must be ...``, so that the
        caller learns which argument holds the bad value. An error already naming ``outer``
        is returned as is."""
        if self.name == outer or self.name.startswith((f"{outer}.", f"{outer}[")):
            return self
        # an error rebuilt from a server's answer has no hint attribute: it is in the message
        hint = getattr(self, "hint", "")
        return ParameterError(f"{outer}.{self.name}", self.expected, self.got, hint)


class SchemaError(EvalstoreError, ValueError):
    """A Schema is inconsistent, or does not match the data or the model's earlier batches."""

    def __init__(self, message: str, column: str | None = None) -> None:
        self.column = column
        super().__init__(message)


class BatchRejected(EvalstoreError, ValueError):
    """A batch was refused as a whole; nothing of it was written.

    Attributes: ``column`` (the input column at fault, if one is), ``rows``
    (how many rows are affected, if counted), ``example`` (one offending value
    or id) and ``fix`` (what to do).
    """

    def __init__(
        self,
        problem: str,
        *,
        column: str | None = None,
        rows: int | None = None,
        total: int | None = None,
        example: str | None = None,
        fix: str = "",
    ) -> None:
        self.column = column
        self.rows = rows
        self.total = total
        self.example = example
        self.fix = fix
        where = f"column {column!r}: " if column else ""
        count = ""
        if rows is not None:
            count = f"{rows:,} of {total:,} rows " if total is not None else f"{rows:,} rows "
        text = f"{where}{count}{problem}"
        if example is not None:
            text += f" (e.g. {example})"
        text += "."
        if fix:
            text += f" Fix: {fix}" + ("" if fix.endswith((".", "?", "!")) else ".")
        text += " Nothing was written."
        super().__init__(text)


class ModelNotFound(EvalstoreError, KeyError):
    """No model of that name exists in the store."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.model = name
        known = sorted(known)
        message = f"no model named {name!r} in this store."
        close = difflib.get_close_matches(name, known, n=1)
        if close:
            message += f" Did you mean {close[0]!r}?"
        elif known:
            message += f" Known models: {', '.join(known)}."
        message += " Create it with store.model(name, task=...)."
        super().__init__(message)

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class MetricError(EvalstoreError, RuntimeError):
    """A registered metric (a custom one, usually) failed while it was computed.

    The message names the metric and the step that failed; the error it raised is the
    ``__cause__``. Attributes: ``metric`` (its key) and ``stage`` (``aggregates``,
    ``queries`` or ``finalize``).
    """

    def __init__(self, metric: str, stage: str, problem: str) -> None:
        self.metric = metric
        self.stage = stage
        super().__init__(
            f"metric {metric!r} failed in {stage}: {problem}. Fix the metric's {stage}, or "
            f"unregister it with unregister_metric({metric!r})."
        )


class NotFittedError(EvalstoreError, RuntimeError):
    """An analysis was asked to compute before it was fitted on a reference."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} is not fitted yet; call .fit(reference) first.")


class NotSupported(EvalstoreError, NotImplementedError):
    """The operation exists, but not on this kind of store (for now); the message says what
    to do instead."""


class ServerError(EvalstoreError, RuntimeError):
    """The evalstore server could not be reached, refused a request, or failed on it.

    Errors the server raises on evalstore's own terms (``BatchRejected``,
    ``ModelNotFound``, ...) come back as those classes; this one covers the rest:
    no server at the URL, a missing or wrong API key, a request body over the
    server's limit, an internal error. Attributes: ``status`` (the HTTP status, or
    None when no answer came), ``error_type`` (the ``type`` of the server's error
    body) and ``details`` (a dict).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_type: str | None = None,
        details: dict[str, object] | None = None,
    ) -> None:
        self.status = status
        self.error_type = error_type
        self.details = details or {}
        super().__init__(message)


class StoreLocked(EvalstoreError, RuntimeError):
    """Another process holds the store's database file."""


class UnmatchedActualsWarning(UserWarning):
    """Actuals joined no prediction of the environment they were logged to, while another
    environment holds predictions with their ids: most likely the wrong ``environment=``.
    They are kept (actuals may arrive before their predictions)."""


def unmatched_actuals(rows: int, environment: str, elsewhere: dict[str, int]) -> str:
    """What :class:`UnmatchedActualsWarning` says: ``elsewhere`` holds, per environment,
    the predictions with the actuals' ids (most first)."""
    env, found = next(iter(elsewhere.items()))
    default = (
        " (log_actuals logs to 'production' unless told)" if environment == "production" else ""
    )
    return (
        f"none of the {rows:,} actuals joined a prediction in {environment!r}, but {found:,} "
        f"predictions in {env!r} have their ids: send them with environment={env!r}{default}. "
        f"These are kept in {environment!r}, where they join predictions logged later with "
        "the same ids."
    )


def did_you_mean(name: str, choices: Iterable[str], cutoff: float = 0.6) -> str:
    """Return ' Did you mean X?' when a close match exists, else ''."""
    choices = list(choices)
    close = [c for c in choices if c.lower() == name.lower() and c != name][:1]
    close = close or difflib.get_close_matches(name, choices, n=1, cutoff=cutoff)
    if not close:  # a prefix is a close match too: 'prod' -> 'production'
        close = [c for c in choices if name and c.lower().startswith(name.lower())][:1]
    return f" Did you mean {close[0]!r}?" if close else ""
