"""Extension subresources for what has no Kubernetes verb: a node's drain, and the revision history and
rollback of DaemonSets and StatefulSets (`ctl drain`, `ctl rollout history/undo`).

On the Kubernetes paths (`POST /api/v1/nodes/{name}/drain`,
`GET|POST /apis/apps/v1/namespaces/{ns}/{daemonsets|statefulsets}/{name}/revisions|rollback`), one
segment longer than the generic routes of `resources`, so they never match those; errors are Status
objects. Revisions render as ControllerRevisions; a rollback writes the chosen revision's template
back through the Applier.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from miniorch.api import render
from miniorch.api.context import Ctx, StoreDep
from miniorch.api.kube import status
from miniorch.api.models import DrainResponse, Manifest, RollbackRequest, RollbackResponse
from miniorch.reconcile import revisions
from miniorch.store.records import NodeOverrides, ObjectRecord, RevisionRecord
from miniorch.store.store import Store

router = APIRouter()
#: The kinds with revisions (ControllerRevisions), by plural.
ROLLOUT_KINDS = {"daemonsets": "DaemonSet", "statefulsets": "StatefulSet"}
_SET = "/apis/apps/v1/namespaces/{namespace}/{plural}/{name}"


@router.post("/api/v1/nodes/{name}/drain", response_model=None)
async def drain_node(ctx: Ctx, name: str) -> DrainResponse:
    """Cordon the node and evict its Job pods; `remaining` lists pods still stopping.

    Async on purpose: evictions start tasks on the daemon's event loop."""
    if name not in ctx.monitor.nodes:
        raise status.not_found("nodes", name)
    over = ctx.store.node_overrides().get(name) or NodeOverrides(name)
    ctx.store.save_node_overrides(NodeOverrides(name, dict(over.labels), True))
    remaining = ctx.drain(name) if ctx.drain else []
    return {"node": name, "remaining": remaining}


def revision(rec: RevisionRecord, owner: ObjectRecord) -> Manifest:
    annotations = {revisions.CHANGE_CAUSE: rec.change_cause} if rec.change_cause else {}
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {
            "name": rec.name,
            "namespace": owner.namespace,
            "labels": {revisions.HASH_LABEL: rec.hash},
            "annotations": annotations,
            "creationTimestamp": render.ts(rec.created_at),
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": owner.kind, "name": owner.name, "uid": owner.uid, "controller": True}
            ],
        },
        "revision": rec.revision,
        "data": {"spec": {"template": rec.template}},
    }


def merge_patch_to(old: Any, new: Any) -> Any:
    """The RFC 7386 merge patch that turns `old` into `new`."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return new
    out: dict[str, Any] = {k: None for k in old if k not in new}
    for key, value in new.items():
        if old.get(key) != value:
            out[key] = merge_patch_to(old.get(key), value)
    return out


def _owner(store: Store, namespace: str, name: str, plural: str) -> ObjectRecord:
    kind = ROLLOUT_KINDS.get(plural)
    if kind is None:
        raise status.KubeError(404, f"the server could not find the requested resource ({plural} have no revisions)")
    rec = store.get_object(kind, namespace, name)
    if rec is None or rec.deleting:
        raise status.not_found(f"{plural}.apps", name)
    return rec


@router.get(_SET + "/revisions")
def list_revisions(store: StoreDep, plural: str, namespace: str, name: str) -> JSONResponse:
    owner = _owner(store, namespace, name, plural)
    items = [revision(r, owner) for r in store.revisions_of(owner.uid)]
    return JSONResponse({"apiVersion": "apps/v1", "kind": "ControllerRevisionList", "metadata": {}, "items": items})


@router.post(_SET + "/rollback", response_model=None)
def rollback(ctx: Ctx, plural: str, namespace: str, name: str, req: RollbackRequest) -> RollbackResponse:
    owner = _owner(ctx.store, namespace, name, plural)
    template = owner.manifest.get("spec", {}).get("template", {})
    current = revisions.template_hash(template)
    target = revisions.find(ctx.store.revisions_of(owner.uid), req.to_revision, current)
    if target is None:
        if req.to_revision:
            raise status.KubeError(404, f"unable to find specified revision {req.to_revision} in history")
        raise status.KubeError(404, f'no rollout history found for {owner.kind.lower()} "{name}"')
    if target.hash == current:
        return {"action": "skipped", "revision": target.revision}
    patch = {"spec": {"template": merge_patch_to(template, target.template)}}
    ctx.applier.patch(owner.kind, namespace, name, patch)
    return {"action": "rolled back", "revision": target.revision}
