"""The evalstore server: a FastAPI app that owns one store, and ``serve()`` to run it.

::

    evalstore serve --store my-store            # http://127.0.0.1:8080, API docs at /docs

    import evalstore as es
    store = es.connect("http://127.0.0.1:8080")  # the same API as the embedded store

One process owns a store's file (DuckDB locks it), so the server is how many processes
log to one store. It serialises writes (one batch at a time, each one DuckDB
transaction) and runs store calls in a thread pool, so that the event loop keeps
answering. On SIGTERM it stops accepting requests, lets the batch being written finish,
and closes the store: a batch is in the store whole, or not at all.
"""

from __future__ import annotations

import contextlib
import gc
import ipaddress
import json
import logging
import os
import re
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import swagger_ui_bundle  # type: ignore[import-untyped]
from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from evalstore import __version__
from evalstore._keys import MAKE_KEY, check_key
from evalstore.errors import ParameterError
from evalstore.sdk import Store
from evalstore.server.deps import ServerState
from evalstore.server.errors import install_handlers
from evalstore.server.middleware import ApiKeyMiddleware, BodyLimitMiddleware
from evalstore.server.routes import (
    baselines,
    drift,
    ingest,
    login,
    models,
    performance,
    quality,
    reports,
    rows,
    slices,
    system,
    uploads,
)
from evalstore.server.uploads import UploadArea
from evalstore.store.duckdb import SERVER_FILE
from evalstore.ui import install as install_ui

__all__ = ["DEFAULT_MAX_BODY", "check_bind", "create_app", "is_loopback", "parse_size", "serve"]

DEFAULT_MAX_BODY = "256MB"
#: seconds a stopping server waits for requests in flight; a batch being written finishes
#: whatever this says (closing the store waits for it)
GRACEFUL_SECONDS = 60

log = logging.getLogger("evalstore.server")

DESCRIPTION = """\
The REST API of an evalstore server: models, and logging inferences and actuals.

Every error answers `{"error": {"type", "message", "details"}}`. A server bound beyond
loopback needs `Authorization: Bearer <key>` on every request. See docs/api.md.
"""


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (127.0.0.0/8, ::1) or ``localhost``."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, api_key: str | None) -> None:
    """Refuse to listen beyond loopback without an API key."""
    if not api_key and not is_loopback(host):
        raise ParameterError(
            "api_key",
            "set when the server listens on an address other than loopback",
            None,
            f"--host {host} lets other machines reach the store: set EVALSTORE_API_KEY (or pass "
            f"--api-key) to a long random secret ({MAKE_KEY}), or listen on --host 127.0.0.1.",
        )


def check_api_key(api_key: str | None) -> str | None:
    """The server's key, or None for none (an empty one is none); a ParameterError for a key
    no client can send (whitespace, control characters) or too short to be a secret."""
    if not api_key:
        return None
    return check_key(api_key, "api_key (--api-key or EVALSTORE_API_KEY)", server=True)


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:([KMGT])(i)?B|B?)\s*$", re.I)


def parse_size(value: str | int) -> int:
    """Bytes from ``'256MB'`` (10^6), ``'1GiB'`` (2^30) or a plain number of bytes."""
    if isinstance(value, int) and value > 0:
        return value
    match = _SIZE.match(str(value))
    if not match or float(match.group(1)) <= 0:
        raise ParameterError("max_body_size", "a size such as '256MB' or '1GiB'", value)
    number, unit, binary = match.groups()
    power = "KMGT".index(unit.upper()) + 1 if unit else 0
    return int(float(number) * (1024 if binary else 1000) ** power)


def create_app(
    store: Store,
    *,
    api_key: str | None = None,
    max_body_bytes: int = parse_size(DEFAULT_MAX_BODY),
) -> FastAPI:
    """The app serving ``store``, which it closes when it shuts down.

    The store keeps profiles (``store/_profiles.py``): a server reads the same hours for
    one view after another, and only the hours of each new batch need reading again."""
    store._engine.keep_profiles()
    state = ServerState(
        store=store,
        uploads=UploadArea(store.location.home / "uploads"),
        max_body_bytes=max_body_bytes,
        api_key=check_api_key(api_key),
    )
    state.uploads.purge()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _freeze_startup_objects()
        yield
        await run_in_threadpool(state.close)  # waits for a batch being written

    app = FastAPI(
        title="evalstore",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,  # served below, from installed files rather than a CDN
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.evalstore = state
    install_handlers(app)
    analyses = (performance, drift, quality, slices, reports, baselines)
    for module in (system, models, ingest, uploads, rows, *analyses):
        app.include_router(module.router)
    _docs(app)
    app.include_router(login.router)  # signs a browser in when the server has an API key
    install_ui(app)  # the web UI's pages and /static
    # the last added runs first: the key is checked before any body is read
    app.add_middleware(BodyLimitMiddleware, limit=max_body_bytes)
    if state.api_key:
        app.add_middleware(ApiKeyMiddleware, api_key=state.api_key)
    return app


def _freeze_startup_objects() -> None:
    """Leave what the server holds from its start (modules, routes, templates: about 150k
    objects) out of the garbage collector's full collections, which walked them all with
    the page that triggered one waiting: 12 in one run of the UI benchmark, 110 ms each on
    average and up to 170 ms; with them left out, 40-65 ms on average and up to 85-160 ms
    (what the views cache is still walked). Garbage is collected first, so that nothing
    unreachable is kept; objects made later are collected as before."""
    gc.collect()
    gc.freeze()


def _docs(app: FastAPI) -> None:
    """The OpenAPI page at /docs, with Swagger UI from an installed package (works offline)."""
    assets = Path(str(swagger_ui_bundle.swagger_ui_path))
    app.mount("/docs/assets", StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="evalstore API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
        )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schema.setdefault("components", {})["securitySchemes"] = {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The server's API key (EVALSTORE_API_KEY); needed when "
                    "the server listens beyond loopback.",
                }
            }
            schema["security"] = [{"apiKey": []}, {}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


#: connections the listening socket queues before the server accepts them
BACKLOG = 2048


def _bind(host: str, port: int) -> socket.socket:
    """The server's socket, bound and listening before the URL is printed: a client that
    connects at once (a test, a script reading the URL) waits in the backlog while the
    server starts, rather than being refused."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise ParameterError(
            "--host/--port",
            "an address this machine can listen on",
            f"{host}:{port}",
            f"{exc.strerror or exc}. Choose another --port (or stop what listens there).",
        ) from None
    sock.set_inheritable(True)
    return sock


def serve(
    store: str | Path | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    api_key: str | None = None,
    max_body_size: str | int = DEFAULT_MAX_BODY,
    say: Callable[[str], None] = print,
    page: str = "/",
) -> None:
    """Open the store and serve it until SIGTERM or Ctrl+C; check everything before that.
    ``page``: the web UI page to point at in what is printed."""
    import uvicorn

    api_key = check_api_key(api_key)
    check_bind(host, api_key)
    max_body = parse_size(max_body_size)
    sock = _bind(host, port)
    try:
        opened = Store(store)
        app = create_app(opened, api_key=api_key, max_body_bytes=max_body)
    except BaseException:
        sock.close()
        raise
    state: ServerState = app.state.evalstore
    try:
        bound = sock.getsockname()
        shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        url = f"http://{shown}:{bound[1]}"
        say(
            f"evalstore server for {opened.location.home} on {url} (API docs: {url}/docs)"
            + ("; API key required" if api_key else "")
        )
        say(f'connect with: es.connect("{url}"' + (", api_key=...)" if api_key else ")"))
        say(f"web UI: {url}{page}")
        # beside the store file: a process that finds the store locked names this URL
        served = opened.location.data_file.parent / SERVER_FILE
        _write_served(served, url, api_key is not None)
        from evalstore.server.protocol import MAX_HEAD_BYTES, JsonErrorH11Protocol

        config = uvicorn.Config(
            app,
            http=JsonErrorH11Protocol,
            h11_max_incomplete_event_size=MAX_HEAD_BYTES,
            log_level="info",
            timeout_graceful_shutdown=GRACEFUL_SECONDS,
            server_header=False,
        )
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        state.close()  # closed already, unless the server failed to start
        sock.close()
        _remove_served(opened.location.data_file.parent / SERVER_FILE)


def _write_served(path: Path, url: str, api_key_required: bool) -> None:
    """Say where the store is served and whether a key is needed, never the key
    (``store.duckdb.served_at`` reads it); a folder that cannot be written to only loses
    the hint."""
    found = {"url": url, "pid": os.getpid(), "api_key_required": api_key_required}
    with contextlib.suppress(OSError):
        path.write_text(json.dumps(found))


def _remove_served(path: Path) -> None:
    with contextlib.suppress(OSError):
        found = json.loads(path.read_text())
        if isinstance(found, dict) and found.get("pid") == os.getpid():
            path.unlink()
