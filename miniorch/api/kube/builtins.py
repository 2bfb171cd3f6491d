"""The resources miniorch makes itself, not applied from manifests: pods (get, delete), nodes (get,
patch of labels and `spec.unschedulable`: `kubectl label node`, `cordon`), namespaces (get).
Blocking: the routes run these on a worker thread.
"""

from __future__ import annotations

from typing import Any

from miniorch import kinds
from miniorch.api.context import ApiContext
from miniorch.api.kube import objects, status, views
from miniorch.api.kube.status import KubeError
from miniorch.store.records import NodeOverrides

Served = dict[str, Any]
DELETE_POD = "miniorch.controllers.poddelete:delete_pod"


def get_pod(ctx: ApiContext, namespace: str, name: str) -> Served:
    rec = ctx.store.get_pod(namespace, name)
    if rec is None:
        raise status.not_found("pods", name)
    return views.pods(ctx, [rec])[0]


def delete_pod(ctx: ApiContext, namespace: str, name: str) -> Served:
    served = get_pod(ctx, namespace, name)
    try:
        delete = kinds.load(DELETE_POD)
    except (ImportError, AttributeError) as exc:
        raise KubeError(405, "deleting a pod is not supported by this daemon yet") from exc
    delete(ctx.store, namespace, name)
    ctx.wake()
    rec = ctx.store.get_pod(namespace, name)
    return views.pods(ctx, [rec])[0] if rec is not None else served


def get_node(ctx: ApiContext, name: str) -> Served:
    served = views.node(ctx, name)
    if served is None:
        raise status.not_found("nodes", name)
    return served


def patch_node(ctx: ApiContext, name: str, body: Any, media: str) -> Served:
    """Labels and `spec.unschedulable` change; anything else a patch changes is refused (422)."""
    served = get_node(ctx, name)
    new = objects.patched_object(served, body, media, "Node", strategic_as_merge=True)
    labels = new["metadata"].get("labels") or {}  # patched_object checked metadata and its labels
    spec = new.get("spec") or {}
    if not isinstance(spec, dict):
        raise KubeError(422, "spec: Invalid value: must be an object", "Invalid")
    unschedulable = bool(spec.get("unschedulable"))
    changed = [k for k in ("status", "apiVersion", "kind") if new.get(k) != served.get(k)]
    if changed:
        raise KubeError(422, f"{changed[0]}: Forbidden: only metadata.labels and spec.unschedulable of a node change")
    over = ctx.store.node_overrides().get(name) or NodeOverrides(name)
    old = served["metadata"].get("labels") or {}
    delta: dict[str, str | None] = {k: None for k in old if k not in labels}
    delta.update({k: v for k, v in labels.items() if old.get(k) != v})
    if delta or unschedulable != bool(served["spec"].get("unschedulable")):
        ctx.store.save_node_overrides(NodeOverrides(name, {**over.labels, **delta}, unschedulable))
        ctx.wake()
    return get_node(ctx, name)


def get_namespace(ctx: ApiContext, name: str) -> Served:
    if name not in views.namespaces(ctx):
        raise status.not_found("namespaces", name)
    return views.namespace(name)
