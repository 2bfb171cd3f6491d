"""Watch: `?watch=1&resourceVersion=N` streams `ADDED`/`MODIFIED`/`DELETED` lines from the change log.

Without a version (or `0`) the stream opens with the current objects as ADDED. Each poll reads
the log after the last version sent and the current objects behind it (store calls through
`store_io`, off the event loop), filters them by the label and field selectors, and ends at
`timeoutSeconds` or when the client goes away. A version the log no longer holds is 410.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from miniorch import selectors
from miniorch.api.context import ApiContext
from miniorch.api.kube import fields, status
from miniorch.api.kube.views import Served, View
from miniorch.controllers.storeio import store_io
from miniorch.store import versions

POLL_SECONDS = 0.05
DEFAULT_TIMEOUT = 1800.0


@dataclass(frozen=True)
class WatchSpec:
    view: View
    api_version: str
    namespace: str | None
    labels: tuple[selectors.Requirement, ...]
    fields: tuple[fields.FieldRequirement, ...]
    since: int | None  # None: start with the current objects
    timeout: float
    shape: Callable[[Served], Served]  # the object as sent (a Table row when asked for)

    def matches(self, obj: Served) -> bool:
        meta = obj.get("metadata") or {}
        return (
            (not self.namespace or meta.get("namespace") == self.namespace)
            and selectors.matches(self.labels, meta.get("labels") or {})
            and fields.matches(self.fields, obj)
        )


def line(type_: str, obj: Served) -> bytes:
    return (json.dumps({"type": type_, "object": obj}) + "\n").encode()


def _stub(spec: WatchSpec, change: versions.Change) -> Served:
    """A deleted object nobody sent in this watch: what the log knows of it."""
    meta = {"name": change.name, "uid": change.uid, "resourceVersion": str(change.rv)}
    if change.namespace:
        meta["namespace"] = change.namespace
    return {"apiVersion": spec.api_version, "kind": spec.view.kind, "metadata": meta}


def _latest(changes: Sequence[versions.Change]) -> list[tuple[versions.Change, bool]]:
    """The last change of each row in the batch, in log order, and whether the row was added in it."""
    last: dict[str, versions.Change] = {}
    added: set[str] = set()
    for change in changes:
        last.pop(change.uid, None)
        last[change.uid] = change
        if change.type == versions.ADDED:
            added.add(change.uid)
    return [(c, c.uid in added) for c in last.values()]


def _events(
    spec: WatchSpec, batch: Sequence[versions.Change], current: dict[str, Served], sent: dict[str, Served]
) -> list[bytes]:
    out = []
    for change, added in _latest(batch):
        obj = current.get(change.uid) if change.type != versions.DELETED else None
        if obj is not None and spec.matches(obj):
            type_ = versions.ADDED if added or (spec.since is None and change.uid not in sent) else versions.MODIFIED
            sent[change.uid] = obj
            out.append(line(type_, spec.shape(obj)))
        elif change.uid in sent or (obj is None and spec.since is not None and not added):
            gone = sent.pop(change.uid, None) or _stub(spec, change)
            gone = {**gone, "metadata": {**gone["metadata"], "resourceVersion": str(change.rv)}}
            if spec.matches(gone):
                out.append(line(versions.DELETED, spec.shape(gone)))
    return out


async def stream(ctx: ApiContext, request: Request, spec: WatchSpec) -> AsyncIterator[bytes]:
    deadline = time.monotonic() + spec.timeout
    sent: dict[str, Served] = {}
    rv = spec.since
    if rv is None:
        rv = await store_io(ctx.store.resource_version)
        items = await store_io(spec.view.items, ctx, spec.namespace, {})
        for obj in items:
            if spec.matches(obj):
                sent[str(obj["metadata"].get("uid") or obj["metadata"]["name"])] = obj
                yield line(versions.ADDED, spec.shape(obj))
    while time.monotonic() < deadline and not await request.is_disconnected():
        try:
            batch = await store_io(ctx.store.changes_since, rv, [spec.view.kind])
        except versions.Gone as exc:
            yield line("ERROR", status.status(410, str(exc), "Expired"))
            return
        if batch:
            current = await store_io(spec.view.current, ctx, batch)
            for out in _events(spec, batch, current, sent):
                yield out
            rv = batch[-1].rv
            continue
        await asyncio.sleep(POLL_SECONDS)


def check_since(ctx: ApiContext, kind: str, since: int | None) -> None:
    """Raise Gone (410) before the stream starts when `since` is older than the log keeps."""
    if since is not None:
        ctx.store.changes_since(since, [kind], limit=1)


MAX_VERSION = 2**63 - 1  # versions are the database's 64-bit integers


def parse_version(value: str | None) -> int | None:
    """A watch's `resourceVersion`: None to start with the current objects, else a version; 400 for
    anything this server could not have handed out (not an integer, negative, beyond 64 bits)."""
    if value in (None, "", "0"):
        return None
    try:
        version = int(str(value))
    except ValueError:
        version = -1
    if not 0 <= version <= MAX_VERSION:
        raise status.KubeError(400, f"resourceVersion {value!r} is not a resource version of this server")
    return version


def timeout_of(value: str | None) -> float:
    try:
        seconds = float(value) if value else DEFAULT_TIMEOUT
    except ValueError as exc:
        raise status.KubeError(400, f"timeoutSeconds {value!r} is not a number") from exc
    return max(0.0, min(seconds, 2 * DEFAULT_TIMEOUT))


def wanted(value: Any) -> bool:
    return str(value).lower() in ("1", "true")
