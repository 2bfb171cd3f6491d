"""The HTTP API that `miniorch ctl` and kubectl talk to: the app, its error rules and its routers.

Objects are served by the Kubernetes API (`api.kube`: `/api/v1`, `/apis/G/V`), with Status errors;
miniorch's own routes (`/apply`, `/api/dry-run`, `/version`, `/healthz`, notifications) take and
return the shapes in `models`, and answer errors as `{"message": ...}` with kubectl-like status
codes (404 not found, 409 conflict, 422 invalid). Each concern is a router of its own; routes reach
the daemon's objects through `context.ApiContext` on `app.state`.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

import miniorch
from miniorch.api import health, verbs
from miniorch.api import notifications as notification_routes
from miniorch.api.context import ApiContext
from miniorch.api.kube import discovery as kube_discovery
from miniorch.api.kube import logs as kube_logs
from miniorch.api.kube import openapi as kube_openapi
from miniorch.api.kube import resources as kube_resources
from miniorch.api.kube import rollouts as kube_rollouts
from miniorch.api.kube import status as kube_status
from miniorch.api.models import ApplyRequest
from miniorch.controllers.objects import Conflict, NotFound
from miniorch.spec.errors import ManifestInvalid
from miniorch.store.errors import StoreUnavailable

__all__ = ["ApiContext", "ApplyRequest", "create_app"]

log = structlog.get_logger(__name__)

ROUTERS = (
    health.router,
    verbs.router,
    notification_routes.router,  # private: `ctl get notifications`
    # the Kubernetes API (DESIGN 11)
    kube_discovery.router,
    kube_openapi.router,
    kube_logs.router,  # before the generic routes: pods/{name}/log is a subresource
    kube_rollouts.router,  # extension subresources: nodes/{name}/drain, {ds|sts}/{name}/revisions|rollback
    kube_resources.router,
)


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"message": message, **extra}, status_code=status)


async def _not_found(_: Request, exc: Exception) -> JSONResponse:
    return _error(404, str(exc))


async def _conflict(_: Request, exc: Exception) -> JSONResponse:
    return _error(409, str(exc))


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ManifestInvalid)
    return _error(422, str(exc), errors=[str(e) for e in exc.errors])


async def _bad_request(_: Request, exc: Exception) -> JSONResponse:
    return _error(400, str(exc))


async def _store_down(_: Request, exc: Exception) -> JSONResponse:
    return _error(503, f"{exc}; the daemon keeps the containers running and retries; try again shortly")


HANDLERS = {
    NotFound: _not_found,
    Conflict: _conflict,
    ManifestInvalid: _invalid,
    ValueError: _bad_request,
    StoreUnavailable: _store_down,
}


class _StandbyRefusesWrites:
    """A standby answers reads from the database; writes go to the leader (DESIGN 8). Plain ASGI:
    Starlette's BaseHTTPMiddleware (`app.middleware("http")`) runs every request through a task
    group and memory streams, a fifth of the daemon's CPU for a poller reading one Job."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD", "OPTIONS") and not _dashboard(scope):
            ctx: ApiContext = scope["app"].state.ctx
            role = ctx.role() if ctx.role is not None else None
            if role is not None and not role.leading:
                leader = f"{role.leader} at {role.leader_address}" if role.leader else "not elected yet"
                message = f"this daemon ({role.name}) is a standby and accepts no writes; the leader is {leader}"
                refusal = (
                    JSONResponse(kube_status.status(503, message), status_code=503)
                    if kube_status.is_kube_path(scope["path"])
                    else _error(503, message)
                )
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _dashboard(scope: Scope) -> bool:
    """The dashboard's login and logout are POSTs that write nothing: a standby serves them too."""
    return str(scope["path"]).startswith("/ui/")


def create_app(ctx: ApiContext, dashboard: bool = True) -> FastAPI:
    app = FastAPI(title="miniorch", version=miniorch.__version__, docs_url=None, redoc_url=None)
    app.state.ctx = ctx
    for exc_type, handler in HANDLERS.items():
        app.add_exception_handler(exc_type, handler)
    kube_status.install(app)  # Status errors on the Kubernetes API's paths
    app.add_middleware(_StandbyRefusesWrites)
    for router in ROUTERS:
        app.include_router(router)
    if dashboard:  # the web dashboard, read-only (DESIGN 12): its own sub-app, error pages and headers
        from miniorch import ui

        app.mount(ui.PREFIX, ui.create_app(ctx))
    return app
