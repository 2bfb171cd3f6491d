"""The dashboard's read-only pages: the overview, nodes, a list for every kind of the registry, one
object's page. Each is complete HTML from the server (no script needed); a GET reads, nothing writes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from miniorch import kinds
from miniorch.api.context import Ctx
from miniorch.clock import utcnow
from miniorch.controllers.objects import NotFound
from miniorch.ui import detail, html, views

router = APIRouter()


def _kind(plural: str) -> kinds.Kind:
    kind = kinds.resolve(plural)
    if kind is None:
        known = ", ".join(info.plural for info in kinds.REGISTRY)
        raise NotFound(f'the dashboard has no page for "{plural}"; it knows {known}')
    return kind


@router.get("/")
def overview(request: Request, ctx: Ctx) -> HTMLResponse:
    now = utcnow()
    return html.page(
        request, "overview.html", title="Overview", nodes=views.node_table(ctx, now), counts=views.kind_counts(ctx)
    )


@router.get("/nodes")
def nodes(request: Request, ctx: Ctx) -> HTMLResponse:
    return html.page(request, "nodes.html", title="Nodes", nodes=views.node_table(ctx, utcnow()))


@router.get("/k/{plural}", response_model=None)
def kind_list(request: Request, ctx: Ctx, plural: str, namespace: str | None = None, page: int = 1) -> Response:
    kind = _kind(plural)
    if kind == kinds.Kind.NODE:
        return RedirectResponse("/ui/nodes", status_code=303)
    table = views.kind_table(ctx, kind, namespace or None, page, utcnow())
    info = kinds.get(kind)
    return html.page(
        request,
        "list.html",
        title=info.plural.capitalize(),
        plural=info.plural,
        table=table,
        namespace=namespace or "",
        page_size=views.PAGE_SIZE,
    )


@router.get("/k/{plural}/{namespace}/{name}", response_model=None)
def object_page(request: Request, ctx: Ctx, plural: str, namespace: str, name: str) -> Response:
    kind = _kind(plural)
    if kind == kinds.Kind.EVENT:  # events have no page of their own: their list
        return RedirectResponse(f"/ui/k/{plural}", status_code=303)
    if kind in (kinds.Kind.POD, kinds.Kind.NODE):
        return RedirectResponse(views.object_href(kind, namespace, name), status_code=303)
    found = detail.detail(ctx, kind, namespace, name, utcnow())
    return html.page(request, "object.html", title=f"{kind} {name}", d=found)
