"""The compare page's analysis: any two selections of a model side by side.

A side is an environment, a version (None: all) and a time range. The comparison holds
both sides' rows and metrics (their default metrics, with intervals) and the drift from A
to B on the bins of the model's first fixed baseline (the bins every page uses), with A's
counts; on bins fitted on A when the model has no fixed baseline. When a stored fixed
baseline was fitted on exactly side A, its bins, performance and row count stand for A,
whose rows are then not read again.

A page's slice (``?slice=COLUMN:BIN``) filters both sides to the same bin of the same
column, on the bins every page slices on; the slice's column is then shown in the drift
but never counted as drifted (both sides hold only its one bin).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from evalstore.analyses.baseline import Baseline
from evalstore.analyses.binning import fit_binnings, histograms, recount
from evalstore.analyses.drift import DriftResult, drift_families
from evalstore.analyses.performance import PerformanceResult, performance
from evalstore.dataset import as_timestamp, beside
from evalstore.errors import ParameterError, did_you_mean
from evalstore.selection import span_text
from evalstore.ui.state import Facts, View, day_text
from evalstore.ui.views import Views, covers, uncounted

if TYPE_CHECKING:
    from evalstore.dataset import Dataset

__all__ = ["Comparison", "Side", "compare", "compare_sides"]


@dataclass(frozen=True)
class Side:
    """One side of a comparison: an environment, a version (None: all), a time range."""

    environment: str
    version: str | None
    start: datetime | None
    end: datetime | None

    @property
    def label(self) -> str:
        parts = [self.environment]
        if self.version:
            parts.append(self.version)
        if self.start or self.end:
            lo = day_text(self.start) if self.start else None
            hi = day_text(self.end) if self.end else None
            parts.append(span_text(lo, hi))
        return " ".join(parts)

    def params(self, prefix: str) -> dict[str, str]:
        out = {f"{prefix}_environment": self.environment}
        if self.version:
            out[f"{prefix}_version"] = self.version
        if self.start:
            out[f"{prefix}_start"] = day_text(self.start)
        if self.end:
            out[f"{prefix}_end"] = day_text(self.end)
        return out


@dataclass(frozen=True)
class Comparison:
    """Two datasets side by side: their rows, metrics, and the drift from A to B."""

    a: Side
    b: Side
    rows_a: int
    rows_b: int
    performance_a: PerformanceResult | None
    performance_b: PerformanceResult | None
    drift: DriftResult | None
    prediction_drift: DriftResult | None
    bins: str = "on bins fitted on A"
    """which bins the drift is measured on, and whose counts, in words"""
    slice: tuple[str, str] | None = None
    """the slice both sides are filtered to (column, bin), if any"""


def _side_of(facts: Facts, query: Mapping[str, str], prefix: str, default: Side) -> Side:
    def get(name: str) -> str | None:
        value = query.get(f"{prefix}_{name}")
        return value if value else None

    if not any(get(k) for k in ("environment", "version", "start", "end")):
        return default
    env = get("environment") or default.environment
    if env not in facts.environments:
        raise ParameterError(
            f"{prefix}_environment",
            f"an environment with rows: {', '.join(facts.environments)}",
            env,
            did_you_mean(env, facts.environments).strip(),
        )
    version = get("version")
    if version is not None and version not in facts.versions:
        raise ParameterError(f"{prefix}_version", f"one of {', '.join(facts.versions)}", version)
    start, end = get("start"), get("end")
    return Side(
        env,
        version,
        as_timestamp(start, f"{prefix}_start") if start else None,
        as_timestamp(end, f"{prefix}_end") if end else None,
    )


def _two_versions(a: Side, b: Side) -> bool:
    """Whether A and B are two versions over the same environment and hours."""
    same = (a.environment, a.start, a.end) == (b.environment, b.start, b.end)
    return same and bool(a.version and b.version and a.version != b.version)


def compare_sides(facts: Facts, view: View, query: Mapping[str, str]) -> tuple[Side, Side]:
    """The two sides a compare page's query asks for; by default the training rows (else
    the first environment's) against the page's current view."""
    envs = facts.environments
    default_b = Side(view.environment, view.version, view.start, view.end)
    ref_env = "training" if "training" in envs and view.environment != "training" else envs[0]
    default_a = Side(ref_env, None, None, None)
    return _side_of(facts, query, "a", default_a), _side_of(facts, query, "b", default_b)


def compare(views: Views, facts: Facts, a: Side, b: Side, view: View | None = None) -> Comparison:
    """A against B; ``view`` (the page's) brings its slice, which filters both sides."""
    model = views.store.model(facts.name)
    chosen = view.slice if view is not None else None
    where = views.slice_where(facts, view) if view is not None else None

    def dataset(side: Side) -> Dataset:
        return model.dataset(
            environment=side.environment,
            version=side.version,
            start=side.start,
            end=side.end,
            where=where,
        )

    def fixed() -> list[Baseline]:
        found = [views.baseline(facts, name) for name in facts.baseline_names]
        return [base for base in found if not base.is_moving]

    def stored(side: Side) -> Baseline | None:
        """A fixed baseline fitted on exactly this selection: its artifacts stand for A
        (never for a slice of it)."""
        if where is not None:
            return None
        for base in fixed():
            sel = base.selector
            if (
                sel.where is None
                and sel.environment == (side.environment,)
                and sel.version == ((side.version,) if side.version else None)
                and (sel.start, sel.end) == (side.start, side.end)
            ):
                return base
        return None

    def count(side: Side, ds: Dataset) -> int:
        """A side's rows: from the facts when its range holds all of them, else counted."""
        volume = facts.volume(side.environment, side.version)
        if where is None and covers(volume, side.start, side.end):
            return volume.rows
        return ds.count()

    def compute() -> Comparison:
        ds_a, ds_b = dataset(a), dataset(b)
        base = stored(a)
        names = facts.features + facts.predictions
        rows_a = base.n_rows_ if base is not None and base.n_rows_ else count(side=a, ds=ds_a)
        rows_b = count(side=b, ds=ds_b)
        for side, rows in ((a, rows_a), (b, rows_b)):
            if not rows and chosen is not None:
                column, label = chosen
                raise ParameterError(
                    "compare",
                    "two selections with rows in the slice",
                    f"no rows for {side.label} in the slice {column} = {label}",
                    f"{side.label} holds no {column} in {label} (a bin the current data "
                    "reached and it did not): compare without the slice, or pick another "
                    "side.",
                )
            if not rows:
                raise ParameterError(
                    "compare", "two selections with rows", f"no rows for {side.label}"
                )
        # the sides' performance runs beside the drift below (their queries are independent)
        positive = views.positive_class(facts) if facts.has_actuals else None
        later_b = None
        if facts.has_actuals:
            later_b = beside(ds_b, lambda: performance(ds_b, positive_class=positive))
        later_a = None
        if facts.has_actuals and (base is None or base.performance_ is None):
            later_a = beside(ds_a, lambda: performance(ds_a, positive_class=positive))
        shared = [b for b in fixed() if all(n in b.binnings_ for n in names)]
        if base is not None and all(n in base.binnings_ for n in names):
            bins = base.binnings_
            said = f"on the bins of the baseline {base.label}, which is A"
        elif shared:  # the bins every page uses, with A's counts (profiles: no scan of A)
            same = {n: shared[0].binnings_[n] for n in names}
            if where is None and _two_versions(a, b) and ds_a._store.profiles is not None:
                # two versions over the same hours: the hours the profiles lack, of both,
                # in one scan (v1 and v2 on a day after its batch: 0.15 s rather than 0.23 s
                # on the 10M-row UI benchmark store); A and B then count from the profiles
                # (a store that keeps none would only scan both sides twice)
                versions = [str(a.version), str(b.version)]  # both set (_two_versions)
                both = model.dataset(a.environment, versions, a.start, a.end)
                histograms(both, same)
            bins = recount(ds_a, same)
            said = f"on the bins of the baseline {shared[0].label}, with A's counts"
        else:
            bins = fit_binnings(ds_a, names)
            said = (
                "on bins fitted on A: the model has no fixed baseline"
                if not fixed()
                else "on bins fitted on A: no fixed baseline has bins for all these columns"
            )
        # both families from one scan of B (each keeps its own false discovery rate)
        families = [f for f in (facts.features, facts.predictions) if f]
        results = iter(drift_families(ds_a, ds_b, families, binnings=bins)[0] if families else [])
        found = next(results) if facts.features else None
        preds = next(results) if facts.predictions else None
        if chosen is not None:
            found = uncounted(found, chosen[0])
        perf_b = later_b() if later_b is not None else None
        perf_a = later_a() if later_a is not None else None
        if (
            perf_a is None
            and base is not None
            and base.performance_ is not None
            and perf_b is not None
        ):
            perf_a = PerformanceResult.from_dict(base.performance_)
            if perf_a.metrics != perf_b.metrics or perf_a.positive_class != perf_b.positive_class:
                perf_a = None
        if perf_a is None and facts.has_actuals:
            perf_a = performance(ds_a, positive_class=positive)
        return Comparison(a, b, rows_a, rows_b, perf_a, perf_b, found, preds, said, chosen)

    return views.cache.get((facts.name, facts.generation, "compare", a, b, chosen), compute)
