"""The Binning: one column's bin config and, once fitted, its frozen bins (see the package doc)."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np

from evalstore.errors import NotFittedError, ParameterError, did_you_mean

if TYPE_CHECKING:
    from evalstore.dataset import Dataset

__all__ = ["FORMAT", "KINDS", "STRATEGIES", "WINDOWS", "Binning", "Category"]

STRATEGIES = ("edges", "equal_width", "median_centered", "quantile")
#: column kinds a Binning handles (booleans and integers are categorical)
KINDS = ("categorical", "numeric")
#: time windows for ``histograms_by_window`` (weeks start on Monday)
WINDOWS = {"hour": "h", "day": "D", "week": "W", "month": "M"}
#: version of the ``to_dict`` format
FORMAT = 1
#: columns evalstore keeps for itself: never binned by default
_SYSTEM = frozenset(
    {"batch_id", "version", "environment", "prediction_id", "timestamp", "prediction_label"}
    | {"prediction_score", "actual_label", "actual_score"}
)

Category: TypeAlias = str | int | float | bool


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | np.integer)
        or not low <= value <= high
    ):
        raise ParameterError(name, f"an integer from {low} to {high}", value)
    return int(value)


@dataclass
class Binning:
    """How to bin one column; fitted on a reference with :meth:`fit` (or :func:`fit_binnings`).

    Config: ``strategy`` (numeric: ``quantile``, ``median_centered``, ``equal_width``,
    ``edges``), ``bins``, ``edges`` (for ``strategy="edges"``), ``top_k`` (categorical),
    ``sd_width`` (``median_centered``), ``approximate`` (sampled quantiles) and ``kind``
    (None: numeric for floating-point columns, categorical otherwise). See the module doc.

    Example::

        b = Binning(bins=5).fit(reference, "age")
        b.labels          # ['below', '[18, 29]', '(29, 41]', ..., 'above', 'missing']
        b.reference_counts_
    """

    strategy: str = "quantile"
    bins: int = 10
    edges: tuple[float, ...] | None = None
    top_k: int = 20
    sd_width: float = 1 / 3
    approximate: bool = False
    kind: str | None = None

    column_: str | None = field(default=None, init=False)
    kind_: str | None = field(default=None, init=False)
    edges_: tuple[float, ...] | None = field(default=None, init=False)
    categories_: tuple[Category, ...] | None = field(default=None, init=False)
    reference_counts_: tuple[int, ...] | None = field(default=None, init=False)
    n_reference_: int | None = field(default=None, init=False)
    min_: float | None = field(default=None, init=False)
    max_: float | None = field(default=None, init=False)
    mean_: float | None = field(default=None, init=False)
    std_: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ParameterError(
                "Binning.strategy",
                f"one of {list(STRATEGIES)}",
                self.strategy,
                did_you_mean(str(self.strategy), STRATEGIES).strip(),
            )
        self.bins = _check_int("Binning.bins", self.bins, 1, 100_000)
        self.top_k = _check_int("Binning.top_k", self.top_k, 1, 100_000)
        if self.strategy == "median_centered" and self.bins % 2:
            raise ParameterError("Binning.bins", "an even number for median_centered", self.bins)
        if self.kind is not None and self.kind not in KINDS:
            raise ParameterError("Binning.kind", f"None or one of {list(KINDS)}", self.kind)
        sd_width = self.sd_width
        if isinstance(sd_width, bool) or not isinstance(sd_width, int | float):
            raise ParameterError("Binning.sd_width", "a positive number", sd_width)
        if not (math.isfinite(sd_width) and sd_width > 0):
            raise ParameterError("Binning.sd_width", "a positive number", sd_width)
        self.sd_width = float(sd_width)
        self.approximate = bool(self.approximate)
        if self.strategy == "edges":
            self.edges = _check_edges(self.edges)
        elif self.edges is not None:
            raise ParameterError(
                "Binning.edges",
                "None unless strategy='edges'",
                self.edges,
                "Pass strategy='edges'.",
            )

    # -- fitting -----------------------------------------------------------------------------

    def fit(self, reference: Dataset, column: str) -> Binning:
        """Fit the bins of ``column`` on ``reference`` (a few engine queries); returns self."""
        from evalstore.analyses.binning._fit import fit_binnings  # it builds Binnings

        fitted = fit_binnings(reference, [column], self)[column]
        for name in _ARTIFACTS:
            setattr(self, name, getattr(fitted, name))
        return self

    @property
    def is_fitted(self) -> bool:
        return self.kind_ is not None

    def check_fitted(self) -> None:
        """Raise :class:`NotFittedError` unless :meth:`fit` has run."""
        if not self.is_fitted:
            raise NotFittedError(f"Binning(strategy={self.strategy!r})")

    # -- the bins ----------------------------------------------------------------------------

    @property
    def n_bins(self) -> int:
        """How many bins a histogram on these bins has, special ones included."""
        return len(self.bin_kinds)

    @property
    def n_value_bins(self) -> int:
        """Bins holding reference values: numeric intervals or categories."""
        self.check_fitted()
        if self.kind_ == "numeric":
            edges = self.edges_ or ()
            return max(len(edges) - 1, 1) if edges else 0
        return len(self.categories_ or ())

    @property
    def bin_kinds(self) -> list[str]:
        """Per bin: ``value``, ``below``, ``above``, ``other`` or ``missing``."""
        values = ["value"] * self.n_value_bins
        if self.kind_ == "numeric":
            return ["below", *values, "above", "missing"]
        return [*values, "other", "missing"]

    @property
    def labels(self) -> list[str]:
        """A short label per bin, for tables and charts."""
        self.check_fitted()
        if self.kind_ == "categorical":
            return [str(c) for c in self.categories_ or ()] + ["other", "missing"]
        edges = self.edges_ or ()
        inner = [
            f"{'[' if i == 0 else '('}{_fmt(lo)}, {_fmt(hi)}]"
            for i, (lo, hi) in enumerate(_intervals(edges))
        ]
        return ["below", *inner, "above", "missing"]

    def describe_bins(self) -> list[dict[str, Any]]:
        """Every bin as plain data: ``label``, ``kind`` and ``lower``/``upper`` or ``value``."""
        self.check_fitted()
        out: list[dict[str, Any]] = []
        kinds, labels = self.bin_kinds, self.labels
        if self.kind_ == "numeric":
            spans = [(None, None), *_intervals(self.edges_ or ()), (None, None), (None, None)]
            for kind, label, (lo, hi) in zip(kinds, labels, spans, strict=True):
                out.append({"label": label, "kind": kind, "lower": lo, "upper": hi})
        else:
            values: list[Category | None] = [*(self.categories_ or ()), None, None]
            for kind, label, value in zip(kinds, labels, values, strict=True):
                out.append({"label": label, "kind": kind, "value": value})
        return out

    # -- serialisation -----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: format, config, artifacts and fingerprint."""
        out = {"format": FORMAT, **self._body()}
        out["fingerprint"] = _digest(out)
        return out

    @property
    def fingerprint(self) -> str:
        """16 hex digits that change whenever the config or a fitted bin does."""
        return str(self.to_dict()["fingerprint"])

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Binning:
        """A Binning from ``to_dict()``'s output; a changed body fails the fingerprint check."""
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            got = data.get("format") if isinstance(data, Mapping) else data
            raise ParameterError("Binning data", f"a dict with format {FORMAT}", got)
        config = dict(data.get("config", {}))
        if config.get("edges") is not None:
            config["edges"] = tuple(config["edges"])
        try:
            out = cls(**config)
        except TypeError as exc:
            raise ParameterError("Binning data", "a config written by to_dict()", config) from exc
        fitted = data.get("fitted")
        if fitted is not None:
            for name in _ARTIFACTS:
                value = fitted.get(name.rstrip("_"))
                if name in ("edges_", "categories_", "reference_counts_") and value is not None:
                    value = tuple(value)
                elif name in ("min_", "max_", "mean_", "std_") and value is not None:
                    value = float(value)
                setattr(out, name, value)
        if "fingerprint" in data and out.fingerprint != data["fingerprint"]:
            raise ParameterError(
                "Binning data",
                f"unchanged since it was written (fingerprint {data['fingerprint']})",
                out.fingerprint,
                "Refit the binning rather than edit it.",
            )
        return out

    def _body(self) -> dict[str, Any]:
        config = {
            "strategy": self.strategy,
            "bins": self.bins,
            "edges": list(self.edges) if self.edges is not None else None,
            "top_k": self.top_k,
            "sd_width": self.sd_width,
            "approximate": self.approximate,
            "kind": self.kind,
        }
        fitted = None
        if self.is_fitted:
            fitted = {
                "column": self.column_,
                "kind": self.kind_,
                "edges": list(self.edges_) if self.edges_ is not None else None,
                "categories": list(self.categories_) if self.categories_ is not None else None,
                "reference_counts": list(self.reference_counts_ or ()),
                "n_reference": self.n_reference_,
                **{k: _json_float(getattr(self, f"{k}_")) for k in ("min", "max", "mean", "std")},
            }
        return {"config": config, "fitted": fitted}

    def __repr__(self) -> str:
        state = f"column={self.column_!r}, bins={self.n_bins}" if self.is_fitted else "unfitted"
        return f"Binning(strategy={self.strategy!r}, {state})"


_ARTIFACTS = (
    "column_",
    "kind_",
    "edges_",
    "categories_",
    "reference_counts_",
    "n_reference_",
    "min_",
    "max_",
    "mean_",
    "std_",
)


def _check_edges(edges: object) -> tuple[float, ...]:
    expected = "a non-empty list of finite, strictly increasing numbers"
    if edges is None or isinstance(edges, str) or not isinstance(edges, Iterable):
        raise ParameterError("Binning.edges", expected, edges)
    try:
        values = tuple(float(e) for e in edges)
    except (TypeError, ValueError):
        raise ParameterError("Binning.edges", expected, edges) from None
    if not values or not all(math.isfinite(v) for v in values):
        raise ParameterError("Binning.edges", expected, edges)
    if any(b <= a for a, b in itertools.pairwise(values)):
        raise ParameterError("Binning.edges", expected, edges, "Sort them and drop duplicates.")
    return values


def _intervals(edges: Sequence[float]) -> list[tuple[float, float]]:
    if len(edges) == 1:
        return [(edges[0], edges[0])]
    return list(itertools.pairwise(edges))


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _json_float(value: float | None) -> float | str | None:
    if value is None or math.isfinite(value):
        return value
    return str(value)  # 'inf', '-inf', 'nan': JSON has no literal for them


def _digest(data: Mapping[str, Any]) -> str:
    body = {k: v for k, v in data.items() if k != "fingerprint"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
