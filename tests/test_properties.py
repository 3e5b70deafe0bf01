"""Property tests: random batches round-trip, and random sequences of writes obey the rules.

The rules, as a pure-Python model (``Oracle``):

- one row per (version, environment, prediction_id): the last write wins;
- one actual per (environment, prediction_id): the latest wins, whether sent with
  ``log_actuals`` or inline with ``log`` (a missing inline actual is no actual);
- an actual sent before its prediction attaches when the prediction lands.

Each example gets a fresh store in its own temporary folder: function-scoped
fixtures are not reset between the examples of one hypothesis test.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import evalstore as es
from conftest import frame_equal

# The autouse EVALSTORE_HOME fixture only sets a variable; it needs no reset per example.
SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@contextmanager
def fresh_store() -> Iterator[es.Store]:
    with tempfile.TemporaryDirectory() as tmp, es.connect(Path(tmp) / "store") as store:
        yield store


# -- random frames round-trip -------------------------------------------------------------------

finite_or_missing = st.one_of(
    st.none(),
    st.floats(allow_nan=False, width=64),
)
texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=8)


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 25))
    if draw(st.booleans()):
        ids: list[Any] = draw(st.lists(texts, min_size=n, max_size=n, unique=True))
    else:
        ids = draw(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=n, max_size=n, unique=True))
    column = lambda s: st.lists(s, min_size=n, max_size=n)  # noqa: E731
    return pd.DataFrame(
        {
            "id": pd.Series(ids, dtype=object if isinstance(ids[0], str) else "int64"),
            "num": pd.Series(draw(column(finite_or_missing)), dtype="float64"),
            "count": pd.Series(draw(column(st.integers(-(2**53), 2**53))), dtype="int64"),
            "cat": pd.Series(draw(column(st.one_of(st.none(), texts))), dtype=object),
            "kind": pd.Categorical(draw(column(st.sampled_from(["a", "b", "c"])))),
            "flag": pd.Series(draw(column(st.booleans())), dtype=bool),
            "maybe": pd.Series(draw(column(st.one_of(st.none(), st.booleans()))), dtype=object),
            "when": pd.Series(
                draw(
                    column(
                        st.datetimes(
                            min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1)
                        )
                    )
                ),
                dtype="datetime64[us]",
            ),
            "score": pd.Series(draw(column(st.floats(0, 1))), dtype="float64"),
            "label": pd.Series(draw(column(st.integers(0, 1))), dtype="int64"),
        }
    )


SCHEMA = es.Schema(
    prediction_id="id",
    timestamp="when",
    features=["num", "count", "cat", "kind", "maybe"],
    tags=["flag"],
    prediction_score="score",
    actual_label="label",
    # a column of missing values only has no type to infer
    feature_types={"cat": "categorical", "maybe": "boolean"},
)


@SETTINGS
@given(df=frames())
def test_random_frames_round_trip(df: pd.DataFrame) -> None:
    with fresh_store() as store:
        model = store.model("m", task="binary_classification")
        report = model.log(df, schema=SCHEMA, version="v1", environment="production")
        assert (report.rows, report.replaced, report.actuals) == (len(df), 0, len(df))
        ds = model.dataset()
        frame_equal(ds.to_pandas(), df, SCHEMA)
        assert ds.count() == len(df)


@SETTINGS
@given(df=frames())
def test_random_frames_round_trip_through_arrow(df: pd.DataFrame) -> None:
    import pyarrow as pa

    with fresh_store() as store:
        model = store.model("m", task="binary_classification")
        model.log(pa.Table.from_pandas(df), schema=SCHEMA, version="v1", environment="training")
        frame_equal(model.dataset().to_pandas(), df, SCHEMA)


@st.composite
def iso_texts(draw: st.DrawFn) -> tuple[str, dt.datetime]:
    """ISO 8601 text with any UTC offset (or 'Z'), and the naive UTC time it means."""
    naive = draw(st.datetimes(min_value=dt.datetime(1000, 1, 1), max_value=dt.datetime(9000, 1, 1)))
    if draw(st.booleans()):
        return naive.isoformat() + "Z", naive
    offset = dt.timezone(dt.timedelta(minutes=draw(st.integers(-14 * 60, 14 * 60))))
    aware = naive.replace(tzinfo=offset)
    text = aware.isoformat(sep=draw(st.sampled_from(["T", " "])))
    return text, aware.astimezone(dt.timezone.utc).replace(tzinfo=None)


@SETTINGS
@given(values=st.lists(iso_texts(), min_size=1, max_size=10))
def test_iso_text_timestamps_mean_what_python_says(values: list[tuple[str, dt.datetime]]) -> None:
    df = pd.DataFrame({"id": range(len(values)), "ts": [t for t, _ in values], "yhat": 1.0})
    schema = es.Schema(prediction_id="id", timestamp="ts", prediction_score="yhat")
    with fresh_store() as store:
        model = store.model("m", task="regression")
        model.log(df, schema=schema, version="v1", environment="training")
        got = model.dataset().to_pandas()
    got = got.set_index(got["prediction_id"].astype(int)).sort_index()["timestamp"]
    assert [t.to_pydatetime() for t in got] == [want for _, want in values]


# -- random sequences of writes -------------------------------------------------------------------

VERSIONS = ("v1", "v2")
ENVIRONMENTS = ("training", "production")
IDS = st.lists(st.integers(0, 7), min_size=1, max_size=6, unique=True)


@dataclass
class Oracle:
    """The store's rules in plain Python."""

    rows: dict[tuple[str, str, str], float] = field(default_factory=dict)
    actuals: dict[tuple[str, str], int] = field(default_factory=dict)

    def log(self, version: str, env: str, batch: pd.DataFrame) -> int:
        replaced = 0
        for pid, score in zip(batch["id"], batch["score"], strict=True):
            replaced += (version, env, str(pid)) in self.rows
            self.rows[(version, env, str(pid))] = float(score)
        if "label" in batch.columns:
            self.log_actuals(env, batch.dropna(subset=["label"]))
        return replaced

    def log_actuals(self, env: str, batch: pd.DataFrame) -> int:
        """Returns the ids that had an actual already (replaced, changed or not)."""
        replaced = 0
        for pid, label in zip(batch["id"], batch["label"], strict=True):
            replaced += (env, str(pid)) in self.actuals
            self.actuals[(env, str(pid))] = int(label)
        return replaced

    def matched(self, env: str, batch: pd.DataFrame) -> tuple[int, int]:
        """The predictions of ``env`` with the batch's ids, and those of other environments."""
        ids = {str(pid) for pid in batch["id"]}
        here = sum(1 for (_, e, pid) in self.rows if e == env and pid in ids)
        elsewhere = sum(1 for (_, e, pid) in self.rows if e != env and pid in ids)
        return here, elsewhere

    def state(self) -> set[tuple[str, str, str, float, int | None]]:
        return {
            (version, env, pid, score, self.actuals.get((env, pid)))
            for (version, env, pid), score in self.rows.items()
        }


@st.composite
def operations(draw: st.DrawFn) -> list[tuple[Any, ...]]:
    ops: list[tuple[Any, ...]] = []
    for _ in range(draw(st.integers(1, 8))):
        ids = draw(IDS)
        env = draw(st.sampled_from(ENVIRONMENTS))
        if draw(st.booleans()):
            scores = draw(st.lists(st.integers(0, 4), min_size=len(ids), max_size=len(ids)))
            batch = pd.DataFrame({"id": ids, "score": [s / 4 for s in scores]})
            inline = draw(st.sampled_from(["none", "all", "some"]))
            if inline != "none":
                labels = draw(
                    st.lists(
                        st.integers(0, 1) if inline == "all" else st.none() | st.integers(0, 1),
                        min_size=len(ids),
                        max_size=len(ids),
                    )
                )
                batch["label"] = pd.array(labels, dtype="Int64")
            ops.append(("log", draw(st.sampled_from(VERSIONS)), env, batch))
        else:
            labels = draw(st.lists(st.integers(0, 1), min_size=len(ids), max_size=len(ids)))
            ops.append(("actuals", env, pd.DataFrame({"id": ids, "label": labels})))
    return ops


def read_state(model: es.Model) -> set[tuple[str, str, str, float, int | None]]:
    got = model.dataset().to_pandas()
    for column in ("prediction_score", "actual_label"):  # absent before the first batch brings it
        if column not in got.columns:
            got[column] = None
    actual = [None if pd.isna(v) else int(v) for v in got["actual_label"]]
    return set(
        zip(
            got["version"],
            got["environment"],
            got["prediction_id"],
            got["prediction_score"],
            actual,
            strict=True,
        )
    )


@SETTINGS
@given(ops=operations())
@example(  # an actual before its prediction, then a re-log that replaces the prediction
    ops=[
        ("actuals", "training", pd.DataFrame({"id": [0, 1], "label": [1, 0]})),
        ("log", "v1", "training", pd.DataFrame({"id": [1, 2], "score": [0.5, 0.25]})),
        ("log", "v1", "training", pd.DataFrame({"id": [1], "score": [1.0]})),
    ]
)
def test_any_sequence_of_writes_follows_the_rules(ops: list[tuple[Any, ...]]) -> None:
    oracle = Oracle()
    with fresh_store() as store:
        model = store.model("m", task="binary_classification")
        for op in ops:
            if op[0] == "log":
                _, version, env, batch = op
                schema = es.Schema(
                    prediction_id="id",
                    prediction_score="score",
                    actual_label="label" if "label" in batch.columns else None,
                )
                report = model.log(batch, schema=schema, version=version, environment=env)
                assert report.replaced == oracle.log(version, env, batch)
            else:
                _, env, batch = op
                here, elsewhere = oracle.matched(env, batch)
                with warnings.catch_warnings(record=True) as said:
                    warnings.simplefilter("always", es.UnmatchedActualsWarning)
                    report = model.log_actuals(
                        batch, prediction_id="id", actual="label", environment=env
                    )
                assert report.matched == here
                # a warning exactly when they join nothing here and something elsewhere
                warned = [w for w in said if issubclass(w.category, es.UnmatchedActualsWarning)]
                assert bool(warned) == (here == 0 and elsewhere > 0)
                assert report.actuals == len(batch)
                assert report.replaced == oracle.log_actuals(env, batch)
            assert read_state(model) == oracle.state()
        assert model.dataset().count() == len(oracle.rows)
        with_actuals: dict[str, int] = {}
        for (_, env, pid), _score in oracle.rows.items():
            with_actuals[env] = with_actuals.get(env, 0) + ((env, pid) in oracle.actuals)
        assert model.info().with_actuals == with_actuals
