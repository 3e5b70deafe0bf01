"""Data quality: every statistic and every check against a pandas/NumPy oracle on the frame logged.

The oracle (:func:`column_oracle`, :func:`expectation_oracle`) recomputes from the logged
frame what ``learn_expectations`` and ``quality`` compute in the engine: missing shares,
ranges, out-of-range counts, distinct counts, new and vanished categories, duplicate ids
and score/label consistency. Random frames come from hypothesis seeds; edge cases (no
rows, one row, an all-null column, a constant column, 1e300 and infinities) have their
own tests, and every window of ``by=`` must equal the overall result on its slice.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import scipy.stats
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import evalstore as es
from evalstore.analyses.binning import WINDOWS
from evalstore.analyses.quality import (
    CHECKS,
    ColumnExpectation,
    ColumnQuality,
    Expectations,
    QualityResult,
    _checks,
    _scan,
    learn_expectations,
    quality,
)

_names = itertools.count()
DAY = timedelta(days=1)
CITIES = ["lyon", "nice", "paris", "lille", "brest"]
NEW_CITIES = ["rome", "oslo", "bern", "kyiv", "riga", "rabat", "lima"]

SCHEMA = es.Schema(
    prediction_id="id",
    timestamp="ts",
    features=["x", "city", "flag"],
    prediction_score="score",
    prediction_label="pred",
    actual_label="label",
    # declared, so that a batch where a column has no value at all is accepted
    feature_types={"x": "numeric", "city": "categorical", "flag": "boolean"},
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[es.Store]:
    with es.connect(tmp_path_factory.mktemp("quality") / "store") as s:
        yield s


def log(
    store: es.Store,
    frames: dict[str, pd.DataFrame],
    schema: es.Schema = SCHEMA,
    task: str = "binary_classification",
    version: str = "v1",
) -> es.Model:
    """A new model with each frame logged in its environment (key)."""
    model = store.model(f"q{next(_names)}", task=task)
    for env, frame in frames.items():
        model.log(frame, schema=schema, version=version, environment=env, progress=False)
    return model


def queries_run(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A list that grows by one for every query a dataset runs from now on."""
    from evalstore.dataset import Dataset

    ran: list[str] = []
    original = Dataset.execute

    def counted(self: Dataset, expr: Any) -> Any:
        ran.append("query")
        return original(self, expr)

    monkeypatch.setattr(Dataset, "execute", counted)
    return ran


def frame(
    rng: np.random.Generator,
    n: int,
    *,
    start: int = 0,
    new_share: float = 0.0,
    missing: float = 0.1,
    shift: float = 0.0,
    days: int = 3,
) -> pd.DataFrame:
    """A binary classifier's batch: a float feature (NaN, sometimes huge), a city (some new
    values, None), a boolean flag (None), a score, a 0/1 predicted label that sometimes
    disagrees with the score, and a 0/1 actual; timestamps spread over ``days`` days."""
    ids = np.arange(start, start + n)
    x = rng.normal(shift, 1.0, n)
    x[rng.random(n) < 0.05] = 1e300
    x[rng.random(n) < missing] = np.nan
    pool = np.array(CITIES[: int(rng.integers(1, len(CITIES) + 1))], dtype=object)
    city = pool[rng.integers(0, len(pool), n)]
    is_new = rng.random(n) < new_share
    city[is_new] = np.array(NEW_CITIES, dtype=object)[rng.integers(0, len(NEW_CITIES), n)][is_new]
    city[rng.random(n) < missing] = None
    flag = np.array(rng.random(n) < 0.5, dtype=object)
    flag[rng.random(n) < missing] = None
    score = rng.random(n)
    pred = (score >= 0.5).astype("int64")
    flip = rng.random(n) < 0.1
    pred[flip] = 1 - pred[flip]
    return pd.DataFrame(
        {
            "id": ids,
            "ts": pd.Timestamp("2024-05-06") + pd.to_timedelta(rng.random(n) * days, unit="D"),
            "x": x,
            "city": city,
            "flag": flag,
            "score": score,
            "pred": pred,
            "label": rng.integers(0, 2, n),
        }
    )


# -- the oracle ------------------------------------------------------------------------------

STORED = {"x": "x", "city": "city", "flag": "flag", "score": "prediction_score"}
STORED |= {"pred": "prediction_label", "label": "actual_label"}


def _present(values: pd.Series) -> pd.Series:
    return values[~values.isna()]


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def expectation_oracle(values: pd.Series, column: str) -> dict[str, Any]:
    """What learn_expectations must learn from ``values``, by its documented rules."""
    present = _present(values)
    share = (len(values) - len(present)) / len(values)
    numeric = pd.api.types.is_float_dtype(values) or pd.api.types.is_integer_dtype(values)
    categorical = not pd.api.types.is_float_dtype(values)
    return {
        "max_missing_share": 1.0
        if column.startswith("actual_")
        else min(1.0, max(2 * share, share + 0.01)),
        "min": _plain(present.min()) if numeric and len(present) else None,
        "max": _plain(present.max()) if numeric and len(present) else None,
        "categories": sorted(_plain(v) for v in present.unique()) if categorical else None,
        "category_shares": {_plain(v): k / len(present) for v, k in present.value_counts().items()}
        if categorical
        else None,
        "constant_ok": present.nunique() <= 1,
    }


def column_oracle(values: pd.Series, expected: ColumnExpectation | None) -> dict[str, Any]:
    """The statistics quality() must report for ``values`` against ``expected``."""
    n = len(values)
    present = _present(values)
    out: dict[str, Any] = {
        "n": n,
        "missing": n - len(present),
        "missing_share": (n - len(present)) / n if n else None,
        "distinct": present.nunique(),
        "min": _plain(present.min()) if len(present) else None,
        "max": _plain(present.max()) if len(present) else None,
        "constant": present.nunique() == 1,
    }
    if expected is not None and (expected.min is not None or expected.max is not None):
        low = -math.inf if expected.min is None else expected.min
        high = math.inf if expected.max is None else expected.max
        out["out_of_range"] = {
            "below": int((present < low).sum()),
            "above": int((present > high).sum()),
        }
    if expected is not None and expected.categories is not None:
        counts = present.value_counts()
        new = counts[~counts.index.isin(expected.categories)]
        ranked = sorted(new.items(), key=lambda kv: (-kv[1], kv[0]))
        out["new_categories"] = [_plain(v) for v, _ in ranked[:5]]
        out["new_category_rows"] = int(new.sum())
        out["new_category_values"] = len(new)
        out["vanished_categories"] = [c for c in expected.categories if c not in counts.index]
    return out


def assert_column(got: ColumnQuality, want: dict[str, Any]) -> None:
    for key, value in want.items():
        assert getattr(got, key) == value, f"{got.column}.{key}: {getattr(got, key)} != {value}"


def stored_values(df: pd.DataFrame) -> dict[str, pd.Series]:
    """The logged frame's columns as the store keeps them (floats for x and score)."""
    return {STORED[c]: df[c] for c in STORED}


def disagreements(df: pd.DataFrame, threshold: float = 0.5) -> int:
    both = df["pred"].notna() & df["score"].notna()
    return int(((df["pred"] == 1) != (df["score"] >= threshold))[both].sum())


def chance_allowance(valid: int, n_reference: int) -> int:
    """Values of an unchanged distribution outside the reference's min-max: each with
    probability 2 / (n_reference + 1); more than the 1e-3 upper tail is news."""
    if n_reference <= 0 or valid <= 0:
        return 0
    return int(scipy.stats.binom.isf(1e-3, valid, min(1.0, 2 / (n_reference + 1))))


def unlikely_absent(valid: int, reference: pd.Series, category: Any) -> bool:
    """No row of ``category`` among ``valid`` values is news: under its share of the
    reference's values, P(0 | valid, share) is below 1e-3."""
    present = _present(reference)
    share = (present == category).sum() / len(present)
    return bool(scipy.stats.binom.pmf(0, valid, share) < 1e-3)


COLUMN_CHECKS = ("missing", "out_of_range", "new_categories", "vanished_categories", "constant")


def expected_issues(
    values: dict[str, pd.Series],
    exp: Expectations | None,
    min_rows: int,
    reference: dict[str, pd.Series] | None = None,
) -> set[tuple[str | None, str]]:
    """(column, check) of every column issue the documented rules raise (``reference``:
    the values the expectations were learned on)."""
    out: set[tuple[str | None, str]] = set()
    for column, series in values.items():
        e = exp[column] if exp is not None else None
        o = column_oracle(series, e)
        n, valid = o["n"], o["n"] - o["missing"]
        if n and e is not None and o["missing_share"] > e.max_missing_share:
            out.add((column, "missing"))
        if n and e is None and valid == 0:
            out.add((column, "missing"))
        outside = sum(o.get("out_of_range", {}).values())
        learned = e is not None and e.learned_range == [e.min, e.max]  # not edited
        if outside > (chance_allowance(valid, exp.n_reference) if exp and learned else 0):
            out.add((column, "out_of_range"))
        if o.get("new_category_rows") and e is not None and not e.allow_new_categories:
            out.add((column, "new_categories"))
        gone = o.get("vanished_categories", [])
        if gone and valid >= min_rows:
            assert reference is not None
            if any(unlikely_absent(valid, reference[column], c) for c in gone):
                out.add((column, "vanished_categories"))
        if o["constant"] and valid >= min_rows and not (e is not None and e.constant_ok):
            out.add((column, "constant"))
    return out


# -- learning --------------------------------------------------------------------------------


def test_out_of_range_allows_what_chance_explains(store: es.Store) -> None:
    rng = np.random.default_rng(12)
    ref, same, moved = frame(rng, 3000), frame(rng, 3000, start=5000), frame(rng, 3000, start=9000)
    for part in (ref, same, moved):  # plain normal values: no huge ones, none missing
        part["x"] = rng.normal(size=3000)
    moved["x"] = moved["x"] * 1.5
    model = log(store, {"training": ref, "production": same, "validation": moved})
    exp = learn_expectations(model.dataset(environment="training"))
    unchanged = quality(model.dataset(environment="production"), exp)
    outside = sum(unchanged.column("x").out_of_range.values())
    assert 0 < outside <= chance_allowance(3000, 3000)
    assert "out_of_range" not in {i.check for i in unchanged.issues if i.column == "x"}
    wider = quality(model.dataset(environment="validation"), exp)
    assert "out_of_range" in {i.check for i in wider.issues if i.column == "x"}
    # read back from JSON, the learned limits still allow chance
    again = Expectations.from_dict(json.loads(json.dumps(exp.to_dict())))
    assert again["x"].learned_range == exp["x"].learned_range == [exp["x"].min, exp["x"].max]
    kept = quality(model.dataset(environment="production"), again)
    assert "out_of_range" not in {i.check for i in kept.issues if i.column == "x"}
    # edited limits (a little wider than learned) say what is acceptable: every row past
    # them is reported, however few
    edited = Expectations.from_dict(exp.to_dict())
    edited["x"].max = exp["x"].max + 0.01
    edited["x"].min = exp["x"].min - 0.01
    past = quality(model.dataset(environment="production"), edited)
    n_past = sum(past.column("x").out_of_range.values())
    issues = [i for i in past.issues if i.column == "x" and i.check == "out_of_range"]
    assert n_past > 0 and [i.count for i in issues] == [n_past]


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_ref=st.integers(1, 60),
    n_cur=st.integers(0, 60),
    min_rows=st.sampled_from([1, 5, 100]),
)
def test_random_frames_match_the_oracle(
    store: es.Store, seed: int, n_ref: int, n_cur: int, min_rows: int
) -> None:
    rng = np.random.default_rng(seed)
    ref = frame(rng, n_ref)
    cur = frame(rng, n_cur, start=10_000, new_share=0.3, missing=0.3, shift=1.0)
    frames = {"training": ref} | ({"production": cur} if n_cur else {})
    model = log(store, frames)
    exp = learn_expectations(model.dataset(environment="training"))
    defaults = ["x", "city", "flag", "prediction_label", "prediction_score", "actual_label"]
    assert list(exp) == defaults
    assert exp.n_reference == n_ref
    for column, values in stored_values(ref).items():
        want = expectation_oracle(values, column)
        got = exp[column]
        for key, value in want.items():
            assert getattr(got, key) == value, f"{column}.{key}"

    current = model.dataset(environment="production")
    res = quality(current, exp, min_rows=min_rows, exact_distinct=True)
    values = stored_values(cur)
    for column, series in values.items():
        assert_column(res.column(column), column_oracle(series, exp[column]))
    found = {(i.column, i.check) for i in res.issues if i.check in COLUMN_CHECKS}
    assert found == expected_issues(values, exp, min_rows, stored_values(ref))
    label_score = disagreements(cur)
    assert res.windows[0].consistency["label_score"] == {"rows": label_score, "checked": n_cur}
    assert ((None, "no_rows") in {(i.column, i.check) for i in res.issues}) == (n_cur == 0)
    assert QualityResult.from_dict(json.loads(json.dumps(res.to_dict()))) == res

    # without expectations: only the self-contained checks
    alone = quality(current, min_rows=min_rows, exact_distinct=True)
    for column, series in values.items():
        assert_column(alone.column(column), column_oracle(series, None))
    found = {(i.column, i.check) for i in alone.issues if i.check in COLUMN_CHECKS}
    assert found == expected_issues(values, None, min_rows)
    assert ("label_score" in {i.check for i in alone.issues}) == (label_score > 0)


def test_per_window_equals_the_overall_result_on_each_slice(
    store: es.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(7)
    ref = frame(rng, 300)
    cur = frame(rng, 400, start=5000, new_share=0.2, missing=0.2, shift=0.5, days=4)
    model = log(store, {"training": ref, "production": cur})
    exp = learn_expectations(model.dataset(environment="training"))
    exp["x"].min, exp["x"].max = -1.0, 1.5
    by_day = quality(model.dataset(environment="production"), exp, by="day", min_rows=20)
    assert by_day.by == "day"
    # the scan, a GROUP BY for city (to show its new values), the duplicates; the values of
    # flag and the labels, small sets without new values, are counted in the scan
    assert by_day.queries == 3
    days = cur["ts"].dt.floor("D")
    assert [w.window for w in by_day.windows] == sorted(days.unique())
    for window in by_day.windows:
        start = window.window
        assert start is not None
        part = cur[days == start]
        alone = quality(
            model.dataset(environment="production", start=start, end=start + DAY),
            exp,
            min_rows=20,
        )
        assert window == replace(alone.windows[0], window=start)
        assert window.n == len(part)
        assert window.consistency["label_score"]["rows"] == disagreements(part)
        for column, series in stored_values(part).items():
            got = by_day.column(column, start)
            assert vars(got) == {**vars(alone.column(column)), "window": start}
            want = column_oracle(series, exp[column])
            want.pop("distinct")  # HyperLogLog here; exact distinct counts are tested apart
            assert_column(got, want)
        mine = [i for i in by_day.issues if i.window == start]
        assert [vars(i) | {"window": None} for i in mine] == [vars(i) for i in alone.issues]
    assert QualityResult.from_dict(json.loads(json.dumps(by_day.to_dict()))) == by_day
    with monkeypatch.context() as m:  # every set counted by a GROUP BY: the same result
        m.setattr(_scan, "SUMS_LIMIT", 0)
        grouped = quality(model.dataset(environment="production"), exp, by="day", min_rows=20)
    assert replace(grouped, queries=3) == by_day and grouped.queries == 6


def test_a_scan_of_the_same_columns_is_built_once(
    store: es.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another window of the same columns and expectations reuses the scan's aggregates and
    its GROUP BY of a column's values (built once), and gets what queries built anew get."""
    rng = np.random.default_rng(11)
    cur = frame(rng, 300, days=4, new_share=0.3)
    model = log(store, {"training": frame(rng, 200), "production": cur})
    exp = learn_expectations(model.dataset(environment="training"))
    middle = pd.Timestamp("2024-05-08")
    first = model.dataset(environment="production", end=middle)
    later = model.dataset(environment="production", start=middle)
    quality(first, exp)
    built: list[str] = []
    for name in ("_aggregates", "_category_query"):
        real = getattr(_scan, name)
        monkeypatch.setattr(_scan, name, lambda *a, _f=real, _n=name: built.append(_n) or _f(*a))
    again = quality(later, exp)
    assert again.column("city").new_categories  # its values were grouped
    assert built == []
    for memo in ("_AGGREGATES", "_QUERIES"):  # nothing kept: built anew
        monkeypatch.setattr(_scan, memo, _scan.Memo(1))
    assert quality(later, exp) == again
    assert set(built) == {"_aggregates", "_category_query"}


@pytest.mark.parametrize("by", list(WINDOWS))
def test_windows_are_utc_hours_days_monday_weeks_and_months(store: es.Store, by: str) -> None:
    rng = np.random.default_rng(3)
    cur = frame(rng, 120, days=70)
    model = log(store, {"production": cur})
    res = quality(model.dataset(), by=by)
    ts = cur["ts"]
    starts = {
        "hour": ts.dt.floor("h"),
        "day": ts.dt.floor("D"),
        "week": ts.dt.to_period("W-SUN").dt.start_time,
        "month": ts.dt.to_period("M").dt.start_time,
    }[by]
    counts = starts.value_counts().sort_index()
    assert [(w.window, w.n) for w in res.windows] == list(counts.items())


# -- edge cases ------------------------------------------------------------------------------


def test_empty_current(store: es.Store) -> None:
    rng = np.random.default_rng(1)
    model = log(store, {"training": frame(rng, 50)})
    exp = learn_expectations(model.dataset(environment="training"))
    empty = model.dataset(environment="production")
    res = quality(empty, exp)
    assert res.ok
    assert [(i.column, i.check, i.severity) for i in res.issues] == [(None, "no_rows", "warning")]
    c = res.column("x")
    assert (c.n, c.missing, c.missing_share, c.distinct, c.min, c.constant) == (
        0, 0, None, 0, None, False,
    )  # fmt: skip
    assert c.out_of_range == {"below": 0, "above": 0}
    assert res.column("city").vanished_categories == exp["city"].categories
    assert res.windows[0].n == 0
    by_day = quality(empty, exp, by="day")
    assert by_day.windows == [] and by_day.columns == []
    assert [i.check for i in by_day.issues] == ["no_rows"]
    with pytest.raises(es.ParameterError, match="reference must be a dataset with rows"):
        learn_expectations(empty)


def test_one_row(store: es.Store) -> None:
    rng = np.random.default_rng(2)
    one = frame(rng, 1, missing=0.0)
    model = log(store, {"training": frame(rng, 80), "production": one})
    exp = learn_expectations(model.dataset(environment="training"))
    res = quality(model.dataset(environment="production"), exp, exact_distinct=True)
    for column, series in stored_values(one).items():
        assert_column(res.column(column), column_oracle(series, exp[column]))
        assert res.column(column).constant
    # one value is constant, but far below min_rows: no constant issue, nothing vanished
    assert not {i.check for i in res.issues} & {"constant", "vanished_categories"}
    assert quality(model.dataset(environment="production"), exp, min_rows=1).warnings


def test_a_nan_from_arrow_is_a_missing_value(store: es.Store) -> None:
    """pandas makes a float NaN NULL; Arrow keeps it, and the store holds it as NaN: it
    is missing all the same, and never valid, out of range, a minimum or a maximum, per
    window too (where the counts come from each hour)."""
    rng = np.random.default_rng(5)
    model = log(store, {"training": frame(rng, 40, missing=0.0)})
    exp = learn_expectations(model.dataset(environment="training"))
    exp["x"].min, exp["x"].max = 0.0, 1.0
    x = [math.nan, 0.5, math.nan, 2.5, -1.5, None, 10.0, math.nan, 0.25]
    cur = frame(rng, len(x), start=500, missing=0.0).drop(columns="x")
    table = pa.Table.from_pandas(cur, preserve_index=False).append_column(
        "x", pa.array(x, pa.float64())
    )
    model.log(table, schema=SCHEMA, version="v1", environment="production", progress=False)
    current = model.dataset(environment="production")
    stored = current.to_arrow().column("x").to_pylist()
    assert sum(v is not None and math.isnan(v) for v in stored) == 3  # kept as NaN
    for by in (None, "hour"):
        res = quality(current, exp, by=by)
        columns = [c for c in res.columns if c.column == "x"]
        assert sum(c.missing for c in columns) == 4
        assert sum(c.out_of_range["below"] for c in columns) == 1
        assert sum(c.out_of_range["above"] for c in columns) == 2
        assert min(c.min for c in columns if c.min is not None) == -1.5
        assert max(c.max for c in columns if c.max is not None) == 10.0


def test_all_null_column(store: es.Store) -> None:
    rng = np.random.default_rng(4)
    cur = frame(rng, 40, start=100)
    cur["x"] = np.nan
    cur["city"] = None
    model = log(store, {"training": frame(rng, 40), "production": cur})
    exp = learn_expectations(model.dataset(environment="training"))
    current = model.dataset(environment="production")
    res = quality(current, exp)
    for column in ("x", "city"):
        c = res.column(column)
        assert (c.missing, c.missing_share, c.distinct, c.min, c.constant) == (
            40, 1.0, 0, None, False,
        )  # fmt: skip
        issue = next(i for i in res.issues if i.column == column and i.check == "missing")
        assert (issue.severity, issue.count, issue.share) == ("error", 40, 1.0)
        assert "40 of 40 rows (100.0%) are missing" in issue.message
    assert res.column("x").out_of_range == {"below": 0, "above": 0}
    assert not res.ok
    alone = quality(current)
    assert {(i.column, i.check, i.severity) for i in alone.issues if i.check == "missing"} == {
        ("x", "missing", "warning"),
        ("city", "missing", "warning"),
    }
    # a reference column without values: no range, every value is new, constant is fine
    blank = learn_expectations(current, ["x", "city"])
    assert blank["x"].min is None and blank["x"].constant_ok
    assert blank["city"].categories == [] and blank["x"].max_missing_share == 1.0


def test_constant_column(store: es.Store) -> None:
    rng = np.random.default_rng(5)
    ref, cur = frame(rng, 150), frame(rng, 150, start=1000, missing=0.0)
    cur["x"], cur["city"] = 2.5, "nice"
    ref["flag"] = True  # constant in the reference too: fine
    cur["flag"] = True
    model = log(store, {"training": ref, "production": cur})
    exp = learn_expectations(model.dataset(environment="training"))
    assert exp["flag"].constant_ok and not exp["x"].constant_ok
    res = quality(model.dataset(environment="production"), exp)
    constant = {i.column: i for i in res.issues if i.check == "constant"}
    assert set(constant) == {"x", "city"}
    assert constant["x"].message == "x: all 150 values are 2.5 (constant, unlike the reference)."
    assert (constant["city"].count, constant["city"].severity) == (150, "warning")
    assert res.column("flag").constant and res.column("flag").min is True
    exp["x"].constant_ok = True
    edited = quality(model.dataset(environment="production"), exp)
    assert {i.column for i in edited.issues if i.check == "constant"} == {"city"}


def test_huge_and_infinite_values(store: es.Store) -> None:
    rng = np.random.default_rng(6)
    ref = frame(rng, 30, missing=0.0)
    ref.loc[0, "x"], ref.loc[1, "x"] = -1e300, 1e300
    cur = frame(rng, 30, start=100, missing=0.0)
    cur.loc[0, "x"], cur.loc[1, "x"], cur.loc[2, "x"] = math.inf, -math.inf, 1.5e300
    model = log(store, {"training": ref, "production": cur})
    exp = learn_expectations(model.dataset(environment="training"))
    assert (exp["x"].min, exp["x"].max) == (-1e300, 1e300)
    res = quality(model.dataset(environment="production"), exp, exact_distinct=True)
    assert_column(res.column("x"), column_oracle(cur["x"], exp["x"]))
    assert res.column("x").out_of_range == {"below": 1, "above": 2}
    assert (res.column("x").min, res.column("x").max) == (-math.inf, math.inf)
    text = json.dumps(res.to_dict(), allow_nan=False)
    assert QualityResult.from_dict(json.loads(text)) == res
    # a learned infinite bound round-trips through JSON too
    inf = learn_expectations(model.dataset(environment="production"), ["x"])
    assert (inf["x"].min, inf["x"].max) == (-math.inf, math.inf)
    back = Expectations.from_dict(json.loads(json.dumps(inf.to_dict(), allow_nan=False)))
    assert back == inf
    assert quality(model.dataset(environment="production"), back).column("x").out_of_range == {
        "below": 0,
        "above": 0,
    }


# -- categories, types, editing --------------------------------------------------------------


@pytest.mark.parametrize("sums_limit", [16, 0], ids=["summed", "grouped"])
def test_new_and_vanished_categories(
    store: es.Store, monkeypatch: pytest.MonkeyPatch, sums_limit: int
) -> None:
    monkeypatch.setattr(_scan, "SUMS_LIMIT", sums_limit)
    ref = pd.DataFrame({"city": ["a", "b", "c", "d"] * 30})
    cur_values = ["a"] * 90 + ["n1"] * 4 + ["n2"] * 4 + ["n3"] * 3 + ["n4", "n5", "n6", "n7"]
    cur = pd.DataFrame({"city": cur_values + ["b"] * 5})
    schema = es.Schema(prediction_id="id", timestamp="ts", features=["city"], prediction_score="y")
    frames = {}
    for env, f in (("training", ref), ("production", cur)):
        frames[env] = f.assign(
            id=np.arange(len(f)), ts=pd.Timestamp("2024-01-01"), y=np.arange(len(f)) * 1.0
        )
    model = log(store, frames, schema, task="regression")
    exp = learn_expectations(model.dataset(environment="training"))
    assert exp["city"].categories == ["a", "b", "c", "d"]
    res = quality(model.dataset(environment="production"), exp)
    c = res.column("city")
    assert c.new_categories == ["n1", "n2", "n3", "n4", "n5"]  # most frequent, then by value
    assert (c.new_category_rows, c.new_category_values) == (15, 7)
    assert c.vanished_categories == ["c", "d"]
    issues = {i.check: i for i in res.issues if i.column == "city"}
    assert issues["new_categories"].message == (
        "city: 15 of 110 rows (13.6%) hold 7 values not among the expected categories, "
        "e.g. 'n1', 'n2', 'n3', 'n4', 'n5'."
    )
    assert issues["vanished_categories"].count == 2
    assert "2 of 4 expected categories have no rows among 110 values" in (
        issues["vanished_categories"].message
    )
    assert "vanished_categories" not in {
        i.check for i in quality(model.dataset(environment="production"), exp, min_rows=111).issues
    }
    exp["city"].allow_new_categories = True
    assert "new_categories" not in {
        i.check for i in quality(model.dataset(environment="production"), exp).issues
    }
    exp["city"].categories = ["a", "b", "n1", "n2", "n3", "n4", "n5", "n6", "n7"]
    c = quality(model.dataset(environment="production"), exp).column("city")
    assert (c.new_category_rows, c.vanished_categories) == (0, [])
    # too many values to learn a set: new and vanished are not checked
    capped = learn_expectations(model.dataset(environment="production"), max_categories=3)
    assert capped["city"].categories is None
    c = quality(model.dataset(environment="production"), capped).column("city")
    assert (c.new_category_rows, c.new_categories, c.vanished_categories) == (None, [], [])


def test_vanished_categories_allow_what_chance_explains(store: es.Store) -> None:
    # a rare category (0.2% of the reference) is absent from 200 values 67% of the time: no
    # news; a common one (49.9%) absent is
    ref = pd.DataFrame({"city": ["rare"] * 10 + ["common"] * 2495 + ["other"] * 2495})
    no_rare = pd.DataFrame({"city": ["common", "other"] * 100})
    no_common = pd.DataFrame({"city": ["other"] * 200})
    schema = es.Schema(prediction_id="id", timestamp="ts", features=["city"], prediction_score="y")
    frames = {}
    for env, f in (("training", ref), ("production", no_rare), ("validation", no_common)):
        frames[env] = f.assign(
            id=np.arange(len(f)), ts=pd.Timestamp("2024-01-01"), y=np.arange(len(f)) * 1.0
        )
    model = log(store, frames, schema, task="regression")
    exp = learn_expectations(model.dataset(environment="training"))
    assert exp["city"].category_shares == {"common": 0.499, "other": 0.499, "rare": 0.002}
    assert scipy.stats.binom.pmf(0, 200, 0.002) > 0.5
    rare = quality(model.dataset(environment="production"), exp)
    assert rare.column("city").vanished_categories == ["rare"]  # the statistic stays
    assert "vanished_categories" not in {i.check for i in rare.issues}
    common = quality(model.dataset(environment="validation"), exp)
    [issue] = [i for i in common.issues if i.check == "vanished_categories"]
    assert issue.count == 1  # 'common', not 'rare'
    assert issue.message.endswith(
        "1 of 3 expected categories have no rows among 200 values (at its share of the "
        "reference, each has a chance below 0.001): 'common'."
    )
    assert "vanished_categories" not in {  # min_rows still holds
        i.check for i in quality(model.dataset(environment="validation"), exp, min_rows=201).issues
    }
    # expectations without shares (written by hand, or saved before shares were learned):
    # every absent category is reported, as edited ranges report every row past them
    data = exp.to_dict()
    for column in data["columns"]:
        del column["category_shares"]
    bare = Expectations.from_dict(data)
    assert bare["city"].category_shares is None
    [issue] = [
        i
        for i in quality(model.dataset(environment="production"), bare).issues
        if i.check == "vanished_categories"
    ]
    assert (
        issue.message == "city: 1 of 3 expected categories have no rows among 200 values: 'rare'."
    )


@pytest.mark.parametrize("share", [0.5, 0.01, 0.0003, 1e-6])
def test_vanished_categories_boundary_is_the_binomial_chance_of_no_row(share: float) -> None:
    """At the smallest window where P(0 | n, share) = (1 - share)^n falls below 1e-3 the
    category is news; one value fewer, it is chance."""
    n = math.ceil(math.log(1e-3) / math.log1p(-share))  # a guess, which scipy confirms below
    expected = ColumnExpectation(
        "city",
        "string",
        "categorical",
        categories=["gone", "kept"],
        category_shares={"gone": share, "kept": 1 - share},
    )
    for valid, news in ((n - 1, False), (n, True)):
        assert bool(scipy.stats.binom.pmf(0, valid, share) < 1e-3) is news
        c = ColumnQuality(
            "city", "string", "categorical", valid, 0, 0.0, 1, True, "kept", "kept", True,
            new_category_rows=0, new_category_values=0, vanished_categories=["gone"],
        )  # fmt: skip
        checks = {i.check for i in _checks.column_issues(c, expected, min_rows=1)}
        assert ("vanished_categories" in checks) is news, (share, valid)


def test_type_mismatch_and_absent_columns(store: es.Store) -> None:
    rng = np.random.default_rng(8)
    model = log(store, {"training": frame(rng, 50), "production": frame(rng, 50, start=99)})
    exp = learn_expectations(model.dataset(environment="training"))
    exp["x"].dtype = "string"
    exp["gone"] = ColumnExpectation("gone", "float64", "numeric", min=0.0, max=1.0)
    res = quality(model.dataset(environment="production"), exp)
    types = [(i.column, i.message) for i in res.issues if i.check == "type"]
    assert types == [
        (
            "x",
            "x: float64 instead of the expected string; its range and category checks were "
            "skipped.",
        ),
        ("gone", "gone: absent from the dataset; expected a float64 column."),
    ]
    assert all(i.severity == "error" and i.window is None for i in res.issues if i.check == "type")
    assert res.column("x").out_of_range is None
    assert "gone" not in {c.column for c in res.columns}
    assert not res.ok


def test_editing_an_expectation_changes_the_result(store: es.Store) -> None:
    rng = np.random.default_rng(9)
    ref = frame(rng, 200, missing=0.05)
    cur = frame(rng, 200, start=1000, missing=0.05)
    model = log(store, {"training": ref, "production": cur})
    current = model.dataset(environment="production")
    exp = learn_expectations(model.dataset(environment="training"))
    before = quality(current, exp)
    exp["x"].max = 0.0
    exp["x"].max_missing_share = 0.0
    after = quality(current, exp)
    present = _present(cur["x"])
    assert after.column("x").out_of_range == {
        "below": int((present < exp["x"].min).sum()),
        "above": int((present > 0.0).sum()),
    }
    assert before.column("x").out_of_range != after.column("x").out_of_range
    missing = next(i for i in after.issues if i.column == "x" and i.check == "missing")
    assert missing.count == int(cur["x"].isna().sum())
    assert Expectations.from_dict(json.loads(json.dumps(exp.to_dict()))) == exp


# -- dataset checks: duplicates and consistency ----------------------------------------------


def test_a_selection_of_one_version_looks_for_shared_ids_without_a_query(
    store: es.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether a selection holds several versions comes from the store's volumes (time
    ranges per environment and version) when it has no filter: one version reads nothing;
    two read their ids; a filtered selection asks its rows. Results equal either way."""
    from evalstore.analyses.quality import _scan

    rng = np.random.default_rng(21)
    early, late = frame(rng, 30, days=2), frame(rng, 30, start=20, days=2)
    late["ts"] = late["ts"] + pd.Timedelta(days=5)  # v2 logged from May 11th: ids 20-29 shared
    model = log(store, {"production": early})
    model.log(late, schema=SCHEMA, version="v2", environment="production", progress=False)
    ran = queries_run(monkeypatch)
    first_days = model.dataset(start="2024-05-06", end="2024-05-09")  # v1 only
    assert _scan.repeated_ids(first_days, "day") == {} and ran == []
    both = model.dataset(start="2024-05-06", end="2024-05-14")
    shared = _scan.repeated_ids(both, None)
    assert ran and shared[None].shared_ids == 10
    ran.clear()
    filtered = model.dataset(start="2024-05-06", end="2024-05-14", where={"version": "v1"})
    assert _scan.repeated_ids(filtered, None) == {} and ran == ["query"]  # its rows tell


def test_duplicate_ids_and_ids_shared_across_versions(store: es.Store) -> None:
    rng = np.random.default_rng(10)
    v1, v2 = frame(rng, 20), frame(rng, 20, start=15)
    model = log(store, {"production": v1})
    model.log(v2, schema=SCHEMA, version="v2", environment="production", progress=False)
    ds = model.dataset()
    assert ds.unique_ids
    res = quality(ds)
    assert (res.windows[0].duplicate_rows, res.windows[0].ids_in_several_versions) == (0, 5)
    assert res.ok and "duplicate_ids" not in {i.check for i in res.issues}
    # the same from the two GROUP BYs a table the store did not write needs
    same = model.dataset()
    same.table = same.table.select(*same.table.columns)
    assert not same.unique_ids
    for by in (None, "day", "month"):
        windows = quality(ds, by=by).to_dict()["windows"]
        assert quality(same, by=by).to_dict()["windows"] == windows
        if by != "day":  # per day, only the ids whose versions were logged the same day
            assert sum(w["ids_in_several_versions"] for w in windows) == 5
    # the store's last write wins, so repeats need a table the store did not write
    t = ds.table
    ds.table = t.union(t.filter(t.prediction_id.isin(["0", "1", "2", "2"]) & (t.version == "v1")))
    ds.table = ds.table.union(ds.table.filter(ds.table.prediction_id == "0"))
    logged = pd.concat([v1.assign(v="v1"), v2.assign(v="v2")])
    logged = pd.concat([logged, logged[logged.id.isin([0, 1, 2]) & (logged.v == "v1")]])
    logged = pd.concat([logged, logged[logged.id == 0]])
    groups = logged.groupby(["v", "id"]).size()
    res = quality(ds)
    w = res.windows[0]
    assert (w.duplicate_rows, w.duplicate_ids) == (int((groups - 1).sum()), int((groups > 1).sum()))
    assert (w.duplicate_rows, w.duplicate_ids) == (5, 3)  # id 0 four times, 1 and 2 twice
    issue = next(i for i in res.issues if i.check == "duplicate_ids")
    assert (issue.severity, issue.count, issue.column) == ("error", 5, "prediction_id")
    assert not res.ok


def test_without_details_the_issues_are_the_same_for_less_work(
    store: es.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``details=False`` (a health summary) counts no distinct values and, on the store's
    own rows, no ids shared by versions: one query less, and the same issues."""

    rng = np.random.default_rng(12)
    ref = frame(rng, 200)
    v1 = frame(rng, 150, start=1000, new_share=0.3, missing=0.4, shift=2.0)
    v2 = frame(rng, 150, start=1100, new_share=0.3, missing=0.4)
    model = log(store, {"training": ref, "production": v1})
    model.log(v2, schema=SCHEMA, version="v2", environment="production", progress=False)
    exp = learn_expectations(model.dataset(environment="training"))
    exp["x"].min, exp["x"].max = -1.0, 1.0
    ran = queries_run(monkeypatch)
    current = model.dataset(environment="production")
    for by in (None, "day"):
        ran.clear()
        full = quality(current, exp, by=by, min_rows=20)
        full_queries = len(ran)
        ran.clear()
        light = quality(current, exp, by=by, min_rows=20, details=False)
        assert len(ran) == full_queries - 1  # no GROUP BY of the ids
        assert light.issues == full.issues and len(light.issues) >= 3
        assert {i.check for i in light.issues} >= {"missing", "out_of_range", "new_categories"}
        assert [replace(c, distinct=None) for c in full.columns] == light.columns
        assert all(c.distinct for c in full.columns if c.n > c.missing)
        assert sum(w.ids_in_several_versions or 0 for w in full.windows) > 0  # ids 1100-1149
        assert [replace(w, ids_in_several_versions=None) for w in full.windows] == light.windows
        assert QualityResult.from_dict(json.loads(json.dumps(light.to_dict()))) == light
    # rows the store did not write may repeat ids: the GROUP BY runs, and finds them
    t = current.table
    current.table = t.union(t.filter(t.prediction_id.isin(["1000", "1001"])))
    repeated = quality(current, exp, details=False)
    assert repeated.windows[0].duplicate_rows == 2
    assert repeated.windows[0].ids_in_several_versions == 50
    assert "duplicate_ids" in {i.check for i in repeated.issues}
    assert repeated.issues == quality(current, exp).issues
    with pytest.raises(es.ParameterError, match="details"):
        quality(current, details="no")  # type: ignore[arg-type]


def test_binary_consistency(store: es.Store) -> None:
    rng = np.random.default_rng(11)
    cur = frame(rng, 120)
    model = log(store, {"production": cur})
    ds = model.dataset()
    for threshold in (0.5, 0.3):
        res = quality(ds, threshold=threshold)
        want = disagreements(cur, threshold)
        assert res.windows[0].consistency["label_score"] == {"rows": want, "checked": 120}
        issue = next(i for i in res.issues if i.check == "label_score")
        assert (issue.count, issue.severity, issue.column) == (want, "warning", "prediction_label")
    # scores outside [0, 1] are refused at ingest: rewrite the dataset's table to test the check
    t = ds.table
    ds.table = t.mutate(prediction_score=t.prediction_score * 2 - 0.5)
    res = quality(ds)
    scores = cur["score"] * 2 - 0.5
    bad = int(((scores < 0) | (scores > 1)).sum())
    assert res.windows[0].consistency["score_range"] == {"rows": bad, "checked": 120}
    assert next(i for i in res.issues if i.check == "score_range").severity == "error"
    assert not res.ok


@pytest.mark.parametrize("kind", ["bool", "text", "int"])
def test_binary_label_types(store: es.Store, kind: str) -> None:
    rng = np.random.default_rng(12)
    cur = frame(rng, 60)
    positive: Any = {"bool": True, "text": "yes", "int": 1}[kind]
    if kind == "bool":
        cur["pred"] = cur["pred"] == 1
    elif kind == "text":
        cur["pred"] = np.where(cur["pred"] == 1, "yes", "no")
    else:
        cur.loc[0, "pred"] = 2  # not 0/1: the positive class is not obvious
    cur["label"] = cur["pred"]
    model = log(store, {"production": cur})
    want = int(((cur["pred"] == positive) != (cur["score"] >= 0.5)).sum())
    res = quality(model.dataset())
    if kind == "bool":
        assert res.windows[0].consistency["label_score"]["rows"] == want
    else:
        assert "label_score" not in res.windows[0].consistency
        assert any("positive_class=" in note for note in res.notes)
        res = quality(model.dataset(), positive_class=positive)
        assert res.windows[0].consistency["label_score"]["rows"] == want
    with pytest.raises(es.ParameterError, match="positive_class"):
        quality(model.dataset(), positive_class=1.5)


def test_multiclass_consistency(store: es.Store) -> None:
    rng = np.random.default_rng(13)
    n = 90
    raw = rng.random((n, 3))
    probs = raw / raw.sum(axis=1, keepdims=True)
    probs[:10] *= 1.1  # do not sum to 1
    probs[10, :] = [0.5, 0.5, 0.0]  # a tie: either class is a fine label
    probs[11, 1] = np.nan
    classes = np.array(["cat", "dog", "fox"])
    pred = classes[np.nan_to_num(probs, nan=-1).argmax(axis=1)].astype(object)
    pred[20:30] = "dog"
    pred[30] = "emu"  # not a class
    pred[10] = "dog"
    pred[31] = None
    df = pd.DataFrame(
        {
            "id": np.arange(n),
            "ts": pd.Timestamp("2024-01-01"),
            "p_cat": probs[:, 0],
            "p_dog": probs[:, 1],
            "p_fox": probs[:, 2],
            "pred": pred,
        }
    )
    schema = es.Schema(
        prediction_id="id",
        timestamp="ts",
        prediction_label="pred",
        prediction_score={"cat": "p_cat", "dog": "p_dog", "fox": "p_fox"},
    )
    model = log(store, {"production": df}, schema, task="multiclass_classification")
    res = quality(model.dataset())
    complete = ~np.isnan(probs).any(axis=1)
    off = complete & (np.abs(np.nansum(probs, axis=1) - 1) > 1e-6)
    labelled = complete & pd.notna(pred)
    index = {c: i for i, c in enumerate(classes)}
    own = np.array([probs[i, index[p]] if p in index else -np.inf for i, p in enumerate(pred)])
    wrong = labelled & (own < np.nanmax(probs, axis=1))
    assert res.windows[0].consistency == {
        "score_sum": {"rows": int(off.sum()), "checked": int(complete.sum())},
        "label_argmax": {"rows": int(wrong.sum()), "checked": int(labelled.sum())},
    }
    found = {(i.check, i.severity, i.count) for i in res.issues}
    assert {
        ("score_sum", "warning", int(off.sum())),
        ("label_argmax", "warning", int(wrong.sum())),
    } <= found
    assert res.column("prediction_score:dog").missing == 1


def test_regression_non_finite_predictions(store: es.Store) -> None:
    n = 12
    df = pd.DataFrame(
        {"id": np.arange(n), "ts": pd.Timestamp("2024-01-01"), "yhat": np.arange(n) * 1.0}
    )
    schema = es.Schema(prediction_id="id", timestamp="ts", prediction_score="yhat")
    model = log(store, {"production": df}, schema, task="regression")
    ds = model.dataset()
    assert quality(ds).ok
    # the store refuses non-finite predictions: rewrite the table to test the guard
    t = ds.table
    inf = ibis.literal(math.inf)
    ds.table = t.mutate(
        prediction_score=ibis.ifelse(t.prediction_id.isin(["1", "2"]), inf, t.prediction_score)
    )
    res = quality(ds)
    assert res.windows[0].consistency["non_finite"] == {"rows": 2, "checked": n}
    assert [i.check for i in res.errors] == ["non_finite"]


# -- distinct counts, results, errors --------------------------------------------------------


def test_distinct_counts_exact_and_approximate(store: es.Store) -> None:
    rng = np.random.default_rng(14)
    n = 5000
    df = pd.DataFrame(
        {
            "id": np.arange(n),
            "ts": pd.Timestamp("2024-01-01"),
            "a": rng.integers(0, 3000, n) * 0.5,
            "b": [f"v{i}" for i in rng.integers(0, 700, n)],
            "c": rng.integers(0, 7, n) * 1.0,
            "y": 0.0,
        }
    )
    schema = es.Schema(
        prediction_id="id", timestamp="ts", features=["a", "b", "c"], prediction_score="y"
    )
    ds = log(store, {"production": df}, schema, task="regression").dataset()
    exact = quality(ds, exact_distinct=True)
    approx = quality(ds)
    for column in ("a", "b", "c"):
        truth = df[column].nunique()
        assert exact.column(column).distinct == truth
        assert exact.column(column).distinct_exact and not approx.column(column).distinct_exact
        # HyperLogLog: 99% of estimates within 8% in our measurements (package doc)
        assert abs(approx.column(column).distinct - truth) <= 0.08 * truth


def test_an_estimated_distinct_count_is_never_above_the_values(store: es.Store) -> None:
    """HyperLogLog may estimate more distinct values than there are values (20,136 for
    20,000 distinct scores here): the count is capped at the values counted."""
    import duckdb

    rng = np.random.default_rng(0)
    n = 20_000
    df = pd.DataFrame(
        {"id": np.arange(n), "ts": pd.Timestamp("2024-01-01"), "a": rng.random(n), "y": 0.0}
    )
    estimate = duckdb.connect().execute("SELECT approx_count_distinct(a) FROM df").fetchall()
    assert estimate[0][0] > n  # the case this test is about
    schema = es.Schema(prediction_id="id", timestamp="ts", features=["a"], prediction_score="y")
    ds = log(store, {"production": df}, schema, task="regression").dataset()
    found = quality(ds).column("a")
    assert found.n - found.missing == n
    assert n * 0.95 <= found.distinct <= n
    assert quality(ds, exact_distinct=True).column("a").distinct == n


def test_result_round_trip_and_accessors(store: es.Store) -> None:
    rng = np.random.default_rng(15)
    model = log(
        store,
        {"training": frame(rng, 100), "production": frame(rng, 100, start=500, new_share=0.3)},
    )
    exp = learn_expectations(model.dataset(environment="training"))
    res = quality(model.dataset(environment="production"), exp, by="day")
    data = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert data["ok"] == res.ok and data["n_warnings"] == len(res.warnings)
    assert QualityResult.from_dict(data) == res
    assert all(i.check in CHECKS for i in res.issues)
    severities = [i.severity for i in res.issues]
    assert severities == sorted(severities, key=["error", "warning"].index)
    first = res.windows[0].window
    assert res.window(first) is res.windows[0]
    with pytest.raises(es.ParameterError, match="Did you mean 'city'"):
        res.column("cty", first)
    with pytest.raises(es.ParameterError, match="window"):
        res.column("city")  # per-window result: name the window
    with pytest.raises(es.ParameterError, match="QualityResult data"):
        QualityResult.from_dict({"nope": 1})


def test_expectations_round_trip_and_editing_errors(store: es.Store) -> None:
    rng = np.random.default_rng(16)
    model = log(store, {"training": frame(rng, 40)})
    exp = learn_expectations(model.dataset(environment="training"))
    text = json.dumps(exp.to_dict(), allow_nan=False)
    assert Expectations.from_dict(json.loads(text)) == exp
    with pytest.raises(es.ParameterError, match="Did you mean 'city'"):
        exp["citi"]
    with pytest.raises(es.ParameterError, match="x, city, flag"):
        exp["nope"].max = 3
    with pytest.raises(es.ParameterError, match="Expectations data"):
        Expectations.from_dict({"format": 99})
    with pytest.raises(es.ParameterError, match="ColumnExpectation data"):
        Expectations.from_dict({"format": 1, "columns": [{"column": "x", "typo": 1}]})
    with pytest.raises(es.ParameterError, match="at least min"):
        ColumnExpectation("x", "float64", "numeric", min=2.0, max=1.0)
    with pytest.raises(es.ParameterError, match="must be a ColumnExpectation"):
        exp["x"] = ColumnExpectation("y", "float64", "numeric")  # type: ignore[misc]
    del exp["flag"]
    assert "flag" not in exp and len(exp) == 5
    current = model.dataset(environment="training")
    exp["x"].max_missing_share = 2.0  # edits are checked when used
    with pytest.raises(es.ParameterError, match=r"expectations\['x'\]\.max_missing_share"):
        quality(current, exp)
    exp["x"].max_missing_share = 0.5
    exp["city"].categories = [1, 2]
    with pytest.raises(es.ParameterError, match=r"categories must be values of the column"):
        quality(current, exp)


def test_parameter_errors(store: es.Store) -> None:
    rng = np.random.default_rng(17)
    model = log(store, {"training": frame(rng, 20)})
    ds = model.dataset()
    with pytest.raises(es.ParameterError, match="dataset must be an evalstore Dataset"):
        quality(ds.to_pandas())  # type: ignore[arg-type]
    with pytest.raises(es.ParameterError, match="reference must be an evalstore Dataset"):
        learn_expectations("training")  # type: ignore[arg-type]
    with pytest.raises(es.ParameterError, match="Did you mean 'day'"):
        quality(ds, by="dya")
    with pytest.raises(es.ParameterError, match="expectations must be None or Expectations"):
        quality(ds, {"x": 1})  # type: ignore[arg-type]
    with pytest.raises(es.ParameterError, match="threshold"):
        quality(ds, threshold=2)
    with pytest.raises(es.ParameterError, match="min_rows"):
        quality(ds, min_rows=0)
    with pytest.raises(es.ParameterError, match="Did you mean 'city'"):
        quality(ds, columns=["cty"])
    with pytest.raises(es.ParameterError, match="Did you mean 'city'"):
        quality(ds, learn_expectations(ds), columns=["cty"])
    with pytest.raises(es.ParameterError, match="Did you mean 'city'"):
        learn_expectations(ds, ["cty"])
    with pytest.raises(es.ParameterError, match="max_categories"):
        learn_expectations(ds, max_categories=0)
    with pytest.raises(es.ParameterError, match="positive_class"):
        quality(ds, task="regression", positive_class=1)
    res = quality(ds, columns=["x"], task="regression")
    assert [c.column for c in res.columns] == ["x"] and res.task == "regression"
