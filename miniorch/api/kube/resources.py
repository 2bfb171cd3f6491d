"""The Kubernetes API's resource routes, for the core group (`/api/v1`) and named groups (`/apis/G/V`):
list (a namespace or all), get, watch, create, update, patch, delete, for every served resource.

Each route resolves the resource from the registry (`discovery.lookup`), checks the verb, and runs
the store work on a worker thread (`store_io`). Workload kinds are served generically (`objects`);
pods, events, nodes and namespaces through `builtins`. `Accept: ...;as=Table` answers kubectl's
columns through `table.as_table` when that module is present, else the plain list.
"""

from __future__ import annotations

import functools
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from starlette.background import BackgroundTask

from miniorch import kinds, selectors
from miniorch.api import memory, render
from miniorch.api.context import ApiContext
from miniorch.api.kube import builtins, discovery, fields, objects, patch, printed, protobuf, rows, views, watch
from miniorch.api.kube.discovery import Resource
from miniorch.api.kube.status import KubeError
from miniorch.clock import utcnow
from miniorch.controllers.storeio import store_io

router = APIRouter()
TABLE = "miniorch.api.kube.table:as_table"
Served = dict[str, Any]


def _resource(request: Request, plural: str, verb: str) -> Resource:
    params = request.path_params
    resource = discovery.lookup(params.get("group", ""), params.get("version", "v1"), plural)
    discovery.require(resource, verb)
    return resource


def _ctx(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "application/json")


def _api_version(resource: Resource) -> str:
    return f"{resource.group}/{resource.version}" if resource.group else resource.version


_INCLUDE = ("None", "Metadata", "Object")


def _include(request: Request) -> str:
    include = request.query_params.get("includeObject") or "Metadata"
    if include not in _INCLUDE:
        raise KubeError(400, f'includeObject must be one of None, Metadata or Object, not "{include}"')
    return include


def _table(request: Request) -> Any:
    """`as_table` (with the request's `includeObject`) when the client asked for a Table and the
    module is there, else None."""
    if "as=Table" not in request.headers.get("accept", ""):
        return None
    include = _include(request)
    try:
        as_table = kinds.load(TABLE)
    except (ImportError, AttributeError):
        return None
    return functools.partial(as_table, include=include)


def _field_names(resource: Resource) -> tuple[str, ...]:
    if resource.kind == "Namespace":
        return ("metadata.name", "status.phase")
    return kinds.get(resource.kind).fields


def _selectors(request: Request, resource: Resource) -> tuple[Any, Any]:
    query = request.query_params
    return selectors.parse(query.get("labelSelector")), fields.parse(query.get("fieldSelector"), _field_names(resource))


def _list_sync(ctx: ApiContext, resource: Resource, namespace: str | None, labels: Any, wanted: Any) -> Any:
    rv = ctx.store.resource_version()  # read first: a watch from here misses nothing
    equal_labels = {r.key: r.values[0] for r in labels if r.op == "="}
    equal_fields = {r.path: r.value for r in wanted if r.equal}
    items = views.listed(ctx, resource.kind, namespace, equal_labels, equal_fields)
    kept = [
        i
        for i in items
        if selectors.matches(labels, (i.get("metadata") or {}).get("labels") or {}) and fields.matches(wanted, i)
    ]
    return rv, kept


async def _list(request: Request, plural: str, namespace: str | None) -> Response:
    ctx = _ctx(request)
    resource = _resource(request, plural, "list")
    if namespace is not None and not resource.namespaced:
        raise KubeError(404, f"the server could not find the requested resource ({plural} is not namespaced)")
    labels, wanted = _selectors(request, resource)
    query = request.query_params
    if watch.wanted(query.get("watch")):
        return await _watch(request, ctx, resource, namespace, labels, wanted)
    printing = printed.wanted(request.headers.get("accept", ""), query)
    if printing is not None:
        return await _printed_list(ctx, resource, namespace, labels, wanted, printing)
    table = _table(request)
    include = _include(request) if table is not None else "Metadata"
    if table is not None and rows.serves(resource.kind, include, wanted):  # Jobs and pods: kept rows
        body = await store_io(rows.listed_table, ctx, resource.kind, namespace, labels, include, utcnow())
        big = len(body["rows"]) >= memory.BIG_LIST
        return render.FastJSON(body, background=BackgroundTask(memory.trim) if big else None)
    rv, items = await store_io(_list_sync, ctx, resource, namespace, labels, wanted)
    # A big list's freed heap goes back to the system once the answer is sent (tens of MB kept otherwise).
    after = BackgroundTask(memory.trim) if len(items) >= memory.BIG_LIST else None
    if table is not None:
        body = await store_io(table, resource.kind, items, utcnow())  # 10,000 rows: off the event loop
        body.setdefault("metadata", {})["resourceVersion"] = str(rv)
        return render.FastJSON(body, background=after)
    return render.FastJSON(
        {
            "apiVersion": _api_version(resource),
            "kind": f"{resource.kind}List",
            "metadata": {"resourceVersion": str(rv)},
            "items": items,
        },
        background=after,
    )


def _printed_sync(
    ctx: ApiContext, resource: Resource, namespace: str | None, labels: Any, wanted: Any, printing: printed.Printing
) -> tuple[int, str]:
    """How many rows, and the list as `ctl get` prints it (`printed`): from kept rows where the kind has them."""
    now = utcnow()
    if rows.serves(resource.kind, "Metadata", wanted):
        _, kept = rows.listed_rows(ctx, resource.kind, namespace, labels)
        return len(kept), printed.kept_text(resource.kind, kept, now, printing)
    _, items = _list_sync(ctx, resource, namespace, labels, wanted)
    return len(items), printed.text(resource.kind, items, now, printing)


async def _printed_list(
    ctx: ApiContext, resource: Resource, namespace: str | None, labels: Any, wanted: Any, printing: printed.Printing
) -> Response:
    count, body = await store_io(_printed_sync, ctx, resource, namespace, labels, wanted, printing)
    after = BackgroundTask(memory.trim) if count >= memory.BIG_LIST else None
    return Response(body, media_type=f"{printed.MEDIA_TYPE}; charset=utf-8", background=after)


async def _watch(
    request: Request, ctx: ApiContext, resource: Resource, namespace: str | None, labels: Any, wanted: Any
) -> Response:
    discovery.require(resource, "watch")
    query = request.query_params
    since = watch.parse_version(query.get("resourceVersion"))
    await store_io(watch.check_since, ctx, resource.kind, since)
    table = _table(request)

    def shape(obj: Served) -> Served:
        return table(resource.kind, [obj], utcnow()) if table is not None else obj

    spec = watch.WatchSpec(
        views.view(resource.kind),
        _api_version(resource),
        namespace,
        labels,
        wanted,
        since,
        watch.timeout_of(query.get("timeoutSeconds")),
        shape,
    )
    return StreamingResponse(watch.stream(ctx, request, spec), media_type="application/json")


def _get_sync(ctx: ApiContext, resource: Resource, namespace: str | None, name: str) -> Served:
    match resource.kind:
        case "Pod":
            return builtins.get_pod(ctx, namespace or "default", name)
        case "Node":
            return builtins.get_node(ctx, name)
        case "Namespace":
            return builtins.get_namespace(ctx, name)
    return render.obj(objects.existing(ctx, resource, namespace or "default", name))


async def _get(request: Request, plural: str, namespace: str | None, name: str) -> Response:
    resource = _resource(request, plural, "get")
    if resource.namespaced != (namespace is not None):
        raise KubeError(404, f"the server could not find the requested resource ({plural}/{name})")
    obj = await store_io(_get_sync, _ctx(request), resource, namespace, name)
    table = _table(request)
    return render.FastJSON(table(resource.kind, [obj], utcnow()) if table is not None else obj)


# -- the routes, once per prefix ---------------------------------------------------------
async def list_all(request: Request, plural: str) -> Response:
    return await _list(request, plural, None)


async def list_namespaced(request: Request, namespace: str, plural: str) -> Response:
    return await _list(request, plural, namespace)


async def get_cluster(request: Request, plural: str, name: str) -> Response:
    return await _get(request, plural, None, name)


async def get_namespaced(request: Request, namespace: str, plural: str, name: str) -> Response:
    return await _get(request, plural, namespace, name)


async def _create_body(request: Request, resource: Resource) -> Any:
    """JSON, or the protobuf of a Job naming a CronJob as its controller (`kubectl create job --from`)."""
    raw = await request.body()
    if _content_type(request).split(";")[0].strip() != protobuf.CONTENT_TYPE:
        return patch.parse_body(raw, _content_type(request))
    try:
        body = protobuf.decode(raw)
    except ValueError as exc:
        raise KubeError(415, f"the protobuf body cannot be read: {exc}; send application/json") from exc
    owners = (body.get("metadata") or {}).get("ownerReferences") or []
    if resource.kind != "Job" or not any(o.get("kind") == "CronJob" and o.get("controller") for o in owners):
        raise KubeError(415, "protobuf bodies are read only for a CronJob's manual run; send application/json")
    return body


async def create(request: Request, namespace: str, plural: str) -> Response:
    resource = _resource(request, plural, "create")
    body = await _create_body(request, resource)
    obj = await store_io(objects.create, _ctx(request), resource, namespace, body)
    return render.FastJSON(obj, status_code=201)


async def update(request: Request, namespace: str, plural: str, name: str) -> Response:
    resource = _resource(request, plural, "update")
    body = patch.parse_body(await request.body(), _content_type(request))
    return render.FastJSON(await store_io(objects.update, _ctx(request), resource, namespace, name, body))


async def patch_namespaced(request: Request, namespace: str, plural: str, name: str) -> Response:
    resource = _resource(request, plural, "patch")
    body = patch.parse_body(await request.body(), _content_type(request))
    media = request.headers.get("content-type", "")
    ctx = _ctx(request)
    return render.FastJSON(await store_io(objects.apply_patch, ctx, resource, namespace, name, body, media))


async def patch_cluster(request: Request, plural: str, name: str) -> Response:
    resource = _resource(request, plural, "patch")
    body = patch.parse_body(await request.body(), _content_type(request))
    if resource.kind != "Node":
        raise KubeError(404, f"the server could not find the requested resource ({plural}/{name})")
    media = request.headers.get("content-type", "")
    return render.FastJSON(await store_io(builtins.patch_node, _ctx(request), name, body, media))


async def delete(request: Request, namespace: str, plural: str, name: str) -> Response:
    resource = _resource(request, plural, "delete")
    raw = await request.body()
    options = patch.parse_body(raw, _content_type(request)) if raw else {}
    if not isinstance(options, dict | None):
        raise KubeError(400, "the request body must be DeleteOptions, a JSON object")
    policy = request.query_params.get("propagationPolicy") or (options or {}).get("propagationPolicy")
    ctx = _ctx(request)
    if resource.kind == "Pod":
        return render.FastJSON(await store_io(builtins.delete_pod, ctx, namespace, name))
    return render.FastJSON(await store_io(objects.delete, ctx, resource, namespace, name, policy))


def _add(prefix: str) -> None:
    ns = f"{prefix}/namespaces/{{namespace}}/{{plural}}"
    routes: list[tuple[str, Any, list[str]]] = [
        (f"{prefix}/{{plural}}", list_all, ["GET"]),
        (f"{prefix}/{{plural}}/{{name}}", get_cluster, ["GET"]),
        (f"{prefix}/{{plural}}/{{name}}", patch_cluster, ["PATCH"]),
        (ns, list_namespaced, ["GET"]),
        (ns, create, ["POST"]),
        (f"{ns}/{{name}}", get_namespaced, ["GET"]),
        (f"{ns}/{{name}}", update, ["PUT"]),
        (f"{ns}/{{name}}", patch_namespaced, ["PATCH"]),
        (f"{ns}/{{name}}", delete, ["DELETE"]),
    ]
    for path, endpoint, methods in routes:
        router.add_api_route(path, endpoint, methods=methods, include_in_schema=False)


_add("/api/v1")
_add("/apis/{group}/{version}")
