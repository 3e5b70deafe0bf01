"""Report benchmark: evalstore's report against Evidently, NannyML, whylogs and raw DuckDB on
the same data, in the same run, on the same machine.

Run from the repository root (the anchors' virtualenvs and data come from
``../shared/bench/anchors/setup_envs.sh``, under ``$BENCH_HOME``, default ``~/benchenv``)::

    python bench/report.py --sizes 100k --repeats 1        # quick check, a few minutes
    python bench/report.py --sizes 100k,1m --snapshot      # the 1M targets, 30-45 min on 2 cores
    python bench/report.py                                 # 100k, 1m and 5m
    python bench/report.py --sizes 10m                     # 10M vs 10M: the 4 GiB target (long)
    python bench/report.py --sizes 1m --skip-anchors --skip-census   # evalstore only
    python bench/report.py --tools duckdb,evidently        # some anchors only

What it measures, per size (rows per side, the anchors' ``gen_data.py`` files: 25 features,
5 of them drifted, a performance drop in ``cat_1 = c1_02``; generated into a temporary
folder when ``--data-dir`` lacks them):

1. **ingest**: ``model.log`` of the reference Parquet file (environment training) and of the
   current one (production) into a fresh store, each timed on its own.
2. **report**, the headline: in a fresh process, open the store and run ``model.report(
   reference="training", current="production", slice_columns=[the 5 categorical features])``
   (drift of the 25 features, classification metrics overall and over time, data quality,
   the metric per categorical value in both datasets), then ``report.save_html`` as its own
   step (the anchors write HTML too).
3. **baseline reuse**: ``model.create_baseline("train", environment="training")``, then
   reports against it for the first ~10% and for 100% of the current time range (the time
   should follow the window: the target is judged from 1M rows on, as the median over repeats
   of t(10%) / t(100%) <= 0.3, where exactly proportional is 0.1), and the 10% window against
   the training rows themselves (what the cached baseline saves). Before them, a report on
   the last ~10% (not measured) leaves the compiled SQL a store in use keeps (each process
   then compiles only its own window's selection). For information, the same
   two windows again in one process after a first report, as a server or a notebook runs
   them: without the one-time costs of a fresh process (imports, first queries).
4. **anchors**, each through ``run_bench.sh TOOL SIZE 1 [-- flags]`` (one whole process timed
   with /usr/bin/time -v) with the flags of the anchors' ``run_all.sh``: Evidently
   (DataDriftPreset + ClassificationPreset + HTML), NannyML (``--plots``), whylogs
   (``--perf``), DuckDB SQL with exact AUC and with ``--auc binned`` (the engine reference of
   the speed target). Its SUMMARY line gives wall, CPU and peak RSS, its RESULT line what it
   found (the features it flagged, DuckDB's worst segment by AUC with n >= 1000).
5. once: ``census_employment_ma`` from ``../shared/data``, 2015 as training and each later
   year as production (a real model, no real drift): does the report raise dataset-level
   drift? (Skipped, with the reason, when the file is absent.)

Comparisons are of whole processes, as the anchors are timed: *evalstore report* is the
process that opens the store, runs the report and writes the HTML (the data ingested
before); *evalstore end-to-end* adds the ingest process (two processes, two interpreter
starts) and compares with anchors that read both Parquet files and compute in one. Ratios
are tool / evalstore (above 1: evalstore is faster).

Every evalstore step runs in a fresh child process (this script with ``--child``), which
resets the kernel's peak-RSS counter (``/proc/self/clear_refs``) before each timed step and
prints JSON: step wall and CPU seconds (all threads, the engine's included), RSS before, the
step's peak RSS (``ru_maxrss``), the process's lifetime peak and CPU seconds; the parent
times the whole process. ``--snapshot`` runs the children on a copy of the evalstore source
taken at the start, so that edits to the tree during a long run do not mix versions (the
source hash of every child is recorded either way), compiled to bytecode as ``pip install``
compiles an installed package: an editable install under ``PYTHONDONTWRITEBYTECODE`` (which
this machine sets) compiles every module it imports in every process (0.04-0.1 s of a
report in a fresh child here), which no installed evalstore pays. Repeats: ``--repeats``
for evalstore and both DuckDB references, interleaved so that both see the same load
(default 3 below 5M rows, 1 from 5M); ``--anchor-repeats`` for Evidently, NannyML and whylogs
(default 1: minutes per run at 1M, and the 5x / 20x targets against them are far beyond
run-to-run noise). Medians are reported. At 5M, Evidently and whylogs are not run (the
anchors' README does not run them: 139 s and 71 s at 1M); at 10M only DuckDB binned runs (the
others needed 12.7-13.9 GiB at 5M); ``--slow-anchors`` runs them anyway.

Prints markdown tables and PASS/FAIL per target, and writes the same with every run (machine,
load averages, versions, git hash, a hash of the evalstore source) to
``bench/results/report-<timestamp>.json``. The machine is a shared 2-core one: read the load
averages (and the CPU seconds, which other load inflates far less) before quoting a ratio.
"""

from __future__ import annotations

import argparse
import compileall
import gc
import hashlib
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import evalstore as es
from _speed import python_loop_seconds

HERE = Path(__file__).resolve()
RESULTS = HERE.parent / "results"
SHARED = HERE.parents[2] / "shared"
MIB = 1 << 20
GIB = 1 << 30

NUM_COLS = [f"num_{i:02d}" for i in range(20)]
CAT_COLS = [f"cat_{i}" for i in range(5)]
FEATURES = NUM_COLS + CAT_COLS
INJECTED = ["num_00", "num_03", "num_09", "num_15", "cat_2"]
WORST_SEGMENT = ("cat_1", "c1_02")
SCHEMA = es.Schema(
    prediction_id="prediction_id",
    timestamp="timestamp",
    prediction_score="prediction_score",
    prediction_label="prediction_label",
    actual_label="actual_label",
)  # features=None: every other column, i.e. the 25 features; labels int64 -> positive class 1
#: fractions of the current time range reported against the cached baseline
WINDOWS = (0.1, 1.0)
#: t(10% window) / t(100% window) at most this: proportional gives 0.1, the rest is fixed cost
PROPORTIONAL_MAX = 0.3
#: the timed steps of the report process
STEPS = ("open", "report", "html", "close")
#: the children's environment (``--snapshot`` puts a copy of evalstore first on their path)
CHILD_ENV: dict[str, str] | None = None
CENSUS_NOT_FEATURES = {"id", "employed", "year", "prediction", "predicted_probability", "period"}


@dataclass(frozen=True)
class Anchor:
    key: str
    tool: str  # run_bench.sh's TOOL
    flags: tuple[str, ...]
    label: str
    slow: bool  # skipped at 5M and up unless --slow-anchors


#: in the order they run (the slow three after the DuckDB references)
ANCHORS = (
    Anchor("duckdb-binned", "duckdb", ("--auc", "binned"), "DuckDB SQL, AUC on 2^16 bins", False),
    Anchor("duckdb-exact", "duckdb", (), "DuckDB SQL, exact AUC", False),
    Anchor("nannyml", "nannyml", ("--plots",), "NannyML (CBPE + drift + plots)", True),
    Anchor("whylogs", "whylogs", ("--perf",), "whylogs (profiles + drift + HTML + perf)", True),
    Anchor("evidently", "evidently", (), "Evidently (drift + classification + HTML)", True),
)
VENV = {"evidently": "venv-evidently", "nannyml": "venv-nannyml", "whylogs": "venv-whylogs"}
VENV["duckdb"] = "venv-raw"
PACKAGE = {"evidently": "evidently", "nannyml": "nannyml", "whylogs": "whylogs"}
PACKAGE["duckdb"] = "duckdb"


# -- child side: one measured scenario per process ---------------------------------------------


def _vm_rss_kib() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def _cpu_s() -> float:
    """User + system seconds of this process, all its threads (the engine's included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Child:
    """Times steps of one process; peak RSS per step and over the process's life."""

    def __init__(self) -> None:
        self.steps: dict[str, dict[str, float]] = {}
        self.lifetime_kib = 0

    def measure(self, name: str, fn: Callable[[], Any]) -> Any:
        gc.collect()
        pa.default_memory_pool().release_unused()
        self.lifetime_kib = max(self.lifetime_kib, resource.getrusage(resource.RUSAGE_SELF)[2])
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # resets the peak RSS to the current RSS (Linux)
        except OSError:
            print("could not reset the peak RSS; it counts from the start", file=sys.stderr)
        before = _vm_rss_kib()
        cpu = _cpu_s()
        started = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - started
        cpu = _cpu_s() - cpu
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        self.lifetime_kib = max(self.lifetime_kib, peak)
        self.steps[name] = {
            "s": seconds,
            "cpu_s": cpu,
            "rss_before_mib": before / 1024,
            "peak_mib": peak / 1024,
            "increase_mib": (peak - before) / 1024,
        }
        return result

    def finish(self) -> dict[str, Any]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self.lifetime_kib = max(self.lifetime_kib, usage.ru_maxrss)
        return {
            "steps": self.steps,
            "process_peak_mib": self.lifetime_kib / 1024,
            "cpu_s": usage.ru_utime + usage.ru_stime,
        }


def _safe(fn: Callable[[], Any]) -> Any:
    """A value read off a result, or the error that reading it raised (the API is young)."""
    try:
        return fn()
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}


def _slice(s: Any) -> dict[str, Any]:
    out = {"column": s.column, "bin": str(s.bin), "value": s.value, "n": s.n}
    for name in ("ci_low", "ci_high", "significant"):
        out[name] = getattr(s, name, None)
    return out


def describe_report(report: Any) -> dict[str, Any]:
    """What a Report found, as plain data (each part on its own, errors kept)."""
    d = report.drift
    out: dict[str, Any] = {
        "drifted": _safe(lambda: d.drifted),
        "drifted_columns": _safe(lambda: list(d.drifted_columns)),
        "drift": _safe(
            lambda: {
                c.column: {
                    "method": c.method,
                    "value": c.value,
                    "p_adjusted": getattr(c, "p_adjusted", None),
                    "drifted": c.drifted,
                }
                for c in d.columns
            }
        ),
        "prediction_drift": _safe(
            lambda: (
                list(report.prediction_drift.drifted_columns)
                if report.prediction_drift is not None
                else None
            )
        ),
        "performance_current": _safe(lambda: report.performance_current.rows),
        "performance_reference": _safe(lambda: report.performance_reference.rows),
        "worst_current": _safe(lambda: [_slice(s) for s in report.slices_current.worst(5)]),
        "worst_reference": _safe(lambda: [_slice(s) for s in report.slices_reference.worst(3)]),
        "quality_issues": _safe(lambda: len(report.quality.issues)),
        "quality_first": _safe(lambda: [str(i.message) for i in report.quality.issues][:10]),
        "summary": _safe(lambda: report.summary),
        "timings": _safe(lambda: dict(report.timings)),
        "rows": _safe(lambda: {"reference": report.reference["rows"]}),
        "primary_metric": _safe(lambda: report.primary_metric),
    }
    out["rows"] = _safe(
        lambda: {"reference": report.reference["rows"], "current": report.current["rows"]}
    )
    worst = out["worst_current"]
    if isinstance(worst, list) and worst:
        col, value = worst[0]["column"], worst[0]["bin"]
        out["worst_in_reference"] = _safe(
            lambda: (
                report.slices_reference.find(col, value).value
                if report.slices_reference is not None
                else None
            )
        )
    return out


def describe_drift(result: Any) -> dict[str, Any]:
    top = max(result.columns, key=lambda c: c.value if c.value is not None else -1.0)
    return {
        "drifted": result.drifted,
        "drifted_columns": list(result.drifted_columns),
        "n_columns": result.n_columns,
        "max": {"column": top.column, "method": top.method, "value": top.value},
    }


def child_ingest(c: Child, a: dict[str, Any]) -> dict[str, Any]:
    store = es.connect(a["dir"])
    model = store.model("anchor", task="binary_classification")
    rows = {}
    for env, key in (("training", "reference"), ("production", "current")):
        path = a[key]
        batch = c.measure(
            f"log_{key}",
            lambda path=path, env=env: model.log(
                path, schema=SCHEMA, version="v1", environment=env, progress=False
            ),
        )
        rows[env] = batch.rows
    c.measure("close", store.close)
    return {"rows": rows}


def child_report(c: Child, a: dict[str, Any]) -> dict[str, Any]:
    store = c.measure("open", lambda: es.connect(a["dir"]))
    model = store.model("anchor")
    report = c.measure(
        "report",
        lambda: model.report(
            reference="training", current="production", slice_columns=CAT_COLS, progress=False
        ),
    )
    html = Path(a["dir"]) / "report.html"
    c.measure("html", lambda: report.save_html(html))
    out = {"html_mib": html.stat().st_size / MIB, "result": describe_report(report)}
    c.measure("close", store.close)
    return out


def child_baseline(c: Child, a: dict[str, Any]) -> dict[str, Any]:
    store = c.measure("open", lambda: es.connect(a["dir"]))
    model = store.model("anchor")
    base = c.measure(
        "create_baseline", lambda: model.create_baseline("train", environment="training")
    )
    out = {"version": base.version, "rows": base.n_rows_}
    c.measure("close", store.close)
    return out


def child_window(c: Child, a: dict[str, Any]) -> dict[str, Any]:
    """A report of one current window against the cached baseline (or the training rows)."""
    store = c.measure("open", lambda: es.connect(a["dir"]))
    model = store.model("anchor")
    current = {"environment": "production", "start": a["start"], "end": a["end"]}

    def run() -> Any:
        return model.report(
            reference=a["reference"], current=current, slice_columns=CAT_COLS, progress=False
        )

    report = c.measure("report", run)
    out = {
        "rows": _safe(lambda: report.current["rows"]),
        "timings": _safe(lambda: dict(report.timings)),
        "drifted_columns": _safe(lambda: list(report.drift.drifted_columns)),
    }
    c.measure("close", store.close)
    return out


def child_windows_warm(c: Child, a: dict[str, Any]) -> dict[str, Any]:
    """The windows again in one process, as a server or a notebook runs them: a first report
    (on the last 10%) pays the one-time costs (imports, first queries), then the 10% and the
    100% windows, twice each in turn."""
    store = es.connect(a["dir"])
    model = store.model("anchor")

    def run(start: str, end: str) -> None:
        current = {"environment": "production", "start": start, "end": end}
        model.report(reference="train", current=current, slice_columns=CAT_COLS, progress=False)

    c.measure("warm_up", lambda: run(a["last_start"], a["end_full"]))
    for turn in (1, 2):
        c.measure(f"small_{turn}", lambda: run(a["start"], a["end_small"]))
        c.measure(f"full_{turn}", lambda: run(a["start"], a["end_full"]))
    store.close()
    return {}


def child_census(c: Child, a: dict[str, Any]) -> dict[str, Any]:
    import pandas as pd

    from evalstore.analyses.drift import drift

    df = pd.read_parquet(a["census"])
    df["ts"] = pd.to_datetime(df["year"].astype(str) + "-07-01")
    features = [col for col in df.columns if col not in CENSUS_NOT_FEATURES | {"ts"}]
    schema = es.Schema(
        prediction_id="id",
        timestamp="ts",
        features=features,
        prediction_label="prediction",
        prediction_score="predicted_probability",
        actual_label="employed",
    )
    years = sorted(int(y) for y in df["year"].unique())
    first, later = years[0], years[1:]
    store = es.connect(a["dir"])
    model = store.model("census", task="binary_classification")
    kw: dict[str, Any] = {"schema": schema, "version": "v1", "progress": False}
    c.measure("log", lambda: model.log(df[df.year == first], environment="training", **kw))
    c.measure("log_later", lambda: model.log(df[df.year > first], environment="production", **kw))
    out: dict[str, Any] = {"reference_year": first, "features": features, "years": {}}
    for year in later:
        current = {
            "environment": "production",
            "start": f"{year}-01-01",
            "end": f"{year + 1}-01-01",
        }
        entry: dict[str, Any] = {"rows": int((df.year == year).sum())}
        result = c.measure(
            f"drift_{year}",
            lambda current=current: drift(
                model.dataset(environment="training"), model.dataset(**current)
            ),
        )
        entry["drift()"] = describe_drift(result)
        try:
            report = c.measure(
                f"report_{year}",
                lambda current=current: model.report(
                    reference="training", current=current, progress=False
                ),
            )
            entry["report"] = describe_drift(report.drift)
            entry["report"]["prediction_drift"] = _safe(
                lambda report=report: list(report.prediction_drift.drifted_columns)
            )
            entry["report"]["alerts"] = _safe(lambda report=report: report.alerts)
            entry["report"]["timings"] = _safe(lambda report=report: dict(report.timings))
        except Exception as exc:
            entry["report_error"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
        out["years"][str(year)] = entry
    c.measure("close", store.close)
    return out


CHILDREN: dict[str, Callable[[Child, dict[str, Any]], dict[str, Any]]] = {
    "ingest": child_ingest,
    "report": child_report,
    "baseline": child_baseline,
    "window": child_window,
    "windows_warm": child_windows_warm,
    "census": child_census,
}


def run_child(a: dict[str, Any]) -> None:
    c = Child()
    out: dict[str, Any] = {"scenario": a["scenario"], "source": source_digest()}
    out["evalstore_path"] = str(Path(es.__file__).parent)
    out |= CHILDREN[a["scenario"]](c, a)
    out |= c.finish()
    print(json.dumps(out, default=str))


# -- parent side: evalstore children -----------------------------------------------------------


def spawn(scenario: str, **args: Any) -> dict[str, Any]:
    """Run one child; its JSON plus the whole process's wall time and the load before it."""
    payload = json.dumps({"scenario": scenario, **args}, default=str)
    load1 = os.getloadavg()[0]
    started = time.perf_counter()
    cmd = [sys.executable, str(HERE), "--child", payload]
    done = subprocess.run(cmd, capture_output=True, text=True, env=CHILD_ENV, check=False)
    wall = time.perf_counter() - started
    base = {"scenario": scenario, "args": args, "process_s": wall, "load1_before": load1}
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.strip().splitlines() if ln.strip()]
        error = lines[-1] if lines else f"exit status {done.returncode}"
        print(f"  {scenario:<9} FAILED: {error}", file=sys.stderr)
        return base | {"error": error, "stderr": done.stderr[-4000:]}
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    shown = ", ".join(f"{k} {v['s']:.2f} s" for k, v in out["steps"].items())
    print(
        f"  {scenario:<9} {wall:7.2f} s  {out['process_peak_mib']:6.0f} MiB  ({shown})",
        file=sys.stderr,
    )
    return base | out


def time_range(path: Path) -> tuple[datetime, datetime]:
    ts = pq.read_table(path, columns=["timestamp"]).column(0)
    lo, hi = pc.min_max(ts).values()
    return lo.as_py(), hi.as_py()


def run_evalstore(size: str, ref: Path, cur: Path, repeat: int) -> list[dict[str, Any]]:
    """One repeat: ingest, report, baseline and windows in a fresh store."""
    folder = Path(tempfile.mkdtemp(prefix=f"evalstore-report-{size}-"))
    store_dir = str(folder / "store")
    runs: list[dict[str, Any]] = []
    try:
        runs += _evalstore_steps(store_dir, ref, cur)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return [r | {"repeat": repeat} for r in runs]


def _evalstore_steps(store_dir: str, ref: Path, cur: Path) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    ingest = spawn("ingest", dir=store_dir, reference=str(ref), current=str(cur))
    runs.append(ingest)
    if "error" in ingest:
        return runs
    runs.append(spawn("report", dir=store_dir))
    runs.append(spawn("baseline", dir=store_dir))
    if "error" in runs[-1]:
        return runs
    lo, hi = time_range(cur)
    # a report on another window first (the last 10%; not measured): the store keeps the SQL
    # it compiles (store/_compiled.py), so that each measured window finds what a store in
    # use holds, whichever of them runs first; only its own selection is compiled
    last, full = hi - (hi - lo) * WINDOWS[0], hi + timedelta(seconds=1)
    spawn("window", dir=store_dir, start=last.isoformat(), end=full.isoformat(), fraction=0.0,
          reference="train")  # fmt: skip
    for fraction in WINDOWS:
        end = lo + (hi - lo) * fraction if fraction < 1 else hi + timedelta(seconds=1)
        window = {"dir": store_dir, "start": lo.isoformat(), "end": end.isoformat()}
        runs.append(spawn("window", **window, fraction=fraction, reference="train"))
    small = lo + (hi - lo) * WINDOWS[0]
    window = {"dir": store_dir, "start": lo.isoformat(), "end": small.isoformat()}
    runs.append(spawn("window", **window, fraction=WINDOWS[0], reference="training"))
    warm = {"start": lo, "end_small": small, "end_full": full, "last_start": last}
    runs.append(spawn("windows_warm", dir=store_dir, **{k: v.isoformat() for k, v in warm.items()}))
    return runs


# -- parent side: anchors ----------------------------------------------------------------------


SUMMARY_RE = re.compile(
    r"^SUMMARY \S+ \S+ runs=(\d+) wall_s min=(\S+) median=(\S+) max=(\S+) "
    r"maxrss_mb median=(\S+) cpu_s median=(\S+)"
)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def run_anchor(anchor: Anchor, size: str, anchors: Path, data_dir: Path) -> dict[str, Any]:
    """One run of run_bench.sh: its SUMMARY figures, the run's status and its RESULT json."""
    logdir = Path(tempfile.mkdtemp(prefix=f"anchor-{anchor.key}-{size}-"))
    env = os.environ | {"BENCH_LOG_DIR": str(logdir), "BENCH_DATA_DIR": str(data_dir)}
    cmd = ["bash", str(anchors / "run_bench.sh"), anchor.tool, size, "1"]
    cmd += ["--", *anchor.flags] if anchor.flags else []
    out: dict[str, Any] = {"tool": anchor.key, "size": size, "load1_before": os.getloadavg()[0]}
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        found = [SUMMARY_RE.match(ln) for ln in done.stdout.splitlines()]
        summary = next((m for m in found if m), None)
        if summary is None:
            error = (done.stderr.strip() or done.stdout.strip() or "no SUMMARY line").splitlines()
            return out | {"error": error[-1]}
        out |= {"wall_s": _number(summary[3]), "maxrss_mib": _number(summary[5])}
        out["cpu_s"] = _number(summary[6])
        tsv = (logdir / "runs.tsv").read_text().split("\n")[0].split("\t")
        out["status"] = tsv[3]
        for log in sorted(logdir.glob("*.log")):
            for line in log.read_text(errors="replace").splitlines():
                if line.startswith("RESULT "):
                    out["result"] = json.loads(line[len("RESULT ") :])
        if out["status"] != "0":
            out["error"] = f"exit status {out['status']}"
        elif "result" not in out:
            out["error"] = "no RESULT line"
    finally:
        shutil.rmtree(logdir, ignore_errors=True)
    shown = f"{out.get('wall_s')} s  {out.get('maxrss_mib')} MiB"
    print(f"  {anchor.key:<13} {shown}  {out.get('error', '')}", file=sys.stderr)
    return out


def skip_reason(anchor: Anchor, rows: int, bench_home: Path, slow: bool) -> str | None:
    py = bench_home / VENV[anchor.tool] / "bin" / "python"
    if not py.exists():
        return f"missing {py} (run the anchors' setup_envs.sh)"
    if slow:
        return None
    if rows >= 10_000_000 and anchor.key != "duckdb-binned":
        return "not run at 10M by default: it needed 12.7-13.9 GiB at 5M (--slow-anchors)"
    if rows >= 5_000_000 and anchor.key in ("evidently", "whylogs"):
        return "not run at 5M by default, as in the anchors' README (139 s / 71 s at 1M)"
    return None


def anchor_versions(tools: set[str], bench_home: Path) -> dict[str, str]:
    out = {}
    for tool in sorted(tools):
        py = bench_home / VENV[tool] / "bin" / "python"
        code = f"import importlib.metadata as m; print(m.version({PACKAGE[tool]!r}))"
        done = subprocess.run([str(py), "-c", code], capture_output=True, text=True, check=False)
        out[tool] = done.stdout.strip() or "?"
    return out


# -- data --------------------------------------------------------------------------------------


def parse_size(text: str) -> tuple[str, int]:
    tag = text.strip().lower()
    m = re.fullmatch(r"(\d+)([km])", tag)
    if not m:
        raise SystemExit(f"size {text!r}: expected e.g. 100k, 1m, 5m, 10m")
    return tag, int(m[1]) * {"k": 10**3, "m": 10**6}[m[2]]


def data_files(
    size: str, rows: int, data_dir: Path, gen_dir: Path, anchors: Path, bench_home: Path
) -> tuple[Path, Path, Path]:
    """The folder with reference_/current_<size>.parquet: data_dir, else generated."""
    names = (f"reference_{size}.parquet", f"current_{size}.parquet")
    for folder in (data_dir, gen_dir):
        if all((folder / n).exists() for n in names):
            return folder, folder / names[0], folder / names[1]
    gen_dir.mkdir(parents=True, exist_ok=True)
    py = bench_home / "venv-raw" / "bin" / "python"  # as setup_envs.sh generates them
    python = str(py) if py.exists() else sys.executable
    print(f"generating {size} rows per side into {gen_dir}", file=sys.stderr)
    cmd = [python, str(anchors / "gen_data.py"), "--rows", str(rows), "--out-dir", str(gen_dir)]
    subprocess.run(cmd, check=True)
    return gen_dir, gen_dir / names[0], gen_dir / names[1]


# -- summaries ---------------------------------------------------------------------------------


def med(values: list[Any]) -> float | None:
    found = [v for v in values if isinstance(v, (int, float))]
    return statistics.median(found) if found else None


def ok_runs(runs: list[dict[str, Any]], scenario: str, **match: Any) -> list[dict[str, Any]]:
    return [
        r
        for r in runs
        if r["scenario"] == scenario
        and "error" not in r
        and all(r["args"].get(k) == v for k, v in match.items())
    ]


def step_median(runs: list[dict[str, Any]], step: str, key: str = "s") -> float | None:
    return med([r["steps"][step][key] for r in runs if step in r["steps"]])


def summarize_evalstore(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ingest, report = ok_runs(runs, "ingest"), ok_runs(runs, "report")
    out: dict[str, Any] = {"errors": sorted({r["error"] for r in runs if "error" in r})}
    if ingest:
        out["ingest"] = {
            "process_s": med([r["process_s"] for r in ingest]),
            "cpu_s": med([r["cpu_s"] for r in ingest]),
            "peak_mib": med([r["process_peak_mib"] for r in ingest]),
            "load1": med([r["load1_before"] for r in ingest]),
        }
        for step in ("log_reference", "log_current", "close"):
            out["ingest"][step + "_s"] = step_median(ingest, step)
    if report:
        out["report"] = {
            "process_s": med([r["process_s"] for r in report]),
            "cpu_s": med([r["cpu_s"] for r in report]),
            "peak_mib": med([r["process_peak_mib"] for r in report]),
            "load1": med([r["load1_before"] for r in report]),
            "html_mib": med([r["html_mib"] for r in report]),
        }
        for step in STEPS:
            out["report"][step + "_s"] = step_median(report, step)
            out["report"][step + "_peak_mib"] = step_median(report, step, "peak_mib")
            out["report"][step + "_cpu_s"] = step_median(report, step, "cpu_s")
        parts: dict[str, list[float]] = {}
        for r in report:
            timings = r["result"].get("timings")
            for k, v in timings.items() if isinstance(timings, dict) else []:
                if k != "error":
                    parts.setdefault(k, []).append(v)
        out["report"]["timings"] = {k: med(v) for k, v in parts.items()}
        results = [r["result"] for r in report]
        out["result"] = results[0]
        keys = ("drifted_columns", "worst_current")
        out["consistent"] = all(
            json.dumps([r.get(k) for k in keys], default=str)
            == json.dumps([results[0].get(k) for k in keys], default=str)
            for r in results
        )
    if ingest and report:
        e2e = [
            (
                i["process_s"] + r["process_s"],
                i["cpu_s"] + r["cpu_s"],
                max(i["process_peak_mib"], r["process_peak_mib"]),
            )
            for i in ingest
            for r in report
            if i["repeat"] == r["repeat"]
        ]
        out["end_to_end"] = {
            "process_s": med([x[0] for x in e2e]),
            "cpu_s": med([x[1] for x in e2e]),
            "peak_mib": med([x[2] for x in e2e]),
        }
    base = ok_runs(runs, "baseline")
    if base:
        out["baseline"] = {
            "create_s": step_median(base, "create_baseline"),
            "peak_mib": med([r["process_peak_mib"] for r in base]),
        }
    windows = []
    for fraction in WINDOWS:
        for reference in ("train", "training"):
            found = ok_runs(runs, "window", fraction=fraction, reference=reference)
            if not found:
                continue
            timings: dict[str, list[float]] = {}
            for r in found:
                t = r.get("timings")
                for k, v in t.items() if isinstance(t, dict) else []:
                    if k != "error":
                        timings.setdefault(k, []).append(v)
            windows.append(
                {
                    "fraction": fraction,
                    "reference": reference,
                    "rows": found[0].get("rows"),
                    "report_s": step_median(found, "report"),
                    "report_cpu_s": step_median(found, "report", "cpu_s"),
                    "peak_mib": med([r["process_peak_mib"] for r in found]),
                    "timings": {k: med(v) for k, v in timings.items()},
                }
            )
    out["windows"] = windows
    small = {
        r["repeat"]: r["steps"]["report"]
        for r in ok_runs(runs, "window", fraction=WINDOWS[0], reference="train")
    }
    full = {
        r["repeat"]: r["steps"]["report"]
        for r in ok_runs(runs, "window", fraction=1.0, reference="train")
    }
    out["window_ratios"] = [
        {
            "repeat": k,
            "wall": small[k]["s"] / full[k]["s"],
            "cpu": small[k]["cpu_s"] / full[k]["cpu_s"],
        }
        for k in sorted(small.keys() & full.keys())
    ]
    warm = ok_runs(runs, "windows_warm")
    if warm:
        steps = [r["steps"] for r in warm]
        out["windows_warm"] = {
            "small_s": med([s[f"small_{t}"]["s"] for s in steps for t in (1, 2)]),
            "full_s": med([s[f"full_{t}"]["s"] for s in steps for t in (1, 2)]),
        }
    return out


def summarize_anchors(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for anchor in ANCHORS:
        mine = [r for r in runs if r["tool"] == anchor.key]
        if not mine:
            continue
        if all("skipped" in r for r in mine):
            out[anchor.key] = {"skipped": mine[0]["skipped"]}
            continue
        good = [r for r in mine if "error" not in r and "skipped" not in r]
        entry: dict[str, Any] = {
            "runs": len(good),
            "errors": [r["error"] for r in mine if "error" in r],
        }
        if good:
            entry["wall_s"] = med([r["wall_s"] for r in good])
            entry["maxrss_mib"] = med([r["maxrss_mib"] for r in good])
            entry["cpu_s"] = med([r["cpu_s"] for r in good])
            entry["load1"] = med([r["load1_before"] for r in good])
            entry["result"] = good[0]["result"]
            phases: dict[str, list[float]] = {}
            for r in good:
                for k, v in r["result"].get("phases_s", {}).items():
                    phases.setdefault(k, []).append(v)
            entry["phases_s"] = {k: med(v) for k, v in phases.items()}
        out[anchor.key] = entry
    return out


def flagged_by(tool: str, info: dict[str, Any]) -> tuple[list[str] | None, str]:
    """The features an anchor flagged (None: it reports only a count) and a note."""
    if tool.startswith("duckdb"):
        return sorted(info.get("psi_gt_0.1", {})), "PSI > 0.1"
    if tool == "nannyml":
        return sorted(info.get("drift_alert_features", {})), "an alert in any chunk"
    if tool == "whylogs":
        cats = info.get("drift_category", {})
        possible = sum(v == "POSSIBLE_DRIFT" for v in cats.values())
        return sorted(k for k, v in cats.items() if v == "DRIFT"), f"+{possible} POSSIBLE_DRIFT"
    if tool == "evidently":
        heads = info.get("headline", {})
        count = next((v for k, v in heads.items() if k.startswith("DriftedColumnsCount")), None)
        n = count.get("count") if isinstance(count, dict) else None
        return None, f"{n:.0f} (names not in its RESULT)" if n is not None else "?"
    return None, "?"


def found_text(features: list[str] | None, note: str = "") -> str:
    if features is None:
        return note
    hit = sorted(set(features) & set(INJECTED))
    extra = sorted(set(features) - set(INJECTED))
    if not extra and len(hit) == len(INJECTED):
        text = "5: exactly the injected"
    else:
        text = f"{len(features)}: {len(hit)}/5 injected"
        if extra:
            shown = ", ".join(extra[:4]) + (", ..." if len(extra) > 4 else "")
            text += f" + {len(extra)} others ({shown})"
    return text + (f" [{note}]" if note and not note.startswith("PSI") else "")


def evalstore_worst(result: dict[str, Any]) -> dict[str, Any] | None:
    worst = result.get("worst_current")
    return worst[0] if isinstance(worst, list) and worst else None


def fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def ratio_text(tool: dict[str, Any], mine: dict[str, Any]) -> str:
    """tool / evalstore in wall seconds, and in CPU seconds (less inflated by other load)."""
    if not mine.get("process_s"):
        return "-"
    text = f"{tool['wall_s'] / mine['process_s']:.2f}"
    if tool.get("cpu_s") and mine.get("cpu_s"):
        text += f" (CPU {tool['cpu_s'] / mine['cpu_s']:.2f})"
    return text


def size_table(size: str, ev: dict[str, Any], anchors: dict[str, dict[str, Any]]) -> list[str]:
    rep, e2e = ev.get("report", {}), ev.get("end_to_end", {})
    rep_s, e2e_s = rep.get("process_s"), e2e.get("process_s")
    lines = [
        f"### {size} rows per side",
        "",
        "| tool | wall s | CPU s | peak RSS MiB | load1 | tool / evalstore report (CPU) | "
        "tool / evalstore end-to-end (CPU) | drifted features found | worst segment |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    result = ev.get("result", {})
    drifted = result.get("drifted_columns")
    es_found = found_text(drifted) if isinstance(drifted, list) else f"error: {drifted}"
    worst = evalstore_worst(result)
    es_worst = (
        f"{worst['column']} = {worst['bin']} ({result.get('primary_metric')} "
        f"{fmt(worst['value'], '.3f')}, n {worst['n']:,})"
        if worst
        else "-"
    )
    if rep:
        lines.append(
            f"| **evalstore report** (open store + report + HTML) | {fmt(rep_s)} | "
            f"{fmt(rep.get('cpu_s'))} | {fmt(rep.get('peak_mib'), '.0f')} | "
            f"{fmt(rep.get('load1'), '.1f')} | 1 | - | {es_found} | {es_worst} |"
        )
    if e2e:
        lines.append(
            f"| **evalstore end-to-end** (ingest both files; report + HTML) | {fmt(e2e_s)} | "
            f"{fmt(e2e.get('cpu_s'))} | {fmt(e2e.get('peak_mib'), '.0f')} | - | - | 1 | | |"
        )
    if not rep:
        errors = "; ".join(ev.get("errors", [])) or "no run"
        lines.append(f"| evalstore report | failed: {errors[:200]} | | | | | | | |")
    for anchor in ANCHORS:
        a = anchors.get(anchor.key)
        if a is None:
            continue
        if "skipped" in a or "wall_s" not in a:
            why = a.get("skipped") or "; ".join(a.get("errors", [])) or "?"
            lines.append(f"| {anchor.label} | not run: {why} | | | | | | | |")
            continue
        info = a["result"].get("info", {})
        features, note = flagged_by(anchor.key, info)
        w = info.get("worst_cur_segment_auc")
        worst_text = f"{w[0].replace('=', ' = ')} (AUC {w[1]:.3f}, n {w[2]:,})" if w else "-"
        ratio = ratio_text(a, rep)
        ratio_e2e = ratio_text(a, e2e)
        lines.append(
            f"| {anchor.label} | {fmt(a['wall_s'])} | {fmt(a.get('cpu_s'))} | "
            f"{fmt(a['maxrss_mib'], '.0f')} | {fmt(a.get('load1'), '.1f')} | {ratio} | "
            f"{ratio_e2e} | {found_text(features, note)} | {worst_text} |"
        )
    return lines


def detail_lines(ev: dict[str, Any], anchors: dict[str, dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    ing, rep = ev.get("ingest"), ev.get("report")
    if ing:
        lines.append(
            f"- evalstore ingest: reference {fmt(ing['log_reference_s'])} s, current "
            f"{fmt(ing['log_current_s'])} s, close {fmt(ing['close_s'])} s; process "
            f"{fmt(ing['process_s'])} s, peak {fmt(ing['peak_mib'], '.0f')} MiB"
        )
    if rep:
        parts = ", ".join(f"{k} {fmt(v)}" for k, v in rep.get("timings", {}).items())
        lines.append(
            f"- evalstore report process: open {fmt(rep['open_s'])} s, model.report() "
            f"{fmt(rep['report_s'])} s (CPU {fmt(rep['report_cpu_s'])} s, peak "
            f"{fmt(rep['report_peak_mib'], '.0f')} MiB), "
            f"save_html {fmt(rep['html_s'])} s ({fmt(rep['html_mib'], '.1f')} MiB), "
            f"close {fmt(rep['close_s'])} s; interpreter start + imports + the rest: "
            f"{fmt(rep['process_s'] - sum(rep[k + '_s'] or 0 for k in STEPS))} s"
        )
        lines.append(f"- report.timings (s): {parts}")
    if not ev.get("consistent", True):
        lines.append("- WARNING: the repeats found different drifted features or worst slices")
    result = ev.get("result", {})
    binned = anchors.get("duckdb-binned", {}).get("result", {}).get("info", {})
    exact = anchors.get("duckdb-exact", {}).get("result", {}).get("info", {}) or binned
    drift = result.get("drift")
    if isinstance(drift, dict) and "error" not in drift:
        psi = exact.get("psi_gt_0.1", {})
        shown = sorted(
            (c for c, d in drift.items() if d["drifted"] or c in INJECTED or c in psi),
            key=lambda c: -(drift[c]["value"] or 0),
        )
        cells = [
            f"{c} {drift[c]['value']:.3f}{'*' if drift[c]['drifted'] else ''}"
            + (f" (DuckDB {psi[c][0]:.3f})" if c in psi else "")
            for c in shown
        ]
        top = max((d["value"] or 0 for c, d in drift.items() if c not in shown), default=0)
        lines.append(
            "- evalstore drift value (* drifted): "
            + ", ".join(cells)
            + f"; largest other: {top:.2g}"
        )
    perf = {}
    for side in ("reference", "current"):
        rows = result.get(f"performance_{side}")
        if isinstance(rows, list):
            perf[side] = {r["metric"]: r for r in rows}
    overall = exact.get("overall", {})
    if perf and overall:
        cells = []
        for side, key in (("reference", "ref"), ("current", "cur")):
            mine = perf.get(side, {})
            for metric, theirs in (("roc_auc", "auc"), ("f1", "f1"), ("accuracy", "accuracy")):
                row = mine.get(metric)
                if row is not None and row.get("value") is not None:
                    cells.append(
                        f"{side} {metric} {row['value']:.4f} vs {overall.get(key, {}).get(theirs)}"
                    )
        lines.append("- evalstore vs DuckDB (exact) overall: " + "; ".join(cells))
    worst = evalstore_worst(result)
    if worst:
        others = result.get("worst_current", [])[1:4]
        rest = ", ".join(f"{s['column']} = {s['bin']} {fmt(s['value'], '.3f')}" for s in others)
        ref_value = result.get("worst_in_reference")
        lines.append(
            f"- evalstore worst slices (current): {worst['column']} = {worst['bin']} "
            f"{fmt(worst['value'], '.3f')} (reference "
            f"{fmt(ref_value if isinstance(ref_value, float) else None, '.3f')}); next: {rest}"
        )
    summary = result.get("summary")
    if isinstance(summary, list):
        lines.append(
            "- report.summary: "
            + " | ".join(f"[{s['status']}] {s['text']}" for s in summary if isinstance(s, dict))
        )
    for w in ev.get("windows", []):
        parts = ", ".join(f"{k} {fmt(v)}" for k, v in w["timings"].items())
        ref = "cached baseline" if w["reference"] == "train" else "training rows (no baseline)"
        rows = w["rows"] if isinstance(w["rows"], int) else 0
        lines.append(
            f"- window {w['fraction']:.0%} ({rows:,} rows) vs {ref}: model.report() "
            f"{fmt(w['report_s'])} s (CPU {fmt(w['report_cpu_s'])} s); timings: {parts}"
        )
    for key, a in anchors.items():
        if "phases_s" in a:
            phases = ", ".join(f"{k} {v:.2f}" for k, v in a["phases_s"].items())
            lines.append(f"- {key} phases (s, in-process): {phases}")
    return lines


def window_ratio(ev: dict[str, Any]) -> tuple[float | None, str]:
    found = {(w["fraction"], w["reference"]): w for w in ev.get("windows", [])}
    small, full = found.get((WINDOWS[0], "train")), found.get((1.0, "train"))
    plain = found.get((WINDOWS[0], "training"))
    if not small or not full or not small["report_s"] or not full["report_s"]:
        return None, "not measured"
    pairs = ev.get("window_ratios", [])
    ratio = med([p["wall"] for p in pairs])
    if ratio is None:
        return None, "not measured"
    text = (
        f"t(10%) / t(100%) = {ratio:.2f}, median over {len(pairs)} repeats (medians "
        f"{small['report_s']:.2f} s / {full['report_s']:.2f} s; CPU seconds ratio "
        f"{med([p['cpu'] for p in pairs]):.2f}; exactly proportional: 0.10)"
    )
    if plain and plain["report_s"]:
        text += f"; 10% against the training rows instead: {plain['report_s']:.2f} s"
    warm = ev.get("windows_warm")
    if warm and warm["small_s"] and warm["full_s"]:
        text += (
            f"; in one process after a first report (info): {warm['small_s']:.2f} s / "
            f"{warm['full_s']:.2f} s = {warm['small_s'] / warm['full_s']:.2f}"
        )
    return ratio, text


def check_targets(
    sizes: list[tuple[str, int]],
    ev: dict[str, dict[str, Any]],
    anchors: dict[str, dict[str, dict[str, Any]]],
    census: dict[str, Any] | None,
) -> list[tuple[str, bool | None, str]]:
    out: list[tuple[str, bool | None, str]] = []
    tags = [s for s, _ in sizes]
    if "1m" in tags:
        rep = ev["1m"].get("report", {})
        rep_s = rep.get("process_s")
        for key, limit, name in (
            ("duckdb-binned", 1.5, "1M report <= 1.5x raw DuckDB binned-AUC (whole processes)"),
            ("nannyml", 5.0, "1M report >= 5x faster than NannyML"),
            ("evidently", 20.0, "1M report >= 20x faster than Evidently"),
        ):
            a = anchors["1m"].get(key, {})
            if not rep_s or "wall_s" not in a:
                why = a.get("skipped") or "; ".join(a.get("errors", [])) or "not run"
                out.append(
                    (name, None, f"not evaluated ({why if rep_s else 'no evalstore report'})")
                )
                continue
            if key == "duckdb-binned":
                ratio = rep_s / a["wall_s"]
                call = rep.get("report_s") or 0
                cpu, cpu_a = rep.get("cpu_s") or 0, a.get("cpu_s") or 1
                value = (
                    f"{ratio:.2f}x ({rep_s:.2f} s vs {a['wall_s']:.2f} s; model.report() alone "
                    f"{call:.2f} s = {call / a['wall_s']:.2f}x; CPU seconds {cpu:.1f} vs "
                    f"{cpu_a:.1f} = {cpu / cpu_a:.2f}x)"
                )
                out.append((name, ratio <= limit, value))
            else:
                ratio = a["wall_s"] / rep_s
                value = f"{ratio:.1f}x ({a['wall_s']:.2f} s vs {rep_s:.2f} s)"
                out.append((name, ratio >= limit, value))
        for part, label in (("report", "report process"), ("ingest", "ingest process")):
            peak = ev["1m"].get(part, {}).get("peak_mib")
            name = f"1M peak RSS <= 1.5 GiB ({label})"
            if peak is None:
                out.append((name, None, "not measured"))
            else:
                out.append((name, peak <= 1.5 * 1024, f"{peak:,.0f} MiB"))
    for tag, rows in sizes:
        if rows >= 10_000_000:
            e = ev[tag]
            done = "report" in e and "ingest" in e
            peak = max(e.get(p, {}).get("peak_mib") or 0 for p in ("ingest", "report"))
            value = f"{'completed' if done else 'did not complete'}; peak {peak:,.0f} MiB"
            value += (
                " ("
                + ", ".join(
                    f"{p} {e.get(p, {}).get('peak_mib') or 0:,.0f}" for p in ("ingest", "report")
                )
                + ")"
            )
            out.append(
                (f"{tag.upper()} completes with peak RSS <= 4 GiB", done and peak <= 4096, value)
            )
    for tag, _ in sizes:
        result = ev[tag].get("result", {})
        drifted = result.get("drifted_columns")
        name = f"{tag.upper()}: exactly the 5 injected features drift"
        if not isinstance(drifted, list):
            out.append((name, False, "no report"))
        else:
            out.append((name, sorted(drifted) == sorted(INJECTED), ", ".join(drifted) or "none"))
    for tag, _ in sizes:
        worst = evalstore_worst(ev[tag].get("result", {}))
        name = f"{tag.upper()}: worst segment is cat_1 = c1_02"
        if worst is None:
            out.append((name, False, "no report"))
        else:
            ok = (worst["column"], worst["bin"]) == WORST_SEGMENT
            out.append(
                (name, ok, f"{worst['column']} = {worst['bin']} ({fmt(worst['value'], '.3f')})")
            )
    if census is not None:
        name = "census_employment_ma: no dataset-level drift, 2015 vs each later year"
        if "error" in census or "skipped" in census:
            out.append((name, None, census.get("error") or census.get("skipped")))
        else:
            cells, ok = [], True
            for year, entry in census["years"].items():
                via = "report" if "report" in entry else "drift()"
                r = entry.get("report") or entry["drift()"]
                ok = ok and not r["drifted"]
                m = r["max"]
                found = "DRIFT " + ",".join(r["drifted_columns"]) if r["drifted"] else "none"
                cells.append(f"{year}: {found} (max {m['column']} {m['value']:.3f}, via {via})")
            out.append((name, ok, "; ".join(cells)))
    judged = [(t, r) for t, r in sizes if r >= 1_000_000]
    for tag, _ in sizes:
        ratio, text = window_ratio(ev[tag])
        name = f"{tag.upper()}: window time proportional (10% <= {PROPORTIONAL_MAX}x 100%)"
        if tag not in [t for t, _ in judged]:
            name += " [info only: fixed costs dominate below 1M]"
            out.append((name, None, text))
        else:
            out.append((name, None if ratio is None else ratio <= PROPORTIONAL_MAX, text))
    return out


# -- machine and provenance ---------------------------------------------------------------------


def source_digest() -> str:
    """Which evalstore code ran: a hash of its source files (children check they all agree)."""
    files = sorted(Path(es.__file__).parent.rglob("*.py"))
    return hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()[:12]


def machine(load_start: tuple[float, ...]) -> dict[str, Any]:
    def first(path: str, key: str) -> str:
        with open(path) as f:
            return next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith(key)), "?")

    ram = int(first("/proc/meminfo", "MemTotal").split()[0]) / (1 << 20)
    info: dict[str, Any] = {"cpu": first("/proc/cpuinfo", "model name")}
    info |= {"cores": len(os.sched_getaffinity(0)), "ram": f"{ram:.1f} GiB"}
    info |= {"os": platform.platform(), "python": platform.python_version()}
    info["load start"] = " ".join(f"{x:.2f}" for x in load_start)
    info["load end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    info["python loop 5M s"] = f"{python_loop_seconds():.2f}"  # the machine's speed now
    for package in ("evalstore", "duckdb", "ibis-framework", "pyarrow", "pandas", "numpy"):
        try:
            info[package] = version(package)
        except PackageNotFoundError:
            info[package] = "?"
    git = ["git", "describe", "--always", "--dirty"]
    done = subprocess.run(git, cwd=HERE.parent, capture_output=True, text=True, check=False)
    info["git"] = done.stdout.strip() or "?"
    return info


def report_api_ready() -> str | None:
    """None when ``build_report`` imports, else the error."""
    code = "import evalstore; from evalstore.analyses.report import build_report"
    cmd = [sys.executable, "-c", code]
    done = subprocess.run(cmd, capture_output=True, text=True, env=CHILD_ENV, check=False)
    if done.returncode == 0:
        return None
    lines = done.stderr.strip().splitlines()
    return lines[-1] if lines else "import failed"


# -- main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100k,1m,5m", help="rows per side: 100k,1m,5m,10m")
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="evalstore and DuckDB runs per size (median; default 3 below 5M rows, else 1)",
    )
    parser.add_argument(
        "--anchor-repeats", type=int, default=1, help="Evidently, NannyML, whylogs runs per size"
    )
    names = ", ".join(a.key for a in ANCHORS)
    parser.add_argument(
        "--tools", default="all", help=f"anchors to run: all, or some of {names} (duckdb: both)"
    )
    parser.add_argument("--skip-anchors", action="store_true", help="evalstore only")
    parser.add_argument(
        "--slow-anchors",
        action="store_true",
        help="also run the anchors skipped by default at 5M and 10M",
    )
    parser.add_argument("--skip-census", action="store_true")
    parser.add_argument(
        "--anchors",
        type=Path,
        default=SHARED / "bench" / "anchors",
        help="the anchors' folder (default ../shared/bench/anchors)",
    )
    bench_home = Path(os.environ.get("BENCH_HOME") or Path.home() / "benchenv")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("BENCH_DATA_DIR") or bench_home / "data"),
        help="the anchors' data files (default $BENCH_DATA_DIR or $BENCH_HOME/data)",
    )
    parser.add_argument(
        "--gen-dir",
        type=Path,
        default=None,
        help="where missing sizes are generated (default: a temp dir, removed)",
    )
    parser.add_argument(
        "--census", type=Path, default=SHARED / "data" / "census_employment_ma.parquet"
    )
    parser.add_argument(
        "--snapshot",
        action="store_true",
        help="run a copy of the evalstore source taken at the start (others may edit the tree)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(json.loads(args.child))
        return

    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    chosen = [t.strip() for t in args.tools.split(",") if t.strip()]
    wanted = {a.key for a in ANCHORS} if chosen == ["all"] else set()
    for tool in [] if chosen == ["all"] else chosen:
        keys = [a.key for a in ANCHORS if a.key == tool or a.tool == tool]
        if not keys:
            raise SystemExit(f"--tools: unknown {tool!r}; choose among {names}")
        wanted.update(keys)
    if args.skip_anchors:
        wanted = set()
    if wanted and not (args.anchors / "run_bench.sh").exists():
        raise SystemExit(f"no run_bench.sh in {args.anchors}: pass --anchors or --skip-anchors")
    started, load_start = datetime.now(), os.getloadavg()
    snapshot = Path(tempfile.mkdtemp(prefix="evalstore-src-")) if args.snapshot else None
    # the children run evalstore as installed, its modules compiled to bytecode (pip does it
    # when it installs; an editable checkout under PYTHONDONTWRITEBYTECODE compiles each
    # module it imports in every process: ~0.1 s of a fresh report)
    if snapshot is not None:
        shutil.copytree(Path(es.__file__).parent, snapshot / "evalstore")
        compileall.compile_dir(snapshot / "evalstore", quiet=1)
        global CHILD_ENV
        path = os.pathsep.join(filter(None, [str(snapshot), os.environ.get("PYTHONPATH")]))
        CHILD_ENV = os.environ | {"PYTHONPATH": path}
    else:
        compileall.compile_dir(Path(es.__file__).parent, quiet=1)
    api_error = report_api_ready()
    if api_error:
        print(f"WARNING: the report API does not import yet: {api_error}", file=sys.stderr)
    own_gen = args.gen_dir is None
    gen_dir = args.gen_dir or Path(tempfile.mkdtemp(prefix="evalstore-bench-data-"))

    ev_runs: dict[str, list[dict[str, Any]]] = {}
    anchor_runs: dict[str, list[dict[str, Any]]] = {}
    data_used: dict[str, str] = {}
    try:
        for tag, rows in sizes:
            folder, ref, cur = data_files(
                tag, rows, args.data_dir, gen_dir, args.anchors, bench_home
            )
            data_used[tag] = str(folder)
            repeats = args.repeats or (3 if rows < 5_000_000 else 1)
            ev_runs[tag], anchor_runs[tag] = [], []
            fast = [a for a in ANCHORS if a.key in wanted and not a.slow]
            slow = [a for a in ANCHORS if a.key in wanted and a.slow]
            skipped = {
                a.key: skip_reason(a, rows, bench_home, args.slow_anchors) for a in fast + slow
            }
            for a in fast + slow:
                if skipped[a.key]:
                    anchor_runs[tag].append({"tool": a.key, "size": tag, "skipped": skipped[a.key]})
            for r in range(repeats):
                print(f"{tag}: repeat {r + 1}/{repeats}", file=sys.stderr)
                ev_runs[tag] += run_evalstore(tag, ref, cur, r)
                for a in fast:
                    if not skipped[a.key]:
                        anchor_runs[tag].append(run_anchor(a, tag, args.anchors, folder))
            for r in range(args.anchor_repeats):
                for a in slow:
                    if not skipped[a.key]:
                        print(f"{tag}: {a.key} {r + 1}/{args.anchor_repeats}", file=sys.stderr)
                        anchor_runs[tag].append(run_anchor(a, tag, args.anchors, folder))
        census: dict[str, Any] | None = None
        if not args.skip_census:
            if not args.census.exists():
                census = {"skipped": f"{args.census} is absent"}
            else:
                print("census", file=sys.stderr)
                folder = Path(tempfile.mkdtemp(prefix="evalstore-census-"))
                try:
                    census = spawn("census", dir=str(folder / "store"), census=str(args.census))
                finally:
                    shutil.rmtree(folder, ignore_errors=True)
    finally:
        if own_gen:
            shutil.rmtree(gen_dir, ignore_errors=True)
        if snapshot is not None:
            shutil.rmtree(snapshot, ignore_errors=True)

    ev = {tag: summarize_evalstore(ev_runs[tag]) for tag, _ in sizes}
    anchors = {tag: summarize_anchors(anchor_runs[tag]) for tag, _ in sizes}
    targets = check_targets(sizes, ev, anchors, census)
    info = machine(load_start)
    ran = {a.tool for tag, _ in sizes for a in ANCHORS if "wall_s" in anchors[tag].get(a.key, {})}
    info["anchors"] = anchor_versions(ran, bench_home)
    sources = sorted({r["source"] for runs in ev_runs.values() for r in runs if "source" in r})
    info["evalstore source"] = ", ".join(sources)
    paths = sorted({r["evalstore_path"] for rs in ev_runs.values() for r in rs if "source" in r})
    # said from where the children imported evalstore, not from the flag
    inside = snapshot is not None and all(Path(p).is_relative_to(snapshot) for p in paths)
    note = " (a snapshot)" if inside else " (NOT the snapshot asked for)" if snapshot else ""
    info["evalstore ran from"] = ", ".join(paths) + note
    info["report API"] = "imports" if api_error is None else f"missing ({api_error})"

    lines = ["machine: " + ", ".join(f"{k} {v}" for k, v in info.items() if k != "anchors")]
    lines += ["anchors: " + ", ".join(f"{k} {v}" for k, v in info["anchors"].items()), ""]
    if len(sources) > 1:
        lines += ["WARNING: evalstore's source changed during the run; results mix versions.", ""]
    for tag, _ in sizes:
        lines += [*size_table(tag, ev[tag], anchors[tag]), ""]
        lines += [*detail_lines(ev[tag], anchors[tag]), ""]
    if census is not None and "years" in census:
        lines += ["### census_employment_ma: 2015 (training) vs each later year", ""]
        lines += ["| year | rows | report: drift | drift(): drift | largest | prediction drift |"]
        lines += ["|---|---|---|---|---|---|"]
        for year, e in census["years"].items():
            rep, plain = e.get("report"), e["drift()"]
            rep_text = (
                (", ".join(rep["drifted_columns"]) or "none") if rep else e.get("report_error")
            )
            m = (rep or plain)["max"]
            pred = rep.get("prediction_drift") if rep else "-"
            lines.append(
                f"| {year} | {e['rows']:,} | {rep_text} | "
                f"{', '.join(plain['drifted_columns']) or 'none'} | "
                f"{m['column']} {m['method']} {m['value']:.3f} | {pred} |"
            )
        lines.append("")
    elif census is not None:
        lines += [f"census: {census.get('skipped') or census.get('error')}", ""]
    lines += ["Targets:"]
    for name, ok, value in targets:
        mark = "N/A" if ok is None else "PASS" if ok else "FAIL"
        lines.append(f"- {mark}: {name}: {value}")
    print("\n".join(lines))

    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"report-{started:%Y%m%d-%H%M%S}.json"
    payload: dict[str, Any] = {
        "started": started.isoformat(),
        "finished": datetime.now().isoformat(),
    }
    payload |= {"args": {k: str(v) for k, v in vars(args).items() if k != "child"}}
    payload |= {
        "machine": info,
        "data": data_used,
        "summary": {"evalstore": ev, "anchors": anchors},
    }
    payload |= {"census": census, "runs": {"evalstore": ev_runs, "anchors": anchor_runs}}
    payload["targets"] = [{"target": n, "pass": ok, "value": v} for n, ok, v in targets]
    payload["markdown"] = "\n".join(lines)
    path.write_text(json.dumps(payload, indent=2, default=str))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
