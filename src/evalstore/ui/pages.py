"""The UI's routes: one function per page, each resolving its view, reading its results from
:class:`~evalstore.ui.views.Views` and rendering a Jinja2 template.

Pages answer HTML, errors included: an evalstore error (an unknown model, version or
metric, a bad date) is a page saying what was wrong and what to do, with the status the
API would answer; a bug is a 500 page (its traceback goes to the server log).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from evalstore.analyses.slices import SCORE_BINS
from evalstore.errors import ParameterError, did_you_mean
from evalstore.render import ui_figures
from evalstore.render.html import plotly_js
from evalstore.ui.compare import compare, compare_sides
from evalstore.ui.rendering import (
    STALE_FRAGMENT,
    STALE_NOTICE,
    Links,
    answer,
    compare_presets,
    group_issues,
    href,
    html_key,
    model_context,
    quality_summary,
    query_of,
    render_page,
    respond,
)
from evalstore.ui.views import Views

__all__ = ["UiState", "router"]

log = logging.getLogger("evalstore.ui")

router = APIRouter(include_in_schema=False)

STATIC = Path(__file__).parent / "static"


class UiState:
    """What the UI keeps for the life of the app: the views (and their cache), the warmer,
    and the latest HTML of every page, whatever its generation.

    Stale while revalidate: a page asked for after new data arrived, and viewed before, is
    answered at once with its previous HTML and a notice, while it is computed again in
    the background; the page reloads itself until the new one is ready. A page never
    viewed is computed while the request waits.
    """

    def __init__(self, views: Views, warmer: Any, keep_pages: int = 256) -> None:
        self.views = views
        self.warmer = warmer
        self.keep_pages = keep_pages
        self._latest: OrderedDict[tuple[Any, ...], str] = OrderedDict()
        self._lock = threading.Lock()
        self._refreshing: set[tuple[Any, ...]] = set()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="evalstore-ui-refresh")
        self._local = threading.local()

    def keeper(self, key: tuple[Any, ...]) -> Callable[[str], None]:
        """What keeps a page's new HTML: the cache (this generation) and the latest pages."""

        def keep(html: str) -> None:
            self.views.cache.put(key, html)
            with self._lock:
                self._latest[key[3:]] = html
                self._latest.move_to_end(key[3:])
                while len(self._latest) > self.keep_pages:
                    self._latest.popitem(last=False)

        return keep

    def kept(self, key: tuple[Any, ...], again: Callable[[], Any]) -> str | None:
        """The page's HTML of this generation; else its older HTML with a notice (and
        ``again()`` computes the new one in the background); else None."""
        fresh = self.views.cache.peek(key)
        if fresh is not None or getattr(self._local, "refreshing", False):
            return fresh  # type: ignore[no-any-return]
        with self._lock:
            stale = self._latest.get(key[3:])
            if stale is None:
                return None
            start = key not in self._refreshing
            self._refreshing.add(key)
        if start:
            self._pool.submit(self._refresh, key, again)
        if "<main>" in stale:
            return stale.replace("<main>", STALE_NOTICE, 1)
        return STALE_FRAGMENT + stale  # a fragment of a page (a model's health)

    def _refresh(self, key: tuple[Any, ...], again: Callable[[], Any]) -> None:
        self._local.refreshing = True
        try:
            response = again()  # keeps the new HTML
        except Exception as exc:
            response = None
            log.debug("refreshing %s failed: %s", key, exc)
        if response is None or getattr(response, "status_code", 500) != 200:
            with self._lock:  # the next request computes it, and shows why it fails
                self._latest.pop(key[3:], None)
        with self._lock:
            self._refreshing.discard(key)


def get_ui(request: Request) -> UiState:
    ui: UiState = request.app.state.evalstore_ui
    return ui


UiDep = Annotated[UiState, Depends(get_ui)]


# -- static assets -------------------------------------------------------------------------------


@router.get("/static/vendor/plotly.min.js")
def plotly_bundle() -> Response:
    """plotly.js from the installed plotly package: no CDN, works offline."""
    return Response(
        plotly_js(),
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for it whatever the page links: answer the UI's icon rather than 404."""
    return Response(
        (STATIC / "favicon.svg").read_bytes(),
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )


# -- pages ---------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def models_page(request: Request, ui: UiDep) -> HTMLResponse:
    """Every model with its versions, environments, volume, latest data; health loads after."""

    def render(started: float) -> HTMLResponse:
        rows = []
        for name in ui.views.model_names():
            facts = ui.views.facts(name)
            per_env = [(env, facts.volume(env)) for env in facts.environments]
            rows.append({"facts": facts, "environments": per_env, "total": facts.volume()})
        return render_page("models.html.j2", started, title="Models", models=rows, page="models")

    return answer(request, render, "Models")


@router.get("/models", include_in_schema=False)
def models_redirect() -> RedirectResponse:
    """``/models`` (an obvious guess, as every model's page is below it): the models list."""
    return RedirectResponse("/", status_code=307)


@router.get("/models/{name}/health", response_class=HTMLResponse)
def health_fragment(request: Request, ui: UiDep, name: str) -> HTMLResponse:
    """A model's health summary, as a fragment of the models page (loaded by ui.js)."""

    def render(started: float) -> HTMLResponse:
        generation = ui.views.generation_of(name)
        key = html_key(name, generation, request)
        kept = ui.kept(key, lambda: render(time.perf_counter()))
        if kept is not None:
            return respond(kept, started)
        facts = ui.views.facts(name, generation)
        if not facts.environments:
            return render_page("_health.html.j2", started, facts=facts, health=None, links=None)
        health = ui.views.health(facts)
        return render_page(
            "_health.html.j2",
            started,
            keep=ui.keeper(key),
            facts=facts,
            health=health,
            links=Links(name, health.view),
        )

    return answer(request, render)


def _begin(
    ui: UiState,
    request: Request,
    name: str,
    started: float,
    again: Callable[[], Any],
    title: str,
    tab: str,
) -> HTMLResponse | tuple[tuple[Any, ...], Any]:
    """The start every model page shares: the kept page when it is current, the empty
    state for a model without rows, else the page's cache key and the model's facts."""
    generation = ui.views.generation_of(name)
    key = html_key(name, generation, request)
    kept = ui.kept(key, again)
    if kept is not None:
        return respond(kept, started)
    facts = ui.views.facts(name, generation)
    if not facts.environments:
        context = model_context(facts, None, title, tab)
        # the URL this request came in on, which the user's Python can reach too; not
        # kept (pages are kept per path, and another client may come in on another URL)
        server = str(request.base_url).rstrip("/")
        return render_page("empty_model.html.j2", started, server=server, **context)
    return key, facts


@router.get("/models/{name}", response_class=HTMLResponse)
def overview_page(request: Request, ui: UiDep, name: str) -> HTMLResponse:
    """The metric over time with the volume beneath and the reference for comparison."""

    def render(started: float) -> HTMLResponse:
        begun = _begin(
            ui, request, name, started, lambda: render(time.perf_counter()), "Overview", ""
        )
        if isinstance(begun, HTMLResponse):
            return begun
        key, facts = begun
        view = ui.views.resolve(facts, query_of(request))
        ctx = model_context(facts, view, "Overview", "")
        over_time = overall = None
        ref_value = ref_row = worse = None
        if facts.has_actuals:
            over_time = ui.views.over_time(facts, view)
            overall = ui.views.overall(facts, view)
            ref_row = ui.views.reference_row(facts, view)
            ref_value = ui.views.reference_value(facts, view)
            worse = ui.views.worse(facts, view, overall)
        ref = ui.views.compared(facts, view)
        figure = None
        row = overall.rows[0] if overall is not None and overall.rows else None
        if over_time is not None and over_time.rows:
            figure = ui_figures.performance_over_time(
                over_time,
                view.metric,
                view.window,
                ref_value,
                ref.label if ref is not None else "reference",
            )
        # the metric defined overall but in no window (r2 per hour of one row each)
        undefined = bool(
            row is not None
            and row["value"] is not None
            and over_time is not None
            and not any(r["value"] is not None for r in over_time.rows)
        )
        rows = None
        if over_time is not None:
            rows = sum(r["n"] + r["n_without_actual"] for r in over_time.rows)
        else:
            rows = ui.views.rows(facts, view)
        return render_page(
            "overview.html.j2",
            started,
            keep=ui.keeper(key),
            **ctx,
            figure=figure,
            overall=row,
            reference=ref,
            reference_value=ref_value,
            reference_ci=ref_row,
            worse=worse,
            rows=rows,
            higher_is_better=_direction(view.metric),
            undefined=undefined,
        )

    return answer(request, render, name)


def _direction(metric: str) -> bool | None:
    from evalstore.analyses.metrics import get_metric

    higher: bool | None = get_metric(metric).higher_is_better
    return higher


@router.get("/models/{name}/drift", response_class=HTMLResponse)
def drift_page(request: Request, ui: UiDep, name: str) -> HTMLResponse:
    """Features ranked by drift with sparklines; prediction and actual drift below."""

    def render(started: float) -> HTMLResponse:
        begun = _begin(
            ui, request, name, started, lambda: render(time.perf_counter()), "Drift", "drift"
        )
        if isinstance(begun, HTMLResponse):
            return begun
        key, facts = begun
        view = ui.views.resolve(facts, query_of(request))
        ctx = model_context(facts, view, "Drift", "drift")
        ref = ui.views.compared(facts, view)
        found, preds = ui.views.drift(facts, view)
        over_time = ui.views.drift_over_time(facts, view)
        sparks: dict[str, str] = {}
        if over_time is not None:
            for column in facts.features + facts.predictions:
                points = []
                threshold = None
                for w in over_time.windows:
                    c = next((c for c in w.result.columns if c.column == column), None)
                    if c is not None:
                        points.append((w.start, c.value))
                        threshold = c.threshold
                if points:
                    sparks[column] = ui_figures.to_json(ui_figures.sparkline(points, threshold))
        ranking = ui_figures.drift_ranking(found) if found is not None and found.columns else None
        return render_page(
            "drift.html.j2",
            started,
            keep=ui.keeper(key),
            **ctx,
            reference=ref,
            drift=found,
            prediction_drift=preds,
            sparks=sparks,
            ranking=ranking,
        )

    return answer(request, render, name)


@router.get("/models/{name}/drift/{column}", response_class=HTMLResponse)
def column_page(request: Request, ui: UiDep, name: str, column: str) -> HTMLResponse:
    """One column: reference and current distributions overlaid, its drift over time."""

    def render(started: float) -> HTMLResponse:
        begun = _begin(
            ui, request, name, started, lambda: render(time.perf_counter()), column, "drift"
        )
        if isinstance(begun, HTMLResponse):
            return begun
        key, facts = begun
        view = ui.views.resolve(facts, query_of(request))
        ctx = model_context(facts, view, column, f"drift/{quote(column, safe='')}")
        ref = ui.views.compared(facts, view)
        found, preds = ui.views.drift(facts, view)
        columns = [*(found.columns if found else []), *(preds.columns if preds else [])]
        names = [c.column for c in columns]
        if ref is not None and column not in names:
            raise ParameterError(
                "column",
                f"a feature, prediction or actual column of {name!r}",
                column,
                did_you_mean(column, names).strip() or f"Columns: {', '.join(names)}.",
            )
        drifted = next((c for c in columns if c.column == column), None)
        over_time = ui.views.drift_over_time(facts, view)
        dist = (
            ui_figures.distribution(drifted, ref.label if ref else "reference", "current")
            if drifted is not None
            else None
        )
        trend = ui_figures.drift_over_time(over_time, column) if over_time is not None else None
        rank = names.index(column) + 1 if column in names else None
        return render_page(
            "column.html.j2",
            started,
            keep=ui.keeper(key),
            **ctx,
            column=column,
            reference=ref,
            drifted=drifted,
            rank=rank,
            distribution=dist,
            trend=trend,
            is_feature=column in facts.features,
        )

    return answer(request, render, name)


@router.get("/models/{name}/slices", response_class=HTMLResponse)
def slices_page(request: Request, ui: UiDep, name: str) -> HTMLResponse:
    """The metric by feature x bin, the worst slices with support and interval."""

    def render(started: float) -> HTMLResponse:
        begun = _begin(
            ui, request, name, started, lambda: render(time.perf_counter()), "Slices", "slices"
        )
        if isinstance(begun, HTMLResponse):
            return begun
        key, facts = begun
        view = ui.views.resolve(facts, query_of(request))
        ctx = model_context(facts, view, "Slices", "slices")
        found = ui.views.slices(facts, view)
        # only slices worse than overall: the better ones are no weak spot of the model
        worst = ui.views.weak_slices(facts, view)[:15]
        heatmap = None
        if found is not None and found.overall.n:
            heatmap = ui_figures.slice_heatmap(found)
        return render_page(
            "slices.html.j2",
            started,
            keep=ui.keeper(key),
            **ctx,
            result=found,
            worst=worst,
            heatmap=heatmap,
            reference=ui.views.reference(facts, replace(view, slice=None)),
            score_bins=SCORE_BINS,
        )

    return answer(request, render, name)


@router.get("/models/{name}/quality", response_class=HTMLResponse)
def quality_page(request: Request, ui: UiDep, name: str) -> HTMLResponse:
    """Data quality per feature and per window, against the reference's expectations."""

    def render(started: float) -> HTMLResponse:
        begun = _begin(
            ui,
            request,
            name,
            started,
            lambda: render(time.perf_counter()),
            "Data quality",
            "quality",
        )
        if isinstance(begun, HTMLResponse):
            return begun
        key, facts = begun
        view = ui.views.resolve(facts, query_of(request))
        ctx = model_context(facts, view, "Data quality", "quality")
        result = ui.views.quality(facts, view)
        summary = quality_summary(result)
        grouped = group_issues(result)
        heatmap = ui_figures.quality_heatmap(result) if result.columns else None
        return render_page(
            "quality.html.j2",
            started,
            keep=ui.keeper(key),
            **ctx,
            result=result,
            summary=summary,
            grouped=grouped,
            heatmap=heatmap,
            reference=ui.views.reference(facts, view),
        )

    return answer(request, render, name)


@router.get("/models/{name}/compare", response_class=HTMLResponse)
def compare_page(request: Request, ui: UiDep, name: str) -> HTMLResponse:
    """Any two datasets side by side: metrics, and the drift from A to B."""

    def render(started: float) -> HTMLResponse:
        begun = _begin(
            ui, request, name, started, lambda: render(time.perf_counter()), "Compare", "compare"
        )
        if isinstance(begun, HTMLResponse):
            return begun
        key, facts = begun
        query = query_of(request)
        view = ui.views.resolve(
            facts, {k: v for k, v in query.items() if not k.startswith(("a_", "b_"))}
        )
        ctx = model_context(facts, view, "Compare", "compare")
        a, b = compare_sides(facts, view, query)
        empty = None
        try:
            result = compare(ui.views, facts, a, b, view)
        except ParameterError as exc:
            if exc.name != "compare":  # a side without rows: the form stays, to pick another
                raise
            result, empty = None, exc
        metrics = []
        if (
            result is not None
            and result.performance_a is not None
            and result.performance_b is not None
        ):
            rows_b = {r["metric"]: r for r in result.performance_b.rows}
            for row in result.performance_a.rows:
                other = rows_b.get(row["metric"])
                if other is None or isinstance(row["value"], (dict, list)):
                    continue
                change = (
                    other["value"] - row["value"]
                    if isinstance(other["value"], (int, float))
                    and isinstance(row["value"], (int, float))
                    else None
                )
                metrics.append({"metric": row["metric"], "a": row, "b": other, "change": change})
        dists = []
        families = (result.drift, result.prediction_drift) if result is not None else ()
        for i, found in enumerate(families):
            for c in (found.columns if found else [])[:3]:
                if c.drifted or i == 1:  # every prediction and actual, the drifted features
                    dists.append(ui_figures.distribution(c, f"A: {a.label}", f"B: {b.label}"))
        kept = {"slice": view.params()["slice"]} if view.slice else {}
        presets = [(label, {**params, **kept}) for label, params in compare_presets(facts, view)]
        return render_page(
            "compare.html.j2",
            started,
            keep=ui.keeper(key),
            **ctx,
            a=a,
            b=b,
            result=result,
            metrics=metrics,
            distributions=dists[:4],
            presets=presets,
            share={**a.params("a"), **b.params("b"), **kept},
            compare_link=lambda params: href(f"/models/{name}/compare", params),
            empty=empty,
            unsliced={**a.params("a"), **b.params("b")},
        )

    return answer(request, render, name)
