"""`/openapi/v2` (swagger 2.0) and `/openapi/v3[/{api/v1|apis/G/V}]` for the registry's kinds.

The schemas are the manifest models' JSON Schema (`miniorch schema`, as `ctl explain` reads it)
under Kubernetes' definition names, with `x-kubernetes-group-version-kind` on each kind, the
strategic-merge tags of `patchmeta` (`x-kubernetes-patch-merge-key`/`-strategy`) and the field
descriptions of `fielddocs`. The paths list each kind's operations with their group-version-kind
and the query parameters they honour (`fieldValidation`, `labelSelector`, `watch`, ...), so kubectl
validates on the server and computes apply's patch from them, and a fuzzer knows what to send.
"""

from __future__ import annotations

import functools
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from miniorch import kinds
from miniorch.api.kube import fielddocs, patchmeta

router = APIRouter()
Json = dict[str, Any]
_META = "io.k8s.apimachinery.pkg.apis.meta.v1"
_META_TYPES = ("ObjectMeta", "TemplateMeta", "LabelSelector", "LabelSelectorRequirement")
_KEEP = ("type", "description", "enum", "format", "minimum", "maximum", "minLength", "maxLength", "pattern", "required")
_PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json")


def _package(name: str) -> str:
    """The Kubernetes package a definition lives in: meta types, a kind's own group, else core/v1."""
    if name in _META_TYPES:
        return _META
    for info in sorted(kinds.REGISTRY, key=lambda i: -len(i.kind)):
        if name.startswith(info.kind) and info.api_group:
            return f"io.k8s.api.{info.api_group}.{info.version}"
    return "io.k8s.api.core.v1"


def full_name(name: str) -> str:
    return f"{_package(name)}.{name}"


def _gvk(info: kinds.KindInfo, kind: str | None = None) -> Json:
    return {"group": info.api_group, "version": info.version, "kind": kind or info.kind}


def _convert(prop: Json, refs: str, v3: bool) -> Json:
    """One JSON Schema (pydantic's) as an OpenAPI schema: refs renamed, `null` options dropped."""
    options = [o for o in prop.get("anyOf", []) if o.get("type") != "null"]
    if len(options) == 1:
        prop = {**{k: v for k, v in prop.items() if k != "anyOf"}, **options[0]}
    if "$ref" in prop:
        ref = {"$ref": refs + full_name(prop["$ref"].rsplit("/", 1)[-1])}
        extra = {k: prop[k] for k in ("description",) if k in prop}
        return ({"allOf": [ref], **extra} if v3 else {**ref, **extra}) if extra else ref
    if "anyOf" in prop:  # int-or-string and the like
        types = {o.get("type") for o in prop["anyOf"]}
        out: Json = {"x-kubernetes-int-or-string": True} if types == {"integer", "string"} else {}
        return {**out, **{k: prop[k] for k in ("description",) if k in prop}}
    out = {k: prop[k] for k in _KEEP if k in prop}
    if "const" in prop:
        out["enum"] = [prop["const"]]
    if "default" in prop and prop["default"] is not None:
        out["default"] = prop["default"]
    if "items" in prop:
        out["items"] = _convert(prop["items"], refs, v3)
    if isinstance(prop.get("additionalProperties"), dict):
        out["additionalProperties"] = _convert(prop["additionalProperties"], refs, v3)
    if "properties" in prop:
        out["properties"] = {k: _convert(v, refs, v3) for k, v in prop["properties"].items()}
        out.setdefault("type", "object")
    return out


def _tag(name: str, schema: Json) -> Json:
    """Add the strategic-merge tags and the field descriptions the models do not carry."""
    for field, value in (schema.get("properties") or {}).items():
        tags = patchmeta.field(name, field)
        if tags.strategy:
            strategy = ",".join([tags.strategy, "retainKeys"] if tags.retain_keys else [tags.strategy])
            value["x-kubernetes-patch-strategy"] = strategy
            if tags.key:
                value["x-kubernetes-patch-merge-key"] = tags.key
        doc = fielddocs.DOCS.get(f"{name}.{field}")
        if doc and "description" not in value:
            value["description"] = doc
    return schema


def _served_kinds() -> list[kinds.KindInfo]:
    return list(kinds.REGISTRY)


def _kind_schema(info: kinds.KindInfo, defs: Json, refs: str, v3: bool) -> Json:
    """A kind's own schema: its model's, or (Pod, Node, Event) metadata and free-form spec/status."""
    if info.kind in defs:
        schema = _convert(defs[info.kind], refs, v3)
    else:
        spec = (
            _convert({"$ref": "#/$defs/PodSpec"}, refs, v3)
            if info.kind == "Pod" and "PodSpec" in defs
            else {"type": "object"}
        )
        schema = {
            "type": "object",
            "description": f"A {info.kind} as miniorch serves it.",
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": _convert({"$ref": "#/$defs/ObjectMeta"}, refs, v3),
                "spec": spec,
            },
        }
    schema.setdefault("properties", {})["status"] = {
        "type": "object",
        "description": f"The {info.kind}'s observed state.",
    }
    schema["x-kubernetes-group-version-kind"] = [_gvk(info)]
    return schema


def _list_schema(info: kinds.KindInfo, refs: str) -> Json:
    return {
        "type": "object",
        "description": f"A list of {info.plural}.",
        "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "items": {"type": "array", "items": {"$ref": refs + full_name(info.kind)}},
        },
        "x-kubernetes-group-version-kind": [_gvk(info, info.kind + "List")],
    }


@functools.cache
def _defs() -> Json:
    from miniorch.spec import loader  # pydantic models: the daemon has them loaded already

    defs: Json = loader.json_schema()["$defs"]
    return defs


def schemas(refs: str, v3: bool, infos: list[kinds.KindInfo]) -> Json:
    """Every definition the kinds `infos` need (all manifest types, the kinds and their lists)."""
    defs = _defs()
    out = {full_name(n): _tag(n, _convert(d, refs, v3)) for n, d in defs.items() if n not in kinds.PLURAL}
    for info in infos:
        out[full_name(info.kind)] = _tag(info.kind, _kind_schema(info, defs, refs, v3))
        out[full_name(info.kind + "List")] = _list_schema(info, refs)
    return out


def _verbs(info: kinds.KindInfo) -> set[str]:
    if info.workload:
        return {"list", "post", "get", "put", "patch", "delete"}
    return {"Pod": {"list", "get", "delete"}, "Node": {"list", "get", "patch"}}.get(info.kind, {"list"})


def _prefix(info: kinds.KindInfo) -> str:
    return f"/apis/{info.api_version}" if info.api_group else f"/api/{info.version}"


# The query parameters each action honours (Kubernetes' names; the ones miniorch ignores are not listed).
_QUERIES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "list": (
        ("labelSelector", "string", "Only the objects whose labels match, e.g. app=web,tier!=db."),
        ("fieldSelector", "string", "Only the objects whose fields match, e.g. status.phase=Running."),
        ("watch", "boolean", "Stream ADDED, MODIFIED and DELETED events instead of answering a list."),
        ("resourceVersion", "string", "With watch: the events after this version (410 when it is too old)."),
        ("timeoutSeconds", "integer", "With watch: end the stream after this many seconds."),
    ),
    "delete": (("propagationPolicy", "string", "Background or Foreground: the object's pods go with it either way."),),
}


def _query(name: str, type_: str, description: str, v3: bool) -> Json:
    schema = {"type": type_}
    return {"name": name, "in": "query", **({"schema": schema} if v3 else schema), "description": description}


def _operation(info: kinds.KindInfo, action: str, refs: str, v3: bool) -> Json:
    target = refs + full_name(info.kind + ("List" if action == "list" else ""))
    op: Json = {
        "operationId": f"{action}{info.kind}",
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": _gvk(info),
        "parameters": [],
    }
    queries = _QUERIES.get(action, ())
    if action in ("post", "put", "patch"):
        queries = (
            ("fieldValidation", "string", "Strict, Warn or Ignore: what to do with unknown or duplicate fields."),
        )
    op["parameters"] += [_query(name, type_, text, v3) for name, type_, text in queries]
    body_schema = {"type": "object"} if action == "patch" else {"$ref": refs + full_name(info.kind)}
    if v3:
        op["responses"] = {"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": target}}}}}
        if action in ("post", "put", "patch"):
            types = _PATCH_TYPES if action == "patch" else ("application/json",)
            op["requestBody"] = {"required": True, "content": {t: {"schema": body_schema} for t in types}}
        if action == "delete":  # DeleteOptions, optional: its propagationPolicy is read
            op["requestBody"] = {"required": False, "content": {"application/json": {"schema": _DELETE_OPTIONS}}}
    else:
        op["responses"] = {"200": {"description": "OK", "schema": {"$ref": target}}}
        if action in ("post", "put", "patch"):
            op["parameters"].append({"name": "body", "in": "body", "required": True, "schema": body_schema})
            op["consumes"] = list(_PATCH_TYPES) if action == "patch" else ["application/json"]
        if action == "delete":
            op["parameters"].append({"name": "body", "in": "body", "required": False, "schema": _DELETE_OPTIONS})
    return op


_DELETE_OPTIONS: Json = {
    "type": "object",
    "description": "DeleteOptions: only propagationPolicy is read.",
    "properties": {"propagationPolicy": {"type": "string"}},
}
_LOG_QUERIES = (
    ("container", "string", "The container to read; needed only when the pod has several."),
    ("follow", "boolean", "Stream the log as the container writes it."),
    ("tailLines", "integer", "Only the last lines, this many."),
    ("sinceSeconds", "integer", "Only the lines of the last this many seconds."),
    ("sinceTime", "string", "Only the lines from this RFC 3339 time on."),
    ("timestamps", "boolean", "Start each line with its RFC 3339 time."),
    ("previous", "boolean", "The run before the latest of a container restarted in place."),
    ("limitBytes", "integer", "At most this many bytes."),
)


def _log_path(info: kinds.KindInfo, v3: bool) -> Json:
    """`pods/{name}/log`: the pod's log as text, with the parameters `kubectl logs` sends."""
    text = {"type": "string"}
    op: Json = {
        "operationId": "readPodLog",
        "x-kubernetes-action": "get",
        "x-kubernetes-group-version-kind": _gvk(info),
        "parameters": [_query(name, type_, doc, v3) for name, type_, doc in _LOG_QUERIES],
        "responses": {
            "200": {"description": "OK", **({"content": {"text/plain": {"schema": text}}} if v3 else {"schema": text})}
        },
    }
    if not v3:
        op["produces"] = ["text/plain"]
    return {"get": op, "parameters": _path_params(["namespace", "name"], v3)}


def _path_params(names: list[str], v3: bool) -> list[Json]:
    return [
        {"name": n, "in": "path", "required": True, **({"schema": {"type": "string"}} if v3 else {"type": "string"})}
        for n in names
    ]


def paths(infos: list[kinds.KindInfo], refs: str, v3: bool) -> Json:
    """The collection and item paths of each kind, with the operations it serves."""
    out: Json = {}
    methods = {"list": "get", "post": "post", "get": "get", "put": "put", "patch": "patch", "delete": "delete"}
    for info in infos:
        verbs = _verbs(info)
        scope = (
            f"{_prefix(info)}/namespaces/{{namespace}}/{info.plural}"
            if info.namespaced
            else f"{_prefix(info)}/{info.plural}"
        )
        params = ["namespace"] if info.namespaced else []
        collection = {methods[a]: _operation(info, a, refs, v3) for a in ("list", "post") if a in verbs}
        item = {methods[a]: _operation(info, a, refs, v3) for a in ("get", "put", "patch", "delete") if a in verbs}
        if collection:
            out[scope] = {**collection, "parameters": _path_params(params, v3)}
        if item:
            out[scope + "/{name}"] = {**item, "parameters": _path_params([*params, "name"], v3)}
        if info.namespaced and "list" in verbs:
            out[f"{_prefix(info)}/{info.plural}"] = {"get": _operation(info, "list", refs, v3), "parameters": []}
        if info.kind == "Pod":
            out[scope + "/{name}/log"] = _log_path(info, v3)
    return out


def group_versions() -> dict[str, list[kinds.KindInfo]]:
    """`api/v1`, `apis/batch/v1`, ... -> the kinds served there."""
    out: dict[str, list[kinds.KindInfo]] = {}
    for info in _served_kinds():
        out.setdefault(_prefix(info).lstrip("/"), []).append(info)
    return out


def v2() -> Json:
    infos = _served_kinds()
    refs = "#/definitions/"
    return {
        "swagger": "2.0",
        "info": {"title": "miniorch", "version": "v1"},
        "paths": paths(infos, refs, False),
        "definitions": schemas(refs, False, infos),
    }


def v3(group_version: str) -> Json | None:
    infos = group_versions().get(group_version)
    if infos is None:
        return None
    refs = "#/components/schemas/"
    return {
        "openapi": "3.0.0",
        "info": {"title": "miniorch", "version": group_version},
        "paths": paths(infos, refs, True),
        "components": {"schemas": schemas(refs, True, infos)},
    }


@router.get("/openapi/v2", response_model=None)
def openapi_v2() -> JSONResponse:
    return JSONResponse(v2())


@router.get("/openapi/v3", response_model=None)
def openapi_v3_root() -> JSONResponse:
    return JSONResponse({"paths": {gv: {"serverRelativeURL": f"/openapi/v3/{gv}"} for gv in group_versions()}})


@router.get("/openapi/v3/{group_version:path}", response_model=None)
def openapi_v3(group_version: str) -> JSONResponse:
    doc = v3(group_version.strip("/"))
    if doc is None:
        from miniorch.controllers.objects import NotFound

        raise NotFound(f"the server could not find the requested resource: /openapi/v3/{group_version}")
    return JSONResponse(doc)
