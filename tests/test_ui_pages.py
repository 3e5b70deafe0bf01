"""The web UI over HTTP, on a real server: every state is a URL, empty states say what to
log, errors are readable pages, the cache follows new batches, nothing comes from a CDN.

(The browser tests, on the demo's data, are in test_ui_browser.py.)
"""

from __future__ import annotations

import contextlib
import copy
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

import evalstore as es
from evalstore.analyses.binning import Binning, fit_binnings
from evalstore.analyses.performance import bin_index
from evalstore.analyses.slices import slice_predicate
from server_harness import Server

START = datetime(2024, 3, 1)


def _frame(n: int, seed: int, start: datetime, days: int, prefix: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    score = rng.random(n)
    age = rng.normal(40, 12, n)
    age[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "id": [f"{prefix}{i}" for i in range(n)],
            "ts": [start + timedelta(hours=int(h)) for h in rng.integers(0, 24 * days, n)],
            "age": age,
            "plan": rng.choice(["basic", "pro", "team"], n, p=[0.6, 0.3, 0.1]),
            "score": score,
            "label": (score > 0.5).astype(int),
            "churned": (rng.random(n) < score).astype(int),
        }
    )


SCHEMA = es.Schema(
    prediction_id="id",
    timestamp="ts",
    features=["age", "plan"],
    prediction_score="score",
    prediction_label="label",
    actual_label="churned",
)
SERVING = replace(SCHEMA, actual_label=None)  # the same rows, logged before their actuals


def _churn(store: es.Store, data: dict[str, pd.DataFrame]) -> es.Model:
    """The churn model in ``store``: training, v1 and v2 in production, a training baseline."""
    churn = store.model("churn", task="binary_classification")
    churn.log(data["training"], schema=SCHEMA, version="v1", environment="training")
    churn.log(data["v1"], schema=SCHEMA, version="v1", environment="production")
    churn.log(data["v2"], schema=SCHEMA, version="v2", environment="production")
    churn.create_baseline("training", environment="training")
    return churn


@pytest.fixture(scope="module")
def data() -> dict[str, pd.DataFrame]:
    return {
        "training": _frame(600, 1, START - timedelta(days=20), 10, "t"),
        "v1": _frame(800, 2, START, 10, "p"),
        "v2": _frame(300, 3, START + timedelta(days=5), 5, "q"),
    }


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, data: dict[str, pd.DataFrame]
) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("ui") / "store"
    with es.connect(folder) as store:
        churn = store.model("churn", task="binary_classification")
        churn.log(data["training"], schema=SCHEMA, version="v1", environment="training")
        churn.log(data["v1"], schema=SCHEMA, version="v1", environment="production")
        churn.log(
            data["v2"].drop(columns="churned"),
            schema=SERVING,
            version="v2",
            environment="production",
        )
        churn.create_baseline("training", environment="training")
        store.model("empty-model", task="regression")
        blind = store.model("blind", task="binary_classification")  # no actuals, no training
        blind.log(
            data["v1"].drop(columns="churned"),
            schema=SERVING,
            version="v1",
            environment="production",
        )
    with Server(folder) as srv:
        yield srv


def get(server: Server, path: str, status: int = 200) -> str:
    r = httpx.get(server.url + path, timeout=120)
    assert r.status_code == status, (path, r.status_code, r.text[:2000])
    assert r.headers["content-type"].startswith("text/html")
    assert "Server-Timing" in r.headers and "Content-Security-Policy" in r.headers
    return r.text


def text(html: str) -> str:
    """The visible text, tags dropped and whitespace collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'")


def test_models_page_lists_every_model_with_its_volume(server: Server) -> None:
    page = text(get(server, "/"))
    for name in ("churn", "empty-model", "blind"):
        assert name in page
    assert "training 600" in page and "production 1,100" in page
    health = text(get(server, "/models/churn/health"))
    assert "roc_auc" in health and "features drifted" in health and "data-quality" in health
    assert "no inferences yet" in text(get(server, "/models/empty-model/health"))


#: the trace types the pages draw, all SVG; axis and shape types are not traces
SVG_TRACES = {"scatter", "bar", "heatmap", "histogram"}
NOT_TRACES = {"category", "date", "linear", "log", "multicategory", "line", "rect", "path"}


def test_every_page_answers_and_keeps_its_state_in_the_url(server: Server) -> None:
    query = "?environment=production&version=v1&window=day&metric=accuracy&reference=training"
    for page in ("", "/drift", "/drift/age", "/slices", "/quality", "/compare"):
        html = get(server, f"/models/churn{page}{query}")
        assert '<option value="v1" selected>' in html, page
        # every chart is SVG: WebGL traces compile code with Function(), which the
        # Content-Security-Policy blocks (no 'unsafe-eval'); the browser tests see it too
        traces = set(re.findall(r'"type":"(\w+)"', html)) - NOT_TRACES
        assert traces and traces <= SVG_TRACES, (page, traces)
        if page != "/compare":  # its own form: two selections
            assert '<option value="day" selected>' in html, page
        # the tabs link to the other pages with the same state
        assert "/models/churn/drift?environment=production&amp;version=v1&amp;window=day" in html
    overview = get(server, f"/models/churn{query}")
    assert '<option value="accuracy" selected>' in overview
    link = re.search(r'href="([^"]+)" class="share"', overview)
    assert link is not None
    shared = link.group(1).replace("&amp;", "&")
    for part in ("start=2024-03-01", "end=2024-03-11", "window=day", "metric=accuracy"):
        assert part in shared
    assert text(get(server, shared)).count("800") >= 1  # v1's 800 rows


def test_models_is_the_models_list(server: Server) -> None:
    """/models (every model's page is below it) leads to the models list, not a JSON 404."""
    r = httpx.get(server.url + "/models", timeout=30)
    assert r.status_code == 307 and r.headers["location"] == "/"
    assert "churn" in text(httpx.get(server.url + "/models", follow_redirects=True).text)


def test_default_range_and_reference(server: Server) -> None:
    page = text(get(server, "/models/churn"))
    assert "all 1,100 production rows" in page
    assert "baseline training v1" in page
    drift = text(get(server, "/models/churn/drift"))
    assert "Against the baseline training v1 (600 rows" in drift
    assert "Prediction and actual drift" in drift and "prediction_score" in drift


def test_a_slice_filters_every_page(server: Server, data: dict[str, pd.DataFrame]) -> None:
    expected = int((data["v1"]["plan"] == "pro").sum() + (data["v2"]["plan"] == "pro").sum())
    overview = get(server, "/models/churn?slice=plan:pro")
    assert f'data-rows="{expected}"' in overview
    assert "Filtered to the slice" in text(overview)
    drift = text(get(server, "/models/churn/drift?slice=plan:pro"))
    assert f"({expected:,} current rows)" in drift
    slices = get(server, "/models/churn/slices")
    assert "/models/churn?slice=plan%3Apro" in slices or "slice=plan%3Apro" in slices


def test_empty_states_say_what_to_log(server: Server) -> None:
    empty = text(get(server, "/models/empty-model"))
    assert "No inferences for empty-model yet" in empty and "model.log(" in empty
    blind = text(get(server, "/models/blind"))
    assert "No actuals yet" in blind and "model.log_actuals(" in blind
    nothing = text(get(server, "/models/blind/drift"))
    assert "Nothing to compare with" in nothing and "create_baseline" in nothing
    assert "No actuals yet" in text(get(server, "/models/blind/slices"))
    # data quality needs neither actuals nor a reference
    assert "errors" in text(get(server, "/models/blind/quality"))


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/models/nope", 404, "no model named 'nope'"),
        ("/models/churn?metric=nope", 400, "metric must be a metric of this binary_classification"),
        ("/models/churn?start=yesterday", 400, "start must be an ISO 8601 date"),
        ("/models/churn?environment=validation", 400, "environment must be an environment with"),
        ("/models/churn?version=v3", 400, "version must be a version of 'churn'"),
        ("/models/churn?slice=plan", 400, "COLUMN:BIN"),
        ("/models/churn?slice=plan:premium", 400, "slice must be a bin of 'plan'"),
        ("/models/churn/drift/nope", 400, "column must be a feature, prediction or actual"),
        ("/models/churn?start=2024-03-05&end=2024-03-01", 400, "end must be later than start"),
        (
            "/models/churn/drift?start=2023-01-01&end=2024-03-01&window=hour",
            400,
            "window must be a window of at most 1,000 points over 425 days; got 'hour'. Per "
            "hour that is about 10,202 points: pick window=day, or a range of at most 41 days.",
        ),
    ],
)
def test_errors_are_readable_pages(server: Server, path: str, status: int, says: str) -> None:
    page = text(get(server, path, status))
    assert says in page, page
    assert "All models" in page


def test_drift_that_cannot_be_measured_says_so(server: Server) -> None:
    """A slice where the reference has no row (2 current ages lie below the training's
    least) or neither side has one: no "0 of 2 features drifted", which reads as "nothing
    drifted", but what is missing and what to do."""
    below = text(get(server, "/models/churn/drift?slice=age:below"))
    assert "The reference has no rows here" in below
    assert "has no row in age = below, where 2 current rows are" in below
    assert "features drifted" not in below and "Remove the filter" in below
    above = text(get(server, "/models/churn/drift?slice=age:above"))
    assert "No rows on either side" in above and "features drifted" not in above
    overview = text(get(server, "/models/churn?slice=age:above"))
    assert "No rows in this slice and range" in overview
    assert "No row of this range falls in age = above" in overview
    # the column's page offers to filter to a bin with rows only
    column = get(server, "/models/churn/drift/age")
    assert "slice=age%3Abelow" in column and "slice=age%3Aabove" not in column
    assert "no rows" in text(column)


def test_a_page_that_does_not_exist_is_a_readable_page(server: Server) -> None:
    """A browser asking for a page the UI does not have gets the UI's error page; the API,
    and clients that do not ask for HTML, get the API's JSON error."""
    browser = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    for path in ("/nope", "/models/churn/nope"):
        r = httpx.get(server.url + path, headers=browser, timeout=30)
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
        page = text(r.text)
        assert f"There is no page {path}." in page and "All models" in page
    api = httpx.get(server.url + "/api/v1/nope", headers=browser, timeout=30)
    assert api.status_code == 404 and api.json()["error"]["type"] == "NotFound"
    plain = httpx.get(server.url + "/models/churn/nope", timeout=30)
    assert plain.status_code == 404 and "no endpoint GET" in plain.json()["error"]["message"]


def test_windows_with_too_many_points_are_offered_disabled(server: Server) -> None:
    """Over a long range, the windows of more than MAX_WINDOWS points are in the picker but
    disabled (the URL with one gets the error above); over 40 days, hours are offered."""
    from evalstore.ui.state import MAX_WINDOWS, window_count

    long = get(server, "/models/churn?start=2023-01-01&end=2024-03-01&window=day")
    assert '<option value="hour" disabled>hour (too many for this range)</option>' in long
    assert '<option value="day" selected>day</option>' in long
    short = get(server, "/models/churn/quality?start=2024-01-01&end=2024-02-10&window=hour")
    assert '<option value="hour" selected>hour</option>' in short
    hours = window_count(datetime(2024, 1, 1), datetime(2024, 2, 10), "hour")
    assert hours == 40 * 24 + 2 <= MAX_WINDOWS


def test_new_batches_reach_the_pages(server: Server, data: dict[str, pd.DataFrame]) -> None:
    before = get(server, "/models/churn?environment=training")
    assert 'data-rows="600"' in before
    extra = _frame(50, 9, START - timedelta(days=20), 10, "x")
    with es.connect(server.url) as remote:
        remote.model("churn").log(extra, schema=SCHEMA, version="v1", environment="training")
    # viewed before: answered at once from the previous data, with a notice, while the
    # page is computed again in the background
    stale = get(server, "/models/churn?environment=training")
    assert 'data-rows="600"' in stale and 'id="stale-banner"' in stale
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        after = get(server, "/models/churn?environment=training")
        if 'id="stale-banner"' not in after:
            break
        time.sleep(0.2)
    assert 'data-rows="650"' in after and 'id="stale-banner"' not in after
    # a page not viewed before is computed for the request: never stale
    fresh = get(server, "/models/churn/quality?environment=training")
    assert 'id="stale-banner"' not in fresh


def test_assets_come_from_this_server(server: Server) -> None:
    for path in ("/", "/models/churn", "/models/churn/drift", "/models/churn/slices"):
        html = get(server, path)
        for url in re.findall(r'(?:src|href)="([^"]+)"', html):
            assert url.startswith(("/", "#", "?")), (path, url)
    js = httpx.get(server.url + "/static/vendor/plotly.min.js", timeout=60)
    assert js.status_code == 200 and "plotly" in js.text[:2000].lower()
    for asset in ("/static/ui.js", "/static/ui.css", "/static/favicon.svg", "/favicon.ico"):
        assert httpx.get(server.url + asset, timeout=60).status_code == 200, asset


def test_slice_predicate_is_bin_index(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    n = 2000
    x = rng.normal(0, 1, n)
    x[rng.random(n) < 0.05] = np.nan
    frame = pd.DataFrame(
        {
            "id": [f"i{i}" for i in range(n)],
            "ts": [START] * n,
            "x": x,
            "c": rng.choice(["a", "b", "c", "d", None], n, p=[0.4, 0.3, 0.2, 0.05, 0.05]),
            "y": rng.random(n),
        }
    )
    schema = es.Schema(
        prediction_id="id", timestamp="ts", features=["x", "c"], prediction_score="y"
    )
    with es.connect(tmp_path / "store") as store:
        model = store.model("m", task="regression")
        model.log(frame.iloc[:1000], schema=schema, version="v1", environment="training")
        model.log(frame.iloc[1000:], schema=schema, version="v1", environment="production")
        reference = model.dataset(environment="training")
        bins = fit_binnings(reference, ["x", "c"])
        (small,) = fit_binnings(reference, ["c"], {"c": Binning(top_k=2)}).values()
        current = model.dataset(environment="production")
        t = current.table
        for column, b in (("x", bins["x"]), ("c", bins["c"]), ("c", small)):
            index = bin_index(t, column, b)
            for i, label in enumerate(b.labels):
                expected = current.execute((index == i).sum().name("n")).column(0)[0].as_py()
                got = (
                    current.execute(slice_predicate(t, b, label).sum().name("n"))
                    .column(0)[0]
                    .as_py()
                )
                assert (got or 0) == (expected or 0), (column, label)


def test_bin_index_is_built_once_per_bins_and_template(tmp_path: Path) -> None:
    """The same bins on the same table give the same expression (built once: 25 columns'
    took 0.16 s per slices view); other edges, or categories of another type, do not."""
    frame = pd.DataFrame(
        {"id": ["a", "b", "c"], "ts": [START] * 3, "x": [0.1, 0.5, 0.9], "f": [1, 0, 1],
         "y": [0.2, 0.4, 0.6]}
    )  # fmt: skip
    schema = es.Schema(
        prediction_id="id", timestamp="ts", features=["x", "f"], prediction_score="y"
    )
    with es.connect(tmp_path / "store") as store:
        model = store.model("m", task="regression")
        model.log(frame, schema=schema, version="v1", environment="production")
        t = model.dataset(environment="production").table
        ds = model.dataset(environment="production")
        bins = fit_binnings(ds, ["x"], {"x": Binning(bins=2)})["x"]
        again = fit_binnings(ds, ["x"], {"x": Binning(bins=2)})["x"]
        other = fit_binnings(ds, ["x"], {"x": Binning(bins=3)})["x"]
        assert bin_index(t, "x", bins) is bin_index(t, "x", again)
        assert not bin_index(t, "x", bins).equals(bin_index(t, "x", other))
        ones = fit_binnings(ds, ["f"], {"f": Binning(kind="categorical")})["f"]
        flags = copy.copy(ones)
        flags.categories_ = tuple(bool(c) for c in ones.categories_ or ())
        assert ones.categories_ == flags.categories_  # 1 == True, 0 == False
        bin_index(t, "f", ones)  # kept; flags are not numbers: no kept expression answers
        with pytest.raises(es.ParameterError, match="categories compare with the float64"):
            bin_index(t, "f", flags)


def test_cache_computes_a_key_once_and_forgets_old_generations() -> None:
    import threading

    from evalstore.ui.cache import ResultCache

    cache = ResultCache(max_entries=8)
    calls: list[int] = []
    gate = threading.Event()

    def slow() -> int:
        calls.append(1)
        gate.wait(5)
        return 42

    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get(("m", 1, "x"), slow)))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    time.sleep(0.2)
    gate.set()
    for t in threads:
        t.join(5)
    assert results == [42] * 4 and len(calls) == 1  # single flight

    def fail() -> int:
        raise ValueError("boom")

    with pytest.raises(ValueError):
        cache.get(("m", 1, "y"), fail)
    assert cache.get(("m", 1, "y"), lambda: 7) == 7  # a failure is not kept
    assert cache.generation_seen("m", 1) is False
    assert cache.generation_seen("m", 1) is True
    assert cache.generation_seen("m", 2) is False  # new data: generation 1 is dropped
    assert cache.peek(("m", 1, "x")) is None and len(cache) == 0


@pytest.fixture(scope="module")
def churn_store(
    tmp_path_factory: pytest.TempPathFactory, data: dict[str, pd.DataFrame]
) -> Iterator[es.Store]:
    with es.connect(tmp_path_factory.mktemp("views") / "store") as store:
        _churn(store, data)
        yield store


def _plain(result: Any) -> Any:
    return None if result is None else result.to_dict()


@pytest.mark.parametrize("method", [None, "ks"])
@pytest.mark.parametrize("start", [None, START + timedelta(days=60)])  # the latter: no rows
def test_drift_families_is_the_separate_calls(
    churn_store: es.Store, method: str | None, start: datetime | None
) -> None:
    from evalstore.analyses.drift import drift, drift_families, drift_over_time

    model = churn_store.model("churn")
    reference = model.dataset(environment="training")
    current = model.dataset(environment="production", start=start)
    families = [["age", "plan"], ["prediction_score", "actual_label"]]
    bins = fit_binnings(reference, [c for f in families for c in f])
    found, daily = drift_families(reference, current, families, "day", method=method, binnings=bins)
    for family, result in zip(families, found, strict=True):
        alone = drift(reference, current, family, method=method, binnings=bins)
        assert result.to_dict() == alone.to_dict() or _close(result, alone)
    columns = [c for f in families for c in f]
    alone_daily = drift_over_time(reference, current, "day", columns, method, binnings=bins)
    assert _plain(daily) == _plain(alone_daily)
    ungrouped, none = drift_families(reference, current, families, method=method, binnings=bins)
    assert none is None
    assert [r.to_dict() for r in ungrouped] == [r.to_dict() for r in found] or all(
        _close(a, b) for a, b in zip(ungrouped, found, strict=True)
    )
    with pytest.raises(es.ParameterError, match="families"):
        drift_families(reference, current, [[]], binnings=bins)


def _close(a: Any, b: Any) -> bool:
    """Equal but for the last bits of float sums (ks: the range sums of fine columns)."""
    assert [c.column for c in a] == [c.column for c in b]
    for x, y in zip(a, b, strict=True):
        assert (x.drifted, x.n_current, x.n_reference) == (y.drifted, y.n_current, y.n_reference)
        assert x.value == pytest.approx(y.value, rel=1e-9, nan_ok=True)
        assert x.p_value == pytest.approx(y.p_value, rel=1e-9, nan_ok=True)
        assert x.bins == y.bins
    return True


def test_views_share_one_drift_scan_and_count_from_the_facts(churn_store: es.Store) -> None:
    """The health summary, the drift page and a column's page read one cached scan, whose
    results are those of drift() and drift_over_time(); a view's rows need no query."""
    from evalstore.analyses.drift import drift, drift_over_time
    from evalstore.ui.cache import ResultCache
    from evalstore.ui.views import Views

    views = Views(churn_store, ResultCache())
    facts = views.facts("churn")
    for query in ({}, {"version": "v2", "window": "hour"}, {"slice": "plan:pro"}):
        view = views.resolve(facts, query)
        ref = views.compared(facts, view)  # with a slice: the reference's rows in it
        assert ref is not None
        current = views.current(facts, view)
        found, preds = views.drift(facts, view)
        assert found is not None and preds is not None
        features = [c for c in facts.features if c in ref.binnings]
        predicted = [c for c in facts.predictions if c in ref.binnings]
        assert (
            found.to_dict()
            == drift(ref.dataset, current, features, binnings=ref.binnings).to_dict()
        )
        assert (
            preds.to_dict()
            == drift(ref.dataset, current, predicted, binnings=ref.binnings).to_dict()
        )
        misses = views.cache.misses
        over_time = views.drift_over_time(facts, view)
        assert views.cache.misses == misses  # the same entry
        assert _plain(over_time) == _plain(
            drift_over_time(
                ref.dataset, current, view.window, features + predicted, binnings=ref.binnings
            )
        )
        assert views.rows(facts, view) == current.count()
    health = views.health(facts)
    assert health.drifted == views.drift(facts, health.view)[0].drifted_columns  # type: ignore[union-attr]


def test_health_reads_the_drift_of_its_range_without_its_windows(churn_store: es.Store) -> None:
    """A model's health shows no drift over time: on its own it computes the drift of its
    range alone (no entry of the drift page), equal to drift(); where the drift page's
    entry is computed, it reads that one and computes none."""
    from evalstore.analyses.drift import drift
    from evalstore.ui.cache import ResultCache
    from evalstore.ui.views import Views

    views = Views(churn_store, ResultCache())
    facts = views.facts("churn")
    health = views.health(facts)
    kinds = {key[2] for key in views.cache._entries}
    assert "drift-range" in kinds and "drift" not in kinds
    ref = views.compared(facts, health.view)
    assert ref is not None
    current = views.current(facts, health.view)
    for found, family in zip(
        views.drift_summary(facts, health.view), (facts.features, facts.predictions), strict=True
    ):
        columns = [c for c in family if c in ref.binnings]
        assert found is not None and columns
        assert (
            found.to_dict() == drift(ref.dataset, current, columns, binnings=ref.binnings).to_dict()
        )
    assert health.drifted == views.drift_summary(facts, health.view)[0].drifted_columns  # type: ignore[union-attr]

    paged = Views(churn_store, ResultCache())
    facts = paged.facts("churn")
    page = paged.drift(facts, paged.resolve(facts, {}))
    assert paged.health(facts).drifted == page[0].drifted_columns  # type: ignore[union-attr]
    assert "drift-range" not in {key[2] for key in paged.cache._entries}


def test_the_metric_over_time_is_on_the_slices_score_bins(
    churn_store: es.Store, data: dict[str, pd.DataFrame]
) -> None:
    """The overview's AUC per window is performance() on the slices' 2^10 score bins (as a
    report's over time), each within its error bound of scikit-learn's exact AUC."""
    from sklearn.metrics import roc_auc_score

    from evalstore.analyses.performance import performance
    from evalstore.analyses.slices import SCORE_BINS
    from evalstore.ui.cache import ResultCache
    from evalstore.ui.views import Views

    views = Views(churn_store, ResultCache())
    facts = views.facts("churn")
    view = views.resolve(facts, {"version": "v1", "metric": "roc_auc", "window": "day"})
    found = views.over_time(facts, view)
    current = views.current(facts, view)
    positive = views.positive_class(facts)
    assert (
        found.to_dict()
        == (
            performance(
                current, ["roc_auc"], by="day", positive_class=positive, score_bins=SCORE_BINS
            )
        ).to_dict()
    )
    frame = data["v1"].assign(day=data["v1"]["ts"].dt.floor("D"))
    days = [r for r in found.rows if r["value"] is not None]
    assert len(days) == 10
    for row in days:
        rows = frame[frame["day"] == pd.Timestamp(row["day"]).tz_localize(None)]
        exact = roc_auc_score(rows["churned"] == found.positive_class, rows["score"])
        bound = row["detail"]["error_bound"]
        assert row["detail"]["bins"] == SCORE_BINS
        assert 0 <= bound < 0.01
        assert abs(row["value"] - exact) <= bound + 1e-12


def test_health_computes_its_quality_and_drift_ahead_on_other_threads(
    churn_store: es.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Views.ahead: the health summary's data quality and drift are computed on the views'
    threads, once, while it computes the performance; its counts are those of quality().
    Its quality is without the details no check needs, unless the quality page's is
    computed: then it reads that one."""
    import threading

    from evalstore.analyses.quality import quality
    from evalstore.ui.cache import ResultCache
    from evalstore.ui.views import Views

    views = Views(churn_store, ResultCache())
    threads: dict[str, list[str]] = {"quality_issues": [], "drift_summary": []}
    for name in threads:
        original = getattr(Views, name)

        def traced(self: Views, *args: Any, _name: str = name, _f: Any = original) -> Any:
            threads[_name].append(threading.current_thread().name)
            return _f(self, *args)

        monkeypatch.setattr(Views, name, traced)
    facts = views.facts("churn")
    health = views.health(facts)
    for name, seen in threads.items():
        assert any(t.startswith("evalstore-ui-views") for t in seen), (name, seen)
    assert views.cache.misses == len({k for k in views.cache._entries})  # each key once
    ref = views.reference(facts, health.view)
    assert ref is not None
    checked = quality(
        views.current(facts, health.view), ref.baseline.expectations_, by=health.view.window
    )
    assert (health.errors, health.warnings) == (len(checked.errors), len(checked.warnings))
    kinds = {key[2] for key in views.cache._entries}
    assert "quality-issues" in kinds and "quality" not in kinds
    light = views.quality_issues(facts, health.view)
    assert light.issues == checked.issues and light.columns[0].distinct is None

    paged = Views(churn_store, ResultCache())
    facts = paged.facts("churn")
    page = paged.quality(facts, paged.resolve(facts, {}))
    assert paged.quality_issues(facts, paged.resolve(facts, {})) is page
    again = paged.health(facts)
    assert (again.errors, again.warnings) == (health.errors, health.warnings)
    assert "quality-issues" not in {key[2] for key in paged.cache._entries}


def test_warming_collects_then_freezes_what_the_server_keeps(
    tmp_path: Path, data: dict[str, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After warm(), the objects alive are frozen (later full collections skip them), once
    a full collection freed what was frozen and is garbage now (``evalstore/_gc.py``)."""
    import gc
    import weakref

    from evalstore import _gc
    from evalstore.ui.cache import ResultCache
    from evalstore.ui.views import Views

    class Node:
        other: Any = None

    monkeypatch.setattr(_gc, "_last_refreeze", [])  # as in a server that has not warmed yet
    with es.connect(tmp_path / "store") as store:
        churn = _churn(store, data)
        assert churn is not None
        first, second = Node(), Node()
        first.other, second.other = second, first
        gone = weakref.ref(first)
        gc.freeze()  # a cycle frozen with the rest, then garbage: only warm()'s collection frees it
        del first, second
        gc.collect()
        assert gone() is not None
        Views(store, ResultCache()).warm("churn")
        assert gone() is None
        assert gc.get_freeze_count() > 0
        assert _gc._last_refreeze


def test_the_warmer_keeps_the_hourly_quality_of_the_whole_history(
    tmp_path: Path, data: dict[str, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After warm(), data quality by the hour over whole hours of the history reads none of
    its distinct counts and repeated ids from the rows (the profiles keep each hour's), and
    equals quality read from the rows."""
    from evalstore.analyses.binning import _profiled
    from evalstore.analyses.quality import _scan, quality
    from evalstore.ui.cache import ResultCache
    from evalstore.ui.views import Views

    with es.connect(tmp_path / "store") as store:
        assert store._engine.keep_profiles()
        churn = _churn(store, data)
        views = Views(store, ResultCache())
        views.warm("churn")
        read: list[str] = []
        for module, name in ((_profiled, "_rows_of"), (_scan, "_repeats")):
            original = getattr(module, name)

            def counted(*args: Any, _f: Any = original, _n: str = name) -> Any:
                read.append(_n)
                return _f(*args)

            monkeypatch.setattr(module, name, counted)
        expectations = churn.baseline("training").expectations_
        ds = churn.dataset(
            environment="production",
            start=START + timedelta(days=4, hours=5),
            end=START + timedelta(days=7, hours=7),
        )  # fmt: skip (v1 and v2)
        kept = quality(ds, expectations, by="hour")
        assert read == []
        profiles = store._engine.profiles
        assert profiles is not None
        profiles.enabled = False
        rows = quality(ds, expectations, by="hour")
        assert "_repeats" in read  # the rows were read this time
        assert kept.to_dict() == rows.to_dict()


def test_the_warmer_keeps_each_versions_quality(
    tmp_path: Path, data: dict[str, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After warm(), a batch into the last day of v1: the data quality of v2 alone reads
    none of its days' distinct counts from the rows, that of v1 the batch's day alone (the
    store kept each version's days); both equal quality read from the rows."""
    from evalstore.analyses.binning import _profiled
    from evalstore.ui.cache import ResultCache
    from evalstore.ui.views import Views

    with _warmed_churn(tmp_path, data) as (store, churn):
        read: list[tuple[Any, Any]] = []
        original = _profiled._rows_of

        def counted(ds: Any, *args: Any) -> Any:
            read.append((ds.start, ds.end))
            return original(ds, *args)

        monkeypatch.setattr(_profiled, "_rows_of", counted)
        last = _late_batch(churn, "v1")
        views = Views(store, ResultCache())
        facts = views.facts("churn")
        found = {
            v: views.quality(facts, views.resolve(facts, {"version": v})) for v in ("v2", "v1")
        }
        assert read == [(last, last + timedelta(days=1))]
        profiles = store._engine.profiles
        assert profiles is not None
        profiles.enabled = False
        fresh = Views(store, ResultCache())
        for version, got in found.items():
            want = fresh.quality(facts, fresh.resolve(facts, {"version": version}))
            assert got.to_dict() == want.to_dict(), version


def test_the_warmer_reads_only_the_versions_of_the_default_environment(
    tmp_path: Path, data: dict[str, pd.DataFrame]
) -> None:
    """A version with training rows only (v0): warm() reads each production version's
    quality and metrics, and asks nothing of v0 in production (which has no rows there)."""
    from evalstore.ui.cache import ResultCache
    from evalstore.ui.views import Views

    with es.connect(tmp_path / "store") as store:
        assert store._engine.keep_profiles()
        churn = _churn(store, data)
        churn.log(data["training"].head(50), schema=SCHEMA, version="v0", environment="training")
        views = Views(store, ResultCache())
        views.warm("churn")
        facts = views.facts("churn")
        assert "v0" in facts.versions
        kept = views.quality(facts, views.resolve(facts, {"version": "v2"}))
        assert sum(c.n for c in kept.columns if c.column == "age") == len(data["v2"])


def _slice_days_read(monkeypatch: pytest.MonkeyPatch, module: Any = None) -> list[tuple[Any, ...]]:
    """The (versions, start, end) of every read of the slices' days from the rows, from now
    (of the days of ``module``: the performance's, ``analyses._days``)."""
    from evalstore.analyses import slices as slices_module

    read: list[tuple[Any, ...]] = []
    module = module or slices_module
    real = module.by_pair_windows

    def spy(ds: Any, key: Any, columns: Any, by: str, compute: Any, fill: bool) -> Any:
        def recorded(part: Any) -> Any:
            read.append((tuple(part.versions), part.start, part.end))
            return compute(part)

        return real(ds, key, columns, by, recorded, fill)

    monkeypatch.setattr(module, "by_pair_windows", spy)
    return read


@contextlib.contextmanager
def _warmed_churn(
    tmp_path: Path, data: dict[str, pd.DataFrame]
) -> Iterator[tuple[es.Store, es.Model]]:
    """The churn model in a store that keeps profiles, after warm()."""
    from evalstore.ui.cache import ResultCache
    from evalstore.ui.views import Views

    with es.connect(tmp_path / "store") as store:
        assert store._engine.keep_profiles()
        churn = _churn(store, data)
        Views(store, ResultCache()).warm("churn")
        yield store, churn


def _late_batch(churn: es.Model, version: str) -> datetime:
    """A batch of 50 rows of ``version`` without actuals on the churn data's last day, which
    it returns."""
    last = START + timedelta(days=9)
    more = _frame(50, 12, last, 1, "late")
    churn.log(
        more.drop(columns="churned"), schema=SERVING, version=version, environment="production"
    )
    return last


def test_the_warmer_keeps_four_weeks_of_slices_and_the_accuracys(
    tmp_path: Path, data: dict[str, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a history longer than the default view (its last days, as on a large store),
    warm() keeps the slices' days of the last ``SLICE_DAYS`` of every version, and the
    accuracy's: after a batch into the last day, the days before the default range read
    nothing, the accuracy's view (and precision's, which asks the same counts) reads that
    day alone; each equals the slices read from the rows."""
    from evalstore.ui import state
    from evalstore.ui.cache import ResultCache
    from evalstore.ui.views import SLICE_DAYS, Views

    monkeypatch.setattr(state, "FULL_RANGE_ROWS", 100)  # the default view: the last 7 days
    with _warmed_churn(tmp_path, data) as (store, churn):
        read = _slice_days_read(monkeypatch)
        last = _late_batch(churn, "v2")
        views = Views(store, ResultCache())
        facts = views.facts("churn")
        default = views.resolve(facts, {})
        assert default.start == START + timedelta(days=3) and SLICE_DAYS >= 10
        before = {"start": "2024-03-01", "end": "2024-03-04"}
        queries = [before, {"metric": "accuracy"}, {"metric": "precision"}]
        found = [views.slices(facts, views.resolve(facts, q)) for q in queries]
        assert read == [(("v2",), last, last + timedelta(days=1))]
        assert found[0] is not None and found[0].queries == 0  # every day kept
        profiles = store._engine.profiles
        assert profiles is not None
        profiles.enabled = False
        fresh = Views(store, ResultCache())
        for query, got in zip(queries, found, strict=True):
            want = fresh.slices(facts, fresh.resolve(facts, query))
            assert got is not None and want is not None
            assert got.to_dict() == want.to_dict(), query


def test_the_warmer_keeps_the_days_of_the_health_metric_and_the_versions_metrics(
    tmp_path: Path, data: dict[str, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After warm(), a batch into the last day of v1: the health page's metric, and a
    comparison of v1 with v2 over their last ``SLICE_DAYS`` (longer than the default view),
    each read that day of v1 alone (``analyses/_days.py``), and equal what the rows give."""
    from evalstore.analyses import _days
    from evalstore.ui import state
    from evalstore.ui.cache import ResultCache
    from evalstore.ui.compare import Side, compare
    from evalstore.ui.views import Views

    monkeypatch.setattr(state, "FULL_RANGE_ROWS", 100)  # the default view: the last 7 days
    with _warmed_churn(tmp_path, data) as (store, churn):
        read = _slice_days_read(monkeypatch, _days)
        last = _late_batch(churn, "v1")
        views = Views(store, ResultCache())
        facts = views.facts("churn")
        assert views.resolve(facts, {}).start == START + timedelta(days=3)
        health = views.health(facts)
        assert read == [(("v1",), last, last + timedelta(days=1))]
        a, b = (Side("production", v, START, None) for v in ("v1", "v2"))
        both = compare(views, facts, a, b)
        # its metrics (every default one) are days of their own: that day again
        assert read == [(("v1",), last, last + timedelta(days=1))] * 2
        profiles = store._engine.profiles
        sides = (both.performance_a, both.performance_b)
        assert profiles is not None and None not in sides
        profiles.enabled = False
        fresh = Views(store, ResultCache())
        want = fresh.health(facts)
        assert health.metric_value == pytest.approx(want.metric_value, rel=1e-12)
        assert health.rows == want.rows and health.without_actual == want.without_actual
        again = compare(fresh, facts, a, b)
        others = (again.performance_a, again.performance_b)
        for got, expected in zip(sides, others, strict=True):
            assert (
                got is not None and expected is not None and len(got.rows) == len(expected.rows) > 1
            )
            for x, y in zip(got.rows, expected.rows, strict=True):
                assert (x["metric"], x["n"]) == (y["metric"], y["n"])
                assert x["value"] == pytest.approx(y["value"], rel=1e-12), x["metric"]


def test_the_warmer_counts_the_reference_in_the_worst_slices(
    tmp_path: Path, data: dict[str, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After warm(), a page sliced on one of the worst slices the slices page lists, after
    a batch, counts none of the reference's rows (the store kept their counts in the slice),
    and its reference value equals the one measured from the rows (and scikit-learn's)."""
    from sklearn.metrics import roc_auc_score

    from evalstore.ui import views as views_module
    from evalstore.ui.cache import ResultCache
    from evalstore.ui.views import WARM_SLICES, Views
    from test_performance import binning_labels

    with es.connect(tmp_path / "store") as store:
        assert store._engine.keep_profiles()
        churn = _churn(store, data)
        warmed = Views(store, ResultCache())
        warmed.warm("churn")
        weak = warmed.weak_slices(warmed.facts("churn"), warmed.resolve(warmed.facts("churn"), {}))
        assert len(weak) >= WARM_SLICES
        counted: list[Any] = []
        real = views_module.recount

        def spy(*args: Any, **kwargs: Any) -> Any:
            counted.append(args)
            return real(*args, **kwargs)

        monkeypatch.setattr(views_module, "recount", spy)
        _late_batch(churn, "v1")
        views = Views(store, ResultCache())
        facts = views.facts("churn")
        worst = weak[0]
        sliced = views.resolve(facts, {"slice": f"{worst.column}:{worst.bin}"})
        value = views.reference_value(facts, sliced)
        assert counted == []
        beyond = weak[WARM_SLICES] if len(weak) > WARM_SLICES else None
        if beyond is not None:  # a slice the warmer did not count: read now
            views.reference_value(
                facts, views.resolve(facts, {"slice": f"{beyond.column}:{beyond.bin}"})
            )
            assert len(counted) == 1
        profiles = store._engine.profiles
        assert profiles is not None
        profiles.enabled = False
        fresh = Views(store, ResultCache())
        assert fresh.reference_value(facts, sliced) == value
        training = data["training"]
        binning = fresh.slice_binnings(facts, sliced)[worst.column]
        inside = training[binning_labels(training[worst.column], binning) == worst.bin]
        assert len(inside) and value == pytest.approx(
            roc_auc_score(inside["churned"], inside["score"]), abs=1e-4
        )


def test_the_warmer_keeps_the_days_of_the_default_slices(
    tmp_path: Path, data: dict[str, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After warm(), the default view's slices after a batch into its last day read that
    day of that version alone (the profiles keep the others), and equal the slices read
    from the rows; the view of one version reads none of its days."""
    from evalstore.ui.cache import ResultCache
    from evalstore.ui.views import Views

    with _warmed_churn(tmp_path, data) as (store, churn):
        read = _slice_days_read(monkeypatch)
        last = _late_batch(churn, "v1")
        views = Views(store, ResultCache())
        facts = views.facts("churn")
        view = views.resolve(facts, {})
        found = views.slices(facts, view)
        assert read == [(("v1",), last, last + timedelta(days=1))]
        v2 = views.slices(facts, views.resolve(facts, {"version": "v2"}))
        assert len(read) == 1
        profiles = store._engine.profiles
        assert profiles is not None and found is not None and v2 is not None
        profiles.enabled = False
        fresh = Views(store, ResultCache())
        assert found.to_dict() == fresh.slices(facts, view).to_dict()
        on_v2 = fresh.slices(facts, fresh.resolve(facts, {"version": "v2"}))
        assert on_v2 is not None and v2.to_dict() == on_v2.to_dict()


def test_compare_counts_side_a_on_the_baselines_bins(churn_store: es.Store) -> None:
    """v1 against v2: the drift from A to B on the stored baseline's bins, with A's own
    counts as the reference (numpy-counted), equal to drift() on those bins."""
    from evalstore.analyses.binning import histograms, recount
    from evalstore.analyses.drift import drift
    from evalstore.ui.cache import ResultCache
    from evalstore.ui.compare import Side, compare
    from evalstore.ui.views import Views

    views = Views(churn_store, ResultCache())
    facts = views.facts("churn")
    model = churn_store.model("churn")
    a, b = Side("production", "v1", None, None), Side("production", "v2", None, None)
    found = compare(views, facts, a, b)
    ds_a = model.dataset(environment="production", version="v1")
    ds_b = model.dataset(environment="production", version="v2")
    frozen = model.baseline("training").binnings_
    bins = recount(ds_a, {c: frozen[c] for c in facts.features})
    rows = ds_a.to_pandas()
    for c in facts.features:
        assert bins[c].edges_ == frozen[c].edges_ and bins[c].categories_ == frozen[c].categories_
        counts = np.asarray(bins[c].reference_counts_)
        assert counts.sum() == len(rows) and list(counts) == list(
            histograms(ds_a, {c: frozen[c]})[c]
        )
        if frozen[c].kind_ == "categorical":
            labels = list(frozen[c].categories_ or ())
            expected = [int((rows[c] == v).sum()) for v in labels]
            assert list(counts[: len(labels)]) == expected
        else:
            x = rows[c].to_numpy(dtype=float)
            v, e = x[~np.isnan(x)], list(frozen[c].edges_ or ())
            inner = [int(((v >= e[0]) & (v <= e[1])).sum())] + [
                int(((v > lo) & (v <= hi)).sum()) for lo, hi in pairwise(e[1:])
            ]
            below, above = int((v < e[0]).sum()), int((v > e[-1]).sum())
            assert list(counts) == [below, *inner, above, int(np.isnan(x).sum())]
    assert found.drift is not None
    alone = drift(ds_a, ds_b, facts.features, binnings=bins)
    assert found.drift.to_dict() == alone.to_dict()
    assert all(c.n_reference == len(rows) for c in found.drift)


def test_compare_of_two_versions_counts_their_new_hours_in_one_scan(
    tmp_path: Path, data: dict[str, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    """v1 against v2 over the same days, after a batch of each: the hours the profiles lack
    are counted for both versions, and for the columns actuals change with the others, by
    one query (not one per side, nor one per part), and the drift equals the drift read
    from the rows; a store that keeps no profiles reads each side once."""
    from evalstore.ui.cache import ResultCache
    from evalstore.ui.compare import Side, compare
    from evalstore.ui.views import Views

    with _warmed_churn(tmp_path, data) as (store, churn):
        day = _late_batch(churn, "v1")
        _late_batch(churn, "v2")
        engine = store._engine
        runs: list[str] = []
        real = engine._run
        monkeypatch.setattr(engine, "_run", lambda sql: runs.append(sql) or real(sql))
        views = Views(store, ResultCache())
        facts = views.facts("churn")
        a, b = Side("production", "v1", day, None), Side("production", "v2", day, None)
        found = compare(views, facts, a, b)
        hourly = [sql for sql in runs if "DATE_TRUNC('HOUR'" in sql]
        assert len(hourly) == 1 and "'v1', 'v2'" in hourly[0]
        assert '"actual_label"' in hourly[0] and '"age"' in hourly[0]
        store._engine.keep_profiles(False)
        runs.clear()
        plain = compare(Views(store, ResultCache()), views.facts("churn"), a, b)
        assert runs and not [sql for sql in runs if "'v1', 'v2'" in sql]  # no profiles: no union
        assert found.drift is not None and plain.drift is not None
        assert found.drift.to_dict() == plain.drift.to_dict() or _close(found.drift, plain.drift)
        assert found.rows_a == plain.rows_a and found.rows_b == plain.rows_b


def _compare_rows(page: str) -> tuple[int, int]:
    cell = r"<td class=\"num\">([\d,]+)</td>"
    found = re.search(r"<td>rows</td>" + cell + cell, page)
    assert found is not None, page[:2000]
    return int(found.group(1).replace(",", "")), int(found.group(2).replace(",", ""))


def test_compare_honours_the_slice_on_both_sides(
    server: Server, data: dict[str, pd.DataFrame]
) -> None:
    """Clicking a slice, then Compare: both sides hold only the slice's rows (the banner says
    every page does), and the form and its links keep the slice."""
    pro = {k: int((f["plan"] == "pro").sum()) for k, f in data.items()}
    sides = "a_environment=production&a_version=v1&b_environment=production&b_version=v2"
    whole = get(server, f"/models/churn/compare?{sides}")
    assert _compare_rows(whole) == (800, 300)
    sliced = get(server, f"/models/churn/compare?{sides}&slice=plan:pro")
    assert _compare_rows(sliced) == (pro["v1"], pro["v2"])
    assert 'name="slice" value="plan:pro"' in sliced  # the form keeps it
    share = re.search(r'href="([^"]+)" class="share"', sliced)
    assert share is not None and "slice=plan%3Apro" in share.group(1)
    # both sides hold one bin of plan: it cannot drift, and is not counted as drifted
    row = re.search(r"<tr class=\"(\w*)\"><td>plan</td>", sliced)
    assert row is not None and row.group(1) == ""
    # the training rows (side A) hold no age above their own maximum: said as such, on the
    # page with its form and presets (the way out), and a link to the sides without the slice
    page = get(server, "/models/churn/compare?slice=age:above")
    empty = text(page)
    assert "Nothing to compare" in empty and "No rows for" in empty
    assert "in the slice age = above" in empty and "compare without the slice" in empty
    assert 'id="compare-form"' in page and "Presets:" in empty
    unsliced = re.search(r'href="([^"]+)" id="compare-unsliced"', page)
    assert unsliced is not None and "slice" not in unsliced.group(1)
    assert _compare_rows(get(server, unsliced.group(1).replace("&amp;", "&")))[0] == 600
    late = text(get(server, "/models/churn/compare?b_start=2030-01-01"))
    assert "Nothing to compare" in late and "Pick other dates" in late


def test_a_version_the_reference_lacks_is_compared_with_all_of_it(
    tmp_path: Path, data: dict[str, pd.DataFrame]
) -> None:
    """Without a stored baseline the reference is an environment's rows of the view's
    version; a version logged in production only (v2) is compared with every training row,
    and says so, where every page answered 400 ('no rows for environment=training,
    version=v2')."""
    from sklearn.metrics import roc_auc_score

    from evalstore.ui.cache import ResultCache
    from evalstore.ui.views import Views

    with es.connect(tmp_path / "store") as store:
        churn = store.model("churn", task="binary_classification")
        churn.log(data["training"], schema=SCHEMA, version="v1", environment="training")
        churn.log(data["v1"], schema=SCHEMA, version="v1", environment="production")
        churn.log(data["v2"], schema=SCHEMA, version="v2", environment="production")
        views = Views(store, ResultCache())
        facts = views.facts("churn")
        view = views.resolve(facts, {"version": "v2"})
        ref = views.reference(facts, view)
        assert ref is not None and ref.label == "training rows (every version: it holds none of v2)"
        train = data["training"]
        value = views.reference_value(facts, view)
        assert value == pytest.approx(roc_auc_score(train["churned"], train["score"]), abs=1e-4)
        found, _ = views.drift(facts, view)
        assert found is not None and found.n_reference == len(train)
        assert found.n_current == len(data["v2"])
        v1 = views.reference(facts, views.resolve(facts, {"version": "v1"}))
        assert v1 is not None and v1.label == "training rows of v1"


def test_a_moving_baseline_is_no_default_reference(
    tmp_path: Path, data: dict[str, pd.DataFrame]
) -> None:
    """The default reference is the latest fixed baseline (else the training rows): a
    moving baseline created last made the model's page answer 400, since the days before
    the default range (all of production) hold no production rows. Asked for, it is used."""
    from evalstore.ui.cache import ResultCache
    from evalstore.ui.views import Views

    with es.connect(tmp_path / "store") as store:
        churn = store.model("churn", task="binary_classification")
        churn.log(data["training"], schema=SCHEMA, version="v1", environment="training")
        churn.log(data["v1"], schema=SCHEMA, version="v1", environment="production")
        churn.create_baseline("train", environment="training")
        churn.create_baseline("last-week", environment="production", moving_days=7)
        views = Views(store, ResultCache())
        facts = views.facts("churn")
        view = views.resolve(facts, {})
        assert view.reference == "train"
        found, _ = views.drift(facts, view)
        assert found is not None and found.n_reference == len(data["training"])
        late = views.resolve(facts, {"reference": "last-week", "start": "2024-03-09"})
        assert late.reference == "last-week"
        ref = views.reference(facts, late)
        assert ref is not None and "moving" in ref.label
        alone = store.model("alone", task="binary_classification")
        alone.log(data["v1"], schema=SCHEMA, version="v1", environment="production")
        alone.create_baseline("last-week", environment="production", moving_days=7)
        only = views.resolve(views.facts("alone"), {})
        assert only.reference == "last-week"  # nothing else to compare with


def test_a_slice_filters_the_reference_too(
    churn_store: es.Store, data: dict[str, pd.DataFrame], server: Server
) -> None:
    """With a slice, the reference side is the reference's rows in the same bin of the same
    column: its metric (sklearn) and its drift counts; the slice's own column is not counted
    as drifted; the range line gives the slice's rows."""
    from sklearn.metrics import roc_auc_score

    from evalstore.analyses.binning import recount
    from evalstore.analyses.drift import drift
    from evalstore.ui.cache import ResultCache
    from evalstore.ui.views import Views

    views = Views(churn_store, ResultCache())
    facts = views.facts("churn")
    view = views.resolve(facts, {"slice": "plan:pro"})
    train = data["training"][data["training"]["plan"] == "pro"]
    value = views.reference_value(facts, view)
    assert value == pytest.approx(roc_auc_score(train["churned"], train["score"]))
    found, _ = views.drift(facts, view)
    assert found is not None and found.n_reference == len(train)
    assert "plan" not in found.drifted_columns and "plan" in [c.column for c in found]
    ref = views.reference(facts, view)
    assert ref is not None
    model = churn_store.model("churn")
    ref_rows = model.dataset(environment="training", where={"plan": "pro"})
    bins = recount(ref_rows, {c: ref.binnings[c] for c in facts.features})
    alone = drift(ref_rows, views.current(facts, view), facts.features, binnings=bins)
    assert found["age"].to_dict() == alone["age"].to_dict()
    pro = int((data["v1"]["plan"] == "pro").sum() + (data["v2"]["plan"] == "pro").sum())
    assert f"{pro:,} rows in the slice" in view.range_note
    page = text(get(server, "/models/churn?slice=plan:pro"))
    assert f"{pro:,} rows in the slice, of all 1,100 production rows" in page
    assert "its rows in the slice" in page


def test_the_references_rows_in_a_slice_are_kept_until_they_change(
    tmp_path: Path, data: dict[str, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With profiles kept, the reference's counts and metric in a slice are read once: a
    production batch (a new generation, the result cache emptied) reads neither again; a
    training batch leaves the baseline's rows as they were; a new version of it reads them, and
    the values then equal those read from the rows."""
    from evalstore.ui import views as views_module
    from evalstore.ui.cache import ResultCache
    from evalstore.ui.views import Views

    read: list[str] = []
    for name in ("recount", "performance"):
        original = getattr(views_module, name)

        def counted(*args: Any, _f: Any = original, _n: str = name, **kwargs: Any) -> Any:
            read.append(_n)
            return _f(*args, **kwargs)

        monkeypatch.setattr(views_module, name, counted)

    def sliced(views: Views) -> tuple[Any, Any]:
        facts = views.facts("churn")
        view = views.resolve(facts, {"slice": "plan:pro"})
        ref = views.compared(facts, view)
        assert ref is not None and ref.counted is not None
        counts = {c: b.reference_counts_ for c, b in ref.counted.items()}
        return counts, views.reference_value(facts, view)

    with es.connect(tmp_path / "store") as store:
        assert store._engine.keep_profiles()
        churn = store.model("churn", task="binary_classification")
        churn.log(data["training"], schema=SCHEMA, version="v1", environment="training")
        churn.log(data["v1"], schema=SCHEMA, version="v1", environment="production")
        churn.create_baseline("training", environment="training")
        first = sliced(Views(store, ResultCache()))
        assert sorted(read) == ["performance", "recount"]
        read.clear()
        churn.log(data["v2"], schema=SCHEMA, version="v2", environment="production")
        assert sliced(Views(store, ResultCache())) == first
        assert read == []  # the reference's rows did not change
        more = _frame(40, 11, START - timedelta(days=20), 10, "u")
        more["plan"] = "pro"
        churn.log(more, schema=SCHEMA, version="v1", environment="training")
        # the baseline's rows are those it was fitted on: the same values
        assert sliced(Views(store, ResultCache())) == first
        churn.create_baseline("training", environment="training")  # version 2: all of them
        read.clear()
        kept = sliced(Views(store, ResultCache()))
        assert sorted(read) == ["performance", "recount"] and kept != first
        store._engine.keep_profiles(False)
        assert sliced(Views(store, ResultCache())) == kept


def test_compare_offers_only_presets_whose_sides_have_rows(server: Server) -> None:
    """The default range holds all the production rows: the range before it has none, so
    that preset is left out (it led to a 400 page); a later range has rows before it."""
    page = get(server, "/models/churn/compare")
    assert "the range before" not in page
    later = get(server, "/models/churn/compare?start=2024-03-06&end=2024-03-11")
    assert "the range before vs the current range" in later
    for html in (page, later):
        for link in re.findall(r'<a href="(/models/churn/compare\?[^"]+)">', html):
            get(server, link.replace("&amp;", "&"))  # every preset answers 200


@pytest.mark.parametrize("page", ["", "/drift", "/drift/age", "/slices", "/quality"])
def test_link_to_this_view_is_this_page(server: Server, page: str) -> None:
    html = get(server, f"/models/churn{page}?window=day&slice=plan:pro")
    link = re.search(r'href="([^"]+)" class="share"', html)
    assert link is not None
    shared = link.group(1).replace("&amp;", "&")
    path, _, query = shared.partition("?")
    assert path == f"/models/churn{page}"
    for part in ("environment=production", "start=", "end=", "window=day", "metric=",
                 "reference=training", "slice=plan%3Apro"):  # fmt: skip
        assert part in query, (part, shared)
    get(server, shared)


def test_the_empty_model_page_connects_to_this_server(server: Server) -> None:
    page = text(get(server, "/models/empty-model"))
    assert f'es.connect("{server.url}")' in page.replace("&quot;", '"'), page


def test_quality_says_how_many_new_values_it_does_not_list(tmp_path: Path) -> None:
    """Eight new months, one per day: the page lists five and says 'and 3 more' (it left
    the others out silently); when windows with more new values than they name may share
    some, it says 'at least'."""
    months = ["May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    schema = es.Schema(prediction_id="id", timestamp="ts", features=["month"], prediction_score="y")

    def frame(values: list[str], prefix: str, days: list[int]) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "id": [f"{prefix}{i}" for i in range(len(values))],
                "ts": [START + timedelta(days=d) for d in days],
                "month": values,
                "y": [0.5] * len(values),
            }
        )

    folder = tmp_path / "store"
    with es.connect(folder) as store:
        model = store.model("months", task="regression")
        train = frame(["Jan", "Feb", "Mar"] * 10, "t", [0] * 30)
        model.log(train, schema=schema, version="v1", environment="training")
        model.log(frame(months, "p", list(range(8))), schema=schema, version="v1",
                  environment="production")  # fmt: skip
        many = [f"x{i}" for i in range(9)] + [f"y{i}" for i in range(9)]
        days = [0] * 9 + [1] * 9
        model.log(frame(many, "q", days), schema=schema, version="v1", environment="validation")
    with Server(folder) as srv:
        page = text(get(srv, "/models/months/quality?window=day&reference=training"))
        assert "May, Jun, Jul, Aug, Sep and 3 more" in page, page
        query = "environment=validation&reference=training&window=day"
        one_day = get(srv, f"/models/months/quality?{query}&end=2024-03-02")
        assert "and 4 more" in text(one_day)  # one window: its count is every new value
        two_days = get(srv, f"/models/months/quality?{query}")
        assert "and at least 5 more" in text(two_days)  # 10 named, some perhaps in both


def test_the_slices_heatmap_says_what_its_columns_are(server: Server) -> None:
    """Its x axis numbers each feature's bins in order and says so; a cell's hover names its
    own bin (a column 'bin 3' meant a different range for each feature)."""
    import json

    html = get(server, "/models/churn/slices")
    spec = re.search(r'<script type="application/json" id="fig-slices">(.*?)</script>', html, re.S)
    assert spec is not None
    figure = json.loads(spec.group(1))
    (trace,) = figure["data"]
    title = figure["layout"]["xaxis"]["title"]["text"]
    assert "each feature's order" in title and "hover" in title
    assert trace["x"] == [str(i + 1) for i in range(len(trace["x"]))]
    assert "%{customdata[1]}" in trace["hovertemplate"]
    labels = {cell[1] for row in trace["customdata"] for cell in row if cell[1]}
    assert {"basic", "pro", "team"} <= labels


def test_compare_says_which_bins_it_uses(server: Server) -> None:
    """churn has a fixed baseline: the drift from A to B is on its bins (with A's counts, or
    its own when A is the baseline's rows), never 'bins fitted on A'."""
    sides = "a_environment=production&a_version=v1&b_environment=production&b_version=v2"
    page = text(get(server, f"/models/churn/compare?{sides}"))
    assert "bins fitted on A" not in page
    assert "on the bins of the baseline training v1, with A's counts" in page


def test_the_worst_slices_are_only_those_worse_than_overall(server: Server) -> None:
    """The worst-slices table listed the 15 lowest slices whatever their value, so with few
    weak slices it showed ones better than overall, some marked 'significantly worse'. Now
    every row is below the overall value (the metric is higher-is-better)."""
    html = get(server, "/models/churn/slices")
    lead = re.search(r"is <strong>([0-9.]+)</strong> on all", html)
    assert lead is not None
    overall = float(lead.group(1))
    table = html.split('id="worst-slices"', 1)[1].split("</table>", 1)[0]
    values = [
        float(v)
        for v in re.findall(
            r'<td class="slice">.*?</td>\s*<td class="num">([0-9.]+)</td>', table, re.S
        )
    ]
    assert values, "the churn data have slices below overall"
    assert all(v < overall for v in values)
    assert "is worse than overall" not in table


def test_a_metric_no_window_defines_says_why(tmp_path: Path) -> None:
    """r2 per hour with one row an hour: defined over the range, in no window. The chart
    would be empty; the page says why and what to pick."""
    rng = np.random.default_rng(5)
    n = 48
    y = rng.normal(100, 20, n)
    frame = pd.DataFrame(
        {
            "id": [f"r{i}" for i in range(n)],
            "ts": [START + timedelta(hours=i) for i in range(n)],
            "x": rng.normal(size=n),
            "yhat": y + rng.normal(0, 5, n),
            "y": y,
        }
    )
    schema = es.Schema(prediction_id="id", timestamp="ts", prediction_score="yhat",
                       actual_score="y")  # fmt: skip
    folder = tmp_path / "store"
    with es.connect(folder) as store:
        store.model("hourly", task="regression").log(
            frame, schema=schema, version="v1", environment="production"
        )
    with Server(folder) as srv:
        query = "metric=r2&window=hour&start=2024-03-01&end=2024-03-03"
        page = text(get(srv, f"/models/hourly?{query}"))
        assert "r2 has no value in any hour: each holds too few rows with an actual" in page
        assert "Pick a longer window" in page
        daily = text(
            get(srv, "/models/hourly?metric=r2&window=day&start=2024-03-01&end=2024-03-03")
        )
        assert "has no value in any" not in daily
