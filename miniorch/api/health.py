"""`/version`, `/healthz` and `/metrics`: what the daemon is and how it is doing."""

from __future__ import annotations

import platform
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

import miniorch
from miniorch import metrics as metrics_mod
from miniorch.api.context import Ctx
from miniorch.api.kube import discovery
from miniorch.api.models import Health, VersionInfo
from miniorch.controllers.objects import NotFound

router = APIRouter()


@router.get("/version", response_model=None)
def version(ctx: Ctx) -> dict[str, Any]:
    """miniorch's version and role, and the Kubernetes fields kubectl and client libraries read."""
    return {**discovery.version_info(miniorch.__version__), **_miniorch_version(ctx)}


def _miniorch_version(ctx: Ctx) -> VersionInfo:
    out = VersionInfo(version=miniorch.__version__, python=platform.python_version())
    if ctx.role is not None:
        role = ctx.role()
        out["role"], out["name"] = role.word, role.name
        out["leader"], out["leader_address"] = role.leader, role.leader_address
    return out


@router.get("/healthz", response_model=None)
def healthz(ctx: Ctx) -> Health:
    return {"ok": True, "nodes": {n: s.ready for n, s in ctx.monitor.nodes.items()}}


@router.get("/metrics")
def metrics(ctx: Ctx) -> Response:
    if ctx.metrics is None:
        raise NotFound("metrics are not enabled in this daemon")
    return Response(ctx.metrics.render(), media_type=metrics_mod.CONTENT_TYPE)
