"""Baselines: a named reference selection and the artifacts fitted on it once, stored, versioned.

::

    base = model.create_baseline("training", environment="training", version="v1")
    base.binnings["age"].labels          # the frozen bins drift, slices and charts use
    model.report(reference="training", current=model.dataset(environment="production"))
    model.baseline("training", version=1)   # exactly the bins an earlier result used

A **fixed** baseline (training, validation, a production window) is fitted once when it is
created: bins of every feature, tag and prediction column (:mod:`.binning`), the
data-quality expectations (:mod:`.quality`), the reference performance and row count.
A binary model with text labels needs its positive class to measure performance
(``create_baseline(..., positive_class="yes")``); the baseline keeps it, and reports against
it use it unless told another.
Comparing a new current window against it reads only that window: the reference is never
scanned again, so each window costs time in proportion to its own size.

A **moving** baseline (``moving_days=7``: the 7 days before the current data's first
timestamp, with the same environment, version and filter) cannot be fitted in advance; its
artifacts are fitted when it is used and kept for the life of the object, per window.

Every ``create_baseline`` with an existing name stores a new version (1, 2, ...); older
versions stay readable, and a report names the version it was computed against.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from evalstore.analyses.binning import Binning, feature_columns, fit_binnings
from evalstore.dataset import query_table
from evalstore.errors import ParameterError
from evalstore.schema import Task
from evalstore.selection import span_text

if TYPE_CHECKING:
    from evalstore.analyses.quality import Expectations
    from evalstore.dataset import Dataset
    from evalstore.sdk import Model

__all__ = [
    "PREDICTION_COLUMNS",
    "Baseline",
    "Selector",
    "fit_baseline",
    "prediction_columns",
    "prediction_ids",
    "primary_metric",
]

#: the prediction and actual columns that are binned (for prediction and actual drift)
PREDICTION_COLUMNS = ("prediction_score", "prediction_label", "actual_label", "actual_score")
#: format of ``Baseline.to_dict``
FORMAT = 1
#: the longest moving window: a hundred years (longer ones reach before year 1)
MAX_MOVING_DAYS = 36_525


def prediction_columns(dataset: Dataset) -> list[str]:
    """The prediction and actual columns the dataset has (class scores included)."""
    names = dataset.table.columns
    return [c for c in names if c in PREDICTION_COLUMNS or c.startswith("prediction_score:")]


def primary_metric(task: Task, has_score: bool) -> str:
    """The metric a report follows over time and across slices: ROC AUC for a scored
    binary model, else accuracy; MAE for regression."""
    if task is Task.REGRESSION:
        return "mae"
    if task is Task.BINARY_CLASSIFICATION and has_score:
        return "roc_auc"
    return "accuracy"


def has_scores(dataset: Dataset) -> bool:
    """Whether the dataset has prediction scores (class scores included)."""
    names = dataset.table.columns
    return any(c == "prediction_score" or c.startswith("prediction_score:") for c in names)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


@dataclass(frozen=True)
class Selector:
    """Which rows of a model: environments, versions, time range (start inclusive, end
    exclusive, UTC) and a filter ``{column: value or values}``. Plain data, so that a
    baseline or a report can name exactly what it compared."""

    environment: tuple[str, ...] | None = None
    version: tuple[str, ...] | None = None
    start: datetime | None = None
    end: datetime | None = None
    where: Mapping[str, Any] | None = None

    @classmethod
    def of(cls, dataset: Dataset) -> Selector:
        """The selector of ``dataset``; its filter must be a dict to be stored."""
        where = dataset.where
        if where is not None and not isinstance(where, Mapping):
            raise ParameterError(
                "where",
                "a dict of column -> value(s) for a stored baseline or report",
                where,
                "Functions and ibis expressions cannot be stored; "
                'filter with a dict such as {"region": "EU"}.',
            )
        return cls(
            environment=tuple(dataset.environments) if dataset.environments else None,
            version=tuple(dataset.versions) if dataset.versions else None,
            start=dataset.start,
            end=dataset.end,
            where=dict(where) if where is not None else None,
        )

    def dataset(self, model: Model, **changes: Any) -> Dataset:
        """The rows this selector picks from ``model`` (``changes`` override fields)."""
        args: dict[str, Any] = {
            "environment": list(self.environment) if self.environment else None,
            "version": list(self.version) if self.version else None,
            "start": self.start,
            "end": self.end,
            "where": dict(self.where) if self.where is not None else None,
        }
        args.update(changes)
        return model.dataset(**args)

    def describe(self) -> str:
        """``environment=training, version=v1, 2024-01-01 00:00 .. 2024-02-01 00:00``."""
        parts = []
        if self.environment:
            parts.append(f"environment={','.join(self.environment)}")
        if self.version:
            parts.append(f"version={','.join(self.version)}")
        if self.start or self.end:
            fmt = "%Y-%m-%d %H:%M"
            lo = self.start.strftime(fmt) if self.start else None
            hi = self.end.strftime(fmt) if self.end else None
            parts.append(span_text(lo, hi))
        for column, value in (self.where or {}).items():
            parts.append(f"{column}={value}")
        return ", ".join(parts) or "all rows"

    def to_dict(self) -> dict[str, Any]:
        return {
            "environment": list(self.environment) if self.environment else None,
            "version": list(self.version) if self.version else None,
            "start": _iso(self.start),
            "end": _iso(self.end),
            "where": _plain_where(self.where),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Selector:
        env, version = data.get("environment"), data.get("version")
        return cls(
            environment=tuple(env) if env else None,
            version=tuple(version) if version else None,
            start=_time(data.get("start")),
            end=_time(data.get("end")),
            where=data.get("where"),
        )


def _plain_where(where: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if where is None:
        return None
    out: dict[str, Any] = {}
    for column, value in where.items():
        if hasattr(value, "tolist"):
            value = value.tolist()
        elif isinstance(value, (set, frozenset, tuple)):
            value = sorted(value, key=str)
        out[str(column)] = value
    return out


@dataclass
class Baseline:
    """A named reference selection and what was fitted on it (see the module doc).

    Fitted state ends in ``_``: ``binnings_`` (column -> fitted :class:`~.binning.Binning`),
    ``expectations_`` (data quality), ``performance_`` (the reference's performance, plain
    data), ``n_rows_`` and ``prediction_ids_`` (:func:`prediction_ids`). A moving baseline
    has none stored: see :meth:`reference_for`.

    ``positive_class``: the label the performance counts as positive (binary models; None:
    ``True`` / ``1``, the default of boolean / integer labels). Reports against the baseline
    use it unless given another.
    """

    name: str
    selector: Selector = field(default_factory=Selector)
    moving_days: int | None = None
    columns: tuple[str, ...] | None = None
    positive_class: str | int | bool | None = None
    version: int | None = None
    """set once stored: 1 for the first fit of this name, then 2, ..."""
    created_at: datetime | None = None
    binnings_: dict[str, Binning] = field(default_factory=dict)
    expectations_: Expectations | None = None
    performance_: dict[str, Any] | None = None
    slices_: dict[str, Any] | None = None
    """the reference's slices of its primary metric (plain data of a SliceResult)"""
    n_rows_: int | None = None
    prediction_ids_: dict[str, Any] | None = None
    """the distinct prediction ids of the rows, in all and per version (:func:`prediction_ids`);
    None in baselines stored before it was kept"""
    through_batch: int | None = None
    """the last batch the rows were fitted on were logged in: a fixed baseline's rows are
    its selection's rows of that batch or an earlier one, so that it is measured again on
    the same rows however many are logged later (None: its selection as it is, as in
    baselines stored before it was kept)"""
    _moving_cache: dict[tuple[datetime, Any], Baseline] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        md = self.moving_days
        if md is not None and (
            isinstance(md, bool) or not isinstance(md, int) or not 1 <= md <= MAX_MOVING_DAYS
        ):
            raise ParameterError(
                "moving_days", f"None or a whole number of days from 1 to {MAX_MOVING_DAYS}", md
            )

    def __repr__(self) -> str:
        from evalstore.render.tables import baseline_line

        return baseline_line(self)

    @property
    def is_moving(self) -> bool:
        return self.moving_days is not None

    @property
    def is_fitted(self) -> bool:
        return bool(self.binnings_) or self.n_rows_ is not None

    @property
    def label(self) -> str:
        """``training v2`` or ``last-week (moving, 7 days)``."""
        if self.is_moving:
            return f"{self.name} (moving, {self.moving_days} days)"
        return f"{self.name} v{self.version}" if self.version else self.name

    def reference_for(
        self, model: Model, current: Dataset, positive_class: Any = None
    ) -> tuple[Dataset, Baseline]:
        """The reference rows to compare ``current`` with, and the fitted baseline to use.

        Fixed: the selector's rows and this baseline. Moving: the ``moving_days`` before
        the first timestamp of ``current`` (its ``start``, else its earliest row), fitted
        on first use -- with ``positive_class``, else the baseline's -- and cached per
        window start and positive class.
        """
        if not self.is_moving:
            return self.rows(model), self
        first = current.start
        if first is None:
            t = query_table(current)
            first = current.execute(t.timestamp.min().name("first")).column(0)[0].as_py()
        if first is None:
            raise ParameterError("current", "a dataset with rows for a moving baseline", "no rows")
        try:
            start = first - timedelta(days=self.moving_days or 0)
        except OverflowError:
            raise ParameterError(
                "moving_days",
                f"a window that starts after year 1 (the current data start on {first})",
                self.moving_days,
            ) from None
        reference = self.selector.dataset(model, start=start, end=first)
        positive = positive_class if positive_class is not None else self.positive_class
        fitted = self._moving_cache.get((start, positive))
        if fitted is None:
            window = Selector.of(reference)
            if reference.count() == 0:
                raise self._empty_window(first, start)
            fitted = fit_baseline(
                reference, self.name, window, columns=self.columns, positive_class=positive
            )
            self._moving_cache[start, positive] = fitted
        return reference, fitted

    def rows(self, model: Model) -> Dataset:
        """The rows a fixed baseline was fitted on: its selection's, as of the batch it was
        fitted after (rows logged since in its environments and versions, or replacing
        its rows, are not its rows; actuals that arrived since are read). A reference
        measured again (another positive class, say) gave 60,000 rows' numbers for a
        baseline of 50,000 once 10,000 more training rows were logged."""
        pinned = self.through_batch
        if pinned is None or not any(
            b["batch_id"] > pinned
            and b["kind"] == "inferences"
            and (not self.selector.environment or b["environment"] in self.selector.environment)
            and (not self.selector.version or b["version"] in self.selector.version)
            for b in model.batches()
        ):
            return self.selector.dataset(model)  # the same rows, and the store's profiles
        from evalstore.dataset import Dataset

        where = self.selector.where

        def through(t: Any) -> Any:
            keep = t["batch_id"] <= pinned
            return keep & Dataset._predicate(t, where) if where is not None else keep

        return self.selector.dataset(model, where=through)

    def _empty_window(self, first: datetime, start: datetime) -> ParameterError:
        """The error for a moving window without rows: which days those are, and what to
        do (a later current start, whose window then holds the current data's first day,
        or a fixed baseline)."""
        days = self.moving_days or 0
        rows = self.selector.describe()
        of = "" if rows == "all rows" else f" of {rows}"
        later = (first + timedelta(days=days)).date().isoformat()
        fmt = "%Y-%m-%d %H:%M"
        return ParameterError(
            "reference",
            "a baseline with rows to compare against",
            self.label,
            f"Moving baseline {self.name!r} is the {days} days before the current data's "
            f"first row: {span_text(start.strftime(fmt), first.strftime(fmt))}, and those "
            f"days hold no rows{of}. Give current a later start (start={later} or later) so that "
            "the days before it hold rows, or compare against a fixed baseline. Create one "
            "with model.create_baseline(name, environment=...).",
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data: what was selected, when it was fitted, and every artifact."""
        return {
            "format": FORMAT,
            "name": self.name,
            "version": self.version,
            "created_at": _iso(self.created_at),
            "selector": self.selector.to_dict(),
            "moving_days": self.moving_days,
            "columns": list(self.columns) if self.columns is not None else None,
            "positive_class": self.positive_class,
            "n_rows": self.n_rows_,
            "prediction_ids": self.prediction_ids_,
            "through_batch": self.through_batch,
            "binnings": {name: b.to_dict() for name, b in self.binnings_.items()},
            "expectations": self.expectations_.to_dict() if self.expectations_ else None,
            "performance": self.performance_,
            "slices": self.slices_,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Baseline:
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            got = data.get("format") if isinstance(data, Mapping) else data
            raise ParameterError("Baseline data", f"a dict with format {FORMAT}", got)
        columns = data.get("columns")
        base = cls(
            name=str(data["name"]),
            selector=Selector.from_dict(data.get("selector") or {}),
            moving_days=data.get("moving_days"),
            columns=tuple(columns) if columns is not None else None,
            positive_class=data.get("positive_class"),  # absent from older baselines
            version=data.get("version"),
            created_at=_time(data.get("created_at")),
        )
        base.binnings_ = {n: Binning.from_dict(b) for n, b in data.get("binnings", {}).items()}
        if data.get("expectations") is not None:
            from evalstore.analyses.quality import Expectations

            base.expectations_ = Expectations.from_dict(data["expectations"])
        base.performance_ = data.get("performance")
        base.slices_ = data.get("slices")
        base.n_rows_ = data.get("n_rows")
        base.prediction_ids_ = data.get("prediction_ids")  # absent from older baselines
        base.through_batch = data.get("through_batch")  # absent from older baselines
        return base


def fit_baseline(
    reference: Dataset,
    name: str,
    selector: Selector | None = None,
    *,
    columns: Sequence[str] | None = None,
    moving_days: int | None = None,
    slice_columns: Sequence[str] | None = None,
    positive_class: Any = None,
    what: str = "baseline",
) -> Baseline:
    """Fit a baseline on ``reference``: bins of ``columns`` (default every feature and tag,
    plus the prediction and actual columns), data-quality expectations, and when it has
    actuals the reference performance and the slices of its primary metric on
    ``slice_columns`` (default the binned features), counting ``positive_class`` as the
    positive label (binary models; text labels without one get no performance). A moving
    baseline is returned unfitted. ``what``: the argument a reference without rows is
    refused as (a report's ``reference``)."""
    from evalstore.analyses.metrics._inputs import lacks_positive_class
    from evalstore.analyses.performance import performance
    from evalstore.analyses.quality import learn_expectations

    base = Baseline(
        name=name,
        selector=selector if selector is not None else Selector.of(reference),
        moving_days=moving_days,
        columns=tuple(columns) if columns is not None else None,
        positive_class=_positive_class(reference, positive_class),
    )
    if base.is_moving:
        return base
    t = query_table(reference)
    counts = {"n": t.count(), "last": t["batch_id"].max()}
    if _may_repeat(reference):
        counts["ids"] = t.prediction_id.nunique()
    (found,) = reference.execute(t.aggregate(**counts)).to_pylist()
    n, base.through_batch = int(found["n"]), found["last"]
    base.prediction_ids_ = _per_version(reference, n, int(found.get("ids", n) or 0))
    if n == 0:
        raise ParameterError(
            what,
            "fitted on a selection with rows" if what == "baseline" else "a selection with rows",
            f"no rows for {base.selector.describe()}",
            "Check its environment, version, dates and filter (model.info() shows "
            "what the store holds).",
        )
    names = list(columns) if columns is not None else feature_columns(reference)
    names += [c for c in prediction_columns(reference) if c not in names]
    base.binnings_ = fit_binnings(reference, names)
    base.expectations_ = learn_expectations(reference, columns=names)
    base.n_rows_ = n
    if lacks_positive_class(query_table(reference), reference.task, base.positive_class):
        # text labels without a positive class: no performance to measure, but the bins
        # and expectations drift and quality need (create_baseline and report refuse
        # earlier, naming positive_class)
        return base
    result = performance(reference, positive_class=base.positive_class)
    if any(row["n"] for row in result.rows):
        base.performance_ = result.to_dict()
        from evalstore.analyses.slices import slices

        task = reference.task or Task.parse(result.task)
        sliced = [c for c in (slice_columns or feature_columns(reference)) if c in base.binnings_]
        if sliced:
            metric = primary_metric(task, has_scores(reference))
            bins = {c: base.binnings_[c] for c in sliced}
            base.slices_ = slices(
                reference, metric, columns=sliced, binnings=bins, positive_class=base.positive_class
            ).to_dict()
    return base


def prediction_ids(reference: Dataset) -> dict[str, Any]:
    """How many distinct prediction ids the rows of ``reference`` hold, against its rows:
    ``{"rows", "ids", "versions"}``, ``versions`` being ``{version: {"rows", "ids"}}`` when
    an id is in more than one row (a training set scored by two versions), else None.

    A store keeps one row per (version, environment, prediction_id), so an id repeats only
    across versions or environments; drift then counts it once per row. One aggregate in the
    engine (count against count distinct), and one more per version when ids repeat; a
    baseline keeps the answer with its artifacts (``fit_baseline``), so reports against it
    never ask again.

    >>> prediction_ids(model.dataset(environment="training"))  # doctest: +SKIP
    {'rows': 58000, 'ids': 29000, 'versions': {'v1': {...}, 'v2': {...}}}
    """
    t = query_table(reference)
    if not _may_repeat(reference):
        n = reference.count()
        return _per_version(reference, n, n)
    (found,) = reference.execute(
        t.aggregate(n=t.count(), ids=t.prediction_id.nunique())
    ).to_pylist()
    return _per_version(reference, int(found["n"]), int(found["ids"] or 0))


def _may_repeat(reference: Dataset) -> bool:
    """Whether an id can be in more than one row of ``reference``: only across (environment,
    version) pairs (the store keeps one row per pair and id), so only where it holds two
    (from the store's batches: no count of distinct ids, 0.1-0.3 s on 1M rows)."""
    envs, versions = reference.environments, reference.versions
    held = [
        pair
        for pair in reference._store.pairs(reference.model_id)
        if (envs is None or pair[0] in envs) and (versions is None or pair[1] in versions)
    ]
    return len(held) > 1


def _per_version(reference: Dataset, rows: int, ids: int) -> dict[str, Any]:
    versions = None
    if rows > ids:  # an id in more than one row: which versions hold them
        t = query_table(reference)
        grouped = t.group_by("version").aggregate(rows=t.count(), ids=t.prediction_id.nunique())
        versions = {
            str(r["version"]): {"rows": int(r["rows"]), "ids": int(r["ids"])}
            for r in sorted(reference.execute(grouped).to_pylist(), key=lambda r: r["version"])
        }
    return {"rows": rows, "ids": ids, "versions": versions}


def _positive_class(reference: Dataset, value: Any) -> str | int | bool | None:
    """``value`` as a baseline stores it (plain JSON data), checked against the labels."""
    if value is None:
        return None
    from evalstore.analyses.metrics._inputs import binary_only, resolve_positive_class

    binary_only(reference.task, value, None)

    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # a NumPy scalar
    found: str | int | bool = resolve_positive_class(query_table(reference), value)
    return found
