"""What a terminal prints and a notebook shows for each analysis result: a title with the
result's headline numbers, then its first rows as the result ranks them, and where the rest
is (``render/tables.py``). The dataclass repr these replace ran to tens of thousands of
characters for one drift result."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import numpy as np
import pandas as pd
import pytest

import evalstore as es
from evalstore.render.tables import MAX_ROWS, Shown, cell

N = 4000


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Training and production of a binary classifier over 4 days: in production ``x0``
    shifted, ``city`` reweighted with a new value (so they drift), ``x2`` a third missing."""
    rng = np.random.default_rng(3)
    store = es.connect(tmp_path_factory.mktemp("display") / "store")

    def frame(shift: float, start: str, prefix: str) -> pd.DataFrame:
        cols: dict[str, Any] = {
            f"x{i}": rng.normal(shift if i == 0 else 0.0, 1, N) for i in range(18)
        }
        weights = [0.2, 0.3, 0.2, 0.3] if shift else [0.5, 0.3, 0.2, 0.0]
        cols["city"] = rng.choice(["paris", "lyon", "nice", "<none>"], N, p=weights)
        if shift:  # and issues of quality: a new city (above), a third of x2 missing
            cols["x2"] = np.where(rng.random(N) < 0.3, np.nan, cols["x2"])
        score = 1 / (1 + np.exp(-cols["x1"]))
        return pd.DataFrame(
            {
                "id": [f"{prefix}{i}" for i in range(N)],
                "ts": pd.Timestamp(start) + pd.to_timedelta(np.arange(N) * 86.4, unit="s"),
                **cols,
                "score": score,
                "label": (rng.random(N) < score).astype(int),
            }
        )

    schema = es.Schema(
        prediction_id="id", timestamp="ts", prediction_score="score", actual_label="label"
    )
    m = store.model("shown", task="binary_classification")
    m.log(frame(0.0, "2024-01-01", "t"), schema=schema, version="v1", environment="training")
    m.log(frame(1.0, "2024-02-01", "p"), schema=schema, version="v1", environment="production")
    yield m
    store.close()


class _Table(HTMLParser):
    """The text of a page's header cells and rows, and of everything outside them."""

    def __init__(self) -> None:
        super().__init__()
        self.header: list[str] = []
        self.rows: list[list[str]] = []
        self.tags: list[str] = []
        self._where: str | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append([])
        if tag in ("th", "td"):
            self._where = tag

    def handle_endtag(self, tag: str) -> None:
        if tag in ("th", "td"):
            self._where = None

    def handle_data(self, data: str) -> None:
        if self._where == "th":
            self.header.append(data)
        elif self._where == "td":
            self.rows[-1].append(data)


def _html(shown_html: str) -> _Table:
    parsed = _Table()
    parsed.feed(shown_html)
    parsed.rows = [r for r in parsed.rows if r]  # the header's row holds th cells only
    return parsed


def test_a_drift_result_shows_its_counts_and_its_columns_in_rank_order(model: Any) -> None:
    result = model.drift(reference="training", current="production")
    text = repr(result)
    lines = text.splitlines()
    assert lines[0].startswith(
        f"DriftResult: {result.n_drifted} of {result.n_columns} columns drifted "
        "(Benjamini-Hochberg, false discovery rate 0.05); 4,000 reference rows, "
        "4,000 current rows"
    )
    assert set(result.drifted_columns) >= {"x0", "city"}
    # the first MAX_ROWS columns as ranked, then where the rest is
    shown = [line.split()[0] for line in lines[2 : 2 + MAX_ROWS]]
    assert shown == [c.column for c in result.columns[:MAX_ROWS]]
    assert lines[-1] == (
        f"... {result.n_columns - MAX_ROWS} more columns: result.columns, result['<column>']"
    )
    first = result.columns[0]
    assert lines[2].split() == [
        first.column,
        first.kind,
        first.method,
        cell(first.value),
        cell(first.threshold),
        cell(first.p_adjusted),
        "yes",
    ]
    assert len(text) < 3000 < len(str(result.to_dict()))
    assert str(result) == text

    table = _html(result._repr_html_())
    assert table.header == [
        "column",
        "kind",
        "method",
        "value",
        "threshold",
        "p adjusted",
        "drifted",
    ]
    assert [r[0] for r in table.rows] == shown
    assert table.rows[0][-1] == "yes"


def test_a_column_s_drift_is_one_line(model: Any) -> None:
    result = model.drift(reference="training", current="production")
    c = result["x0"]
    assert repr(c) == (
        f"ColumnDrift(x0: {c.method} {cell(c.value)} against a threshold of "
        f"{cell(c.threshold)}, p adjusted {cell(c.p_adjusted)}, drifted; 4,000 reference "
        f"rows, 4,000 current rows, {len(c.bins)} bins)"
    )


def test_performance_shows_a_row_per_group_and_metric(model: Any) -> None:
    result = model.performance("production", ["roc_auc", "accuracy"], by="day")
    lines = repr(result).splitlines()
    days = len({row["day"] for row in result.rows})
    assert days == 4  # 4,000 rows 86.4 s apart
    assert lines[0] == (
        f"PerformanceResult: roc_auc, accuracy by day (binary_classification); "
        f"{days} groups, 0.95 intervals"
    )
    assert lines[1].split() == [
        "day", "metric", "value", "ci", "low", "ci", "high", "rows", "without", "actual"
    ]  # fmt: skip
    assert len(lines) == 2 + len(result.rows)  # 8 rows: all shown, nothing more to say
    for line, row in zip(lines[2:], result.rows, strict=True):
        assert line.split() == [
            row["day"].strftime("%Y-%m-%d"),
            row["metric"],
            cell(row["value"]),
            cell(row["ci_low"]),
            cell(row["ci_high"]),
            f"{row['n']:,}",
            "0",
        ]
    table = _html(result._repr_html_())
    assert len(table.rows) == len(result.rows)


def test_long_results_say_how_many_rows_are_left_out(model: Any) -> None:
    metrics = ["roc_auc", "accuracy", "f1", "recall", "precision"]
    result = model.performance("production", metrics[:3], by="day")
    lines = repr(result).splitlines()
    assert len(result.rows) == 12 and len(lines) == 2 + 12
    one = model.performance("production", metrics[:4], by="day")
    assert repr(one).splitlines()[-1] == "... 1 more row: result.rows, result.to_pandas()"
    five = model.performance("production", metrics, by="day")
    lines = repr(five).splitlines()
    assert len(lines) == 2 + MAX_ROWS + 1
    assert lines[-1] == "... 5 more rows: result.rows, result.to_pandas()"
    assert [line.split()[1] for line in lines[2:-1]] == [r["metric"] for r in five.rows[:MAX_ROWS]]


def test_quality_lists_its_issues_errors_first(model: Any) -> None:
    # production's x0 is shifted by one standard deviation: rows above training's range
    result = model.quality("production", reference="training")
    lines = repr(result).splitlines()
    errors, warnings = len(result.errors), len(result.warnings)
    assert {(i.column, i.check) for i in result.issues} >= {("city", "new_categories")}
    assert "x2" in {i.column for i in result.issues}
    assert lines[0] == (
        f"QualityResult: {'ok' if result.ok else 'not ok'}, {errors} "
        f"error{'' if errors == 1 else 's'} and {warnings} warning{'' if warnings == 1 else 's'} "
        f"({len({c.column for c in result.columns})} columns, overall)"
    )
    assert lines[1].split() == ["severity", "column", "check", "message"]
    for line, issue in zip(lines[2:], result.issues, strict=False):
        assert line.split()[:3] == [issue.severity, issue.column or "-", issue.check]
        assert line.endswith(issue.message)
    table = _html(result._repr_html_())
    assert [r[3] for r in table.rows] == [i.message for i in result.issues[:MAX_ROWS]]
    clean = model.quality("training", reference="training")
    assert clean.ok and repr(clean).splitlines()[1:] == [
        "No issues. Each column's statistics: result.columns, result.column('<column>')"
    ]


def test_slices_show_the_worst_surest_first(model: Any) -> None:
    result = model.slices("production", "roc_auc", columns=["city", "x0"])
    lines = repr(result).splitlines()
    o = result.overall
    assert lines[0] == (
        f"SliceResult: roc_auc in {len(result.rows)} slices of 2 columns; overall "
        f"{cell(o.value)} on {o.n:,} rows; the worst with 30 rows or more, surest first"
    )
    worst = result.worst(MAX_ROWS)
    for line, s in zip(lines[2:], worst, strict=False):
        assert line.split()[0] == s.column
        assert cell(s.value) in line.split()
    assert repr(worst[0]) == (
        f"Slice({worst[0].column} = {worst[0].bin}: {cell(worst[0].value)} "
        f"[{cell(worst[0].ci_low)}, {cell(worst[0].ci_high)}] on {worst[0].n:,} rows)"
    )


def test_drift_over_time_shows_a_row_per_window(model: Any) -> None:
    result = model.drift_over_time(reference="training", current="production", by="day")
    lines = repr(result).splitlines()
    drifted = sum(w.result.drifted for w in result.windows)
    assert lines[0] == (
        f"DriftOverTime: {len(result.windows)} windows by day, 19 columns; "
        f"drift in {drifted} of them"
    )
    for line, w in zip(lines[2:], result.windows, strict=True):
        assert line.split()[:3] == [
            w.start.strftime("%Y-%m-%d"),
            f"{w.result.n_current:,}",
            str(w.result.n_drifted),
        ]


def test_values_are_escaped_in_html_and_undefined_ones_are_dashes() -> None:
    shown = Shown("a <b> & c", ["name", "value"], [["<script>x</script>", float("nan")]])
    html = shown.html()
    assert "<script>" not in html and "&lt;script&gt;" in html
    table = _html(html)
    assert table.rows == [["<script>x</script>", "-"]]
    assert "script" not in table.tags
    assert shown.text().splitlines() == [
        "a <b> & c",
        "name                value",
        "<script>x</script>  -",
    ]


def test_a_result_without_rows_is_its_title() -> None:
    empty = Shown("Nothing: 0 columns", ["a", "b"], [])
    assert empty.text() == "Nothing: 0 columns"
    assert "<table" not in empty.html()


def test_a_baseline_says_what_it_selects_and_holds(model: Any) -> None:
    from evalstore.analyses.baseline import Baseline, Selector

    b = model.create_baseline("train", environment="training")
    assert repr(b) == (
        f"Baseline(train v{b.version}: environment=training; 4,000 rows; bins of "
        f"{len(b.binnings_)} columns, expectations of {len(b.expectations_.columns)}, "
        f"performance, slices; created {cell(b.created_at)})"
    )
    assert len(b.binnings_) == 21  # 19 features, the score and the label
    unfitted = Baseline("later", selector=Selector(environment=("production",)))
    assert repr(unfitted) == "Baseline(later: environment=production; not fitted)"


def test_expectations_show_a_row_per_column(model: Any) -> None:
    expect = model.create_baseline("train", environment="training").expectations_
    lines = repr(expect).splitlines()
    assert lines[0] == f"Expectations of {len(expect.columns)} columns, learned on 4,000 rows"
    assert lines[1].split() == [
        "column", "kind", "type", "max", "missing", "range", "categories", "new", "allowed"
    ]  # fmt: skip
    assert [line.split()[0] for line in lines[2:-1]] == list(expect.columns)[:MAX_ROWS]
    x0 = expect["x0"]
    assert lines[2].split() == [
        "x0", "numeric", "float64", cell(x0.max_missing_share), cell(x0.min), "..",
        cell(x0.max), "-", "-",
    ]  # fmt: skip
    assert lines[-1] == (
        f"... {len(expect.columns) - MAX_ROWS} more columns: expectations.columns, "
        "expectations['<column>']"
    )
    table = _html(expect._repr_html_())
    assert [r[0] for r in table.rows] == list(expect.columns)[:MAX_ROWS]
    # edited down to a few columns, all shown: a categorical one with its values
    for name in [f"x{i}" for i in range(1, 18)]:
        del expect[name]
    expect["city"].allow_new_categories = True
    lines = repr(expect).splitlines()
    assert len(lines) == 2 + len(expect.columns)
    (city,) = [line.split() for line in lines if line.startswith("city ")]
    share = cell(expect["city"].max_missing_share)
    assert city == ["city", "categorical", "string", share, "-", "3", "values", "yes"]
