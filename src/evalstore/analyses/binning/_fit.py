"""fit_binnings: every column's bins fitted on a reference in as few queries as can be."""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import ibis
import numpy as np

from evalstore.errors import ParameterError

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from evalstore.dataset import Dataset

from evalstore._arrow import numbers
from evalstore.analyses.binning import _columns as shared
from evalstore.analyses.binning._binning import Binning
from evalstore.analyses.binning._columns import (
    _array_literal,
    _category,
    _clean,
    _columns,
    _duckdb_approx_quantiles,
    _float,
    _valid_count,
    column_kinds,
)
from evalstore.analyses.binning._count import histograms
from evalstore.dataset import query_table

#: numeric columns per statistics query: for exact quantiles DuckDB holds every value of the
#: column (80 MB per 10M rows, per thread), so 20 columns in one query peaked at 3.4 GiB on
#: 10M rows; a query reads only its own columns, so more queries cost little time
STATISTICS_COLUMNS = 5

#: approximate quantiles (fine bins) are the exact quantiles (NumPy's) of at most about this
#: many values per column: every row of a smaller reference, else the rows whose prediction
#: id hashes to a multiple of a step, the same rows on every call. DuckDB's t-digest gave
#: other edges on each call (threads merge in any order: a KS p-value of 0.168 on one call
#: was 0.157 on the next); the sample's values travel as one list per column (0.8 MB), and
#: on 20 columns x 1M rows this took ~0.3 s against 1.0-1.7 s for the t-digest
SAMPLE_ROWS = 100_000


def _probabilities(b: Binning) -> list[float]:
    probs = [i / b.bins for i in range(1, b.bins)]
    if b.approximate and b.bins >= 100:
        # finer tails: the outermost quantile bins of a long tail are the widest
        tails = [f * 10.0**-k for k in (3, 4, 5) for f in (1, 2, 5)]
        probs = sorted({*probs, *tails, *(1 - p for p in tails)})
    return probs


_SAMPLED = "sampled"


def _sample(
    reference: Dataset, t: ir.Table, numeric: list[Binning]
) -> tuple[ir.Table, ir.BooleanValue | None] | None:
    """The table and the filter of the rows whose values give approximate quantiles
    (:data:`SAMPLE_ROWS`): every row (None) of a small reference, else those whose
    prediction id hashes to a multiple of the step, computed once per row. None when no
    column asks for them, or the rows have no prediction id: the t-digest then."""
    if "prediction_id" not in t.columns or not any(
        b.approximate and b.strategy == "quantile" and b.bins > 1 for b in numeric
    ):
        return None
    step = max(1, -(-reference.count() // SAMPLE_ROWS))
    if step == 1:
        return t, None
    marked = t.mutate(__es_sampled=t["prediction_id"].hash() % step == 0)
    return marked, marked["__es_sampled"]


def fit_binnings(
    reference: Dataset,
    columns: Sequence[str] | None = None,
    config: Binning | Mapping[str, Binning] | None = None,
) -> dict[str, Binning]:
    """Fit one :class:`Binning` per column on ``reference``, in as few engine queries as can be.

    ``columns`` defaults to :func:`feature_columns`. ``config`` is the unfitted Binning to
    copy for every column, or a mapping column -> Binning (others get ``Binning()``).
    Queries: one per :data:`STATISTICS_COLUMNS` numeric columns' statistics and quantiles
    (and the row count), one top-k GROUP BY per
    categorical column (the optimizer drops the actuals join from these; a UNION of them
    keeps it, and costs 8x), one scan for the numeric columns' reference counts.
    """
    names = _columns(reference, columns)
    kinds = column_kinds(reference, names)
    templates: dict[str, Binning] = {}
    for name in names:
        template = config.get(name) if isinstance(config, Mapping) else config
        if template is None:
            template = Binning()
        elif not isinstance(template, Binning):
            raise ParameterError("config", "a Binning or a mapping of column -> Binning", template)
        fresh = replace(template)  # a copy, unfitted: artifacts are not init fields
        fresh.column_, fresh.kind_ = name, template.kind or kinds[name]
        if fresh.kind_ == "numeric" and kinds[name] != "numeric":
            raise ParameterError(
                f"config[{name!r}].kind", "'categorical' for a non-float column", "numeric"
            )
        templates[name] = fresh
    t = query_table(reference)
    fast = shared._uses_duckdb(reference)
    numeric = [n for n in names if templates[n].kind_ == "numeric"]
    categorical = [n for n in names if templates[n].kind_ == "categorical"]

    per_column: list[dict[str, Any]] = []
    sampled = _sample(reference, t, [templates[n] for n in numeric]) if fast else None
    if sampled is not None:
        t, sample = sampled
    for i, name in enumerate(numeric):
        b, x = templates[name], _clean(t[name])
        aggs: dict[str, Any] = {f"v{i}": x.count(), f"lo{i}": x.min(), f"hi{i}": x.max()}
        if b.strategy == "quantile" and b.bins > 1:
            probs = _probabilities(b)
            if b.approximate and sampled is not None:
                present = x.notnull() if sample is None else x.notnull() & sample
                aggs[f"{_SAMPLED}{i}"] = x.collect(where=present)
            elif b.approximate and fast:
                positions = _array_literal(probs, "float32")
                aggs[f"q{i}"] = _duckdb_approx_quantiles(x, positions)
            elif b.approximate:
                aggs[f"q{i}"] = x.approx_quantile(probs)
            else:
                aggs[f"q{i}"] = x.quantile(probs)
        if b.strategy == "median_centered":
            aggs[f"med{i}"] = x.quantile(0.5)
        if b.strategy == "median_centered" or b.approximate:
            aggs[f"mean{i}"], aggs[f"std{i}"] = x.mean(), x.std(how="pop")
        per_column.append(aggs)
    first: dict[str, Any] = {"n": t.count()}
    for i, name in enumerate(categorical):
        first[f"c{i}"] = _valid_count(t[name])
    row: dict[str, Any] = {}
    for k in range(0, max(len(per_column), 1), STATISTICS_COLUMNS):
        aggs = first if k == 0 else {}
        for column in per_column[k : k + STATISTICS_COLUMNS]:
            aggs |= column
        found = reference.execute(t.aggregate(**aggs))
        for key in [c for c in found.column_names if c.startswith(_SAMPLED)]:
            i = int(key[len(_SAMPLED) :])
            values = np.sort(numbers(found.column(key).combine_chunks().values))
            probs = _probabilities(templates[numeric[i]])
            row[f"q{i}"] = np.quantile(values, probs).tolist() if len(values) else None
            found = found.drop_columns([key])
        row |= found.to_pylist()[0]
    n = int(row["n"] or 0)
    if n == 0:
        raise ParameterError(
            "reference",
            "a dataset with rows",
            "no rows",
            "Check its environment, version or dates.",
        )

    for i, name in enumerate(numeric):
        b = templates[name]
        b.n_reference_ = n
        lo, hi = row[f"lo{i}"], row[f"hi{i}"]
        b.min_, b.max_ = _float(lo), _float(hi)
        if f"std{i}" in row:
            b.mean_, b.std_ = _float(row[f"mean{i}"]), _float(row[f"std{i}"])
        b.edges_ = _numeric_edges(b, lo, hi, row.get(f"q{i}"), row.get(f"med{i}"))
        if b.strategy == "quantile" and not b.approximate and 1 < len(b.edges_) <= b.bins:
            # fewer bins than asked: quantiles tied on repeated values (a 0/1 flag, counts,
            # a feature that is mostly 0)
            b.edges_ = (
                _discrete_edges(reference, t, name, b.bins)
                or _mass_point_edges(reference, t, name, b.bins, [lo, *row[f"q{i}"], hi])
                or b.edges_
            )
        elif b.strategy == "quantile" and sampled is not None and 1 < len(b.edges_) <= b.bins:
            # fine bins on repeated values: each value alone in a bin of no width
            b.edges_ = _atom_edges(reference, t, name, b.bins) or b.edges_
    for i, name in enumerate(categorical):
        b = templates[name]
        x = t[name]
        present = x.notnull() & ~x.isnan() if x.type().is_floating() else x.notnull()
        top = (
            t.filter(present)
            .group_by(value=x)
            .aggregate(count=ibis._.count())
            .order_by([ibis.desc("count"), "value"])
            .limit(b.top_k)
        )
        found = reference.execute(top).to_pylist()
        b.categories_ = tuple(_category(r["value"]) for r in found)
        valid = int(row[f"c{i}"] or 0)
        counts = [int(r["count"]) for r in found]
        b.reference_counts_ = (*counts, valid - sum(counts), n - valid)
        b.n_reference_ = n
    if numeric:
        counted = histograms(reference, {name: templates[name] for name in numeric})
        for name in numeric:
            templates[name].reference_counts_ = tuple(int(c) for c in counted[name])
    return templates


def _numeric_edges(
    b: Binning, lo: float | None, hi: float | None, quantiles: Any, median: float | None
) -> tuple[float, ...]:
    if b.strategy == "edges":
        return tuple(b.edges or ())
    if lo is None or hi is None:  # no values in the reference
        return ()
    inner: list[float] = []
    if b.strategy == "quantile":
        inner = [float(q) for q in quantiles or () if q is not None]
    elif b.strategy == "equal_width":
        # a convex combination, so that -1e308..1e308 does not overflow
        inner = [lo * (1 - k / b.bins) + hi * (k / b.bins) for k in range(1, b.bins)]
    elif b.strategy == "median_centered" and median is not None:
        width = (b.std_ or 0.0) * b.sd_width
        half = b.bins // 2
        if width > 0 and math.isfinite(width):
            inner = [median + k * width for k in range(-(half - 1), half)]
        else:
            inner = [median]
    edges = {float(lo), float(hi), *(e for e in inner if lo < e < hi)}
    return tuple(sorted(e for e in edges if math.isfinite(e)))


def _distinct_values(reference: Dataset, t: ir.Table, name: str, most: int) -> list[float] | None:
    """The column's distinct finite values in order, if 2 to ``most`` of them."""
    x = _clean(t[name])
    query = (
        t.select(value=x)
        .filter(ibis._.value.notnull())
        .group_by("value")
        .aggregate()
        .order_by("value")
        .limit(most + 1)
    )
    values = [float(r["value"]) for r in reference.execute(query).to_pylist()]
    if len(values) > most or len(values) < 2 or not all(map(math.isfinite, values)):
        return None
    return values


def _discrete_edges(
    reference: Dataset, t: ir.Table, name: str, bins: int
) -> tuple[float, ...] | None:
    """One bin per value when the column holds at most ``bins`` distinct values: edges at
    the smallest and largest values and halfway between neighbours, so that ``[0, 0.5]``
    and ``(0.5, 1]`` part a 0/1 flag that quantile edges leave in one bin ``[0, 1]``
    (where a shift from 30% to 70% of ones is no drift at all). None with more values."""
    values = _distinct_values(reference, t, name, bins)
    if values is None:
        return None
    halves = [a / 2 + b / 2 for a, b in itertools.pairwise(values)]  # no overflow near 1e308
    edges = sorted({values[0], *halves, values[-1]})
    return tuple(edges) if len(edges) == len(values) + 1 else None


def _mass_point_edges(
    reference: Dataset, t: ir.Table, name: str, bins: int, marks: Sequence[Any]
) -> tuple[float, ...] | None:
    """Quantile bins around values that hold a large share of the rows (``marks``: the
    minimum, the quantiles and the maximum; a value among them twice holds 1 / ``bins`` of
    the rows or more). Each such value gets a bin of its own, its edges halfway to
    the nearest values below and above it, and the other values share the other bins at
    their own quantiles (a value inside their range splits the bin it falls in: one bin
    more). Without this, a feature that is 0 in 92% of the rows (a capital gain) got the
    one bin ``[0, 1e5]``, so a move to 55% zeros was a PSI of 0; and it was offered as a
    slice of every row. One query. None without such values, or with too many of them."""
    found = [float(m) for m in marks if m is not None]
    atoms = sorted({v for v in found if found.count(v) > 1 and math.isfinite(v)})
    if not atoms or len(atoms) >= bins:
        return None
    x = _clean(t[name])
    rest = x.notnull() & ~x.isin(atoms)
    k = bins - len(atoms)
    aggs: dict[str, Any] = {}
    if k > 1:
        aggs["q"] = x.quantile([j / k for j in range(1, k)], where=rest)
    for j, v in enumerate(atoms):
        aggs[f"below{j}"], aggs[f"above{j}"] = x.max(where=x < v), x.min(where=x > v)
    row = reference.execute(t.aggregate(**aggs)).to_pylist()[0]
    inner = [float(q) for q in row.get("q") or () if q is not None]
    edges = {found[0], found[-1]}
    for j, v in enumerate(atoms):
        below, above = row[f"below{j}"], row[f"above{j}"]
        low = -math.inf if below is None else float(below)
        high = math.inf if above is None else float(above)
        # no other value lies between the neighbours: the atom's bin holds it alone
        inner = [e for e in inner if not low <= e <= high]
        edges |= {low / 2 + v / 2 if below is not None else v}
        edges |= {v / 2 + high / 2 if above is not None else v}
    edges |= {e for e in inner if found[0] < e < found[-1]}
    ordered = tuple(sorted(e for e in edges if math.isfinite(e)))
    return ordered if len(ordered) > 2 else None


def _atom_edges(reference: Dataset, t: ir.Table, name: str, bins: int) -> tuple[float, ...] | None:
    """Fine bins for a column of at most ``bins / 2`` distinct values: each value alone in
    a bin as narrow as floats allow (``[v0, v0 + ulp]``, then ``(v - ulp, v]``), and empty
    bins between them. The ECDFs are then exact at both ends of every bin, and the gap is
    constant across the empty ones: Wasserstein's linear gap inside a bin is exact, where
    a value at the end of a wide bin ([2, 3] holding the 3s) made it off by half the bin's
    change (0.0507 against scipy's 0.0637 on two Poisson samples). None with more values,
    or values too close for the narrow bins."""
    values = _distinct_values(reference, t, name, bins // 2)
    if values is None:
        return None
    edges = [values[0], math.nextafter(values[0], math.inf)]
    for v in values[1:]:
        edges += [math.nextafter(v, -math.inf), v]
    increasing = all(a < b for a, b in itertools.pairwise(edges))
    return tuple(edges) if increasing and all(map(math.isfinite, edges)) else None


def recount(dataset: Dataset, binnings: Mapping[str, Binning]) -> dict[str, Binning]:
    """The same frozen bins with ``dataset``'s counts as their reference counts (one scan,
    or the store's profiles): to compare ``dataset`` with another on bins fitted once,
    such as a baseline's, instead of fitting new ones on it. The summary statistics
    (min, max, mean, std) stay those of the original fit. Example::

        bins = recount(model.dataset(environment="production", version="v1"),
                       model.baseline("training").binnings_)
        drift(v1, v2, binnings=bins)        # v1 against v2 on the baseline's bins
    """
    counted = histograms(dataset, binnings)
    out: dict[str, Binning] = {}
    for name, b in binnings.items():
        again = copy.copy(b)
        again.reference_counts_ = tuple(int(c) for c in counted[name])
        again.n_reference_ = int(counted[name].sum())
        out[name] = again
    return out
