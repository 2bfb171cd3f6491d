"""What the pages show, built from the API's own reads and shapes: the store's intent-named reads,
`api.render` (the served objects of `ctl get -o json`) and the registry's row printers (its columns).

Nothing here writes; lists come newest first, a page of `PAGE_SIZE` at a time; stored kinds are paged in SQL, so
only a page's manifests are read and rendered (decoding 1,000 manifests was most of a page's cost).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from miniorch import kinds
from miniorch.api import render
from miniorch.api.context import ApiContext
from miniorch.cli import output
from miniorch.store.records import PodRecord

PAGE_SIZE = 100
Served = dict[str, Any]


@dataclass(frozen=True)
class Cell:
    text: str
    href: str = ""
    cls: str = ""  # a status class (ok, failed, running) for colour


@dataclass(frozen=True)
class Table:
    headers: Sequence[str]
    rows: Sequence[Sequence[Cell]]
    total: int = 0  # rows before paging
    page: int = 1
    pages: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


def status_class(word: str) -> str:
    """A colour class for a status word: ok, failed, running or ""."""
    lowered = word.lower()
    if lowered in ("complete", "succeeded", "ready", "completed"):
        return "ok"
    if any(w in lowered for w in ("fail", "error", "notready", "backoff", "lost", "evicted", "unknown")):
        return "failed"
    if lowered in ("running", "active", "pending", "containercreating", "terminating"):
        return "running"
    return ""


def object_href(kind: str, namespace: str, name: str) -> str:
    if kind == kinds.Kind.POD:
        return f"/ui/pods/{namespace}/{name}"
    if kind == kinds.Kind.NODE:
        return "/ui/nodes"
    return f"/ui/k/{kinds.PLURAL.get(kind, kind.lower())}/{namespace}/{name}"


# -- sources: each kind's records, newest first, and how to serve a page of them ----------------


@dataclass(frozen=True)
class Page:
    total: int
    items: list[Served]


def _paged(records: list[Any], offset: int, serve: Callable[[list[Any]], list[Served]]) -> Page:
    return Page(len(records), serve(records[offset : offset + PAGE_SIZE]))


def _newest(records: list[Any], when: Callable[[Any], dt.datetime | None]) -> list[Any]:
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
    return sorted(records, key=lambda r: (when(r) or epoch, r.name), reverse=True)


def page_of(ctx: ApiContext, kind: str, namespace: str | None, offset: int) -> Page:
    """A page of any kind in the registry, newest first; stored kinds are paged in SQL."""
    store = ctx.store
    if kind == kinds.Kind.POD:
        pods = _newest(store.list_pods(namespace, with_log=False), lambda p: p.created_at)
        return _paged(pods, offset, lambda page: render.pods(store, page))
    if kind == kinds.Kind.EVENT:
        events = _newest(store.list_events(namespace), lambda e: e.last_timestamp)
        return _paged(events, offset, lambda page: [render.event(e) for e in page])
    if kind == kinds.Kind.NODE:
        return _paged(sorted(ctx.monitor.nodes), offset, lambda page: [_node(ctx, n) for n in page])
    total, objs = store.newest_objects(kind, namespace, offset=offset, limit=PAGE_SIZE)
    return Page(total, [render.obj(o) for o in objs])


def _name_of(kind: str, item: Served) -> tuple[str, str]:
    if kind == kinds.Kind.EVENT:
        inv = item["involvedObject"]
        return inv.get("namespace") or "", inv["name"]
    meta = item["metadata"]
    return meta.get("namespace") or "", meta["name"]


def kind_table(ctx: ApiContext, kind: str, namespace: str | None, page: int, now: dt.datetime) -> Table:
    """A kind's list as `ctl get` prints it (the registry's columns and row printer), one page of it."""
    info = kinds.get(kind)
    page = max(1, page)
    found = page_of(ctx, kind, namespace, (page - 1) * PAGE_SIZE)
    pages = max(1, -(-found.total // PAGE_SIZE))
    if page > pages:  # past the end (the list shrank): the last page
        page = pages
        found = page_of(ctx, kind, namespace, (page - 1) * PAGE_SIZE)
    served = found.items
    printer = kinds.load(info.columns.row)
    headers = list(info.columns.headers)
    status_at = headers.index("STATUS") if "STATUS" in headers else -1
    rows = []
    for item in served:
        cells = [Cell(str(c)) for c in printer(item, now, False)]
        if status_at >= 0:
            cells[status_at] = Cell(cells[status_at].text, cls=status_class(cells[status_at].text))
        ns, name = _name_of(kind, item)
        if "NAME" in headers and kind != kinds.Kind.EVENT:
            at = headers.index("NAME")
            cells[at] = Cell(cells[at].text, href=object_href(kind, ns, name))
        if info.namespaced:
            cells.insert(0, Cell(ns))
        rows.append(cells)
    if info.namespaced:
        headers.insert(0, "NAMESPACE")
    return Table(headers, rows, total=found.total, page=page, pages=pages)


# -- pods -------------------------------------------------------------------------------------


def exit_code(pod: Served) -> str:
    cs = (pod["status"].get("containerStatuses") or [{}])[0]
    term = cs.get("state", {}).get("terminated") or cs.get("lastState", {}).get("terminated") or {}
    code = term.get("exitCode")
    return "" if code is None else str(code)


def pod_duration(pod: Served, now: dt.datetime) -> str:
    cs = (pod["status"].get("containerStatuses") or [{}])[0]
    start = output.parse_ts(pod["status"].get("startTime"))
    end = output.parse_ts(cs.get("state", {}).get("terminated", {}).get("finishedAt"))
    if start is None:
        return ""
    if end is None and pod["status"].get("phase") in ("Succeeded", "Failed"):
        return ""
    return output.human_duration(((end or now) - start).total_seconds())


POD_HEADERS = ("NAME", "NODE", "PHASE", "STATUS", "EXIT CODE", "RESTARTS", "DURATION", "AGE")


def pod_table(pods: list[Served], now: dt.datetime) -> Table:
    rows = []
    for p in pods:
        meta, status = p["metadata"], p["status"]
        word = output.pod_status(p)
        cs = (status.get("containerStatuses") or [{}])[0]
        node = p["spec"].get("nodeName") or ""
        rows.append(
            [
                Cell(meta["name"], href=object_href(kinds.Kind.POD, meta["namespace"], meta["name"])),
                Cell(node or "<none>", href="/ui/nodes" if node else ""),
                Cell(status.get("phase", ""), cls=status_class(status.get("phase", ""))),
                Cell(word, cls=status_class(word)),
                Cell(exit_code(p)),
                Cell(str(cs.get("restartCount", 0))),
                Cell(pod_duration(p, now)),
                Cell(output.age(meta.get("creationTimestamp"), now)),
            ]
        )
    return Table(POD_HEADERS, rows, total=len(rows))


def pods_of(ctx: ApiContext, owner_uid: str) -> list[Served]:
    return render.pods(ctx.store, ctx.store.pods_of(owner_uid, with_log=False))


# -- nodes and the overview -------------------------------------------------------------------


def _node(ctx: ApiContext, name: str) -> Served:
    """A node as the API serves it: its labels and cordon with the overrides of `ctl label`/`cordon`."""
    over = ctx.store.node_overrides().get(name)
    return render.node(ctx.monitor.nodes[name], ctx.monitor.labels(name), bool(over and over.unschedulable))


def _load(pods: list[PodRecord]) -> dict[str, tuple[int, float]]:
    """Per node: its active pods and the CPU they request."""
    out: dict[str, tuple[int, float]] = {}
    for p in pods:
        if p.node and p.active:
            count, cpu = out.get(p.node, (0, 0.0))
            out[p.node] = (count + 1, cpu + p.cpu_request)
    return out


NODE_HEADERS = ("NAME", "STATUS", "TRANSPORT", "RTT", "PODS", "CPU REQUESTED", "MEMORY", "VERSION", "LAST ERROR")


def node_table(ctx: ApiContext, now: dt.datetime) -> Table:
    load = _load(ctx.store.live_pods())
    rows = []
    for name in sorted(ctx.monitor.nodes):
        node = _node(ctx, name)
        status = node["status"]
        word = output.node_status(node)
        rtt = status.get("roundTripMilliseconds")
        count, cpu = load.get(name, (0, 0.0))
        capacity = status.get("capacity", {})
        error = status.get("lastError") or {}
        version = status.get("nodeInfo", {}).get("containerRuntimeVersion", "").removeprefix("docker://")
        rows.append(
            [
                Cell(name),
                Cell(word, cls=status_class(word.split(",")[0])),
                Cell(status.get("transport", "")),
                Cell("" if rtt is None else f"{rtt:.1f} ms"),
                Cell(str(count)),
                Cell(f"{cpu:g} of {capacity['cpu']}" if capacity.get("cpu") else f"{cpu:g}"),
                Cell(output._memory(capacity.get("memory"))),
                Cell(version or "<unknown>"),
                Cell(f"{output.age(error.get('time'), now)} ago: {error['message']}" if error.get("message") else ""),
            ]
        )
    return Table(NODE_HEADERS, rows, total=len(rows))


def kind_counts(ctx: ApiContext) -> list[tuple[str, int, list[tuple[str, int]]]]:
    """(plural, total, [(state, count)]) for every stored kind of the registry, and pods by phase."""
    out = []
    for info in kinds.REGISTRY:
        if not info.workload:
            continue
        objs = ctx.store.list_objects(info.kind)
        states = Counter(info.state(o.manifest, o.status) for o in objs)
        out.append((info.plural, len(objs), sorted(states.items())))
    pods = ctx.store.list_pods(with_log=False)
    phases = Counter(p.phase.value for p in pods)
    out.append((kinds.PLURAL[kinds.Kind.POD], len(pods), sorted(phases.items())))
    return out
