"""The messages of ``evalstore.errors``: what a user reads in a shell, a notebook or over HTTP."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

import pandas as pd
import pytest

import evalstore as es
from evalstore.errors import ParameterError


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (datetime(2024, 1, 1), "'2024-01-01T00:00:00'"),
        (datetime(2024, 1, 1, 12, 30, 5, 10), "'2024-01-01T12:30:05.000010'"),
        (pd.Timestamp("2024-01-01 06:00"), "'2024-01-01T06:00:00'"),
        (date(2024, 1, 1), "'2024-01-01'"),
        (time(6, 30), "'06:30:00'"),
        ("text", "'text'"),
        (7, "7"),
    ],
)
def test_parameter_errors_show_datetimes_as_iso_text(value: object, shown: str) -> None:
    error = ParameterError("start", "a date", value)
    assert str(error) == f"start must be a date; got {shown}."
    assert error.got is value  # the attribute keeps the value itself


def test_an_empty_time_range_names_both_ends_in_iso(tmp_path: Path) -> None:
    with es.connect(tmp_path / "s") as store:
        model = store.model("m", task="regression")
        with pytest.raises(ParameterError) as info:
            model.dataset(start="2024-02-01", end=datetime(2024, 1, 1))
    assert str(info.value) == (
        "end must be later than start (2024-02-01T00:00:00); got '2024-01-01T00:00:00'."
    )


def test_every_window_parameter_suggests_the_window_meant(tmp_path: Path) -> None:
    from evalstore.analyses.drift import drift_over_time
    from evalstore.analyses.performance import performance
    from evalstore.analyses.quality import quality

    frame = pd.DataFrame({"id": ["a", "b"], "ts": pd.to_datetime(["2024-01-05"] * 2),
                          "x": [1.0, 2.0], "score": [0.2, 0.9], "y": [0, 1]})  # fmt: skip
    schema = es.Schema(prediction_id="id", timestamp="ts", features=["x"],
                       prediction_score="score", actual_label="y")  # fmt: skip
    with es.connect(tmp_path / "s") as store:
        model = store.model("m", task="binary_classification")
        model.log(frame, schema=schema, version="v1", environment="production")
        ds = model.dataset()
        mistakes = {
            "report window": lambda: model.report("production", "production", window="monthly"),
            "performance by": lambda: performance(ds, by="monthly"),
            "drift_over_time by": lambda: drift_over_time(ds, ds, by="monthly"),
            "model.drift_over_time by": lambda: model.drift_over_time(
                "production", "production", by="monthly"
            ),
            "quality by": lambda: quality(ds, by="monthly"),
        }
        for what, mistake in mistakes.items():
            with pytest.raises(ParameterError, match="got 'monthly'") as info:
                mistake()
            assert str(info.value).endswith("Did you mean 'month'?"), what


def test_a_baseline_version_that_does_not_exist_lists_the_versions(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from evalstore.cli import app

    path = tmp_path / "s"
    with es.connect(path) as store:
        model = store.model("m", task="regression")
        frame = pd.DataFrame({"id": range(50), "x": [float(i) for i in range(50)], "y": 1.0})
        schema = es.Schema(prediction_id="id", features=["x"], prediction_score="y")
        model.log(frame, schema=schema, version="v1", environment="training")
        model.create_baseline("ref", environment="training")
        model.create_baseline("ref", environment="training")
        with pytest.raises(ParameterError) as info:
            model.baseline("ref", version=7)
        # it said: "baseline must be a baseline of model 'm' (ref); got 'ref version 7'.
        # Did you mean 'ref'?", with two spaces before the suggestion of the same name
        expected = (
            "version must be a version of baseline 'ref'; got 7. Baseline 'ref' has no "
            "version 7; its versions are 1, 2."
        )
        assert str(info.value) == expected
        assert (info.value.name, info.value.got) == ("version", 7)
        with pytest.raises(ParameterError) as info:
            model.baseline("rfe")
        assert str(info.value) == (
            "baseline must be a baseline of model 'm' (ref); got 'rfe'. Did you mean 'ref'? "
            "Create one with model.create_baseline(name, environment=...)."
        )
    result = CliRunner().invoke(
        app,
        ["report", "-m", "m", "-r", "baseline=ref@7", "-c", "training", "--store", str(path)],
    )
    assert result.exit_code == 1, result.output
    assert expected in " ".join(result.output.split()), result.output


def test_a_long_value_is_cut_in_the_message() -> None:
    """A value of thousands of characters (a CSV passed as a schema) is shown cut, with its
    length, so that the message stays readable; the error keeps the whole value."""
    from evalstore.errors import SHOWN

    whole = "id,age,score\n" + "1,23,0.5\n" * 500
    err = es.ParameterError("schema", "a mapping of roles to columns", whole)
    assert err.got == whole
    assert len(str(err)) < SHOWN + 100
    assert f"... ({len(repr(whole)):,} characters)" in str(err)
    short = es.ParameterError("schema", "a mapping", "x.csv")
    assert str(short) == "schema must be a mapping; got 'x.csv'."
