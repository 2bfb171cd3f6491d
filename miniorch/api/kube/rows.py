"""Tables of Jobs and pods from rows kept per version: a list without labels comes from the kind's
`Listing` (its rows in list order, brought up to date from the change log); the others read each
object's (uid, version) and make rows only for what was written since. Either way 20,000 finished
Jobs are not decoded per `get`.

A kind qualifies when its registry `Columns` has a `cells` printer (cells by the object alone);
the times in them (AGE, a running Job's DURATION) are read at each answer. Field selectors and
`includeObject=Object` need the objects and take the general path. Blocking: call from a worker.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from miniorch import kinds, selectors
from miniorch.api import render, servedcache
from miniorch.api.context import ApiContext
from miniorch.api.kube import table
from miniorch.api.kube.table import KeptRow
from miniorch.api.listing import Listing

#: Objects rendered at a time on a miss: what a first list of 20,000 Jobs holds at once.
CHUNK = 1000


def serves(kind: str, include: str, field_selector: Any) -> bool:
    """Can a Table of `kind` be answered from kept rows?"""
    return bool(kinds.get(kind).columns.cells) and include != "Object" and not field_selector


def listed_table(
    ctx: ApiContext,
    kind: str,
    namespace: str | None,
    labels: Any,
    include: str,
    now: dt.datetime,
) -> dict[str, Any]:
    """The Table of `kind`'s objects in `namespace` (all when None) matching `labels`."""
    rv, kept = listed_rows(ctx, kind, namespace, labels)
    return table.kept_table(kind, kept, now, include=include, list_meta={"resourceVersion": str(rv)})


def listed_rows(ctx: ApiContext, kind: str, namespace: str | None, labels: Any) -> tuple[int, list[KeptRow]]:
    """The store's resourceVersion and the kept rows of `kind`'s objects in `namespace` (all when
    None) matching `labels`, by namespace and name: a list without labels from the kind's `Listing`."""
    if not labels:
        listing = ctx.listings.get(kind) or ctx.listings.setdefault(kind, _listing(kind))
        found = listing.listed(ctx.store, namespace, lambda: _rows(ctx, kind, None, {}), _maker(ctx, kind))
        if found is not None:
            return found
    rv = ctx.store.resource_version()  # read first: a watch from here misses nothing
    equal = {r.key: r.values[0] for r in labels if r.op == "="}
    rows = _rows(ctx, kind, namespace, equal)
    return rv, [r for r in rows if selectors.matches(labels, r.metadata.get("labels") or {})] if labels else rows


def _listing(kind: str) -> Listing[KeptRow]:
    """A pod's row shows its owner's template: a pod listing also follows the owners' kinds."""
    watched = (kind, *kinds.POD_OWNERS) if kind == kinds.Kind.POD else (kind,)
    return Listing(watched, servedcache.MAX_ROWS, _key)


def _key(row: KeptRow) -> tuple[str, str, str, str]:
    meta = row.metadata
    owners = meta.get("ownerReferences") or [{}]
    return meta.get("namespace", ""), meta["name"], meta["uid"], owners[0].get("uid", "")


def _rows(ctx: ApiContext, kind: str, namespace: str | None, labels: Mapping[str, str]) -> list[KeptRow]:
    if kind == kinds.Kind.POD:
        return _pod_rows(ctx, namespace, labels)
    return ctx.kept_rows.served(ctx.store.object_versions(kind, namespace), _maker(ctx, kind))


def _maker(ctx: ApiContext, kind: str) -> Callable[[list[str]], dict[str, KeptRow]]:
    """Rows of `kind` by uid (a uid gone since is left out), `CHUNK` objects read at a time."""
    make = table.kept_row(kind)

    def objects(uids: list[str]) -> dict[str, KeptRow]:
        out: dict[str, KeptRow] = {}
        for start in range(0, len(uids), CHUNK):
            for uid, rec in ctx.store.objects_by_uid(uids[start : start + CHUNK]).items():
                out[uid] = make(render.obj(rec))
        return out

    def pods(uids: list[str]) -> dict[str, KeptRow]:
        out: dict[str, KeptRow] = {}
        for start in range(0, len(uids), CHUNK):
            found = ctx.store.pods_by_uid(uids[start : start + CHUNK])
            records = ctx.store.objects_by_uid({p.owner_uid for p in found if p.owner_uid})
            out.update((p.uid, make(render.pod(p, records.get(p.owner_uid)))) for p in found)
        return out

    return pods if kind == kinds.Kind.POD else objects


def _pod_rows(ctx: ApiContext, namespace: str | None, labels: Mapping[str, str]) -> list[KeptRow]:
    """A pod's row depends on the pod and its owner's template: kept by both versions."""
    listed = ctx.store.pod_versions(namespace, labels)
    owners = ctx.store.versions_of({owner for _, _, owner in listed if owner})
    wanted = [(uid, (rv, owners.get(owner, 0))) for uid, rv, owner in listed]
    return ctx.kept_rows.served(wanted, _maker(ctx, kinds.Kind.POD))
