"""Routes behind kubectl's preview verbs: `apply --dry-run=server` and `diff -f`.

`POST /api/dry-run` runs the whole server side of an apply (parsing, defaulting, policy,
immutability) and stores nothing: it answers what each object would become and what it is now.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from miniorch.controllers import objects
from miniorch.controllers.objects import Applier, Busy
from miniorch.spec import loader
from miniorch.store.store import Store


class DryRunRequest(BaseModel):
    source: str
    text: str
    # `diff`: check each object as the one who manages it would apply it (a file in the watched
    # folder may be compared with what it made); an apply through the API may not change those.
    as_manager: bool = False


def add_routes(app: FastAPI, store: Store, applier: Applier) -> None:
    @app.post("/api/dry-run")
    def dry_run(req: DryRunRequest) -> dict[str, Any]:
        """Each object's `action` (created | configured | unchanged), `live` (its stored manifest,
        or null) and `merged` (the manifest an apply would store, defaults included)."""
        manifests = loader.load_text(req.text, req.source)
        if not req.as_manager:
            applier.check(manifests)
        results = []
        for m in manifests:
            merged = objects.normalized(m)
            existing = store.get_object(m.kind, m.namespace, m.name)
            if req.as_manager:
                applier.check([m], existing.source if existing is not None else "api")
            if existing is not None and existing.deleting:
                raise Busy(f'{m.kind.lower()} "{m.name}" is being deleted; try again when it is gone')
            if existing is None:
                action = "created"
            else:
                action = "unchanged" if objects.unchanged(existing, merged) else "configured"
            results.append(
                {
                    "kind": m.kind,
                    "namespace": m.namespace,
                    "name": m.name,
                    "action": action,
                    "live": existing.manifest if existing is not None else None,
                    "merged": merged,
                }
            )
        return {"results": results, "warnings": [str(w) for m in manifests for w in m.warnings]}
