"""Node routes: list and show nodes, change their labels and cordon (`PATCH`), drain them."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from miniorch import selectors
from miniorch.api import render
from miniorch.api.context import ApiContext, Ctx
from miniorch.api.models import DrainResponse, Manifest, NodePatch
from miniorch.controllers.objects import NotFound
from miniorch.store.records import NodeOverrides

router = APIRouter(prefix="/api/nodes")


def _known(ctx: ApiContext, name: str) -> None:
    if name not in ctx.monitor.nodes:
        raise NotFound(f'node "{name}" not found')


def _node(ctx: ApiContext, name: str) -> Manifest:
    state = ctx.monitor.nodes.get(name)
    if state is None:
        raise NotFound(f'node "{name}" not found')
    over = ctx.store.node_overrides().get(name)
    return render.node(state, ctx.monitor.labels(name), bool(over and over.unschedulable))


@router.get("")
def list_nodes(ctx: Ctx, selector: str | None = None) -> Response:
    reqs = selectors.parse(selector)
    items = [_node(ctx, n) for n in sorted(ctx.monitor.nodes)]
    return render.as_list([i for i in items if selectors.matches(reqs, i["metadata"]["labels"])])


@router.get("/{name}")
def get_node(ctx: Ctx, name: str) -> Manifest:
    return _node(ctx, name)


@router.patch("/{name}")
def patch_node(ctx: Ctx, name: str, patch: NodePatch) -> Manifest:
    _known(ctx, name)
    over = ctx.store.node_overrides().get(name) or NodeOverrides(name)
    labels = {**over.labels, **patch.labels}
    unschedulable = over.unschedulable if patch.unschedulable is None else patch.unschedulable
    ctx.store.save_node_overrides(NodeOverrides(name, labels, unschedulable))
    ctx.wake()
    return _node(ctx, name)


@router.post("/{name}/drain", response_model=None)
async def drain_node(ctx: Ctx, name: str) -> DrainResponse:
    """Cordon the node and evict its Job pods; `remaining` lists pods still stopping.

    Async on purpose: evictions start tasks on the daemon's event loop."""
    _known(ctx, name)
    over = ctx.store.node_overrides().get(name) or NodeOverrides(name)
    ctx.store.save_node_overrides(NodeOverrides(name, dict(over.labels), True))
    remaining = ctx.drain(name) if ctx.drain else []
    return {"node": name, "remaining": remaining}
