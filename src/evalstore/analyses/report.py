"""The report: performance, drift, data quality and the worst slices of a current dataset
against a reference, in one plain, JSON-serialisable Result.

::

    report = model.report(reference="training",          # a baseline name, a Dataset or a dict
                          current={"environment": "production", "start": "2024-06-01"})
    report.summary                  # the headlines, worst news first
    report.drift.drifted_columns    # typed sub-results: DriftResult, PerformanceResult, ...
    report.save_html("report.html") # one self-contained file, charts drawn from aggregates
    print(report.to_markdown())

What it computes (every part in the engine, from aggregates):

- **performance** of the reference and the current (the task's default metrics with their
  confidence intervals; rows without an actual counted, never dropped), and the primary
  metric (ROC AUC for scored binary models, else accuracy; MAE for regression) per time
  window of the current, with the prediction volume;
- **drift** of every feature and tag (Benjamini-Hochberg across them), and separately of
  the prediction and actual columns, on bins frozen on the reference, from one scan of the
  current rows (``drift_families``);
- **data quality** of the current against expectations learned on the reference;
- **slices**: the primary metric per bin of every feature and tag, in both datasets; the
  worst slices of the current with their support and interval.

With a baseline as the reference, its stored bins, expectations and performance are used
and the reference rows are not read again, except for the reference's slices.

The drift and the data quality read the current rows on the store's side threads while the
performance and the slices read them on the caller's: a window's queries (its rows a row
group or two) keep one core busy each.

A binary model counts ``positive_class`` as the positive label: given to the report, else the
baseline's (``create_baseline(..., positive_class=...)``), else ``True`` / ``1`` for boolean /
integer labels (text labels need one). A baseline whose performance was measured with another
positive class has it measured again on its rows.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from evalstore._checks import whole_number
from evalstore._progress import progress_steps
from evalstore.analyses._drops import alerts, worse_p
from evalstore.analyses._slice_tests import drop_p_values
from evalstore.analyses.baseline import (
    Baseline,
    Selector,
    fit_baseline,
    has_scores,
    prediction_columns,
    prediction_ids,
    primary_metric,
)
from evalstore.analyses.binning import feature_columns
from evalstore.analyses.drift import DriftResult, drift, drift_families
from evalstore.analyses.metrics import get_metric
from evalstore.analyses.performance import TIME_WINDOWS, PerformanceResult, performance
from evalstore.analyses.quality import QualityResult, quality
from evalstore.analyses.slices import SCORE_BINS, SliceResult, slices
from evalstore.dataset import beside, query_table
from evalstore.errors import ParameterError, did_you_mean

if TYPE_CHECKING:
    from evalstore.dataset import Dataset
    from evalstore.sdk import Model

__all__ = ["Report", "auto_window", "build_report", "primary_metric"]

#: the false discovery rate of a slice alert in a report without drift (drift's default)
SLICE_ALPHA = 0.05

T = TypeVar("T")

#: format of ``Report.to_dict``
FORMAT = 1
#: windows of the performance-over-time chart, by the span of the current data
_SPANS = (("hour", 2), ("day", 92), ("week", 730))


def auto_window(first: datetime | None, last: datetime | None) -> str:
    """``hour`` for up to 2 days of data, ``day`` up to 92 days, ``week`` up to 2 years,
    else ``month``."""
    if first is None or last is None:
        return "day"
    days = (last - first).total_seconds() / 86400
    for window, limit in _SPANS:
        if days <= limit:
            return window
    return "month"


@dataclass
class Report:
    """A report as plain data (see the module doc). ``to_dict`` / ``from_dict`` round-trip
    through JSON; renderers (:mod:`evalstore.render`) draw it as HTML or Markdown."""

    model: str
    task: str
    reference: dict[str, Any]
    """``label``, ``selector``, ``rows``, ``baseline`` ({name, version} or None),
    ``prediction_ids`` (distinct ids among the rows) and ``versions`` (``{version: {"rows",
    "ids"}}`` when an id is in more than one row, else None; see :attr:`reference_note`)"""
    current: dict[str, Any]
    """``label``, ``selector``, ``rows``, ``first``, ``last``"""
    primary_metric: str
    window: str
    performance_reference: PerformanceResult | None
    performance_current: PerformanceResult | None
    performance_over_time: PerformanceResult | None
    drift: DriftResult
    prediction_drift: DriftResult | None
    quality: QualityResult
    slices_current: SliceResult | None
    slices_reference: SliceResult | None
    created_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    timings: dict[str, float] = field(default_factory=dict)
    """seconds per part"""

    # -- headlines -----------------------------------------------------------------------------

    @property
    def summary(self) -> list[dict[str, str]]:
        """The headlines, each ``{"topic", "status": "alert"|"ok"|"info", "text"}``, alerts
        first."""
        items = [
            *self._reference_summary(),
            *self._performance_summary(),
            self._drift_summary(),
            *self._prediction_drift_summary(),
            self._quality_summary(),
            *self._slice_summary(),
        ]
        order = {"alert": 0, "info": 1, "ok": 2}
        return sorted(items, key=lambda item: order[item["status"]])

    def worst_slices(self, k: int = 10) -> list[Any]:
        """The current's ``k`` worst slices, ranked by how much worse each is than in the
        reference (see :meth:`SliceResult.worst`); by value without reference slices.
        Only slices worse than the current overall are listed
        (:meth:`SliceResult.worse_than_overall`): one that fell most against the reference
        but still beats the whole dataset is no weak spot. None for a metric without a
        direction (``mean_error``, a custom rate): no slice of it is worse than another."""
        found = self.slices_current
        return [] if found is None else found.weak(k, reference=self.slices_reference)

    @property
    def alerts(self) -> list[str]:
        """The text of every alert headline."""
        return [item["text"] for item in self.summary if item["status"] == "alert"]

    @property
    def reference_note(self) -> str | None:
        """What to know when the reference holds a prediction id in more than one row (the
        training set scored by two versions): drift's significance counts each row, so an
        id counts once per version and the significance is overstated. None otherwise."""
        return _duplicate_ids_note(self.reference)

    def _reference_summary(self) -> list[dict[str, str]]:
        note = self.reference_note
        return [] if note is None else [{"topic": "reference", "status": "info", "text": note}]

    def _performance_summary(self) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        metric = self.primary_metric
        measured = self.performance_current
        cur = _overall(measured, metric)
        ref = _overall(self.performance_reference, metric)
        rows = self.current.get("rows") or 0
        if measured is None or cur is None or cur.get("value") is None:
            text = _no_value_text(metric, cur, rows)
            out.append({"topic": "performance", "status": "info", "text": text})
            return out
        text = f"{metric} {_num(cur['value'])} in the current data"
        if cur.get("ci_low") is not None:
            text += f" (CI {_num(cur['ci_low'])}-{_num(cur['ci_high'])})"
        status = "ok"
        if ref is not None and ref.get("value") is not None:
            delta = cur["value"] - ref["value"]
            text += f", {_num(ref['value'])} in the reference ({delta:+.3g})"
            if get_metric(metric).higher_is_better is None:
                status = "info"  # not ok: nothing says which way is worse
                text += f": {metric} has no better or worse side, so it is not rated"
            elif cur.get("ci_low") is None:
                status = "info"
                text += ": no confidence interval to test the change against"
            else:
                level = measured.confidence
                p = worse_p(get_metric(metric).higher_is_better, cur, ref, level)
                if p is not None and alerts(p, level):
                    status = "alert"
                    text += f": worse beyond chance (p {_p(p)}, one-sided)"
                elif p is not None and p < 0.5:
                    text += f": worse within chance (p {_p(p)}, one-sided)"
        missing = cur.get("n_without_actual") or 0
        if missing:
            text += f". {missing:,} of {rows:,} current rows have no actual yet"
        out.append({"topic": "performance", "status": status, "text": text + "."})
        return out

    def _drift_summary(self) -> dict[str, str]:
        d = self.drift
        if not d.columns:
            return {"topic": "drift", "status": "info", "text": "No feature to test for drift."}
        if not d.drifted:
            return {
                "topic": "drift",
                "status": "ok",
                "text": f"No feature drifted (of {d.n_columns}; false discovery rate {d.alpha:g}).",
            }
        named = ", ".join(
            f"{c.column} ({c.method} {_num(c.value)})" for c in d.columns if c.drifted
        )
        return {
            "topic": "drift",
            "status": "alert",
            "text": f"{d.n_drifted} of {d.n_columns} features drifted: {named}.",
        }

    def _prediction_drift_summary(self) -> list[dict[str, str]]:
        d = self.prediction_drift
        if d is None or not d.columns:
            return []
        if not d.drifted:
            names = ", ".join(c.column for c in d.columns)
            return [{"topic": "prediction drift", "status": "ok", "text": f"No drift in {names}."}]
        named = ", ".join(f"{c.column} ({c.method} {_num(c.value)})" for c in d if c.drifted)
        return [{"topic": "prediction drift", "status": "alert", "text": f"Drifted: {named}."}]

    def _quality_summary(self) -> dict[str, str]:
        issues = self.quality.issues
        if not issues:
            return {"topic": "data quality", "status": "ok", "text": "No data-quality issue."}
        errors = [i for i in issues if i.severity == "error"]
        first = (errors or issues)[0]
        text = f"{len(issues)} data-quality issue{'s' if len(issues) > 1 else ''}"
        if errors:
            text += f" ({len(errors)} error{'s' if len(errors) > 1 else ''})"
        return {
            "topic": "data quality",
            "status": "alert" if errors else "info",
            "text": f"{text}; first: {first.message}",
        }

    def _slice_summary(self) -> list[dict[str, str]]:
        result = self.slices_current
        if result is None:
            return []
        worst = self.worst_slices(1)
        overall = result.overall.value if result.overall is not None else None
        if not worst and overall is not None and result.higher_is_better is not None:
            ranked = result.worst(1)
            if not ranked:  # no slice has the support to be ranked
                return []
            side = "below" if result.higher_is_better else "above"
            text = (
                f"No slice is worse than overall: {result.metric} {_num(overall)} on all "
                f"{result.overall.n:,} rows, and no slice of {result.min_support:,} rows or "
                f"more {side} it."
            )
            return [{"topic": "slices", "status": "ok", "text": text}]
        if not worst:
            return []
        s = worst[0]
        text = f"Worst slice: {s.column} = {s.bin}, {result.metric} {_num(s.value)}"
        if s.shown_bound is not None:
            text += f" (within {_num(s.shown_bound)}: its scores share few bins)"
        if s.ci_low is not None:
            text += f" (CI {_num(s.ci_low)}-{_num(s.ci_high)})"
        text += f" on {s.n:,} rows"
        if overall is not None:
            text += f", against {_num(overall)} overall"
        reference = self.slices_reference.find(s.column, s.bin) if self.slices_reference else None
        if reference is not None and reference.value is not None:
            text += f" and {_num(reference.value)} in the reference"
        # an alert only for a drop beyond chance among every slice compared
        adjusted, compared = drop_p_values(result, self.slices_reference)
        p = adjusted.get((s.column, s.bin))
        alpha = self.drift.alpha if self.drift is not None else SLICE_ALPHA
        status = "info"
        weak_before = (
            reference is not None
            and reference.value is not None
            and s.ci_low is not None
            and s.ci_high is not None
            and s.ci_low <= reference.value <= s.ci_high
        )
        if p is not None and p < alpha:
            status = "alert"
            text += f" (p adjusted {_p(p)} over the {compared:,} slices compared)"
        elif weak_before:  # as weak in the reference: a known weak slice, not what changed
            text += " (the same within its interval: weak before too)"
        elif p is not None:
            text += f" (within chance over the {compared:,} slices compared: p adjusted {_p(p)})"
        return [{"topic": "slices", "status": status, "text": text + "."}]

    # -- plain data ----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable; :meth:`from_dict` reads it back."""

        def opt(result: Any) -> Any:
            return result.to_dict() if result is not None else None

        return {
            "format": FORMAT,
            "model": self.model,
            "task": self.task,
            "created_at": self.created_at.isoformat(),
            "reference": self.reference,
            "current": self.current,
            "primary_metric": self.primary_metric,
            "window": self.window,
            "summary": self.summary,
            "performance": {
                "reference": opt(self.performance_reference),
                "current": opt(self.performance_current),
                "over_time": opt(self.performance_over_time),
            },
            "drift": self.drift.to_dict(),
            "prediction_drift": opt(self.prediction_drift),
            "quality": self.quality.to_dict(),
            "slices": {
                "current": opt(self.slices_current),
                "reference": opt(self.slices_reference),
            },
            "timings": self.timings,
        }

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Report:
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            got = data.get("format") if isinstance(data, Mapping) else data
            raise ParameterError("report data", f"a dict with format {FORMAT}", got)
        perf, sl = data["performance"], data["slices"]

        def opt(kind: Any, value: Any) -> Any:
            return kind.from_dict(value) if value is not None else None

        return cls(
            model=data["model"],
            task=data["task"],
            reference=dict(data["reference"]),
            current=dict(data["current"]),
            primary_metric=data["primary_metric"],
            window=data["window"],
            performance_reference=opt(PerformanceResult, perf["reference"]),
            performance_current=opt(PerformanceResult, perf["current"]),
            performance_over_time=opt(PerformanceResult, perf["over_time"]),
            drift=DriftResult.from_dict(data["drift"]),
            prediction_drift=opt(DriftResult, data.get("prediction_drift")),
            quality=QualityResult.from_dict(data["quality"]),
            slices_current=opt(SliceResult, sl["current"]),
            slices_reference=opt(SliceResult, sl["reference"]),
            created_at=datetime.fromisoformat(data["created_at"]),
            timings=dict(data.get("timings", {})),
        )

    # -- renderers -----------------------------------------------------------------------------

    def to_markdown(self) -> str:
        """The report as Markdown (summary, tables; no charts)."""
        from evalstore.render.markdown import report_markdown

        return report_markdown(self)

    def to_html(self) -> str:
        """One self-contained HTML page (plotly.js inlined from the installed package)."""
        from evalstore.render.html import report_html

        return report_html(self)

    def save_html(self, path: str | Path) -> Path:
        """Write :meth:`to_html` to ``path``; returns the path."""
        out = Path(path)
        out.write_text(self.to_html(), encoding="utf-8")
        return out

    def save_markdown(self, path: str | Path) -> Path:
        out = Path(path)
        out.write_text(self.to_markdown(), encoding="utf-8")
        return out

    def _repr_html_(self) -> str:  # Jupyter
        from evalstore.render.html import report_html

        return report_html(self, full_page=False)

    def __repr__(self) -> str:
        lines = [f"Report({self.model}: {self.reference['label']} -> {self.current['label']})"]
        lines += [f"  [{item['status']}] {item['text']}" for item in self.summary]
        return "\n".join(lines)


def _p(p: float) -> str:
    """A p-value as a headline reads it: 3 digits, and below 1e-15 as such (the normal
    tail underflows to 0 far out)."""
    return _num(p) if p >= 1e-15 else "below 1e-15"


def _times(k: int) -> str:
    return {2: "twice", 3: "three times"}.get(k, f"{k} times")


def _duplicate_ids_note(reference: Mapping[str, Any]) -> str | None:
    """The note on a reference whose rows repeat prediction ids (``Report.reference``: its
    ``rows``, ``prediction_ids`` and ``versions``), with what to pass to use each id once."""
    rows, ids = reference.get("rows"), reference.get("prediction_ids")
    if not rows or not ids or rows <= ids:
        return None
    text = f"The reference holds {rows:,} rows for {ids:,} prediction ids"
    versions: Mapping[str, Mapping[str, int]] = reference.get("versions") or {}
    names = list(versions)
    within = any(v["rows"] > v["ids"] for v in versions.values())
    if len(names) > 1 and not within:
        listed = ", ".join(names)
        if all(v["ids"] == ids for v in versions.values()):
            text += (
                f": each id is scored by {len(names)} versions ({listed}), so drift "
                f"significance counts each {_times(len(names))}"
            )
        else:
            text += (
                f": ids are scored by up to {len(names)} versions ({listed}), so drift "
                f"significance counts {rows - ids:,} of them more than once"
            )
        # the version that holds the most ids, the latest of equals
        one = max(reversed(names), key=lambda v: versions[v]["ids"])
        return f"{text}; pass reference=dict(..., version={one!r}) to use one."
    text += (
        ": the same ids are in more than one environment"
        + (" or version" if len(names) > 1 else "")
        + ", so drift significance counts them more than once; select one environment "
        "and version for the reference (reference=dict(environment=..., version=...))."
    )
    return text


def _no_value_text(metric: str, row: Mapping[str, Any] | None, rows: int) -> str:
    """Why the current data has no ``metric``, as its counts say: no actual yet, no
    prediction the metric can use, or a value undefined on the rows it used."""
    missing = int((row or {}).get("n_without_actual") or 0)
    used = int((row or {}).get("n") or 0)
    if row is None or missing >= rows:
        return (
            f"No {metric} for the current data: none of its {rows:,} rows has an actual "
            "yet. Log them with model.log_actuals(...)."
        )
    known = rows - missing
    if not used:
        needs = get_metric(metric).needs
        what = "scores" if "score" in needs else "predicted labels or scores"
        return (
            f"No {metric} for the current data: none of its {known:,} rows with an actual "
            f"has the {what} it needs. Log them with the inferences (Schema(...))."
        )
    return (
        f"No {metric} for the current data: it is undefined on the {used:,} rows it used "
        "(e.g. every actual is of one class)."
    )


def _overall(result: PerformanceResult | None, metric: str) -> dict[str, Any] | None:
    if result is None:
        return None
    for row in result.rows:
        if row["metric"] == metric:
            return row
    return None


def _num(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


# -- building --------------------------------------------------------------------------------


ReferenceArg = "Dataset | Baseline | str | Mapping[str, Any]"


def _stored_slices(
    fitted: Baseline, metric: str, columns: Sequence[str] | None, positive_class: Any
) -> SliceResult | None:
    """The baseline's own slices of ``metric`` on ``columns`` (None: all it has) for
    ``positive_class``, or None when it holds no such slices."""
    found = fitted.slices_
    if (
        found is None
        or found.get("metric") != metric
        or found.get("positive_class") != positive_class
    ):
        return None
    stored = SliceResult.from_dict(found)
    if columns is None:
        return stored
    if not set(columns) <= set(stored.columns):
        return None
    keep = set(columns)
    return replace(
        stored,
        columns=[c for c in stored.columns if c in keep],
        rows=[r for r in stored.rows if r.column in keep],
        binnings={c: b for c, b in stored.binnings.items() if c in keep},
    )


def _span(ds: Dataset) -> tuple[int, datetime | None, datetime | None]:
    t = query_table(ds)
    row = ds.execute(
        t.aggregate(n=t.count(), first=t.timestamp.min(), last=t.timestamp.max())
    ).to_pylist()[0]
    return int(row["n"] or 0), row["first"], row["last"]


def build_report(
    model: Model,
    reference: Dataset | Baseline,
    current: Dataset,
    *,
    metrics: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
    window: str | None = None,
    slice_columns: Sequence[str] | None = None,
    min_support: int = 30,
    progress: bool | None = None,
    positive_class: Any = None,
) -> Report:
    """Compute a :class:`Report` (use ``Model.report``, which resolves its arguments)."""
    if window is not None and window not in TIME_WINDOWS:
        raise ParameterError(
            "window",
            f"None or one of {list(TIME_WINDOWS)}",
            window,
            did_you_mean(str(window), TIME_WINDOWS).strip(),
        )
    # checked now, not when the slices run: a report without actuals has none
    min_support = whole_number("min_support", min_support)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 4)
        clock = now

    with ExitStack() as stack:
        step = stack.enter_context(progress_steps(f"report {model.name}", 6, progress))
        step("reading the current data")
        n_current, first, last = _span(current)
        if n_current == 0:
            raise ParameterError(
                "current",
                "a selection with rows",
                f"no rows for {Selector.of(current).describe()}",
                "Check its environment, version, dates and filter (model.info() shows "
                "what the store holds).",
            )
        lap("span")
        baseline_ref: dict[str, Any] | None = None
        fitted: Baseline | None = None
        if isinstance(reference, Baseline):
            baseline = reference
            if positive_class is None:
                positive_class = reference.positive_class
            ref_ds, fitted = reference.reference_for(model, current, positive_class)
            baseline_ref = {
                "name": baseline.name,
                "version": baseline.version,
                "moving_days": baseline.moving_days,
            }
        else:
            ref_ds = reference
        task = model.task
        primary = primary_metric(task, has_scores(current))
        chosen = list(metrics) if metrics is not None else None
        if chosen is not None and primary not in chosen:
            primary = chosen[0]
        window = window or auto_window(first, last)
        wanted = list(slice_columns) if slice_columns is not None else None

        step("fitting the baseline")
        if fitted is None:
            fitted = fit_baseline(
                ref_ds,
                "reference",
                columns=columns,
                slice_columns=wanted,
                positive_class=positive_class,
                what="reference",
            )
            baseline = fitted
        # kept with the baseline's artifacts; only a baseline stored before asks the rows
        ids = fitted.prediction_ids_ or prediction_ids(ref_ds)
        lap("baseline")
        features = list(columns) if columns is not None else feature_columns(current)
        features = [c for c in features if c in fitted.binnings_]
        predicted = [c for c in prediction_columns(current) if c in fitted.binnings_]

        # the drift and the data quality read the current rows beside the performance and
        # the slices (each from its own cursor): a window's queries (its rows a row group or
        # two) keep one core busy each
        def timed(name: str, compute: Callable[[], T]) -> Callable[[], T]:
            def run() -> T:
                started = time.perf_counter()
                try:
                    return compute()
                finally:
                    timings[name] = round(time.perf_counter() - started, 4)

            return beside(current, run)

        def drifts() -> tuple[DriftResult, DriftResult | None]:
            """The features' and the predictions' drift (each family with its own false
            discovery rate), from one scan of the current rows."""
            if features and predicted:
                both = drift_families(
                    ref_ds, current, [features, predicted], binnings=fitted.binnings_
                )[0]
                return both[0], both[1]
            found = drift(ref_ds, current, features, binnings=fitted.binnings_)
            if not predicted:
                return found, None
            return found, drift(ref_ds, current, predicted, binnings=fitted.binnings_)

        later_drift = timed("drift", drifts)
        # the positive class as given: without one, integer labels other than 0/1 are not
        # checked against the scores (as quality() does)
        later_quality = timed(
            "quality",
            lambda: quality(
                current, expectations=fitted.expectations_, positive_class=positive_class
            ),
        )

        step("performance")
        perf_cur = performance(current, chosen, positive_class=positive_class)
        # the positive class as the labels type it (None but for binary models)
        positive = perf_cur.positive_class
        perf_ref: PerformanceResult | None = None
        stored = fitted.performance_
        if stored is not None:
            # the baseline's performance is reused when it measured the same metrics of the
            # same positive class
            if chosen is None and stored.get("positive_class") == positive:
                perf_ref = PerformanceResult.from_dict(stored)
            else:
                perf_ref = performance(ref_ds, chosen, positive_class=positive)
        # per window, the AUC's histogram is sorted per group: the coarser slice bins
        over_time = performance(
            current, [primary], by=window, score_bins=SCORE_BINS, positive_class=positive
        )
        lap("performance")

        step("slices")
        slice_names = wanted if wanted is not None else features
        slice_bins = {c: fitted.binnings_[c] for c in slice_names if c in fitted.binnings_}
        cur_slices = ref_slices = None
        if slice_names and perf_cur.rows and any(r["n"] for r in perf_cur.rows):
            cur_slices = slices(
                current,
                primary,
                columns=slice_names,
                binnings=slice_bins,
                min_support=min_support,
                positive_class=positive,
            )
            if perf_ref is not None:
                ref_slices = _stored_slices(fitted, primary, slice_names, positive)
                if ref_slices is None:
                    ref_slices = slices(
                        ref_ds,
                        primary,
                        columns=slice_names,
                        binnings=slice_bins,
                        min_support=min_support,
                        positive_class=positive,
                    )
        lap("slices")
        step("drift")
        feature_drift, prediction_drift = later_drift()
        step("data quality")
        checked = later_quality()
        lap("waiting")

    # a baseline's own selection (its rows may be pinned to a batch: not a stored filter)
    ref_selector = fitted.selector if baseline_ref else Selector.of(ref_ds)
    return Report(
        model=model.name,
        task=task.value,
        reference={
            "label": baseline.label if baseline_ref else ref_selector.describe(),
            "selector": ref_selector.to_dict(),
            "rows": fitted.n_rows_,
            "baseline": baseline_ref,
            "prediction_ids": ids["ids"],
            "versions": ids["versions"],
        },
        current={
            "label": Selector.of(current).describe(),
            "selector": Selector.of(current).to_dict(),
            "rows": n_current,
            "first": first.isoformat() if first else None,
            "last": last.isoformat() if last else None,
        },
        primary_metric=primary,
        window=window,
        performance_reference=perf_ref,
        performance_current=perf_cur,
        performance_over_time=over_time,
        drift=feature_drift,
        prediction_drift=prediction_drift,
        quality=checked,
        slices_current=cur_slices,
        slices_reference=ref_slices,
        timings=timings,
    )
