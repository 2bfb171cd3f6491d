"""Workload object routes (`/api/objects/{plural}`): list, get, delete, merge-patch, and a manual CronJob run.

Private routes, until the Kubernetes API serves the same objects under their own paths.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body
from fastapi.responses import Response

from miniorch import kinds, selectors
from miniorch.api import render
from miniorch.api.context import Ctx, StoreDep
from miniorch.api.models import InstantiateRequest, Manifest, PatchResponse
from miniorch.clock import utcnow
from miniorch.controllers import cronjobs
from miniorch.controllers.objects import Conflict, NotFound
from miniorch.reconcile import cronjob as cronjob_plan

router = APIRouter(prefix="/api/objects")


def workload_kind(plural: str) -> str:
    kind = kinds.resolve(plural)
    if kind not in kinds.WORKLOADS:
        raise ValueError(f'unknown resource type "{plural}"; use jobs, cronjobs, daemonsets, pods, nodes or events')
    return kind


@router.get("/{plural}")
def list_objects(store: StoreDep, plural: str, namespace: str | None = None, selector: str | None = None) -> Response:
    kind = workload_kind(plural)
    reqs = selectors.parse(selector)
    items = [render.obj(o) for o in store.list_objects(kind, namespace)]
    return render.as_list([i for i in items if selectors.matches(reqs, i["metadata"].get("labels") or {})])


@router.get("/{plural}/{namespace}/{name}")
def get_object(store: StoreDep, plural: str, namespace: str, name: str) -> Manifest:
    kind = workload_kind(plural)
    rec = store.get_object(kind, namespace, name)
    if rec is None:
        raise NotFound(f'{kinds.get(kind).group} "{name}" not found')
    return render.obj(rec)


@router.delete("/{plural}/{namespace}/{name}")
def delete_object(ctx: Ctx, plural: str, namespace: str, name: str) -> Manifest:
    return render.obj(ctx.applier.delete(workload_kind(plural), namespace, name))


@router.patch("/{plural}/{namespace}/{name}", response_model=None)
def patch_object(ctx: Ctx, plural: str, namespace: str, name: str, patch: dict[str, Any] = Body(...)) -> PatchResponse:
    kind = workload_kind(plural)
    result = ctx.applier.patch(kind, namespace, name, patch)
    rec = ctx.store.get_object(kind, namespace, name)
    assert rec is not None
    return {"action": result.action, "object": render.obj(rec)}


@router.post("/cronjobs/{namespace}/{name}/jobs")
def instantiate_cronjob(ctx: Ctx, namespace: str, name: str, req: InstantiateRequest) -> Manifest:
    """`ctl create job NAME --from=cronjob/CJ`: a manual run, not subject to the concurrency policy."""
    cj = ctx.store.get_object("CronJob", namespace, name)
    if cj is None or cj.deleting:
        raise NotFound(f'cronjob.batch "{name}" not found in namespace "{namespace}"')
    annotations = {cronjob_plan.INSTANTIATE_ANNOTATION: "manual"}
    job = cronjobs.create_job(ctx.store, ctx.applier, cj, req.name, annotations, utcnow())
    if job is None:
        raise Conflict(f'jobs.batch "{req.name}" already exists')
    ctx.wake()
    return render.obj(job)
