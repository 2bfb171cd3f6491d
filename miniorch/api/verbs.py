"""Routes behind `ctl apply` and kubectl's preview verbs `apply --dry-run=server` and `diff -f`.

`POST /apply` stores the objects of a manifest text; `POST /api/dry-run` runs the whole server
side of an apply (parsing, defaulting, policy, immutability) and stores nothing: it answers what
each object would become and what it is now.
"""

from __future__ import annotations

from fastapi import APIRouter

from miniorch.api.context import Ctx
from miniorch.api.models import (
    ApplyRequest,
    ApplyResponse,
    ApplyResult,
    DryRunRequest,
    DryRunResponse,
    DryRunResult,
    Manifest,
)
from miniorch.controllers import objects
from miniorch.controllers.objects import Busy
from miniorch.spec import loader
from miniorch.store.records import ObjectRecord

router = APIRouter()


@router.post("/apply", response_model=None)
def apply(ctx: Ctx, req: ApplyRequest) -> ApplyResponse:
    manifests = loader.load_text(req.text, req.source)
    warnings = [str(w) for m in manifests for w in m.warnings]
    if req.dry_run:
        ctx.applier.check(manifests)
        checked = [ApplyResult(kind=m.kind, namespace=m.namespace, name=m.name, action="checked") for m in manifests]
        return {"results": checked, "warnings": warnings}
    results = [
        ApplyResult(kind=r.kind, namespace=r.namespace, name=r.name, action=r.action)
        for r in ctx.applier.apply(manifests, "api")
    ]
    return {"results": results, "warnings": warnings}


@router.post("/api/dry-run", response_model=None)
def dry_run(ctx: Ctx, req: DryRunRequest) -> DryRunResponse:
    """Each object's `action` (created | configured | unchanged), `live` (its stored manifest,
    or null) and `merged` (the manifest an apply would store, defaults included)."""
    manifests = loader.load_text(req.text, req.source)
    if not req.as_manager:
        ctx.applier.check(manifests)
    results = []
    for m in manifests:
        merged = objects.normalized(m)
        existing = ctx.store.get_object(m.kind, m.namespace, m.name)
        if req.as_manager:
            ctx.applier.check([m], existing.source if existing is not None else "api")
        if existing is not None and existing.deleting:
            raise Busy(f'{m.kind.lower()} "{m.name}" is being deleted; try again when it is gone')
        action, live = ("created", None) if existing is None else (_action(existing, merged), existing.manifest)
        results.append(
            DryRunResult(kind=m.kind, namespace=m.namespace, name=m.name, action=action, live=live, merged=merged)
        )
    return {"results": results, "warnings": [str(w) for m in manifests for w in m.warnings]}


def _action(existing: ObjectRecord, merged: Manifest) -> str:
    return "unchanged" if objects.unchanged(existing, merged) else "configured"
