"""The UI's chart specs: what they draw where data are missing."""

from __future__ import annotations

from datetime import datetime, timedelta

from evalstore.analyses.performance import PerformanceResult
from evalstore.render import ui_figures

WEEK = timedelta(days=7)


def _weeks(*offsets: int) -> list[datetime]:
    return [datetime(2024, 1, 1) + WEEK * i for i in offsets]


def test_the_line_breaks_over_weeks_without_rows() -> None:
    x, y = ui_figures.with_gaps(_weeks(0, 1, 4, 5), [1.0, 2.0, 3.0, 4.0], "week")
    assert y == [1.0, 2.0, None, 3.0, 4.0]
    assert x[1] < x[2] < x[3]
    # months of 28 to 31 days, and consecutive days, are no gap
    months = [datetime(2024, m, 1) for m in (1, 2, 3)]
    assert ui_figures.with_gaps(months, [1, 2, 3], "month")[1] == [1, 2, 3]
    days = [datetime(2024, 1, 1) + timedelta(days=i) for i in range(3)]
    assert ui_figures.with_gaps(days, [1, 2, 3], "day")[1] == [1, 2, 3]


def test_the_band_is_one_shape_per_run_of_windows_with_an_interval() -> None:
    x = _weeks(0, 1, 2, 3, 4)
    low = [1.0, 2.0, None, 4.0, 5.0]
    high = [3.0, 4.0, None, 6.0, 7.0]
    bx, by = ui_figures.interval_band(x, low, high)
    # weeks 0-1: high forward, low backward; a gap; weeks 3-4 the same
    assert bx == [x[0], x[1], x[1], x[0], None, x[3], x[4], x[4], x[3]]
    assert by == [3.0, 4.0, 2.0, 1.0, None, 6.0, 7.0, 5.0, 4.0]
    # one window alone is a vertical stroke; none at all, nothing
    assert ui_figures.interval_band(x[:1], [1.0], [2.0]) == ([x[0], x[0]], [2.0, 1.0])
    assert ui_figures.interval_band(x[:2], [None, None], [None, None]) == ([], [])


def test_performance_over_time_draws_no_band_across_a_window_without_interval() -> None:
    """A week with one row has no interval: the band stops there and starts again after it
    (it was drawn from the weeks before to the weeks after, across the chart)."""
    weeks = _weeks(0, 1, 2, 3, 6)
    values = [10.0, 12.0, 50.0, 11.0, 13.0]
    rows = [
        {
            "week": w,
            "metric": "mae",
            "value": v,
            "ci_low": None if i == 2 else v - 1,
            "ci_high": None if i == 2 else v + 1,
            "n": 1 if i == 2 else 100,
            "n_without_actual": 0,
        }
        for i, (w, v) in enumerate(zip(weeks, values, strict=True))
    ]
    result = PerformanceResult(
        task="regression",
        metrics=["mae"],
        by=["week"],
        rows=rows,
        confidence=0.95,
        positive_class=None,
        threshold=None,
    )
    spec = ui_figures.performance_over_time(result, "mae", "week")
    (band,) = [t for t in spec["data"] if t.get("name") == "confidence interval"]
    assert band["fill"] == "toself"
    shapes = _split(band["x"], band["y"])
    assert [sorted(set(xs)) for xs, _ in shapes] == [weeks[0:2], weeks[3:4], weeks[4:5]]
    for xs, ys in shapes:  # each shape lies around its own weeks' values
        for at, y in zip(xs, ys, strict=True):
            assert abs(y - values[weeks.index(at)]) == 1
    (line,) = [t for t in spec["data"] if t.get("name") == "mae"]
    assert line["y"] == [10.0, 12.0, 50.0, 11.0, None, 13.0]  # weeks 4-5 had no rows


def _split(xs: list, ys: list) -> list[tuple[list, list]]:
    shapes: list[tuple[list, list]] = [([], [])]
    for x, y in zip(xs, ys, strict=True):
        if x is None:
            shapes.append(([], []))
        else:
            shapes[-1][0].append(x)
            shapes[-1][1].append(y)
    return shapes


def test_the_quality_heatmap_names_its_windows(tmp_path) -> None:
    """Its x axis is the windows (short dates, titled so), not bins."""
    import numpy as np
    import pandas as pd

    import evalstore as es
    from evalstore.analyses.quality import quality

    n = 90
    frame = pd.DataFrame(
        {
            "id": np.arange(n),
            "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n) * 8, unit="h"),
            "x": np.random.default_rng(0).normal(size=n),
            "score": 0.5,
        }
    )
    with es.connect(tmp_path / "s") as store:
        model = store.model("m", task="binary_classification")
        schema = es.Schema(prediction_id="id", timestamp="ts", prediction_score="score")
        model.log(frame, schema=schema, version="v1", environment="production")
        result = quality(model.dataset(), by="day")
    spec = ui_figures.quality_heatmap(result)
    axis = spec["layout"]["xaxis"]
    assert axis["title"]["text"] == "day (its start, UTC)"
    assert axis["automargin"] is True
    assert spec["data"][0]["x"] == [f"2024-01-{d:02d}" for d in range(1, 31)]
