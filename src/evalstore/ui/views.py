"""What the pages compute: the URL's state resolved against what the store holds, and the
analyses each page runs on it, each through the cache (:mod:`.cache`).

A page never runs a full report. Per view (model, environment, version, time range,
window, metric, reference, slice):

- **facts** (every page): versions, rows and time range per (environment, version), one
  GROUP BY over the inferences (the actuals join is dropped by the engine), baselines;
- **overview**: the metric per window (one grouped aggregate, which also gives the volume
  with and without actuals) and overall (one aggregate); the reference's value comes from
  the stored baseline;
- **drift**: one scan of the current window on the reference's frozen bins for the
  features, one for the prediction and actual columns, one grouped by window for the
  sparklines and a column's drift over time;
- **slices**: the metric per bin of every feature (one query per metric family);
- **quality**: one scan grouped by window against the reference's expectations.

The reference is a stored baseline (its bins, expectations and performance are read from
the metadata: the reference rows are never scanned again) or an environment, fitted once
per generation and kept in the cache. The current window defaults to the whole selection
when it holds at most ``FULL_RANGE_ROWS`` rows, else to its last ``RECENT_DAYS`` days.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from evalstore.analyses.baseline import Baseline, fit_baseline, prediction_columns
from evalstore.analyses.binning import Binning, feature_columns, fit_binnings
from evalstore.analyses.drift import DriftOverTime, DriftResult, drift, drift_over_time
from evalstore.analyses.metrics import available_metrics, get_metric
from evalstore.analyses.performance import PerformanceResult, performance
from evalstore.analyses.quality import QualityResult, quality
from evalstore.analyses.report import auto_window, primary_metric
from evalstore.analyses.slices import SliceResult, slice_predicate, slices
from evalstore.dataset import as_timestamp
from evalstore.errors import ParameterError, did_you_mean
from evalstore.ingest.plan import ENVIRONMENTS
from evalstore.schema import Task
from evalstore.ui.cache import ResultCache

if TYPE_CHECKING:
    from evalstore.dataset import Dataset
    from evalstore.sdk import Model, Store

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

#: a selection up to this many rows is shown whole by default; a larger one, its last days
FULL_RANGE_ROWS = 1_000_000
RECENT_DAYS = 7
#: the fewest rows a slice needs to be listed among the worst
MIN_SUPPORT = 30
#: windows of the UI (performance over time, drift over time, data quality)
WINDOWS = ("hour", "day", "week", "month")
ACTUAL_COLUMNS = ("actual_label", "actual_score")


@dataclass(frozen=True)
class Volume:
    rows: int = 0
    first: datetime | None = None
    last: datetime | None = None

    def __add__(self, other: Volume) -> Volume:
        firsts = [t for t in (self.first, other.first) if t is not None]
        lasts = [t for t in (self.last, other.last) if t is not None]
        return Volume(
            self.rows + other.rows,
            min(firsts) if firsts else None,
            max(lasts) if lasts else None,
        )


@dataclass(frozen=True)
class Facts:
    """What the store holds for one model, as of one generation."""

    name: str
    task: Task
    generation: tuple[Any, ...]
    versions: list[str]
    volumes: dict[tuple[str, str], Volume]
    """per (environment, version)"""
    baselines: list[dict[str, Any]]
    columns: list[str]
    features: list[str]
    predictions: list[str]
    """prediction and actual columns (``Baseline.prediction_columns``)"""

    def volume(self, environment: str | None = None, version: str | None = None) -> Volume:
        total = Volume()
        for (env, ver), v in self.volumes.items():
            if (environment is None or env == environment) and (version is None or ver == version):
                total = total + v
        return total

    @property
    def environments(self) -> list[str]:
        """Environments with rows, in the order training, validation, production."""
        return [e for e in ENVIRONMENTS if self.volume(e).rows]

    @property
    def has_score(self) -> bool:
        return any(
            c == "prediction_score" or c.startswith("prediction_score:") for c in self.columns
        )

    @property
    def has_actuals(self) -> bool:
        return any(c in self.columns for c in ACTUAL_COLUMNS)

    @property
    def metrics(self) -> list[str]:
        """Metrics with one value that this model's predictions allow."""
        has_label = "prediction_label" in self.columns
        out = []
        for m in available_metrics(self.task):
            if m.structured:
                continue
            if ("label" in m.needs and not has_label) or (
                "score" in m.needs and not self.has_score
            ):
                continue
            out.append(m.key)
        return out

    @property
    def baseline_names(self) -> list[str]:
        return [str(b["name"]) for b in self.baselines]


@dataclass(frozen=True)
class View:
    """The state of a page, resolved: every field has its value (given or default)."""

    model: str
    environment: str
    version: str | None
    start: datetime
    end: datetime
    window: str
    metric: str
    reference: str | None
    slice: tuple[str, str] | None
    range_note: str
    given: Mapping[str, str] = field(default_factory=dict)
    """the query parameters given, for links that keep them"""

    @property
    def key(self) -> tuple[Any, ...]:
        return (self.environment, self.version, self.start, self.end, self.reference, self.slice)

    def params(self) -> dict[str, str]:
        """Every field as a query parameter: the link that shows exactly this view."""
        out = {
            "environment": self.environment,
            "start": day_text(self.start),
            "end": day_text(self.end),
            "window": self.window,
            "metric": self.metric,
        }
        if self.version:
            out["version"] = self.version
        if self.reference:
            out["reference"] = self.reference
        if self.slice:
            out["slice"] = f"{self.slice[0]}:{self.slice[1]}"
        return out


def day_text(t: datetime) -> str:
    """A day as ``2024-06-01``; a time within a day in ISO 8601, to the minute."""
    return t.strftime("%Y-%m-%d") if t == _day(t) else t.isoformat(timespec="minutes")


def _day(t: datetime) -> datetime:
    return t.replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Reference:
    """What the current data are compared with: a fitted baseline and its rows."""

    name: str
    label: str
    baseline: Baseline
    dataset: Dataset

    @property
    def binnings(self) -> dict[str, Binning]:
        return self.baseline.binnings_


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
        t = ds.table
        query = t.group_by(["environment", "version"]).aggregate(
            rows=t.count(), first=t.timestamp.min(), last=t.timestamp.max()
        )
        volumes = {
            (r["environment"], r["version"]): Volume(int(r["rows"]), r["first"], r["last"])
            for r in ds.execute(query).to_pylist()
        }
        versions = [v for v in model.versions() if any(k[1] == v for k in volumes)]
        baselines = sorted(model.baselines(), key=lambda b: str(b.get("created_at") or ""))
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
        """The view a page's query parameters ask for, with defaults for the rest."""
        given = {k: v for k, v in query.items() if v not in ("", None)}
        environments = facts.environments
        if not environments:
            raise ParameterError(
                "model",
                "a model with inferences",
                f"no rows for {facts.name!r}",
                "Log some: model.log(df, schema=..., version='v1', environment='production').",
            )
        env = given.get("environment")
        if env is None:
            env = "production" if "production" in environments else environments[-1]
        elif env not in environments:
            raise ParameterError(
                "environment",
                f"an environment with rows: {', '.join(environments)}",
                env,
                did_you_mean(env, environments).strip(),
            )
        version = given.get("version")
        if version is not None and version not in facts.versions:
            raise ParameterError(
                "version",
                f"a version of {facts.name!r}: {', '.join(facts.versions)}",
                version,
                did_you_mean(version, facts.versions).strip(),
            )
        volume = facts.volume(env, version)
        if not volume.rows or volume.first is None or volume.last is None:
            raise ParameterError(
                "version",
                f"a version with {env} rows",
                version,
                f"Version {version} has no {env} rows; pick another version or environment.",
            )
        data_start, data_end = _day(volume.first), _day(volume.last) + timedelta(days=1)
        start = as_timestamp(given["start"], "start") if "start" in given else None
        end = as_timestamp(given["end"], "end") if "end" in given else None
        if start is None and end is None:
            if volume.rows <= FULL_RANGE_ROWS:
                start, end = data_start, data_end
                note = f"all {volume.rows:,} {env} rows"
            else:
                start, end = data_end - timedelta(days=RECENT_DAYS), data_end
                note = (
                    f"the last {RECENT_DAYS} days of data; {env} holds {volume.rows:,} rows, "
                    "pick a range to see more"
                )
        else:
            start = start or data_start
            end = end or max(data_end, start + timedelta(days=1))
            note = "the range you picked"
        if start >= end:
            raise ParameterError("end", f"later than start ({day_text(start)})", day_text(end))
        window = given.get("window") or auto_window(start, end - timedelta(microseconds=1))
        if window not in WINDOWS:
            raise ParameterError(
                "window", f"one of {list(WINDOWS)}", window, did_you_mean(window, WINDOWS).strip()
            )
        metrics = facts.metrics
        metric = given.get("metric") or primary_metric(facts.task, facts.has_score)
        if metric not in metrics:
            raise ParameterError(
                "metric",
                f"a metric of this {facts.task.value} model: {', '.join(metrics)}",
                metric,
                did_you_mean(metric, metrics).strip(),
            )
        reference = self._reference_name(facts, env, given.get("reference"))
        found_slice = None
        if "slice" in given:
            column, sep, label = given["slice"].partition(":")
            if not sep or column not in facts.features:
                raise ParameterError(
                    "slice",
                    "COLUMN:BIN, a feature and one of its bins (click a slice to get one)",
                    given["slice"],
                    did_you_mean(column, facts.features).strip(),
                )
            found_slice = (column, label)
        return View(
            model=facts.name,
            environment=env,
            version=version,
            start=start,
            end=end,
            window=window,
            metric=metric,
            reference=reference,
            slice=found_slice,
            range_note=note,
            given=given,
        )

    def _reference_name(self, facts: Facts, env: str, given: str | None) -> str | None:
        names = facts.baseline_names
        if given is not None:
            choices = names + [e for e in facts.environments if e not in names]
            if given not in choices:
                raise ParameterError(
                    "reference",
                    "a baseline or an environment with rows: " + ", ".join(choices),
                    given,
                    did_you_mean(given, choices).strip()
                    or "Create a baseline with model.create_baseline(name, environment=...).",
                )
            return given
        if names:
            return names[-1]  # the latest created
        for candidate in ("training", "validation"):
            if candidate in facts.environments and candidate != env:
                return candidate
        return None

    # -- datasets ------------------------------------------------------------------------------

    def current(self, facts: Facts, view: View, sliced: bool = True) -> Dataset:
        model = self.store.model(facts.name)
        where: Callable[[Any], Any] | None = None
        if sliced and view.slice is not None:
            column, label = view.slice
            binning = self.slice_binnings(facts, view)[column]
            slice_predicate(model.dataset().table, binning, label)  # an unknown bin: readable
            where = lambda t: slice_predicate(t, binning, label)  # noqa: E731
        return model.dataset(
            environment=view.environment,
            version=view.version,
            start=view.start,
            end=view.end,
            where=where,
        )

    def reference(self, facts: Facts, view: View) -> Reference | None:
        """What the view compares with: the baseline (or environment) of ``view.reference``,
        fitted, and its rows (an expression: nothing is read)."""
        if view.reference is None:
            return None
        key = (view.reference, view.version, view.start, view.end)
        return self._get(facts, "reference", key, lambda: self._reference(facts, view))  # type: ignore[no-any-return]

    def _reference(self, facts: Facts, view: View) -> Reference:
        assert view.reference is not None
        name = view.reference
        model = self.store.model(facts.name)
        if name in facts.baseline_names:
            base = self.cache.get(
                (facts.name, facts.generation, "baseline", name), lambda: model.baseline(name)
            )
            if base.is_moving:
                ref_ds, fitted = base.reference_for(model, self.current(facts, view, sliced=False))
                return Reference(name, f"baseline {base.label}", fitted, ref_ds)
            return Reference(name, f"baseline {base.label}", base, base.selector.dataset(model))
        ref_ds = model.dataset(environment=name, version=view.version)
        fitted = self.cache.get(
            (facts.name, facts.generation, "fit", name, view.version),
            lambda: fit_baseline(ref_ds, name),
        )
        label = f"{name} rows" + (f" of {view.version}" if view.version else "")
        return Reference(name, label, fitted, ref_ds)

    def slice_binnings(self, facts: Facts, view: View) -> dict[str, Binning]:
        """The bins slices are cut on: the reference's, else fitted on the current rows."""
        unsliced = replace(view, slice=None)
        ref = self.reference(facts, unsliced)
        if ref is not None and all(c in ref.binnings for c in facts.features):
            return {c: ref.binnings[c] for c in facts.features}
        current = self.current(facts, unsliced, sliced=False)
        return self.cache.get(
            (facts.name, facts.generation, "slice-bins", unsliced.key),
            lambda: fit_binnings(current, facts.features),
        )

    # -- analyses ------------------------------------------------------------------------------

    def _get(self, facts: Facts, kind: str, key: tuple[Any, ...], fn: Callable[[], Any]) -> Any:
        return self.cache.get((facts.name, facts.generation, kind, *key), fn)

    def over_time(self, facts: Facts, view: View) -> PerformanceResult:
        return self._get(  # type: ignore[no-any-return]
            facts,
            "over_time",
            (*view.key, view.window, view.metric),
            lambda: performance(self.current(facts, view), [view.metric], by=view.window),
        )

    def overall(self, facts: Facts, view: View) -> PerformanceResult:
        return self._get(  # type: ignore[no-any-return]
            facts,
            "overall",
            (*view.key, view.metric),
            lambda: performance(self.current(facts, view), [view.metric]),
        )

    def reference_value(self, facts: Facts, view: View) -> float | None:
        """The metric on the reference: from the baseline when stored, else computed once."""
        ref = self.reference(facts, view)
        if ref is None or not facts.has_actuals:
            return None
        stored = ref.baseline.performance_
        if stored is not None:
            for row in stored.get("rows", []):
                if row.get("metric") == view.metric and not any(k in row for k in stored["by"]):
                    value = row.get("value")
                    return float(value) if value is not None else None

        def compute() -> float | None:
            result = performance(ref.dataset, [view.metric])
            return result.rows[0]["value"] if result.rows else None

        return self._get(facts, "ref_value", (view.reference, view.version, view.metric), compute)  # type: ignore[no-any-return]

    def drift(self, facts: Facts, view: View) -> tuple[DriftResult | None, DriftResult | None]:
        """Feature drift and prediction/actual drift (two families, each with its FDR)."""
        ref = self.reference(facts, view)
        if ref is None:
            return None, None
        features = [c for c in facts.features if c in ref.binnings]
        predicted = [c for c in facts.predictions if c in ref.binnings]

        def compute() -> tuple[DriftResult | None, DriftResult | None]:
            cur = self.current(facts, view)
            found = drift(ref.dataset, cur, features, binnings=ref.binnings) if features else None
            preds = drift(ref.dataset, cur, predicted, binnings=ref.binnings) if predicted else None
            return found, preds

        return self._get(facts, "drift", view.key, compute)  # type: ignore[no-any-return]

    def drift_over_time(self, facts: Facts, view: View) -> DriftOverTime | None:
        """Every column's drift per window (features, predictions and actuals together: the
        values are effect sizes, which the grouping does not change)."""
        ref = self.reference(facts, view)
        if ref is None:
            return None
        columns = [c for c in facts.features + facts.predictions if c in ref.binnings]
        if not columns:
            return None
        by = view.window if view.window in ("hour", "day", "week", "month") else "day"
        return self._get(  # type: ignore[no-any-return]
            facts,
            "drift_over_time",
            (*view.key, by),
            lambda: drift_over_time(
                ref.dataset, self.current(facts, view), by, columns, binnings=ref.binnings
            ),
        )

    def quality(self, facts: Facts, view: View) -> QualityResult:
        ref = self.reference(facts, view)
        expectations = ref.baseline.expectations_ if ref is not None else None
        return self._get(  # type: ignore[no-any-return]
            facts,
            "quality",
            (*view.key, view.window),
            lambda: quality(self.current(facts, view), expectations, by=view.window),
        )

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
            ),
        )

    def health(self, facts: Facts) -> Health:
        """The default view's metric against the reference, drift and data-quality counts."""
        view = self.resolve(facts, {})
        overall = self.overall(facts, view) if facts.has_actuals else None
        row = overall.rows[0] if overall is not None and overall.rows else None
        value = row["value"] if row is not None else None
        ref_value = self.reference_value(facts, view)
        worse = None
        direction = get_metric(view.metric).higher_is_better
        if row is not None and ref_value is not None and row["ci_low"] is not None:
            if direction is True:
                worse = bool(row["ci_high"] < ref_value)
            elif direction is False:
                worse = bool(row["ci_low"] > ref_value)
        found, _ = self.drift(facts, view)
        checked = self.quality(facts, view)
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
        """Compute a model's default views, the pages people open first, in that order."""
        facts = self.facts(name)
        if not facts.environments:
            return
        view = self.resolve(facts, {})
        self.health(facts)
        self.over_time(facts, view)
        self.drift_over_time(facts, view)
        self.slices(facts, view)
        from evalstore.ui.compare import compare, compare_sides  # it builds on this module

        compare(self, facts, *compare_sides(facts, view, {}))

    def changed_models(self) -> list[str]:
        """Models whose generation moved since the cache last saw them (for the warmer)."""
        out = []
        for name in self.cache.known_models():
            model = self.store.model(name)
            if not self.cache.generation_seen(name, self.generation(model)):
                out.append(name)
        return out
