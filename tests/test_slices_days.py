"""The merge of grouped query results kept per window (``analyses/_merged.py``): which
aggregates merge, and merged windows equal to pandas' group-by of their rows."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from evalstore.analyses import _merged


def test_only_merging_aggregates_merge() -> None:
    """COUNT, COUNT(*), SUM, MIN and MAX merge; a mean, a variance, an expression over
    aggregates, or a second group key that is not an integer do not."""
    t = ibis.table({"k": "int64", "d": "timestamp", "b": "int64", "x": "float64", "s": "string"})
    groups = [t.k, t.d]
    good = t.group_by([*groups, t.b]).aggregate(
        n=t.count(where=t.x > 0), c=t.x.count(), s=t.x.sum(), lo=t.b.min(), hi=t.x.max()
    )
    found = _merged.plan(good, "k", ["d"])
    assert found == _merged.Plan(
        "k", "b", ("d",), (("n", "sum"), ("c", "sum"), ("s", "sum"), ("lo", "min"), ("hi", "max"))
    )
    for bad in (
        t.group_by(groups).aggregate(m=t.x.mean()),
        t.group_by(groups).aggregate(v=t.x.std()),
        t.group_by(groups).aggregate(r=t.x.sum() / t.count()),
        t.group_by([*groups, t.s]).aggregate(n=t.count()),
        t.group_by([*groups, t.b, t.s.length().name("l")]).aggregate(n=t.count()),
        t.group_by([t.k]).aggregate(n=t.count()),  # no window key
    ):
        assert _merged.plan(bad, "k", ["d"]) is None


@pytest.mark.parametrize("rows_per_slot", [0.05, 40.0])  # few rows: kept as rows; many: dense
def test_merged_windows_equal_one_group_by(rows_per_slot: float) -> None:
    """Rows grouped by (window, key, sub key), with NULLs: split per window and merged,
    any set of windows gives what pandas' group-by of their rows over (key, sub key) gives,
    with SQL's NULLs (a sum or a minimum of no value is NULL, a NULL is left out)."""
    rng = np.random.default_rng(int(rows_per_slot * 100))
    keys = np.array([-7, 3, 4, 10, 11, 12])  # the slots' keys
    subs = 50
    n = int(rows_per_slot * len(keys) * subs * 4)
    raw = pd.DataFrame(
        {
            "w": rng.integers(0, 4, n),
            "k": rng.choice(keys, n),
            # the windows' sub keys span different ranges
            "b": rng.integers(0, subs, n),
            "x": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
            "i": rng.integers(-5, 300, n),
        }
    )
    raw["b"] += raw["w"] * 3
    grouped = raw.groupby(["w", "k", "b"], sort=False)
    table = grouped.agg(
        n=("x", "size"), c=("x", "count"), s=("x", lambda v: v.sum(min_count=1)),
        lo=("x", "min"), hi=("i", "max"), t=("i", "sum"),
    ).reset_index()  # fmt: skip
    table["w"] += 19_000  # days since 1970, as the slices' windows
    plan = _merged.Plan(
        "k",
        "b",
        ("w",),
        (("n", "sum"), ("c", "sum"), ("s", "sum"), ("lo", "min"), ("hi", "max"), ("t", "sum")),
    )
    order = {int(k): i for i, k in enumerate(keys)}
    layout = _merged.Layout(lambda found: np.array([order[int(k)] for k in found]), keys)
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    per_window = _merged.split(arrow, plan, layout)
    assert sorted(per_window) == [19_000 + d for d in range(4)]
    dense = [c.index is None for c in per_window.values()]
    assert all(dense) if rows_per_slot > 1 else not any(dense)
    for chosen in ([0], [1, 3], [0, 1, 2, 3]):
        got = _merged.merged([per_window[19_000 + d] for d in chosen], plan, layout)
        assert got is not None
        part = raw[raw["w"].isin(chosen)]
        want = part.groupby(["k", "b"]).agg(
            n=("x", "size"), c=("x", "count"), s=("x", lambda v: v.sum(min_count=1)),
            lo=("x", "min"), hi=("i", "max"), t=("i", "sum"),
        ).reset_index()  # fmt: skip
        found = got.to_pandas().sort_values(["k", "b"]).reset_index(drop=True)
        assert got.schema.names == ["k", "b", "n", "c", "s", "lo", "hi", "t"]
        for name in ("k", "b", "n", "c", "hi", "t"):
            assert found[name].tolist() == want[name].tolist(), name
        for name in ("s", "lo"):
            # sums of a few terms of both signs: relative to the terms, not the sum
            np.testing.assert_allclose(found[name], want[name], 1e-12, 1e-13, equal_nan=True)
            assert found[name].isna().tolist() == want[name].isna().tolist()
