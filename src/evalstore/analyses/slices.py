"""Slices: one metric per bin of every feature and tag, with intervals, and the worst slices.

::

    from evalstore.analyses.slices import slices

    found = slices(model.dataset(environment="production"), "roc_auc", reference=training)
    for s in found.worst(5):
        print(s.column, s.bin, s.value, s.ci_low, s.ci_high, s.n, s.significant)
    found.matrix()  # {column: [(bin label, value, n), ...]}, for a heatmap

Every column is sliced on a fitted :class:`~evalstore.analyses.binning.Binning`: the one
given in ``binnings`` (a baseline's), else one fitted on ``reference``, else on the dataset
itself. Numeric columns get ``below``, ``[e0, e1]``, ``(e1, e2]``, ..., ``above`` and
``missing``; text, integer and boolean ones their top-k categories, ``other`` and
``missing``. Every bin is a row, empty ones too (value None, ``n`` 0), so that two results
on the same bins line up.

How it runs: one grouped query per metric family for all columns at once, as
:func:`~evalstore.analyses.performance.performance` runs for one grouping. Each column is a
branch grouped by one key (column, bin), the overall slice one more, and the branches are
joined by UNION ALL; the engine reads the dataset (and joins the actuals) once for all of
them: DuckDB streams the shared CTE to every branch. Measured on the benchmark data
(``gen_data.py``: 1M production rows, 20 numeric and 5 categorical features, 328 slices) on
2 cores shared with other jobs (load 3-7, so wall times vary ~3x): accuracy 6.3 s wall, 2.8
s CPU, against 31 s and 19 s for one ``performance`` call per column; roc_auc 18 s (22 s
CPU) against 99 s (57 s CPU); at load ~2 a prototype of this plan took 1.7 s and ~10 s. At
5M rows (load 6): accuracy 23 s, roc_auc 130 s. Most of an AUC's time was the window passes
over its score histogram (2^16 bins per slice then, 1,024 now; half the CPU in a profile):
they now run in NumPy on the histogram (``ranking.score_sums``): for the roc_auc of a week
of the 10M-row UI benchmark store (933k rows), 0.75 s of query and 0.1-0.26 s of NumPy
against 1.32 s of query. A metric computed from its histogram alone (the AUC, the AP)
leaves the main query only the rows without an actual to count, so it bins only those (that
week: 0.05-0.19 s against 0.32 s when it binned every row). Tried and slower:
one key for all columns through UNNEST (19 s for roc_auc: one hash table of ~12M (slice,
score bin) groups), GROUPING SETS (3.7 s against 1.3 s for the histogram's GROUP BY on a
materialised table), and computing every branch's derived columns once in the shared CTE (no
faster). The bin of a numeric value is a binary search written as nested CASEs (half the
time of one comparison per edge).

Kept days: no rewrite of that query brings a week under 0.3 s on 2 cores, but a batch
changes one day. Where the store keeps profiles (``EvaluationStore.keep_profiles``, as the
server does) and the selection is not filtered, each (environment, version, day) of the
range is read once, grouped by slice (its key then the bin's slot, int32) and by
``WINDOW``, kept until a batch of that version changes that day (late actuals: every day of
their environment; ``binning/_profiled.by_pair_windows``), and the range's days are merged
(``_merged``): ``COUNT`` and ``SUM`` add, ``MIN`` and ``MAX`` take the least and the
greatest, NULLs are left out as SQL leaves them out. The AUC's and AP's score histogram is
merged per (slice, score bin) and finished in NumPy after the merge (``ScoreSums``), so
counts, values and intervals are those one query over the range gives (to the last bit on
the benchmark's week and in the tests; a float sum would differ in its last bits, none of
the metrics served has one). A metric with another aggregate (a mean, a variance: every
regression metric) is read from the rows, as before; so is a filtered selection. Grouping
by day and version makes the AUC's histogram 6-10x more groups: one query by day costs
1.5-1.8x one over the range (a week of roc_auc: 1.9-2.7 s against 1.2-1.5 s), so a range is
computed by day only from its second read on (``Profiles.ask``), when the profiles keep
half of its (version, day)s already, or in the UI's warmer (``_merged.keeping``: the
default view). Measured on the 10M-row UI benchmark store (``bench/ui_latency.py``, 2
cores, load 0.6-0.9 before each run): the default view's slices (roc_auc, the last week, v1
and v2) on its first load after a batch 0.28-0.42 s against 1.1-1.5 s (five runs each), of
which 0.2-0.3 s is the two queries of the batch's day (its 133k rows binned 26 times; the
histogram empty, its rows lacking actuals); the view of v2 (two weeks), the week before and
accuracy, which the warmer did not read, 0.7-1.5 s as before. A day of the histogram on
329 slices x 4,096 score bins kept one-byte counts, dense: 2.9 MB per version; the default
week's days took the profiles from 26 to 47 MiB and the warming from 14-19 s to 16-21 s.
Every day of that store's production (68 version-days with actuals) would have held 185 MB.

So the slices now take 1,024 score bins (0.71 MB a day of that store) and the warmer keeps
the last four weeks of every version (``ui.views.SLICE_DAYS``), and the days of a binary
model's accuracy: the days are keyed by what the queries ask (:func:`_asks`), so its
precision, recall, F1 and rates, which ask the same four confusion counts, read them too.
Each version has its code in ``WINDOW`` whichever versions a read holds, so the days of one
version are read with the queries built for all of them (a first view of v2 alone built its
26 branches anew: 0.6 s). A day's query runs in two halves side by side: a day's rows are a
row group or two, which DuckDB reads on one core, and it plans a union of 26 branches in ~60
ms (the main query of the batch's day: 0.21 s on one core, 0.06 s of it planning). A day
whose rows have no actual yet (a batch of new inferences) runs only the main query: the AUC's
histogram keeps rows with an actual only (``_days.without_actuals`` asks the engine whether
the day has one, ~2 ms). The default view's first load after a batch, in five runs of
``bench/ui_latency.py`` each: 0.19-0.32 s, against 0.23-0.48 s when the histogram ran.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from evalstore._checks import whole_number
from evalstore._memo import Memo
from evalstore.analyses import _merged
from evalstore.analyses._days import no_rows_of, skippable, without_actuals
from evalstore.analyses.binning import Binning, column_kinds, feature_columns, fit_binnings
from evalstore.analyses.binning._count import by_pairs
from evalstore.analyses.binning._profiled import by_pair_windows
from evalstore.analyses.metrics import GroupData, Metric, MetricInput, MetricValue, get_metric
from evalstore.analyses.metrics._base import (
    Finished,
    counts_actual_rows,
    engine_table,
    finish,
    same_query,
)
from evalstore.analyses.metrics._evaluate import (
    Unkept,
    finish_of,
    finish_spec,
    input_of,
    metric_id,
    plain_input,
)
from evalstore.analyses.metrics._inputs import binary_only, infer_task, prepare
from evalstore.analyses.metrics._intervals import check_confidence
from evalstore.analyses.metrics._labels import check_positive_class
from evalstore.analyses.performance import _choose, _plain, bin_index, check_binning
from evalstore.dataset import Dataset, beside, query_table
from evalstore.errors import ParameterError, did_you_mean
from evalstore.schema import Task

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Slice", "SliceResult", "slice_predicate", "slices"]

#: the group key of every branch: position * STRIDE + bin, the position of the column (-1
#: overall) and the bin's index (one key: with two, the AUC's windows ran ~10% slower)
KEY = "__es_slice"
STRIDE = 1 << 20  # more than any Binning's bins (100,003 at most)
N_WITHOUT_ACTUAL = "__es_n_without_actual"
#: the window key of the queries whose days the profiles keep: day * pairs + the index of
#: the (environment, version) pair, days counted from 1970 (one int32: by version and day,
#: a week's 6M histogram rows held 6M strings, 1.8 s against 1.4 s for the query alone)
WINDOW = "__es_window"
EPOCH = datetime(1970, 1, 1)

#: the metric when none is given, per task (binary: the first one the predictions allow)
DEFAULTS = {
    Task.BINARY_CLASSIFICATION: ("roc_auc", "accuracy"),
    Task.MULTICLASS_CLASSIFICATION: ("accuracy",),
    Task.REGRESSION: ("mae",),
}

SLICE_FIELDS = (
    "column",
    "bin",
    "kind",
    "value",
    "ci_low",
    "ci_high",
    "n",
    "n_without_actual",
    "share",
    "significant",
    "error_bound",
)


#: score bins of the AUC and AP per slice: each slice's histogram is sorted for its
#: cumulative sums, so fewer than the 2^16 of an overall AUC (2^12: 2.5x faster on the
#: benchmark's 5 categorical columns at 1M rows, where the worst slice's AUC moved by 6e-7);
#: 2^10 so that the profiles keep four weeks of days (a day of the 10M-row UI store's 329
#: slices: 0.7 MB against 2.9 MB). On that store's last week (933k rows), the 329 slices'
#: AUCs are within 1.5e-5 of the exact ones (5.6e-6 at 2^12), and the median interval,
#: widened by the bound, is 0.0092 wide (0.0086 at 2^12, 0.0083 for the exact AUC)
SCORE_BINS = 2**10
#: a slice's error bound worth showing beside its value (the values show 3-4 digits)
MATERIAL_BOUND = 1e-3


@dataclass(frozen=True)
class Slice:
    """The metric on the rows of one bin of one column (or on every row: ``overall``).

    - ``column``, ``bin`` (its label, ``Binning.labels``), ``kind`` (``value``,
      ``below``, ``above``, ``other``, ``missing``; ``all`` for the overall slice);
    - ``value``, ``ci_low``, ``ci_high``: None when undefined (an empty bin, one class);
    - ``n``: rows the metric used; ``n_without_actual``: rows left out for want of one;
    - ``share``: ``n`` over the overall ``n``;
    - ``significant``: the interval excludes the overall value (None without an interval).
    - ``error_bound``: for the binned ``roc_auc`` and ``pr_auc``, the most the slice's
      score bins (``SCORE_BINS``) can move its value (the interval is widened by it); None
      for other metrics. Scores bunched in a few bins (a well-separated slice near 0 or 1)
      give a large one: the ``_exact`` metrics rank every score.
    """

    column: str | None
    bin: str
    kind: str
    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 0
    n_without_actual: int = 0
    share: float | None = None
    significant: bool | None = None
    error_bound: float | None = None

    @property
    def shown_bound(self) -> float | None:
        """The error bound when it is worth showing beside the value (``MATERIAL_BOUND``
        or more), else None: what reports and the slices page print as "± bound"."""
        bound = self.error_bound
        return bound if bound is not None and bound >= MATERIAL_BOUND else None

    def __repr__(self) -> str:
        from evalstore.render.tables import slice_line

        return slice_line(self)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data, keys in ``SLICE_FIELDS`` order."""
        return {name: _plain(getattr(self, name)) for name in SLICE_FIELDS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Slice:
        """A Slice from :meth:`to_dict`'s output."""
        try:
            # slices stored before error_bound was kept have none
            found = {name: data[name] for name in SLICE_FIELDS if name != "error_bound"}
            return cls(**found, error_bound=data.get("error_bound"))
        except (KeyError, TypeError) as exc:
            raise ParameterError(
                "Slice data", f"a dict with the keys {list(SLICE_FIELDS)}", data
            ) from exc


@dataclass(frozen=True)
class SliceResult:
    """A metric per (column, bin), as plain data; see :func:`slices`.

    ``rows``: one :class:`Slice` per bin of every column, in ``columns`` order then bin
    order. ``overall``: the metric on the whole dataset. ``binnings``: the bins used.
    """

    task: str
    metric: str
    higher_is_better: bool | None
    confidence: float
    min_support: int
    positive_class: Any
    threshold: float | None
    columns: list[str]
    overall: Slice
    rows: list[Slice] = field(default_factory=list)
    binnings: dict[str, Binning] = field(default_factory=dict)
    queries: int = field(default=0, compare=False)
    """how many engine queries computed it"""

    def worst(
        self, k: int = 10, min_support: int | None = None, reference: SliceResult | None = None
    ) -> list[Slice]:
        """The ``k`` worst slices with ``n >= min_support`` (default: the result's) and a
        value, surest first: by the end of each slice's interval nearest to good (its upper
        end when higher is better, its lower end when lower is; the value where it has no
        interval), then by the value; ties go to the larger slice (more evidence), then to
        column and bin order. A slice of 30 rows whose AUC lies anywhere from 0.05 to 0.9
        is not ranked above one of thousands of rows surely at 0.8.

        With ``reference`` (the same slices of a reference dataset, on the same bins), they
        are ranked by how much worse each is than in the reference instead (than the
        reference overall for a slice the reference lacks), again surest first: by the gap
        between the two intervals (the reference's lower end less the slice's upper end,
        when higher is better), then by the difference of the values. A slice that is
        always weak (say, a narrow band of the score's main input, where any AUC is low)
        does not crowd out the one that broke."""
        k = _check_count("k", k)
        support = (
            self.min_support if min_support is None else _check_count("min_support", min_support)
        )
        if self.higher_is_better is None:
            raise ParameterError(
                "metric",
                "a metric with a direction for worst()",
                self.metric,
                "Its slices have no worse or better; read rows or matrix() instead.",
            )
        sign = 1.0 if self.higher_is_better else -1.0

        def compared(s: Slice) -> Slice | None:
            if reference is None:
                return None
            found = reference.find(s.column, s.bin)
            if found is not None and found.value is not None:
                return found
            return reference.overall if reference.overall.value is not None else None

        def good_end(s: Slice) -> float:
            """The end of the slice's interval nearest to good (the value without one)."""
            end = s.ci_high if sign > 0 else s.ci_low
            assert s.value is not None
            return end if end is not None else s.value

        def bad_end(s: Slice) -> float:
            end = s.ci_low if sign > 0 else s.ci_high
            assert s.value is not None
            return end if end is not None else s.value

        def rank(i: int, s: Slice) -> tuple[float, float, int, int]:
            assert s.value is not None
            ref = compared(s)
            if ref is None and reference is not None:  # nothing to compare with: last
                return (math.inf, math.inf, -s.n, i)
            if ref is None:
                return (sign * good_end(s), sign * s.value, -s.n, i)
            assert ref.value is not None
            sure = sign * (good_end(s) - bad_end(ref))  # below 0: surely worse
            return (sure, sign * (s.value - ref.value), -s.n, i)

        ranked = sorted(
            rank(i, s) for i, s in enumerate(self.rows) if s.value is not None and s.n >= support
        )
        return [self.rows[i] for *_, i in ranked[:k]]

    def weak(self, k: int | None = None, reference: SliceResult | None = None) -> list[Slice]:
        """The slices worse than overall (:meth:`worse_than_overall`), ranked as
        :meth:`worst` ranks them, at most ``k`` (None: all): the weak spots of the model,
        where a slice that fell most against ``reference`` but still beats the whole
        dataset is none. Empty for a metric without a direction."""
        if self.higher_is_better is None:
            return []
        ranked = self.worst(len(self.rows), reference=reference)
        found = [s for s in ranked if self.worse_than_overall(s)]
        return found if k is None else found[: _check_count("k", k)]

    def worse_than_overall(self, s: Slice) -> bool:
        """Whether slice ``s`` is worse than the whole dataset: its value below the overall
        value when higher is better, above it when lower is. False without a direction or
        a value (and for a tie): such a slice is not a weak spot of the model."""
        overall = self.overall.value
        if self.higher_is_better is None or s.value is None or overall is None:
            return False
        return s.value < overall if self.higher_is_better else s.value > overall

    def find(self, column: str | None, bin: str) -> Slice | None:
        """The slice of ``column`` labelled ``bin`` (e.g. another result's ``Slice.column``
        and ``Slice.bin``), None when the result has none."""
        for s in self.rows:
            if s.column == column and s.bin == bin:
                return s
        return None

    def matrix(self) -> dict[str, list[tuple[str, float | None, int]]]:
        """For a heatmap: ``{column: [(bin label, value, n), ...]}`` in bin order."""
        out: dict[str, list[tuple[str, float | None, int]]] = {c: [] for c in self.columns}
        for s in self.rows:
            out[s.column or ""].append((s.bin, s.value, s.n))
        return out

    def __repr__(self) -> str:
        from evalstore.render.tables import slices_table

        return slices_table(self).text()

    def _repr_html_(self) -> str:  # Jupyter
        from evalstore.render.tables import slices_table

        return slices_table(self).html()

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable: settings, ``overall``, ``rows`` and the ``binnings`` used."""
        return {
            "task": self.task,
            "metric": self.metric,
            "higher_is_better": self.higher_is_better,
            "confidence": self.confidence,
            "min_support": self.min_support,
            "positive_class": _plain(self.positive_class),
            "threshold": self.threshold,
            "columns": list(self.columns),
            "overall": self.overall.to_dict(),
            "rows": [s.to_dict() for s in self.rows],
            "binnings": {name: b.to_dict() for name, b in self.binnings.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SliceResult:
        """A SliceResult from :meth:`to_dict`'s output (binnings fingerprint-checked)."""
        try:
            return cls(
                task=data["task"],
                metric=data["metric"],
                higher_is_better=data["higher_is_better"],
                confidence=data["confidence"],
                min_support=data["min_support"],
                positive_class=data["positive_class"],
                threshold=data["threshold"],
                columns=list(data["columns"]),
                overall=Slice.from_dict(data["overall"]),
                rows=[Slice.from_dict(s) for s in data["rows"]],
                binnings={k: Binning.from_dict(b) for k, b in data["binnings"].items()},
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ParameterError(
                "SliceResult data", "a dict written by SliceResult.to_dict()", type(data).__name__
            ) from exc

    def to_pandas(self) -> pd.DataFrame:
        """The rows as a DataFrame, one per slice."""
        import pandas as pd

        frame: pd.DataFrame = pd.DataFrame(
            [s.to_dict() for s in self.rows], columns=list(SLICE_FIELDS)
        )
        return frame


# -- parameters -------------------------------------------------------------------------------


def _check_count(name: str, value: object) -> int:
    return whole_number(name, value)


def _columns(ds: Dataset, columns: str | Sequence[str] | None) -> list[str]:
    if columns is None:
        return feature_columns(ds)
    names = [columns] if isinstance(columns, str) else columns
    if not isinstance(names, Sequence) or not all(isinstance(c, str) for c in names):
        raise ParameterError("columns", "None, a column name or a list of them", columns)
    if len(set(names)) != len(names):
        raise ParameterError("columns", "names without repeats", columns)
    column_kinds(ds, names)  # unknown names (with a close match) and unbinnable types
    return list(names)


def _metric(metric: str | None, task: Task, has_label: bool, has_score: bool) -> Metric:
    if metric is None:
        for key in DEFAULTS[task]:
            chosen = get_metric(key)
            if ("score" not in chosen.needs or has_score) and (
                "label" not in chosen.needs or has_label
            ):
                return chosen
        metric = DEFAULTS[task][-1]  # let _choose say what is missing
    if not isinstance(metric, str):
        raise ParameterError("metric", "a metric key (a string) or None", metric)
    (chosen,) = _choose(metric, task, has_label, has_score)
    if chosen.structured:
        raise ParameterError(
            "metric",
            "a metric with one value per slice",
            metric,
            f"{metric!r} is a table (see performance()); pick e.g. 'accuracy'.",
        )
    return chosen


def _binnings(
    ds: Dataset,
    names: list[str],
    binnings: Mapping[str, Binning] | None,
    reference: Dataset | None,
) -> dict[str, Binning]:
    if reference is not None and not isinstance(getattr(reference, "table", None), ir.Table):
        raise ParameterError("reference", "None or an evalstore Dataset", type(reference).__name__)
    if binnings is not None and not isinstance(binnings, Mapping):
        raise ParameterError("binnings", "None or a mapping of column -> fitted Binning", binnings)
    given = {name: binnings[name] for name in names if binnings and name in binnings}
    missing = [name for name in names if name not in given]
    fitted: dict[str, Binning] = {}
    if missing:
        source = reference if reference is not None else ds
        try:
            fitted = fit_binnings(source, missing)
        except ParameterError as exc:
            if reference is not None or exc.name != "reference":
                raise
            raise ParameterError(
                "ds",
                "a dataset with rows to fit bins on",
                _NO_ROWS,
                "Pass binnings= (a baseline's) or reference= to bin on.",
            ) from None
    return {name: given.get(name) or fitted[name] for name in names}


_NO_ROWS = "no rows"


def no_rows_to_bin(exc: ParameterError) -> bool:
    """Whether ``exc`` is :func:`slices` refusing a ``ds`` without rows, with neither
    ``binnings`` nor a ``reference`` to bin on: the model's method and the REST API, whose
    callers passed neither name, say it in their own arguments."""
    return exc.name == "ds" and exc.got == _NO_ROWS


# -- computing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Branch:
    """One column's share of the query: its prepared input and what it asks the engine."""

    inputs: MetricInput
    main: ir.Table
    names: dict[str, str]  # the metric's aggregate name -> output column
    queries: dict[str, ir.Table | Finished]


#: branches built, by everything that builds them (another window reuses them)
_BRANCHES: Memo[_Branch] = Memo(1024)


def _branch(
    table: ir.Table,
    task: Task,
    metric: Metric,
    position: int,
    index: ir.IntegerValue,
    settings: dict[str, Any],
    pairs: tuple[tuple[str, str], ...] = (),
    slot: int = 0,
) -> _Branch:
    """The branch of the column at ``position``; with ``pairs``, grouped by ``WINDOW`` (the
    day and which of the (environment, version) ``pairs``) as well, its key the bin's
    ``slot`` (int32) rather than ``position * STRIDE + bin``: for the profiles to keep each
    day of each pair."""
    built = (table.op(), task, metric, position, index.op(), tuple(sorted(settings.items())))
    return _BRANCHES.get(
        (*built, pairs, slot),
        lambda: _build_branch(table, task, metric, position, index, settings, pairs, slot),
    )


def _build_branch(
    table: ir.Table,
    task: Task,
    metric: Metric,
    position: int,
    index: ir.IntegerValue,
    settings: dict[str, Any],
    pairs: tuple[tuple[str, str], ...],
    slot: int,
) -> _Branch:
    keys: dict[str, ir.Value] = {KEY: (index + position * STRIDE).cast("int64")}
    if pairs:
        keys = {KEY: (index + slot).cast("int32"), WINDOW: _merged.window_code(table, pairs)}
    inputs = prepare(table, task, keys, **settings)
    t = inputs.table
    groups = list(inputs.keys)
    aggregates = metric.aggregates_for(inputs)
    queries = metric.queries_for(inputs)
    if not aggregates:
        # everything comes from the metric's own queries (the AUC's histogram, on the
        # rows with an actual): this one only counts the others, so it bins only them
        # (a week of the 10M-row UI store: 0.32 s when it binned every row)
        without = t.filter(~inputs.has_actual)
        main = without.group_by(groups).aggregate(**{N_WITHOUT_ACTUAL: without.count()})
        return _Branch(inputs, main, {}, queries)
    exprs: dict[str, ir.Scalar] = {N_WITHOUT_ACTUAL: t.count(where=~inputs.has_actual)}
    seen: dict[Any, str] = {}
    names: dict[str, str] = {}
    for name, expr in aggregates.items():
        op = expr.op()
        if op not in seen:  # equal expressions run once; names line up across branches
            seen[op] = f"__es_a{len(seen)}"
            exprs[seen[op]] = expr
        names[name] = seen[op]
    return _Branch(inputs, t.group_by(groups).aggregate(**exprs), names, queries)


def _layout(binnings: list[Binning]) -> _merged.Layout:
    """The slots of the slices: the overall slice's, then each column's bins in order; the
    day queries' keys are the slots, the merged rows' ``position * STRIDE + bin``."""
    sizes = [1] + [len(b.labels) for b in binnings]
    keys = np.concatenate(
        [np.arange(size, dtype=np.int64) + (i - 1) * STRIDE for i, size in enumerate(sizes)]
    )

    def slot(found: np.ndarray) -> np.ndarray:
        assert not len(found) or 0 <= found.min() <= found.max() < len(keys), "not a slot"
        return found

    return _merged.Layout(slot, keys)


@dataclass(frozen=True, eq=False)
class _Day:
    """What the profiles keep of one day of one (environment, version): each query's rows."""

    cells: tuple[_merged.Cells, ...]

    @property
    def nbytes(self) -> int:
        return sum(c.nbytes for c in self.cells)


def _by_day(
    ds: Dataset,
    branches: Callable[[tuple[tuple[str, str], ...]], list[_Branch]],
    key: Any,
    layout: _merged.Layout,
    bins: list[Binning],
) -> Fetched | None:
    """:func:`_fetch`'s rows from the days the store's profiles keep (``key``: what the
    queries are), each (environment, version, day) computed once until a batch changes
    it (``by_pair_windows``), merged across the range's days and pairs (``_merged``).
    None where that cannot be: no profiles, a filter, a query whose aggregates do not
    merge (a mean, a variance), no rows, a write while reading."""
    ran = 0

    def queries(pairs: tuple[tuple[str, str], ...]) -> tuple[list[list[Any]], list[_merged.Plan]]:
        """The queries (the main one, then each distinct extra one) and how each merges
        across windows; with ``pairs``, grouped by day and pair; no plan if one does not."""
        found = branches(pairs)
        alias = _own_queries(found[0])
        own = [name for name, first in alias.items() if first == name]
        lists = [[b.main for b in found]] + [[b.queries[name] for b in found] for name in own]
        plans: list[_merged.Plan] = []
        for qs in lists:
            tables = [engine_table(q) for q in qs]
            kinds = {_merged.plan(t, KEY, [WINDOW] if pairs else []) for t in tables}
            schema = tables[0].schema()
            plan = kinds.pop() if len(kinds) == 1 else None
            if plan is None or any(t.schema() != schema for t in tables[1:]):
                return lists, []
            plans.append(plan)
        return lists, plans

    def read(part: Dataset, tables: list[ir.Table]) -> pa.Table:
        nonlocal ran
        ran += 1
        return part.execute(ibis.union(*tables, distinct=False) if len(tables) > 1 else tables[0])

    def compute(part: Dataset) -> dict[tuple[Any, ...], _Day]:
        # every version of the model has its code, whichever the part reads: the queries
        # of one version's days are those of all versions', built once (a view of v2 alone
        # after a batch built its 26 branches anew: 0.6 s on the 10M-row UI store)
        known = {version for _, version in part._store.pairs(part.model_id)}
        versions = sorted(known.union(part.versions or []))
        pairs = tuple(itertools.product(part.environments or [], versions))
        lists, plans = queries(pairs)
        found = branches(pairs)
        only = {i for i in range(1, len(lists)) if _skippable(lists[i], found)}
        # a batch of new inferences has no actuals yet: the extra queries of rows with an
        # actual (the AUC's histogram) find none there, and are not run (planning their
        # union took ~45 ms a half); the main query, whose counts of rows with an actual
        # are 0, counts the rows per bin: one scan of histograms, not a union of a GROUP BY
        # per column (the batch's day on the 10M-row UI store: 0.1 s against 0.25 s of CPU)
        none: set[int] = set()
        counted: pa.Table | None = None
        if without_actuals(part, found[0].inputs):
            none = set(only)
            counted = _counted(part, pairs, bins, found[0])
            if counted is not None:
                nonlocal ran
                ran += 1
                none.add(0)
        # each query (the main one, the histogram) in two halves of its branches, all side
        # by side: a day's rows are a row group or two, which DuckDB reads on one core, and
        # it plans a union of 26 branches in ~60 ms (the main query of the batch's day on
        # the 10M-row UI store: 0.21 s on one core, 0.06 s of it planning)
        pieces = [(i, h) for i, qs in enumerate(lists) if i not in none for h in _halves(qs)]
        later = [beside(part, functools.partial(read, part, h)) for _, h in pieces[1:]]
        got = [read(part, pieces[0][1]), *(f() for f in later)] if pieces else []
        results = [
            counted
            if i == 0 and counted is not None
            else no_rows_of(lists[i][0])
            if i in none
            else pa.concat_tables([t for (j, _), t in zip(pieces, got, strict=True) if j == i])
            for i in range(len(lists))
        ]
        split = [_merged.split(r, p, layout) for r, p in zip(results, plans, strict=True)]
        empty = [_merged.empty(r, p) for r, p in zip(results, plans, strict=True)]
        out = {}
        for code in {w for found in split for w in found}:
            day, i = divmod(code, len(pairs))
            cells = tuple(found.get(code, e) for found, e in zip(split, empty, strict=True))
            env, version = pairs[i]
            out[env, version, EPOCH + timedelta(days=day)] = _Day(cells)
        return out

    # the queries without windows: whether they merge, and how
    lists, plans = queries(())
    if not plans:
        return None
    # a range's days are computed (one query by day and pair: 1.5-1.7x the cost of one
    # over the range) from its second read on, when the profiles keep half of them already
    # (the warmer keeps the default views'), or in the warmer: a range read once costs
    # what the rows cost
    profiles = ds._store.profiles
    sel = (ds.model_id, *(tuple(x or ()) for x in (ds.environments, ds.versions)))
    asked = profiles is not None and profiles.ask(("slices", key, *sel, ds.start, ds.end))
    fill = asked or _merged.filling()
    days = by_pair_windows(ds, key, query_table(ds).columns, "day", compute, fill)
    if not days:
        return None
    parts = [days[k] for k in sorted(days)]
    rows = []
    for i, (qs, plan) in enumerate(zip(lists, plans, strict=True)):
        table = _merged.merged([d.cells[i] for d in parts], plan, layout, _finisher(qs[0]))
        if table is None:
            return None
        rows.append(table.to_pylist())
    alias = _own_queries(branches(())[0])
    own = [name for name, first in alias.items() if first == name]
    extra = dict(zip(own, rows[1:], strict=True))
    return rows[0], {name: extra[first] for name, first in alias.items()}, ran


def _counted(
    part: Dataset, pairs: tuple[tuple[str, str], ...], bins: list[Binning], branch: _Branch
) -> pa.Table | None:
    """The rows of the day queries' main query (``branch``'s) where ``part`` has no row
    with an actual: each slot's rows without one, from the bins' histograms per
    (environment, version, day) (``_count.by_pairs``), whose bins are the slices' (the
    rows below the first edge, each bin, above the last, missing), and 0 for each of the
    metric's counts of rows with an actual. None where the main query holds any other
    aggregate, or its rows would not line up (a day of a pair the codes do not know)."""
    like = no_rows_of(branch.main)
    aggregates = branch.main.op()
    if like is None or not isinstance(aggregates, ops.Aggregate):
        return None
    counts_zero = [n for n in like.column_names if n not in (KEY, WINDOW, N_WITHOUT_ACTUAL)]
    if not all(counts_actual_rows(aggregates.metrics[n], branch.inputs) for n in counts_zero):
        return None
    found = by_pairs(part, {f"p{i}": b for i, b in enumerate(bins)}, "day")
    if found is None:
        return None
    groups, counts, n = found
    if any(counts[f"p{i}"].shape[1] != len(b.labels) for i, b in enumerate(bins)):
        return None
    index = {pair: i for i, pair in enumerate(pairs)}
    if any((env, version) not in index for env, version, _ in groups):
        return None
    # each group's rows per slot: the overall slot's, then each column's bins in order
    per_slot = np.column_stack([n, *(counts[f"p{i}"] for i in range(len(bins)))])
    codes = np.array(
        [(day - EPOCH).days * len(pairs) + index[env, version] for env, version, day in groups],
        dtype=np.int64,
    )
    group, slot = np.nonzero(per_slot)  # a GROUP BY gives the groups with rows only
    columns = {KEY: slot, WINDOW: codes[group], N_WITHOUT_ACTUAL: per_slot[group, slot]}
    columns.update({name: np.zeros(len(slot), dtype=np.int64) for name in counts_zero})
    return pa.table(
        {
            name: pa.array(columns[name], type=like.schema.field(name).type)
            for name in like.column_names
        }
    )


def _skippable(queries: list[Any], found: list[_Branch]) -> bool:
    """Whether every branch's query reads rows with an actual only (``_days.skippable``)."""
    return all(skippable(q, b.inputs) for q, b in zip(queries, found, strict=True))


def _halves(queries: list[Any]) -> list[list[ir.Table]]:
    """The engine tables of ``queries`` in two halves (one where there is a single one)."""
    tables = [engine_table(q) for q in queries]
    half = (len(tables) + 1) // 2
    return [tables[:half], tables[half:]] if half < len(tables) else [tables]


def _run(ds: Dataset, queries: list[ir.Table | Finished]) -> tuple[list[dict[str, Any]], int]:
    """Every query's rows, as one UNION ALL query when their schemas agree (and they are
    finished alike: a finish treats each group alone, and the branches' keys differ)."""
    tables = [engine_table(q) for q in queries]
    schema, how = tables[0].schema(), _finisher(queries[0])
    if all(
        t.schema() == schema and _finisher(q) == how for q, t in zip(queries, tables, strict=True)
    ):
        union = ibis.union(*tables, distinct=False) if len(tables) > 1 else tables[0]
        return finish(queries[0], ds.execute(union)).to_pylist(), 1
    rows = [
        row
        for q, t in zip(queries, tables, strict=True)
        for row in finish(q, ds.execute(t)).to_pylist()
    ]
    return rows, len(tables)


def _finisher(query: ir.Table | Finished) -> Any:
    return query.finish if isinstance(query, Finished) else None


def _evaluate(
    ds: Dataset,
    metric: Metric,
    branches: Callable[[tuple[tuple[str, str], ...]], list[_Branch]],
    kept: tuple[Any, _merged.Layout, list[Binning]] | None = None,
    recipe: tuple[Any, ...] | None = None,
) -> tuple[dict[tuple[int, int], tuple[MetricValue, int]], int]:
    """The metric and the count of rows without an actual per (column position, bin), from
    ``branches(pairs)``: with ``kept`` (what the queries are, the layout of their keys and
    each column's bins), from the days the profiles keep where they can serve
    (:func:`_by_day`), else from the rows; with ``recipe`` (every input of the branches),
    from queries the store keeps under it, none built where it has them (:func:`_planned`)."""
    planned = _planned(ds, recipe, branches) if kept is None and recipe is not None else None
    if planned is not None:
        views, fetched = planned
    else:
        used = branches(())  # the rows' names and inputs are those of the day queries too
        views = [_View(b.names, b.inputs) for b in used]
        found_days = _by_day(ds, branches, *kept) if kept is not None else None
        fetched = found_days if found_days is not None else _fetch(ds, used)
    main, extra_rows, queries = fetched
    extra: dict[str, dict[tuple[int, int], list[dict[str, Any]]]] = {}
    for name, rows in extra_rows.items():
        grouped = extra[name] = {}
        for row in rows:
            grouped.setdefault(divmod(int(row[KEY]), STRIDE), []).append(row)
    counted = {divmod(int(row[KEY]), STRIDE): row for row in main}
    found = set(counted)
    if not views[0].names:  # the main query counted only the rows without an actual
        found.update(key for rows in extra.values() for key in rows)
    out = {}
    for key in sorted(found):
        view = views[key[0] + 1]
        row = counted.get(key, {})
        group = GroupData(
            scalars={name: row[column] for name, column in view.names.items()},
            tables={name: extra[name].get(key, []) for name in extra},
            input=view.inputs,
        )
        out[key] = (metric.result(group), int(row.get(N_WITHOUT_ACTUAL) or 0))
    return out, queries


@dataclass(frozen=True)
class _View:
    """What reading a branch's rows needs: its aggregates' columns and its input."""

    names: dict[str, str]
    inputs: MetricInput


Fetched = tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]], int]


def _own_queries(branch: _Branch) -> dict[str, str]:
    """Each extra query's name -> the first name of an equal query (a histogram the AUC and
    the AP share runs once)."""
    alias: dict[str, str] = {}
    for name, query in branch.queries.items():
        same = (e for e in alias if alias[e] == e and same_query(branch.queries[e], query))
        alias[name] = next(same, name)
    return alias


def _asks(branch: _Branch) -> tuple[Any, ...]:
    """What ``branch`` asks the engine: its main query and each extra one (their ops, whose
    hashes Ibis computed as it built them), and how each is finished."""
    extra = sorted(branch.queries.items())
    return (branch.main.op(), *((n, engine_table(q).op(), _finisher(q)) for n, q in extra))


def _fetch(ds: Dataset, branches: list[_Branch]) -> Fetched:
    """The main query's rows and each extra query's (finished), read from the rows."""
    main, queries = _run(ds, [b.main for b in branches])
    alias = _own_queries(branches[0])
    extra: dict[str, list[dict[str, Any]]] = {}
    for name, first in alias.items():
        if first == name:
            rows, n = _run(ds, [b.queries[name] for b in branches])
            queries += n
            extra[name] = rows
    return main, {name: extra[first] for name, first in alias.items()}, queries


# -- recipes: the queries of a new process's slices, none built where the store has them ---


def _recipe_key(
    table: ir.Table,
    task: Task,
    metric: Metric,
    settings: dict[str, Any],
    binned: list[tuple[str, Binning]],
) -> tuple[Any, ...] | None:
    """Every input of the branches' queries, as plain values (None for a custom metric,
    whose code the store's namespace does not cover): the template, the task, the metric,
    the settings and each column's bins."""
    about = metric_id(metric)
    if about is None:
        return None
    bins = tuple(
        (name, b.column_, b.kind_, tuple(b.edges_ or ()), tuple(b.categories_ or ()))
        for name, b in binned
    )
    return ("slices", table.op(), task, about, tuple(sorted(settings.items())), bins)


def _probe(ds: Dataset, table: ir.Table, task: Task, settings: dict[str, Any]) -> MetricInput:
    """The prepared input's plain values (which metrics the rows allow, the positive class),
    a recipe where the store keeps them (its table is not read)."""

    def build() -> MetricInput:
        return prepare(table, task, {}, **settings)  # an expression only: nothing runs

    if not callable(getattr(ds, "kept_text", None)):
        return build()
    key = ("slices.probe", table.op(), task, tuple(sorted(settings.items())))
    try:
        text = ds.kept_text(key, lambda: json.dumps(plain_input(build())))
    except Unkept:
        return build()
    return input_of(json.loads(text), table)


def _planned(
    ds: Dataset,
    key: tuple[Any, ...],
    branches: Callable[[tuple[tuple[str, str], ...]], list[_Branch]],
) -> tuple[list[_View], Fetched] | None:
    """The branches' views and rows from their recipe: the plan (each branch's aggregate
    columns and input, which queries run, how their rows are finished) kept as JSON text
    under ``key``, each query's SQL as a recipe; None where they cannot be kept."""
    try:
        text = ds.kept_text((*key, "plan"), lambda: _plan_text(branches(())))
    except Unkept:
        return None
    plan = json.loads(text)
    template = query_table(ds)
    views = [_View(b["names"], input_of(b["input"], template)) for b in plan["branches"]]

    def tables(name: str | None) -> Callable[[], list[ir.Table | Finished]]:
        if name is None:
            return lambda: [b.main for b in branches(())]
        return lambda: [b.queries[name] for b in branches(())]

    main, queries = _run_kept(ds, (*key, "main"), plan["main"], tables(None))
    extra: dict[str, list[dict[str, Any]]] = {}
    for name, first in plan["alias"].items():
        if first == name:
            rows, n = _run_kept(ds, (*key, "extra", name), plan["extra"][name], tables(name))
            queries += n
            extra[name] = rows
    return views, (main, {name: extra[first] for name, first in plan["alias"].items()}, queries)


def _run_kept(
    ds: Dataset,
    key: tuple[Any, ...],
    spec: dict[str, Any],
    queries: Callable[[], list[ir.Table | Finished]],
) -> tuple[list[dict[str, Any]], int]:
    """:func:`_run` of the queries ``spec`` describes, each one's SQL a recipe."""
    finishes = [finish_of(f) for f in spec["finish"]]
    if spec["union"]:

        def union() -> ir.Table:
            tables = [engine_table(q) for q in queries()]
            return ibis.union(*tables, distinct=False) if len(tables) > 1 else tables[0]

        return finishes[0](ds.execute_recipe(key, union)).to_pylist(), 1
    rows = []
    for i, done in enumerate(finishes):
        table = ds.execute_recipe((*key, i), functools.partial(_engine_table_of, queries, i))
        rows += done(table).to_pylist()
    return rows, len(finishes)


def _engine_table_of(queries: Callable[[], list[ir.Table | Finished]], i: int) -> ir.Table:
    return engine_table(queries()[i])


def _unites(queries: list[ir.Table | Finished]) -> bool:
    """Whether :func:`_run` reads ``queries`` as one UNION ALL query."""
    tables = [engine_table(q) for q in queries]
    schema, how = tables[0].schema(), _finisher(queries[0])
    return all(
        t.schema() == schema and _finisher(q) == how for q, t in zip(queries, tables, strict=True)
    )


def _plan_text(used: list[_Branch]) -> str:
    """The plan :func:`_planned` reads, as JSON (raises :class:`Unkept` where there is
    none)."""

    def spec(queries: list[ir.Table | Finished]) -> dict[str, Any]:
        union = _unites(queries)
        run = queries[:1] if union else queries
        return {"union": union, "finish": [finish_spec(q) for q in run]}

    alias = _own_queries(used[0])
    own = [name for name, first in alias.items() if first == name]
    plan = {
        "branches": [{"names": b.names, "input": plain_input(b.inputs)} for b in used],
        "alias": alias,
        "main": spec([b.main for b in used]),
        "extra": {name: spec([b.queries[name] for b in used]) for name in own},
    }
    try:
        return json.dumps(plan)
    except (TypeError, ValueError):
        raise Unkept from None


def _slice(
    column: str | None,
    label: str,
    kind: str,
    found: tuple[MetricValue, int] | None,
    overall: Slice | None,
) -> Slice:
    if found is None:
        return Slice(column, label, kind, None, share=0.0 if overall and overall.n else None)
    mv, without = found
    share = None
    if overall is None:  # this is the overall slice
        share = 1.0 if mv.n else None
    elif overall.n:
        share = mv.n / overall.n
    significant = None
    if overall is not None and overall.value is not None and mv.ci_low is not None:
        high = mv.ci_high if mv.ci_high is not None else math.inf
        significant = not mv.ci_low <= overall.value <= high
    bound = (mv.detail or {}).get("error_bound")
    return Slice(
        column,
        label,
        kind,
        mv.value,
        mv.ci_low,
        mv.ci_high,
        mv.n,
        without,
        share,
        significant,
        None if bound is None else float(bound),
    )


def slices(
    ds: Dataset,
    metric: str | None = None,
    *,
    columns: str | Sequence[str] | None = None,
    binnings: Mapping[str, Binning] | None = None,
    reference: Dataset | None = None,
    min_support: int = 30,
    confidence: float = 0.95,
    positive_class: Any = None,
    threshold: float | None = None,
    task: Task | str | None = None,
) -> SliceResult:
    """``metric`` on every bin of every column of ``ds``, with intervals, in the engine.

    - ``metric``: a metric key with one value (see ``evalstore.analyses.metrics``); None
      takes the task's: binary ``roc_auc`` (``accuracy`` without scores), multiclass
      ``accuracy``, regression ``mae``.
    - ``columns``: the columns to slice on; None takes every feature and tag
      (:func:`~evalstore.analyses.binning.feature_columns`).
    - ``binnings``: ``{column: fitted Binning}`` (e.g. a baseline's) to slice on; columns
      without one are binned on ``reference`` if given, else on ``ds`` itself.
    - ``min_support``: the fewest rows (``n``) a slice needs to count in :meth:`worst`.
    - ``confidence``, ``positive_class``, ``threshold``, ``task``: as for
      :func:`~evalstore.analyses.performance.performance`.

    Example::

        found = slices(current, "accuracy", reference=training, min_support=100)
        worst = found.worst(3)   # [Slice(column='region', bin='west', value=0.61, ...), ...]
        found.to_dict()          # plain JSON, SliceResult.from_dict reads it back
    """
    if not isinstance(getattr(ds, "table", None), ir.Table) or not callable(
        getattr(ds, "execute", None)
    ):
        raise ParameterError(
            "ds", "an evalstore Dataset", type(ds).__name__, "Get one with model.dataset(...)."
        )
    table = query_table(ds)
    if task is None:
        task = getattr(ds, "task", None)
    parsed = Task.parse(task) if task is not None else infer_task(table.columns)
    cutoff = binary_only(parsed, positive_class, threshold)
    confidence = check_confidence(confidence)
    min_support = _check_count("min_support", min_support)
    binary = parsed is Task.BINARY_CLASSIFICATION
    settings: dict[str, Any] = {
        "positive_class": positive_class,
        "threshold": cutoff,
        "confidence": confidence,
        "score_bins": SCORE_BINS,
    }
    probe = _probe(ds, table, parsed, settings)
    chosen = _metric(metric, parsed, probe.has_label, probe.has_score)
    check_positive_class(ds, positive_class, probe.positive_class)
    names = _columns(ds, columns)
    used = _binnings(ds, names, binnings, reference)

    for name in names:  # checked now: the indexes are built only when a query is
        check_binning(name, used[name], f"binnings[{name!r}]")

    @functools.cache
    def indexes() -> list[ir.IntegerValue]:
        found = [ibis.literal(0).cast("int64")]
        return found + [bin_index(table, n, used[n], f"binnings[{n!r}]") for n in names]

    slots = np.cumsum([0, 1] + [len(used[name].labels) for name in names])

    def branches(pairs: tuple[tuple[str, str], ...]) -> list[_Branch]:
        return [
            _branch(table, parsed, chosen, i - 1, index, settings, pairs, int(slots[i]))
            for i, index in enumerate(indexes())
        ]

    kept = recipe = None
    if isinstance(ds, Dataset) and ds._store.profiles is not None and ds.where is None:
        # what the queries are: the overall branch's (metrics that ask the same share the
        # days kept: a binary model's accuracy, precision, recall, F1, FPR... its four
        # confusion counts) on each column's bins
        key = ("slices", table.op(), parsed, _asks(branches(())[0]))
        bins = [used[n] for n in names]
        kept = ((*key, *(index.op() for index in indexes())), _layout(bins), bins)
    else:
        recipe = _recipe_key(table, parsed, chosen, settings, [(n, used[n]) for n in names])
    found, queries = _evaluate(ds, chosen, branches, kept, recipe)

    overall = _slice(None, "all", "all", found.get((-1, 0)), None)
    rows = []
    for position, name in enumerate(names):
        b = used[name]
        for i, (label, kind) in enumerate(zip(b.labels, b.bin_kinds, strict=True)):
            rows.append(_slice(name, label, kind, found.get((position, i)), overall))
    return SliceResult(
        task=parsed.value,
        metric=chosen.key,
        higher_is_better=chosen.higher_is_better,
        confidence=confidence,
        min_support=min_support,
        positive_class=probe.positive_class if binary else None,
        threshold=cutoff if binary else None,
        columns=names,
        overall=overall,
        rows=rows,
        binnings=used,
        queries=queries,
    )


def slice_predicate(table: ir.Table, binning: Binning, label: str) -> ir.BooleanValue:
    """The rows of ``table`` in the bin labelled ``label`` of a fitted ``binning``: the
    filter that narrows any dataset to one slice of a :class:`SliceResult`.

    The same rows as ``bin_index(table, column, binning) == binning.labels.index(label)``,
    written as plain comparisons so that the engine can skip row groups: a category is an
    equality (``other``: a value outside the fitted ones, ``missing``: null), a numeric bin
    an interval of the fitted edges (the first one closed, the others open on the left),
    ``below``/``above`` the values outside them, ``missing`` null or NaN. ::

        b = result.binnings["hr"]
        ds = model.dataset(environment="production",
                           where=lambda t: slice_predicate(t, b, "(16, 19]"))
    """
    if not isinstance(binning, Binning):
        raise ParameterError("binning", "a fitted Binning", type(binning).__name__)
    binning.check_fitted()
    column = binning.column_
    if column is None or column not in table.columns:
        raise ParameterError("binning", "a Binning fitted on a column of the table", column)
    labels = binning.labels
    if label not in labels:
        raise ParameterError(
            "slice",
            f"a bin of {column!r}: one of {labels}",
            label,
            did_you_mean(label, labels).strip(),
        )
    index = labels.index(label)
    kind = binning.bin_kinds[index]
    x = table[column]
    floating = x.type().is_floating()
    missing = (x.isnull() | x.isnan()) if floating else x.isnull()
    if kind == "missing":
        return missing
    if binning.kind_ == "categorical":
        categories = list(binning.categories_ or ())
        if kind == "other":
            if not categories:
                return ~missing
            return ~missing & ~x.isin([ibis.literal(c) for c in categories])
        return x == ibis.literal(categories[index])
    edges = binning.edges_ or ()
    present = ~missing  # DuckDB orders NaN above every number: keep it out of the bins
    if not edges:  # no reference values: every value is above the (empty) bins
        return present if kind == "above" else ibis.literal(False)
    if kind == "below":
        return present & (x < edges[0])
    if kind == "above":
        return present & (x > edges[-1])
    if len(edges) == 1:
        return present & (x == edges[0])
    low, high = edges[index - 1], edges[index]
    return present & ((x >= low) if index == 1 else (x > low)) & (x <= high)
