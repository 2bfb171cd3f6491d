"""Strings that are not Unicode: JSON's and YAML's `\\ud800` escapes decode to lone UTF-16 surrogates,
which no UTF-8 answer, log line or database row can hold; `not_unicode` finds the first one, pure.
"""

from __future__ import annotations

from typing import Any


def not_unicode(value: Any) -> str | None:
    """The path (`metadata.annotations.a`, `spec.x[2]`) of the first key or string in `value` holding
    a lone surrogate, else None; a bad key is shown with its surrogate escaped."""
    todo: list[tuple[Any, str]] = [(value, "")]
    while todo:
        node, path = todo.pop()
        if isinstance(node, str):
            if _surrogate(node):
                return path or "the top level"
        elif isinstance(node, dict):
            for key, child in node.items():
                inner = f"{path}.{key}" if path else str(key)
                if _surrogate(str(key)):
                    return inner.encode("utf-8", "backslashreplace").decode()
                todo.append((child, inner))
        elif isinstance(node, list):
            todo.extend((child, f"{path}[{i}]") for i, child in enumerate(node))
    return None


def _surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
