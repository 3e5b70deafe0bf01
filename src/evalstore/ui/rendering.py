"""How the UI's pages are drawn: number formats, the Jinja2 templates, links that keep a
view's state, responses (with ``Server-Timing`` and a strict Content-Security-Policy), error
pages, and the small reshapings of Results some templates want."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

import evalstore
from evalstore.errors import EvalstoreError
from evalstore.render import ui_figures
from evalstore.ui.state import WINDOWS, Facts, View

__all__ = [
    "CSP",
    "STALE_FRAGMENT",
    "STALE_NOTICE",
    "Links",
    "answer",
    "compare_presets",
    "fmt",
    "group_issues",
    "href",
    "html_key",
    "model_context",
    "pct",
    "quality_summary",
    "query_of",
    "render_page",
    "respond",
]

log = logging.getLogger("evalstore.ui")

#: nothing but this server's own scripts and styles (plotly.js inlines a few styles); no
#: 'unsafe-eval', so the charts stay SVG: plotly.js's WebGL traces (scattergl, ...) compile
#: code with Function(), which this blocks (tests/test_ui_browser.py fails on any violation)
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)

# -- rendering ------------------------------------------------------------------------------------


#: what a missing number shows (an en dash)
NONE = "\u2013"


def fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return NONE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:  # NaN
            return NONE
        return f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:.{digits}g}"
    if hasattr(value, "strftime"):
        text: str = value.strftime("%Y-%m-%d %H:%M")
        return text[:-6] if text.endswith(" 00:00") else text
    return str(value)


def pct(value: float | None) -> str:
    return NONE if value is None else f"{value:.1%}"


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("evalstore.ui", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["fmt"] = fmt
    env.filters["pct"] = pct
    env.globals["version"] = evalstore.__version__
    env.globals["figure"] = ui_figures.to_json
    return env


def href(path: str, params: Mapping[str, str | None]) -> str:
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return path + ("?" + urlencode(kept) if kept else "")


class Links:
    """Links between the pages of one model that keep the view's parameters."""

    def __init__(self, name: str, view: View | None, page: str = "") -> None:
        self.name = name
        self.view = view
        self.base = f"/models/{name}"
        self.here = page
        """the current page's path below the model (``drift/age``; "" the overview)"""

    def page(self, page: str = "", **changes: str | None) -> str:
        params: dict[str, str | None] = dict(self.view.given) if self.view else {}
        params.update(changes)
        path = self.base + (f"/{page}" if page else "")
        return href(path, params)

    def column(self, column: str) -> str:
        return self.page(f"drift/{quote(column, safe='')}")

    def slice(self, column: str, label: str) -> str:
        """The overview narrowed to one slice (the other pages keep it)."""
        return self.page("", slice=f"{column}:{label}")

    def slice_template(self) -> str:
        """A link with ``__SLICE__`` where a clicked cell's ``column:bin`` goes."""
        return self.page("", slice="__SLICE__")

    def share(self) -> str:
        """This exact view of the current page, every parameter spelt out."""
        path = self.base + (f"/{self.here}" if self.here else "")
        return href(path, self.view.params() if self.view else {})


def render_page(
    template: str,
    started: float,
    status: int = 200,
    keep: Callable[[str], None] | None = None,
    **context: Any,
) -> HTMLResponse:
    """The page as a response; ``keep`` is given its HTML (to serve it again)."""
    html = environment().get_template(template).render(**context)
    if keep is not None and status == 200:
        keep(html)
    return respond(html, started, status)


def html_key(name: str, generation: tuple[Any, ...], request: Request) -> tuple[Any, ...]:
    """A page's HTML is kept per model generation and URL: a reload reads it back."""
    query = tuple(sorted(request.query_params.multi_items()))
    return (name, generation, "html", request.url.path, query)


#: where a page that is older than the data gets its notice
STALE_NOTICE = (
    '<main>\n<div class="banner stale" id="stale-banner">New data arrived since this page '
    "was computed: it is being computed again, and reloads by itself when it is ready.</div>"
)
STALE_FRAGMENT = '<p class="hint" id="stale-banner">(from before the latest data; updating)</p>'


def respond(html: str, started: float, status: int = 200) -> HTMLResponse:
    elapsed = (time.perf_counter() - started) * 1000
    return HTMLResponse(
        html,
        status_code=status,
        headers={
            "Server-Timing": f"app;dur={elapsed:.1f}",
            "Content-Security-Policy": CSP,
            "Cache-Control": "no-cache",
        },
    )


def answer(
    request: Request, render: Callable[[float], HTMLResponse], title: str = "evalstore"
) -> HTMLResponse:
    """Run a page; an evalstore error becomes a readable error page with the API's status."""
    started = time.perf_counter()
    try:
        return render(started)
    except EvalstoreError as exc:
        # imported here: the server imports the UI, which must import without it
        from evalstore.server.errors import status_of

        status = status_of(exc)
        # the same page without the parameter that was wrong, when one was
        wrong = str(getattr(exc, "name", "") or "")
        query = dict(request.query_params)
        without = None
        if wrong in query:
            del query[wrong]
            without = href(request.url.path, query)
        found = (wrong, without) if without else None
        return error_page(request, started, status, title, type(exc).__name__, str(exc), found)
    except Exception as exc:
        log.exception("UI page %s failed", request.url.path)
        message = (
            f"{type(exc).__name__}: {exc}. This is a bug: the server log has the traceback; "
            "please report it."
        )
        return error_page(request, started, 500, title, "InternalError", message)


def error_page(
    request: Request,
    started: float,
    status: int,
    title: str,
    kind: str,
    message: str,
    without: tuple[str, str] | None = None,
) -> HTMLResponse:
    """The UI's readable error page: what went wrong, with links back (the same page
    without the parameter ``without`` names, when one was wrong)."""
    return render_page(
        "error.html.j2",
        started,
        status=status,
        title=title,
        kind=kind,
        message=message,
        back=request.headers.get("referer"),
        without=without,
        status_code=status,
    )


def query_of(request: Request) -> dict[str, str]:
    return {k: v for k, v in request.query_params.items()}


def model_context(facts: Facts, view: View | None, page: str, key: str) -> dict[str, Any]:
    """What every model page's template gets: ``page`` its title, ``page_key`` its path
    below the model (for the tabs and the links that keep the view)."""
    return {
        "title": f"{facts.name} · {page}",
        "facts": facts,
        "view": view,
        "links": Links(facts.name, view, key),
        "page": page,
        "page_key": key,
        "windows": WINDOWS,
    }


def group_issues(result: Any) -> list[dict[str, Any]]:
    """Issues by (severity, column, check): in how many windows, first and last, the latest
    message (a check failing every day is one line, not one per day)."""
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for issue in result.issues:
        key = (issue.severity, issue.column, issue.check)
        g = out.setdefault(
            key,
            {
                "severity": issue.severity,
                "column": issue.column,
                "check": issue.check,
                "windows": 0,
                "first": issue.window,
                "last": issue.window,
                "message": issue.message,
            },
        )
        g["windows"] += 1
        if issue.window is not None:
            if g["first"] is None or issue.window < g["first"]:
                g["first"] = issue.window
            if g["last"] is None or issue.window >= g["last"]:
                g["last"], g["message"] = issue.window, issue.message
    return list(out.values())


def quality_summary(result: Any) -> list[dict[str, Any]]:
    """Per column, over every window: rows, missing, range, rows out of range, new values.

    ``new`` lists the new values the windows named (each window names its most frequent,
    at most five); ``new_values`` counts them all, exact when every window named all of
    its own or one window holds them all, else a lower bound (``new_exact`` False): the
    largest window's count of new values, or the union of the names, if larger."""
    out: dict[str, dict[str, Any]] = {}
    for c in result.columns:
        s = out.setdefault(
            c.column,
            {
                "column": c.column,
                "dtype": c.dtype,
                "n": 0,
                "missing": 0,
                "min": None,
                "max": None,
                "out_of_range": None,
                "new": [],
                "new_values": 0,
                "new_exact": True,
                "most_in_a_window": 0,
                "windows_with_new": 0,
                "distinct": 0,
                "issues": 0,
            },
        )
        s["n"] += c.n
        s["missing"] += c.missing
        if s["distinct"] is not None:  # None: not counted (quality(details=False))
            s["distinct"] = None if c.distinct is None else max(s["distinct"], c.distinct)
        for key, pick in (("min", min), ("max", max)):
            value = getattr(c, key)
            if value is not None:
                try:
                    s[key] = value if s[key] is None else pick(s[key], value)
                except TypeError:
                    s[key] = value
        if c.out_of_range is not None:
            s["out_of_range"] = (s["out_of_range"] or 0) + sum(c.out_of_range.values())
        for v in c.new_categories:
            if v not in s["new"]:
                s["new"].append(v)
        if c.new_category_values:
            s["windows_with_new"] += 1
            s["most_in_a_window"] = max(s["most_in_a_window"], c.new_category_values)
            if c.new_category_values > len(c.new_categories):
                s["new_exact"] = False
    for issue in result.issues:
        if issue.column in out:
            out[issue.column]["issues"] += 1
    for s in out.values():
        s["missing_share"] = s["missing"] / s["n"] if s["n"] else None
        s["new_values"] = max(len(s["new"]), s.pop("most_in_a_window"))
        if s.pop("windows_with_new") <= 1:
            s["new_exact"] = True
    return list(out.values())


def _has_rows(facts: Facts, environment: str, start: datetime, end: datetime) -> bool:
    """Whether ``environment``'s rows span into ``[start, end)``, from the facts' first and
    last timestamps (no query): a preset whose side has no rows led to an error page."""
    volume = facts.volume(environment)
    if not volume.rows or volume.first is None or volume.last is None:
        return False
    return volume.first < end and volume.last >= start


def compare_presets(facts: Facts, view: View) -> list[tuple[str, dict[str, str]]]:
    """Comparisons a page offers, each only when both its sides have rows."""
    out: list[tuple[str, dict[str, str]]] = []
    envs = facts.environments
    current = _has_rows(facts, view.environment, view.start, view.end)
    if "training" in envs and view.environment != "training" and current:
        out.append(
            (
                f"training vs {view.environment} (current range)",
                {
                    "a_environment": "training",
                    "b_environment": view.environment,
                    "b_start": view.params()["start"],
                    "b_end": view.params()["end"],
                },
            )
        )
    env_versions = [v for v in facts.versions if facts.volume(view.environment, v).rows]
    if len(env_versions) >= 2:
        first, last = env_versions[-2], env_versions[-1]
        out.append(
            (
                f"{first} vs {last} ({view.environment})",
                {
                    "a_environment": view.environment,
                    "a_version": first,
                    "b_environment": view.environment,
                    "b_version": last,
                },
            )
        )
    span = view.end - view.start
    if current and _has_rows(facts, view.environment, view.start - span, view.start):
        out.append(
            (
                "the range before vs the current range",
                {
                    "a_environment": view.environment,
                    "a_start": (view.start - span).strftime("%Y-%m-%d"),
                    "a_end": view.params()["start"],
                    "b_environment": view.environment,
                    "b_start": view.params()["start"],
                    "b_end": view.params()["end"],
                },
            )
        )
    return out
