"""kubectl's JSONPath templates (k8s.io/client-go/util/jsonpath): `ctl get -o jsonpath=`, pure.

The same grammar, results and error texts as kubectl: fields (`\\.` escapes a dot), `[n]`,
slices `[a:b:c]`, `[*]`, unions `[0,2]`, `['key']`, filters `[?(@.x=="v")]` (== != < > <= >=,
or existence), recursive descent `..name`, `.*`, quoted literals, `{range X}...{end}`; the
results of one `{...}` are joined by spaces. One deliberate difference: a JSON null is a
missing field (the daemon writes nulls where the Kubernetes API leaves the field out).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from miniorch.cli import gofmt
from miniorch.cli import jsonpath_parse as p
from miniorch.cli.jsonpath_parse import JSONPathError

__all__ = ["JSONPathError", "find", "finder", "parse", "render"]

parse = p.parse


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "string" if isinstance(value, str) else "other"


def compare(left: Any, op: str, right: Any) -> bool:
    """A filter's comparison with Go template's rules (no int/float mixing, no ordering of bools)."""
    kl, kr = _kind(left), _kind(right)
    if op not in ("==", "!=", "<", ">", "<=", ">="):
        raise JSONPathError(f"unrecognized filter operator {op}")
    if kl != kr:
        raise JSONPathError("incompatible types for comparison")
    if kl == "other" or (kl == "bool" and op not in ("==", "!=")):
        raise JSONPathError("invalid type for comparison")
    match op:
        case "==":
            return bool(left == right)
        case "!=":
            return bool(left != right)
        case "<":
            return bool(left < right)
        case ">":
            return bool(left > right)
        case "<=":
            return bool(left <= right)
    return bool(left >= right)


def text(value: Any) -> str:
    """One result as kubectl prints it: maps and lists as compact JSON, the rest as Go prints it."""
    if isinstance(value, (dict, list)):
        return gofmt.marshal(value)
    return gofmt.sprint(value)


class Evaluator:
    def __init__(self, allow_missing_keys: bool = True, as_json: bool = False) -> None:
        self.allow_missing = allow_missing_keys
        self.as_json = as_json  # -o jsonpath-as-json: each {...} prints its results as an indented JSON array

    # -- templates --------------------------------------------------------
    def run(self, parts: list[p.Text | p.Path], data: Any) -> str:
        out: list[str] = []
        self._block(parts, data, out)
        return "".join(out)

    def values(self, parts: list[p.Text | p.Path], data: Any) -> list[Any]:
        out: list[Any] = []
        for part in parts:
            out.extend([part.text] if isinstance(part, p.Text) else self.walk([data], part))
        return out

    def _block(self, parts: list[p.Text | p.Path], data: Any, out: list[str]) -> None:
        i = 0
        while i < len(parts):
            part = parts[i]
            if isinstance(part, p.Text):
                out.append(gofmt.marshal_indent([part.text]) + "\n" if self.as_json else part.text)
            elif _keyword(part) == "range":
                end = _matching_end(parts, i)
                for item in self.walk([data], p.Path(part.nodes[1:])):
                    self._block(parts[i + 1 : end], item, out)
                i = end
            elif _keyword(part) == "end":
                raise JSONPathError("not in range, nothing to end")
            elif self.as_json:
                out.append(gofmt.marshal_indent(self.walk([data], part)) + "\n")
            else:
                out.append(" ".join(text(v) for v in self.walk([data], part)))
            i += 1

    # -- nodes --------------------------------------------------------------
    def walk(self, values: list[Any], node: p.Node) -> list[Any]:
        kind = type(node)  # the two common nodes first: a match costs more per object of a long list
        if kind is p.Path:
            for n in node.nodes:  # type: ignore[union-attr]
                values = self.walk(values, n)
            return values
        if kind is p.Field:
            return self._field(values, node.name)  # type: ignore[union-attr]
        return self._walk_other(values, node)

    def _walk_other(self, values: list[Any], node: p.Node) -> list[Any]:
        match node:
            case p.Text(t):
                return [t]
            case p.Field(name):
                return self._field(values, name)
            case p.Key(key, dotted):
                out: list[Any] = []
                for v in values:
                    if isinstance(v, dict) and v.get(key) is not None:
                        out.append(v[key])
                    else:
                        out.extend(self.walk([v], dotted))
                return out
            case p.Index():
                return [x for v in values for x in _index(v, node)]
            case p.Filter():
                return [x for v in values for x in self._filter(v, node)]
            case p.Literal(value):
                return [value for _ in values]
            case p.Wildcard():
                return [c for v in values for c in _children(v)]
            case p.Recursive():
                return [x for v in values for x in _descend(v)]
            case p.UnionNode(paths):
                return [x for path in paths for x in self.walk(values, path)]
            case p.Identifier(name):
                if name in ("range", "end"):
                    raise JSONPathError(f"{name} is only allowed at the start of an action")
                raise JSONPathError(f"unrecognized identifier {name}")
        raise JSONPathError(f"unexpected Node {node}")

    def _field(self, values: list[Any], name: str) -> list[Any]:
        if not values:
            return []
        if not name:  # `{.}`: the value itself
            return values
        out = [x for v in values if isinstance(v, dict) and (x := v.get(name)) is not None]
        if not out and not self.allow_missing:
            raise JSONPathError(f"{name} is not found")
        return out

    def _filter(self, value: Any, node: p.Filter) -> list[Any]:
        if not isinstance(value, list):
            raise JSONPathError(f"{gofmt.sprint(value)} is not array or slice and cannot be filtered")
        out = []
        for item in value:
            if node.op == "exists":
                try:
                    if self.walk([item], node.left):
                        out.append(item)
                except JSONPathError:
                    pass
                continue
            lefts = self.walk([item], node.left)
            if not lefts:
                continue
            rights = self.walk([item], node.right)
            if not rights:
                continue
            if len(lefts) > 1 or len(rights) > 1:
                raise JSONPathError("can only compare one element at a time")
            if compare(lefts[0], node.op, rights[0]):
                out.append(item)
        return out


def _keyword(part: p.Path) -> str | None:
    first = part.nodes[0] if part.nodes else None
    return first.name if isinstance(first, p.Identifier) and first.name in ("range", "end") else None


def _matching_end(parts: list[p.Text | p.Path], start: int) -> int:
    depth = 0
    for j in range(start, len(parts)):
        part = parts[j]
        if isinstance(part, p.Path):
            kw = _keyword(part)
            depth += 1 if kw == "range" else -1 if kw == "end" else 0
            if depth == 0:
                return j
    return len(parts)


def _index(value: Any, node: p.Index) -> list[Any]:
    """client-go's evalArray: bounds are checked, and an empty selection is allowed."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise JSONPathError(f"{gofmt.type_name(value)} is not array or slice")
    n = len(value)
    start = node.start or 0
    if start < 0:
        start += n
    stop = n if node.stop is None else node.stop
    if stop < 0 or (stop == 0 and node.derived):
        stop += n
    if stop == start:
        return []
    if start >= n or start < 0:
        raise JSONPathError(f"array index out of bounds: index {start}, length {n}")
    if stop > n or stop < 0:
        raise JSONPathError(f"array index out of bounds: index {stop - 1}, length {n}")
    if start > stop:
        raise JSONPathError(f"starting index {start} is greater than ending index {stop}")
    step = 1 if node.step is None else node.step
    if step <= 0:
        raise JSONPathError("step must be > 0")
    return value[start:stop:step]


def _children(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [v for v in value.values() if v is not None]
    if isinstance(value, list):
        return [v for v in value if v is not None]
    if isinstance(value, str):
        return list(value.encode())  # Go ranges over a string's bytes
    return []


def _descend(value: Any) -> list[Any]:
    """The value and everything below it that has children, depth first (client-go's evalRecursive)."""
    children = _children(value)
    if not children:
        return []
    out = [value]
    if not isinstance(value, str):
        for child in children:
            out.extend(_descend(child))
    return out


def render(template: str, data: Any, allow_missing_keys: bool = True, as_json: bool = False) -> str:
    """Execute `template` on `data` as `kubectl get -o jsonpath=TEMPLATE` (or jsonpath-as-json=) prints it."""
    parts = parse(template)
    try:
        return Evaluator(allow_missing_keys, as_json).run(parts, data)
    except JSONPathError as exc:
        raise JSONPathError(
            f"error executing jsonpath {gofmt.quote(template)}: Error executing template: {exc}."
        ) from None


def find(template: str, data: Any) -> list[Any]:
    """Every value a template selects, missing keys allowed: for custom columns and --sort-by."""
    return finder(template)(data)


def finder(template: str) -> Callable[[Any], list[Any]]:
    """`find` with the template parsed once, for running it over many objects."""
    parts, evaluator = parse(template), Evaluator(True)
    return lambda data: evaluator.values(parts, data)
