"""`/ui/login` and `/ui/logout`: the token in a form (POST body only, never a URL), a session cookie back.

On the unix socket there is nothing to log in to (the socket's file mode is the authentication,
as for the API): both routes go to the overview.
"""

from __future__ import annotations

import urllib.parse

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from miniorch.ui import html, session

log = structlog.get_logger(__name__)

router = APIRouter()


def _sessions(request: Request) -> session.Sessions | None:
    found: session.Sessions | None = request.scope.get(session.SCOPE_KEY)
    return found


def _home() -> RedirectResponse:
    return RedirectResponse(f"{session.PREFIX}/", status_code=303)


@router.get("/login", response_model=None)
def login_form(request: Request) -> Response:
    if _sessions(request) is None:
        return _home()
    return html.page(request, "login.html", title="Log in", error="")


@router.post("/login", response_model=None)
async def login(request: Request) -> Response:
    sessions = _sessions(request)
    if sessions is None:
        return _home()
    form = urllib.parse.parse_qs((await request.body()).decode("utf-8", errors="replace"))
    if not sessions.token_matches((form.get("token") or [""])[0]):
        client = request.client
        log.warning("ui_login_refused", client=f"{client.host}:{client.port}" if client else None)
        return html.page(request, "login.html", status=401, title="Log in", error="That is not the daemon's token.")
    response = _home()
    response.set_cookie(
        session.COOKIE,
        sessions.issue(),
        max_age=session.SESSION_SECONDS,
        path=session.PREFIX,
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return response


@router.post("/logout", response_model=None)
def logout(request: Request) -> Response:
    sessions = _sessions(request)
    if sessions is not None:
        sessions.revoke(request.cookies.get(session.COOKIE, ""))
    response = RedirectResponse(f"{session.PREFIX}/login", status_code=303)
    response.delete_cookie(session.COOKIE, path=session.PREFIX, httponly=True, samesite="strict")
    return response
