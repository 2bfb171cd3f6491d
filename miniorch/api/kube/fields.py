"""Field selectors (`--field-selector status.phase=Running,spec.nodeName!=n1`) over served objects, pure.

Which fields a kind accepts comes from the registry (`KindInfo.fields`) plus the ones every
object has; an unknown field is a 400, worded as the API server words it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

COMMON = ("metadata.name", "metadata.namespace")


@dataclass(frozen=True)
class FieldRequirement:
    path: str
    value: str
    equal: bool  # = and ==; False for !=

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return (self.value in values_at(obj, self.path)) == self.equal


def value_at(obj: Mapping[str, Any], path: str) -> str:
    """The field's value as the API server compares it: a string, "" when absent."""
    node: Any = obj
    for part in path.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return _text(node)


def values_at(obj: Mapping[str, Any], path: str) -> list[str]:
    """The field's values: one, or one per element where the path crosses a list
    (`metadata.ownerReferences.uid`: every owner's uid; none for an empty list)."""
    nodes: list[Any] = [obj]
    for part in path.split("."):
        nodes = [item for n in nodes for item in (n if isinstance(n, list) else [n])]
        nodes = [n.get(part) if isinstance(n, Mapping) else None for n in nodes]
    return [_text(n) for n in nodes]


def _text(node: Any) -> str:
    if isinstance(node, bool):
        return str(node).lower()
    return "" if node is None else str(node)


def parse(text: str | None, allowed: Iterable[str]) -> tuple[FieldRequirement, ...]:
    """ValueError naming the part that is not `field=value`, `field==value` or `field!=value`,
    or a field the kind does not support."""
    known = {*COMMON, *allowed}
    out = []
    for part in (text or "").split(","):
        if not part.strip():
            continue
        field, equal, value = _split(part)
        field = field.strip()
        if field not in known:
            raise ValueError(f"field label not supported: {field} (this kind accepts {', '.join(sorted(known))})")
        out.append(FieldRequirement(field, value.strip(), equal))
    return tuple(out)


def _split(part: str) -> tuple[str, bool, str]:
    for op, equal in (("!=", False), ("==", True), ("=", True)):
        field, found, value = part.partition(op)
        if found:
            return field, equal, value
    raise ValueError(f'invalid field selector "{part}": use field=value or field!=value')


def matches(reqs: Iterable[FieldRequirement], obj: Mapping[str, Any]) -> bool:
    return all(r.matches(obj) for r in reqs)
