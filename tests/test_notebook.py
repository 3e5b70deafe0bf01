"""In a real Jupyter kernel (nbclient, ipykernel; no ipywidgets, as most kernels have none):
a store opens, a model logs, a report and a drift result display themselves as HTML, and
nothing errs."""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

CELLS = [
    """
import numpy as np
import pandas as pd
import evalstore as es

rng = np.random.default_rng(0)
def frame(n, start, shift):
    x = rng.normal(shift, 1, n)
    score = 1 / (1 + np.exp(-x))
    return pd.DataFrame({
        "id": [f"{start}-{i}" for i in range(n)],
        "ts": pd.Timestamp(start) + pd.to_timedelta(np.arange(n), unit="min"),
        "x": x,
        "score": score,
        "label": (rng.random(n) < score).astype(int),
    })

store = es.connect("store")
model = store.model("nb", task="binary_classification")
schema = es.Schema(prediction_id="id", timestamp="ts", features=["x"],
                   prediction_score="score", actual_label="label")
model.log(frame(2000, "2024-01-01", 0.0), schema=schema, version="v1", environment="training")
model.log(frame(2000, "2024-02-01", 0.5), schema=schema, version="v1", environment="production")
print(model.dataset().count())
""",
    """
report = model.report(reference="training", current="production")
report
""",
    """
model.drift(reference="training", current="production")
""",
]


def test_a_notebook_opens_a_store_and_displays_a_report(tmp_path: Path) -> None:
    """``es.connect`` raised in a kernel without ipywidgets (DuckDB refuses any
    progress-bar setting there), so the report's inline display was out of reach."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    outputs = [o for cell in nb.cells for o in cell.outputs]
    errors = [o for o in outputs if o["output_type"] == "error"]
    assert not errors, json.dumps(errors, indent=1)[:3000]
    printed = "".join(o.get("text", "") for o in outputs if o["output_type"] == "stream")
    assert "4000" in printed
    (shown,) = [o for o in nb.cells[1].outputs if o["output_type"] == "execute_result"]
    html = shown["data"]["text/html"]
    assert "roc_auc" in html and "training" in html and "production" in html
    # offline: plotly.js inlined (its code names URLs it never fetches here), and no tag
    # outside the scripts' code fetches anything
    markup = re.sub(r"(<script[^>]*>).*?</script>", r"\1", unescape(html), flags=re.S)
    assert "Plotly.newPlot" in unescape(html)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", markup)
    # an analysis result shows a table, not its dataclass fields
    (drift,) = [o for o in nb.cells[2].outputs if o["output_type"] == "execute_result"]
    assert drift["data"]["text/plain"].startswith("DriftResult: 1 of 1 column drifted")
    assert "<table>" in drift["data"]["text/html"] and "<td>x</td>" in drift["data"]["text/html"]
