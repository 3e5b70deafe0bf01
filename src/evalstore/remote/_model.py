"""``RemoteModel``: a model of an evalstore server, with the API of the embedded ``Model``;
its analyses run in the server and come back as the embedded Result types."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from evalstore.errors import ParameterError, UnmatchedActualsWarning, unmatched_actuals
from evalstore.ingest.sources import open_source
from evalstore.remote._dataset import RemoteDataset
from evalstore.remote._params import (
    Params,
    _dataset_args,
    _dataset_params,
    _jsonable,
    _many,
    _model_info,
    _parse_time,
    _scalar,
    _selection,
)
from evalstore.schema import Schema, Task
from evalstore.sdk import ModelInfo, check_environment, check_name
from evalstore.store.base import BatchReport

if TYPE_CHECKING:
    from evalstore.analyses.baseline import Baseline
    from evalstore.analyses.drift import DriftOverTime, DriftResult
    from evalstore.analyses.performance import PerformanceResult
    from evalstore.analyses.quality import QualityResult
    from evalstore.analyses.report import Report
    from evalstore.analyses.slices import SliceResult
    from evalstore.remote._store import RemoteStore

__all__ = ["RemoteModel"]


class RemoteModel:
    """A model of an evalstore server. Get it with ``es.connect(url).model(name)``."""

    def __init__(self, store: RemoteStore, name: str, task: Task) -> None:
        self._store = store
        self._name = name
        self._task = task

    @property
    def name(self) -> str:
        return self._name

    @property
    def task(self) -> Task:
        return self._task

    def __repr__(self) -> str:
        return f"RemoteModel(name={self.name!r}, task={self.task.value!r}, url={self._store.url!r})"

    def log(
        self,
        data: Any,
        *,
        schema: Schema,
        version: str,
        environment: str,
        progress: bool | None = None,
    ) -> BatchReport:
        """Log a batch of inferences, all or nothing: as ``Model.log``, through the server."""
        if not isinstance(schema, Schema):
            raise ParameterError(
                "schema",
                "an evalstore.Schema",
                type(schema).__name__,
                "Build one with es.Schema(prediction_id=..., ...).",
            )
        check_name(version, "version")
        environment = check_environment(environment)
        source = open_source(data)
        start = {
            "kind": "inferences",
            "schema": schema.to_dict(),
            "version": version,
            "environment": environment,
            "source": source.name,
        }
        return self._store._upload(
            self.name, start, source, progress, f"logging {self.name} {version}"
        )

    def log_actuals(
        self,
        data: Any,
        *,
        prediction_id: str,
        actual: str,
        environment: str = "production",
        progress: bool | None = None,
    ) -> BatchReport:
        """Log actual outcomes: as ``Model.log_actuals``, through the server."""
        environment = check_environment(environment)
        source = open_source(data)
        start = {
            "kind": "actuals",
            "prediction_id": prediction_id,
            "actual": actual,
            "environment": environment,
            "source": source.name,
        }
        report = self._store._upload(self.name, start, source, progress, f"actuals for {self.name}")
        if report.elsewhere:  # as the embedded store warns
            said = unmatched_actuals(report.rows, environment, report.elsewhere)
            warnings.warn(said, UnmatchedActualsWarning, stacklevel=2)
        return report

    def info(self) -> ModelInfo:
        """Rows per environment, how many have actuals, time range, versions, batches."""
        return _model_info(self._store._request("GET", f"/models/{self.name}").json())

    def versions(self) -> list[str]:
        """Versions with at least one committed batch, oldest first."""
        versions: list[str] = self._store._request("GET", f"/models/{self.name}/versions").json()
        return versions

    def batches(self) -> list[dict[str, Any]]:
        """Every committed batch of this model, oldest first."""
        found = self._store._request("GET", f"/models/{self.name}/batches").json()
        return [{**b, "created_at": _parse_time(b["created_at"])} for b in found]

    def dataset(
        self,
        environment: str | Sequence[str] | None = None,
        version: str | Sequence[str] | None = None,
        start: Any = None,
        end: Any = None,
        where: Mapping[str, Any] | None = None,
    ) -> RemoteDataset:
        """Select inferences, as ``Model.dataset``: by environment(s), version(s), time
        (``start`` inclusive, ``end`` exclusive, UTC) and a filter (a dict of column ->
        value(s): functions and ibis expressions cannot travel). Lazy: the server is asked
        for the rows, their count or columns only when you ask."""
        return RemoteDataset(
            self, environment=environment, version=version, start=start, end=end, where=where
        )

    # -- analyses: computed by the server, returned as the embedded types -------------------

    def _get(self, path: str, params: Params) -> Any:
        return self._store._request(
            "GET",
            f"/models/{self.name}/{path}",
            params=params,
            # an analysis of a large selection takes as long as it takes
            timeout=httpx.Timeout(self._store.timeout, read=None),
        ).json()

    def performance(
        self,
        dataset: str | Mapping[str, Any] | None = None,
        metrics: str | Sequence[str] | None = None,
        *,
        by: str | Sequence[str] | None = None,
        positive_class: Any = None,
        threshold: float | None = None,
        confidence: float = 0.95,
    ) -> PerformanceResult:
        """Metrics of the selected rows (all when ``dataset`` is None), overall or per group:
        as ``performance(model.dataset(...), metrics, by=...)``. ``dataset``: an environment
        name or a dict of ``model.dataset()`` arguments."""
        from evalstore.analyses.performance import PerformanceResult

        params = _dataset_params(dataset)
        params += _many("metrics", metrics) + _many("by", by)
        params += _scalar("positive_class", positive_class)
        params += _scalar("threshold", threshold) + _scalar("confidence", confidence)
        return PerformanceResult.from_dict(self._get("performance", params))

    def _drift_params(
        self,
        reference: Any,
        current: Any,
        columns: str | Sequence[str] | None,
        method: str | None,
        alpha: float,
        threshold: float | None,
    ) -> Params:
        if method is not None and not isinstance(method, str):
            raise ParameterError(
                "method", "a drift method's key when connected to a server", method
            )
        params = [
            ("reference", _selection(reference, "reference", baselines=True)),
            ("current", _selection(current, "current", baselines=False)),
        ]
        params += _many("columns", columns) + _scalar("method", method)
        return params + _scalar("alpha", alpha) + _scalar("threshold", threshold)

    def drift(
        self,
        reference: Baseline | str | Mapping[str, Any],
        current: str | Mapping[str, Any],
        columns: str | Sequence[str] | None = None,
        method: str | None = None,
        alpha: float = 0.05,
        *,
        threshold: float | None = None,
    ) -> DriftResult:
        """Drift of every column of ``current`` against ``reference`` (a baseline's frozen bins
        when it is one): as ``drift(reference, current, ...)``. ``columns`` defaults to the
        features and tags."""
        from evalstore.analyses.drift import DriftResult

        params = self._drift_params(reference, current, columns, method, alpha, threshold)
        return DriftResult.from_dict(self._get("drift", params))

    def drift_over_time(
        self,
        reference: Baseline | str | Mapping[str, Any],
        current: str | Mapping[str, Any],
        by: str = "day",
        columns: str | Sequence[str] | None = None,
        method: str | None = None,
        alpha: float = 0.05,
        *,
        threshold: float | None = None,
    ) -> DriftOverTime:
        """Drift of each time window (``by``: hour, day, week, month) of ``current`` against
        ``reference``: as ``drift_over_time(reference, current, by, ...)``."""
        from evalstore.analyses.drift import DriftOverTime

        params = self._drift_params(reference, current, columns, method, alpha, threshold)
        params += _scalar("by", by)
        return DriftOverTime.from_dict(self._get("drift/over-time", params))

    def quality(
        self,
        dataset: str | Mapping[str, Any] | None = None,
        reference: Baseline | str | Mapping[str, Any] | None = None,
        *,
        by: str | None = None,
        columns: str | Sequence[str] | None = None,
        positive_class: Any = None,
        threshold: float | None = None,
        min_rows: int = 100,
        exact_distinct: bool = False,
        details: bool = True,
    ) -> QualityResult:
        """Data quality of the selected rows, against the expectations of ``reference`` (a
        baseline's stored ones, or learned from those rows; None: only the checks that need
        none): as ``quality(model.dataset(...), learn_expectations(reference), ...)``."""
        from evalstore.analyses.quality import QualityResult

        params = _dataset_params(dataset)
        if reference is not None:
            params.append(("reference", _selection(reference, "reference", baselines=True)))
        params += _scalar("by", by) + _many("columns", columns)
        params += _scalar("positive_class", positive_class) + _scalar("threshold", threshold)
        params += _scalar("min_rows", min_rows) + _scalar("exact_distinct", exact_distinct)
        params += _scalar("details", details)
        return QualityResult.from_dict(self._get("quality", params))

    def slices(
        self,
        dataset: str | Mapping[str, Any] | None = None,
        metric: str | None = None,
        *,
        columns: str | Sequence[str] | None = None,
        reference: Baseline | str | Mapping[str, Any] | None = None,
        min_support: int = 30,
        confidence: float = 0.95,
        positive_class: Any = None,
        threshold: float | None = None,
    ) -> SliceResult:
        """``metric`` on every bin of every column of the selected rows, binned on
        ``reference`` (a baseline's frozen bins, or fitted on those rows; None: on the
        selected rows): as ``slices(model.dataset(...), metric, ...)``."""
        from evalstore.analyses.slices import SliceResult

        params = _dataset_params(dataset) + _scalar("metric", metric)
        params += _many("columns", columns)
        if reference is not None:
            params.append(("reference", _selection(reference, "reference", baselines=True)))
        params += _scalar("min_support", min_support) + _scalar("confidence", confidence)
        params += _scalar("positive_class", positive_class) + _scalar("threshold", threshold)
        return SliceResult.from_dict(self._get("slices", params))

    def report(
        self,
        reference: Baseline | str | Mapping[str, Any],
        current: str | Mapping[str, Any],
        *,
        metrics: Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
        window: str | None = None,
        slice_columns: Sequence[str] | None = None,
        min_support: int = 30,
        progress: bool | None = None,
        positive_class: Any = None,
    ) -> Report:
        """Performance, drift, data quality and the worst slices of ``current`` against
        ``reference``, computed by the server: as ``Model.report``. Each side is a name (a
        stored baseline's, else an environment's) or a dict of ``dataset()`` arguments; the
        reference may be a stored Baseline. ``progress`` is accepted for the embedded
        signature; the server shows none."""
        from evalstore.analyses.report import Report

        params = [
            ("reference", _selection(reference, "reference", baselines=True)),
            ("current", _selection(current, "current", baselines=False)),
        ]
        params += _many("metrics", metrics) + _many("columns", columns)
        params += _scalar("window", window) + _many("slice_columns", slice_columns)
        params += _scalar("min_support", min_support)
        params += _scalar("positive_class", positive_class)
        return Report.from_dict(self._get("report", params))

    # -- baselines ---------------------------------------------------------------------------

    def create_baseline(
        self,
        name: str,
        *,
        environment: str | Sequence[str] | None = None,
        version: str | Sequence[str] | None = None,
        start: Any = None,
        end: Any = None,
        where: Mapping[str, Any] | None = None,
        moving_days: int | None = None,
        columns: Sequence[str] | None = None,
        positive_class: Any = None,
    ) -> Baseline:
        """Fit a baseline on the selected rows and store it as the next version of ``name``:
        as ``Model.create_baseline``, fitted by the server."""
        from evalstore.analyses.baseline import Baseline

        check_name(name, "baseline name")
        body = _dataset_args(
            {"environment": environment, "version": version, "start": start, "end": end},
            "selection",
        )
        if where is not None:
            body.update(_dataset_args({"where": where}, "where"))
        body["name"] = name
        body["moving_days"] = _jsonable(moving_days, "moving_days")
        if columns is not None:
            body["columns"] = [columns] if isinstance(columns, str) else list(columns)
        if positive_class is not None:
            body["positive_class"] = _jsonable(positive_class, "positive_class")
        found = self._store._request(
            "POST",
            f"/models/{self.name}/baselines",
            json=body,
            timeout=httpx.Timeout(self._store.timeout, read=None),
            retries=0,  # each fit stores a new version: sent again, it would store two
        ).json()
        return Baseline.from_dict(found)

    def baseline(self, name: str, version: int | None = None) -> Baseline:
        """A stored baseline: the latest version of ``name``, or the one given."""
        from evalstore.analyses.baseline import Baseline

        if not isinstance(name, str) or not name or name.strip(".") == "":
            raise ParameterError("baseline", f"a baseline of model {self.name!r}", name)
        params = _scalar("version", version)
        return Baseline.from_dict(self._get(f"baselines/{quote(name, safe='')}", params))

    def baselines(self) -> list[dict[str, Any]]:
        """Every stored baseline: ``name``, latest ``version``, ``created_at``."""
        found = self._get("baselines", [])
        return [{**b, "created_at": _parse_time(b["created_at"])} for b in found]
