"""A report's refusals name the side at fault: ``reference`` or ``current`` in Python, the flag
``--reference`` or ``--current`` in the shell (never a flag the command does not have), and
what to do next; the sides take the selection text of the command line and the REST API."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import evalstore as es
from evalstore.cli import _for_the_shell, app

SCHEMA = es.Schema(
    prediction_id="id", timestamp="ts", features=["x"], prediction_score="score", actual_label="y"
)


def rows(seed: int, start: str, prefix: str, n: int = 600) -> pd.DataFrame:
    """A binary model's rows over 10 days from ``start``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    score = 1 / (1 + np.exp(-2 * x))
    return pd.DataFrame(
        {
            "id": [f"{prefix}-{i:05d}" for i in range(n)],
            "ts": pd.Timestamp(start) + pd.to_timedelta(rng.integers(0, 10 * 86400, n), "s"),
            "x": x,
            "score": score,
            "y": rng.random(n) < score,
        }
    )


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, es.Model]]:
    path = tmp_path_factory.mktemp("report-errors") / "store"
    with es.connect(path) as store:
        model = store.model("clf", task="binary_classification")
        model.log(rows(1, "2024-01-01", "t"), schema=SCHEMA, version="v1", environment="training")
        model.log(rows(2, "2024-03-01", "p"), schema=SCHEMA, version="v1", environment="production")
        model.create_baseline("train", environment="training")
        model.create_baseline("train", environment="training")
        model.create_baseline("last-7", environment="production", moving_days=7)
        yield path, model


def cli(path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, [*args, "--store", str(path)])
    return result.exit_code, result.output


# -- Python: the argument at fault is named ----------------------------------------------------


def test_a_bad_part_of_a_side_names_the_side(stored) -> None:
    _, model = stored
    with pytest.raises(es.ParameterError) as info:
        model.report("train", {"environment": "prod"})
    assert str(info.value).startswith("current.environment must be one of ")
    assert "Did you mean 'production'?" in str(info.value)
    assert info.value.name == "current.environment" and info.value.got == "prod"
    with pytest.raises(es.ParameterError, match=r"^current\.start must be an ISO 8601"):
        model.report("train", {"environment": "production", "start": "2024-13-01"})
    with pytest.raises(es.ParameterError) as info:
        model.report("baseline=train@7", "production")
    assert str(info.value) == (
        "reference.version must be a version of baseline 'train'; got 7. Baseline 'train' "
        "has no version 7; its versions are 1, 2."
    )
    # the side itself at fault is named once, not 'current.current'
    with pytest.raises(es.ParameterError, match=r"^current must be a selection with rows"):
        model.report("train", {"environment": "production", "start": "2030-01-01"})
    with pytest.raises(es.ParameterError, match=r"^reference must be a selection with rows"):
        model.report({"environment": "production", "start": "2030-01-01"}, "production")


def test_sides_take_the_selection_text(stored) -> None:
    _, model = stored
    report = model.report("baseline=train@1", "environment=production,start=2024-03-05")
    assert report.reference["baseline"]["name"] == "train"
    assert report.reference["baseline"]["version"] == 1
    assert report.current["label"] == "environment=production, from 2024-03-05 00:00"
    latest = model.report("baseline=train", '{"environment": "production"}')
    assert latest.reference["baseline"]["version"] == 2
    # a version without baseline=: the message says how to write one
    with pytest.raises(es.ParameterError, match="baseline=NAME@VERSION") as info:
        model.report("train@1", "production")
    assert info.value.name == "reference"
    with pytest.raises(es.ParameterError, match=r"^current must be rows .*not a baseline"):
        model.report("train", "baseline=train")


def test_a_moving_baseline_without_rows_says_why_and_what_to_do(stored) -> None:
    _, model = stored
    with pytest.raises(es.ParameterError) as info:
        model.report("last-7", "production")
    message = str(info.value)
    assert info.value.name == "reference"
    assert "Moving baseline 'last-7' is the 7 days before the current data's first row" in message
    assert "those days hold no rows of environment=production" in message
    assert "Give current a later start (start=2024-03-08 or later)" in message
    assert "fixed baseline" in message and "model.create_baseline(" in message
    assert "--" not in message  # no flag of the command line in Python
    # the start it advises works
    later = model.report("last-7", {"environment": "production", "start": "2024-03-08"})
    assert later.reference["rows"] > 0


def test_report_is_exported() -> None:
    from evalstore.analyses.report import Report

    assert es.Report is Report
    assert "Report" in es.__all__


# -- the shell: the flag at fault is named -----------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "current", "expected"),
    [
        (
            "baseline=train@7",
            "production",
            "error: --reference: version must be a version of baseline 'train'; got 7.",
        ),
        (
            "train",
            "environment=prod",
            "error: --current: environment must be one of ['training', 'validation', "
            "'production']; got 'prod'. Did you mean 'production'?",
        ),
        (
            "train",
            "environment=production,start=2024-13-01",
            "error: --current: start must be an ISO 8601 date or time; got '2024-13-01'.",
        ),
        (
            "train",
            "environment=production,start=2030-01-01",
            "error: --current must be a selection with rows;",
        ),
        (
            "environment=production,start=2030-01-01",
            "production",
            "error: --reference must be a selection with rows;",
        ),
        ("trian", "production", "error: --reference must be a baseline name or an environment"),
        ("train", "baseline=train", "error: --current must be rows"),
    ],
)
def test_cli_names_the_flag_at_fault(stored, reference: str, current: str, expected: str) -> None:
    path, _ = stored
    code, text = cli(path, "report", "-m", "clf", "-r", reference, "-c", current)
    assert code == 1 and text.startswith(expected), text
    # the report command has no --version, --environment or --start
    for flag in ("--version", "--environment", "--start"):
        assert flag not in text, text


def test_cli_moving_baseline_without_rows(stored) -> None:
    path, _ = stored
    code, text = cli(path, "report", "-m", "clf", "-r", "last-7", "-c", "production")
    assert code == 1, text
    assert text.startswith("error: --reference must be a baseline with rows to compare against")
    assert "Moving baseline 'last-7' is the 7 days before the current data's first row" in text
    assert "Give --current a later start (start=2024-03-08 or later)" in text
    assert "evalstore baseline create NAME" in text and "model.create_baseline" not in text


def test_cli_names_a_parameter_as_a_flag_only_when_the_command_has_it() -> None:
    exc = es.ParameterError("version", "a version of baseline 'b'", 7)
    assert _for_the_shell(exc, {"--version"}).startswith("--version must be")
    assert _for_the_shell(exc, {"--reference"}).startswith("version must be")
    part = exc.within("reference")
    assert _for_the_shell(part, {"--reference"}).startswith("--reference: version must be")
    assert _for_the_shell(part, {"--version"}).startswith("reference.version must be")


def test_cli_writes_a_small_file_size_in_kilobytes(stored, tmp_path: Path) -> None:
    path, _ = stored
    out = tmp_path / "r.md"
    code, text = cli(path, "report", "-m", "clf", "-r", "train", "-c", "production", "-o", str(out))
    assert code == 0, text
    assert "0.0 MB" not in text and re.search(r"wrote .*r\.md \(\d+\.\d KiB\)", text), text
