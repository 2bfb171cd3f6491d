"""DaemonSet and StatefulSet rollout routes: revision history and rollback (`ctl rollout history/undo`).

Revisions render as Kubernetes ControllerRevisions; a rollback writes the
chosen revision's template back into the DaemonSet through the Applier.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from miniorch.api import render
from miniorch.api.context import Ctx, StoreDep
from miniorch.api.models import Manifest, RollbackRequest, RollbackResponse
from miniorch.controllers.objects import NotFound
from miniorch.reconcile import revisions
from miniorch.store.records import ObjectRecord, RevisionRecord
from miniorch.store.store import Store

router = APIRouter(prefix="/api/objects/{plural}/{namespace}/{name}")
#: The kinds with revisions (ControllerRevisions), by plural.
ROLLOUT_KINDS = {"daemonsets": "DaemonSet", "statefulsets": "StatefulSet"}


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


def _ds(store: Store, namespace: str, name: str, plural: str = "daemonsets") -> ObjectRecord:
    kind = ROLLOUT_KINDS.get(plural)
    rec = store.get_object(kind, namespace, name) if kind else None
    if rec is None or rec.deleting:
        raise NotFound(f'{plural}.apps "{name}" not found')
    return rec


@router.get("/revisions")
def list_revisions(store: StoreDep, plural: str, namespace: str, name: str) -> Response:
    ds = _ds(store, namespace, name, plural)
    return render.as_list([revision(r, ds) for r in store.revisions_of(ds.uid)])


@router.post("/rollback", response_model=None)
def rollback(ctx: Ctx, plural: str, namespace: str, name: str, req: RollbackRequest) -> RollbackResponse:
    ds = _ds(ctx.store, namespace, name, plural)
    template = ds.manifest.get("spec", {}).get("template", {})
    current = revisions.template_hash(template)
    target = revisions.find(ctx.store.revisions_of(ds.uid), req.to_revision, current)
    if target is None:
        if req.to_revision:
            raise NotFound(f"unable to find specified revision {req.to_revision} in history")
        raise NotFound(f'no rollout history found for {ds.kind.lower()} "{name}"')
    if target.hash == current:
        return {"action": "skipped", "revision": target.revision}
    patch = {"spec": {"template": merge_patch_to(template, target.template)}}
    ctx.applier.patch(ds.kind, namespace, name, patch)
    return {"action": "rolled back", "revision": target.revision}
