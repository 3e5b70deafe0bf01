"""Slice alerts on data where nothing changed: how many reports raise one.

Run from the repository root with the dev environment::

    python bench/slice_alerts.py                 # adult census (../shared/data) and synthetic
    python bench/slice_alerts.py --seeds 12

A report names its worst slice and alerts on it when its drop is more than chance among all
the slices compared (``analyses/_slice_tests.py``). This counts, on data where training and
production come from the same distribution, the reports whose slice headline is an alert,
and those the rule before it would have alerted on (the worst slice's interval excludes the
overall value and misses its value in the reference):

- **adult**: ``../shared/data/adult.parquet`` split at random, per seed: a logistic regression
  on 5 of its columns fitted on 20,000 rows (training), the other rows as production spread
  over 6 months; one report of all production and one of its last two months;
- **synthetic**: 6,000 rows a side of 8 normal features and a 6-valued segment, a score of
  three of them and labels drawn from it, the same law on both sides; one report per seed.

It prints a line per report and the counts, and writes them as JSON to
``bench/results/slice-alerts-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import evalstore as es

ROOT = Path(__file__).resolve().parents[1]
ADULT = ROOT.parent / "shared" / "data" / "adult.parquet"
ADULT_FEATURES = ["age", "education-num", "capital_gain", "capital_loss", "hours_per_week"]


def outcome(report: Any) -> dict[str, Any]:
    """The slice headline's status, and whether the rule before it would have alerted."""
    (item,) = [i for i in report.summary if i["topic"] == "slices"]
    worst = report.worst_slices(1)
    before = False
    if worst and report.slices_reference is not None:
        s = worst[0]
        ref = report.slices_reference.find(s.column, s.bin)
        held = s.ci_low is not None and s.ci_high is not None
        if ref is not None and ref.value is not None and held:
            before = bool(s.significant) and not s.ci_low <= ref.value <= s.ci_high
    return {"status": item["status"], "before": before, "text": item["text"]}


def adult_reports(
    seed: int, folder: Path, starts: tuple[str, ...] = ("2024-01-01", "2024-05-01")
) -> list[tuple[str, Any]]:
    """The adult census split at random by ``seed``: a report of production from each of
    ``starts`` against training."""
    from sklearn.linear_model import LogisticRegression

    data = pd.read_parquet(ADULT)
    x = data[ADULT_FEATURES].to_numpy(dtype=float)
    rng = np.random.default_rng(seed)
    rows = rng.permutation(len(data))
    train, prod = rows[:20000], rows[20000:]
    fitted = LogisticRegression(max_iter=1000).fit(x[train], data["income_gt_50k"].iloc[train])
    df = data.assign(
        score=fitted.predict_proba(x)[:, 1],
        pid=[f"p{i}" for i in range(len(data))],
        ts=pd.Timestamp("2024-01-01")
        + pd.to_timedelta(rng.integers(0, 180 * 86400, len(data)), "s"),
    )
    df["pred"] = (df["score"] >= 0.5).astype(int)
    schema = es.Schema(
        prediction_id="pid",
        timestamp="ts",
        prediction_score="score",
        prediction_label="pred",
        actual_label="income_gt_50k",
        excluded=["income_per_year"],
    )
    out = []
    with es.connect(folder) as store:
        m = store.model("adult", task="binary_classification")
        m.log(df.iloc[train], schema=schema, version="v1", environment="training")
        m.log(df.iloc[prod], schema=schema, version="v1", environment="production")
        for start in starts:
            current = {"environment": "production", "start": start}
            out.append((start, m.report(reference="training", current=current, progress=False)))
    return out


def synthetic_report(seed: int, folder: Path, drop: bool = False) -> Any:
    """A report of synthetic production against training drawn from the same law; with
    ``drop``, segment ``s3``'s outcomes no longer follow the score for a third of its rows
    in production (a real drop, which must alert)."""
    rng = np.random.default_rng(seed)

    def frame(prefix: str, start: str, dropped: bool) -> pd.DataFrame:
        n = 6000
        cols = {f"x{i}": rng.normal(0, 1, n) for i in range(8)}
        cols["seg"] = rng.choice([f"s{i}" for i in range(6)], n)
        score = 1 / (1 + np.exp(-(1.2 * cols["x0"] - 0.8 * cols["x1"] + 0.5 * cols["x2"])))
        label = (rng.random(n) < score).astype(int)
        if dropped:
            flip = (cols["seg"] == "s3") & (rng.random(n) < 0.35)
            label = np.where(flip, 1 - label, label)
        return pd.DataFrame(
            {
                "id": [f"{prefix}{i}" for i in range(n)],
                "ts": pd.Timestamp(start) + pd.to_timedelta(np.arange(n) * 60, unit="s"),
                **cols,
                "score": score,
                "label": label,
            }
        )

    schema = es.Schema(
        prediction_id="id", timestamp="ts", prediction_score="score", actual_label="label"
    )
    with es.connect(folder) as store:
        m = store.model("m", task="binary_classification")
        train = frame("t", "2024-01-01", False)
        m.log(train, schema=schema, version="v1", environment="training")
        prod = frame("p", "2024-02-01", drop)
        m.log(prod, schema=schema, version="v1", environment="production")
        return m.report(reference="training", current="production", progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=6, help="adult seeds (synthetic: 8)")
    args = parser.parse_args()
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="evalstore-slice-alerts-") as tmp:
        if ADULT.is_file():
            for seed in range(args.seeds):
                for start, report in adult_reports(seed, Path(tmp) / f"adult-{seed}"):
                    runs.append({"data": "adult", "seed": seed, "from": start, **outcome(report)})
        else:
            print(f"{ADULT} is absent: the adult runs are skipped", file=sys.stderr)
        for seed in range(max(8, args.seeds)):
            report = synthetic_report(seed, Path(tmp) / f"synthetic-{seed}")
            runs.append({"data": "synthetic", "seed": seed, **outcome(report)})
    for r in runs:
        print(f"{r['data']:9} seed {r['seed']} {r.get('from', ''):10} {r['status']:5} "
              f"(before: {'alert' if r['before'] else 'no alert'}) {r['text']}")  # fmt: skip
    counts = {}
    for data in ("adult", "synthetic"):
        mine = [r for r in runs if r["data"] == data]
        if mine:
            now = sum(r["status"] == "alert" for r in mine)
            before = sum(r["before"] for r in mine)
            counts[data] = {"reports": len(mine), "alerts": now, "alerts_before": before}
            print(f"{data}: {now} of {len(mine)} reports raise a slice alert "
                  f"({before} of {len(mine)} with the rule before)")  # fmt: skip
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    target = results / f"slice-alerts-{datetime.now():%Y%m%d-%H%M%S}.json"
    target.write_text(json.dumps({"counts": counts, "runs": runs}, indent=1))
    print(f"written to {target}")


if __name__ == "__main__":
    main()
