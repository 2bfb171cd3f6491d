"""Pod routes: the list (narrowed by namespace, labels, owner, node and phase) and one pod.

A pod's log is `podlogs`; pods are made by the controllers, never through the API, but one may be
deleted (its controller replaces it: `controllers.poddelete`).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from miniorch import selectors
from miniorch.api import render
from miniorch.api.context import Ctx, StoreDep
from miniorch.api.models import Manifest
from miniorch.controllers.objects import NotFound
from miniorch.store.records import PodRecord
from miniorch.store.store import Store

router = APIRouter(prefix="/api/pods")


def rendered(store: Store, pods: list[PodRecord]) -> list[Manifest]:
    owners = store.objects_by_uid(p.owner_uid for p in pods)
    return [render.pod(p, owners.get(p.owner_uid)) for p in pods]


@router.get("")
def list_pods(
    store: StoreDep,
    namespace: str | None = None,
    selector: str | None = None,
    owner: str | None = None,
    node: str | None = None,
    phase: str | None = None,
) -> Response:
    """`node` and `phase` are `ctl get --field-selector spec.nodeName=N,status.phase=P` served here."""
    reqs = selectors.parse(selector)
    # Equality requirements narrow the query in SQL; `matches` below still decides.
    equal = {r.key: r.values[0] for r in reqs if r.op == "="}
    pods = store.pods_of(owner) if owner else store.list_pods(namespace, equal, with_log=False)
    pods = [
        p
        for p in pods
        if (not namespace or p.namespace == namespace)
        and (node is None or (p.node or "") == node)
        and (phase is None or p.phase.value == phase)
        and selectors.matches(reqs, p.labels)
    ]
    return render.as_list(rendered(store, pods))


@router.get("/{namespace}/{name}")
def get_pod(store: StoreDep, namespace: str, name: str) -> Manifest:
    rec = store.get_pod(namespace, name)
    if rec is None:
        raise NotFound(f'pod "{name}" not found in namespace "{namespace}"')
    return rendered(store, [rec])[0]


@router.delete("/{namespace}/{name}")
def delete_pod(ctx: Ctx, namespace: str, name: str) -> Manifest:
    """Stop and remove one pod's container; its controller replaces it (`ctl delete pod NAME`)."""
    from miniorch.controllers import poddelete

    rec = poddelete.delete_pod(ctx.store, namespace, name)
    ctx.wake()
    return rendered(ctx.store, [rec])[0]
