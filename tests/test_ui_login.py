"""Signing in to the web UI of a server that needs an API key, on a real server.

A browser cannot send ``Authorization: Bearer <key>``: it signs in at ``/login`` and then
carries a session cookie (an HMAC under the key, never the key). REST clients keep the
header and the JSON 401.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

import evalstore as es
from evalstore.server.middleware import SESSION_COOKIE, session_token
from server_harness import CHROMIUM, CHROMIUM_ARGS, Server, shared_server

KEY = "login-test-key-0123456789abcdef"
MODEL = "churn"
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("login") / "store"
    with es.connect(folder) as store:
        store.model(MODEL, task="binary_classification")
    with Server(folder, api_key=KEY) as running:
        yield running


def _client(server: Server, **kwargs: Any) -> httpx.Client:
    return httpx.Client(base_url=server.url, follow_redirects=False, timeout=60, **kwargs)


def _sign_in(http: httpx.Client, key: str = KEY, next_: str | None = None) -> httpx.Response:
    form = {"api_key": key} if next_ is None else {"api_key": key, "next": next_}
    return http.post("/login", data=form, headers=HTML)


def _assert_401_json(r: httpx.Response) -> None:
    assert r.status_code == 401, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert set(r.json()["error"]) == {"type", "message", "details"}
    assert r.json()["error"]["type"] == "Unauthorized"


def test_a_page_without_auth_goes_to_the_login_page(server: Server) -> None:
    with _client(server) as http:
        r = http.get(f"/models/{MODEL}/drift?window=day&start=2024-06-01", headers=HTML)
        assert r.status_code == 303
        location = urlsplit(r.headers["location"])
        assert location.path == "/login"
        assert parse_qs(location.query) == {
            "next": [f"/models/{MODEL}/drift?window=day&start=2024-06-01"]
        }
        assert http.get("/", headers=HTML).headers["location"] == "/login?next=%2F"

        page = http.get(r.headers["location"], headers=HTML)
        assert page.status_code == 200
        assert "content-security-policy" in page.headers
        assert 'type="password" name="api_key"' in page.text
        assert f'name="next" value="/models/{MODEL}/drift?window=day&amp;start=2024-06-01"' in (
            page.text
        )
        assert "<script>" not in page.text  # the strict CSP allows no inline script
        # what the login page loads needs no key
        for asset in ("/static/ui.css", "/static/ui.js", "/static/favicon.svg", "/favicon.ico"):
            assert http.get(asset).status_code == 200, asset


def test_rest_keeps_the_header_and_the_json_401(server: Server) -> None:
    with _client(server) as http:
        _assert_401_json(http.get("/api/v1/models"))
        # a browser's Accept does not turn the REST API into pages
        _assert_401_json(http.get("/api/v1/models", headers=HTML))
        # nor does a page's path asked for by a script, or with another method
        _assert_401_json(http.get("/", headers={"Accept": "application/json"}))
        _assert_401_json(http.post("/", headers=HTML))
        wrong = {**HTML, "Authorization": "Bearer wrong"}
        _assert_401_json(http.get("/", headers=wrong))
        assert http.get("/api/v1/models", headers=server.headers).status_code == 200
        assert http.get("/", headers={**HTML, **server.headers}).status_code == 200


def test_a_wrong_key_is_refused_on_the_page(server: Server) -> None:
    with _client(server) as http:
        for key in ("wrong", KEY[:-1], KEY + "x", ""):
            r = _sign_in(http, key, next_="/")
            assert r.status_code == 401, key
            assert r.headers["content-type"].startswith("text/html")
            assert "set-cookie" not in r.headers
            assert 'id="login-error"' in r.text
            expected = "not this server&#39;s API key" if key else "Enter the server&#39;s API key"
            assert expected in r.text, key
            assert KEY not in r.text
        assert not http.cookies
        assert http.get("/", headers=HTML).status_code == 303


def test_the_right_key_signs_in_with_a_cookie(server: Server) -> None:
    with _client(server) as http:
        r = _sign_in(http, next_=f"/models/{MODEL}?window=week")
        assert r.status_code == 303, r.text
        assert r.headers["location"] == f"/models/{MODEL}?window=week"
        cookie = r.headers["set-cookie"]
        attributes = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
        assert {"httponly", "samesite", "path"} <= attributes
        assert "secure" not in attributes  # plain HTTP: a Secure cookie would never return
        assert "samesite=strict" in cookie.lower() and "path=/" in cookie.lower()
        value = http.cookies[SESSION_COOKIE]
        assert KEY not in cookie and KEY not in value
        message = b"evalstore web UI session v1"
        assert value == hmac.new(KEY.encode(), message, hashlib.sha256).hexdigest()

        models = http.get("/", headers=HTML)
        assert models.status_code == 200
        assert "<h1>Models</h1>" in models.text and f'data-model="{MODEL}"' in models.text
        overview = http.get(r.headers["location"], headers=HTML)
        assert overview.status_code == 200
        assert http.get(f"/models/{MODEL}/health", headers=HTML).status_code == 200
        # the session is also good for the API, which the same browser may call
        assert http.get("/api/v1/models").status_code == 200

        signed_in = http.get("/login", headers=HTML)
        assert signed_in.status_code == 200 and 'id="signed-in"' in signed_in.text
        assert 'action="/logout"' in signed_in.text


def test_the_cookie_is_secure_over_https(server: Server) -> None:
    # uvicorn trusts X-Forwarded-Proto from a proxy on loopback, as a TLS proxy would send
    with _client(server) as http:
        r = http.post("/login", data={"api_key": KEY}, headers={"X-Forwarded-Proto": "https"})
        assert r.status_code == 303
        assert "secure" in r.headers["set-cookie"].lower()


def test_a_forged_cookie_is_not_a_session(server: Server) -> None:
    forged = (
        "0" * 64,
        session_token(KEY + "x"),
        session_token(KEY)[:-1],
        session_token(KEY).upper(),
        KEY,
        "",
    )
    for value in forged:
        with _client(server, cookies={SESSION_COOKIE: value}) as http:
            r = http.get(f"/models/{MODEL}", headers=HTML)
            assert r.status_code == 303, value
            assert r.headers["location"].startswith("/login?next=")
            _assert_401_json(http.get("/api/v1/models"))


@pytest.mark.parametrize(
    "next_",
    [
        "//evil.example",
        "//evil.example/models",
        "http://evil.example/",
        "https://evil.example",
        "/\\evil.example",
        "/\t/evil.example",
        "evil.example",
        "javascript:alert(1)",
        "",
    ],
)
def test_next_never_leaves_the_server(server: Server, next_: str) -> None:
    with _client(server) as http:
        page = http.get("/login", params={"next": next_}, headers=HTML)
        assert 'name="next" value="/"' in page.text and "evil" not in page.text
        r = _sign_in(http, next_=next_)
        assert r.status_code == 303
        assert r.headers["location"] == "/"


def test_sign_out_clears_the_cookie(server: Server) -> None:
    with _client(server) as http:
        assert _sign_in(http).status_code == 303
        assert http.get("/", headers=HTML).status_code == 200
        r = http.post("/logout", headers=HTML)
        assert r.status_code == 303 and r.headers["location"] == "/login"
        cleared = r.headers["set-cookie"].lower()
        assert cleared.startswith(f"{SESSION_COOKIE}=") and "max-age=0" in cleared
        assert SESSION_COOKIE not in http.cookies
        assert http.get("/", headers=HTML).status_code == 303
        _assert_401_json(http.get("/api/v1/models"))


def test_without_a_key_nothing_changes(tmp_path_factory: pytest.TempPathFactory) -> None:
    server = shared_server(tmp_path_factory)  # loopback, no API key
    with _client(server) as http:
        assert http.get("/", headers=HTML).status_code == 200
        assert http.get("/api/v1/models").status_code == 200
        r = http.get("/login", headers=HTML)
        assert r.status_code == 303 and r.headers["location"] == "/"
        r = http.get("/login", params={"next": "/models/x?window=day"}, headers=HTML)
        assert r.headers["location"] == "/models/x?window=day"
        r = http.post("/login", data={"api_key": "anything", "next": "//evil.example"})
        assert r.status_code == 303 and r.headers["location"] == "/"
        assert "set-cookie" not in r.headers


def _console(message: Any, problems: list[str]) -> None:
    # Chromium logs the 401 of the wrong key's answer, which the test asks for
    if message.type == "error" and "401" not in message.text:
        problems.append(f"console error: {message.text}")


def test_signing_in_with_a_browser(server: Server) -> None:
    """Chromium (as in test_ui_browser.py) follows the redirect, fills in the form, lands on
    the page it asked for, with no error on the way."""
    playwright_sync = pytest.importorskip(
        "playwright.sync_api", reason="needs playwright (pip install -e '.[test]')"
    )
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's Chromium at /usr/bin/chromium (apt-get install chromium)")
    problems: list[str] = []
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            page = context.new_page()
            page.set_default_timeout(60_000)
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            page.on("console", lambda m: _console(m, problems))
            page.goto(server.url + "/")
            assert urlsplit(page.url).path == "/login"
            page.fill("#api-key", "not the key")
            page.click("#sign-in")
            page.wait_for_selector("#login-error")
            assert "not this server's API key" in page.inner_text("#login-error")
            page.fill("#api-key", KEY)
            page.click("#sign-in")
            page.wait_for_selector("body[data-ready='1'] #models")
            assert urlsplit(page.url).path == "/"
            assert page.inner_text("h1") == "Models"
            assert page.locator(f"tr[data-model='{MODEL}'] td.name").inner_text() == MODEL
            cookies = {c["name"]: c for c in context.cookies()}
            assert cookies[SESSION_COOKIE]["httpOnly"] is True
            assert cookies[SESSION_COOKIE]["sameSite"] == "Strict"
            assert page.evaluate("document.cookie") == ""  # HttpOnly: no script reads it
        finally:
            browser.close()
    assert not problems, "\n".join(problems)
