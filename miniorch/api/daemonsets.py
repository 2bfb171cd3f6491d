"""DaemonSet rollout routes: revision history and rollback (`ctl rollout history/undo`).

Revisions render as Kubernetes ControllerRevisions; a rollback writes the
chosen revision's template back into the DaemonSet through the Applier.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response
from pydantic import BaseModel

from miniorch.api import render
from miniorch.controllers.objects import Applier, NotFound
from miniorch.reconcile import revisions
from miniorch.store.records import ObjectRecord, RevisionRecord
from miniorch.store.store import Store


class RollbackRequest(BaseModel):
    to_revision: int = 0  # 0: the revision before the current one


def revision(rec: RevisionRecord, owner: ObjectRecord) -> dict[str, Any]:
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
                {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": owner.name, "uid": owner.uid, "controller": True}
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


def add_routes(app: FastAPI, store: Store, applier: Applier) -> None:
    def _ds(namespace: str, name: str) -> ObjectRecord:
        rec = store.get_object("DaemonSet", namespace, name)
        if rec is None or rec.deleting:
            raise NotFound(f'daemonsets.apps "{name}" not found')
        return rec

    @app.get("/api/objects/daemonsets/{namespace}/{name}/revisions")
    def list_revisions(namespace: str, name: str) -> Response:
        ds = _ds(namespace, name)
        return render.as_list([revision(r, ds) for r in store.revisions_of(ds.uid)])

    @app.post("/api/objects/daemonsets/{namespace}/{name}/rollback")
    def rollback(namespace: str, name: str, req: RollbackRequest) -> dict[str, Any]:
        ds = _ds(namespace, name)
        template = ds.manifest.get("spec", {}).get("template", {})
        current = revisions.template_hash(template)
        target = revisions.find(store.revisions_of(ds.uid), req.to_revision, current)
        if target is None:
            if req.to_revision:
                raise NotFound(f"unable to find specified revision {req.to_revision} in history")
            raise NotFound(f'no rollout history found for daemonset "{name}"')
        if target.hash == current:
            return {"action": "skipped", "revision": target.revision}
        applier.patch("DaemonSet", namespace, name, {"spec": {"template": merge_patch_to(template, target.template)}})
        return {"action": "rolled back", "revision": target.revision}
