"""The HTTP API that `miniorch ctl` talks to: the app, its error rules and its routers.

Routes take and return Kubernetes-shaped JSON (shapes in `models`); errors are `{"message": ...}`
with kubectl-like status codes (404 not found, 409 conflict, 422 invalid). Each concern is a
router of its own; routes reach the daemon's objects through `context.ApiContext` on `app.state`.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

import miniorch
from miniorch.api import daemonsets, events, health, nodes, objects, podlogs, pods, verbs
from miniorch.api.context import ApiContext
from miniorch.api.events import EVENT_POLL_SECONDS
from miniorch.api.models import ApplyRequest, InstantiateRequest, NodePatch
from miniorch.controllers.objects import Conflict, NotFound
from miniorch.spec.errors import ManifestInvalid
from miniorch.store.errors import StoreUnavailable

__all__ = ["EVENT_POLL_SECONDS", "ApiContext", "ApplyRequest", "InstantiateRequest", "NodePatch", "create_app"]

log = structlog.get_logger(__name__)

ROUTERS = (
    health.router,
    verbs.router,
    nodes.router,
    pods.router,
    podlogs.router,
    events.router,
    daemonsets.router,
    objects.router,
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
        if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            ctx: ApiContext = scope["app"].state.ctx
            role = ctx.role() if ctx.role is not None else None
            if role is not None and not role.leading:
                leader = f"{role.leader} at {role.leader_address}" if role.leader else "not elected yet"
                refusal = _error(
                    503, f"this daemon ({role.name}) is a standby and accepts no writes; the leader is {leader}"
                )
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(ctx: ApiContext) -> FastAPI:
    app = FastAPI(title="miniorch", version=miniorch.__version__, docs_url=None, redoc_url=None)
    app.state.ctx = ctx
    for exc_type, handler in HANDLERS.items():
        app.add_exception_handler(exc_type, handler)
    app.add_middleware(_StandbyRefusesWrites)
    for router in ROUTERS:
        app.include_router(router)
    return app
