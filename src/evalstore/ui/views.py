"""What the pages compute: the analyses each page runs on a view (:mod:`.state`), each
through the cache (:mod:`.cache`), shared between the pages that show the same thing.

A page never runs a full report. Per view (model, environment, version, time range,
window, metric, reference, slice):

- **facts** (every page): versions, rows and time range per (environment, version), one
  GROUP BY over the inferences, baselines; a view's row count comes from them when the
  view is unsliced and its range holds all of its rows;
- **overview**: the metric per window (one grouped aggregate, which also gives the volume
  with and without actuals) and overall (one aggregate); the reference's value comes from
  the stored baseline;
- **drift**: one scan of the current window, grouped by window, on the reference's frozen
  bins for the features, predictions and actuals: it gives the sparklines and a column's
  drift over time, and, summed, the drift of the whole range (features and predictions,
  each with its false discovery rate). The health summary reads the same entry;
- **slices**: the metric per bin of every feature (one query per metric family);
- **quality**: one scan grouped by window against the reference's expectations.

The reference is a stored baseline (its bins, expectations and performance are read from
the metadata: the reference rows are never scanned again) or an environment, fitted once
per generation and kept in the cache.

A binary model counts as positive the positive class of its latest baseline that stores one
(``create_baseline(..., positive_class="yes")``), else ``True`` / ``1`` for boolean / integer
labels; with text labels and no such baseline, the pages that measure performance say how
to create one. The current window defaults to the whole selection
when it holds at most ``FULL_RANGE_ROWS`` rows, else to its last ``RECENT_DAYS`` days.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from evalstore import _gc
from evalstore.analyses._drops import alerts, worse_p
from evalstore.analyses._merged import keeping
from evalstore.analyses.baseline import Baseline, fit_baseline, prediction_columns
from evalstore.analyses.binning import Binning, feature_columns, fit_binnings, recount
from evalstore.analyses.binning._profiled import whole_range
from evalstore.analyses.drift import DriftOverTime, DriftResult, drift_families
from evalstore.analyses.metrics import get_metric
from evalstore.analyses.metrics._inputs import require_positive_class
from evalstore.analyses.performance import PerformanceResult, performance
from evalstore.analyses.quality import Expectations, QualityResult, quality
from evalstore.analyses.slices import SCORE_BINS, Slice, SliceResult, slice_predicate, slices
from evalstore.schema import Task
from evalstore.ui.cache import ResultCache
from evalstore.ui.state import (
    FULL_RANGE_ROWS,
    RECENT_DAYS,
    WINDOWS,
    Facts,
    View,
    Volume,
    day_text,
    resolve,
)

if TYPE_CHECKING:
    from evalstore.dataset import Dataset
    from evalstore.sdk import Model, Store

# Facts, View and Volume moved to .state; importing them from here keeps working
__all__ = [
    "FULL_RANGE_ROWS",
    "RECENT_DAYS",
    "Facts",
    "Health",
    "Reference",
    "View",
    "Views",
    "Volume",
]

#: the fewest rows a slice needs to be listed among the worst
MIN_SUPPORT = 30
#: the worst slices whose reference rows the warmer counts (the slices page lists 15)
WARM_SLICES = 5
#: the days of slices the warmer keeps: the last four weeks (of the 10M-row UI benchmark
#: store, with the accuracy's: ~24 MiB, and 10-15 s more of warming)
SLICE_DAYS = 28

#: views computed side by side for one page (:meth:`Views.ahead`)
PARALLEL = 2


@dataclass(frozen=True)
class Reference:
    """What the current data are compared with: a fitted baseline and its rows."""

    name: str
    label: str
    baseline: Baseline
    dataset: Dataset
    counted: Mapping[str, Binning] | None = None
    """the baseline's bins counted on ``dataset`` when it is a slice of the baseline's rows"""

    @property
    def binnings(self) -> dict[str, Binning]:
        return dict(self.counted) if self.counted is not None else self.baseline.binnings_


@dataclass(frozen=True)
class Health:
    """A model's headline numbers for its default view (the models page)."""

    view: View
    metric_value: float | None
    reference_value: float | None
    worse: bool | None
    rows: int
    without_actual: int
    drifted: list[str]
    n_features: int
    errors: int
    warnings: int


class Views:
    """The analyses of the pages, each cached per (model, generation, view)."""

    def __init__(
        self,
        store: Store,
        cache: ResultCache,
        on_new_generation: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.cache = cache
        self.on_new_generation = on_new_generation
        """called with a model's name when its data changed since the cache last saw it"""
        self._pool = ThreadPoolExecutor(PARALLEL, thread_name_prefix="evalstore-ui-views")

    def ahead(self, *parts: Callable[[], Any]) -> None:
        """Start computing ``parts`` (cached views a page needs next) on other threads.

        A page that needs several independent views (the health summary: performance,
        drift and data quality) asks for them ahead, then reads them in order: each read
        waits for the value its thread is computing (the cache computes a key once). The
        engine runs their queries side by side: one query of a day or a week of rows
        keeps the machine's cores only partly busy, and the Python between queries runs
        while another thread waits on the engine.
        """
        for part in parts:
            self._pool.submit(part)

    # -- facts ---------------------------------------------------------------------------------

    def model_names(self) -> list[str]:
        """Every model's name, sorted (from the store's catalogue; no data read)."""
        return [record.name for record in self.store._engine.models()]

    def generation(self, model: Model) -> tuple[Any, ...]:
        batches = model.batches()
        latest = batches[-1]["batch_id"] if batches else 0
        bases = tuple(sorted((str(b["name"]), int(b["version"])) for b in model.baselines()))
        return (latest, len(batches), bases)

    def generation_of(self, name: str) -> tuple[Any, ...]:
        """The model's current generation (two small metadata reads); a new one is reported
        to ``on_new_generation``. Raises ModelNotFound for an unknown name."""
        generation = self.generation(self.store.model(name))
        if not self.cache.generation_seen(name, generation) and self.on_new_generation:
            self.on_new_generation(name)
        return generation

    def facts(self, name: str, generation: tuple[Any, ...] | None = None) -> Facts:
        model = self.store.model(name)
        if generation is None:
            generation = self.generation_of(name)
        found = generation
        return self.cache.get((name, found, "facts"), lambda: self._facts(model, found))

    def _facts(self, model: Model, generation: tuple[Any, ...]) -> Facts:
        ds = model.dataset()
        found = model._store._engine.volumes(model._record.id).items()  # from the batches
        volumes = {key: Volume(rows, first, last) for key, (rows, first, last) in found}
        versions = [v for v in model.versions() if any(k[1] == v for k in volumes)]
        baselines = sorted(model.baselines(), key=lambda b: str(b.get("created_at") or ""))
        for b in baselines:  # a moving one is no default reference (see state.resolve)
            name = str(b["name"])  # read once per generation, shared with :meth:`baseline`
            key = (model.name, generation, "baseline", name)
            b["moving"] = self.cache.get(key, functools.partial(model.baseline, name)).is_moving
        return Facts(
            name=model.name,
            task=model.task,
            generation=generation,
            versions=versions,
            volumes=volumes,
            baselines=baselines,
            columns=ds.columns,
            features=feature_columns(ds),
            predictions=prediction_columns(ds),
        )

    # -- resolving a view ----------------------------------------------------------------------

    def resolve(self, facts: Facts, query: Mapping[str, str]) -> View:
        """The view a page's query parameters ask for, with defaults for the rest; with a
        slice, its range note gives the slice's rows (counted once)."""
        view = resolve(facts, query)
        if view.slice is None:
            return view
        n = self.rows(facts, view)
        return replace(view, range_note=f"{n:,} rows in the slice, of {view.range_note}")

    # -- datasets ------------------------------------------------------------------------------

    def current(self, facts: Facts, view: View, sliced: bool = True) -> Dataset:
        model = self.store.model(facts.name)
        return model.dataset(
            environment=view.environment,
            version=view.version,
            start=view.start,
            end=view.end,
            where=self.slice_where(facts, view) if sliced else None,
        )

    def slice_where(self, facts: Facts, view: View) -> Callable[[Any], Any] | None:
        """The view's slice as a filter of a table (None without one), on the bins of
        :meth:`slice_binnings`: the same bin of the same column for every dataset it
        filters (the current rows, the reference's, both sides of a comparison)."""
        if view.slice is None:
            return None
        column, label = view.slice
        binning = self.slice_binnings(facts, view)[column]
        model = self.store.model(facts.name)
        slice_predicate(model.dataset().table, binning, label)  # an unknown bin: readable
        return lambda t: slice_predicate(t, binning, label)

    def reference(self, facts: Facts, view: View) -> Reference | None:
        """What the view compares with: the baseline (or environment) of ``view.reference``,
        fitted, and its rows (an expression: nothing is read)."""
        if view.reference is None:
            return None
        key = (view.reference, view.version, view.start, view.end)
        return self._get(facts, "reference", key, lambda: self._reference(facts, view))  # type: ignore[no-any-return]

    def compared(self, facts: Facts, view: View) -> Reference | None:
        """The reference as the view compares with it: without a slice, :meth:`reference`;
        with one, the reference's rows in the same bin of the same column, its bins counted
        on them (one scan, cached). Why: the sliced current rows against the whole
        reference made every slice look worse than the reference, and made the slice's
        column, and those tied to it, drift."""
        ref = self.reference(facts, view)
        where = self.slice_where(facts, view)
        if ref is None or where is None:
            return ref

        def compute() -> Reference:
            rows = narrowed(ref.dataset, where)
            label = f"{ref.label}, its rows in the slice"
            # the reference's counts in the slice, kept by the store until its own rows
            # change (production batches leave them be: 0.1-0.2 s per sliced page after
            # each batch on the 10M-row UI store otherwise)
            bins = ref.binnings
            name = ("slice-recount", view.slice, tuple(b.fingerprint for b in bins.values()))
            counted = whole_range(
                ref.dataset,
                name,
                ref.dataset.table.columns,
                lambda ds: recount(narrowed(ds, where), bins),
            )
            return replace(ref, label=label, dataset=rows, counted=counted)

        key = (view.reference, view.version, view.start, view.end, view.slice)
        return self._get(facts, "sliced-reference", key, compute)  # type: ignore[no-any-return]

    def baseline(self, facts: Facts, name: str) -> Baseline:
        """A stored baseline of the model, read once per generation."""
        model = self.store.model(facts.name)
        found: Baseline = self._get(facts, "baseline", (name,), lambda: model.baseline(name))
        return found

    def _reference(self, facts: Facts, view: View) -> Reference:
        assert view.reference is not None
        name = view.reference
        model = self.store.model(facts.name)
        if name in facts.baseline_names:
            base = self.baseline(facts, name)
            if base.is_moving:
                ref_ds, fitted = base.reference_for(model, self.current(facts, view, sliced=False))
                return Reference(name, f"baseline {base.label}", fitted, ref_ds)
            return Reference(name, f"baseline {base.label}", base, base.rows(model))
        # the environment's rows of the view's version; of every version when it has none
        # of this one (a v2 logged in production only is compared with all the training)
        version = view.version if facts.volume(name, view.version).rows else None
        ref_ds = model.dataset(environment=name, version=version)
        fitted = self._get(
            facts,
            "fit",
            (name, version),
            lambda: fit_baseline(
                ref_ds, name, positive_class=self.positive_class(facts, required=False)
            ),
        )
        label = f"{name} rows" + (f" of {version}" if version else "")
        if version is None and view.version is not None:
            label += f" (every version: it holds none of {view.version})"
        return Reference(name, label, fitted, ref_ds)

    def slice_binnings(self, facts: Facts, view: View) -> dict[str, Binning]:
        """The bins slices are cut on: the reference's, else fitted on the current rows."""
        unsliced = replace(view, slice=None)
        ref = self.reference(facts, unsliced)
        if ref is not None and all(c in ref.binnings for c in facts.features):
            return {c: ref.binnings[c] for c in facts.features}
        current = self.current(facts, unsliced, sliced=False)
        return self._get(  # type: ignore[no-any-return]
            facts,
            "slice-bins",
            (unsliced.key,),
            lambda: fit_binnings(current, facts.features),
        )

    def positive_class(self, facts: Facts, required: bool = True) -> Any:
        """The positive class of a binary model's pages: its latest baseline's that stores
        one, else None (the labels' default). Text labels without one raise a
        ParameterError saying how to store one when ``required`` (the performance needs
        it; drift and quality do not)."""
        if facts.task is not Task.BINARY_CLASSIFICATION:
            return None
        for summary in reversed(facts.baselines):  # latest first
            found = self.baseline(facts, str(summary["name"])).positive_class
            if found is not None:
                return found
        if not required:
            return None
        require_positive_class(
            self.store.model(facts.name).dataset(),
            None,
            "model.create_baseline(name, environment=..., positive_class=...) or "
            "`evalstore baseline create NAME --positive-class VALUE`: the pages use the "
            "latest baseline's",
        )
        return None

    # -- analyses ------------------------------------------------------------------------------

    def _get(self, facts: Facts, kind: str, key: tuple[Any, ...], fn: Callable[[], Any]) -> Any:
        return self.cache.get(_key(facts, kind, key), fn)

    def over_time(self, facts: Facts, view: View) -> PerformanceResult:
        return self._get(  # type: ignore[no-any-return]
            facts,
            "over_time",
            (*view.key, view.window, view.metric),
            # the AUC and AP per window on the slices' 2^10 score bins, as a report's over
            # time: a week by the hour on 2^16 bins sorted ~780k (hour, bin) rows in NumPy
            lambda: performance(
                self.current(facts, view),
                [view.metric],
                by=view.window,
                positive_class=self.positive_class(facts),
                score_bins=SCORE_BINS,
            ),
        )

    def overall(self, facts: Facts, view: View) -> PerformanceResult:
        return self._get(  # type: ignore[no-any-return]
            facts,
            "overall",
            (*view.key, view.metric),
            lambda: performance(
                self.current(facts, view), [view.metric], positive_class=self.positive_class(facts)
            ),
        )

    def rows(self, facts: Facts, view: View) -> int:
        """The view's row count: from the facts when the view is unsliced and its range holds
        all of its rows (no query), else counted once."""
        volume = facts.volume(view.environment, view.version)
        if view.slice is None and covers(volume, view.start, view.end):
            return volume.rows
        return self._get(  # type: ignore[no-any-return]
            facts, "rows", view.key, lambda: self.current(facts, view).count()
        )

    def reference_value(self, facts: Facts, view: View) -> float | None:
        """The metric on the reference: from the baseline when stored, else computed once."""
        row = self.reference_row(facts, view)
        value = row["value"] if row is not None else None
        return float(value) if value is not None else None

    def reference_row(self, facts: Facts, view: View) -> dict[str, Any] | None:
        """The metric on the reference with its interval (``value``, ``ci_low``,
        ``ci_high``): from the baseline when stored, else computed once."""
        ref = self.compared(facts, view)
        if ref is None or not facts.has_actuals:
            return None
        stored = ref.baseline.performance_ if ref.counted is None else None  # of all its rows
        positive = self.positive_class(facts)
        if stored is not None and (positive is None or stored.get("positive_class") == positive):
            for row in stored.get("rows", []):
                if row.get("metric") == view.metric and not any(k in row for k in stored["by"]):
                    return _interval(row)

        def measure(ds: Dataset) -> dict[str, Any] | None:
            result = performance(ds, [view.metric], positive_class=positive)
            return _interval(result.rows[0]) if result.rows else None

        def compute() -> dict[str, Any] | None:
            whole = self.reference(facts, view)
            where = self.slice_where(facts, view)
            if whole is None or where is None:
                return measure(ref.dataset)
            # in a slice: kept by the store until the reference's rows change (as above)
            name = ("slice-metric", view.slice, view.metric, positive)
            columns = whole.dataset.table.columns
            return whole_range(  # type: ignore[no-any-return]
                whole.dataset, name, columns, lambda ds: measure(narrowed(ds, where))
            )

        key = (view.reference, view.version, view.metric, view.slice)
        return self._get(facts, "ref_row", key, compute)  # type: ignore[no-any-return]

    def worse(self, facts: Facts, view: View, overall: PerformanceResult | None) -> bool | None:
        """Whether the view's metric ``overall`` is worse than the reference's beyond chance
        (``analyses/_drops.py``: both intervals, one-sided at the intervals' own level);
        None where it cannot be told (no reference, no direction, no interval)."""
        ref = self.reference_row(facts, view)
        if overall is None or not overall.rows or ref is None:
            return None
        level = overall.confidence
        p = worse_p(get_metric(view.metric).higher_is_better, overall.rows[0], ref, level)
        return None if p is None else alerts(p, level)

    def drift(self, facts: Facts, view: View) -> tuple[DriftResult | None, DriftResult | None]:
        """Feature drift and prediction/actual drift (two families, each with its FDR)."""
        found, preds, _ = self._drift_scan(facts, view)
        return found, preds

    def drift_summary(
        self, facts: Facts, view: View
    ) -> tuple[DriftResult | None, DriftResult | None]:
        """:meth:`drift`, for a page that shows no drift over time (a model's health): the
        drift page's where it is computed, else the range's without its windows (the same
        counts: the range's histograms are the sum of its windows'; from the hours the
        profiles keep, 11 ms of CPU rather than 26 ms on the 10M-row UI store, the drift
        over time being the drift page's to compute)."""
        whole = self.cache.peek(self._drift_key(facts, view))
        if whole is not None:
            return whole[0], whole[1]
        found, preds, _ = self._drift_scan(facts, view, over_time=False)
        return found, preds

    def drift_over_time(self, facts: Facts, view: View) -> DriftOverTime | None:
        """Every column's drift per window (features, predictions and actuals together: the
        values are effect sizes, which the grouping does not change)."""
        return self._drift_scan(facts, view)[2]

    def _drift_key(self, facts: Facts, view: View) -> tuple[Any, ...]:
        by = view.window if view.window in WINDOWS else "day"
        return _key(facts, "drift", (*view.key, by))

    def _drift_scan(
        self, facts: Facts, view: View, over_time: bool = True
    ) -> tuple[DriftResult | None, DriftResult | None, DriftOverTime | None]:
        """:meth:`drift` and :meth:`drift_over_time` from one grouped scan of the current
        rows (:func:`~evalstore.analyses.drift.drift_families`), cached as one entry: the
        drift page and a column's page share it (without ``over_time``: the drift of the
        range alone, an entry of its own). With a slice, against the reference's rows in
        the slice; the slice's column is shown, never drifted."""
        ref = self.compared(facts, view)
        if ref is None:
            return None, None, None
        features = [c for c in facts.features if c in ref.binnings]
        predicted = [c for c in facts.predictions if c in ref.binnings]
        families = [f for f in (features, predicted) if f]
        if not families:
            return None, None, None
        by = view.window if view.window in WINDOWS else "day"

        def compute() -> tuple[DriftResult | None, DriftResult | None, DriftOverTime | None]:
            current = self.current(facts, view)
            found, daily = drift_families(
                ref.dataset, current, families, by if over_time else None, binnings=ref.binnings
            )
            results = iter(found)
            features_found = next(results) if features else None
            if view.slice is not None:
                features_found = uncounted(features_found, view.slice[0])
            return (
                features_found,
                next(results) if predicted else None,
                daily,
            )

        if not over_time:
            return self._get(facts, "drift-range", view.key, compute)  # type: ignore[no-any-return]
        return self.cache.get(self._drift_key(facts, view), compute)

    def quality(self, facts: Facts, view: View) -> QualityResult:
        expectations = self.expectations(facts, view)
        return self._get(  # type: ignore[no-any-return]
            facts,
            "quality",
            (*view.key, view.window),
            lambda: quality(self.current(facts, view), expectations, by=view.window),
        )

    def quality_issues(self, facts: Facts, view: View) -> QualityResult:
        """:meth:`quality`, for a page that shows its issues alone (a model's health): the
        quality page's where it is computed, else without the counts no check needs
        (distinct values, ids under several versions: 79 of the ~420 ms of engine CPU the
        health summary cost after a batch on the 10M-row UI store)."""
        full = self.cache.peek(_key(facts, "quality", (*view.key, view.window)))
        if full is not None:
            return full  # type: ignore[no-any-return]
        expectations = self.expectations(facts, view)
        return self._get(  # type: ignore[no-any-return]
            facts,
            "quality-issues",
            (*view.key, view.window),
            lambda: quality(self.current(facts, view), expectations, by=view.window, details=False),
        )

    def expectations(self, facts: Facts, view: View) -> Expectations | None:
        """The data-quality expectations of the view's reference (None without one)."""
        ref = self.reference(facts, view)
        return ref.baseline.expectations_ if ref is not None else None

    def slices(self, facts: Facts, view: View) -> SliceResult | None:
        if not facts.has_actuals or not facts.features:
            return None
        bins = self.slice_binnings(facts, view)
        return self._get(  # type: ignore[no-any-return]
            facts,
            "slices",
            (*view.key, view.metric),
            lambda: slices(
                self.current(facts, view),
                view.metric,
                columns=facts.features,
                binnings=bins,
                min_support=MIN_SUPPORT,
                positive_class=self.positive_class(facts),
            ),
        )

    def weak_slices(self, facts: Facts, view: View) -> list[Slice]:
        """The view's slices worse than overall, worst first (none where the metric has no
        direction)."""
        found = self.slices(facts, view)
        return [] if found is None else found.weak()

    def health(self, facts: Facts) -> Health:
        """The default view's metric against the reference, drift and data-quality counts."""
        view = self.resolve(facts, {})
        self.ahead(
            lambda: self.quality_issues(facts, view), lambda: self.drift_summary(facts, view)
        )
        overall = self.overall(facts, view) if facts.has_actuals else None
        row = overall.rows[0] if overall is not None and overall.rows else None
        value = row["value"] if row is not None else None
        ref_value = self.reference_value(facts, view)
        worse = self.worse(facts, view, overall)
        found, _ = self.drift_summary(facts, view)
        checked = self.quality_issues(facts, view)
        volume = facts.volume(view.environment, view.version)
        return Health(
            view=view,
            metric_value=value,
            reference_value=ref_value,
            worse=worse,
            rows=(row["n"] + row["n_without_actual"]) if row is not None else volume.rows,
            without_actual=row["n_without_actual"] if row is not None else 0,
            drifted=found.drifted_columns if found is not None else [],
            n_features=found.n_columns if found is not None else 0,
            errors=len(checked.errors),
            warnings=len(checked.warnings),
        )

    def warm(self, name: str) -> None:
        """Compute a model's default views, the pages people open first, in that order;
        then the drift and quality of every environment's whole history (which keeps the
        store's profiles), and its quality by the hour (which keeps each hour's distinct
        counts and repeated ids: a week by the hour read them in 0.35 s on the 10M-row UI
        benchmark store; the first warming took 13-14 s instead of 9-11 s, later ones read
        the new hours)."""
        facts = self.facts(name)
        if not facts.environments:
            return
        view = self.resolve(facts, {})
        with keeping():  # the metric's days, kept: after a batch, it reads that day alone
            self.health(facts)
        self.over_time(facts, view)
        self.drift_over_time(facts, view)
        self.quality(facts, view)  # the health summary's holds only what its checks need
        with keeping():  # their days, kept: after a batch, a view reads that day alone
            for query in slice_views(facts, view):
                self.slices(facts, self.resolve(facts, query))
        # the reference's rows in the worst slices, which the slices page links to: the
        # store keeps their counts and metric until the reference changes, so the first
        # sliced page after a batch reads only the current rows (0.2 s less on the 10M-row
        # UI store)
        for s in self.weak_slices(facts, view)[:WARM_SLICES]:
            sliced = self.resolve(facts, {"slice": f"{s.column}:{s.bin}"})
            self.reference_value(facts, sliced)
        from evalstore.ui.compare import compare, compare_sides  # it builds on this module

        with keeping():  # the sides' metrics by day, and each version's recent days
            compare(self, facts, *compare_sides(facts, view, {}))
            self.keep_versions(facts, view)
        # each version's data quality (what the version picker shows next): the store keeps
        # its days' distinct counts and categories, which the view of every version does
        # not hold (its days count the versions together); after a batch it reads that day
        here = [v for v in facts.versions if facts.volume(view.environment, v).rows]
        if len(here) > 1:
            for version in here:
                self.quality(facts, self.resolve(facts, {"version": version}))
        # then the drift and data quality of each environment's whole history: their
        # hours' counts become the store's profiles, so that any range or version afterwards
        # reads only the hours of the batches that came since (``binning/_profiled.py``)
        for env in facts.environments:
            first = facts.volume(env).first
            if first is not None:
                whole = self.resolve(facts, {"environment": env, "start": str(first)})
                self.drift(facts, whole)
                self.quality(facts, whole)
                if whole.window != "hour":  # kept by the profiles; too big a page to cache
                    quality(self.current(facts, whole), self.expectations(facts, whole), by="hour")
        # what the server keeps until the next batches (views, profiles, compiled queries) is
        # out of later full collections' walks: on the 10M-row UI store, such a collection
        # cost 64-84 ms every third or fourth load of a week by the hour, 1-10 ms after this
        _gc.refreeze()

    def keep_versions(self, facts: Facts, view: View) -> None:
        """The compare page's metrics of each version of the view's environment over its
        last ``SLICE_DAYS``, read by day so that the store keeps the days: comparing two
        versions over recent weeks (what people pick after the default comparison) then
        reads only the days of the batches since."""
        if not facts.has_actuals:
            return
        model = self.store.model(facts.name)
        positive = self.positive_class(facts)
        start = view.end - timedelta(days=SLICE_DAYS)
        for version in facts.versions:
            last = facts.volume(view.environment, version).last
            if last is not None and last >= start:
                ds = model.dataset(view.environment, version, start, view.end)
                performance(ds, positive_class=positive)

    def changed_models(self) -> list[str]:
        """Models whose generation moved since the cache last saw them (for the warmer)."""
        out = []
        for name in self.cache.known_models():
            model = self.store.model(name)
            if not self.cache.generation_seen(name, self.generation(model)):
                out.append(name)
        return out


def _key(facts: Facts, kind: str, key: tuple[Any, ...]) -> tuple[Any, ...]:
    """A view's entry in the cache: of the model's generation (a batch makes new ones)."""
    return (facts.name, facts.generation, kind, *key)


def slice_views(facts: Facts, view: View) -> list[dict[str, str]]:
    """The slices views whose days the warmer keeps: the default one, the last
    ``SLICE_DAYS`` of every version (which the views people pick next read: one version,
    the week before), and the same for a binary model's accuracy, whose four confusion
    counts serve its precision, recall, F1, FPR... too."""
    recent: dict[str, str] = {}
    start = view.end - timedelta(days=SLICE_DAYS)
    if start < view.start:  # the default view is shorter (the last days of a long history)
        recent = {"start": day_text(start), "end": day_text(view.end)}
    queries = [{}, recent] if recent else [{}]
    if view.metric != "accuracy" and "accuracy" in facts.metrics:
        queries.append({**recent, "metric": "accuracy"})
    return queries


def covers(volume: Volume, start: Any, end: Any) -> bool:
    """Whether ``[start, end)`` (None: open) holds every row of ``volume``."""
    if volume.first is None or volume.last is None:
        return False
    return (start is None or start <= volume.first) and (end is None or volume.last < end)


def narrowed(dataset: Dataset, where: Callable[[Any], Any]) -> Dataset:
    """``dataset``'s rows that ``where`` keeps (and its own filter, when it has one)."""
    from evalstore.dataset import Dataset

    own = dataset.where

    def both(t: Any) -> Any:
        mine = where(t)
        return mine if own is None else Dataset._predicate(t, own) & mine

    return Dataset(
        dataset._store,
        dataset.model_id,
        environment=dataset.environments,
        version=dataset.versions,
        start=dataset.start,
        end=dataset.end,
        where=both,
        task=dataset.task,
    )


def uncounted(result: DriftResult | None, column: str) -> DriftResult | None:
    """``result`` with ``column`` shown but never drifted: the slice's own column, whose
    rows on both sides fall in the one bin the slice is (a difference within that bin is
    the slice's doing, not drift)."""
    if result is None or not any(c.column == column and c.drifted for c in result.columns):
        return result
    columns = [replace(c, drifted=False) if c.column == column else c for c in result.columns]
    return replace(result, columns=columns)


def _interval(row: Mapping[str, Any]) -> dict[str, Any]:
    """A performance row's value and interval."""
    return {k: row.get(k) for k in ("value", "ci_low", "ci_high")}
