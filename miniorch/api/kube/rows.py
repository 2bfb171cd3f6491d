"""Tables of Jobs and pods from rows kept per version: a list reads each object's (uid, version) and
makes rows only for what was written since, so 20,000 finished Jobs are not decoded per `get`.

A kind qualifies when its registry `Columns` has a `cells` printer (cells by the object alone);
the times in them (AGE, a running Job's DURATION) are read at each answer. Field selectors and
`includeObject=Object` need the objects and take the general path. Blocking: call from a worker.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from miniorch import kinds, selectors
from miniorch.api import render
from miniorch.api.context import ApiContext
from miniorch.api.kube import table
from miniorch.api.kube.table import KeptRow

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
    None) matching `labels`, by namespace and name."""
    rv = ctx.store.resource_version()  # read first: a watch from here misses nothing
    equal = {r.key: r.values[0] for r in labels if r.op == "="}
    rows = _pod_rows(ctx, namespace, equal) if kind == kinds.Kind.POD else _object_rows(ctx, kind, namespace)
    return rv, [r for r in rows if selectors.matches(labels, r.metadata.get("labels") or {})] if labels else rows


def _object_rows(ctx: ApiContext, kind: str, namespace: str | None) -> list[KeptRow]:
    make = table.kept_row(kind)

    def made(uids: list[str]) -> dict[str, KeptRow]:
        out: dict[str, KeptRow] = {}
        for start in range(0, len(uids), CHUNK):
            for uid, rec in ctx.store.objects_by_uid(uids[start : start + CHUNK]).items():
                out[uid] = make(render.obj(rec))
        return out

    return ctx.kept_rows.served(ctx.store.object_versions(kind, namespace), made)


def _pod_rows(ctx: ApiContext, namespace: str | None, labels: Mapping[str, str]) -> list[KeptRow]:
    """A pod's row depends on the pod and its owner's template: kept by both versions."""
    listed = ctx.store.pod_versions(namespace, labels)
    owners = ctx.store.versions_of({owner for _, _, owner in listed if owner})
    make = table.kept_row(kinds.Kind.POD)

    def made(uids: list[str]) -> dict[str, KeptRow]:
        out: dict[str, KeptRow] = {}
        for start in range(0, len(uids), CHUNK):
            found = ctx.store.pods_by_uid(uids[start : start + CHUNK])
            records = ctx.store.objects_by_uid({p.owner_uid for p in found if p.owner_uid})
            out.update((p.uid, make(render.pod(p, records.get(p.owner_uid)))) for p in found)
        return out

    return ctx.kept_rows.served([(uid, (rv, owners.get(owner, 0))) for uid, rv, owner in listed], made)
