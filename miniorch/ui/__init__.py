"""The web dashboard at `/ui` (DESIGN 12): read-only pages over what the API serves, for a browser.

Its own FastAPI sub-app, mounted by `api.app.create_app`: server-rendered HTML (Jinja2, escaped
by default), one small script for live log follow, strict security headers on every response,
and HTML error pages. Authentication is the API's: the unix socket by its file mode, TCP by a
login form and a signed session cookie (`session`).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from miniorch.api.context import ApiContext
from miniorch.ui import html, login, logview, pages
from miniorch.ui.session import PREFIX

__all__ = ["PREFIX", "create_app"]

#: No inline script or style anywhere: the only script is static/follow.js.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


async def _secure_headers(request: Request, call_next: object) -> Response:
    response: Response = await call_next(request)  # type: ignore[operator]
    response.headers.update(HEADERS)
    return response


def create_app(ctx: ApiContext) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.ctx = ctx
    html.add_error_pages(app)
    app.middleware("http")(_secure_headers)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    for router in (login.router, logview.router, pages.router):
        app.include_router(router)
    return app
