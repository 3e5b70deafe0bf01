"""drift() and drift_over_time(): frozen bins on the reference, one scan of the current."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import ibis
import numpy as np

from evalstore.analyses.binning import (
    Binning,
    collect,
    column_kinds,
    feature_columns,
    fit_binnings,
)
from evalstore.analyses.drift._fdr import benjamini_hochberg
from evalstore.analyses.drift._registry import (
    DEFAULT_METHODS,
    DriftInput,
    DriftMethod,
    DriftValue,
    available_drift_methods,
    get_drift_method,
)
from evalstore.analyses.drift.result import ColumnDrift, DriftOverTime, DriftResult, DriftWindow
from evalstore.dataset import query_table
from evalstore.errors import ParameterError, did_you_mean
from evalstore.store._fold import ACTUALS

if TYPE_CHECKING:
    from evalstore.dataset import Dataset

__all__ = ["drift", "drift_families", "drift_over_time"]

MethodArg = str | DriftMethod | Mapping[str, str | DriftMethod] | None
ThresholdArg = float | Mapping[str, float] | None
_FINE = "\x1ffine"  # suffix of the fine binnings' names: no column name holds it


def _method(value: str | DriftMethod) -> DriftMethod:
    return value if isinstance(value, DriftMethod) else get_drift_method(value)


def _number(name: str, value: object, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low < value < high:
        raise ParameterError(name, f"a number between {low:g} and {high:g} (exclusive)", value)
    return float(value)


@dataclass
class _Plan:
    """Everything fixed before the current data are read: columns, methods, frozen bins."""

    names: list[str]
    kinds: dict[str, str]
    methods: dict[str, DriftMethod]
    thresholds: dict[str, float]
    weights: dict[str, float] | None
    standard: dict[str, Binning]
    fine: dict[str, Binning]
    alpha: float

    @classmethod
    def build(
        cls,
        reference: Dataset,
        current: Dataset,
        columns: Sequence[str] | None,
        method: MethodArg,
        alpha: float,
        importance: Mapping[str, float] | None,
        threshold: ThresholdArg,
        binnings: Mapping[str, Binning] | None,
        fine_bins: int,
    ) -> _Plan:
        alpha = _number("alpha", alpha, 0.0, 1.0)
        if isinstance(fine_bins, bool) or not isinstance(fine_bins, int) or fine_bins < 10:
            raise ParameterError("fine_bins", "an integer of at least 10", fine_bins)
        given = dict(binnings or {})
        if columns is None:
            names = list(given) if given else feature_columns(reference)
        else:
            names = [columns] if isinstance(columns, str) else list(columns)
        if len(set(names)) != len(names):
            raise ParameterError("columns", "distinct column names", names)
        kinds = column_kinds(current, names)
        if not given or set(names) - set(given):
            for name, kind in column_kinds(reference, names).items():
                if kind != kinds[name]:
                    raise ParameterError(
                        f"columns[{name!r}]",
                        "a column of the same kind in both datasets",
                        f"{kind} in the reference, {kinds[name]} in the current",
                    )
        methods = _resolve_methods(method, names, kinds)
        thresholds = _resolve_thresholds(threshold, names, methods)
        weights = _resolve_weights(importance, names)

        standard: dict[str, Binning] = {}
        for name, b in given.items():
            if name in names:
                if not isinstance(b, Binning) or not b.is_fitted:
                    raise ParameterError(f"binnings[{name!r}]", "a fitted Binning", b)
                if b.kind_ != kinds[name] and b.kind_ == "numeric":
                    raise ParameterError(f"binnings[{name!r}]", "a categorical binning", b)
                standard[name] = b
        todo = [n for n in names if n not in standard]
        if todo:
            standard.update(fit_binnings(reference, todo))
        fine_names = [n for n in names if methods[n].bins == "fine"]
        fine: dict[str, Binning] = {}
        if fine_names:
            config = Binning(bins=fine_bins, approximate=True, kind="numeric")
            fine = fit_binnings(reference, fine_names, config)
        return cls(names, kinds, methods, thresholds, weights, standard, fine, alpha)

    @property
    def n_reference(self) -> int:
        return max((b.n_reference_ or 0 for b in self.standard.values()), default=0)

    def subset(self, names: Sequence[str]) -> _Plan:
        """The plan of some of these columns, as :meth:`build` would make it for them alone
        (without importance weights): each column's kind, method, threshold and bins are its
        own; the Benjamini-Hochberg adjustment runs across ``names`` only."""
        keep = list(names)
        return _Plan(
            keep,
            {n: self.kinds[n] for n in keep},
            {n: self.methods[n] for n in keep},
            {n: self.thresholds[n] for n in keep},
            None,
            {n: self.standard[n] for n in keep},
            {n: b for n, b in self.fine.items() if n in keep},
            self.alpha,
        )

    def binnings(self) -> dict[str, Binning]:
        return {**self.standard, **{name + _FINE: b for name, b in self.fine.items()}}

    def extra(self, current: Dataset) -> dict[str, Any]:
        """Per fine column, the current's summed distances below and above the reference
        range (see DriftInput), from the same scan as the histograms."""
        t = query_table(current)
        out: dict[str, Any] = {}
        for i, (name, b) in enumerate(self.fine.items()):
            edges = b.edges_ or ()
            if not edges:
                continue
            x = t[name]
            clean = ibis.ifelse(x.isnan(), ibis.null("float64"), x)  # NaN > everything
            low, high = edges[0], edges[-1]
            out[f"below{i}"] = ibis.ifelse(clean < low, low - clean, 0.0).sum()
            out[f"above{i}"] = ibis.ifelse(clean > high, clean - high, 0.0).sum()
        return out

    def over_time(
        self, found: Mapping[Any, tuple[dict[str, np.ndarray], Any]]
    ) -> list[DriftWindow]:
        """The drift of each window ``collect(by=...)`` found: the methods that can, for all
        windows at once per column (``DriftMethod.compute_rows``)."""
        found = {k: v for k, v in found.items() if isinstance(k, datetime) and v[0]}
        known: dict[str, list[DriftValue]] = {}
        for name in self.names:
            method = self.methods[name]
            if method.compute_rows is not None and found:
                ref = np.asarray(self.standard[name].reference_counts_, dtype=np.int64)
                cur = np.vstack([counts[name] for counts, _ in found.values()])
                known[name] = method.compute_rows(ref, cur)
        return [
            DriftWindow(
                start,
                self.evaluate(counts, extra, False, {k: v[i] for k, v in known.items()}),
            )
            for i, (start, (counts, extra)) in enumerate(found.items())
        ]

    def evaluate(
        self,
        counts: Mapping[str, np.ndarray],
        extra: Mapping[str, Any],
        with_bins: bool,
        known: Mapping[str, DriftValue] | None = None,
    ) -> DriftResult:
        """The drift of one current histogram per column; ``known``: values already
        computed for some columns."""
        fine_index = {name: i for i, name in enumerate(self.fine)}
        known = known or {}
        rows: list[dict[str, Any]] = []
        for name in self.names:
            method, b = self.methods[name], self.standard[name]
            ref = _arrived(name, b, np.asarray(b.reference_counts_, dtype=np.int64))
            cur = _arrived(name, b, counts[name])
            value = known.get(name)
            if value is None:
                data = DriftInput(b, ref, cur)
                if method.bins == "fine":
                    fb, i = self.fine[name], fine_index[name]
                    data = DriftInput(
                        fb,
                        _arrived(name, fb, np.asarray(fb.reference_counts_, dtype=np.int64)),
                        _arrived(name, fb, counts[name + _FINE]),
                        float(extra.get(f"below{i}") or 0.0),
                        float(extra.get(f"above{i}") or 0.0),
                    )
                value = method.compute(data)
            rows.append(
                {
                    "column": name,
                    "kind": self.kinds[name],
                    "method": method.key,
                    "value": float(value.value),
                    "threshold": self.thresholds[name],
                    "p_value": float(value.p_value),
                    "n_reference": int(ref.sum()),
                    "n_current": int(cur.sum()),
                    "weight": self.weights[name] if self.weights else 1.0,
                    "details": {k: float(v) for k, v in value.details.items()},
                    "bins": _bins(b, ref, cur) if with_bins else [],
                }
            )
        p_values = [r["p_value"] for r in rows]
        weights = [r["weight"] for r in rows] if self.weights else None
        adjusted = benjamini_hochberg(p_values, weights) if rows else np.array([])
        columns = []
        for row, p_adj in zip(rows, adjusted, strict=True):
            method = self.methods[row["column"]]
            effect = method.exceeds(row["value"], row["threshold"])
            drifted = bool(effect and not math.isnan(p_adj) and p_adj < self.alpha)
            columns.append(ColumnDrift(p_adjusted=float(p_adj), drifted=drifted, **row))
        columns.sort(key=lambda c: (not c.drifted, -self._score(c)))
        n_current = max((c.n_current for c in columns), default=0)
        correction = "weighted_benjamini_hochberg" if self.weights else "benjamini_hochberg"
        return DriftResult(columns, self.alpha, correction, self.n_reference, n_current)

    def _score(self, c: ColumnDrift) -> float:
        """How far past its threshold a column is, times its weight; NaN ranks last."""
        if math.isnan(c.value):
            return -math.inf
        method = self.methods[c.column]
        if method.higher_is_drift:
            ratio = c.value / c.threshold if c.threshold else c.value
        else:
            ratio = c.threshold / c.value if c.value else math.inf
        return ratio * c.weight


def _arrived(name: str, b: Binning, counts: np.ndarray) -> np.ndarray:
    """An actual column's counts without its ``missing`` bin: there, a row without an
    actual is one whose actual has not arrived yet, not a missing value (data quality
    counts those), so the drift compares the actuals that arrived on both sides. Other
    columns' counts as they are."""
    if name not in ACTUALS:
        return counts
    missing = [i for i, kind in enumerate(b.bin_kinds) if kind == "missing"]
    if not missing or not counts[missing].any():
        return counts
    out = np.array(counts, dtype=np.int64)
    out[missing] = 0
    return out


def _bins(b: Binning, ref: np.ndarray, cur: np.ndarray) -> list[dict[str, Any]]:
    n_ref, n_cur = max(int(ref.sum()), 1), max(int(cur.sum()), 1)
    out = []
    for info, r, c in zip(b.describe_bins(), ref, cur, strict=True):
        out.append(
            {
                **info,
                "reference": int(r) / n_ref,
                "current": int(c) / n_cur,
                "reference_count": int(r),
                "current_count": int(c),
            }
        )
    return out


def _resolve_methods(
    method: MethodArg, names: list[str], kinds: Mapping[str, str]
) -> dict[str, DriftMethod]:
    per_column: Mapping[str, str | DriftMethod] = {}
    common: DriftMethod | None = None
    if isinstance(method, Mapping):
        per_column = method
        unknown = sorted(set(per_column) - set(names))
        if unknown:
            raise ParameterError("method", f"a mapping over the columns {names}", unknown)
    elif method is not None:
        if not isinstance(method, str | DriftMethod):
            raise ParameterError("method", "a method key, a DriftMethod or a mapping", method)
        common = _method(method)
    out = {}
    for name in names:
        kind = kinds[name]
        chosen = per_column.get(name)
        if chosen is not None:
            m = _method(chosen)
        elif common is not None and kind in common.kinds:
            m = common
        else:  # one method for all: the columns it cannot handle keep their default
            m = get_drift_method(DEFAULT_METHODS[kind])
        if kind not in m.kinds:
            keys = sorted(x.key for x in available_drift_methods(kind))
            raise ParameterError(
                f"method[{name!r}]", f"a method for {kind} columns: one of {keys}", m.key
            )
        out[name] = m
    if common is not None and not any(m is common for m in out.values()):
        raise ParameterError(
            "method",
            f"a method for the kinds of these columns ({sorted(set(kinds.values()))})",
            common.key,
        )
    return out


def _resolve_thresholds(
    threshold: ThresholdArg, names: list[str], methods: Mapping[str, DriftMethod]
) -> dict[str, float]:
    """The effect size at which each column drifts: the method's, or the one given. A given
    one is finite and 0 or more (0: a significant change drifts, whatever its size): effect
    sizes are, and a column ranks by its value over its threshold, so -1 would flag every
    significant column and turn the ranking over."""
    out = {name: methods[name].threshold for name in names}
    if threshold is None:
        return out
    if isinstance(threshold, Mapping):
        for name in threshold:
            _check_column("threshold", name, names)
        items = {name: _threshold(f"threshold[{name!r}]", v) for name, v in threshold.items()}
    else:
        if _as_float(threshold) is None:
            raise ParameterError(
                "threshold",
                f"None, {_THRESHOLD}, or a mapping column -> such a number",
                threshold,
            )
        items = dict.fromkeys(names, _threshold("threshold", threshold))
    out.update(items)
    return out


def _as_float(value: object) -> float | None:
    """``value`` as a float if it is a number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return None
    return float(value)


_THRESHOLD = "a finite number, 0 or more (0: a significant change drifts, whatever its size)"


def _threshold(name: str, value: object) -> float:
    number = _as_float(value)
    if number is None or not math.isfinite(number) or number < 0:
        raise ParameterError(name, _THRESHOLD, value)
    return number


def _check_column(param: str, name: object, names: list[str]) -> None:
    """A key of a per-column mapping must be one of the columns compared: a typo would
    otherwise be ignored without a word."""
    if name not in names:
        raise ParameterError(
            param,
            "a mapping whose keys are columns compared",
            name,
            f"{did_you_mean(str(name), names).strip()} The columns compared: "
            f"{', '.join(names)}.".lstrip(),
        )


def _resolve_weights(
    importance: Mapping[str, float] | None, names: list[str]
) -> dict[str, float] | None:
    """Importance -> BH weights of mean 1; a column without importance gets the mean."""
    if importance is None:
        return None
    if not isinstance(importance, Mapping):
        raise ParameterError("importance", "a mapping of column -> non-negative number", importance)
    given: dict[str, float] = {}
    for name, value in importance.items():
        _check_column("importance", name, names)  # a typo is not ignored
        number = _as_float(value)
        if number is None or not math.isfinite(number) or number < 0:
            raise ParameterError(f"importance[{name!r}]", "a finite, non-negative number", value)
        given[name] = number
    if not given or sum(given.values()) <= 0:
        raise ParameterError(
            "importance",
            "a mapping with a positive importance for at least one column",
            dict(importance),
        )
    fill = sum(given.values()) / len(given)
    raw = {name: given.get(name, fill) for name in names}
    mean = sum(raw.values()) / len(raw)
    return {name: value / mean for name, value in raw.items()}


def drift(
    reference: Dataset,
    current: Dataset,
    columns: Sequence[str] | None = None,
    method: MethodArg = None,
    alpha: float = 0.05,
    importance: Mapping[str, float] | None = None,
    *,
    threshold: ThresholdArg = None,
    binnings: Mapping[str, Binning] | None = None,
    fine_bins: int = 1000,
) -> DriftResult:
    """Drift of every column between ``reference`` and ``current``.

    - ``columns``: default every feature and tag (:func:`~evalstore.analyses.binning.
      feature_columns`), or the columns of ``binnings``. Name ``prediction_score``,
      ``prediction_label`` or ``actual_label`` to include predictions and actuals.
    - ``method``: a key (see ``available_drift_methods()``) or a DriftMethod, for every
      column of a kind it handles (the others keep their default: ``method="ks"`` tests the
      numeric columns with KS and the categorical ones with PSI), or a mapping column ->
      key; default ``DEFAULT_METHODS`` (PSI for numeric and categorical).
    - ``alpha``: the false discovery rate held across columns (Benjamini-Hochberg).
    - ``importance``: column -> feature importance; weights the BH procedure (mean 1;
      columns left out get the mean importance) and the ranking.
    - ``threshold``: effect size at which a column drifts (one number, or per column), finite
      and 0 or more (0: a significant change drifts, whatever its size); default each
      method's own.
    - ``binnings``: fitted standard bins (a baseline's): their reference counts are used and
      those columns of ``reference`` are not read again.
    - ``fine_bins``: resolution of the reference-quantile bins of ``ks``/``wasserstein``.

    Engine work: fitting the bins (about 3 queries, once), then one scan of ``current``
    (two with ``ks``/``wasserstein`` on DuckDB). Example::

        result = drift(model.dataset(environment="training"),
                       model.dataset(environment="production"))
        result.drifted_columns, result["age"].value
    """
    plan = _Plan.build(
        reference, current, columns, method, alpha, importance, threshold, binnings, fine_bins
    )
    counts, extra = collect(current, plan.binnings(), plan.extra(current)).get(None, ({}, {}))
    if not counts:  # no column at all
        return DriftResult([], plan.alpha, "benjamini_hochberg", plan.n_reference, 0)
    return plan.evaluate(counts, extra, with_bins=True)


def drift_over_time(
    reference: Dataset,
    current: Dataset,
    by: str = "day",
    columns: Sequence[str] | None = None,
    method: MethodArg = None,
    alpha: float = 0.05,
    importance: Mapping[str, float] | None = None,
    *,
    threshold: ThresholdArg = None,
    binnings: Mapping[str, Binning] | None = None,
    fine_bins: int = 1000,
) -> DriftOverTime:
    """:func:`drift` of each time window of ``current`` (``by``: ``hour``, ``day``, ``week``
    starting Monday, ``month``; UTC) against ``reference``.

    The bins are fitted once; all windows' histograms come from one grouped scan of
    ``current`` (window x per-bin aggregates). BH runs within each window, across columns.
    Windows without rows are absent. ``bins`` are left out of the per-window results.
    """
    plan = _Plan.build(
        reference, current, columns, method, alpha, importance, threshold, binnings, fine_bins
    )
    found = collect(current, plan.binnings(), plan.extra(current), by=by)
    return DriftOverTime(by, plan.over_time(found))


def drift_families(
    reference: Dataset,
    current: Dataset,
    families: Sequence[Sequence[str]],
    by: str | None = None,
    method: MethodArg = None,
    alpha: float = 0.05,
    *,
    threshold: ThresholdArg = None,
    binnings: Mapping[str, Binning] | None = None,
    fine_bins: int = 1000,
) -> tuple[list[DriftResult], DriftOverTime | None]:
    """:func:`drift` of each family of columns (each with its own false discovery rate) and,
    with ``by``, :func:`drift_over_time` of all their columns together: the same results as
    those separate calls, from one scan of ``current`` instead of one per call.

    Why: a page that shows feature drift, prediction drift and their sparklines read the
    current rows three times. The histograms are counts, so the whole range's are the sum
    of its windows' (the ``ks``/``wasserstein`` range sums, floats, may differ from one
    ungrouped sum in the last bits). Example::

        (features, predictions), daily = drift_families(
            reference, current, [["age", "region"], ["prediction_score"]], by="day")
    """
    groups = [[family] if isinstance(family, str) else list(family) for family in families]
    if not groups or not all(groups):
        raise ParameterError("families", "one or more non-empty lists of columns", families)
    names = [name for group in groups for name in group]
    plan = _Plan.build(
        reference, current, names, method, alpha, None, threshold, binnings, fine_bins
    )
    found = collect(current, plan.binnings(), plan.extra(current), by=by)
    over_time = None
    if by is not None:
        over_time = DriftOverTime(by, plan.over_time(found))
        if not found:  # no current rows: the ungrouped scan still gives the empty histograms
            found = collect(current, plan.binnings(), plan.extra(current))
    totals: dict[str, np.ndarray] = {}
    sums: dict[str, float] = {}
    for counts, extra in found.values():
        for name, c in counts.items():
            totals[name] = totals[name] + c if name in totals else c.copy()
        for key, value in extra.items():
            sums[key] = sums.get(key, 0.0) + float(value or 0.0)
    fine_index = {name: i for i, name in enumerate(plan.fine)}
    results = []
    for group in groups:
        part = plan.subset(group)
        if not totals:
            results.append(DriftResult([], part.alpha, "benjamini_hochberg", part.n_reference, 0))
            continue
        extra = {}
        for j, name in enumerate(part.fine):
            for side in ("below", "above"):
                extra[f"{side}{j}"] = sums.get(f"{side}{fine_index[name]}", 0.0)
        results.append(part.evaluate(totals, extra, with_bins=True))
    return results, over_time
