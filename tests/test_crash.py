"""A process killed in the middle of a batch leaves no trace of it; one process owns a store.

The child processes are real Python interpreters (``sys.executable``) killed with
SIGKILL, so nothing of evalstore's cleanup runs: what survives is what DuckDB
committed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import evalstore as es
from conftest import BINARY_SCHEMA, binary_frame, frame_equal

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL"),
]

BIG_ROWS = 3_000_000

_LOG_BIG = """
import sys
import evalstore as es

store = es.connect(sys.argv[1])
model = store.model("m", task="binary_classification")
schema = es.Schema(prediction_id="id", prediction_score="score", actual_label="label")
print("logging", flush=True)
model.log(sys.argv[2], schema=schema, version="big", environment="production", progress=False)
print("done", flush=True)
"""

# Logs the file as a stream that blocks after its fifth chunk: the kill then lands at a known
# point, with five chunks written to the store and none committed, however fast the machine.
_LOG_AND_BLOCK = """
import sys
import pyarrow as pa
import pyarrow.parquet as pq
import evalstore as es

store = es.connect(sys.argv[1])
model = store.model("m", task="binary_classification")
parquet = pq.ParquetFile(sys.argv[2])


def chunks():
    for i, batch in enumerate(parquet.iter_batches(batch_size=100_000)):
        if i == 5:
            print("blocked", flush=True)
            sys.stdin.read()  # until killed
        yield batch


stream = pa.RecordBatchReader.from_batches(parquet.schema_arrow, chunks())
if sys.argv[3] == "inferences":
    schema = es.Schema(prediction_id="id", prediction_score="score", actual_label="label")
    model.log(stream, schema=schema, version="big", environment="production")
else:
    model.log_actuals(stream, prediction_id="id", actual="label")
print("done", flush=True)
"""

_HOLD = """
import sys
import evalstore as es

store = es.connect(sys.argv[1])
print("ready", flush=True)
sys.stdin.read()  # hold the store until the test closes our stdin
store.close()
"""


@pytest.fixture(scope="module")
def big_parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A batch big enough that logging it takes a few seconds (no randomness: it is cheaper)."""
    path = tmp_path_factory.mktemp("crash") / "big.parquet"
    i = np.arange(BIG_ROWS)
    columns = {"id": i, "score": (i % 1000) / 1000.0, "label": i % 2}
    for k in range(7):
        columns[f"f{k}"] = i * (k + 0.5)
    pq.write_table(pa.table(columns), path, row_group_size=131_072, compression="none")
    return path


def _readline(proc: subprocess.Popen[str], timeout: float) -> str:
    """The child's next line of output, or fail after ``timeout`` seconds."""
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not line:
        proc.kill()
        pytest.fail(f"child printed nothing in {timeout} s: {proc.stderr.read()[-2000:]}")
    return line[0].strip()


@pytest.fixture
def spawn() -> Iterator[list[subprocess.Popen[str]]]:
    """Start children; any left running at the end of the test is killed."""
    children: list[subprocess.Popen[str]] = []
    yield children
    for proc in children:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def _start(children: list[subprocess.Popen[str]], script: str, *args: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    children.append(proc)
    return proc


def _kill_mid_batch(children: list[subprocess.Popen[str]], home: Path, data: Path) -> None:
    proc = _start(children, _LOG_BIG, str(home), str(data))
    assert _readline(proc, timeout=60) == "logging"
    time.sleep(0.75)  # well into the batch: a few chunks written, none committed
    assert proc.poll() is None, "the batch finished before the kill; make the file bigger"
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL


def _check_usable(store: es.Store, model: es.Model, start: int) -> None:
    """The store takes a new batch and reads it back exactly."""
    df = binary_frame(20, start=start)
    report = model.log(df, schema=BINARY_SCHEMA, version="after", environment="production")
    assert (report.rows, report.replaced) == (20, 0)
    frame_equal(model.dataset(version="after").to_pandas(), df, BINARY_SCHEMA)


def test_killed_batch_leaves_nothing(tmp_path: Path, big_parquet: Path, spawn: list) -> None:
    home = tmp_path / "store"
    _kill_mid_batch(spawn, home, big_parquet)
    with es.connect(home) as store:
        model = store.model("m")  # created, and committed, before the batch began
        assert model.dataset().count() == 0
        assert model.batches() == []
        assert model.versions() == []
        assert store.info().rows == 0
        _check_usable(store, model, start=0)
        assert [b["version"] for b in model.batches()] == ["after"]
        assert model.dataset().count() == 20


def test_killed_batch_keeps_earlier_batches(tmp_path: Path, big_parquet: Path, spawn: list) -> None:
    home = tmp_path / "store"
    earlier = binary_frame(50)
    with es.connect(home) as store:
        model = store.model("m", task="binary_classification")
        model.log(earlier, schema=BINARY_SCHEMA, version="v1", environment="production")
        before = model.dataset().to_arrow().sort_by("prediction_id")
        batches = model.batches()
    _kill_mid_batch(spawn, home, big_parquet)
    with es.connect(home) as store:
        model = store.model("m")
        assert model.batches() == batches
        assert model.versions() == ["v1"]
        after = model.dataset().to_arrow().sort_by("prediction_id")
        assert after.equals(before)
        frame_equal(after.to_pandas(), earlier, BINARY_SCHEMA)
        assert model.info().rows == {"production": 50}
        _check_usable(store, model, start=1000)
        assert model.dataset().count() == 70


@pytest.mark.parametrize("kind", ["inferences", "actuals"])
def test_killed_at_a_known_point_of_a_batch(
    tmp_path: Path, big_parquet: Path, spawn: list, kind: str
) -> None:
    home = tmp_path / "store"
    earlier = binary_frame(30)  # ids 0-29, as in the big file
    with es.connect(home) as store:
        model = store.model("m", task="binary_classification")
        model.log(earlier, schema=BINARY_SCHEMA, version="v1", environment="production")
        before = model.dataset().to_arrow().sort_by("prediction_id")
        batches = model.batches()
    proc = _start(spawn, _LOG_AND_BLOCK, str(home), str(big_parquet), kind)
    assert _readline(proc, timeout=120) == "blocked"
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    with es.connect(home) as store:
        model = store.model("m")
        assert model.batches() == batches
        assert model.dataset().to_arrow().sort_by("prediction_id").equals(before)
        assert model.info().with_actuals == {"production": 30}
        _check_usable(store, model, start=5000)


def test_a_store_open_in_another_process_is_locked(tmp_path: Path, spawn: list) -> None:
    home = tmp_path / "store"
    with es.connect(home) as store:
        store.model("m", task="regression")
    holder = _start(spawn, _HOLD, str(home))
    assert _readline(holder, timeout=60) == "ready"
    with pytest.raises(es.StoreLocked) as info:
        es.connect(home)
    message = str(info.value)
    assert "in use by another process" in message
    assert f"PID {holder.pid}" in message
    assert str(home / "evalstore.duckdb") in message
    assert "close that process" in message
    assert isinstance(info.value, RuntimeError)
    holder.stdin.close()
    assert holder.wait(timeout=60) == 0
    with es.connect(home) as store:  # released: the store opens again
        assert [m.name for m in store.models()] == ["m"]


def test_closing_a_store_releases_it(tmp_path: Path, spawn: list) -> None:
    home = tmp_path / "store"
    store = es.connect(home)
    store.close()
    holder = _start(spawn, _HOLD, str(home))
    assert _readline(holder, timeout=60) == "ready"
    holder.stdin.close()
    assert holder.wait(timeout=60) == 0
