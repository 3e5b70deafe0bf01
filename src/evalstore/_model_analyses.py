"""The analyses as methods of an embedded ``Model``, with the remote model's signatures.

``es.connect(url)`` and ``es.connect(path)`` give models with the same API (docs/api.md):
``model.performance(...)``, ``drift``, ``drift_over_time``, ``quality`` and ``slices`` take
the same arguments on both, and the embedded ones compute what the server's endpoints
compute (``server/routes/``): thin wrappers over :mod:`evalstore.analyses` on
``model.dataset(...)`` selections. A selection is ``None`` (every row, where allowed), an
environment name, a dict of ``model.dataset()`` arguments or a Dataset of this model; a
reference may also be a stored baseline (its name or the Baseline), whose frozen bins and
expectations are used. Example::

    model.performance("production", ["roc_auc"], by="week")
    # the same as performance(model.dataset(environment="production"), ["roc_auc"], by="week")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from evalstore.analyses.baseline import Baseline, Selector
from evalstore.errors import ParameterError

if TYPE_CHECKING:
    from evalstore.analyses.drift import DriftOverTime, DriftResult
    from evalstore.analyses.performance import PerformanceResult
    from evalstore.analyses.quality import QualityResult
    from evalstore.analyses.slices import SliceResult
    from evalstore.dataset import Dataset

__all__ = ["ModelAnalyses"]


def _names(columns: str | Sequence[str] | None) -> list[str] | None:
    # the remote model sends a single name as a one-item list
    if columns is None:
        return None
    return [columns] if isinstance(columns, str) else list(columns)


class ModelAnalyses:
    """The analyses of :class:`evalstore.Model` (mixed in; see the module doc)."""

    if TYPE_CHECKING:  # what Model provides

        def dataset(self) -> Dataset: ...

        def _selection(self, value: Any, what: str, baselines: bool) -> Dataset | Baseline: ...

    def _rows(self, dataset: Any, what: str = "dataset") -> Dataset:
        """A selection of rows: None (all), an environment, a dict or a Dataset."""
        if dataset is None:
            return self.dataset()
        found = self._selection(dataset, what, baselines=False)
        assert not isinstance(found, Baseline)  # without baselines, a selection is rows
        return found

    def _reference(self, reference: Any, current: Dataset) -> tuple[Dataset, Baseline | None]:
        """The reference rows and, for a baseline, the fitted baseline to use (a moving one
        fitted on the days before ``current``), as the server's ``reference_for``."""
        found = self._selection(reference, "reference", baselines=True)
        if isinstance(found, Baseline):
            # Model is the one class this is mixed into
            return found.reference_for(self, current)  # type: ignore[arg-type]
        return found, None

    def performance(
        self,
        dataset: Dataset | str | Mapping[str, Any] | None = None,
        metrics: str | Sequence[str] | None = None,
        *,
        by: str | Sequence[str] | None = None,
        positive_class: Any = None,
        threshold: float | None = None,
        confidence: float = 0.95,
    ) -> PerformanceResult:
        """Metrics of the selected rows (all when ``dataset`` is None), overall or per group:
        ``performance(model.dataset(...), metrics, by=...)``. A numeric column in ``by`` is
        refused (there are no ``bins`` here): the error names what bins it."""
        from evalstore.analyses.performance import performance, refuse_numeric_by

        rows = self._rows(dataset)
        refuse_numeric_by(
            rows,
            by,
            lambda numeric: (
                f"{numeric!r} is numeric (integer features are too): model.slices(dataset, "
                f"metric, columns=[{numeric!r}]) gives a metric per bin of it, and "
                "evalstore.analyses.performance.performance(model.dataset(...), metrics, "
                f"by={numeric!r}, bins={{{numeric!r}: [0, 30, 60]}}) groups it on edges of "
                "your own; to group by each of its values, log it with "
                f"feature_types={{{numeric!r}: 'categorical'}} in the Schema."
            ),
        )
        return performance(
            rows,
            metrics,
            by=by,
            positive_class=positive_class,
            threshold=threshold,
            confidence=confidence,
        )

    def drift(
        self,
        reference: Dataset | Baseline | str | Mapping[str, Any],
        current: Dataset | str | Mapping[str, Any],
        columns: str | Sequence[str] | None = None,
        method: str | None = None,
        alpha: float = 0.05,
        *,
        threshold: float | None = None,
    ) -> DriftResult:
        """Drift of every column of ``current`` against ``reference`` (a baseline's frozen bins
        when it is one): ``drift(reference, current, ...)``. ``columns`` defaults to the
        reference's features and tags."""
        from evalstore.analyses.drift import drift

        ref, cur, names, binnings = self._drift_sides(reference, current, columns)
        return drift(ref, cur, names, method, alpha, threshold=threshold, binnings=binnings)

    def drift_over_time(
        self,
        reference: Dataset | Baseline | str | Mapping[str, Any],
        current: Dataset | str | Mapping[str, Any],
        by: str = "day",
        columns: str | Sequence[str] | None = None,
        method: str | None = None,
        alpha: float = 0.05,
        *,
        threshold: float | None = None,
    ) -> DriftOverTime:
        """Drift of each time window (``by``: hour, day, week, month) of ``current`` against
        ``reference``: ``drift_over_time(reference, current, by, ...)``."""
        from evalstore.analyses.drift import drift_over_time

        ref, cur, names, binnings = self._drift_sides(reference, current, columns)
        return drift_over_time(
            ref, cur, by, names, method, alpha, threshold=threshold, binnings=binnings
        )

    def _drift_sides(
        self,
        reference: Dataset | Baseline | str | Mapping[str, Any],
        current: Dataset | str | Mapping[str, Any],
        columns: str | Sequence[str] | None,
    ) -> tuple[Dataset, Dataset, list[str], dict[str, Any] | None]:
        """What drift and drift over time compare: the reference's rows, the current rows,
        the columns (default the reference's features and tags) and a baseline's bins."""
        from evalstore.analyses.binning import feature_columns

        cur = self._rows(current, "current")
        ref, fitted = self._reference(reference, cur)
        names = _names(columns)
        binnings = fitted.binnings_ if fitted is not None else None
        return ref, cur, list(names) if names is not None else feature_columns(ref), binnings

    def quality(
        self,
        dataset: Dataset | str | Mapping[str, Any] | None = None,
        reference: Dataset | Baseline | str | Mapping[str, Any] | None = None,
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
        none): ``quality(model.dataset(...), learn_expectations(reference), ...)``."""
        from evalstore.analyses.quality import Expectations, learn_expectations, quality

        ds = self._rows(dataset)
        names = _names(columns)
        expectations: Expectations | None = None
        if reference is not None:
            rows, fitted = self._reference(reference, ds)
            if fitted is not None and fitted.expectations_ is not None:
                expectations = fitted.expectations_
            else:
                expectations = learn_expectations(rows, names)
        return quality(
            ds,
            expectations,
            by=by,
            columns=names,
            positive_class=positive_class,
            threshold=threshold,
            min_rows=min_rows,
            exact_distinct=exact_distinct,
            details=details,
        )

    def slices(
        self,
        dataset: Dataset | str | Mapping[str, Any] | None = None,
        metric: str | None = None,
        *,
        columns: str | Sequence[str] | None = None,
        reference: Dataset | Baseline | str | Mapping[str, Any] | None = None,
        min_support: int = 30,
        confidence: float = 0.95,
        positive_class: Any = None,
        threshold: float | None = None,
    ) -> SliceResult:
        """``metric`` on every bin of every column of the selected rows, binned on
        ``reference`` (a baseline's frozen bins, or fitted on those rows; None: on the
        selected rows): ``slices(model.dataset(...), metric, ...)``."""
        from evalstore.analyses.slices import no_rows_to_bin, slices

        ds = self._rows(dataset)
        rows: Dataset | None = None
        fitted: Baseline | None = None
        if reference is not None:
            rows, fitted = self._reference(reference, ds)
        try:
            return slices(
                ds,
                metric,
                columns=_names(columns),
                binnings=fitted.binnings_ if fitted is not None else None,
                reference=rows,
                min_support=min_support,
                confidence=confidence,
                positive_class=positive_class,
                threshold=threshold,
            )
        except ParameterError as exc:
            if not no_rows_to_bin(exc):
                raise
            raise ParameterError(
                "dataset",
                "a selection with rows to fit the bins on",
                f"no rows for {Selector.of(ds).describe()}",
                "Pick another time range, environment or version (model.info() shows what "
                "the store holds), or pass reference= (a baseline, or other rows) to take "
                "the bins from.",
            ) from None
