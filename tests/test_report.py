"""Reports and baselines: every number is the standalone analysis's (and scikit-learn's), the
HTML is self-contained and holds no row, baselines are stored, versioned and reused."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)
from typer.testing import CliRunner

import evalstore as es
from conftest import MULTICLASS_SCHEMA as MCS
from conftest import REGRESSION_SCHEMA, multiclass_frame, regression_frame
from evalstore.analyses.baseline import Baseline
from evalstore.analyses.drift import drift
from evalstore.analyses.performance import PerformanceResult, performance
from evalstore.analyses.report import Report, auto_window
from evalstore.analyses.slices import Slice, SliceResult
from evalstore.cli import app
from evalstore.selection import span_text

SCHEMA = es.Schema(
    prediction_id="id",
    timestamp="ts",
    prediction_score="score",
    prediction_label="pred",
    actual_label="y",
)
N = 4000


def frame(seed: int, start: str, shift: float, bad_segment: bool, prefix: str) -> pd.DataFrame:
    """A binary model's rows over 10 days: ``x_shift`` moves by ``shift``; in segment
    ``seg = bad`` the labels are noise when ``bad_segment``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=N)
    seg = rng.choice(["a", "b", "c", "bad"], size=N, p=[0.3, 0.3, 0.25, 0.15])
    score = 1 / (1 + np.exp(-2 * x))
    y = rng.random(N) < score
    noisy = (seg == "bad") & bad_segment
    y[noisy] = rng.random(noisy.sum()) < 0.5
    return pd.DataFrame(
        {
            "id": [f"{prefix}-{i:06d}" for i in range(N)],
            "ts": pd.Timestamp(start, tz="UTC")
            + pd.to_timedelta(rng.integers(0, 10 * 86400, N), "s"),
            "x": x,
            "x_shift": rng.normal(loc=shift, size=N),
            "seg": seg,
            "score": score,
            "pred": score >= 0.5,
            "y": y,
        }
    )


def values(result: PerformanceResult, approx: bool = False) -> dict[str, object]:
    """Each metric's value and interval; ``approx``: to compare up to the order of the
    engine's parallel float sums."""
    out: dict[str, object] = {}
    for r in result.rows:
        triple = (r["value"], r["ci_low"], r["ci_high"])
        scalar = isinstance(r["value"], float)
        out[r["metric"]] = pytest.approx(triple, rel=1e-12) if approx and scalar else triple
    return out


@pytest.fixture(scope="module")
def setup(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[es.Store, es.Model, pd.DataFrame, pd.DataFrame]]:
    path = tmp_path_factory.mktemp("report") / "store"
    train = frame(1, "2024-01-01", 0.0, False, "t")
    prod = frame(2, "2024-03-01", 1.0, True, "p")
    with es.connect(path) as store:
        model = store.model("clf", task="binary_classification")
        model.log(train, schema=SCHEMA, version="v1", environment="training")
        # the last 500 production rows have no actual yet
        model.log(
            prod.drop(columns="y"),
            schema=dataclasses.replace(SCHEMA, actual_label=None),
            version="v1",
            environment="production",
        )
        model.log_actuals(prod.iloc[:-500][["id", "y"]], prediction_id="id", actual="y")
        yield store, model, train, prod


@pytest.fixture(scope="module")
def report(setup: tuple[es.Store, es.Model, pd.DataFrame, pd.DataFrame]) -> Report:
    _, model, _, _ = setup
    return model.report(reference="training", current="production")


def test_performance_is_scikit_learns(setup, report: Report) -> None:
    _, model, train, prod = setup
    known = prod.iloc[:-500]
    cur = {r["metric"]: r for r in report.performance_current.rows}
    ref = {r["metric"]: r for r in report.performance_reference.rows}
    assert cur["accuracy"]["value"] == pytest.approx(accuracy_score(known.y, known.pred))
    assert ref["accuracy"]["value"] == pytest.approx(accuracy_score(train.y, train.pred))
    # binned AUC: within its documented bound of the exact value
    assert cur["roc_auc"]["value"] == pytest.approx(roc_auc_score(known.y, known.score), abs=1e-4)
    assert cur["accuracy"]["n"] == N - 500 and cur["accuracy"]["n_without_actual"] == 500
    standalone = performance(model.dataset(environment="production"))
    assert values(standalone) == values(report.performance_current, approx=True)


def test_performance_over_time_counts_every_row(setup, report: Report) -> None:
    _, _, _, prod = setup
    assert report.window == "day" and report.primary_metric == "roc_auc"
    rows = report.performance_over_time.rows
    assert sum(r["n"] + r["n_without_actual"] for r in rows) == N
    days = prod.ts.dt.tz_convert(None).dt.floor("D")
    first = rows[0]
    in_day = prod[days == pd.Timestamp(first["day"])]
    known = in_day[in_day.id.isin(prod.id.iloc[:-500])]
    assert first["n"] == len(known)
    assert first["value"] == pytest.approx(roc_auc_score(known.y, known.score), abs=1e-3)


def test_drift_is_the_standalone_drift(setup, report: Report) -> None:
    _, model, _, _ = setup
    assert report.drift.drifted_columns == ["x_shift"]
    alone = drift(model.dataset(environment="training"), model.dataset(environment="production"))
    assert {c.column: c.value for c in alone} == {c.column: c.value for c in report.drift}
    predicted = {c.column for c in report.prediction_drift}
    assert {"prediction_score", "prediction_label", "actual_label"} <= predicted
    training, production = (model.dataset(environment=e) for e in ("training", "production"))
    alone = drift(training, production, sorted(predicted))
    assert {c.column: c.value for c in alone} == {
        c.column: c.value for c in report.prediction_drift
    }
    assert alone.drifted_columns == report.prediction_drift.drifted_columns


def test_drift_and_quality_read_beside_the_performance(
    setup, report: Report, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report's drift (features and predictions from one scan) and data quality read
    on the store's side threads while its performance and slices read on the caller's, to
    the same results; an error on a side thread reaches the caller."""
    import threading

    from evalstore.analyses import report as report_module

    _, model, _, _ = setup
    threads: dict[str, set[str]] = {}
    for name in ("drift", "drift_families", "quality", "performance", "slices"):
        real = getattr(report_module, name)

        def spy(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            threads.setdefault(_name, set()).add(threading.current_thread().name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(report_module, name, spy)
    again = model.report(reference="training", current="production")
    here = threading.current_thread().name
    assert threads["performance"] == threads["slices"] == {here}
    assert "drift" not in threads  # both families from drift_families' one scan
    side = threads["quality"] | threads["drift_families"]
    assert all(name.startswith("evalstore-beside") for name in side)
    assert again.drift.to_dict() == report.drift.to_dict()
    assert again.quality.to_dict() == report.quality.to_dict()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the drift failed")

    monkeypatch.setattr(report_module, "drift_families", broken)
    with pytest.raises(RuntimeError, match="the drift failed"):
        model.report(reference="training", current="production")


def test_worst_slice_is_the_planted_one(setup, report: Report) -> None:
    _, _, _, prod = setup
    worst = report.slices_current.worst(1)[0]
    assert (worst.column, worst.bin) == ("seg", "bad")
    known = prod.iloc[:-500]
    bad = known[known.seg == "bad"]
    assert worst.n == len(bad)
    assert worst.value == pytest.approx(roc_auc_score(bad.y, bad.score), abs=1e-3)
    assert report.slices_reference.find("seg", "bad").value > worst.value + 0.1


def test_summary_names_what_went_wrong(report: Report) -> None:
    topics = {item["topic"]: item for item in report.summary}
    assert topics["drift"]["status"] == "alert" and "x_shift" in topics["drift"]["text"]
    assert topics["performance"]["status"] == "alert"
    assert "500 of 4,000" in topics["performance"]["text"]
    assert "seg = bad" in topics["slices"]["text"]
    assert topics["slices"]["status"] == "alert"  # worse than in the reference
    assert report.summary[0]["status"] == "alert"


def test_a_slice_as_weak_in_the_reference_is_no_alert(tmp_path: Path) -> None:
    """The worst slice, significantly below the overall value but as weak in the reference
    (the reference's value inside its interval), is told as a weak slice, not an alert."""
    with es.connect(tmp_path / "store") as store:
        model = store.model("weak", task="binary_classification")
        for seed, start, env in ((3, "2024-01-01", "training"), (4, "2024-03-01", "production")):
            rows = frame(seed, start, 0.0, True, env[0])  # seg = bad is noise on both sides
            model.log(rows, schema=SCHEMA, version="v1", environment=env)
        found = model.report(reference="training", current="production", slice_columns=["seg"])
    worst = found.slices_current.worst(1)[0]
    before = found.slices_reference.find(worst.column, worst.bin)
    assert (worst.column, worst.bin) == ("seg", "bad") and worst.significant
    assert worst.ci_low <= before.value <= worst.ci_high
    topics = {item["topic"]: item for item in found.summary}
    assert topics["slices"]["status"] == "info"
    assert "weak before too" in topics["slices"]["text"]


def constructed_slices(
    overall: float, current: dict[str, float], reference: dict[str, float], higher: bool = True
) -> tuple[SliceResult, SliceResult]:
    """A current and a reference SliceResult of column ``seg`` with the bins and values
    given (each slice 400 rows, interval +-0.03, significant when that excludes overall)."""

    def result(values: dict[str, float], overall_value: float) -> SliceResult:
        rows = [
            Slice("seg", b, "value", v, v - 0.03, v + 0.03, n=400, share=0.25)
            for b, v in values.items()
        ]
        rows = [
            dataclasses.replace(r, significant=not r.ci_low <= overall_value <= r.ci_high)
            for r in rows
        ]
        whole = Slice(None, "all", "all", overall_value, None, None, 1600, 0, 1.0, None)
        return SliceResult(
            "binary_classification", "accuracy", higher, 0.95, 30, True, 0.5, ["seg"], whole, rows
        )

    return result(current, overall), result(reference, 0.75)


@pytest.mark.parametrize("higher", [True, False])
def test_a_slice_better_than_overall_is_never_the_worst(report: Report, higher: bool) -> None:
    """The slice that fell most against the reference (0.80 -> 0.68) beats the overall 0.571:
    it is no worst slice; the one below overall is, though it fell less. With no slice
    below overall, the summary says so, ok. (``higher``: the metric's direction; for a
    lower-is-better one, the same numbers mirrored around 0.)"""
    sign = 1.0 if higher else -1.0

    def mirrored(values: dict[str, float]) -> dict[str, float]:
        return {k: sign * v for k, v in values.items()}

    current, reference = constructed_slices(
        sign * 0.571,
        mirrored({"clerical": 0.68, "prof": 0.55, "sales": 0.60}),
        mirrored({"clerical": 0.80, "prof": 0.56, "sales": 0.60}),
        higher,
    )
    # what worst() ranks first, by its documented gap to the reference, is the better slice
    assert current.worst(1, reference=reference)[0].bin == "clerical"
    found = dataclasses.replace(report, slices_current=current, slices_reference=reference)
    assert [s.bin for s in found.worst_slices(10)] == ["prof"]
    assert [s.bin for s in current.weak()] == ["prof"] and current.weak(0) == []
    assert dataclasses.replace(current, higher_is_better=None).weak() == []
    [item] = [i for i in found.summary if i["topic"] == "slices"]
    assert item["text"].startswith(f"Worst slice: seg = prof, accuracy {sign * 0.55:.3g}")
    assert item["status"] == "info"  # within its interval of the overall value
    assert "clerical" not in found.to_markdown().split("## Worst slices")[1]

    current, reference = constructed_slices(
        sign * 0.571,
        mirrored({"clerical": 0.68, "prof": 0.571, "sales": 0.60}),  # a tie is not worse
        mirrored({"clerical": 0.80, "prof": 0.56, "sales": 0.60}),
        higher,
    )
    found = dataclasses.replace(report, slices_current=current, slices_reference=reference)
    assert found.worst_slices(10) == []
    [item] = [i for i in found.summary if i["topic"] == "slices"]
    side = "below" if higher else "above"
    assert item == {
        "topic": "slices",
        "status": "ok",
        "text": f"No slice is worse than overall: accuracy {sign * 0.571:.3g} on all 1,600 "
        f"rows, and no slice of 30 rows or more {side} it.",
    }
    tail = found.to_markdown().split("## Worst slices")[1]
    assert "No slice of 30 rows or more is worse than overall." in tail
    assert "No slice of 30 rows or more is worse than overall." in found.to_html()


def test_report_round_trips_through_json(report: Report) -> None:
    data = json.loads(report.to_json())
    again = Report.from_dict(data)
    assert again.to_dict() == report.to_dict()
    assert again.summary == report.summary


def test_html_is_self_contained_and_holds_no_row(setup, report: Report, tmp_path: Path) -> None:
    _, _, _, prod = setup
    path = report.save_html(tmp_path / "r.html")
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    from evalstore.render.html import plotly_js

    assert plotly_js() in page  # inlined, not fetched
    ours = page.replace(plotly_js(), "")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", ours)
    assert "Plotly.newPlot" in page and page.count("<script>") == 2  # plotly.js, then ours
    for name in ("fig-performance", "fig-drift", "fig-slices"):
        assert f'id="{name}"' in page
    # charts come from aggregates: no prediction id, and the size is plotly.js plus a little
    assert not any(i in page for i in prod.id.iloc[::97])
    assert len(page) - len(plotly_js()) < 400_000
    inline = report._repr_html_()
    assert inline.startswith("<iframe") and "srcdoc=" in inline


def test_markdown_has_the_summary_and_tables(report: Report, tmp_path: Path) -> None:
    text = report.to_markdown()
    assert text.startswith("# clf:")
    assert "## Summary" in text and "**ALERT**" in text
    assert "| x_shift |" in text and "| seg | bad |" in text
    assert report.save_markdown(tmp_path / "r.md").read_text(encoding="utf-8") == text


def test_rows_used_note_names_only_the_binary_rates_shown(report: Report, tmp_path: Path) -> None:
    """The note under the performance table says which rows precision, recall, FNR,
    specificity and FPR count, naming only those the report shows; multiclass and
    regression metrics (and binary accuracy, AUC...) count every row with an actual, so
    their reports have no note."""
    note = (
        "Rows used: the current rows each metric counts (precision: those predicted positive; "
        "recall and FNR: those actually positive; specificity and FPR: those actually "
        "negative; the others: every row with an actual)."
    )
    rates = {"precision", "recall", "fnr", "specificity", "fpr"}
    assert rates <= {r["metric"] for r in report.performance_current.rows}
    assert note in report.to_markdown()
    assert note in report.to_html()
    only_fpr = model_report_of(report, tmp_path, "binary_classification", ["accuracy", "fpr"])
    fpr_note = (
        "Rows used: the current rows each metric counts (FPR: those actually negative; "
        "the others: every row with an actual)."
    )
    assert fpr_note in only_fpr.to_markdown() and fpr_note in only_fpr.to_html()
    no_rate = model_report_of(report, tmp_path, "binary_classification", ["accuracy", "roc_auc"])
    for task in ("multiclass_classification", "regression", None):
        found = model_report_of(report, tmp_path, task) if task is not None else no_rate
        for text in (found.to_markdown(), found.to_html()):
            assert "## Performance" in text or 'id="performance"' in text
            assert "Rows used:" not in text and "those actually" not in text


def model_report_of(
    report: Report, tmp_path: Path, task: str, metrics: list[str] | None = None
) -> Report:
    """A report of a small model of ``task`` (the binary one from this module's frames)."""
    frames = {
        "binary_classification": (lambda s: frame(s, "2024-01-01", 0.0, False, str(s)), SCHEMA),
        "multiclass_classification": (lambda s: multiclass_frame(300, start=s * 1000), MCS),
        "regression": (lambda s: regression_frame(300, start=s * 1000), REGRESSION_SCHEMA),
    }
    make, schema = frames[task]
    with es.connect(tmp_path / f"{task}-{len(metrics or [])}") as store:
        model = store.model(task.split("_")[0], task=task)
        for seed, env in ((1, "training"), (2, "production")):
            model.log(make(seed), schema=schema, version="v1", environment=env)
        return model.report(reference="training", current="production", metrics=metrics)


def test_baselines_are_stored_versioned_and_reused(setup, report: Report) -> None:
    _, model, train, _ = setup
    first = model.create_baseline("train", environment="training")
    second = model.create_baseline("train", environment="training", version="v1")
    assert (first.version, second.version) == (1, 2)
    assert [b["name"] for b in model.baselines()] == ["train"]
    loaded = model.baseline("train", version=1)
    assert loaded.n_rows_ == len(train)
    assert loaded.selector.environment == ("training",)
    assert {n: b.fingerprint for n, b in loaded.binnings_.items()} == {
        n: b.fingerprint for n, b in first.binnings_.items()
    }
    assert (
        Baseline.from_dict(json.loads(json.dumps(loaded.to_dict()))).to_dict() == loaded.to_dict()
    )
    again = model.report(reference="train", current="production")
    assert again.reference["baseline"] == {"name": "train", "version": 2, "moving_days": None}
    assert {c.column: c.value for c in again.drift} == {c.column: c.value for c in report.drift}
    assert values(again.performance_reference) == values(report.performance_reference, True)


def test_moving_baseline_is_the_days_before_the_current(setup) -> None:
    _, model, _, prod = setup
    moving = model.create_baseline("prev", environment="production", moving_days=3)
    assert moving.is_moving and not moving.binnings_
    start = pd.Timestamp("2024-03-07")
    result = model.report(
        reference="prev", current={"environment": "production", "start": "2024-03-07"}
    )
    ts = prod.ts.dt.tz_convert(None)
    expected = ((ts >= start - pd.Timedelta(days=3)) & (ts < start)).sum()
    assert result.reference["rows"] == expected
    assert result.current["rows"] == (ts >= start).sum()
    assert result.current["label"] == "environment=production, from 2024-03-07 00:00"
    until = model.report(reference="training", current={"environment": "production",
                                                        "end": "2024-03-07"})  # fmt: skip
    assert until.current["label"] == "environment=production, until 2024-03-07 00:00"
    assert ".." not in repr(until).splitlines()[0]


def test_open_time_ranges_read_as_words() -> None:
    assert span_text("2024-04-01", "2024-05-01") == "2024-04-01 .. 2024-05-01"
    assert span_text("2024-04-01", None) == "from 2024-04-01"
    assert span_text(None, "2024-05-01") == "until 2024-05-01"
    assert span_text(None, None) == "all time"


def test_report_refusals_say_what_to_do(setup) -> None:
    _, model, _, _ = setup
    with pytest.raises(
        es.ParameterError, match=r"baseline name or an environment.*Did you mean 'training'"
    ):
        model.report(reference="trainign", current="production")
    with pytest.raises(es.ParameterError, match="no rows for environment=production, from 2030"):
        model.report(
            reference="training", current={"environment": "production", "start": "2030-01-01"}
        )
    with pytest.raises(es.ParameterError, match="keys among"):
        model.report(reference="training", current={"env": "production"})
    with pytest.raises(es.ParameterError, match="create_baseline"):
        model.baseline("nope")
    with pytest.raises(es.ParameterError, match="baseline must be fitted on a selection with"):
        model.create_baseline("empty", environment="training", start="2030-01-01")


@pytest.mark.parametrize(
    ("first", "last", "window"),
    [
        ("2024-01-01", "2024-01-02", "hour"),
        ("2024-01-01", "2024-03-01", "day"),
        ("2024-01-01", "2025-01-01", "week"),
        ("2024-01-01", "2027-01-01", "month"),
    ],
)
def test_auto_window(first: str, last: str, window: str) -> None:
    assert auto_window(pd.Timestamp(first), pd.Timestamp(last)) == window


def test_cli_report_and_baseline(tmp_path: Path) -> None:
    path = str(tmp_path / "store")
    with es.connect(path) as store:
        model = store.model("clf", task="binary_classification")
        model.log(
            frame(1, "2024-01-01", 0.0, False, "t"),
            schema=SCHEMA,
            version="v1",
            environment="training",
        )
        model.log(
            frame(2, "2024-03-01", 1.0, True, "p"),
            schema=SCHEMA,
            version="v1",
            environment="production",
        )
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, [*args, "--store", path])
        return result.exit_code, result.output

    out = tmp_path / "r.html"
    code, text = run(
        "report", "-m", "clf", "-r", "training", "-c", "environment=production", "--out", str(out)
    )
    assert code == 0, text
    assert out.exists() and "[alert]" in text and "wrote" in text
    code, text = run("report", "-m", "clf", "-r", "training", "-c", "production")
    assert code == 0 and "## Summary" in text
    code, text = run(
        "report",
        "-m",
        "clf",
        "-r",
        "training",
        "-c",
        "production",
        "--out",
        str(tmp_path / "r.txt"),
    )
    assert code == 1 and ".html, .md or .json" in text
    code, text = run("report", "-m", "clf", "-r", "env=training", "-c", "production")
    assert code == 1 and "key=value" in text
    # a bad flag is named as the flag, not the Python parameter ('window must be None or')
    code, text = run(
        "report", "-m", "clf", "-r", "training", "-c", "production", "--window", "weeks"
    )
    assert code == 1 and "--window must be one of" in text and "None" not in text, text
    assert "Did you mean 'week'?" in text
    # a range without rows: the baseline is named (not 'reference'), advice as a command
    code, text = run(
        "baseline", "create", "cli-base", "-m", "clf", "-e", "training", "--start", "2030-01-01"
    )
    assert code == 1 and "baseline must be fitted on a selection with rows" in text, text
    assert "no rows for environment=training, from 2030" in text
    assert "evalstore models shows what the store holds" in text
    code, text = run(
        "report", "-m", "clf", "-r", "training", "-c", "environment=production,start=2030-01-01"
    )
    assert code == 1 and "evalstore models shows" in text and "model.info()" not in text, text
    code, text = run("baseline", "create", "cli-base", "-m", "clf", "-e", "training")
    assert code == 0 and "version 1" in text, text
    code, text = run("baseline", "list", "-m", "clf", "--json")
    assert code == 0 and json.loads(text)[0]["name"] == "cli-base"
    out = tmp_path / "r.json"
    code, text = run(
        "report", "-m", "clf", "-r", "baseline=cli-base@1", "-c", "production", "--out", str(out)
    )
    assert code == 0, text
    assert json.loads(out.read_text())["reference"]["baseline"]["name"] == "cli-base"


# -- text labels: the positive class is named by the user -------------------------------------

TEXT_SCHEMA = es.Schema(
    prediction_id="id",
    timestamp="ts",
    features=["x"],
    prediction_score="score",
    prediction_label="pred",
    actual_label="y",
)


def text_frame(seed: int, prefix: str) -> pd.DataFrame:
    """A binary model whose labels are "yes"/"no"; ``score`` is the probability of "yes"."""
    rng = np.random.default_rng(seed)
    n = 1500
    x = rng.normal(size=n)
    score = 1 / (1 + np.exp(-1.5 * x))
    return pd.DataFrame(
        {
            "id": [f"{prefix}-{i:05d}" for i in range(n)],
            "ts": pd.Timestamp("2024-05-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 5 * 86400, n), "s"),
            "x": x,
            "score": score,
            # labels decided apart from the score: precision and recall are not symmetric
            "pred": np.where(rng.random(n) < 0.35, "yes", "no"),
            "y": np.where(rng.random(n) < score, "yes", "no"),
        }
    )


@pytest.fixture(scope="module")
def text_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, es.Model]]:
    path = tmp_path_factory.mktemp("text") / "store"
    with es.connect(path) as store:
        model = store.model("text", task="binary_classification")
        model.log(text_frame(1, "t"), schema=TEXT_SCHEMA, version="v1", environment="training")
        model.log(text_frame(2, "p"), schema=TEXT_SCHEMA, version="v1", environment="production")
        yield path, model


def sklearn_values(df: pd.DataFrame, positive: str) -> dict[str, float]:
    y, pred = df.y, df.pred
    return {
        "precision": precision_score(y, pred, pos_label=positive),
        "recall": recall_score(y, pred, pos_label=positive),
        "f1": f1_score(y, pred, pos_label=positive),
        # the score is the probability of the positive class, whichever it is
        "roc_auc": roc_auc_score(y == positive, df.score),
    }


def current_values(report: Report, ref: bool = False) -> dict[str, float]:
    result = report.performance_reference if ref else report.performance_current
    assert result is not None
    return {r["metric"]: r["value"] for r in result.rows}


def test_text_labels_report_is_scikit_learns(text_model) -> None:
    _, model = text_model
    report = model.report("training", "production", positive_class="yes")
    for df, found in (
        (text_frame(2, "p"), current_values(report)),
        (text_frame(1, "t"), current_values(report, ref=True)),
    ):
        expected = sklearn_values(df, "yes")
        for metric in ("precision", "recall", "f1"):
            assert found[metric] == pytest.approx(expected[metric], rel=1e-12), metric
        # binned AUC: within its documented bound of the exact value
        assert found["roc_auc"] == pytest.approx(expected["roc_auc"], abs=1e-4)
    assert report.performance_current.positive_class == "yes"
    assert report.slices_current is not None and report.slices_current.positive_class == "yes"


def test_text_labels_swapping_the_positive_class(text_model) -> None:
    _, model = text_model
    yes = current_values(model.report("training", "production", positive_class="yes"))
    no = current_values(model.report("training", "production", positive_class="no"))
    expected = sklearn_values(text_frame(2, "p"), "no")
    assert no["precision"] == pytest.approx(expected["precision"], rel=1e-12)
    assert no["recall"] == pytest.approx(expected["recall"], rel=1e-12)
    assert no["precision"] != pytest.approx(yes["precision"])
    assert no["recall"] != pytest.approx(yes["recall"])
    assert no["accuracy"] == pytest.approx(yes["accuracy"])  # the same rows are right


def test_text_labels_without_a_positive_class_name_the_call(text_model) -> None:
    _, model = text_model
    with pytest.raises(es.ParameterError, match=r"labels include 'no', 'yes'.*to report\(\)"):
        model.report("training", "production")
    with pytest.raises(es.ParameterError, match=r"to create_baseline\(\), e.g. positive_class="):
        model.create_baseline("no-class", environment="training")


def test_text_labels_baseline_keeps_its_positive_class(text_model) -> None:
    _, model = text_model
    base = model.create_baseline("text-base", environment="training", positive_class="yes")
    assert model.baseline("text-base").positive_class == "yes"
    stored = model.report("text-base", "production")  # the baseline's positive class
    given = model.report("training", "production", positive_class="yes")
    assert current_values(stored) == current_values(given)
    assert current_values(stored, ref=True) == pytest.approx(current_values(given, ref=True))
    # another positive class measures the baseline's rows again
    other = model.report(base, "production", positive_class="no")
    expected = sklearn_values(text_frame(1, "t"), "no")
    assert current_values(other, ref=True)["recall"] == pytest.approx(expected["recall"])


def test_text_labels_cli_positive_class(text_model) -> None:
    path, _ = text_model
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, [*args, "--store", str(path)])
        return result.exit_code, result.output

    code, text = run("report", "-m", "text", "-r", "training", "-c", "production")
    assert code == 1 and "--positive-class yes" in text and "evalstore report" in text, text
    out = path.parent / "text.json"
    code, text = run(
        "report", "-m", "text", "-r", "training", "-c", "production", "--positive-class", "no",
        "--out", str(out),
    )  # fmt: skip
    assert code == 0, text
    found = Report.from_dict(json.loads(out.read_text()))
    expected = sklearn_values(text_frame(2, "p"), "no")
    assert current_values(found)["precision"] == pytest.approx(expected["precision"])
    assert current_values(found)["recall"] == pytest.approx(expected["recall"])
    code, text = run("baseline", "create", "cli-text", "-m", "text", "-e", "training")
    assert code == 1 and "--positive-class" in text and "baseline create" in text, text
    code, text = run(
        "baseline", "create", "cli-text", "-m", "text", "-e", "training", "--positive-class", "yes"
    )
    assert code == 0, text
    code, text = run("report", "-m", "text", "-r", "cli-text", "-c", "production", "-o", str(out))
    assert code == 0, text
    found = Report.from_dict(json.loads(out.read_text()))
    assert found.performance_current.positive_class == "yes"


def test_report_on_a_plain_number_custom_metric(store: es.Store) -> None:
    """A custom metric whose finalize returns a number (the metrics module's pattern) has
    its rows counted: the report ranks its slices and judges a change by its interval."""
    from evalstore.analyses.metrics import Metric, register_metric, unregister_metric

    def flag_rate(higher_is_better: bool | None) -> Metric:
        return Metric(
            key="flag_rate",
            name="Flagged rate",
            tasks=["binary_classification"],
            higher_is_better=higher_is_better,
            needs=["label"],
            aggregates=lambda m: {
                "k": m.table.count(where=m.has_actual & m.predicted_positive),
                "n": m.table.count(where=m.has_actual & m.predicted_positive.notnull()),
            },
            finalize=lambda g: g["k"] / g["n"] if g["n"] else None,
            interval="wilson",
        )

    rng = np.random.default_rng(7)
    model = store.model("flags", task="binary_classification")
    frames = {}
    for env, rate in (("training", 0.49), ("production", 0.707)):
        n = 2000
        frames[env] = pd.DataFrame(
            {
                "id": [f"{env}-{i}" for i in range(n)],
                "seg": rng.choice(["a", "b"], n),
                "pred": rng.random(n) < rate,
                "y": rng.random(n) < 0.5,
            }
        )
        schema = es.Schema(
            prediction_id="id", features=["seg"], prediction_label="pred", actual_label="y"
        )
        model.log(frames[env], schema=schema, version="v1", environment=env)
    prod = frames["production"]
    register_metric(flag_rate(higher_is_better=False))
    try:
        report = model.report(reference="training", current="production", metrics=["flag_rate"])
        topics = {item["topic"]: item for item in report.summary}
        assert topics["performance"]["status"] == "alert", topics["performance"]
        assert "worse beyond chance" in topics["performance"]["text"]
        worst = report.worst_slices(1)[0]
        assert worst.n == int((prod["seg"] == worst.bin).sum())
        assert f"on {worst.n:,} rows" in topics["slices"]["text"]
        # without a direction there is no worst slice, and the summary says so by omission
        register_metric(flag_rate(higher_is_better=None), replace=True)
        report = model.report(reference="training", current="production", metrics=["flag_rate"])
        assert report.worst_slices(1) == []
        assert "slices" not in {item["topic"] for item in report.summary}
        assert report.slices_current is not None and report.slices_current.overall.n == len(prod)
    finally:
        unregister_metric("flag_rate")


def test_a_metric_without_a_direction_is_not_rated_ok(store: es.Store) -> None:
    """mean_error has no better side: the summary reports its change as info, where it
    said 'ok' (as if the change had been tested and found harmless)."""
    model = store.model("reg", task="regression")
    model.log(regression_frame(40), schema=REGRESSION_SCHEMA, version="v1", environment="training")
    current = regression_frame(40, start=40).assign(yhat=lambda d: d["y"] + 7.0)
    model.log(current, schema=REGRESSION_SCHEMA, version="v1", environment="production")
    report = model.report(
        reference="training", current="production", metrics=["mean_error"], progress=False
    )
    (item,) = [s for s in report.summary if s["topic"] == "performance"]
    assert report.primary_metric == "mean_error"
    assert item["status"] == "info" and "not rated" in item["text"], item
    assert "mean_error 7 in the current data" in item["text"]
    rated = model.report(reference="training", current="production", metrics=["mae"])
    (item,) = [s for s in rated.summary if s["topic"] == "performance"]
    assert item["status"] != "info" and "not rated" not in item["text"], item


def test_a_baseline_is_measured_again_on_the_rows_it_was_fitted_on(store: es.Store) -> None:
    """Rows logged after a fixed baseline are not its rows: a report measuring its
    reference again (another positive class) gave the numbers of all 60 training rows
    for a baseline of 40, and said 40 rows."""
    from sklearn.metrics import recall_score

    from conftest import BINARY_SCHEMA, binary_frame

    model = store.model("pinned", task="binary_classification")
    first = binary_frame(40)
    model.log(first, schema=BINARY_SCHEMA, version="v1", environment="training")
    model.log(
        binary_frame(30, start=100), schema=BINARY_SCHEMA, version="v1", environment="production"
    )
    base = model.create_baseline("train", environment="training")
    later = binary_frame(20, start=40).assign(label=0, pred=1)  # would move recall of class 0
    model.log(later, schema=BINARY_SCHEMA, version="v1", environment="training")
    # a later batch that joins no production prediction (the ids are training's: said so)
    with pytest.warns(es.UnmatchedActualsWarning, match="40 predictions in 'training'"):
        model.log_actuals(first[["id"]].assign(y=first["label"]), prediction_id="id", actual="y")

    report = model.report(reference=model.baseline("train", version=1), current="production",
                          positive_class=0, progress=False)  # fmt: skip
    assert report.performance_reference is not None
    (row,) = [r for r in report.performance_reference.rows if r["metric"] == "recall"]
    assert report.reference["rows"] == 40 and row["n"] == int((first["label"] == 0).sum())
    assert row["value"] == pytest.approx(
        recall_score(first["label"], first["pred"], pos_label=0), abs=1e-12
    )
    assert report.reference["selector"]["environment"] == ["training"]
    assert base.rows(model).count() == 40 and model.dataset(environment="training").count() == 60
    # stored and read back, the baseline keeps its batch
    assert model.baseline("train").through_batch == base.through_batch is not None


def _binary(n: int, start: int, *, scored: bool, positives: bool) -> pd.DataFrame:
    rng = np.random.default_rng(start)
    frame = pd.DataFrame({"id": np.arange(start, start + n), "x": rng.random(n)})
    frame["score"] = rng.random(n)
    frame["pred"] = (frame["score"] >= 0.5).astype("int64")
    frame["y"] = (rng.random(n) < 0.5).astype("int64") if positives else 1
    return frame if scored else frame.drop(columns="score")


@pytest.mark.parametrize(
    ("scored", "says"),
    [
        (True, "undefined on the 50 rows it used"),
        (False, "none of its 50 rows with an actual has the scores it needs"),
    ],
)
def test_report_says_why_the_current_has_no_metric(
    store: es.Store, scored: bool, says: str
) -> None:
    """No ROC AUC with every actual known is not "none of its rows has an actual yet"."""
    model = store.model("b", task="binary_classification")
    full = es.Schema(
        prediction_id="id",
        features=["x"],
        prediction_score="score",
        prediction_label="pred",
        actual_label="y",
    )
    model.log(_binary(80, 0, scored=True, positives=True), schema=full, version="v1",
              environment="training")  # fmt: skip
    schema = full if scored else es.Schema(
        prediction_id="id", features=["x"], prediction_label="pred", actual_label="y"
    )  # fmt: skip
    current = _binary(50, 1000, scored=scored, positives=False)
    model.log(current, schema=schema, version="v2" if not scored else "v1",
              environment="production")  # fmt: skip
    report = model.report(reference="training", current="production")
    texts = [item["text"] for item in report.summary if item["topic"] == "performance"]
    assert any(says in text for text in texts), texts
    assert not any("has an actual yet" in text for text in texts), texts


# -- a reference whose ids repeat across versions ------------------------------------------------


@pytest.fixture(scope="module")
def two_versions(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[es.Model, pd.DataFrame]]:
    """Training rows scored by v1 and v2 (the same ids; v2 also scored 300 more), and
    production rows of v2."""
    path = tmp_path_factory.mktemp("twice") / "store"
    train = frame(3, "2024-01-01", 0.0, False, "t")
    with es.connect(path) as store:
        model = store.model("clf", task="binary_classification")
        model.log(train.iloc[300:], schema=SCHEMA, version="v1", environment="training")
        model.log(train, schema=SCHEMA, version="v2", environment="training")
        prod = frame(4, "2024-03-01", 0.5, False, "p")
        model.log(prod, schema=SCHEMA, version="v2", environment="production")
        logged = pd.concat([train.iloc[300:].assign(version="v1"), train.assign(version="v2")])
        yield model, logged


def test_a_reference_scored_by_two_versions_says_each_id_counts_twice(two_versions) -> None:
    model, logged = two_versions
    result = model.report(reference={"environment": "training"}, current="production")
    per_version = logged.groupby("version")["id"].agg(["size", "nunique"])
    assert result.reference["rows"] == len(logged) == 2 * N - 300
    assert result.reference["prediction_ids"] == logged["id"].nunique() == N
    assert result.reference["versions"] == {
        v: {"rows": int(r["size"]), "ids": int(r["nunique"])} for v, r in per_version.iterrows()
    }
    note = (
        f"The reference holds {2 * N - 300:,} rows for {N:,} prediction ids: ids are scored by "
        f"up to 2 versions (v1, v2), so drift significance counts {N - 300:,} of them more than "
        "once; pass reference=dict(..., version='v2') to use one."
    )
    assert result.reference_note == note
    assert {"topic": "reference", "status": "info", "text": note} in result.summary
    assert note in result.to_markdown()
    assert note.replace("'", "&#39;") in result.to_html()
    assert Report.from_dict(json.loads(result.to_json())).reference_note == note
    one = model.report(reference={"environment": "training", "version": "v2"}, current="production")
    assert one.reference["prediction_ids"] == one.reference["rows"] == N
    assert one.reference["versions"] is None and one.reference_note is None
    assert all(item["topic"] != "reference" for item in one.summary)
    assert "prediction ids" not in one.to_markdown()


def test_every_id_in_both_versions_reads_each_counted_twice(tmp_path: Path) -> None:
    train = frame(5, "2024-01-01", 0.0, False, "t").iloc[:600]
    with es.connect(tmp_path / "store") as store:
        model = store.model("clf", task="binary_classification")
        for version in ("v1", "v2"):
            model.log(train, schema=SCHEMA, version=version, environment="training")
        model.log(train, schema=SCHEMA, version="v2", environment="production")
        result = model.report(reference={"environment": "training"}, current="production")
    assert result.reference_note == (
        "The reference holds 1,200 rows for 600 prediction ids: each id is scored by 2 "
        "versions (v1, v2), so drift significance counts each twice; pass "
        "reference=dict(..., version='v2') to use one."
    )


def test_a_baseline_keeps_its_id_counts(two_versions, monkeypatch: pytest.MonkeyPatch) -> None:
    """Counted once when the baseline is fitted: a report on another current window reads
    the stored counts, not the reference rows."""
    model, logged = two_versions
    base = model.create_baseline("both", environment="training")
    assert base.prediction_ids_ == {
        "rows": len(logged),
        "ids": logged["id"].nunique(),
        "versions": {"v1": {"rows": N - 300, "ids": N - 300}, "v2": {"rows": N, "ids": N}},
    }
    assert model.baseline("both").prediction_ids_ == base.prediction_ids_

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the reference's ids were counted again")

    monkeypatch.setattr("evalstore.analyses.report.prediction_ids", refuse)
    for start in ("2024-03-02", "2024-03-05"):
        current = {"environment": "production", "start": start}
        result = model.report(reference="both", current=current)
        assert result.reference["prediction_ids"] == N
        assert result.reference_note is not None and "version='v2'" in result.reference_note


def test_a_reference_of_one_version_counts_no_distinct_ids(
    two_versions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reference of one (environment, version) cannot repeat an id (the store keeps one
    row per pair and id): fitting it runs no count of distinct ids, and its counts equal
    pandas'; one of two versions still counts them."""
    from evalstore.store import duckdb as store_module

    model, logged = two_versions
    sql: list[str] = []
    real = store_module.DuckDBStore._run

    def spy(self: Any, text: str) -> Any:
        sql.append(text)
        return real(self, text)

    monkeypatch.setattr(store_module.DuckDBStore, "_run", spy)
    one = model.create_baseline("v2-only", environment="training", version="v2")
    assert not any("COUNT(DISTINCT" in q.upper() for q in sql)
    v2 = logged[logged["version"] == "v2"]
    assert one.prediction_ids_ == {"rows": len(v2), "ids": v2["id"].nunique(), "versions": None}
    sql.clear()
    both = model.create_baseline("both-versions", environment="training")
    assert any("COUNT(DISTINCT" in q.upper() for q in sql)
    assert both.prediction_ids_ is not None and both.prediction_ids_["ids"] == N


def test_ids_repeated_across_environments_ask_for_one(tmp_path: Path) -> None:
    """One version, the same ids in training and validation: no version to name, so the
    note asks for one environment and version."""
    train = frame(6, "2024-01-01", 0.0, False, "t").iloc[:500]
    with es.connect(tmp_path / "store") as store:
        model = store.model("clf", task="binary_classification")
        for env in ("training", "validation", "production"):
            model.log(train, schema=SCHEMA, version="v1", environment=env)
        both = {"environment": ["training", "validation"]}
        result = model.report(reference=both, current="production")
        alone = model.report(reference="training", current="production")
    assert result.reference["versions"] == {"v1": {"rows": 1000, "ids": 500}}
    assert result.reference_note == (
        "The reference holds 1,000 rows for 500 prediction ids: the same ids are in more than "
        "one environment, so drift significance counts them more than once; select one "
        "environment and version for the reference (reference=dict(environment=..., "
        "version=...))."
    )
    assert alone.reference_note is None and alone.reference["prediction_ids"] == 500


def test_a_worst_slice_shows_its_error_bound(report: Report) -> None:
    """A slice's binned AUC that its score bins may move by 0.001 or more is shown with its
    bound in the summary, the Markdown and the HTML; a smaller bound is not shown."""
    assert report.slices_current is not None
    worst = report.worst_slices(1)[0]

    def bounded(s: Any) -> Any:
        mine = (s.column, s.bin) == (worst.column, worst.bin)
        return dataclasses.replace(s, error_bound=0.21 if mine else 0.0004)

    rows = [bounded(s) for s in report.slices_current.rows]
    found = dataclasses.replace(
        report, slices_current=dataclasses.replace(report.slices_current, rows=rows)
    )
    (said,) = [i["text"] for i in found.summary if i["topic"] == "slices"]
    assert "(within 0.21: its scores share few bins)" in said
    markdown = found.to_markdown().split("## Worst slices")[1]
    assert "± 0.21" in markdown and markdown.count("±") == 1
    html = found.to_html()
    assert html.count("± 0.21") == 1 and "± 0.0004" not in html
    # the fixture's own slices: a bound beside each of its worst slices that has one to show
    shown = [s for s in report.worst_slices(10) if s.shown_bound is not None]
    real = report.to_markdown().split("## Worst slices")[1]
    assert real.count("±") == len(shown)
