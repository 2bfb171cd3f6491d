"""Kubernetes label selectors (`-l app=x,tier!=db,env in (a,b),!legacy`), pure.

`parse` raises `ValueError` with the offending part; `matches` tests a label map.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_SET = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQ = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|=|!=)\s*([A-Za-z0-9_.-]*)\s*$")
_EXISTS = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*$")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # = != in notin exists !exists
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.key)
        match self.op:
            case "=":
                return value == self.values[0]
            case "!=":
                return value != self.values[0]
            case "in":
                return value in self.values
            case "notin":
                return value not in self.values
            case "exists":
                return self.key in labels
        return self.key not in labels


def _split(text: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p for p in parts if p.strip()]


def parse(text: str | None) -> tuple[Requirement, ...]:
    if not text:
        return ()
    out = []
    for part in _split(text):
        if m := _SET.match(part):
            values = tuple(v.strip() for v in m.group(3).split(",") if v.strip())
            if not values:
                raise ValueError(f"invalid label selector {part.strip()!r}: values set can't be empty")
            out.append(Requirement(m.group(1), m.group(2), values))
        elif m := _EQ.match(part):
            out.append(Requirement(m.group(1), "!=" if m.group(2) == "!=" else "=", (m.group(3),)))
        elif m := _EXISTS.match(part):
            out.append(Requirement(m.group(2), "!exists" if m.group(1) else "exists"))
        else:
            raise ValueError(
                f"invalid label selector {part.strip()!r}; use key=value, key!=value, key in (a,b), key or !key"
            )
    return tuple(out)


def matches(requirements: tuple[Requirement, ...], labels: Mapping[str, str]) -> bool:
    return all(r.matches(labels) for r in requirements)
