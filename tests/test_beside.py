"""Reads side by side (``DuckDBStore.beside``): an analysis starts independent queries on
other threads. They run elsewhere only where that is safe: not inside a snapshot (whose
reads must stay in its transaction) and not from such a thread (which could wait for work
queued behind itself). Results and errors come back to the caller."""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pandas as pd
import pytest

import evalstore as es
from evalstore.analyses.quality import quality
from evalstore.dataset import beside

SCHEMA = es.Schema(
    prediction_id="id",
    timestamp="ts",
    features=["x", "city"],
    prediction_score="score",
    actual_label="label",
)


def frame(n: int, first: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": [f"p{i}" for i in range(first, first + n)],
            "ts": pd.Timestamp("2024-03-01") + pd.to_timedelta(rng.random(n) * 3, unit="D"),
            "x": rng.normal(size=n),
            "city": rng.choice(["paris", "lyon", "oslo"], n),
            "score": rng.random(n),
            "label": rng.integers(0, 2, n),
        }
    )


@pytest.fixture
def model(store: es.Store) -> es.Model:
    m = store.model("m", task="binary_classification")
    m.log(frame(300, 0, 1), schema=SCHEMA, version="v1", environment="production")
    m.log(frame(300, 100, 2), schema=SCHEMA, version="v2", environment="production")
    return m


def count(ds) -> int:  # type: ignore[no-untyped-def]
    return int(ds.execute(ds.table.count().name("n")).column("n")[0].as_py())


def test_beside_runs_on_another_thread_and_returns_the_result(model: es.Model) -> None:
    ds = model.dataset(environment="production")
    seen: list[threading.Thread] = []

    def work() -> int:
        seen.append(threading.current_thread())
        return count(ds)

    result = beside(ds, work)
    assert result() == 600
    assert seen and seen[0] is not threading.current_thread()


def test_beside_raises_the_error_of_its_work(model: es.Model) -> None:
    ds = model.dataset(environment="production")

    def fail() -> None:
        raise ValueError("no such column: nope")

    result = beside(ds, fail)
    with pytest.raises(ValueError, match="nope"):
        result()


def test_inside_a_snapshot_work_stays_on_the_thread_and_sees_the_snapshot(
    store: es.Store, model: es.Model
) -> None:
    ds = model.dataset(environment="production")
    seen: list[threading.Thread] = []

    def work() -> int:
        seen.append(threading.current_thread())
        return count(ds)

    with store._engine.snapshot():
        assert count(ds) == 600
        # a batch committed meanwhile (from another thread) is not in the snapshot
        writer = threading.Thread(
            target=lambda: model.log(
                frame(50, 1000, 3), schema=SCHEMA, version="v1", environment="production"
            )
        )
        writer.start()
        writer.join()
        result = beside(ds, work)
        assert result() == 600
    assert seen == [threading.current_thread()]
    assert count(ds) == 650


def test_work_started_from_a_side_thread_runs_there(model: es.Model) -> None:
    """Two levels of side work on a pool of two threads: without running the inner work in
    place, four nested calls would wait for each other forever."""
    ds = model.dataset(environment="production")
    threads: list[tuple[threading.Thread, threading.Thread]] = []

    def inner() -> int:
        return count(ds)

    def outer() -> int:
        here = threading.current_thread()
        got = beside(ds, lambda: (threads.append((here, threading.current_thread())), inner())[1])
        return got()

    got: list[int] = []

    def run() -> None:
        results = [beside(ds, outer) for _ in range(4)]
        got.extend(r() for r in results)

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    runner.join(timeout=60)
    assert not runner.is_alive(), "the side threads wait for each other"
    assert got == [600] * 4
    assert threads and all(a is b for a, b in threads)


def test_quality_with_side_reads_equals_quality_in_one_thread(
    store: es.Store, model: es.Model
) -> None:
    """The duplicate ids and category counts run beside the scan; in a snapshot they run in
    line. Both give the same result."""
    base = model.create_baseline("prod", environment="production", version="v1")
    ds = model.dataset(environment="production")
    side = quality(ds, base.expectations_, by="day").to_dict()
    with store._engine.snapshot():
        inline = quality(ds, base.expectations_, by="day").to_dict()
    assert side == inline
    assert any(w["ids_in_several_versions"] for w in side["windows"])  # the ids v1 and v2 share


def test_quality_counts_a_large_category_set_beside_its_scan(
    model: es.Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The GROUP BY of a column whose expected categories are too many to sum in the scan
    starts before the scan (it needs nothing of it), and the result is the one counted
    after it."""
    from evalstore.analyses.quality import _compute, learn_expectations
    from evalstore.analyses.quality._scan import SUMS_LIMIT

    ds = model.dataset(environment="production")
    expectations = learn_expectations(ds)
    many = [f"town{i}" for i in range(SUMS_LIMIT + 1)] + ["paris", "lyon", "oslo"]
    expectations["city"] = dataclasses.replace(expectations["city"], categories=many)
    want = quality(ds, expectations)
    started = threading.Event()
    real_counts, real_scan = _compute.category_counts, _compute.scan

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        started.set()
        return real_counts(*args, **kwargs)

    def scanning(*args, **kwargs):  # type: ignore[no-untyped-def]
        assert started.wait(10), "the large set's GROUP BY waited for the scan"
        return real_scan(*args, **kwargs)

    monkeypatch.setattr(_compute, "category_counts", counting)
    monkeypatch.setattr(_compute, "scan", scanning)
    got = quality(ds, expectations)
    assert got.to_dict() == want.to_dict()
    vanished = [i for i in got.issues if i.column == "city" and i.check == "vanished_categories"]
    assert vanished and vanished[0].count == SUMS_LIMIT + 1


def test_work_beside_sees_the_callers_context(model: es.Model) -> None:
    """Work started beside runs in the caller's context: a read inside the warmer's
    ``keeping()`` keeps its days on the side thread too (the compare page's metrics run
    beside its drift)."""
    from evalstore.analyses import _merged

    ds = model.dataset(environment="production")
    assert beside(ds, _merged.filling)() is False
    with _merged.keeping():
        started = beside(ds, lambda: (threading.current_thread(), _merged.filling()))
        thread, filling = started()
    assert thread is not threading.current_thread() and filling is True
