"""PATCH bodies of the Kubernetes API, pure: JSON merge patch, JSON patch (RFC 6902), strategic merge.

`patched(served, body, content_type, kind)` answers the whole object the patch asks for; `spec_of`
cuts it down to what a manifest holds, and `merge_diff` turns old -> new into the JSON merge
patch the applier takes, so every PATCH goes through the same checks as `ctl patch`.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from miniorch import kinds
from miniorch.api.kube.status import KubeError
from miniorch.controllers.objects import merge_patch
from miniorch.spec.unicode import not_unicode

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
SMP = "miniorch.api.kube.smp:strategic_merge"
SERVER_META = ("uid", "resourceVersion", "creationTimestamp", "generation", "deletionTimestamp", "managedFields")
SOURCE_ANNOTATION = "miniorch.io/source"


MAX_DEPTH = 100  # Kubernetes objects nest a few dozen levels; the code after this recurses once a level


def parse_body(raw: bytes, content_type: str = "application/json") -> Any:
    """A JSON body of at most MAX_DEPTH levels; 415 for protobuf or CBOR (client-go then sends JSON again)."""
    media = content_type.split(";")[0].strip().lower()
    if media and not (media.endswith("json") or media == "*/*"):
        raise KubeError(415, f"the content type {media} is not supported; send application/json")
    too_deep = KubeError(400, f"the request body nests deeper than {MAX_DEPTH} levels")
    try:
        body = json.loads(raw or b"null")
    except RecursionError:  # the decoder's own limit, about a thousand levels
        raise too_deep from None
    except ValueError as exc:
        raise KubeError(400, f"the request body is not JSON: {exc}") from exc
    if depth(body) > MAX_DEPTH:
        raise too_deep
    where = not_unicode(body)
    if where is not None:  # JSON's \ud800 escapes decode to strings that no UTF-8 answer (or store) can hold
        raise KubeError(
            400, f"the request body is not valid Unicode at {where}: a lone UTF-16 surrogate (\\ud800-\\udfff)"
        )
    return body


def depth(value: Any) -> int:
    """How deep objects and arrays nest in `value` (a scalar is 0), without recursing."""
    deepest, level = 0, [(value, 0)]
    while level:
        node, at = level.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is not None:
            deepest = max(deepest, at + 1)
            level.extend((child, at + 1) for child in children)
    return deepest


def patched(served: dict[str, Any], body: Any, content_type: str, kind: str, strategic_as_merge: bool = False) -> Any:
    """The object after the patch; 415 for a patch type miniorch does not apply."""
    media = content_type.split(";")[0].strip().lower()
    target = copy.deepcopy(served)
    if media == MERGE or (media == STRATEGIC and strategic_as_merge):
        if not isinstance(body, dict):
            raise KubeError(400, "a merge patch must be a JSON object")
        return merge_patch(target, body)
    if media == JSON_PATCH:
        return json_patch(target, body)
    if media == STRATEGIC:
        try:
            strategic = kinds.load(SMP)
        except (ImportError, AttributeError) as exc:
            raise KubeError(415, "strategic merge patches are not served by this daemon yet") from exc
        try:
            return strategic(target, body, kind)
        except ValueError as exc:
            raise KubeError(400, f"the strategic merge patch cannot be applied: {exc}") from exc
    raise KubeError(
        415, f"the patch type {media or '(none)'} is not supported; use {MERGE}, {JSON_PATCH} or {STRATEGIC}"
    )


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise KubeError(400, f"json patch: {path!r} is not a JSON pointer")
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]


def _parent(doc: Any, parts: list[str], path: str) -> tuple[Any, str]:
    node = doc
    for part in parts[:-1]:
        node = _child(node, part, path)
    return node, parts[-1]


def _child(node: Any, part: str, path: str) -> Any:
    if isinstance(node, dict) and part in node:
        return node[part]
    if isinstance(node, list) and part.isdigit() and int(part) < len(node):
        return node[int(part)]
    raise KubeError(422, f"json patch: the path {path} does not exist", "Invalid")


def _get(doc: Any, path: str) -> Any:
    node = doc
    for part in _pointer(path):
        node = _child(node, part, path)
    return node


def _remove(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        raise KubeError(422, "json patch: cannot remove the whole object", "Invalid")
    parent, last = _parent(doc, parts, path)
    value = _child(parent, last, path)
    if isinstance(parent, list):
        del parent[int(last)]
    else:
        del parent[last]
    return value


def _add(doc: Any, path: str, value: Any) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent, last = _parent(doc, parts, path)
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list) and (last == "-" or (last.isdigit() and int(last) <= len(parent))):
        parent.insert(len(parent) if last == "-" else int(last), value)
    else:
        raise KubeError(422, f"json patch: the path {path} does not exist", "Invalid")
    return doc


def json_patch(doc: Any, ops: Any) -> Any:
    """RFC 6902: add, remove, replace, move, copy, test."""
    if not isinstance(ops, list):
        raise KubeError(400, "a json patch must be a JSON array of operations")
    for op in ops:
        if not isinstance(op, dict) or "path" not in op:
            raise KubeError(400, f"json patch: {op!r} is not an operation with a path")
        path, name = op["path"], op.get("op")
        match name:
            case "add":
                doc = _add(doc, path, copy.deepcopy(op.get("value")))
            case "remove":
                _remove(doc, path)
            case "replace":
                doc = _replace(doc, path, copy.deepcopy(op.get("value")))
            case "move":
                doc = _add(doc, path, _remove(doc, str(op.get("from"))))
            case "copy":
                doc = _add(doc, path, copy.deepcopy(_get(doc, str(op.get("from")))))
            case "test":
                if _get(doc, path) != op.get("value"):
                    raise KubeError(422, f"json patch: test of {path} failed", "Invalid")
            case _:
                raise KubeError(400, f"json patch: unknown operation {name!r}")
    return doc


def _replace(doc: Any, path: str, value: Any) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent, last = _parent(doc, parts, path)
    _child(parent, last, path)  # it must exist
    parent[int(last) if isinstance(parent, list) else last] = value
    return doc


def spec_of(obj: dict[str, Any]) -> dict[str, Any]:
    """What a manifest holds of a served object: no status, no server-set metadata."""
    out = {k: v for k, v in obj.items() if k != "status"}
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in SERVER_META and k != "ownerReferences"}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != SOURCE_ANNOTATION}
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    out["metadata"] = meta
    return out


def merge_diff(old: Any, new: Any) -> Any:
    """The JSON merge patch that makes `old` into `new` (lists and scalars whole)."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return copy.deepcopy(new)
    out: dict[str, Any] = {key: None for key in old if key not in new}
    for key, value in new.items():
        if key not in old:
            out[key] = copy.deepcopy(value)
        elif old[key] != value:
            out[key] = merge_diff(old[key], value)
    return out
