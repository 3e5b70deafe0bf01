"""A page's state: what the store holds for a model (:class:`Facts`, one GROUP BY per
generation) and the view its URL asks for, resolved against them (:func:`resolve`): every
field given or defaulted, every bad parameter a :class:`~evalstore.errors.ParameterError`.

Nothing here reads rows: :mod:`.views` computes the facts and the analyses of a view.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from evalstore.analyses.metrics import available_metrics
from evalstore.analyses.report import auto_window, primary_metric
from evalstore.dataset import as_timestamp
from evalstore.errors import ParameterError, did_you_mean
from evalstore.ingest.plan import ENVIRONMENTS
from evalstore.schema import Task

__all__ = [
    "ACTUAL_COLUMNS",
    "FULL_RANGE_ROWS",
    "RECENT_DAYS",
    "WINDOWS",
    "Facts",
    "View",
    "Volume",
    "day_text",
    "resolve",
    "window_count",
]

#: a selection up to this many rows is shown whole by default; a larger one, its last days
FULL_RANGE_ROWS = 1_000_000
RECENT_DAYS = 7
#: windows of the UI (performance over time, drift over time, data quality)
WINDOWS = ("hour", "day", "week", "month")
#: the most windows a view may have: a chart over time of more points is unreadable, and
#: its page slow (a year by the hour on the demo: 8,760 points per feature, 3.8 MB and 3-6 s)
MAX_WINDOWS = 1000
#: days per window, a month at its shortest (so that a count is never under the real one)
_WINDOW_DAYS = {"hour": 1 / 24, "day": 1.0, "week": 7.0, "month": 28.0}
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
    windows: tuple[str, ...] = WINDOWS
    """the windows of at most ``MAX_WINDOWS`` points over the range (the others are
    offered disabled)"""

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


def resolve(facts: Facts, query: Mapping[str, str]) -> View:
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
    allowed = tuple(w for w in WINDOWS if window_count(start, end, w) <= MAX_WINDOWS)
    allowed = allowed or WINDOWS[-1:]  # months, however many: a range of over 75 years
    if window not in allowed:
        days = (end - start).total_seconds() / 86400
        longest = int(MAX_WINDOWS * _WINDOW_DAYS[window])
        raise ParameterError(
            "window",
            f"a window of at most {MAX_WINDOWS:,} points over {days:,.0f} days",
            window,
            f"Per {window} that is about {window_count(start, end, window):,} points: pick "
            f"window={allowed[0]}, or a range of at most {longest:,} days.",
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
    reference = _reference_name(facts, env, given.get("reference"))
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
        windows=allowed,
    )


def window_count(start: datetime, end: datetime, window: str) -> int:
    """About how many windows of ``window`` the range ``[start, end)`` spans (never fewer:
    a month counts as 28 days, and a partial window at each edge as one)."""
    days = (end - start).total_seconds() / 86400
    return int(days / _WINDOW_DAYS[window]) + 2


def _reference_name(facts: Facts, env: str, given: str | None) -> str | None:
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
    # the latest created fixed baseline; a moving one compares each range with the days
    # before it, which the default range (all of the data, or its last days) may not have
    fixed = [b["name"] for b in facts.baselines if not b.get("moving")]
    if fixed:
        return str(fixed[-1])
    for candidate in ("training", "validation"):
        if candidate in facts.environments and candidate != env:
            return candidate
    return names[-1] if names else None  # moving ones only: the latest
