"""The web UI: server-rendered pages with Plotly charts, served by ``evalstore serve``.

Every state is a URL; the pages and their query parameters::

    /                          models: versions, environments, volume, latest data, health
    /models/NAME               overview: the metric over time, volume beneath, the reference
    /models/NAME/drift         features ranked by drift, with sparklines; predictions, actuals
    /models/NAME/drift/COLUMN  one column: distributions overlaid, drift over time
    /models/NAME/slices        the metric by feature x bin; the worst slices
    /models/NAME/quality       data quality per feature, per window
    /models/NAME/compare       two datasets side by side (a_environment, a_version,
                               a_start, a_end; the same with b_)

    ?environment=production&version=v2&start=2024-06-01&end=2024-07-01&window=day
     &metric=roc_auc&reference=training&slice=region:EU

Every asset comes from this package or an installed one (plotly.js from ``plotly``), never
a CDN: the UI works with the network cut off. Results are cached in the process per
model generation (:mod:`.cache`); what each page computes is in :mod:`.views`.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from evalstore.ui.cache import ResultCache, Warmer
from evalstore.ui.pages import UiState, router
from evalstore.ui.views import Views

__all__ = ["install"]

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI, *, warm: bool = True) -> UiState:
    """Add the UI's pages and ``/static`` to ``app`` (whose ``state.evalstore`` holds the
    store). ``warm``: compute each viewed model's default views in the background, again
    after each batch."""
    state = app.state.evalstore
    cache = ResultCache()
    views = Views(state.store, cache)
    warmer = Warmer(views.warm, views.changed_models, stopped=lambda: bool(state.closed))
    warmer.enabled = warm
    views.on_new_generation = warmer.submit
    ui = UiState(views, warmer)
    app.state.evalstore_ui = ui
    app.include_router(router)  # before the mount: /static/vendor/plotly.min.js is a route
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return ui
