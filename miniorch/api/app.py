"""The HTTP API that `miniorch ctl` talks to, built by a factory.

Routes take and return Kubernetes-shaped JSON; errors are `{"message": ...}`
with kubectl-like status codes (404 not found, 409 conflict, 422 invalid).
"""

from __future__ import annotations

import asyncio
import json
import platform
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from fastapi import Body, FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel

import miniorch
from miniorch import kinds, selectors
from miniorch import metrics as metrics_mod
from miniorch.api import daemonsets, podlogs, render, verbs
from miniorch.clock import utcnow
from miniorch.controllers import cronjobs, leadership
from miniorch.controllers.nodes import NodeMonitor
from miniorch.controllers.objects import Applier, Conflict, NotFound
from miniorch.reconcile import cronjob as cronjob_plan
from miniorch.spec import loader
from miniorch.spec.errors import ManifestInvalid
from miniorch.store.errors import StoreUnavailable
from miniorch.store.records import NodeOverrides, PodRecord
from miniorch.store.store import Store

log = structlog.get_logger(__name__)

EVENT_POLL_SECONDS = 0.5


@dataclass
class ApiContext:
    store: Store
    monitor: NodeMonitor
    applier: Applier
    wake: Callable[[], None]
    metrics: metrics_mod.Metrics | None = None
    drain: Callable[[str], list[str]] | None = None
    role: Callable[[], leadership.Role] | None = None  # None: a lone daemon, always the leader


class ApplyRequest(BaseModel):
    source: str
    text: str
    dry_run: bool = False


class InstantiateRequest(BaseModel):
    name: str


class NodePatch(BaseModel):
    labels: dict[str, str | None] = {}
    unschedulable: bool | None = None


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"message": message, **extra}, status_code=status)


def create_app(ctx: ApiContext) -> FastAPI:
    app = FastAPI(title="miniorch", version=miniorch.__version__, docs_url=None, redoc_url=None)

    @app.exception_handler(NotFound)
    async def _nf(_: Request, exc: NotFound) -> JSONResponse:
        return _error(404, str(exc))

    @app.exception_handler(Conflict)
    async def _cf(_: Request, exc: Conflict) -> JSONResponse:
        return _error(409, str(exc))

    @app.exception_handler(ManifestInvalid)
    async def _inv(_: Request, exc: ManifestInvalid) -> JSONResponse:
        return _error(422, str(exc), errors=[str(e) for e in exc.errors])

    @app.exception_handler(ValueError)
    async def _val(_: Request, exc: ValueError) -> JSONResponse:
        return _error(400, str(exc))

    @app.exception_handler(StoreUnavailable)
    async def _db(_: Request, exc: StoreUnavailable) -> JSONResponse:
        return _error(503, f"{exc}; the daemon keeps the containers running and retries; try again shortly")

    @app.middleware("http")
    async def _standby_refuses_writes(request: Request, call_next: Any) -> Response:
        """A standby answers reads from the database; writes go to the leader (DESIGN 8)."""
        if request.method not in ("GET", "HEAD", "OPTIONS") and ctx.role is not None:
            role = ctx.role()
            if not role.leading:
                leader = f"{role.leader} at {role.leader_address}" if role.leader else "not elected yet"
                return _error(
                    503, f"this daemon ({role.name}) is a standby and accepts no writes; the leader is {leader}"
                )
        response: Response = await call_next(request)
        return response

    @app.get("/version")
    def version() -> dict[str, Any]:
        out: dict[str, Any] = {"version": miniorch.__version__, "python": platform.python_version()}
        if ctx.role is not None:
            role = ctx.role()
            out.update(role=role.word, name=role.name, leader=role.leader, leader_address=role.leader_address)
        return out

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"ok": True, "nodes": {n: s.ready for n, s in ctx.monitor.nodes.items()}}

    @app.get("/metrics")
    def metrics() -> Response:
        if ctx.metrics is None:
            raise NotFound("metrics are not enabled in this daemon")
        return Response(ctx.metrics.render(), media_type=metrics_mod.CONTENT_TYPE)

    @app.post("/apply")
    def apply(req: ApplyRequest) -> dict[str, Any]:
        manifests = loader.load_text(req.text, req.source)
        if req.dry_run:
            ctx.applier.check(manifests)
            return {
                "results": [
                    {"kind": m.kind, "namespace": m.namespace, "name": m.name, "action": "checked"} for m in manifests
                ],
                "warnings": [str(w) for m in manifests for w in m.warnings],
            }
        results = ctx.applier.apply(manifests, "api")
        return {"results": [r.__dict__ for r in results], "warnings": [str(w) for m in manifests for w in m.warnings]}

    # -- nodes --------------------------------------------------------------
    def _node(name: str) -> dict[str, Any]:
        state = ctx.monitor.nodes.get(name)
        if state is None:
            raise NotFound(f'node "{name}" not found')
        over = ctx.store.node_overrides().get(name)
        return render.node(state, ctx.monitor.labels(name), bool(over and over.unschedulable))

    @app.get("/api/nodes")
    def list_nodes(selector: str | None = None) -> Response:
        reqs = selectors.parse(selector)
        items = [_node(n) for n in sorted(ctx.monitor.nodes)]
        return render.as_list([i for i in items if selectors.matches(reqs, i["metadata"]["labels"])])

    @app.get("/api/nodes/{name}")
    def get_node(name: str) -> dict[str, Any]:
        return _node(name)

    @app.patch("/api/nodes/{name}")
    def patch_node(name: str, patch: NodePatch) -> dict[str, Any]:
        if name not in ctx.monitor.nodes:
            raise NotFound(f'node "{name}" not found')
        over = ctx.store.node_overrides().get(name) or NodeOverrides(name)
        labels = {**over.labels, **patch.labels}
        unschedulable = over.unschedulable if patch.unschedulable is None else patch.unschedulable
        ctx.store.save_node_overrides(NodeOverrides(name, labels, unschedulable))
        ctx.wake()
        return _node(name)

    @app.post("/api/nodes/{name}/drain")
    async def drain_node(name: str) -> dict[str, Any]:
        """Cordon the node and evict its Job pods; `remaining` lists pods still stopping.

        Async on purpose: evictions start tasks on the daemon's event loop."""
        if name not in ctx.monitor.nodes:
            raise NotFound(f'node "{name}" not found')
        over = ctx.store.node_overrides().get(name) or NodeOverrides(name)
        ctx.store.save_node_overrides(NodeOverrides(name, dict(over.labels), True))
        remaining = ctx.drain(name) if ctx.drain else []
        return {"node": name, "remaining": remaining}

    # -- pods ---------------------------------------------------------------
    def _render_pods(pods: list[PodRecord]) -> list[dict[str, Any]]:
        owners = ctx.store.objects_by_uid(p.owner_uid for p in pods)
        return [render.pod(p, owners.get(p.owner_uid)) for p in pods]

    @app.get("/api/pods")
    def list_pods(
        namespace: str | None = None,
        selector: str | None = None,
        owner: str | None = None,
        node: str | None = None,
        phase: str | None = None,
    ) -> Response:
        """`node` and `phase` are `ctl get --field-selector spec.nodeName=N,status.phase=P` served here."""
        reqs = selectors.parse(selector)
        # Equality requirements narrow the query in SQL; `matches` below still decides.
        equal = {r.key: r.values[0] for r in reqs if r.op == "="}
        pods = ctx.store.pods_of(owner) if owner else ctx.store.list_pods(namespace, equal, with_log=False)
        pods = [
            p
            for p in pods
            if (not namespace or p.namespace == namespace)
            and (node is None or (p.node or "") == node)
            and (phase is None or p.phase.value == phase)
            and selectors.matches(reqs, p.labels)
        ]
        return render.as_list(_render_pods(pods))

    def _pod(namespace: str, name: str) -> PodRecord:
        rec = ctx.store.get_pod(namespace, name)
        if rec is None:
            raise NotFound(f'pod "{name}" not found in namespace "{namespace}"')
        return rec

    @app.get("/api/pods/{namespace}/{name}")
    def get_pod(namespace: str, name: str) -> dict[str, Any]:
        return _render_pods([_pod(namespace, name)])[0]

    # -- events -------------------------------------------------------------
    @app.get("/api/events")
    def list_events(namespace: str | None = None, uid: str | None = None) -> Response:
        return render.as_list([render.event(e) for e in ctx.store.list_events(namespace, uid)])

    @app.get("/api/events/watch")
    def watch_events(namespace: str | None = None, poll: float = EVENT_POLL_SECONDS) -> StreamingResponse:
        """NDJSON, one `{"type": "ADDED"|"MODIFIED", "object": event}` a line: the current events, then changes."""
        return StreamingResponse(
            _watch_events(ctx.store, namespace, max(0.05, poll)), media_type="application/x-ndjson"
        )

    # -- workload objects ---------------------------------------------------
    def _kind(plural: str) -> str:
        kind = kinds.resolve(plural)
        if kind not in kinds.WORKLOADS:
            raise ValueError(f'unknown resource type "{plural}"; use jobs, cronjobs, daemonsets, pods, nodes or events')
        return kind

    @app.get("/api/objects/{plural}")
    def list_objects(plural: str, namespace: str | None = None, selector: str | None = None) -> Response:
        kind = _kind(plural)
        reqs = selectors.parse(selector)
        items = [render.obj(o) for o in ctx.store.list_objects(kind, namespace)]
        return render.as_list([i for i in items if selectors.matches(reqs, i["metadata"].get("labels") or {})])

    @app.get("/api/objects/{plural}/{namespace}/{name}")
    def get_object(plural: str, namespace: str, name: str) -> dict[str, Any]:
        kind = _kind(plural)
        rec = ctx.store.get_object(kind, namespace, name)
        if rec is None:
            raise NotFound(f'{kinds.get(kind).group} "{name}" not found')
        return render.obj(rec)

    @app.delete("/api/objects/{plural}/{namespace}/{name}")
    def delete_object(plural: str, namespace: str, name: str) -> dict[str, Any]:
        return render.obj(ctx.applier.delete(_kind(plural), namespace, name))

    @app.patch("/api/objects/{plural}/{namespace}/{name}")
    def patch_object(plural: str, namespace: str, name: str, patch: dict[str, Any] = Body(...)) -> dict[str, Any]:
        kind = _kind(plural)
        result = ctx.applier.patch(kind, namespace, name, patch)
        rec = ctx.store.get_object(kind, namespace, name)
        assert rec is not None
        return {"action": result.action, "object": render.obj(rec)}

    @app.post("/api/objects/cronjobs/{namespace}/{name}/jobs")
    def instantiate_cronjob(namespace: str, name: str, req: InstantiateRequest) -> dict[str, Any]:
        """`ctl create job NAME --from=cronjob/CJ`: a manual run, not subject to the concurrency policy."""
        cj = ctx.store.get_object("CronJob", namespace, name)
        if cj is None or cj.deleting:
            raise NotFound(f'cronjob.batch "{name}" not found in namespace "{namespace}"')
        annotations = {cronjob_plan.INSTANTIATE_ANNOTATION: "manual"}
        job = cronjobs.create_job(ctx.store, ctx.applier, cj, req.name, annotations, utcnow())
        if job is None:
            raise Conflict(f'jobs.batch "{req.name}" already exists')
        ctx.wake()
        return render.obj(job)

    daemonsets.add_routes(app, ctx.store, ctx.applier)
    podlogs.add_routes(app, ctx.store, ctx.monitor)
    verbs.add_routes(app, ctx.store, ctx.applier)
    return app


async def _watch_events(store: Store, namespace: str | None, poll: float) -> AsyncIterator[bytes]:
    seen: dict[int | None, int] = {}
    while True:
        events = await asyncio.to_thread(store.list_events, namespace)
        lines = []
        for ev in events:
            if seen.get(ev.id) == ev.count:
                continue
            change = "ADDED" if ev.id not in seen else "MODIFIED"
            seen[ev.id] = ev.count
            lines.append(json.dumps({"type": change, "object": render.event(ev)}) + "\n")
        # An empty line now and then lets the server notice a client that went away.
        yield "".join(lines).encode() if lines else b"\n"
        await asyncio.sleep(poll)
