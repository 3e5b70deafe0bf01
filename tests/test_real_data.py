"""The real datasets of ../shared/data, logged and read back: counts and sums match NumPy's.

These files are not shipped with evalstore; the tests skip when they are absent.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import evalstore as es
from conftest import frame_equal

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

pytestmark = pytest.mark.shared_data


def _read(name: str) -> pd.DataFrame:
    path = DATA / name
    if not path.is_file():
        pytest.skip(f"{path} is absent: the real datasets live in ../shared/data beside the repo")
    return pd.read_parquet(path)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[es.Store]:
    with es.connect(tmp_path_factory.mktemp("real") / "store") as s:
        yield s


# -- census: a real model's predictions, reference vs analysis periods ----------------------------

CENSUS_CATEGORIES = ["SCHL", "MAR", "RELP", "DIS", "ESP", "CIT", "MIG", "MIL", "ANC", "NATIVITY"]
CENSUS_SCHEMA = es.Schema(
    prediction_id="id",
    timestamp="ts",
    features=["AGEP", *CENSUS_CATEGORIES],
    tags=["SEX", "RAC1P"],
    prediction_label="prediction",
    prediction_score="predicted_probability",
    actual_label="employed",
)
ENV_OF_PERIOD = {"reference": "training", "analysis": "production"}


@pytest.fixture(scope="module")
def census(
    store: es.Store, tmp_path_factory: pytest.TempPathFactory
) -> tuple[es.Model, pd.DataFrame]:
    df = _read("census_employment_ma.parquet")
    df["ts"] = pd.to_datetime(df["year"].astype(str) + "-07-01")
    model = store.model("employment", task="binary_classification")
    reference = df[df["period"] == "reference"]
    model.log(reference, schema=CENSUS_SCHEMA, version="v1", environment="training")
    # the analysis period goes through the Parquet reader
    path = tmp_path_factory.mktemp("census") / "analysis.parquet"
    df[df["period"] == "analysis"].to_parquet(path, index=False)
    model.log(path, schema=CENSUS_SCHEMA, version="v1", environment="production")
    return model, df


def test_census_counts_by_environment_and_year(census: tuple[es.Model, pd.DataFrame]) -> None:
    model, df = census
    want = df["period"].map(ENV_OF_PERIOD).value_counts().to_dict()
    assert model.info().rows == want
    assert model.info().with_actuals == want
    for year in range(2015, 2019):
        ds = model.dataset(start=f"{year}-01-01", end=f"{year + 1}-01-01")
        assert ds.count() == int((df["year"] == year).sum()), year


def test_census_sums_and_means_match_numpy(census: tuple[es.Model, pd.DataFrame]) -> None:
    model, df = census
    for period, env in ENV_OF_PERIOD.items():
        part = df[df["period"] == period]
        ds = model.dataset(environment=env)
        t = ds.table
        got = ds.execute(
            t.aggregate(
                age=t.AGEP.sum(),
                score=t.prediction_score.sum(),
                predicted=t.prediction_label.sum(),
                employed=t.actual_label.mean(),
                hits=(t.prediction_label == t.actual_label).sum(),
            )
        ).to_pylist()[0]
        np.testing.assert_allclose(got["age"], part["AGEP"].to_numpy().sum(), rtol=1e-12)
        np.testing.assert_allclose(
            got["score"], part["predicted_probability"].to_numpy().sum(), rtol=1e-12
        )
        assert int(got["predicted"]) == int(part["prediction"].to_numpy().sum())
        np.testing.assert_allclose(got["employed"], part["employed"].to_numpy().mean())
        hits = (part["prediction"].to_numpy() == part["employed"].to_numpy()).sum()
        assert int(got["hits"]) == int(hits)


def test_census_slices_match_pandas(census: tuple[es.Model, pd.DataFrame]) -> None:
    model, df = census
    ds = model.dataset(environment="production", where={"SEX": "2", "DIS": ["1"]})
    mask = (df["period"] == "analysis") & (df["SEX"] == "2") & (df["DIS"] == "1")
    assert ds.count() == int(mask.sum())
    got = ds.to_pandas()
    np.testing.assert_allclose(
        got["prediction_score"].mean(), df.loc[mask, "predicted_probability"].mean()
    )


def test_census_rows_read_back_exactly(census: tuple[es.Model, pd.DataFrame]) -> None:
    model, df = census
    got = model.dataset(environment="training").to_pandas()
    frame_equal(got, df[df["period"] == "reference"], CENSUS_SCHEMA)


# -- bikeshare: regression, hourly -------------------------------------------------------------

BIKES_SCHEMA = es.Schema(
    prediction_id="t",
    timestamp="ts",
    prediction_score="yhat",
    actual_score="bikers",
    excluded=["casual", "registered"],  # they sum to the target
)


@pytest.fixture(scope="module")
def bikes(store: es.Store) -> tuple[es.Model, pd.DataFrame]:
    df = _read("bikeshare.parquet")
    df["ts"] = pd.Timestamp("2011-01-01") + pd.to_timedelta(df["t"], unit="h")
    # a plain model: the mean rentals of the hour of day, fitted on January-April
    train = df["ts"] < pd.Timestamp("2011-05-01")
    df["yhat"] = df["hr"].map(df[train].groupby("hr")["bikers"].mean()).astype("float64")
    model = store.model("bikes", task="regression")
    model.log(df[train], schema=BIKES_SCHEMA, version="hourly-mean", environment="training")
    model.log(df[~train], schema=BIKES_SCHEMA, version="hourly-mean", environment="production")
    return model, df


def test_bikeshare_counts_by_month(bikes: tuple[es.Model, pd.DataFrame]) -> None:
    model, df = bikes
    assert model.dataset().count() == len(df)
    months = pd.date_range("2011-01-01", "2012-01-01", freq="MS")
    for start, end in itertools.pairwise(months):
        want = int(((df["ts"] >= start) & (df["ts"] < end)).sum())
        assert model.dataset(start=start, end=end).count() == want, start


def test_bikeshare_error_matches_numpy(bikes: tuple[es.Model, pd.DataFrame]) -> None:
    model, df = bikes
    for env, part in (
        ("training", df[df["ts"] < "2011-05-01"]),
        ("production", df[df["ts"] >= "2011-05-01"]),
    ):
        ds = model.dataset(environment=env)
        t = ds.table
        got = ds.execute(
            t.aggregate(
                mae=(t.prediction_score - t.actual_score).abs().mean(),
                bikers=t.actual_score.sum(),
                temp=t.temp.mean(),
            )
        ).to_pylist()[0]
        err = np.abs(part["yhat"].to_numpy() - part["bikers"].to_numpy()).mean()
        np.testing.assert_allclose(got["mae"], err, rtol=1e-12)
        np.testing.assert_allclose(got["bikers"], part["bikers"].to_numpy().sum(), rtol=1e-12)
        np.testing.assert_allclose(got["temp"], part["temp"].to_numpy().mean(), rtol=1e-12)


def test_bikeshare_columns(bikes: tuple[es.Model, pd.DataFrame]) -> None:
    model, df = bikes
    columns = model.dataset().columns
    assert "casual" not in columns and "registered" not in columns
    got = model.dataset().to_pandas()
    frame_equal(got, df, BIKES_SCHEMA)
    assert got["mnth"].dtype != np.float64  # a pandas category of text: categorical


# -- adult: the fairness benchmark ---------------------------------------------------------------

ADULT_SCHEMA = es.Schema(
    prediction_id="row",
    prediction_score="score",
    actual_label="income_gt_50k",
    tags=["sex", "race"],
    excluded=["income_per_year"],  # the target as text
)


@pytest.fixture(scope="module")
def adult(store: es.Store) -> tuple[es.Model, pd.DataFrame]:
    df = _read("adult.parquet")
    df["row"] = np.arange(len(df))
    # a fixed score, so that the test needs no fitting: education and hours, squashed
    z = (df["education-num"] - 10) / 2 + (df["hours_per_week"] - 40) / 20
    df["score"] = 1 / (1 + np.exp(-z.to_numpy()))
    model = store.model("adult", task="binary_classification")
    cut = len(df) * 2 // 3
    model.log(df.iloc[:cut], schema=ADULT_SCHEMA, version="v1", environment="training")
    model.log(df.iloc[cut:], schema=ADULT_SCHEMA, version="v1", environment="validation")
    return model, df


def test_adult_base_rates_by_sex(adult: tuple[es.Model, pd.DataFrame]) -> None:
    model, df = adult
    ds = model.dataset()
    t = ds.table
    got = ds.execute(t.group_by("sex").aggregate(rate=t.actual_label.mean(), n=t.count()))
    got = {r["sex"]: (r["rate"], r["n"]) for r in got.to_pylist()}
    for sex, part in df.groupby("sex"):
        rate, n = got[sex]
        assert n == len(part)
        np.testing.assert_allclose(rate, part["income_gt_50k"].to_numpy().mean(), rtol=1e-12)
    assert abs(got["Male"][0] - 0.30) < 0.01 and abs(got["Female"][0] - 0.11) < 0.01


def test_adult_missing_categories_and_sums(adult: tuple[es.Model, pd.DataFrame]) -> None:
    model, df = adult
    got = model.dataset().to_pandas()
    assert len(got) == len(df)
    assert int(got["workclass"].isna().sum()) == int(df["workclass"].isna().sum()) > 0
    for column in ("age", "fnlwgt", "capital_gain", "education-num"):
        np.testing.assert_allclose(got[column].sum(), df[column].to_numpy().sum(), rtol=1e-12)
    assert model.info().rows == {
        "training": len(df) * 2 // 3,
        "validation": len(df) - len(df) * 2 // 3,
    }
    frame_equal(got, df, ADULT_SCHEMA)
