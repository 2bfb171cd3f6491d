"""What the API's routes work with, handed to them through FastAPI's dependency injection.

`create_app` puts one `ApiContext` on `app.state`; a route asks for it (or for one of its
parts) with the `Ctx` / `StoreDep` annotations instead of closing over daemon objects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request

from miniorch import metrics as metrics_mod
from miniorch.api import servedcache
from miniorch.api.listing import Listing
from miniorch.controllers import leadership
from miniorch.controllers.nodes import NodeMonitor
from miniorch.controllers.objects import Applier
from miniorch.store.store import Store


@dataclass
class ApiContext:
    store: Store
    monitor: NodeMonitor
    applier: Applier
    wake: Callable[[], None]
    metrics: metrics_mod.Metrics | None = None
    drain: Callable[[str], list[str]] | None = None
    role: Callable[[], leadership.Role] | None = None  # None: a lone daemon, always the leader
    served_pods: servedcache.Kept[servedcache.Served] = field(default_factory=servedcache.served_pods)
    kept_rows: servedcache.Kept[Any] = field(default_factory=servedcache.kept_rows)  # Table rows, by version
    listings: dict[str, Listing[Any]] = field(default_factory=dict)  # kind: its Table rows in list order


async def context(request: Request) -> ApiContext:
    """Async on purpose: FastAPI runs a sync dependency in a worker thread, for nothing here."""
    ctx: ApiContext = request.app.state.ctx
    return ctx


async def store(request: Request) -> Store:
    return (await context(request)).store


Ctx = Annotated[ApiContext, Depends(context)]
StoreDep = Annotated[Store, Depends(store)]
