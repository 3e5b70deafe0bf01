"""Ingest benchmark: evalstore against raw DuckDB doing the same work, in the same run.

Run from the repository root::

    python bench/ingest.py --sizes 1m --repeats 1   # quick run, about a minute
    python bench/ingest.py                          # full run: --sizes 1m,10m --repeats 3

What it measures (medians over ``--repeats``, each repeat in a fresh temporary store folder):

1. ``model.log`` of N rows x 50 columns (string id, timestamp, 44 numeric features, 2 string
   tags, score in [0, 1], label 0/1) from a pyarrow Table and from a pandas DataFrame, against
   raw ``CREATE TABLE ...; INSERT INTO t SELECT * FROM <table or frame>``.
2. ``model.log_actuals`` of 100k late actuals onto the largest store, against a raw append
   into an actuals table and a raw ``MERGE INTO`` of a label column in place.
3. Reading one day (timestamps spread in order over 30 days) of the largest store with the
   actuals joined (``ds.to_arrow()``, ``ds.count()``), against raw ``SELECT`` with the same
   left join of the latest actual per prediction id, and without it.

Every measured step runs in a fresh child process (this script with ``--scenario``), which
generates its data from a fixed seed, resets the kernel's peak-RSS counter
(``/proc/self/clear_refs``) just before the timed step and prints JSON: wall seconds, RSS just
before, peak RSS (``ru_maxrss``) and the batch's Arrow size, then the time to close the store
(a DuckDB checkpoint there may finish work a write left). Reads also time a second call in the
same process. Prints markdown tables, PASS/FAIL per target, and writes the same as JSON to
``bench/results/ingest-<timestamp>.json``. Other load on the machine shows in the timings: the
report gives the load average at start and end, and a hash of the evalstore source that ran.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

import evalstore as es

RESULTS = Path(__file__).resolve().parent / "results"
MIB = 1 << 20
SEED = 20240101
FEATURES = [f"f{i:02d}" for i in range(44)]
SCHEMA = es.Schema(
    prediction_id="id",
    timestamp="ts",
    features=FEATURES,
    tags=["region", "segment"],
    prediction_score="score",
    prediction_label="label",
)
DAYS = 30
DAY = [datetime(2024, 1, 15), datetime(2024, 1, 16)]
ACTUALS = 100_000
ENGINES = ("evalstore", "raw")
LATEST = (
    "SELECT environment, prediction_id, arg_max(actual_label, batch_id) AS actual_label "
    "FROM actuals GROUP BY environment, prediction_id"
)
#: the raw reference's setup (untimed) per scenario, and its timed statements
RAW_SETUP = {
    "log": "CREATE TABLE inferences AS SELECT * FROM data LIMIT 0",
    "late": "CREATE TABLE actuals (batch_id BIGINT, environment VARCHAR, prediction_id VARCHAR, "
    "actual_label BIGINT); ALTER TABLE inferences ADD COLUMN actual_label BIGINT",
}
RAW_SQL = {
    "insert": "INSERT INTO inferences SELECT * FROM data",
    "append": "INSERT INTO actuals SELECT 2, 'production', id, y FROM data",
    "merge": "MERGE INTO inferences AS i USING data AS a ON i.id = a.id "
    "WHEN MATCHED THEN UPDATE SET actual_label = a.y",
    "join": "SELECT i.* EXCLUDE (actual_label), a.actual_label FROM inferences i LEFT JOIN "
    f"({LATEST}) a ON a.environment = 'production' AND a.prediction_id = i.id "
    "WHERE i.ts >= ? AND i.ts < ?",
    "no_join": "SELECT * FROM inferences WHERE ts >= ? AND ts < ?",
    "count": "SELECT count(*) FROM inferences WHERE ts >= ? AND ts < ?",
}
#: summary rows: label, child scenario, evalstore step, raw step
ROWS = [
    ("log from Arrow", "log-arrow", "log", "insert"),
    ("log from pandas", "log-pandas", "log", "insert"),
    ("100k late actuals vs raw append", "late", "log_actuals", "append"),
    ("100k late actuals vs raw MERGE", "late", "log_actuals", "merge"),
    ("read 1 day, actuals joined", "read", "to_arrow", "join"),
    ("read 1 day vs raw without join", "read", "to_arrow", "no_join"),
    ("count 1 day", "read", "count", "count"),
]


def steps_of(scenario: str, engine: str) -> list[str]:
    """The steps a child times, in order (reads: one child per step)."""
    found = [row[2 if engine == "evalstore" else 3] for row in ROWS if row[1] == scenario]
    return list(dict.fromkeys(found))


# -- data and measurement (child side) ---------------------------------------------------------


def ids(numbers: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise("p", pc.cast(pa.array(numbers), pa.string()), "")


def make_table(n: int) -> pa.Table:
    """n rows x 50 columns, the same for the same n."""
    rng = np.random.default_rng(SEED)
    offsets = np.sort(rng.integers(0, DAYS * 86_400 * 10**6, n))
    cols: dict[str, Any] = {"id": ids(np.arange(n))}
    cols["ts"] = pa.array(np.datetime64("2024-01-01", "us") + offsets)
    for name in FEATURES:
        cols[name] = rng.standard_normal(n)
    cols["region"] = pa.array(["eu", "us", "apac", "latam", "mea"]).take(rng.integers(0, 5, n))
    cols["segment"] = pa.array([f"s{i}" for i in range(20)]).take(rng.integers(0, 20, n))
    cols["score"] = rng.random(n)
    cols["label"] = (rng.random(n) < cols["score"]).astype(np.int64)
    return pa.table(cols)


def make_actuals(n_store: int) -> pa.Table:
    rng = np.random.default_rng(SEED + 1)
    k = min(ACTUALS, n_store)
    return pa.table({"id": ids(rng.choice(n_store, k, replace=False)), "y": rng.integers(0, 2, k)})


def measure(fn: Callable[[], Any]) -> tuple[Any, dict[str, float]]:
    """Time fn(); peak RSS counts from just before the call (else from process start)."""
    gc.collect()
    pa.default_memory_pool().release_unused()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets the peak RSS to the current RSS (Linux)
    except OSError:
        print("could not reset the peak RSS; it includes the data generation", file=sys.stderr)
    with open("/proc/self/status") as f:
        before = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    started = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    mib = {"rss_before_mib": before / 1024, "peak_mib": peak / 1024}
    return result, {"s": seconds, **mib, "increase_mib": (peak - before) / 1024}


def run_child(scenario: str, engine: str, n: int, folder: Path, step: str) -> dict[str, Any]:
    out: dict[str, Any] = {"scenario": scenario, "engine": engine, "size": n, "steps": {}}
    out["source"] = source_digest()
    data: Any = None
    if scenario.startswith("log-"):
        table = make_table(n)
        out["arrow_mib"] = table.nbytes / MIB
        data = table if scenario == "log-arrow" else table.to_pandas()
        del table
    elif scenario == "late":
        data = make_actuals(n)
        out["arrow_mib"] = data.nbytes / MIB
    fns: dict[str, Callable[[], Any]]
    if engine == "evalstore":
        store = es.connect(folder / "evalstore")
        model = store.model("m", task="binary_classification")
        kw: dict[str, Any] = {"environment": "production", "progress": False}

        def day() -> es.Dataset:
            return model.dataset(environment="production", version="v1", start=DAY[0], end=DAY[1])

        fns = {
            "log": lambda: model.log(data, schema=SCHEMA, version="v1", **kw),
            "log_actuals": lambda: model.log_actuals(data, prediction_id="id", actual="y", **kw),
            "to_arrow": lambda: day().to_arrow(),
            "count": lambda: day().count(),
        }
        close = store.close
    else:
        con = duckdb.connect(str(folder / "raw.duckdb"), read_only=scenario == "read")
        con.execute("SET enable_progress_bar = false")
        if data is not None:
            con.register("data", data)
            con.execute(RAW_SETUP[scenario.split("-")[0]])
        fns = {
            name: lambda sql=sql: con.execute(sql, DAY if "?" in sql else None).to_arrow_table()
            for name, sql in RAW_SQL.items()
        }
        close = con.close
    for name in [step] if scenario == "read" else steps_of(scenario, engine):
        result, stats = measure(fns[name])
        out["steps"][name] = stats
        if scenario == "read":
            stats["again_s"] = measure(fns[name])[1]["s"]
            if isinstance(result, int) or name == "count":
                stats["rows"] = result if isinstance(result, int) else result[0][0].as_py()
            else:
                stats["rows"], stats["result_mib"] = result.num_rows, result.nbytes / MIB
    _, out["steps"]["close"] = measure(close)  # a checkpoint may finish the write's work here
    return out


# -- orchestration (parent side) ---------------------------------------------------------------


def parse_size(text: str) -> int:
    text = text.strip().lower()
    return int(float(text.rstrip("km")) * {"k": 10**3, "m": 10**6}.get(text[-1:], 1))


def label_size(n: int) -> str:
    return f"{n // 10**6}M" if n % 10**6 == 0 else f"{n // 10**3}k" if n % 1000 == 0 else str(n)


def spawn(scenario: str, engine: str, n: int, folder: Path, step: str = "") -> dict[str, Any]:
    args = f"--scenario {scenario} --engine {engine} --size {n} --step={step}".split()
    cmd = [sys.executable, str(Path(__file__).resolve()), *args, "--dir", str(folder)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"child failed: {' '.join(args)}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    shown = ", ".join(f"{k} {v['s']:.3f} s" for k, v in result["steps"].items())
    print(f"  {scenario:<10} {engine:<9} {label_size(n):>4}: {shown}", file=sys.stderr)
    return result


def run_all(sizes: list[int], repeats: int) -> list[dict[str, Any]]:
    runs = []
    for r in range(repeats):
        print(f"repeat {r + 1}/{repeats}", file=sys.stderr)
        for n in sizes:
            folder = Path(tempfile.mkdtemp(prefix="evalstore-bench-"))
            try:
                (folder / "pandas").mkdir()
                runs += [spawn("log-pandas", e, n, folder / "pandas") for e in ENGINES]
                shutil.rmtree(folder / "pandas")
                runs += [spawn("log-arrow", e, n, folder) for e in ENGINES]  # kept for late/read
                if n == max(sizes):
                    runs += [spawn("late", e, n, folder) for e in ENGINES]
                    for e in ENGINES:
                        runs += [spawn("read", e, n, folder, s) for s in steps_of("read", e)]
            finally:
                shutil.rmtree(folder, ignore_errors=True)
    return runs


def medians(runs: list[dict[str, Any]], key: tuple[str, str, int], step: str) -> dict[str, float]:
    found = [
        r for r in runs if (r["scenario"], r["engine"], r["size"]) == key and step in r["steps"]
    ]
    stats = [r["steps"][step] | {"arrow_mib": r.get("arrow_mib", 0.0)} for r in found]
    return {k: statistics.median(s[k] for s in stats) for k in stats[0]} if stats else {}


def summarize(runs: list[dict[str, Any]], sizes: list[int]) -> list[dict[str, Any]]:
    rows, closed = [], set()
    for label, scenario, es_step, raw_step in ROWS:
        log = scenario.startswith("log-")
        for n in sizes if log else [max(sizes)]:
            ev = medians(runs, (scenario, "evalstore", n), es_step)
            raw = medians(runs, (scenario, "raw", n), raw_step)
            count = n if log else ev.get("rows", min(ACTUALS, n))
            row = {"scenario": label, "size": n, "evalstore_s": ev["s"], "raw_s": raw["s"]}
            row |= {"ratio": ev["s"] / raw["s"], "rows_per_s": count / ev["s"]}
            row |= {"peak_mib": ev["peak_mib"], "evalstore": ev, "raw": raw}
            if scenario != "read" and (scenario, n) not in closed:
                closed.add((scenario, n))
                row["close_s"] = [medians(runs, (scenario, e, n), "close")["s"] for e in ENGINES]
            if log:
                row["peak_per_arrow"] = ev["peak_mib"] / ev["arrow_mib"]
                row["increase_per_arrow"] = ev["increase_mib"] / ev["arrow_mib"]
            rows.append(row)
    return rows


def check_targets(rows: list[dict[str, Any]]) -> list[tuple[str, bool, str]]:
    out = []
    arrow = [r for r in rows if r["scenario"] == "log from Arrow"]
    small = next((r for r in arrow if r["size"] == 10**6), arrow[0])
    name = f"{label_size(small['size'])} x 50 from Arrow <= 1.3x raw append"
    value = f"{small['ratio']:.2f}x ({small['evalstore_s']:.2f} s vs {small['raw_s']:.2f} s)"
    out.append((name, small["ratio"] <= 1.3, value))
    for r in rows:
        if "peak_per_arrow" in r:
            name = f"peak memory <= 2x Arrow size ({r['scenario']}, {label_size(r['size'])})"
            raw = r["raw"]["peak_mib"] / r["evalstore"]["arrow_mib"]
            value = f"{r['peak_per_arrow']:.2f}x (raw {raw:.2f}x)"
            out.append((name, r["peak_per_arrow"] <= 2, value))
        limit = {"100k late actuals vs raw append": 1.0, "read 1 day, actuals joined": 0.5}
        if r["scenario"] in limit:
            what = "100k late actuals" if limit[r["scenario"]] == 1 else "day read"
            name = f"{what} < {limit[r['scenario']]:g} s ({label_size(r['size'])} store)"
            value = f"{r['evalstore_s']:.3f} s (raw {r['raw_s']:.3f} s)"
            out.append((name, r["evalstore_s"] < limit[r["scenario"]], value))
    return out


def source_digest() -> str:
    """Which evalstore code ran: a hash of its source files (children check they all agree)."""
    files = sorted(Path(es.__file__).parent.rglob("*.py"))
    return hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()[:12]


def machine(runs: list[dict[str, Any]], load: float) -> dict[str, Any]:
    def first(path: str, key: str) -> str:
        with open(path) as f:
            return next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith(key)), "?")

    ram = int(first("/proc/meminfo", "MemTotal").split()[0]) / (1 << 20)
    info = {"nproc": len(os.sched_getaffinity(0)), "ram": f"{ram:.1f} GiB"}
    info |= {"cpu": first("/proc/cpuinfo", "model name"), "os": platform.platform()}
    info |= {"load at start/end": f"{load:.1f}/{os.getloadavg()[0]:.1f}"}
    info |= {"python": platform.python_version()}
    info |= {m: version(m) for m in ("evalstore", "duckdb", "pyarrow", "pandas", "numpy")}
    git = ["git", "describe", "--always", "--dirty"]
    done = subprocess.run(git, cwd=RESULTS.parent, capture_output=True, text=True, check=False)
    sources = sorted({r["source"] for r in runs})
    return info | {"git": done.stdout.strip() or "?", "evalstore source": ", ".join(sources)}


def report(rows: list[dict[str, Any]], targets: list[tuple[str, bool, str]], info: dict) -> str:
    lines = ["machine: " + ", ".join(f"{k} {v}" for k, v in info.items()), ""]
    if "," in info["evalstore source"]:
        lines += ["WARNING: evalstore's source changed during the run; results mix versions.", ""]
    lines += ["| scenario | size | evalstore s | raw s | ratio | rows/s | peak RSS MiB | "]
    lines[-1] += "peak/arrow |\n|---|---|---|---|---|---|---|---|"
    for r in rows:
        per = f"{r['peak_per_arrow']:.2f}" if "peak_per_arrow" in r else "-"
        lines.append(
            f"| {r['scenario']} | {label_size(r['size'])} | {r['evalstore_s']:.3f} | "
            f"{r['raw_s']:.3f} | {r['ratio']:.2f} | {r['rows_per_s']:,.0f} | "
            f"{r['peak_mib']:,.0f} | {per} |"
        )
    lines += ["", "Memory in MiB (before: RSS with the batch in memory; increase: peak - before):"]
    lines += ["", "| scenario | size | arrow | before | peak | increase | peak/arrow | "]
    lines[-1] += "increase/arrow | raw before | raw peak | raw increase/arrow |"
    lines += ["|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in (r for r in rows if "peak_per_arrow" in r):
        ev, raw, arrow = r["evalstore"], r["raw"], r["evalstore"]["arrow_mib"]
        cells = [r["scenario"], label_size(r["size"]), f"{arrow:,.0f}"]
        cells += [f"{ev[k]:,.0f}" for k in ("rss_before_mib", "peak_mib", "increase_mib")]
        cells += [f"{r['peak_per_arrow']:.2f}", f"{r['increase_per_arrow']:.2f}"]
        cells += [f"{raw[k]:,.0f}" for k in ("rss_before_mib", "peak_mib")]
        cells += [f"{raw['increase_mib'] / arrow:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Closing the store after the timed step (not in the times above; a DuckDB "]
    lines[-1] += "checkpoint there finishes work the write left):"
    for r in (r for r in rows if "close_s" in r):
        ev_s, raw_s = r["close_s"]
        lines.append(
            f"- {r['scenario']}, {label_size(r['size'])}: evalstore {ev_s:.3f} s, raw {raw_s:.3f} s"
        )
    lines += ["", "Reads, second call in the same process (warm):"]
    for r in (r for r in rows if "again_s" in r["evalstore"]):
        ev, raw = r["evalstore"], r["raw"]
        lines.append(
            f"- {r['scenario']}: evalstore {ev['again_s']:.3f} s, raw {raw['again_s']:.3f} s "
            f"({ev['rows']:,.0f} rows)"
        )
    lines += ["", "Targets:"]
    lines += [f"- {'PASS' if ok else 'FAIL'}: {name}: {value}" for name, ok, value in targets]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1m,10m", help="rows per batch, e.g. 1m,10m or 200k")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement (median)")
    for child_only in ("--scenario", "--engine", "--size", "--dir", "--step"):
        parser.add_argument(child_only, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scenario:
        folder = Path(args.dir)
        print(json.dumps(run_child(args.scenario, args.engine, int(args.size), folder, args.step)))
        return
    sizes = sorted({parse_size(s) for s in args.sizes.split(",")})
    started, load = datetime.now(), os.getloadavg()[0]
    runs = run_all(sizes, args.repeats)
    rows = summarize(runs, sizes)
    targets = check_targets(rows)
    info = machine(runs, load)
    print(report(rows, targets, info))
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"ingest-{started:%Y%m%d-%H%M%S}.json"
    payload = {"started": started.isoformat(), "sizes": sizes, "repeats": args.repeats}
    payload |= {"machine": info, "rows": rows, "runs": runs}
    payload["targets"] = [{"target": n, "pass": ok, "value": v} for n, ok, v in targets]
    path.write_text(json.dumps(payload, indent=2))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
