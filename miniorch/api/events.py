"""Event routes: the list (by namespace or involved object's uid) and an NDJSON watch."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator

from fastapi import APIRouter
from fastapi.responses import Response, StreamingResponse

from miniorch.api import render
from miniorch.api.context import StoreDep
from miniorch.api.models import WatchEvent
from miniorch.controllers.storeio import store_io
from miniorch.store.store import Store

EVENT_POLL_SECONDS = 0.5

router = APIRouter(prefix="/api/events")


@router.get("")
def list_events(store: StoreDep, namespace: str | None = None, uid: str | None = None) -> Response:
    return render.as_list([render.event(e) for e in store.list_events(namespace, uid)])


@router.get("/watch")
def watch_events(store: StoreDep, namespace: str | None = None, poll: float = EVENT_POLL_SECONDS) -> StreamingResponse:
    """NDJSON, one `{"type": "ADDED"|"MODIFIED", "object": event}` a line: the current events, then changes."""
    return StreamingResponse(watch(store, namespace, max(0.05, poll)), media_type="application/x-ndjson")


async def watch(store: Store, namespace: str | None, poll: float) -> AsyncGenerator[bytes, None]:
    seen: dict[int | None, int] = {}
    while True:
        events = await store_io(store.list_events, namespace)
        lines = []
        for ev in events:
            if seen.get(ev.id) == ev.count:
                continue
            change = WatchEvent(type="ADDED" if ev.id not in seen else "MODIFIED", object=render.event(ev))
            seen[ev.id] = ev.count
            lines.append(json.dumps(change) + "\n")
        # An empty line now and then lets the server notice a client that went away.
        yield "".join(lines).encode() if lines else b"\n"
        await asyncio.sleep(poll)
