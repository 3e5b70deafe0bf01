"""The demo: a real model on real data, logged as a team would log it.

Data: Capital Bikeshare, Washington DC, hourly rentals of 2011 (UCI Bike
Sharing dataset, CC BY 4.0; shipped as ``bikeshare_2011.parquet``). A
gradient-boosting regressor is trained on January-March, validated on April,
and "serves" May-December. Training and validation are logged with their
outcomes; production is logged month by month without them, and the actual
rentals arrive later in one delivery of late actuals — as they would.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq

from evalstore.analyses.performance import performance
from evalstore.errors import ParameterError
from evalstore.schema import Schema

if TYPE_CHECKING:
    import pandas as pd

    from evalstore.analyses.report import Report
    from evalstore.dataset import Dataset
    from evalstore.sdk import Store

__all__ = ["MODEL_NAME", "DemoResult", "load_bikeshare", "run_demo"]

MODEL_NAME = "bikeshare-demo"
BASELINE = "jan-mar"
REPORT_FILE = "demo-report.html"
VERSION = "hgb-v1"
START = datetime(2011, 1, 1)
FEATURES = [
    "season",
    "mnth",
    "hr",
    "holiday",
    "weekday",
    "workingday",
    "weathersit",
    "temp",
    "atemp",
    "hum",
    "windspeed",
]
CATEGORICAL = ["mnth", "weathersit"]


@dataclass(frozen=True)
class DemoResult:
    """What the demo logged, and the error it measured per environment and month."""

    rows: dict[str, int]
    with_actuals: dict[str, int]
    mae: dict[str, float]
    mae_by_month: dict[str, float]
    drift: list[tuple[str, float, bool]]
    """(feature, PSI training -> production, drifted), most drifted first"""
    report: Report
    """production against the training baseline"""


def load_bikeshare() -> pd.DataFrame:
    """The shipped 2011 hourly bike-rental data, with a timestamp and a prediction id."""
    path = files("evalstore.demo").joinpath("bikeshare_2011.parquet")
    with path.open("rb") as fh:
        df: pd.DataFrame = pq.read_table(fh).to_pandas()
    df["timestamp"] = [START + timedelta(hours=int(h)) for h in df["t"]]
    df["prediction_id"] = "bikes-2011-" + df["t"].astype(str)
    for col in CATEGORICAL:
        df[col] = df[col].astype("category")  # so the model treats them as categories
    return df


def _train(df: pd.DataFrame) -> Any:
    try:
        from sklearn.ensemble import HistGradientBoostingRegressor
    except ImportError:
        raise ParameterError(
            "demo",
            "run with scikit-learn installed",
            "no scikit-learn",
            "Install it: pip install 'evalstore[demo]'.",
        ) from None
    model = HistGradientBoostingRegressor(categorical_features="from_dtype", random_state=0)
    model.fit(df[FEATURES], df["bikers"])
    return model


def _mae(ds: Dataset, by: str) -> dict[str, float]:
    """Mean absolute error per group, computed in the engine."""
    rows = performance(ds, ["mae"], by=by).rows
    key = (lambda v: v.strftime("%Y-%m")) if by == "month" else str
    return {key(r[by]): float(r["value"]) for r in rows}


def run_demo(store: Store, say: Any = print) -> DemoResult:
    """Train, log training/validation/production, deliver late actuals; return what was measured."""
    df = load_bikeshare()
    month = df["timestamp"].dt.month
    env = month.map(lambda m: "training" if m <= 3 else "validation" if m == 4 else "production")
    say(f"Loaded {len(df):,} hours of 2011 Capital Bikeshare rentals (CC BY 4.0).")
    regressor = _train(df[env == "training"])
    df["predicted_bikers"] = regressor.predict(df[FEATURES]).clip(min=0)
    say("Trained a gradient-boosting regressor on January-March.")

    model = store.model(MODEL_NAME, task="regression")
    with_actuals = Schema(
        prediction_id="prediction_id",
        timestamp="timestamp",
        features=FEATURES,
        prediction_score="predicted_bikers",
        actual_score="bikers",
    )
    for name in ("training", "validation"):
        part = df[env == name]
        report = model.log(part, schema=with_actuals, version=VERSION, environment=name)
        say(
            f"Logged {report.rows:,} {name} inferences with their actuals "
            f"(batch {report.batch_id}, {report.seconds:.2f} s)."
        )
    serving = Schema(
        prediction_id="prediction_id",
        timestamp="timestamp",
        features=FEATURES,
        prediction_score="predicted_bikers",
    )
    production = df[env == "production"]
    for m in sorted(production["timestamp"].dt.month.unique()):
        part = production[production["timestamp"].dt.month == m]
        model.log(part, schema=serving, version=VERSION, environment="production")
    say(f"Logged {len(production):,} production inferences, one batch per month, without actuals.")
    late = production[["prediction_id", "bikers"]]
    report = model.log_actuals(late, prediction_id="prediction_id", actual="bikers")
    say(f"Delivered {report.rows:,} late actuals for production (batch {report.batch_id}).")
    info = model.info()
    base = model.create_baseline(BASELINE, environment="training")
    say(f"Fitted baseline {base.name!r} (version {base.version}) on the training months.")
    checked = model.report(reference=BASELINE, current="production", window="month")
    shift = checked.drift
    return DemoResult(
        rows=info.rows,
        with_actuals=info.with_actuals,
        mae=_mae(model.dataset(), "environment"),
        mae_by_month=_mae(model.dataset(environment="production"), "month"),
        drift=[(c.column, c.value, c.drifted) for c in shift.columns],
        report=checked,
    )
