"""Opening stores: where they live, what survives a reopen, the metadata database, threads."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
import sqlalchemy as sa

import evalstore as es
from conftest import (
    BINARY_SCHEMA,
    REGRESSION_SCHEMA,
    binary_frame,
    frame_equal,
    regression_frame,
    snapshot,
)


def test_connect_without_a_path_uses_evalstore_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVALSTORE_HOME", str(tmp_path / "home"))
    with es.connect() as store:
        assert store.location.home == (tmp_path / "home").resolve()
        assert store.info().data_file == str((tmp_path / "home" / "evalstore.duckdb").resolve())
    assert (tmp_path / "home" / "evalstore.duckdb").is_file()
    assert (tmp_path / "home" / "metadata.sqlite").is_file()


def test_connect_to_a_duckdb_file(tmp_path: Path) -> None:
    with es.connect(tmp_path / "evals.duckdb") as store:
        store.model("m", task="regression")
        assert store.location.home == tmp_path.resolve()
        assert store.location.data_file == (tmp_path / "evals.duckdb").resolve()
    assert (tmp_path / "evals.metadata.sqlite").is_file()
    # the default data file of a folder names that folder's store
    with es.connect(tmp_path / "f" / "evalstore.duckdb") as store:
        store.model("n", task="regression")
    with es.connect(tmp_path / "f") as store:
        assert [m.name for m in store.models()] == ["n"]


def test_connect_expands_user_and_accepts_str(tmp_path: Path) -> None:
    with es.connect(str(tmp_path / "s")) as store:
        assert repr(store) == f"Store({str((tmp_path / 's').resolve())!r})"


def test_everything_survives_a_reopen(tmp_path: Path) -> None:
    df = binary_frame(12)
    with es.connect(tmp_path / "s") as store:
        model = store.model("m", task="binary_classification")
        model.log(df, schema=BINARY_SCHEMA, version="v2", environment="production")
        model.log(df, schema=BINARY_SCHEMA, version="v1", environment="training")
        model.log_actuals(pd.DataFrame({"id": [0], "y": [0]}), prediction_id="id", actual="y")
        before = (model.batches(), model.info(), store.info().rows)
    with es.connect(tmp_path / "s") as store:
        model = store.model("m")
        assert model.task is es.Task.BINARY_CLASSIFICATION
        assert (model.batches(), model.info(), store.info().rows) == before
        assert model.versions() == ["v2", "v1"]  # oldest first, not sorted
        frame_equal(model.dataset(environment="training").to_pandas(), df, BINARY_SCHEMA)
        got = model.dataset(environment="production").to_pandas().set_index("prediction_id")
        assert got.loc["0", "actual_label"] == 0
        # the next batch ids continue after the reopen
        report = model.log(df, schema=BINARY_SCHEMA, version="v3", environment="production")
        assert report.batch_id > max(b["batch_id"] for b in before[0])


def test_models_are_listed_by_name(store: es.Store) -> None:
    store.model("zeta", task="regression")
    store.model("alpha", task="multiclass_classification")
    infos = store.models()
    assert [(m.name, m.task) for m in infos] == [
        ("alpha", "multiclass_classification"),
        ("zeta", "regression"),
    ]
    assert infos[0].to_dict()["versions"] == []
    assert store.info().models == 2
    assert repr(store.model("zeta")) == "Model(name='zeta', task='regression')"


def test_a_model_is_created_once(store: es.Store) -> None:
    first = store.model("m", task="regression")
    again = store.model("m", task=es.Task.REGRESSION)
    first.log(regression_frame(3), schema=REGRESSION_SCHEMA, version="v1", environment="training")
    assert again.dataset().count() == 3
    assert len(store.models()) == 1


def test_model_names_are_case_sensitive(store: es.Store) -> None:
    upper = store.model("Bikes", task="regression")
    lower = store.model("bikes", task="binary_classification")
    upper.log(regression_frame(3), schema=REGRESSION_SCHEMA, version="v1", environment="training")
    assert lower.dataset().count() == 0
    assert upper.dataset().count() == 3


def test_two_stores_can_share_one_metadata_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared-metadata.sqlite'}"
    with (
        es.connect(tmp_path / "a", metadata_url=url) as a,
        es.connect(tmp_path / "b", metadata_url=url) as b,
    ):
        a.model("m", task="binary_classification").log(
            binary_frame(4), schema=BINARY_SCHEMA, version="v1", environment="production"
        )
        b.model("m", task="regression").log(
            regression_frame(7), schema=REGRESSION_SCHEMA, version="v9", environment="training"
        )
        assert a.info().metadata_url == b.info().metadata_url == url
    with es.connect(tmp_path / "a", metadata_url=url) as a:
        assert a.model("m").task is es.Task.BINARY_CLASSIFICATION
        assert a.model("m").info().rows == {"production": 4}
    with es.connect(tmp_path / "b", metadata_url=url) as b:
        assert b.model("m").task is es.Task.REGRESSION
        assert b.model("m").versions() == ["v9"]
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT store_id, name, task FROM models")).all()
    engine.dispose()
    assert sorted(r[2] for r in rows) == ["binary_classification", "regression"]
    assert len({r[0] for r in rows}) == 2


def test_metadata_url_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'env-metadata.sqlite'}"
    monkeypatch.setenv("EVALSTORE_METADATA_URL", url)
    with es.connect(tmp_path / "s") as store:
        store.model("m", task="regression")
        assert store.info().metadata_url == url
    assert (tmp_path / "env-metadata.sqlite").is_file()
    assert not (tmp_path / "s" / "metadata.sqlite").exists()


def test_the_store_owns_its_models_not_the_metadata(tmp_path: Path) -> None:
    """Losing the metadata database loses no model: it is rebuilt from the store."""
    with es.connect(tmp_path / "s") as store:
        store.model("m", task="regression").log(
            regression_frame(5), schema=REGRESSION_SCHEMA, version="v1", environment="training"
        )
    (tmp_path / "s" / "metadata.sqlite").unlink()
    with es.connect(tmp_path / "s") as store:
        assert [m.name for m in store.models()] == ["m"]
        assert store.model("m").dataset().count() == 5
    assert (tmp_path / "s" / "metadata.sqlite").is_file()


def test_a_bad_metadata_url_releases_the_store(tmp_path: Path) -> None:
    with pytest.raises(Exception):  # noqa: B017 - the type is the subject of the next test
        es.connect(tmp_path / "s", metadata_url=f"sqlite:///{tmp_path / 'no' / 'dir' / 'm.db'}")
    with es.connect(tmp_path / "s") as store:  # the DuckDB file was closed again
        store.model("m", task="regression")


@pytest.mark.parametrize("name", ["not a url", "missing folder"])
def test_a_bad_metadata_url_is_a_parameter_error(tmp_path: Path, name: str) -> None:
    url = "not a url" if name == "not a url" else f"sqlite:///{tmp_path / 'no' / 'm.db'}"
    try:
        es.connect(tmp_path / "s", metadata_url=url)
    except es.ParameterError as exc:
        assert "metadata" in str(exc)
    except Exception as exc:
        raise AssertionError(f"{type(exc).__module__}.{type(exc).__name__}: {exc}") from exc
    else:
        pytest.fail("a bad metadata URL was accepted")


def test_threads_share_one_store(store: es.Store) -> None:
    """One store per process, used from many threads: every batch commits, none is lost."""
    models = [store.model(f"m{i}", task="regression") for i in range(3)]
    errors: list[BaseException] = []

    def work(model: es.Model) -> None:
        try:
            for k in range(5):
                model.log(
                    regression_frame(10, start=k * 10),
                    schema=REGRESSION_SCHEMA,
                    version="v1",
                    environment="training",
                )
                model.dataset().count()
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(m,)) for m in models]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    for model in models:
        frame_equal(model.dataset().to_pandas(), regression_frame(50), REGRESSION_SCHEMA)
        assert len(model.batches()) == 5


def test_the_catalog_is_read_once_per_commit(
    store: es.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Models, batches, pairs and volumes are kept until the next commit: read again, they
    cost no query; after a batch or a new model they hold it."""
    engine = store._engine
    model = store.model("m", task="binary_classification")
    model.log(binary_frame(6), schema=BINARY_SCHEMA, version="v1", environment="training")
    mid = model._record.id

    def read() -> tuple[object, ...]:
        return (
            engine.pairs(mid),
            engine.volumes(mid),
            [b["batch_id"] for b in engine.batches(mid)],
            [m.name for m in engine.models()],
            engine.get_model("m"),
        )

    before = read()
    fetched: list[str] = []
    real_fetch = engine._fetch
    monkeypatch.setattr(engine, "_fetch", lambda q, p=None: fetched.append(q) or real_fetch(q, p))
    assert read() == before
    assert fetched == []  # all kept
    model.log(
        binary_frame(4, start=6), schema=BINARY_SCHEMA, version="v2", environment="production"
    )
    store.model("n", task="regression")
    pairs, volumes, batches, names, _ = read()
    assert pairs == [("production", "v2"), ("training", "v1")]
    assert volumes[("production", "v2")][0] == 4
    assert len(batches) == 2
    assert names == ["m", "n"]
    assert fetched  # read again after the commits
    # inside a snapshot the catalog is read as the snapshot sees it, never from what is kept
    fetched.clear()
    with engine.snapshot():
        assert engine.pairs(mid) == pairs
    assert fetched


def test_progress_bar_on_request(store: es.Store, capsys: pytest.CaptureFixture[str]) -> None:
    model = store.model("m", task="regression")
    model.log(
        regression_frame(5),
        schema=REGRESSION_SCHEMA,
        version="v1",
        environment="training",
        progress=True,
    )
    model.log_actuals(
        pd.DataFrame({"id": [1], "y": [2.0]}),
        prediction_id="id",
        actual="y",
        environment="training",
        progress=True,
    )
    captured = capsys.readouterr()
    assert "logging m v1" in captured.out + captured.err
    assert "actuals for m" in captured.out + captured.err
    model.log(regression_frame(5), schema=REGRESSION_SCHEMA, version="v1", environment="training")
    captured = capsys.readouterr()
    assert captured.out == captured.err == ""  # not a terminal: no bar unless asked


def test_batch_report(store: es.Store) -> None:
    model = store.model("m", task="regression")
    report = model.log(
        regression_frame(5), schema=REGRESSION_SCHEMA, version="v1", environment="training"
    )
    assert (report.rows, report.replaced, report.actuals) == (5, 0, 5)
    assert report.seconds > 0
    batch = model.batches()[-1]
    assert batch["batch_id"] == report.batch_id
    assert (batch["kind"], batch["version"], batch["environment"]) == (
        "inferences",
        "v1",
        "training",
    )
    assert (batch["rows"], batch["replaced"], batch["actuals"], batch["source"]) == (
        5,
        0,
        5,
        "DataFrame",
    )
    late = model.log_actuals(
        pd.DataFrame({"id": [1, 2], "y": [2.0, 3.0]}),
        prediction_id="id",
        actual="y",
        environment="training",
    )
    batch = model.batches()[-1]
    assert (batch["kind"], batch["version"], batch["rows"], batch["actuals"]) == (
        "actuals",
        None,
        2,
        2,
    )
    assert late.batch_id == batch["batch_id"]


# -- write memory ----------------------------------------------------------------------------------


@pytest.mark.parametrize("memory", ["64MB", "0.5GB", "2GiB", "512 MB"])
def test_write_memory_sizes(tmp_path: Path, memory: str) -> None:
    df = regression_frame(100)
    with es.connect(tmp_path / "s", write_memory=memory) as store:
        model = store.model("m", task="regression")
        model.log(df, schema=REGRESSION_SCHEMA, version="v1", environment="training")
        frame_equal(model.dataset().to_pandas(), df, REGRESSION_SCHEMA)


@pytest.mark.parametrize("memory", ["lots", "512", "-1GB", "1 TB of RAM"])
def test_bad_write_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, memory: str) -> None:
    with pytest.raises(es.ParameterError, match="write_memory must be a size such as '512MB'"):
        es.connect(tmp_path / "s", write_memory=memory)
    monkeypatch.setenv("EVALSTORE_WRITE_MEMORY", memory)
    with pytest.raises(es.ParameterError, match="write_memory"):
        es.connect(tmp_path / "s")
    monkeypatch.delenv("EVALSTORE_WRITE_MEMORY")
    with es.connect(tmp_path / "s") as store:  # nothing was left open
        store.model("m", task="regression")


MILLION_SCHEMA = es.Schema(
    prediction_id="id", features=["temp", "season"], prediction_score="yhat", actual_score="y"
)


def _million_rows() -> pd.DataFrame:
    n = 1_000_000
    return pd.DataFrame({"id": range(n), "temp": 1.5, "season": "s", "yhat": 2.0, "y": 1.0})


@pytest.mark.parametrize("memory", ["1MB", "16MB"])
def test_too_little_write_memory_writes_nothing(tmp_path: Path, memory: str) -> None:
    df = _million_rows()
    with es.connect(tmp_path / "s") as store:
        store.model("m", task="regression").log(
            df.iloc[:5], schema=MILLION_SCHEMA, version="v1", environment="training"
        )
    with es.connect(tmp_path / "s", write_memory=memory) as store:
        model = store.model("m")
        before = snapshot(store)
        with pytest.raises(Exception, match="Out of Memory"):
            model.log(df, schema=MILLION_SCHEMA, version="v1", environment="training")
        assert snapshot(store) == before
    with es.connect(tmp_path / "s") as store:  # with the default limit the batch fits
        model = store.model("m")
        report = model.log(df, schema=MILLION_SCHEMA, version="v1", environment="training")
        assert (report.rows, report.replaced) == (len(df), 5)
        assert model.dataset().count() == len(df)


@pytest.mark.parametrize("memory", ["1MB", "16MB"])
def test_too_little_write_memory_says_so(tmp_path: Path, memory: str) -> None:
    with es.connect(tmp_path / "s", write_memory=memory) as store:
        model = store.model("m", task="regression")
        try:
            model.log(_million_rows(), schema=MILLION_SCHEMA, version="v1", environment="training")
        except Exception as exc:
            assert isinstance(exc, es.EvalstoreError), f"{type(exc).__name__}: {exc}"
            assert "Out of Memory" in str(exc), str(exc)
            assert "write_memory" in str(exc) or "EVALSTORE_WRITE_MEMORY" in str(exc), str(exc)


def test_to_batches_reads_the_rows_to_arrow_reads_in_batches(store: es.Store) -> None:
    model = store.model("m", task="binary_classification")
    model.log(binary_frame(50), schema=BINARY_SCHEMA, version="v1", environment="production")
    model.log(
        binary_frame(7, start=50), schema=BINARY_SCHEMA, version="v2", environment="production"
    )
    ds = model.dataset(where={"region": "EU"})
    batches = list(ds.to_batches(rows=4))
    assert batches and max(b.num_rows for b in batches) <= 4
    got = pa.Table.from_batches(batches).sort_by("prediction_id")
    assert got.equals(ds.to_arrow().sort_by("prediction_id"))
    assert got.num_rows == 29
    assert list(model.dataset(version="v9").to_batches()) == []
    with pytest.raises(es.ParameterError, match="rows"):
        ds.to_batches(rows=0)


def test_an_aggregate_is_read_as_a_statement_rows_through_a_relation(
    store: es.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An aggregate runs as one statement (a relation binds its query twice: to describe it,
    then to run it); whole rows come through a relation. Both give the same Arrow."""
    model = store.model("m", task="binary_classification")
    model.log(binary_frame(30), schema=BINARY_SCHEMA, version="v1", environment="production")
    engine = store._engine
    ds = model.dataset()
    t = ds.table
    relations: list[str] = []
    cursor_type = type(engine.con.cursor())
    real_sql = cursor_type.sql

    def sql(cursor: object, query: str, *args: object) -> object:
        relations.append(query)
        return real_sql(cursor, query, *args)

    monkeypatch.setattr(cursor_type, "sql", sql)
    by_region = t.group_by("region").aggregate(n=t.count(), mean=t.prediction_score.mean())
    statement = ds.execute(by_region).sort_by("region")
    assert relations == []
    rows = ds.to_arrow().sort_by("prediction_id")
    assert len(relations) == 1
    assert engine.read_rows(by_region).sort_by("region").equals(statement)
    assert engine.execute(t).sort_by("prediction_id").equals(rows)
    assert statement.schema == engine.read_rows(by_region).schema
    assert rows.num_rows == 30


def test_an_abandoned_stream_ends_its_read(store: es.Store) -> None:
    """A stream holds a read (closing the store waits for reads) only while it is used."""
    model = store.model("m", task="binary_classification")
    model.log(binary_frame(20), schema=BINARY_SCHEMA, version="v1", environment="production")
    engine = store._engine
    rows = model.dataset().to_batches(rows=5)
    assert next(rows).num_rows == 5 and engine._reads == 1
    del rows  # dropped half read
    assert engine._reads == 0
    stream = engine.stream(model.dataset().table, 5)  # opened, never iterated
    assert engine._reads == 1 and stream.schema.names[0] == "batch_id"
    del stream
    assert engine._reads == 0


def test_column_types_read_without_parsing_are_the_parsers() -> None:
    """DESCRIBE's simple type names are mapped without sqlglot's parser (which a fresh
    process would load): to exactly the types the parser gives."""
    from ibis.backends.sql.datatypes import DuckDBType

    from evalstore.store.duckdb import SIMPLE_TYPES, column_type

    for text, dtype in SIMPLE_TYPES.items():
        assert dtype == DuckDBType.from_string(text), text
    assert column_type("FLOAT[]") == DuckDBType.from_string("FLOAT[]")  # the parser's
    assert column_type("TIMESTAMP WITH TIME ZONE") == DuckDBType.from_string(
        "TIMESTAMP WITH TIME ZONE"
    )


def test_a_selection_is_built_once_and_sees_the_columns_logged_since(store: es.Store) -> None:
    model = store.model("m", task="binary_classification")
    model.log(binary_frame(30), schema=BINARY_SCHEMA, version="v1", environment="production")
    window = {"version": "v1", "start": "2024-01-01 02:00", "end": "2024-01-01 12:00"}
    first, again = model.dataset(**window), model.dataset(**window)
    assert again._inferences is first._inferences  # the same selection: one Ibis filter
    assert model.dataset(**{**window, "end": "2024-01-01 13:00"}).count() == 11
    assert again.count() == first.count() == 10
    wider = dataclasses.replace(BINARY_SCHEMA, features=["age", "income", "city", "tenure"])
    more = binary_frame(30, start=30).assign(tenure=7)
    model.log(more, schema=wider, version="v2", environment="production")
    after = model.dataset(**window)  # the table has a new column: a new selection
    assert "tenure" in after.table.columns and "tenure" not in first.table.columns
    assert after.count() == 10
