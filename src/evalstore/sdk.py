"""The Python SDK: connect to a store, get a model, log inferences and actuals, read them back.

::

    import evalstore as es

    store = es.connect()                         # embedded store in $EVALSTORE_HOME
    model = store.model("bikes", task="regression")
    model.log(df, schema=schema, version="v1", environment="training")
    model.log_actuals(actuals, prediction_id="id", actual="y")
    ds = model.dataset(environment="production", version="v1")
    ds.count(); ds.to_pandas()
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, overload

import ibis
from sqlalchemy.exc import SQLAlchemyError

from evalstore import _gc
from evalstore._model_analyses import ModelAnalyses
from evalstore._progress import progress_bar
from evalstore._settings import resolve
from evalstore.analyses.baseline import Baseline, Selector, fit_baseline
from evalstore.analyses.metrics._inputs import require_positive_class
from evalstore.dataset import Dataset, TimeLike, Where, _as_list
from evalstore.errors import (
    ModelNotFound,
    ParameterError,
    UnmatchedActualsWarning,
    did_you_mean,
    unmatched_actuals,
)
from evalstore.ingest.plan import ENVIRONMENTS, plan_actuals, plan_inferences
from evalstore.ingest.sources import open_source
from evalstore.schema import Schema, Task
from evalstore.selection import BaselineRef, parse_selection
from evalstore.store.base import BatchReport, ModelRecord
from evalstore.store.duckdb import DuckDBStore
from evalstore.store.metadata import Metadata

if TYPE_CHECKING:
    from evalstore.analyses.report import Report
    from evalstore.remote import RemoteStore

__all__ = ["Model", "ModelInfo", "Store", "StoreInfo", "connect"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$")


def check_name(value: object, what: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ParameterError(
            what, "1-200 letters, digits, '.', '_' or '-', starting with a letter or digit", value
        )
    return value


def check_environment(value: object) -> str:
    if value not in ENVIRONMENTS:
        raise ParameterError(
            "environment",
            f"one of {list(ENVIRONMENTS)}",
            value,
            did_you_mean(str(value), ENVIRONMENTS).strip(),
        )
    return str(value)


@dataclass(frozen=True)
class ModelInfo:
    """What the store holds for one model (plain data)."""

    name: str
    task: str
    versions: list[str]
    rows: dict[str, int] = field(default_factory=dict)
    """inferences per environment"""
    with_actuals: dict[str, int] = field(default_factory=dict)
    """inferences whose actual is known, per environment"""
    first: datetime | None = None
    last: datetime | None = None
    batches: int = 0
    ranges: dict[str, list[datetime | None]] = field(default_factory=dict)
    """per environment, its first and last timestamps (``first``/``last``: the model's)"""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StoreInfo:
    """Where a store is and what it holds (plain data)."""

    home: str
    data_file: str
    metadata_url: str
    size_bytes: int
    models: int
    rows: int
    batches: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Model(ModelAnalyses):
    """A handle on one model of a store. Get it with ``store.model(name)``.

    Besides logging and reading rows, it runs the analyses on its selections, with the
    remote model's signatures: ``performance``, ``drift``, ``drift_over_time``,
    ``quality``, ``slices`` (``evalstore._model_analyses``) and ``report``.
    """

    def __init__(self, store: Store, record: ModelRecord) -> None:
        self._store = store
        self._record = record

    @property
    def name(self) -> str:
        return self._record.name

    @property
    def task(self) -> Task:
        return self._record.task

    def __repr__(self) -> str:
        return f"Model(name={self.name!r}, task={self.task.value!r})"

    def log(
        self,
        data: Any,
        *,
        schema: Schema,
        version: str,
        environment: str,
        progress: bool | None = None,
    ) -> BatchReport:
        """Log a batch of inferences, all or nothing.

        ``data`` is a pandas or polars DataFrame, a pyarrow Table, RecordBatch or
        RecordBatchReader, or the path of a Parquet or CSV file (read in chunks).
        Re-logging a ``(version, environment, prediction_id)`` replaces the
        earlier row (last write wins), so re-sending a batch never duplicates.
        Actuals in the schema are stored as if sent with ``log_actuals``.
        """
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
        engine = self._store._engine
        state = engine.model_state(self._record.id, self.task, version)
        plan = plan_inferences(schema, source.schema, state, environment)
        with progress_bar(f"logging {self.name} {version}", source.rows, progress) as advance:
            report = engine.write_inferences(
                self._record.id,
                plan,
                source,
                version=version,
                environment=environment,
                progress=advance,
            )
        self._store._meta.add_version(self._record.id, version)
        return report

    def log_actuals(
        self,
        data: Any,
        *,
        prediction_id: str,
        actual: str,
        environment: str = "production",
        progress: bool | None = None,
    ) -> BatchReport:
        """Log actual outcomes, joined to predictions by ``prediction_id`` when read.

        ``actual`` is the column with the true class (classification) or the true
        value (regression). An actual may arrive before its prediction; a later
        actual for the same id replaces the earlier one.
        """
        environment = check_environment(environment)
        source = open_source(data)
        engine = self._store._engine
        state = engine.model_state(self._record.id, self.task, None)
        plan = plan_actuals(source.schema, state, prediction_id, actual)
        with progress_bar(f"actuals for {self.name}", source.rows, progress) as advance:
            report = engine.write_actuals(
                self._record.id, plan, source, environment=environment, progress=advance
            )
        if not report.matched:
            elsewhere = engine.predictions_elsewhere(self._record.id, report.batch_id, environment)
            if elsewhere:
                report = replace(report, elsewhere=elsewhere)
                said = unmatched_actuals(report.rows, environment, elsewhere)
                warnings.warn(said, UnmatchedActualsWarning, stacklevel=2)
        return report

    def dataset(
        self,
        environment: str | Sequence[str] | None = None,
        version: str | Sequence[str] | None = None,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        where: Where | None = None,
    ) -> Dataset:
        """Select inferences: by environment(s), version(s), time (``start`` inclusive, ``end``
        exclusive, UTC) and a filter on any column (``{"region": "EU"}`` or ``ibis._.age > 30``).
        """
        return Dataset(
            self._store._engine,
            self._record.id,
            environment=environment,
            version=version,
            start=start,
            end=end,
            where=where,
            task=self.task,
        )

    def _described(
        self,
        environment: str | Sequence[str] | None = None,
        version: str | Sequence[str] | None = None,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        where: Where | None = None,
    ) -> Dataset:
        """``dataset(...)`` for a selection that an analysis or a baseline is given by its
        arguments (a dict, ``key=value`` text, the server's query parameters): there a version
        the model never logged is a typo, refused with the versions it has, not a selection
        of no rows whose metrics are all empty. ``dataset()`` itself selects it as no rows,
        as it does a time range without rows: a selection is a query, which may match
        nothing, and a version may get its rows later."""
        wanted = _as_list(version, "version")
        if wanted:
            known = self.versions()
            for v in wanted:
                if v not in known:
                    raise ParameterError(
                        "version",
                        f"a version of model {self.name!r} "
                        f"({', '.join(known) if known else 'none logged yet'})",
                        v,
                        did_you_mean(v, known).strip(),
                    )
        return self.dataset(environment, version, start, end, where)

    def create_baseline(
        self,
        name: str,
        *,
        environment: str | Sequence[str] | None = None,
        version: str | Sequence[str] | None = None,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        where: Mapping[str, Any] | None = None,
        moving_days: int | None = None,
        columns: Sequence[str] | None = None,
        positive_class: Any = None,
    ) -> Baseline:
        """Fit a baseline on the selected rows and store it as the next version of ``name``.

        A fixed baseline keeps its bins, data-quality expectations and performance, so
        that later comparisons never read the reference again. ``moving_days=N`` makes a
        moving one: the N days before each current dataset (same environment, version and
        filter), fitted when used. See :mod:`evalstore.analyses.baseline`.

        ``positive_class``: binary models, the label counted as positive; text labels need
        it (``positive_class="yes"``), boolean and integer labels default to ``True`` / ``1``.
        The baseline stores it, and reports against it use it.
        """
        check_name(name, "baseline name")
        ds = self._described(environment, version, start, end, where)
        require_positive_class(ds, positive_class, "create_baseline()")
        fitted = fit_baseline(
            ds,
            name,
            Selector.of(ds),
            columns=columns,
            moving_days=moving_days,
            positive_class=positive_class,
        )
        body = fitted.to_dict()
        fitted.version, fitted.created_at = self._store._meta.add_baseline(
            self._record.id, name, body
        )
        return fitted

    def baseline(self, name: str, version: int | None = None) -> Baseline:
        """A stored baseline: the latest version of ``name``, or the one given."""
        found = self._store._meta.baseline(self._record.id, name, version)
        if found is None:
            versions = self._store._meta.baseline_versions(self._record.id, name)
            if versions:  # the name is right, the version is not
                listed = ", ".join(map(str, versions))
                raise ParameterError(
                    "version",
                    f"a version of baseline {name!r}",
                    version,
                    f"Baseline {name!r} has no version {version}; its versions are {listed}.",
                )
            names = [b["name"] for b in self.baselines()]
            hint = did_you_mean(name, names).strip()
            raise ParameterError(
                "baseline",
                f"a baseline of model {self.name!r}" + (f" ({', '.join(names)})" if names else ""),
                name,
                (hint + " " if hint else "")
                + "Create one with model.create_baseline(name, environment=...).",
            )
        number, created, body = found
        base = Baseline.from_dict(body)
        base.version, base.created_at = number, created
        return base

    def baselines(self) -> list[dict[str, Any]]:
        """Every stored baseline: ``name``, latest ``version``, ``created_at``."""
        return self._store._meta.baselines(self._record.id)

    def report(
        self,
        reference: Dataset | Baseline | str | Mapping[str, Any],
        current: Dataset | str | Mapping[str, Any],
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
        ``reference`` (see :mod:`evalstore.analyses.report`).

        Each side is a Dataset, a dict of ``dataset()`` arguments
        (``{"environment": "production", "start": "2024-06-01"}``), a name (a stored
        baseline's, else an environment's) or the command line's text
        (``"environment=production,start=2024-06-01"``). The reference may be a Baseline,
        also as text: ``"baseline=training@1"`` is ``model.baseline("training", version=1)``.
        A side without rows is refused: a report on no rows says nothing. ``window``:
        the performance-over-time window (default by the span of the data).

        ``positive_class``: binary models, the label counted as positive. Default: the
        baseline's when the reference is one created with it, else ``True`` / ``1`` for
        boolean / integer labels; text labels need one (``positive_class="yes"``).
        """
        from evalstore.analyses.report import build_report

        ref = self._selection(reference, "reference", baselines=True)
        cur = self._selection(current, "current", baselines=False)
        assert not isinstance(cur, Baseline)
        stored = ref.positive_class if isinstance(ref, Baseline) else None
        require_positive_class(
            cur, positive_class if positive_class is not None else stored, "report()"
        )
        return build_report(
            self,
            ref,
            cur,
            metrics=metrics,
            columns=columns,
            window=window,
            slice_columns=slice_columns,
            min_support=min_support,
            progress=progress,
            positive_class=positive_class,
        )

    def _selection(self, value: Any, what: str, baselines: bool) -> Dataset | Baseline:
        """``value`` (the argument ``what``) as rows, or as a stored Baseline when
        ``baselines``. A bad value inside a side of a comparison is named as part of it
        (``current.environment must be ...``), as the REST API names it; the one selection
        of the other analyses is not (``version must be ...``): over REST its parts are
        parameters of their own."""
        try:
            return self._resolve_selection(value, what, baselines)
        except ParameterError as exc:
            raise (exc.within(what) if what in ("reference", "current") else exc) from None

    def _resolve_selection(self, value: Any, what: str, baselines: bool) -> Dataset | Baseline:
        text = value
        if isinstance(value, str) and (value.lstrip().startswith("{") or "=" in value):
            # the CLI's and the REST API's text: baseline=NAME@2, environment=...,start=...
            value = parse_selection(value, what)
        if isinstance(value, BaselineRef):
            if not baselines:
                raise ParameterError(
                    what,
                    "rows (an environment name, key=value pairs, a dict or a Dataset), "
                    "not a baseline",
                    text,
                )
            return self.baseline(value.name, value.version)
        if isinstance(value, Dataset):
            if value.model_id != self._record.id:
                raise ParameterError(what, f"a dataset of model {self.name!r}", value)
            return value
        if isinstance(value, Baseline):
            if baselines:
                return value
            raise ParameterError(what, "a Dataset, a dict or an environment name", "a Baseline")
        if isinstance(value, str):
            known = {b["name"] for b in self.baselines()} if baselines else set()
            if value in known:
                return self.baseline(value)
            if value in ENVIRONMENTS:
                return self.dataset(environment=value)
            choices = sorted(known) + list(ENVIRONMENTS)
            versioned = (
                "A baseline's version is named baseline=NAME@VERSION." if "@" in value else ""
            )
            raise ParameterError(
                what,
                ("a baseline name or " if baselines else "")
                + f"an environment ({', '.join(choices)})",
                value,
                " ".join(filter(None, [did_you_mean(value, choices).strip(), versioned])),
            )
        if isinstance(value, Mapping):
            allowed = ("environment", "version", "start", "end", "where")
            unknown = [k for k in value if k not in allowed]
            if unknown:
                raise ParameterError(
                    what,
                    f"a dict with keys among {list(allowed)}",
                    unknown[0],
                    did_you_mean(str(unknown[0]), allowed).strip(),
                )
            return self._described(**value)
        raise ParameterError(
            what, "a Dataset, a Baseline, a baseline or environment name, or a dict", value
        )

    def versions(self) -> list[str]:
        """Versions with at least one committed batch, oldest first."""
        seen: list[str] = []
        for batch in self._store._engine.batches(self._record.id):
            if batch["version"] and batch["version"] not in seen:
                seen.append(batch["version"])
        return seen

    def batches(self) -> list[dict[str, Any]]:
        """Every committed batch of this model, oldest first."""
        return self._store._engine.batches(self._record.id)

    def info(self) -> ModelInfo:
        """Rows per environment, how many have actuals, time range, versions, batches."""
        engine = self._store._engine
        t = engine.with_actuals(self._record.id, engine.inferences(self._record.id))
        known = [t[c].notnull() for c in ("actual_label", "actual_score") if c in t.columns]
        # count(*) FILTER (...) per environment; without an actual column there are none
        has_actual = ibis.or_(*known) if known else t.prediction_id.isnull()
        agg = t.group_by("environment").aggregate(
            rows=t.count(),
            actuals=t.count(where=has_actual),
            first=t.timestamp.min(),
            last=t.timestamp.max(),
        )
        rows = engine.execute(agg).to_pylist()
        firsts = [r["first"] for r in rows if r["first"] is not None]
        lasts = [r["last"] for r in rows if r["last"] is not None]
        return ModelInfo(
            name=self.name,
            task=self.task.value,
            versions=self.versions(),
            rows={r["environment"]: int(r["rows"]) for r in rows},
            with_actuals={r["environment"]: int(r["actuals"] or 0) for r in rows},
            first=min(firsts) if firsts else None,
            last=max(lasts) if lasts else None,
            batches=len(engine.batches(self._record.id)),
            ranges={r["environment"]: [r["first"], r["last"]] for r in rows},
        )


class Store:
    """An evaluation store: models and everything logged for them. Use ``es.connect()``."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        metadata_url: str | None = None,
        write_memory: str | None = None,
    ) -> None:
        self.location = resolve(path, metadata_url, write_memory)
        self._engine = DuckDBStore(self.location.data_file, self.location.write_memory)
        try:
            self._meta = Metadata(self.location.metadata_url, self._engine.store_id)
            self._meta.sync_models(self._engine.models())
        except SQLAlchemyError as exc:
            self._engine.close()
            raise ParameterError(
                "metadata_url",
                "a SQLAlchemy URL of a database evalstore can open",
                self.location.metadata_url,
                f"{str(exc).splitlines()[0]}. Check EVALSTORE_METADATA_URL or metadata_url "
                "(e.g. sqlite:///path/metadata.sqlite, postgresql+psycopg://user@host/db).",
            ) from None
        except Exception:
            self._engine.close()
            raise

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.location.home)!r})"

    def close(self) -> None:
        """Release the store file so another process can open it."""
        self._engine.close()
        self._meta.close()

    def keep_profiles(self, keep: bool = True) -> None:
        """Keep each hour's histograms in this process from now on (``keep=False``: stop
        and drop them), so that drift over ranges that overlap earlier ones reads only the
        hours not read before. Worth it when the same rows are read again and again, as
        in the server (which keeps them) or a notebook going through windows; a first read
        costs more than a plain one (it groups the rows by hour). See docs/concepts.md,
        "Profiles"."""
        self._engine.keep_profiles(keep)

    def model(self, name: str, task: Task | str | None = None) -> Model:
        """Get a model, creating it when ``task`` is given and it does not exist yet."""
        check_name(name, "model name")
        record = self._engine.get_model(name)
        if record is None:
            if task is None:
                raise ModelNotFound(name, [m.name for m in self._engine.models()])
            record = self._engine.create_model(name, Task.parse(task))
            self._meta.sync_models([record])
        if task is not None and record.task is not Task.parse(task):
            raise ParameterError(
                "task",
                f"{record.task.value!r}, the task model {name!r} was created with",
                Task.parse(task).value,
                "Use another model name for a different task.",
            )
        return Model(self, record)

    def models(self) -> list[ModelInfo]:
        """Every model with what the store holds for it, by name."""
        return [Model(self, r).info() for r in self._engine.models()]

    def info(self) -> StoreInfo:
        """Where the store is, its size on disk and what it holds."""
        batches = self._engine.batches()
        records = self._engine.models()
        # an actuals batch's replaced counts actuals, not inference rows
        rows = sum(b["rows"] - b["replaced"] for b in batches if b["kind"] == "inferences")
        return StoreInfo(
            home=str(self.location.home),
            data_file=str(self.location.data_file),
            metadata_url=self.location.metadata_url,
            size_bytes=self._engine.size_bytes(),
            models=len(records),
            rows=rows,
            batches=len(batches),
        )


@overload
def connect(
    path: os.PathLike[str] | None = None,
    *,
    metadata_url: str | None = None,
    write_memory: str | None = None,
) -> Store: ...


@overload
def connect(
    path: str,
    *,
    metadata_url: str | None = None,
    write_memory: str | None = None,
    api_key: str | None = None,
) -> Store | RemoteStore: ...


def connect(
    path: str | os.PathLike[str] | None = None,
    *,
    metadata_url: str | None = None,
    write_memory: str | None = None,
    api_key: str | None = None,
) -> Store | RemoteStore:
    """Open the embedded store at ``path`` (a folder or a ``.duckdb`` file), or connect to the
    evalstore server at ``path`` when it is an ``http(s)://`` URL.

    Without a path: ``$EVALSTORE_HOME``, else ``~/.evalstore``. The metadata
    database defaults to SQLite beside the data; pass a SQLAlchemy URL (or set
    ``EVALSTORE_METADATA_URL``) to use PostgreSQL. ``write_memory`` (or
    ``EVALSTORE_WRITE_MEMORY``, default ``2GB``) bounds the memory the engine uses
    while writing a batch.

    A server (``evalstore serve``) owns its store; ``es.connect("http://127.0.0.1:8080",
    api_key=...)`` returns a :class:`evalstore.remote.RemoteStore` with the same API for
    models and logging (``api_key`` defaults to ``$EVALSTORE_API_KEY``).
    """
    if isinstance(path, str) and path.startswith(("http://", "https://")):
        from evalstore.remote import RemoteStore

        if metadata_url is not None or write_memory is not None:
            raise ParameterError(
                "metadata_url and write_memory",
                "None with a server URL",
                metadata_url or write_memory,
                "The server's own settings apply: pass them to `evalstore serve`.",
            )
        return RemoteStore(path, api_key=api_key)
    if api_key is not None:
        raise ParameterError("api_key", "given only with a server URL", "***")
    return Store(path, metadata_url, write_memory)


# the store's stack is imported now: its objects live as long as the process, and later
# full collections skip them (50 ms of a 0.6 s report in a new process; ``_gc.py``)
_gc.freeze()
