"""Signing a browser in: the login page, which sets the session cookie, and signing out.

A browser cannot send ``Authorization: Bearer <key>``, so a server with an API key serves
its web UI to whoever signed in at ``/login``: the key, posted once from a form, is
exchanged for a cookie holding an HMAC of a fixed message under the key
(:func:`~evalstore.server.middleware.session_token`), which ``ApiKeyMiddleware`` accepts
instead of the header. Without an API key (loopback) there is nothing to sign in to, and
``/login`` sends the browser on.
"""

from __future__ import annotations

import hmac
import time
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from evalstore.server.deps import StateDep
from evalstore.server.middleware import SESSION_COOKIE, safe_next, session_token
from evalstore.ui.rendering import render_page

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

#: the page to go to once signed in (``next``, as in ``/login?next=/models/churn``)
NextQuery = Annotated[str, Query(alias="next")]
NextForm = Annotated[str, Form(alias="next")]


def _signed_in(request: Request, api_key: str) -> bool:
    given = request.cookies.get(SESSION_COOKIE, "")
    return hmac.compare_digest(given.encode(), session_token(api_key).encode())


def _page(next_: str, *, status: int = 200, error: str = "", signed_in: bool = False) -> Response:
    return render_page(
        "login.html.j2",
        time.perf_counter(),
        status=status,
        title="Sign in",
        next=next_,
        error=error,
        signed_in=signed_in,
    )


def _go(to: str) -> RedirectResponse:
    return RedirectResponse(to, status_code=303, headers={"Cache-Control": "no-store"})


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, state: StateDep, next_: NextQuery = "/") -> Response:
    """The form asking for the API key; once signed in, a way to sign out."""
    target = safe_next(next_)
    if not state.api_key:
        return _go(target)
    return _page(target, signed_in=_signed_in(request, state.api_key))


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    state: StateDep,
    api_key: Annotated[str, Form()] = "",
    next_: NextForm = "/",
) -> Response:
    """Check the key (in constant time); if it is the server's, set the session cookie and go
    to ``next`` (a path on this server, else ``/``); if not, the form again, with 401."""
    target = safe_next(next_)
    if not state.api_key:
        return _go(target)
    if not api_key.strip():
        return _page(target, status=401, error="Enter the server's API key.")
    if not hmac.compare_digest(api_key.strip().encode(), state.api_key.encode()):
        return _page(
            target,
            status=401,
            error="That is not this server's API key. Check for a typo, or ask whoever "
            "started the server for the key it was given (--api-key or EVALSTORE_API_KEY).",
        )
    response = _go(target)
    response.set_cookie(
        SESSION_COOKIE,
        session_token(state.api_key),
        httponly=True,
        samesite="strict",
        path="/",
        # over plain HTTP a Secure cookie would never come back; behind a TLS proxy the
        # scheme is https (uvicorn reads X-Forwarded-Proto from a local proxy)
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
def logout(request: Request, state: StateDep) -> Response:
    """Clear the session cookie; back to the login page (or the models, without a key)."""
    response = _go("/login" if state.api_key else "/")
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response
