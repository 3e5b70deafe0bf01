"""The registry of drift methods: each describes itself, built-ins register like a user's would."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from evalstore._registry import Registry
from evalstore.analyses.binning import KINDS, Binning
from evalstore.analyses.drift._stats import chi2_homogeneity, chi2_homogeneity_rows
from evalstore.errors import ParameterError

__all__ = [
    "DEFAULT_METHODS",
    "DriftInput",
    "DriftMethod",
    "DriftValue",
    "available_drift_methods",
    "chi2_tested",
    "chi2_tested_rows",
    "get_drift_method",
    "register_drift_method",
    "unregister_drift_method",
]

#: the method used for a column kind when ``drift(method=None)``
DEFAULT_METHODS: Mapping[str, str] = {"numeric": "psi", "categorical": "psi"}

_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
#: bin resolutions a method can ask for
BINS = ("fine", "standard")


@dataclass(frozen=True)
class DriftInput:
    """What a drift method sees for one column: frozen bins and counts on them.

    ``reference``/``current``: int64 counts in the order of ``binning.labels`` (special
    bins included). For ``bins="fine"`` methods, ``below_distance`` and ``above_distance``
    are the sums over the current's values outside the reference range of their distance
    to it (``sum(e0 - x)`` for x < e0, ``sum(x - e_last)`` for x > e_last), for methods
    that integrate over the line.
    """

    binning: Binning
    reference: np.ndarray
    current: np.ndarray
    below_distance: float = 0.0
    above_distance: float = 0.0


@dataclass(frozen=True)
class DriftValue:
    """A method's answer: the effect size, its p-value at the actual sample sizes, details."""

    value: float
    p_value: float
    details: Mapping[str, float] = field(default_factory=dict)


DriftFunction = Callable[[DriftInput], DriftValue]
#: (reference counts, current counts as windows x bins) -> one DriftValue per window
DriftRowsFunction = Callable[[np.ndarray, np.ndarray], list[DriftValue]]


@dataclass(frozen=True, init=False)
class DriftMethod:
    """A drift method that describes itself.

    - ``key``: what users pass (``drift(..., method="psi")``); ``name``: display name.
    - ``kinds``: the column kinds it handles (``numeric``, ``categorical``).
    - ``threshold``: the default effect size at which a column counts as drifted.
    - ``higher_is_drift``: direction of ``value`` (True: drifted when value >= threshold).
    - ``bins``: ``standard`` (the column's frozen bins: deciles, top-k categories) or
      ``fine`` (about 1000 reference-quantile bins, for ECDF-based methods).
    - ``compute``: ``DriftInput -> DriftValue``.
    - ``compute_rows`` (optional, ``standard`` bins only): the same for many current
      histograms at once, ``(reference, windows x bins) -> [DriftValue per window]``; drift
      over time uses it, and it must equal ``compute`` on each row.
    - ``significance``: how its p-value is obtained; ``description``: what it measures.
    """

    key: str
    name: str
    kinds: frozenset[str]
    threshold: float
    higher_is_drift: bool
    compute: DriftFunction
    compute_rows: DriftRowsFunction | None
    bins: str
    description: str
    significance: str
    extra: Mapping[str, Any]

    def __init__(
        self,
        key: str,
        name: str,
        kinds: Iterable[str],
        threshold: float,
        compute: DriftFunction,
        *,
        higher_is_drift: bool = True,
        bins: str = "standard",
        description: str = "",
        significance: str = "",
        extra: Mapping[str, Any] | None = None,
        compute_rows: DriftRowsFunction | None = None,
    ) -> None:
        if not isinstance(key, str) or not _KEY.match(key):
            raise ParameterError(
                "DriftMethod.key",
                "1-64 lower-case letters, digits or '_', starting with a letter",
                key,
            )
        wanted = frozenset([kinds] if isinstance(kinds, str) else kinds)
        if not wanted or not wanted <= set(KINDS):
            raise ParameterError("DriftMethod.kinds", f"a non-empty subset of {list(KINDS)}", kinds)
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            raise ParameterError("DriftMethod.threshold", "a finite number", threshold)
        if not math.isfinite(threshold):
            raise ParameterError("DriftMethod.threshold", "a finite number", threshold)
        if not callable(compute):
            raise ParameterError(
                "DriftMethod.compute", "a function DriftInput -> DriftValue", compute
            )
        if compute_rows is not None and (not callable(compute_rows) or bins != "standard"):
            raise ParameterError(
                "DriftMethod.compute_rows",
                "None, or a function (reference, windows x bins) -> [DriftValue] for a "
                "method on the standard bins",
                compute_rows,
            )
        if bins not in BINS:
            raise ParameterError("DriftMethod.bins", f"one of {list(BINS)}", bins)
        if higher_is_drift not in (True, False):
            raise ParameterError("DriftMethod.higher_is_drift", "True or False", higher_is_drift)
        set_ = object.__setattr__
        set_(self, "key", key)
        set_(self, "name", str(name))
        set_(self, "kinds", wanted)
        set_(self, "threshold", float(threshold))
        set_(self, "higher_is_drift", bool(higher_is_drift))
        set_(self, "compute", compute)
        set_(self, "compute_rows", compute_rows)
        set_(self, "bins", bins)
        set_(self, "description", description)
        set_(self, "significance", significance)
        set_(self, "extra", dict(extra or {}))

    def describe(self) -> dict[str, Any]:
        """The method's description as plain data (for docs, the CLI and the API)."""
        return {
            "key": self.key,
            "name": self.name,
            "kinds": sorted(self.kinds),
            "threshold": self.threshold,
            "higher_is_drift": self.higher_is_drift,
            "bins": self.bins,
            "default_for": sorted(k for k, v in DEFAULT_METHODS.items() if v == self.key),
            "description": self.description,
            "significance": self.significance,
            **self.extra,
        }

    def exceeds(self, value: float, threshold: float) -> bool:
        """Whether ``value`` is past ``threshold`` in this method's direction (NaN: no)."""
        if math.isnan(value):
            return False
        return value >= threshold if self.higher_is_drift else value <= threshold


_REGISTRY: Registry[DriftMethod] = Registry(DriftMethod, "drift method", "method")


def register_drift_method(method: DriftMethod, *, replace: bool = False) -> DriftMethod:
    """Add a drift method to the registry (the built-ins use this too); returns it.

    A key already taken is refused unless ``replace=True``.
    """
    return _REGISTRY.register(method, replace=replace)


def unregister_drift_method(key: str) -> DriftMethod:
    """Remove a drift method from the registry and return it."""
    return _REGISTRY.unregister(key)


def get_drift_method(key: str) -> DriftMethod:
    """The registered method ``key``; an unknown key lists every registered one."""
    return _REGISTRY.get(key)


def available_drift_methods(kind: str | None = None) -> list[DriftMethod]:
    """Every registered method (handling ``kind``, if given), in registration order."""
    if kind is not None and kind not in KINDS:
        raise ParameterError("kind", f"None or one of {list(KINDS)}", kind)
    return [m for m in _REGISTRY.entries() if kind is None or kind in m.kinds]


def chi2_tested(
    effect: Callable[[np.ndarray, np.ndarray], float],
) -> Callable[[DriftInput], DriftValue]:
    """A method's compute: ``effect`` of the two histograms, significance from Pearson's
    chi-square test of homogeneity on the same bins (shared by PSI, KL, JS, Hellinger)."""

    def compute(data: DriftInput) -> DriftValue:
        statistic, dof, p_value = chi2_homogeneity(data.reference, data.current)
        value = effect(data.reference, data.current)
        return DriftValue(value, p_value, {"chi2": statistic, "dof": dof})

    return compute


def chi2_tested_rows(
    effect_rows: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> DriftRowsFunction:
    """:func:`chi2_tested` for many current histograms at once: ``effect_rows`` gives the
    effect of the reference against each row of the current counts."""

    def compute_rows(reference: np.ndarray, current: np.ndarray) -> list[DriftValue]:
        statistics, dofs, p_values = chi2_homogeneity_rows(reference, current)
        values = effect_rows(reference, current)
        return [
            DriftValue(float(v), float(p), {"chi2": float(c), "dof": int(d)})
            for v, c, d, p in zip(values, statistics, dofs, p_values, strict=True)
        ]

    return compute_rows
