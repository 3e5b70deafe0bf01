"""The web UI in a real browser: Debian's Chromium driven by Playwright, over the server that
``evalstore demo`` starts on its real data (one store, one server for the module).

Every test fails on a browser console error, a Content-Security-Policy violation, a failed
request, an answer >= 400 (but the ones it expects) or a request to any other host than the
server: the UI must work with the network cut off. Screenshots of every page go to
``$EVALSTORE_TEST_ARTIFACTS`` (default ``build/test-artifacts/``).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import pytest

from server_harness import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("EVALSTORE_TEST_ARTIFACTS") or ROOT / "build" / "test-artifacts")
MODEL = "bikeshare-demo"

playwright_sync = pytest.importorskip(
    "playwright.sync_api", reason="needs playwright (pip install -e '.[test]')"
)
if not CHROMIUM.exists():
    pytest.skip(
        "needs Debian's Chromium at /usr/bin/chromium (apt-get install chromium)",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``evalstore demo --port 0``: loads the demo's data, then serves it; its UI's URL."""
    folder = tmp_path_factory.mktemp("ui-demo")
    log = folder / "demo.log"
    env = {k: v for k, v in os.environ.items() if k not in ("EVALSTORE_API_KEY", "EVALSTORE_HOME")}
    cmd = [sys.executable, "-m", "evalstore", "demo", "--port", "0", "--store", str(folder / "s")]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 300
        url = None
        while time.monotonic() < deadline and url is None:
            found = re.search(r"web UI: (http://\S+)", log.read_text(errors="replace"))
            if found:
                url = found.group(1)
            elif proc.poll() is not None:
                raise RuntimeError(f"demo exited with {proc.returncode}:\n{log.read_text()}")
            else:
                time.sleep(0.1)
        if url is None:
            raise RuntimeError(f"the demo did not serve:\n{log.read_text()}")
        assert url.endswith(f"/models/{MODEL}")
        yield url.removesuffix(f"/models/{MODEL}")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


#: reports every Content-Security-Policy violation to the test: Chromium logs none of those
#: that throw (an ``eval`` or ``Function(...)`` under ``script-src 'self'`` throws an
#: EvalError, which a library may catch), so the console alone does not show them
CSP_WATCH = """
document.addEventListener("securitypolicyviolation", (e) => window.evalstoreCspViolation(
  `${e.violatedDirective} blocked ${e.blockedURI || "(inline)"} at ` +
  `${e.sourceFile}:${e.lineNumber}:${e.columnNumber}`));
"""


class Watch:
    """What went wrong in the browser while a test ran."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.problems: list[str] = []
        self.expected: set[int] = set()

    def console(self, message: Any) -> None:
        if message.type != "error":
            return
        status = re.search(r"responded with a status of (\d+)", message.text)
        if status and int(status.group(1)) in self.expected:
            return  # Chromium logs the error status of a page the test asked for
        self.problems.append(f"console error: {message.text}")

    def violation(self, report: str) -> None:
        self.problems.append(f"Content-Security-Policy violation: {report}")

    def failed(self, request: Any) -> None:
        if request.failure == "net::ERR_ABORTED" and request.url.startswith(self.base):
            # cancelled by the browser, not failed: a click navigates while the page's
            # favicon or a fragment is still loading (the server's answers are checked in
            # response(); requests to other hosts in route())
            return
        self.problems.append(f"request failed: {request.url} ({request.failure})")

    def response(self, response: Any) -> None:
        if response.status >= 400 and response.status not in self.expected:
            self.problems.append(f"{response.status} from {response.url}")

    def route(self, route: Any) -> None:
        if route.request.url.startswith(self.base):
            route.continue_()
        else:  # the network is cut off: anything else is a bug
            self.problems.append(f"request to another host: {route.request.url}")
            route.abort()


@pytest.fixture
def page(browser: Any, demo: str) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    watch = Watch(demo)
    context.route("**/*", watch.route)
    context.expose_function("evalstoreCspViolation", watch.violation)
    context.add_init_script(CSP_WATCH)
    tab = context.new_page()
    tab.on("console", watch.console)
    tab.on("pageerror", lambda exc: watch.problems.append(f"page error: {exc}"))
    tab.on("requestfailed", watch.failed)
    tab.on("response", watch.response)
    tab.set_default_timeout(60_000)
    tab.watch = watch
    tab.base = demo
    yield tab
    context.close()
    assert not watch.problems, "\n".join(watch.problems)


def open_page(page: Any, path: str) -> None:
    page.goto(page.base + path)
    ready(page)


def ready(page: Any) -> None:
    """The page is loaded and every chart drawn."""
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_function(
        "[...document.querySelectorAll('.plot[data-figure]')].every(e => e.dataset.drawn)"
    )


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def number(text: str) -> float:
    return float(text.replace(",", "").strip())


def query_of(page: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}


def test_models_page(page: Any) -> None:
    open_page(page, "/")
    row = page.locator(f"tr[data-model='{MODEL}']")
    assert row.locator("td.name").inner_text() == MODEL
    counts = {
        env: row.locator(f".n[data-env='{env}']").inner_text()
        for env in ("training", "validation", "production")
    }
    assert counts == {"training": "2,067", "validation": "719", "production": "5,859"}
    assert row.locator("td.total").inner_text() == "8,645"
    health = row.locator("td.health[data-loaded='ok']")
    health.wait_for()
    text = health.inner_text()
    assert re.search(r"mae \d+(\.\d+)? vs \d+(\.\d+)? reference: worse beyond chance", text)
    assert re.search(r"[4-9] of 11 features drifted", text)
    shot(page, "01-models")
    row.locator("td.name a").click()
    ready(page)
    assert urlparse(page.url).path == f"/models/{MODEL}"


def test_troubleshooting_path(page: Any) -> None:
    """Overview (the error rose after the training months) -> the drifted features -> one
    feature's distributions -> the worst slices -> a slice filters the other pages."""
    open_page(page, f"/models/{MODEL}")
    mae = number(page.locator("#card-metric .value").inner_text())
    reference = number(page.locator("#card-reference .value").inner_text())
    assert mae > 3 * reference  # trained on January-March, served the rest of the year
    assert "baseline jan-mar" in page.locator("#card-reference").inner_text()
    card = page.locator("#card-reference").inner_text()
    assert "worse beyond chance" in card
    low, high = (float(x) for x in re.findall(r"CI ([\d.]+) \u2013 ([\d.]+)", card)[0])
    assert low < reference < high  # the interval the test counts, beside the value
    assert page.locator("#row-count").get_attribute("data-rows") == "5859"
    chart = page.locator(".plot[data-figure='fig-performance']")
    assert chart.locator(".scatterlayer .trace").count() >= 3  # band, metric, reference
    assert chart.locator(".barlayer .trace").count() == 2  # volume with/without actual
    shot(page, "02-overview")

    page.locator("nav.tabs a", has_text="Drift").click()
    ready(page)
    ranked = page.locator("#drift-features tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.column)"
    )
    assert ranked[0] == "mnth"
    assert {"season", "temp"} <= set(ranked[:4])
    assert "hr" in ranked[6:] and "weekday" in ranked[6:]
    assert page.locator("#drift-features tbody tr.drifted").count() >= 4
    assert page.locator("#drift-features .plot.spark[data-drawn]").count() == len(ranked)
    assert page.locator("#drift-predictions tbody tr").count() == 2  # prediction_score, actual
    shot(page, "03-drift")

    page.locator("#drift-features a", has_text=re.compile(r"^temp$")).click()
    ready(page)
    assert page.locator("#column-title").inner_text() == "temp"
    dist = page.locator(".plot[data-figure='fig-distribution']")
    assert dist.locator(".barlayer .trace").count() == 2  # reference and current overlaid
    assert "drifted" in page.locator(".lead").inner_text()
    assert page.locator(".plot[data-figure='fig-drift-over-time'] .scatterlayer .trace").count()
    shot(page, "04-feature-temp")

    page.locator("nav.tabs a", has_text="Slices").click()
    ready(page)
    worst = page.locator("#worst-slices tbody tr").first
    assert worst.get_attribute("data-column") == "hr"  # the rush hours
    support = int(number(worst.locator("td").nth(4).inner_text()))
    assert 0 < support < 5859
    shot(page, "05-slices")
    label = worst.get_attribute("data-bin")
    worst.locator("a").click()
    ready(page)
    assert query_of(page)["slice"] == f"hr:{label}"
    assert page.locator("#slice-banner").is_visible()
    assert page.locator("#row-count").get_attribute("data-rows") == str(support)
    assert number(page.locator("#card-metric .value").inner_text()) > mae
    shot(page, "06-overview-slice")

    page.locator("nav.tabs a", has_text="Drift").click()
    ready(page)
    assert query_of(page)["slice"] == f"hr:{label}"
    assert f"({support:,} current rows)" in page.locator(".lead").inner_text()
    page.locator("#clear-slice").click()
    ready(page)
    assert "slice" not in query_of(page)


def test_heatmap_click_filters_to_the_slice(page: Any) -> None:
    open_page(page, f"/models/{MODEL}/slices")
    heatmap = page.locator(".plot[data-figure='fig-slices']")
    assert heatmap.get_attribute("data-click")
    heatmap.scroll_into_view_if_needed()
    # the centre of the cell of hr's 9th bin, in viewport pixels, from plotly's own axes
    x, y = heatmap.evaluate(
        """el => {
            const L = el._fullLayout, box = el.getBoundingClientRect();
            const row = L.yaxis._categories.indexOf('hr');
            return [box.left + L._size.l + L.xaxis.l2p(8),
                    box.top + L._size.t + L.yaxis.l2p(row)];
        }"""
    )
    page.mouse.click(x, y)
    page.wait_for_url(re.compile(r"slice="))
    ready(page)
    column, _, label = unquote(query_of(page)["slice"]).partition(":")
    assert column == "hr" and label
    rows = int(page.locator("#row-count").get_attribute("data-rows"))
    assert 0 < rows < 5859


def test_quality_and_compare(page: Any) -> None:
    open_page(page, f"/models/{MODEL}/quality")
    assert re.match(r"\d+ errors, \d+ warnings", page.locator("#quality-summary").inner_text())
    columns = page.locator("#quality-columns tbody tr td:first-child").all_inner_texts()
    assert {"temp", "hr", "mnth", "prediction_score", "actual_score"} <= set(columns)
    assert page.locator(".plot[data-figure='fig-quality'] .heatmaplayer").count() == 1
    shot(page, "07-quality")

    open_page(page, f"/models/{MODEL}/compare")
    heads = page.locator("#compare-rows thead th").all_inner_texts()
    assert heads[1].startswith("A: training") and heads[2].startswith("B: production")
    rows = {
        r[0]: r[1:]
        for r in page.locator("#compare-rows tbody tr").evaluate_all(
            "rows => rows.map(r => [...r.cells].map(c => c.innerText))"
        )
    }
    assert rows["rows"][:2] == ["2,067", "5,859"]
    assert number(rows["mae"][1].split()[0]) > number(rows["mae"][0].split()[0])
    assert "features drifted" in page.locator("#compare-drift").inner_text()
    shot(page, "08-compare")


def test_every_state_is_a_url(page: Any) -> None:
    open_page(page, f"/models/{MODEL}")
    page.select_option("select[name='environment']", "validation")
    page.wait_for_url(re.compile(r"environment=validation"))
    ready(page)
    assert page.locator("#row-count").get_attribute("data-rows") == "719"
    page.select_option("select[name='window']", "week")
    page.wait_for_url(re.compile(r"window=week"))
    ready(page)
    shared = page.locator("a.share").get_attribute("href")
    assert "environment=validation" in shared and "window=week" in shared
    open_page(page, shared)
    assert page.locator("select[name='environment']").input_value() == "validation"
    assert page.locator("select[name='window']").input_value() == "week"
    assert page.locator("#row-count").get_attribute("data-rows") == "719"


def test_errors_are_readable(page: Any) -> None:
    page.watch.expected = {400, 404}
    open_page(page, f"/models/{MODEL}?metric=auc")
    message = page.locator("#error .message").inner_text()
    assert "metric must be a metric of this regression model" in message and "mae" in message
    shot(page, "09-error")
    page.locator("#without").click()  # the same page without the wrong parameter
    ready(page)
    assert "metric" not in query_of(page)
    assert page.locator("select[name='metric']").input_value() == "mae"
    open_page(page, "/models/no-such-model")
    assert "no model named 'no-such-model'" in page.locator("#error .message").inner_text()


#: every page that draws a chart
CHART_PAGES = ["", "/slices", "/compare", "/drift", "/drift/temp", "/quality"]


@pytest.mark.parametrize("path", CHART_PAGES)
def test_charts_keep_the_content_security_policy(page: Any, path: str) -> None:
    """Hovering, zooming, resetting, downloading a PNG, resizing the window and switching
    tabs evaluate no string as JavaScript: plotly.js does that only for its WebGL traces
    (regl compiles its shaders' draw calls with ``Function``), which ``script-src 'self'``
    blocks, so a chart must stay SVG."""
    open_page(page, f"/models/{MODEL}{path}")
    charts = page.locator(".plot[data-figure]:not(.spark)")
    assert charts.count()
    assert not page.locator(".plot[data-figure] .gl-container canvas").count()
    for i in range(min(charts.count(), 3)):
        chart = charts.nth(i)
        chart.scroll_into_view_if_needed()
        box = chart.bounding_box()
        for across in (0.3, 0.5, 0.7):
            page.mouse.move(box["x"] + box["width"] * across, box["y"] + box["height"] * 0.5)
        # a drag zooms (and is no click: the slices heatmap's click would leave the page)
        page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.4)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.6, steps=5)
        page.mouse.up()
        chart.hover()
        chart.locator(".modebar-btn[data-title='Reset axes']").click()
        if i == 0:
            with page.expect_download():
                chart.locator(".modebar-btn[data-title*='png' i]").click()
    page.set_viewport_size({"width": 800, "height": 700})  # responsive charts redraw
    page.wait_for_timeout(300)
    page.set_viewport_size({"width": 1400, "height": 900})
    other = page.context.new_page()  # switch tabs and back
    other.bring_to_front()
    other.close()
    page.bring_to_front()
    page.wait_for_timeout(300)  # a violation's report comes back asynchronously
    assert not page.watch.problems, "\n".join(page.watch.problems)


def test_a_health_summary_from_before_new_data_catches_up(page: Any) -> None:
    """A model's health summary answered from before the latest data (its notice says it is
    being computed again) is fetched again, in place, until it is current: the models page
    itself may be current and never reload (the server's side of this, a stale answer then
    a current one, is tested in test_ui_pages). The first answer of the summary is the
    server's own with the notice the server adds to a stale one."""
    from evalstore.ui.rendering import STALE_FRAGMENT

    answers: list[str] = []

    def health(route: Any) -> None:
        response = route.fetch()
        body = response.text()
        if not answers:
            body = body + STALE_FRAGMENT  # as the server answers a summary being recomputed
        answers.append(body)
        route.fulfill(response=response, body=body)

    page.route(f"**/models/{MODEL}/health", health)
    try:
        open_page(page, "/")
        page.evaluate("window.evalstoreMarker = 1")  # gone if the page reloads
        cell = page.locator(f"tr[data-model='{MODEL}'] td.health")
        page.wait_for_selector(
            f"tr[data-model='{MODEL}'] td.health[data-loaded='ok'][data-stale='']",
            timeout=20_000,
        )
    finally:
        page.unroute(f"**/models/{MODEL}/health")
    assert len(answers) == 2 and 'id="stale-banner"' in answers[0]
    assert page.evaluate("window.evalstoreMarker") == 1
    assert "from before the latest data" not in cell.inner_text()
    assert re.search(r"\d+ of 11 features drifted", cell.inner_text())
