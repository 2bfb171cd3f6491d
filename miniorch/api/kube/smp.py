"""Kubernetes' strategic merge patch, applied server-side, pure: what `kubectl apply` sends.

A map merges key by key (null deletes a key); a list is replaced unless the field's type says
`patchStrategy: merge`: lists of objects then merge item by item on the field's merge key, lists of
scalars as sets. The directives are apimachinery's (`$patch: replace|delete|merge`,
`$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>`, `$retainKeys`). The merge keys are
the Kubernetes types' `patchMergeKey`/`patchStrategy` tags (`patchmeta`). A bad patch raises
ValueError naming the path of the field.
"""

from __future__ import annotations

import copy
from typing import Any

from miniorch.api.kube import patchmeta
from miniorch.api.kube.patchmeta import Field

__all__ = ["strategic_merge"]

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
SET_ORDER = "$setElementOrder/"
DELETE_FROM = "$deleteFromPrimitiveList/"
Json = dict[str, Any]


def strategic_merge(original: Json, patch: Json, kind: str) -> Json:
    """`original` with `patch` applied as a strategic merge patch for an object of `kind`."""
    if not isinstance(patch, dict):
        raise ValueError("the patch is not a JSON object")
    return _merge_map(copy.deepcopy(original), copy.deepcopy(patch), patchmeta.root(kind), "")


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _merge_map(original: Json, patch: Json, struct: str | None, path: str) -> Json:
    if DIRECTIVE in patch:
        directive = patch.pop(DIRECTIVE)
        if directive == "replace":
            return _merge_map({}, patch, struct, path)  # the patch as it is, its own directives applied
        if directive == "delete":
            return {}
        if directive != "merge":
            raise ValueError(f"{path or '<root>'}: unknown patch directive {DIRECTIVE}: {directive!r}")
    _retain_keys(original, patch, path)
    for key in [k for k in patch if k.startswith(SET_ORDER)]:
        _set_order(original, patch, key, struct, path)
    for key, value in patch.items():
        if key.startswith(DELETE_FROM):
            _delete_from(original, key.removeprefix(DELETE_FROM), value, path)
            continue
        if key.startswith("$"):
            raise ValueError(f"{_at(path, key)}: unknown patch directive {key!r}")
        if value is None:
            original.pop(key, None)
            continue
        original[key] = _merge_value(original.get(key), value, patchmeta.field(struct, key), _at(path, key))
    return original


def _merge_value(current: Any, value: Any, field: Field, path: str) -> Any:
    """The merge of one field's current value (None: unset) with its patch value."""
    if isinstance(value, dict):
        if field.strategy == "replace" or not isinstance(current, dict):
            current = {}
        return _merge_map(current, value, field.type, path)
    if isinstance(value, list):
        if field.strategy != "merge":  # replaced whole; directives inside its objects still apply
            return [
                _merge_map({}, v, field.type, f"{path}[{i}]") if isinstance(v, dict) else v for i, v in enumerate(value)
            ]
        return _merge_list(current if isinstance(current, list) else [], value, field, path)
    return value


def _kind_of(items: list[Any], path: str) -> type:
    """The one JSON type of a list's items (dict for objects); lists of lists are refused."""
    kinds = {dict if isinstance(i, dict) else type(i) for i in items if i is not None}
    if list in kinds:
        raise ValueError(f"{path}: lists of lists are not supported by strategic merge patch")
    if len(kinds) > 1:
        raise ValueError(f"{path}: the list's items are not all of one type")
    return kinds.pop() if kinds else str


def _merge_list(original: list[Any], patch: list[Any], field: Field, path: str) -> list[Any]:
    if not original and not patch:
        return []
    if _kind_of([*original, *patch], path) is not dict:
        merged = _dedup([*original, *patch])
        inside = [v for v in merged if v in patch]
        return _ordered(inside, [v for v in merged if v not in patch], patch, original, "")
    key = field.key
    if not key:
        raise ValueError(f"{path}: cannot merge a list of objects without a merge key")
    original, patch = _special_items(original, patch, key, path)
    for item in patch:
        if key not in item:
            raise ValueError(f"{path}: an item of the patch has no merge key {key!r}: {item}")
        at = next((i for i, o in enumerate(original) if isinstance(o, dict) and o.get(key) == item[key]), None)
        where = f"{path}[{key}={item[key]}]"
        if at is None:
            original.append(_merge_map({}, item, field.type, where))
        else:
            original[at] = _merge_map(original[at], item, field.type, where)
    keys = {_key_value(i, key) for i in patch}
    inside = [i for i in original if _key_value(i, key) in keys]
    return _ordered(inside, [i for i in original if _key_value(i, key) not in keys], patch, original, key)


def _special_items(original: list[Any], patch: list[Any], key: str, path: str) -> tuple[list[Any], list[Any]]:
    """Apply the `$patch` items of a merging list: delete by merge key, or replace the whole list."""
    plain, replace = [], False
    for item in patch:
        if not isinstance(item, dict):
            raise ValueError(f"{path}: an item of the patch is not an object: {item!r}")
        directive = item.get(DIRECTIVE)
        if directive is None:
            plain.append(item)
        elif directive == "delete":
            if key not in item:
                raise ValueError(f"{path}: a {DIRECTIVE}: delete item has no merge key {key!r}")
            original = [o for o in original if not (isinstance(o, dict) and o.get(key) == item[key])]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise ValueError(f"{path}: {DIRECTIVE}: merge is not supported inside a list")
        else:
            raise ValueError(f"{path}: unknown patch directive {DIRECTIVE}: {directive!r}")
    if replace:
        return [], plain
    return original, plain


def _key_value(item: Any, key: str) -> Any:
    """What identifies an item: its merge key's value (the item itself in a list of scalars)."""
    if not key:
        return _hashable(item)
    return _hashable(item.get(key)) if isinstance(item, dict) else None


def _hashable(value: Any) -> Any:
    return repr(value) if isinstance(value, (dict, list)) else value


def _dedup(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _sorted_by(items: list[Any], order: list[Any], key: str) -> list[Any]:
    """`items` in the order their keys have in `order`; items not there keep their place after them."""
    rank: dict[Any, int] = {}
    for i, o in enumerate(order):
        rank.setdefault(_key_value(o, key), i)
    known = sorted((i for i in items if _key_value(i, key) in rank), key=lambda i: rank[_key_value(i, key)])
    return known + [i for i in items if _key_value(i, key) not in rank]


def _ordered(
    inside: list[Any], server: list[Any], patch_order: list[Any], server_order: list[Any], key: str
) -> list[Any]:
    """apimachinery's normalizeElementOrder: the patch's items in the patch's order, the server-only
    items in the live order, interleaved where the live order places them before a patch item."""
    left, right = _sorted_by(server, server_order, key), _sorted_by(inside, patch_order, key)
    live: dict[Any, int] = {}
    for i, o in enumerate(server_order):
        live.setdefault(_key_value(o, key), i)
    out, i, j = [], 0, 0
    while i < len(left) or j < len(right):
        if j >= len(right):
            out.append(left[i])
            i += 1
            continue
        if i < len(left):
            li, ri = live.get(_key_value(left[i], key)), live.get(_key_value(right[j], key))
            if li is not None and ri is not None and li < ri:
                out.append(left[i])
                i += 1
                continue
        out.append(right[j])
        j += 1
    return out


def _retain_keys(original: Json, patch: Json, path: str) -> None:
    if RETAIN_KEYS not in patch:
        return
    keep = patch.pop(RETAIN_KEYS)
    if not isinstance(keep, list):
        raise ValueError(f"{_at(path, RETAIN_KEYS)}: must be a list of field names")
    for key, value in patch.items():
        if value is not None and not key.startswith("$") and key not in keep:
            raise ValueError(f"{_at(path, key)}: the patch sets a field that its {RETAIN_KEYS} list does not keep")
    for key in [k for k in original if k not in keep]:
        del original[key]


def _set_order(original: Json, patch: Json, directive: str, struct: str | None, path: str) -> None:
    """`$setElementOrder/<list>`: merge the list, then order it as the directive says."""
    order = patch.pop(directive)
    name = directive.removeprefix(SET_ORDER)
    where = _at(path, name)
    if not isinstance(order, list):
        raise ValueError(f"{_at(path, directive)}: must be a list")
    field = patchmeta.field(struct, name)
    listed = patch.pop(name, None)
    if listed is not None and not isinstance(listed, list):
        raise ValueError(f"{where}: the patch's value is not a list, but {directive} orders it")
    current = original.get(name)
    if current is not None and not isinstance(current, list):
        raise ValueError(f"{where}: the object's value is not a list, but {directive} orders it")
    if current is None and listed is None:
        return
    _check_order(listed or [], order, field.key, where)
    merged = _merge_value(current, listed, field, where) if listed is not None else current
    assert isinstance(merged, list)
    keys = {_key_value(o, field.key) for o in order}
    inside = [i for i in merged if _key_value(i, field.key) in keys]
    server = [i for i in merged if _key_value(i, field.key) not in keys]
    original[name] = _ordered(inside, server, order, current or [], field.key)


def _check_order(patch: list[Any], order: list[Any], key: str, path: str) -> None:
    """The patch's items (deletions aside) appear in the directive's list, in its order."""
    if key and any(not isinstance(o, dict) or key not in o for o in order):
        raise ValueError(f"{path}: every item of {SET_ORDER}{path.rpartition('.')[2]} needs the merge key {key!r}")
    wanted = [_key_value(i, key) for i in patch if not (isinstance(i, dict) and DIRECTIVE in i)]
    ranks = [_key_value(o, key) for o in order]
    at = 0
    for value in wanted:
        while at < len(ranks) and ranks[at] != value:
            at += 1
        if at == len(ranks):
            raise ValueError(f"{path}: the order of the patch's list does not match its {SET_ORDER} list")
        at += 1


def _delete_from(original: Json, name: str, values: Any, path: str) -> None:
    """`$deleteFromPrimitiveList/<list>`: drop those values from a list of scalars."""
    where = _at(path, name)
    if not isinstance(values, list):
        raise ValueError(f"{_at(path, DELETE_FROM + name)}: must be a list")
    current = original.get(name)
    if current is None:
        return
    if not isinstance(current, list) or any(isinstance(v, (dict, list)) for v in current):
        raise ValueError(f"{where}: {DELETE_FROM}{name} applies to a list of scalars only")
    original[name] = [v for v in current if v not in values]
