"""A kubectl-compatible subset of JSONPath templates, pure.

Supports `{.a.b}`, `{.items[0]}`, `{.items[*].metadata.name}`, `{.labels['k.io/x']}`,
escaped dots (`{.labels.kubernetes\\.io/hostname}`), literal text, `{"\\n"}`, and
`{range .items[*]}...{end}`.
"""

from __future__ import annotations

import json
import re
from typing import Any

_TOKEN = re.compile(r"\{((?:[^{}\"']|\"[^\"]*\"|'[^']*')*)\}")


def _segments(expr: str) -> list[str | int | None]:
    """Path segments; None stands for [*]."""
    expr = expr.strip()
    if expr in ("", "."):
        return []
    if expr.startswith("$"):
        expr = expr[1:]
    out: list[str | int | None] = []
    i = 0
    while i < len(expr):
        ch = expr[i]
        if ch == ".":
            j, name = i + 1, ""
            while j < len(expr) and expr[j] not in ".[":
                if expr[j] == "\\" and j + 1 < len(expr):
                    name += expr[j + 1]
                    j += 2
                    continue
                name += expr[j]
                j += 1
            if name:
                out.append(name)
            i = j
        elif ch == "[":
            j = expr.index("]", i)
            inner = expr[i + 1 : j].strip()
            if inner == "*":
                out.append(None)
            elif inner[:1] in "'\"":
                out.append(inner[1:-1])
            else:
                out.append(int(inner))
            i = j + 1
        else:
            raise ValueError(f"unexpected {ch!r} in JSONPath {expr!r}")
    return out


def _select(data: Any, segs: list[str | int | None]) -> list[Any]:
    values = [data]
    for seg in segs:
        nxt: list[Any] = []
        for v in values:
            if seg is None:
                if isinstance(v, list):
                    nxt.extend(v)
                elif isinstance(v, dict):
                    nxt.extend(v.values())
            elif isinstance(seg, int):
                if isinstance(v, list) and -len(v) <= seg < len(v):
                    nxt.append(v[seg])
            elif isinstance(v, dict) and seg in v:
                nxt.append(v[seg])
        values = nxt
    return values


def _fmt(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)  # as Go's json.Marshal
    return "" if value is None else str(value)


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'"}


def _unescape(text: str) -> str:
    out, i = "", 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in _ESCAPES:
            out += _ESCAPES[text[i + 1]]
            i += 2
        else:
            out += text[i]
            i += 1
    return out


def render(template: str, data: Any) -> str:
    parts = _parse(template)
    return _run(parts, data)


def _parse(template: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    for m in _TOKEN.finditer(template):
        if m.start() > pos:
            out.append(("text", template[pos : m.start()]))
        out.append(("expr", m.group(1).strip()))
        pos = m.end()
    if pos < len(template):
        out.append(("text", template[pos:]))
    return out


def _run(parts: list[tuple[str, str]], data: Any) -> str:
    out = ""
    i = 0
    while i < len(parts):
        kind, text = parts[i]
        if kind == "text":
            out += text
        elif text.startswith("range "):
            depth, j = 1, i + 1
            while j < len(parts) and depth:
                if parts[j][0] == "expr" and parts[j][1].startswith("range "):
                    depth += 1
                elif parts[j] == ("expr", "end"):
                    depth -= 1
                j += 1
            body = parts[i + 1 : j - 1]
            for item in _select(data, _segments(text[6:])):
                out += _run(body, item)
            i = j
            continue
        elif text[:1] in "'\"":
            out += _unescape(text[1:-1])
        else:
            out += " ".join(_fmt(v) for v in _select(data, _segments(text)))
        i += 1
    return out
