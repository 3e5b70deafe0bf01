"""Drift: every statistic against scipy/NumPy, the registry, the result, and detection on real data.

Oracles: ``scipy.stats.entropy`` (KL), ``scipy.spatial.distance.jensenshannon`` (JS),
``scipy.stats.chi2_contingency(correction=False)``, ``scipy.stats.ks_2samp``,
``scipy.stats.wasserstein_distance``, ``scipy.stats.false_discovery_control``, and NumPy
for PSI, Hellinger and the histograms. Real data from ../shared (skipped when absent):
census (no drift expected), bikeshare (strong seasonal drift) and the anchor benchmark's
synthetic log (exactly 5 injected drifts).
"""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial.distance import jensenshannon

import evalstore as es
from evalstore.analyses.binning import Binning, fit_binnings
from evalstore.analyses.drift import (
    DEFAULT_METHODS,
    EPSILON,
    DriftInput,
    DriftMethod,
    DriftResult,
    DriftValue,
    available_drift_methods,
    benjamini_hochberg,
    drift,
    drift_over_time,
    get_drift_method,
    register_drift_method,
    unregister_drift_method,
)
from evalstore.analyses.drift._stats import chi2_homogeneity, chi2_homogeneity_rows, ks_p_value
from evalstore.analyses.drift.hellinger import hellinger_distance
from evalstore.analyses.drift.js import js_distance
from evalstore.analyses.drift.kl import kl_divergence
from evalstore.analyses.drift.ks import ks_statistic
from evalstore.analyses.drift.psi import psi

SHARED = Path(__file__).resolve().parents[2] / "shared"
DATA = SHARED / "data"
GEN_DATA = SHARED / "bench" / "anchors" / "gen_data.py"
BUILT_INS = ["psi", "js", "kl", "hellinger", "chi2", "ks", "wasserstein"]

_names = itertools.count()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[es.Store]:
    with es.connect(tmp_path_factory.mktemp("drift") / "s") as s:
        yield s


def log(
    store: es.Store,
    reference: pd.DataFrame,
    current: pd.DataFrame | None = None,
    types: dict[str, str] | None = None,
) -> tuple[es.Dataset, es.Dataset]:
    """Log two frames as one model's training and production data; return both datasets."""
    model = store.model(f"m{next(_names)}", task="regression")
    for frame, env in ((reference, "training"), (current, "production")):
        if frame is None:
            continue
        frame = frame.assign(id=np.arange(len(frame)), score=0.0)
        features = [c for c in frame.columns if c not in ("id", "score", "ts")]
        schema = es.Schema(
            prediction_id="id",
            timestamp="ts" if "ts" in frame.columns else None,
            features=features,
            prediction_score="score",
            feature_types=types or {},
        )
        model.log(frame, schema=schema, version="v1", environment=env, progress=False)
    return model.dataset(environment="training"), model.dataset(environment="production")


# -- the statistics on histograms ------------------------------------------------------------

counts = st.lists(st.integers(0, 50), min_size=1, max_size=12)


def _pair(a: list[int], b: list[int]) -> tuple[np.ndarray, np.ndarray]:
    n = min(len(a), len(b))
    return np.array(a[:n]), np.array(b[:n])


def _smoothed_oracle(r: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p, q = r / r.sum(), c / c.sum()
    keep = (p > 0) | (q > 0)
    p, q = np.clip(p[keep], EPSILON, None), np.clip(q[keep], EPSILON, None)
    return p / p.sum(), q / q.sum()


@settings(max_examples=200, deadline=None)
@given(a=counts, b=counts)
def test_binned_statistics_match_numpy_and_scipy(a: list[int], b: list[int]) -> None:
    r, c = _pair(a, b)
    if r.sum() == 0 or c.sum() == 0:
        for fn in (psi, kl_divergence, js_distance, hellinger_distance):
            assert math.isnan(fn(r, c))
        return
    p, q = _smoothed_oracle(r, c)
    assert psi(r, c) == pytest.approx(float(np.sum((q - p) * np.log(q / p))), abs=1e-12)
    assert kl_divergence(r, c) == pytest.approx(stats.entropy(q, p), abs=1e-12)
    assert psi(r, c) == pytest.approx(stats.entropy(q, p) + stats.entropy(p, q), abs=1e-12)
    pr, qr = r / r.sum(), c / c.sum()
    assert js_distance(r, c) == pytest.approx(jensenshannon(pr, qr, base=2), abs=1e-7)
    hellinger = np.linalg.norm(np.sqrt(pr) - np.sqrt(qr)) / math.sqrt(2)
    assert hellinger_distance(r, c) == pytest.approx(hellinger, abs=1e-7)


@settings(max_examples=200, deadline=None)
@given(a=counts, b=counts)
def test_chi2_matches_scipy_chi2_contingency(a: list[int], b: list[int]) -> None:
    r, c = _pair(a, b)
    statistic, dof, p_value = chi2_homogeneity(r, c)
    table = np.vstack([r, c])
    table = table[:, table.sum(axis=0) > 0]
    if r.sum() == 0 or c.sum() == 0:
        assert math.isnan(statistic) and math.isnan(p_value)
        return
    want = stats.chi2_contingency(table, correction=False)
    assert statistic == pytest.approx(want.statistic, rel=1e-9, abs=1e-9)
    assert dof == want.dof
    assert p_value == pytest.approx(want.pvalue, rel=1e-9, abs=1e-12)
    value = get_drift_method("chi2").compute(DriftInput(Binning(), r, c)).value
    assert value == pytest.approx(math.sqrt(want.statistic / table.sum()), abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(a=counts, rows=st.lists(counts, min_size=1, max_size=6))
def test_statistics_of_many_windows_equal_one_pair_at_a_time(
    a: list[int], rows: list[list[int]]
) -> None:
    """``compute_rows`` (drift over time, every window of a column at once) against
    ``compute`` per window, empty windows and bins included."""
    n = min(len(a), *(len(r) for r in rows))
    ref, cur = np.array(a[:n]), np.array([r[:n] for r in rows])
    method = get_drift_method("psi")
    assert method.compute_rows is not None
    many = method.compute_rows(ref, cur)
    statistics, dofs, p_values = chi2_homogeneity_rows(ref, cur)
    for i, row in enumerate(cur):
        one = method.compute(DriftInput(Binning(), ref, row))
        statistic, dof, p_value = chi2_homogeneity(ref, row)
        assert (dofs[i], many[i].details["dof"]) == (dof, one.details["dof"])
        for got, want in [
            (many[i].value, one.value),
            (many[i].p_value, one.p_value),
            (many[i].details["chi2"], one.details["chi2"]),
            (statistics[i], statistic),
            (p_values[i], p_value),
        ]:
            assert got == pytest.approx(want, rel=1e-9, abs=1e-12, nan_ok=True)
        assert math.isnan(many[i].value) == (ref.sum() == 0 or row.sum() == 0)


def test_compute_rows_is_only_for_the_standard_bins() -> None:
    with pytest.raises(es.ParameterError, match="compute_rows"):
        DriftMethod(
            "fine_rows",
            "x",
            ["numeric"],
            0.1,
            get_drift_method("ks").compute,
            bins="fine",
            compute_rows=lambda r, c: [],
        )


@settings(max_examples=60, deadline=None)
@given(
    p=st.lists(st.one_of(st.floats(0, 1), st.just(math.nan)), min_size=1, max_size=30),
    w=st.lists(st.floats(0.1, 10), min_size=30, max_size=30),
)
def test_benjamini_hochberg_matches_scipy(p: list[float], w: list[float]) -> None:
    values = np.array(p)
    got = benjamini_hochberg(values)
    tested = ~np.isnan(values)
    assert np.all(np.isnan(got[~tested]))
    if tested.any():
        want = stats.false_discovery_control(values[tested], method="bh")
        np.testing.assert_allclose(got[tested], want, rtol=1e-12)
        # weights of one value are plain BH; weighted BH is BH on p / (w / mean w)
        np.testing.assert_allclose(benjamini_hochberg(values, np.full(len(p), 3.0)), got)
        weights = np.array(w[: len(p)])
        scaled = values[tested] / (weights[tested] / weights[tested].mean())
        want_w = stats.false_discovery_control(np.minimum(scaled, 1.0), method="bh")
        weighted = benjamini_hochberg(values, weights)[tested]
        np.testing.assert_allclose(np.minimum(weighted, 1.0), np.minimum(want_w, 1.0), rtol=1e-9)


def test_weighted_benjamini_hochberg_edges() -> None:
    got = benjamini_hochberg([0.001, 0.001, 0.5], [0.0, 1.0, 2.0])
    assert got[0] == 1.0 and got[1] < 0.01  # weight 0: never rejected
    with pytest.raises(es.ParameterError, match="weights"):
        benjamini_hochberg([0.1, 0.2], [1.0, -1.0])
    with pytest.raises(es.ParameterError, match="p_values"):
        benjamini_hochberg([1.5])
    assert benjamini_hochberg([]).shape == (0,)


# -- KS and Wasserstein on fine bins against scipy -------------------------------------------

RNG = np.random.default_rng(20240601)
SAMPLES = {
    "normal": lambda n, s: RNG.normal(s, 1, n),
    "lognormal": lambda n, s: RNG.lognormal(s, 1, n),
    "uniform": lambda n, s: RNG.uniform(s, 1 + s, n),
    "poisson": lambda n, s: RNG.poisson(3 + s, n).astype(float),
    "bimodal": lambda n, s: np.where(
        RNG.random(n) < 0.3, RNG.normal(-3, 0.2, n), RNG.normal(2 + s, 1, n)
    ),
    "cauchy": lambda n, s: RNG.standard_cauchy(n) + s,
}


@pytest.mark.parametrize("shape", sorted(SAMPLES))
def test_ks_and_wasserstein_are_within_their_bounds_of_scipy(store: es.Store, shape: str) -> None:
    for n, m, shift in ((600, 400, 0.0), (4000, 3000, 0.05), (5000, 5000, 0.5)):
        r, c = SAMPLES[shape](n, 0.0), SAMPLES[shape](m, shift)
        ref, cur = log(store, pd.DataFrame({"x": r}), pd.DataFrame({"x": c}))
        result = drift(ref, cur, method={"x": "ks"})["x"]
        exact = stats.ks_2samp(r, c, method="asymp")
        # the binned D is a lower bound, the documented bound an upper one
        assert result.value - 1e-9 <= exact.statistic <= result.details["upper_bound"] + 1e-9
        assert exact.statistic - result.value <= 2e-3
        assert ks_p_value(exact.statistic, n, m) == pytest.approx(exact.pvalue, rel=1e-9)
        assert result.p_value >= exact.pvalue * (1 - 1e-9)  # conservative
        w = drift(ref, cur, method="wasserstein", columns=["x"])["x"]
        want = stats.wasserstein_distance(r, c) / np.std(r)
        assert w.details["lower_bound"] - 1e-9 <= want <= w.details["upper_bound"] + 1e-9
        if shape != "cauchy":  # no meaningful standard deviation: the bounds hold, that is all
            assert w.value == pytest.approx(want, abs=2.5e-3)
        assert w.details["ks_statistic"] == result.value


def test_wasserstein_and_ks_of_repeated_values_are_exact(store: es.Store) -> None:
    """A column of few values (counts) gets fine bins with each value alone in a bin of no
    width: the KS statistic and the Wasserstein distance are then scipy's, not estimates
    (a value at the end of a wide bin had put the distance 20% off)."""
    rng = np.random.default_rng(21)
    r, c = rng.poisson(3, 4000).astype(float), rng.poisson(3.4, 3000).astype(float)
    ref, cur = log(store, pd.DataFrame({"x": r}), pd.DataFrame({"x": c}))
    w = drift(ref, cur, method="wasserstein", columns=["x"])["x"]
    want = stats.wasserstein_distance(r, c) / np.std(r)
    assert w.value == pytest.approx(want, rel=1e-9)
    assert w.details["lower_bound"] == pytest.approx(want, rel=1e-9)
    assert w.details["upper_bound"] == pytest.approx(want, rel=1e-9)
    ks = drift(ref, cur, method={"x": "ks"})["x"]
    assert ks.value == pytest.approx(stats.ks_2samp(r, c).statistic, rel=1e-12)


@pytest.mark.parametrize(("n", "m"), [(1, 1), (1, 3), (7, 13), (40, 50), (250, 400), (300, 300)])
def test_ks_p_value_is_exact_for_small_samples(n: int, m: int) -> None:
    rng = np.random.default_rng(n * m)
    for shift in (0.0, 0.5):
        r, c = rng.normal(0, 1, n), rng.normal(shift, 1, m)
        want = stats.ks_2samp(r, c, method="exact")
        assert ks_p_value(want.statistic, n, m) == pytest.approx(want.pvalue, rel=1e-6, abs=1e-12)


def test_ks_p_value_of_unequal_or_large_samples_is_asymptotic() -> None:
    for n, m, d in ((3, 100_000, 0.5), (600, 700, 0.08), (100_000, 90_000, 0.006)):
        want = stats.kstwo.sf(d, round(n * m / (n + m)))
        assert ks_p_value(d, n, m) == pytest.approx(want, rel=1e-12)


def test_ks_statistic_upper_bound_on_histograms() -> None:
    # every value of the current inside one reference bin: the bound is the bin's share
    low, high = ks_statistic(np.array([0, 50, 50, 0, 0]), np.array([0, 100, 0, 0, 0]))
    assert low == 0.5 and high == 1.0


# -- the registry ----------------------------------------------------------------------------


def test_every_method_describes_itself() -> None:
    assert {m.key for m in available_drift_methods()} >= set(BUILT_INS)
    for method in available_drift_methods():
        info = method.describe()
        assert set(info) >= {"key", "name", "kinds", "threshold", "higher_is_drift", "bins"}
        assert info["significance"] and info["description"]
        json.dumps(info)
    assert {m.key for m in available_drift_methods("numeric")} >= set(BUILT_INS)
    assert {m.key for m in available_drift_methods("categorical")} == set(BUILT_INS) - {
        "ks",
        "wasserstein",
    }
    assert dict(DEFAULT_METHODS) == {"numeric": "psi", "categorical": "psi"}
    assert get_drift_method("psi").describe()["default_for"] == ["categorical", "numeric"]


def test_unknown_method_lists_the_registry() -> None:
    with pytest.raises(es.ParameterError, match=r"one of \['chi2', 'hellinger', 'js', .*'psi'"):
        get_drift_method("pis")
    with pytest.raises(es.ParameterError, match="Did you mean 'psi'"):
        get_drift_method("pis")


def test_a_user_method_registers_like_the_built_ins(store: es.Store) -> None:
    def max_share_gap(data: DriftInput) -> DriftValue:
        p = data.reference / data.reference.sum()
        q = data.current / data.current.sum()
        return DriftValue(float(np.abs(p - q).max()), 0.0, {"bins": float(len(p))})

    method = DriftMethod("max_gap", "Largest share gap", ["numeric"], 0.2, max_share_gap)
    register_drift_method(method)
    try:
        with pytest.raises(es.ParameterError, match="replace=True"):
            register_drift_method(method)
        register_drift_method(method, replace=True)
        ref, cur = log(
            store, pd.DataFrame({"x": np.arange(100.0)}), pd.DataFrame({"x": np.arange(100.0) + 30})
        )
        result = drift(ref, cur, method="max_gap")
        assert result["x"].method == "max_gap" and result["x"].drifted
        assert result["x"].details == {"bins": 13.0}
    finally:
        unregister_drift_method("max_gap")
    assert "max_gap" not in {m.key for m in available_drift_methods()}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"key": "Bad Key"}, "DriftMethod.key"),
        ({"kinds": ["text"]}, "DriftMethod.kinds"),
        ({"threshold": math.nan}, "DriftMethod.threshold"),
        ({"compute": 3}, "DriftMethod.compute"),
        ({"bins": "coarse"}, "DriftMethod.bins"),
    ],
)
def test_method_descriptions_are_validated(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {
        "key": "ok",
        "name": "Ok",
        "kinds": ["numeric"],
        "threshold": 0.1,
        "compute": lambda data: DriftValue(0.0, 1.0),
    }
    args.update(kwargs)
    with pytest.raises(es.ParameterError, match=message):
        DriftMethod(**args)


# -- one conformance suite over every registered method --------------------------------------

CASES: dict[str, tuple[dict[str, list[Any]], dict[str, list[Any]]]] = {
    "identical": ({"x": [0.5, 1.5, 2.5, 3.5] * 25}, {"x": [0.5, 1.5, 2.5, 3.5] * 25}),
    "one_row": ({"x": [1.0]}, {"x": [2.0]}),
    "constant": ({"x": [7.0] * 50}, {"x": [7.0] * 50}),
    "all_null": ({"x": [None] * 20}, {"x": [None] * 20}),
    "huge": ({"x": [1e300, -1e300, 5e299, 3e299] * 10}, {"x": [1e300, -1e300, 5e299, 3e299] * 10}),
}


@pytest.mark.parametrize("method", BUILT_INS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_method_on_edge_cases(store: es.Store, method: str, case: str) -> None:
    ref_data, cur_data = CASES[case]
    types = {"x": "numeric"}
    ref, cur = log(
        store, pd.DataFrame(ref_data, dtype=float), pd.DataFrame(cur_data, dtype=float), types
    )
    result = drift(ref, cur, method=method)["x"]
    assert not result.drifted, result
    assert (
        math.isnan(result.value)
        or result.value == pytest.approx(0.0, abs=1e-9)
        or case == "one_row"
    )
    json.dumps(result.to_dict(), allow_nan=False)


@pytest.mark.parametrize("method", BUILT_INS)
def test_every_method_with_an_empty_current(store: es.Store, method: str) -> None:
    ref, cur = log(store, pd.DataFrame({"x": np.arange(50.0), "c": ["a", "b"] * 25}))
    result = drift(ref, cur, method=method)
    assert result.n_current == 0 and not result.drifted
    for column in result:
        assert math.isnan(column.value) and math.isnan(column.p_value), column
    json.dumps(result.to_dict(), allow_nan=False)


@pytest.mark.parametrize("method", [m for m in BUILT_INS if m not in ("ks", "wasserstein")])
def test_every_categorical_method_sees_new_categories_as_other(
    store: es.Store, method: str
) -> None:
    ref = pd.DataFrame({"c": ["a", "b", "c", "d"] * 200})
    cur = pd.DataFrame({"c": ["a", "b", "new", "newer"] * 200})
    ref_ds, cur_ds = log(store, ref, cur)
    result = drift(ref_ds, cur_ds, method=method)["c"]
    other = next(b for b in result.bins if b["kind"] == "other")
    assert other["current_count"] == 400 and other["reference_count"] == 0
    assert result.drifted


@pytest.mark.parametrize("method", [m for m in BUILT_INS if m not in ("ks", "wasserstein")])
def test_every_categorical_method_on_booleans(store: es.Store, method: str) -> None:
    ref = pd.DataFrame({"flag": [True] * 700 + [False] * 300 + [None] * 10})
    cur = pd.DataFrame({"flag": [True] * 300 + [False] * 700 + [None] * 10})
    ref_ds, cur_ds = log(store, ref, cur, {"flag": "boolean"})
    result = drift(ref_ds, cur_ds, method=method)["flag"]
    assert result.kind == "categorical" and result.drifted
    assert [b["value"] for b in result.bins] == [True, False, None, None]
    same = drift(ref_ds, ref_ds, method=method)["flag"]
    assert same.value == pytest.approx(0.0, abs=1e-12) and not same.drifted


# -- drift(): the result ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def shifted(store: es.Store) -> tuple[es.Dataset, es.Dataset, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(11)
    n = 4000

    def frame(shift: float, cats: list[float]) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 72, n), "h"),
                "stable": rng.normal(0, 1, n),
                "moved": rng.normal(shift, 1, n),
                "tiny": rng.normal(shift / 50, 1, n),
                "city": rng.choice(["paris", "lyon", "nice"], n, p=cats),
            }
        )

    ref = frame(0.0, [0.5, 0.3, 0.2])
    cur = frame(1.0, [0.2, 0.3, 0.5])
    ref_ds, cur_ds = log(store, ref, cur)
    return ref_ds, cur_ds, ref, cur


def test_drift_values_are_the_statistics_of_the_numpy_histograms(
    shifted: tuple[es.Dataset, es.Dataset, pd.DataFrame, pd.DataFrame],
) -> None:
    ref_ds, cur_ds, ref, cur = shifted
    result = drift(ref_ds, cur_ds)
    assert result.drifted_columns == ["moved", "city"]
    assert result.correction == "benjamini_hochberg" and result.alpha == 0.05
    moved = result["moved"]
    edges = np.unique(np.quantile(ref["moved"], np.linspace(0, 1, 11)))
    r, _ = np.histogram(ref["moved"], edges)
    below, above = (cur["moved"] < edges[0]).sum(), (cur["moved"] > edges[-1]).sum()
    inside = cur["moved"][(cur["moved"] >= edges[0]) & (cur["moved"] <= edges[-1])]
    index = np.maximum(np.searchsorted(edges, inside, side="left"), 1)
    c = np.bincount(index, minlength=len(edges))[1:]
    ref_counts = np.array([0, *r, 0, 0])
    cur_counts = np.array([below, *c, above, 0])
    assert [b["current_count"] for b in moved.bins] == list(cur_counts)
    assert [b["reference_count"] for b in moved.bins] == list(ref_counts)
    p, q = _smoothed_oracle(ref_counts, cur_counts)
    assert moved.value == pytest.approx(float(np.sum((q - p) * np.log(q / p))), rel=1e-9)
    want = stats.chi2_contingency(
        np.vstack([ref_counts, cur_counts])[:, (ref_counts + cur_counts) > 0], correction=False
    )
    assert moved.p_value == pytest.approx(want.pvalue, abs=1e-300)
    p_values = [c.p_value for c in result]
    adjusted = stats.false_discovery_control(p_values, method="bh")
    np.testing.assert_allclose([c.p_adjusted for c in result], adjusted, rtol=1e-9)
    # 'tiny' moved a fiftieth of a standard deviation: maybe significant, never an effect
    assert not result["tiny"].drifted and result["tiny"].value < 0.1
    assert result.n_drifted == 2 and result.share == pytest.approx(0.5)
    assert result.n_reference == result.n_current == 4000


def test_result_is_json_and_round_trips(
    shifted: tuple[es.Dataset, es.Dataset, pd.DataFrame, pd.DataFrame],
) -> None:
    ref_ds, cur_ds, _, _ = shifted
    for method in BUILT_INS:
        result = drift(ref_ds, cur_ds, method=method)
        text = json.dumps(result.to_dict(), allow_nan=False)
        again = DriftResult.from_dict(json.loads(text))
        assert again.to_dict() == result.to_dict()
    with pytest.raises(es.ParameterError, match="Did you mean 'moved'"):
        result["moves"]


def test_methods_thresholds_and_importance(
    shifted: tuple[es.Dataset, es.Dataset, pd.DataFrame, pd.DataFrame],
) -> None:
    ref_ds, cur_ds, _, _ = shifted
    # one method for all: columns of a kind it cannot handle keep their default
    result = drift(ref_ds, cur_ds, method="ks")
    assert result["moved"].method == "ks" and result["city"].method == "psi"
    mixed = drift(ref_ds, cur_ds, method={"moved": "wasserstein", "city": "chi2"})
    assert mixed["moved"].method == "wasserstein" and mixed["stable"].method == "psi"
    with pytest.raises(
        es.ParameterError, match=r"method\['city'\] must be a method for categorical"
    ):
        drift(ref_ds, cur_ds, method={"city": "ks"})
    with pytest.raises(es.ParameterError, match="one of"):
        drift(ref_ds, cur_ds, method="nope")
    strict = drift(ref_ds, cur_ds, threshold={"moved": 100.0})
    assert not strict["moved"].drifted and strict["moved"].threshold == 100.0
    assert drift(ref_ds, cur_ds, threshold=0.0)["tiny"].threshold == 0.0
    weighted = drift(ref_ds, cur_ds, importance={"moved": 0.0, "city": 3.0})
    assert weighted.correction == "weighted_benjamini_hochberg"
    assert weighted["moved"].weight == 0.0 and not weighted["moved"].drifted
    weights = [c.weight for c in weighted]
    assert sum(weights) == pytest.approx(len(weights))  # mean 1; absent columns: the mean
    np.testing.assert_allclose(
        [c.p_adjusted for c in weighted],
        benjamini_hochberg([c.p_value for c in weighted], weights),
    )
    with pytest.raises(es.ParameterError, match=r"importance\['moved'\]"):
        drift(ref_ds, cur_ds, importance={"moved": -1.0})
    with pytest.raises(es.ParameterError, match="alpha"):
        drift(ref_ds, cur_ds, alpha=1.5)
    with pytest.raises(es.ParameterError, match="Did you mean 'moved'"):
        drift(ref_ds, cur_ds, columns=["moves"])


@pytest.mark.parametrize(
    ("threshold", "name"),
    [
        (-1, "threshold"),
        (-0.1, "threshold"),
        (math.inf, "threshold"),
        (math.nan, "threshold"),
        (True, "threshold"),
        ("0.1", "threshold"),
        ({"moved": -1.0}, "threshold['moved']"),
        ({"moved": 0.1, "city": math.inf}, "threshold['city']"),
    ],
)
def test_a_threshold_that_is_not_an_effect_size_is_refused(
    shifted: tuple[es.Dataset, es.Dataset, pd.DataFrame, pd.DataFrame], threshold: Any, name: str
) -> None:
    # -1 was taken: every significant column drifted, and the ranking (value over threshold)
    # turned over, the smallest change first
    ref_ds, cur_ds, _, _ = shifted
    with pytest.raises(es.ParameterError, match="a finite number, 0 or more") as info:
        drift(ref_ds, cur_ds, threshold=threshold)
    assert info.value.name == name
    with pytest.raises(es.ParameterError) as info:
        drift_over_time(ref_ds, cur_ds, "day", threshold=threshold)
    assert info.value.name == name


def test_a_threshold_for_a_column_not_compared_is_refused_with_the_columns(
    shifted: tuple[es.Dataset, es.Dataset, pd.DataFrame, pd.DataFrame],
) -> None:
    ref_ds, cur_ds, _, _ = shifted
    with pytest.raises(es.ParameterError, match="Did you mean 'moved'") as info:
        drift(ref_ds, cur_ds, threshold={"moved": 0.2, "moves": 0.1})
    assert info.value.name == "threshold" and info.value.got == "moves"
    assert "The columns compared: stable, moved, tiny, city." in str(info.value)


@pytest.mark.parametrize("importance", [{"moved": 1.0, "moves": 10.0}, {"moves": 10.0}])
def test_an_importance_for_a_column_not_compared_is_refused_by_name(
    shifted: tuple[es.Dataset, es.Dataset, pd.DataFrame, pd.DataFrame],
    importance: dict[str, float],
) -> None:
    # with a valid key beside it, the typo was ignored; alone, it was refused as if the
    # importances were not positive
    ref_ds, cur_ds, _, _ = shifted
    with pytest.raises(es.ParameterError, match="Did you mean 'moved'") as info:
        drift(ref_ds, cur_ds, importance=importance)
    assert info.value.name == "importance" and info.value.got == "moves"
    assert "The columns compared: stable, moved, tiny, city." in str(info.value)
    assert "positive" not in str(info.value)


def test_a_baseline_of_frozen_bins_spares_the_reference(
    shifted: tuple[es.Dataset, es.Dataset, pd.DataFrame, pd.DataFrame],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ref_ds, cur_ds, _, _ = shifted
    baseline = {
        name: Binning.from_dict(json.loads(json.dumps(b.to_dict())))
        for name, b in fit_binnings(ref_ds).items()
    }
    calls: list[int] = []
    engine = cur_ds._store
    original = engine._run  # every query the engine runs, whatever built it
    monkeypatch.setattr(engine, "_run", lambda sql: calls.append(1) or original(sql))
    result = drift(ref_ds, cur_ds, binnings=baseline)
    assert len(calls) == 1  # the current's one scan; the reference is not read
    assert result.to_dict() == drift(ref_ds, cur_ds).to_dict()


def test_drift_over_time_counts_each_window(
    shifted: tuple[es.Dataset, es.Dataset, pd.DataFrame, pd.DataFrame],
) -> None:
    ref_ds, cur_ds, _, cur = shifted
    daily = drift_over_time(ref_ds, cur_ds, by="day", method={"moved": "ks"})
    days = sorted(cur["ts"].dt.floor("D").unique())
    assert [w.start for w in daily.windows] == [d.to_pydatetime() for d in days]
    for window in daily.windows:
        n = int((cur["ts"].dt.floor("D") == pd.Timestamp(window.start)).sum())
        assert window.result.n_current == n
        assert all(c.bins == [] for c in window.result)
    series = daily.series("moved")
    assert len(series) == len(days) and all(v > 0.1 for _, v in series)
    assert all(v < 0.1 for _, v in daily.series("stable"))
    json.dumps(daily.to_dict(), allow_nan=False)


def test_drift_over_time_windows_match_drift_on_those_rows(store: es.Store) -> None:
    rng = np.random.default_rng(12)
    ref = pd.DataFrame({"x": rng.normal(0, 1, 500), "c": rng.choice(["a", "b"], 500)})
    parts = []
    for day, shift in enumerate([0.0, 0.4, 1.2]):
        part = pd.DataFrame({"x": rng.normal(shift, 1, 300), "c": rng.choice(["a", "b"], 300)})
        part["ts"] = pd.Timestamp("2024-05-01") + pd.Timedelta(days=day, hours=5)
        parts.append(part)
    cur = pd.concat(parts, ignore_index=True)
    ref_ds, cur_ds = log(store, ref.assign(ts=pd.Timestamp("2024-04-01")), cur)
    over = drift_over_time(ref_ds, cur_ds, by="day", method={"x": "wasserstein"})
    model = store.model(f"m{next(_names) - 1}")
    for day, window in enumerate(over.windows):
        start = pd.Timestamp("2024-05-01") + pd.Timedelta(days=day)
        one = model.dataset(environment="production", start=start, end=start + pd.Timedelta(days=1))
        alone = drift(ref_ds, one, method={"x": "wasserstein"})
        for column in ("x", "c"):
            assert window.result[column].value == pytest.approx(alone[column].value, rel=1e-12)
            assert window.result[column].p_adjusted == pytest.approx(alone[column].p_adjusted)
    assert [w.result["x"].drifted for w in over.windows] == [False, True, True]


def test_a_flag_or_count_column_gets_a_bin_per_value(store: es.Store) -> None:
    """A float column of few values (a 0/1 flag, small counts) is binned one value per bin,
    not on tied quantiles (which left a flag in one bin ``[0, 1]``): a flag moving from 30%
    to 70% of ones drifts, with scipy's chi-square on its two values; a column of more
    values than bins keeps its quantile edges."""
    rng = np.random.default_rng(41)
    n = 3000
    ref = pd.DataFrame(
        {
            "flag": (rng.random(n) < 0.3).astype(float),
            "count": rng.poisson(1.5, n).clip(0, 5).astype(float),
            "many": rng.integers(0, 40, n).astype(float),
        }
    )
    cur = ref.assign(flag=(rng.random(n) < 0.7).astype(float))
    ref_ds, cur_ds = log(store, ref, cur)
    found = drift(ref_ds, cur_ds, method="chi2")
    flag = found["flag"]
    assert [b["label"] for b in flag.to_dict()["bins"]][1:3] == ["[0, 0.5]", "(0.5, 1]"]
    table = np.array([np.bincount(f.astype(int), minlength=2) for f in (ref.flag, cur.flag)])
    oracle = stats.chi2_contingency(table, correction=False)
    assert flag.details["chi2"] == pytest.approx(oracle.statistic, rel=1e-9)
    assert flag.drifted and found.drifted_columns == ["flag"]
    b = fit_binnings(ref_ds, ["count", "many"])
    assert b["count"].edges_ == (0.0, 0.5, 1.5, 2.5, 3.5, 4.5, 5.0)
    assert len(b["many"].edges_ or ()) == 11  # 40 values: the 10 quantile bins


def test_a_value_that_holds_many_rows_gets_a_bin_of_its_own(store: es.Store) -> None:
    """A feature that is 0 in 92% of the rows (a capital gain) got one quantile bin
    ``[0, max]``: its share of zeros moving to 55% was a PSI of 0. A value that holds at
    least 1/10 of the reference gets its own bin (at the minimum, in the middle), the other
    values the other bins at their own quantiles; PSI and chi-square then equal NumPy's
    and scipy's on those bins, and only the column that moved drifts."""
    rng = np.random.default_rng(43)
    n = 5000

    def gains(share_of_zeros: float) -> np.ndarray:
        return np.where(rng.random(n) < share_of_zeros, 0.0, rng.lognormal(7, 1, n))

    mid = np.where(rng.random(n) < 0.4, 5.0, rng.normal(5, 2, n))
    ref = pd.DataFrame({"gain": gains(0.92), "mid": mid})
    cur = pd.DataFrame({"gain": gains(0.55), "mid": rng.permutation(mid)})
    ref_ds, cur_ds = log(store, ref, cur)
    b = fit_binnings(ref_ds, ["gain", "mid"])
    gain, middle = b["gain"].edges_ or (), b["mid"].edges_ or ()
    assert gain[0] == 0.0 and 0 < gain[1] < ref.gain[ref.gain > 0].min()  # [0, e1] = {0}
    below, above = mid[mid < 5].max(), mid[mid > 5].min()
    assert (below + 5) / 2 in middle and (5 + above) / 2 in middle  # (e, e'] = {5}
    # the atom's bin and 9 quantile bins of the others; in the middle, the atom splits one
    assert len(gain) == 11 and len(middle) == 12
    found = drift(ref_ds, cur_ds, method="chi2")
    psi = drift(ref_ds, cur_ds)
    for name, edges in (("gain", gain), ("mid", middle)):
        counts = []  # below, the bins ((e_i-1, e_i], the first closed), above
        for values in (ref[name].to_numpy(), cur[name].to_numpy()):
            inside = np.searchsorted(edges, values, side="left")
            inside[values == edges[0]] = 1
            counts.append(np.bincount(inside, minlength=len(edges) + 1))
        table = np.array(counts)
        assert (table.sum(axis=1) == n).all()
        if name == "gain":
            assert table[0][1] == (ref.gain == 0).sum()  # the first bin holds the zeros
        table = table[:, table.sum(axis=0) > 0]
        oracle = stats.chi2_contingency(table, correction=False)
        assert found[name].details["chi2"] == pytest.approx(oracle.statistic, rel=1e-9)
        p, q = (np.maximum(row / n, 1e-4) for row in table)  # the documented smoothing
        p, q = p / p.sum(), q / q.sum()
        assert psi[name].value == pytest.approx(float(np.sum((q - p) * np.log(q / p))), rel=1e-9)
    assert psi.drifted_columns == ["gain"] and found.drifted_columns == ["gain"]


def test_actuals_that_have_not_arrived_are_not_drift(store: es.Store) -> None:
    """Rows whose actual has not arrived yet are left out of an actual column's drift: with
    15% of production's actuals pending and the same label rate (the same distribution of
    values), nothing drifts, and the values equal NumPy's PSI and scipy's chi-square and KS
    on the actuals that arrived."""
    rng = np.random.default_rng(31)
    serving = es.Schema(prediction_id="id", features=["x"], prediction_score="score")
    found: dict[str, Any] = {}
    for task, actual in (("binary_classification", "label"), ("regression", "value")):
        n = 4000
        frames = []
        for prefix in ("t", "p"):
            y = (rng.random(n) < 0.4).astype("int64") if actual == "label" else rng.normal(2, 1, n)
            frames.append(
                pd.DataFrame(
                    {"id": [f"{prefix}{i}" for i in range(n)], "x": rng.normal(size=n),
                     "score": rng.random(n), "y": y}
                )
            )  # fmt: skip
        train, prod = frames
        model = store.model(f"m{next(_names)}", task=task)
        column = "actual_label" if actual == "label" else "actual_score"
        full = es.Schema(
            prediction_id="id", features=["x"], prediction_score="score", **{column: "y"}
        )
        model.log(train, schema=full, version="v1", environment="training", progress=False)
        model.log(prod.drop(columns="y"), schema=serving, version="v1", environment="production")
        arrived = prod.iloc[:3400]
        model.log_actuals(arrived[["id", "y"]], prediction_id="id", actual="y", progress=False)
        ref_ds = model.dataset(environment="training")
        cur_ds = model.dataset(environment="production")
        method = "psi" if actual == "label" else "ks"
        result = drift(ref_ds, cur_ds, [column], method=method)
        assert result.drifted_columns == []
        found[method] = (result[column], train["y"], arrived["y"], ref_ds, cur_ds)

    psi, train_y, arrived_y, ref_ds, cur_ds = found["psi"]
    assert (psi.n_reference, psi.n_current) == (4000, 3400)
    r = np.bincount(train_y, minlength=2).astype(float)
    c = np.bincount(arrived_y, minlength=2).astype(float)
    rs, cs = _smoothed_oracle(r, c)
    assert psi.value == pytest.approx(float(np.sum((cs - rs) * np.log(cs / rs))), rel=1e-9)
    chi = drift(ref_ds, cur_ds, ["actual_label"], method="chi2")["actual_label"]
    oracle = stats.chi2_contingency(np.vstack([r, c]), correction=False)
    assert chi.p_value == pytest.approx(oracle.pvalue, rel=1e-9)
    ks, train_y, arrived_y, _, _ = found["ks"]
    d = stats.ks_2samp(train_y, arrived_y).statistic
    assert ks.value - 1e-9 <= d <= ks.details["upper_bound"] + 1e-9
    assert ks.n_current == 3400


# -- detection on real data ------------------------------------------------------------------


def _read(name: str) -> pd.DataFrame:
    path = DATA / name
    if not path.is_file():
        pytest.skip(f"{path} is absent: the real datasets live in ../shared/data beside the repo")
    return pd.read_parquet(path)


CENSUS_CATEGORIES = ["SCHL", "MAR", "RELP", "DIS", "ESP", "CIT", "MIG", "MIL", "ANC", "NATIVITY"]


@pytest.mark.shared_data
def test_census_years_raise_no_dataset_drift(tmp_path: Path) -> None:
    df = _read("census_employment_ma.parquet")
    df["ts"] = pd.to_datetime(df["year"].astype(str) + "-07-01")
    schema = es.Schema(
        prediction_id="id",
        timestamp="ts",
        features=["AGEP", *CENSUS_CATEGORIES],
        tags=["SEX", "RAC1P"],
        prediction_label="prediction",
        prediction_score="predicted_probability",
        actual_label="employed",
    )
    with es.connect(tmp_path / "s") as store:
        model = store.model("employment", task="binary_classification")
        model.log(df, schema=schema, version="v1", environment="production", progress=False)
        reference = model.dataset(start="2015-01-01", end="2016-01-01")
        for year in (2016, 2017, 2018):
            current = model.dataset(start=f"{year}-01-01", end=f"{year + 1}-01-01")
            result = drift(reference, current)
            assert result.n_columns == 13
            assert not result.drifted, (year, [(c.column, c.value) for c in result.columns[:3]])
            # real, tiny changes are significant at 70k rows; the effect threshold holds them
            assert max(c.value for c in result) < 0.05
            predictions = drift(reference, current, columns=["prediction_score", "actual_label"])
            assert not predictions.drifted


@pytest.mark.shared_data
def test_bikeshare_seasons_drift_strongly(tmp_path: Path) -> None:
    df = _read("bikeshare.parquet")
    df["id"] = np.arange(len(df))
    features = ["season", "hr", "weekday", "workingday", "holiday", "weathersit", "temp", "hum"]
    schema = es.Schema(prediction_id="id", features=features, prediction_score="casual")
    third = len(df) // 3
    with es.connect(tmp_path / "s") as store:
        model = store.model("bikes", task="regression")
        model.log(
            df.iloc[:third], schema=schema, version="v1", environment="training", progress=False
        )
        model.log(
            df.iloc[-third:], schema=schema, version="v1", environment="production", progress=False
        )
        result = drift(
            model.dataset(environment="training"), model.dataset(environment="production")
        )
    assert result["season"].value > 1 and result["temp"].value > 0.5
    assert {"season", "temp"} <= set(result.drifted_columns)
    for steady in ("hr", "weekday", "workingday", "holiday"):
        assert not result[steady].drifted, steady
    assert result.columns[0].column == "season"


@pytest.mark.shared_data
def test_anchor_data_flags_exactly_the_five_injected_features(tmp_path: Path) -> None:
    if not GEN_DATA.is_file():
        pytest.skip(f"{GEN_DATA} is absent: the anchor benchmarks live in ../shared/bench")
    subprocess.run(
        [sys.executable, str(GEN_DATA), "--rows", "100000", "--out-dir", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    numeric = [f"num_{i:02d}" for i in range(20)]
    categorical = [f"cat_{i}" for i in range(5)]
    schema = es.Schema(
        prediction_id="prediction_id",
        timestamp="timestamp",
        features=numeric + categorical,
        prediction_score="prediction_score",
        prediction_label="prediction_label",
        actual_label="actual_label",
    )
    with es.connect(tmp_path / "s") as store:
        model = store.model("anchor", task="binary_classification")
        for name, env in (("reference", "training"), ("current", "production")):
            path = tmp_path / f"{name}_100k.parquet"
            model.log(path, schema=schema, version="v1", environment=env, progress=False)
        reference = model.dataset(environment="training")
        current = model.dataset(environment="production")
        injected = {"num_00", "num_03", "num_09", "num_15", "cat_2"}
        result = drift(reference, current)
        assert result.n_columns == 25
        assert set(result.drifted_columns) == injected
        assert set(drift(reference, current, method="js").drifted_columns) == injected
        assert set(drift(reference, current, method="hellinger").drifted_columns) == injected


def test_ids_are_not_binned(store: es.Store) -> None:
    """prediction_id and batch_id identify rows: drift on them (each bin a few ids) is
    refused with what to do, on the Python API as on the server's (same analyses)."""
    frame = pd.DataFrame({"id": [f"i{i}" for i in range(40)], "x": np.arange(40.0),
                          "score": np.linspace(0, 1, 40)})  # fmt: skip
    model = store.model("ids-not-binned", task="binary_classification")
    schema = es.Schema(prediction_id="id", prediction_score="score")
    model.log(frame.iloc[:20], schema=schema, version="v1", environment="training")
    model.log(frame.iloc[20:], schema=schema, version="v1", environment="production")
    for column in ("prediction_id", "batch_id"):
        with pytest.raises(es.ParameterError, match=f"{column} identifies rows and batches"):
            model.drift("training", "production", columns=[column])
    assert [c.column for c in model.drift("training", "production", columns=["x"])] == ["x"]
