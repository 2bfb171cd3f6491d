"""The served objects of each resource, read from the store: what list, get and watch answer.

A `View` lists a resource's objects (in a namespace or all) and fetches the current objects
behind a batch of change-log entries; workload kinds share one view over the registry, pods,
events, nodes and namespaces have their own. Blocking: call from a worker thread (`store_io`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from miniorch.api import render
from miniorch.api.context import ApiContext
from miniorch.store.records import ObjectRecord, PodRecord
from miniorch.store.versions import Change

Served = dict[str, Any]


@dataclass(frozen=True)
class View:
    kind: str
    items: Callable[[ApiContext, str | None, Mapping[str, str]], list[Served]]  # namespace, label equalities
    current: Callable[[ApiContext, Sequence[Change]], dict[str, Served]]  # by the change's uid; absent: gone


def workload(rec: ObjectRecord) -> Served:
    return render.obj(rec)


def _workload_view(kind: str) -> View:
    def items(ctx: ApiContext, namespace: str | None, _labels: Mapping[str, str]) -> list[Served]:
        return [workload(o) for o in ctx.store.list_objects(kind, namespace or None)]

    def current(ctx: ApiContext, changes: Sequence[Change]) -> dict[str, Served]:
        return {uid: workload(o) for uid, o in ctx.store.objects_by_uid(c.uid for c in changes).items()}

    return View(kind, items, current)


def pods(ctx: ApiContext, records: list[PodRecord]) -> list[Served]:
    return render.pods(ctx.store, records)


def _pod_items(ctx: ApiContext, namespace: str | None, labels: Mapping[str, str]) -> list[Served]:
    """From the served cache: only the pods (or owners) written since the last list are rendered.
    `labels`: equality requirements that narrow the query (the caller still matches the selector)."""
    listed = ctx.store.pod_versions(namespace or None, labels)
    owners = ctx.store.objects_by_uid({owner for _, _, owner in listed})
    wanted = [(uid, (rv, owners[owner].resource_version if owner in owners else 0)) for uid, rv, owner in listed]

    def render_pods(uids: list[str]) -> dict[str, Served]:
        found = ctx.store.pods_by_uid(uids)
        return {p.uid: render.pod(p, owners.get(p.owner_uid)) for p in found}

    return ctx.served_pods.served(wanted, render_pods)


def _pod_current(ctx: ApiContext, changes: Sequence[Change]) -> dict[str, Served]:
    found = [p for p in (ctx.store.get_pod_by_uid(c.uid) for c in changes) if p is not None]
    return {p.uid: served for p, served in zip(found, pods(ctx, found), strict=True)}


def _event_items(ctx: ApiContext, namespace: str | None, _labels: Mapping[str, str]) -> list[Served]:
    return [render.event(e) for e in ctx.store.list_events(namespace or None)]


def _event_current(ctx: ApiContext, changes: Sequence[Change]) -> dict[str, Served]:
    wanted = {c.uid for c in changes}
    out: dict[str, Served] = {}
    for namespace in {c.namespace for c in changes}:
        for ev in ctx.store.list_events(namespace):
            if str(ev.id) in wanted:
                out[str(ev.id)] = render.event(ev)
    return out


_NODE_INFO = (
    "architecture",
    "bootID",
    "containerRuntimeVersion",
    "kernelVersion",
    "kubeProxyVersion",
    "kubeletVersion",
    "machineID",
    "operatingSystem",
    "osImage",
    "systemUUID",
)


def node(ctx: ApiContext, name: str) -> Served | None:
    state = ctx.monitor.nodes.get(name)
    if state is None:
        return None
    over = ctx.store.node_overrides().get(name)
    served = render.node(state, ctx.monitor.labels(name), bool(over and over.unschedulable))
    served["metadata"]["resourceVersion"] = str(over.resource_version if over else 0)
    served["metadata"]["uid"] = name
    info = served["status"].get("nodeInfo")
    if info is not None:  # the fields client libraries require; miniorch runs no kubelet
        served["status"]["nodeInfo"] = {**{key: "" for key in _NODE_INFO}, "operatingSystem": "linux", **info}
    return served


def _node_items(ctx: ApiContext, _namespace: str | None, _labels: Mapping[str, str]) -> list[Served]:
    return [n for n in (node(ctx, name) for name in sorted(ctx.monitor.nodes)) if n is not None]


def _node_current(ctx: ApiContext, changes: Sequence[Change]) -> dict[str, Served]:
    return {c.name: n for c in changes if (n := node(ctx, c.name)) is not None}


def namespaces(ctx: ApiContext) -> list[str]:
    """Namespaces are not objects in miniorch: `default` and every namespace an object is in."""
    return sorted({"default", *(o.namespace for o in ctx.store.list_objects())})


def namespace(name: str) -> Served:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "uid": name, "resourceVersion": "0"},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def _namespace_items(ctx: ApiContext, _namespace: str | None, _labels: Mapping[str, str]) -> list[Served]:
    return [namespace(n) for n in namespaces(ctx)]


SPECIAL = {
    "Pod": View("Pod", _pod_items, _pod_current),
    "Event": View("Event", _event_items, _event_current),
    "Node": View("Node", _node_items, _node_current),
    "Namespace": View("Namespace", _namespace_items, lambda _ctx, _changes: {}),
}


def view(kind: str) -> View:
    return SPECIAL.get(kind) or _workload_view(kind)


def listed(
    ctx: ApiContext, kind: str, namespace: str | None, labels: Mapping[str, str], fields: Mapping[str, str]
) -> list[Served]:
    """A list's candidates, narrowed in the store by equality requirements where it can (an owner's pods,
    pods by label, an object's events); the caller still applies every selector."""
    if kind == "Pod":
        owner = fields.get("metadata.ownerReferences.uid")
        if not owner:
            return _pod_items(ctx, namespace, labels)
        return pods(
            ctx, [p for p in ctx.store.pods_of(owner, with_log=False) if not namespace or p.namespace == namespace]
        )
    if kind == "Event" and fields.get("involvedObject.uid"):
        return [render.event(e) for e in ctx.store.list_events(namespace or None, fields["involvedObject.uid"])]
    return view(kind).items(ctx, namespace, labels)
