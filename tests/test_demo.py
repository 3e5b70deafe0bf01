"""The demo: real data, a real model, late actuals, and numbers that check out."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import mean_absolute_error

import evalstore as es
from evalstore.demo import MODEL_NAME, load_bikeshare, run_demo


def test_demo_logs_everything_and_its_error_matches_sklearn(tmp_path) -> None:
    messages: list[str] = []
    with es.connect(tmp_path / "store") as store:
        result = run_demo(store, say=messages.append)
        model = store.model(MODEL_NAME)
        df = model.dataset().to_pandas()
        batches = model.batches()
    data = load_bikeshare()
    assert len(df) == len(data) == 8645
    assert result.rows == {"training": 2067, "validation": 719, "production": 5859}
    assert result.with_actuals == result.rows  # the late actuals all attached
    assert [b["kind"] for b in batches].count("actuals") == 1
    for env, mae in result.mae.items():
        part = df[df["environment"] == env]
        expected = mean_absolute_error(part["actual_score"], part["prediction_score"])
        assert np.isclose(mae, expected, rtol=1e-12), env
    prod = df[df["environment"] == "production"]
    for month, mae in result.mae_by_month.items():
        part = prod[prod["timestamp"].dt.strftime("%Y-%m") == month]
        assert np.isclose(mae, mean_absolute_error(part["actual_score"], part["prediction_score"]))
    # a model trained on winter serves summer worse than it validated on April
    assert max(result.mae_by_month.values()) > result.mae["validation"]
    # ... because the weather moved: season and temperature drift, the hour of day does not
    drifted = {column for column, _, moved in result.drift if moved}
    assert {"season", "temp", "mnth"} <= drifted
    assert "hr" not in drifted and "weekday" not in drifted
    psi = dict((c, v) for c, v, _ in result.drift)
    assert psi["season"] > 1 and psi["hr"] < 0.1
    assert any("late actuals" in m for m in messages)


def test_demo_is_idempotent(tmp_path) -> None:
    with es.connect(tmp_path / "store") as store:
        run_demo(store, say=lambda _: None)
        again = run_demo(store, say=lambda _: None)
        assert store.model(MODEL_NAME).dataset().count() == 8645
    assert again.rows["production"] == 5859


def test_demo_command_without_serving(tmp_path) -> None:
    """``evalstore demo --no-serve`` loads and returns (``evalstore demo`` then serves the web
    UI: test_ui_browser.py drives it)."""
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-m", "evalstore", "demo", "--no-serve", "--store", str(tmp_path / "s")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Delivered 5,859 late actuals for production" in r.stdout
    assert "web UI" not in r.stdout and "Serving" not in r.stdout
