"""HTML out: the Jinja2 environment (autoescape on, so nothing from a manifest reaches a page raw),
the navigation drawn from the kind registry, and the error pages of the dashboard."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from miniorch import kinds
from miniorch.controllers.objects import NotFound
from miniorch.store.errors import StoreUnavailable
from miniorch.ui import session

TEMPLATES = Path(__file__).parent / "templates"


@functools.cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every template, whatever its name: values are text unless marked safe (never)
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def nav() -> list[tuple[str, str]]:
    """(label, href) of the menu: the overview, nodes, then every other kind of the registry."""
    links = [("Overview", f"{session.PREFIX}/"), ("Nodes", f"{session.PREFIX}/nodes")]
    for info in kinds.REGISTRY:
        if info.kind != kinds.Kind.NODE:
            links.append((info.plural.capitalize(), f"{session.PREFIX}/k/{info.plural}"))
    return links


def page(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    """A rendered page; `values` are escaped as text wherever the template puts them."""
    logged_in = request.scope.get(session.SCOPE_KEY) is not None
    text = (
        environment()
        .get_template(template)
        .render(nav=nav(), path=request.url.path, logout=logged_in, prefix=session.PREFIX, **values)
    )
    return HTMLResponse(text, status_code=status)


def _error_page(status: int, title: str) -> Any:
    async def handler(request: Request, exc: Exception) -> HTMLResponse:
        return page(request, "error.html", status=status, title=title, message=str(exc))

    return handler


def add_error_pages(app: FastAPI) -> None:
    app.add_exception_handler(NotFound, _error_page(404, "Not found"))
    app.add_exception_handler(ValueError, _error_page(400, "Bad request"))
    app.add_exception_handler(
        StoreUnavailable, _error_page(503, "The database is not answering; the daemon retries, reload shortly")
    )
