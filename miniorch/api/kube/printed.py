"""`Accept: text/plain;as=Table`: a list as the text `ctl get` prints it, made where its rows are.

miniorch's own media type, for ctl: the rows are the Table's plain columns (kept rows for Jobs and
pods, the kind's printer for the others), printed by `output.render` as `kubectl get` prints them.
ctl then writes the bytes it gets: 10,000 pods cost it no JSON decode and no table of its own.
The query's `showNamespace`, `showLabels`, `showKind` and `noHeaders` (true or false) are
`ctl get`'s -A, --show-labels, --show-kind and --no-headers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from miniorch import kinds
from miniorch.api.kube import table
from miniorch.api.kube.status import KubeError
from miniorch.api.kube.table import KeptRow
from miniorch.cli import output

__all__ = ["MEDIA_TYPE", "Printing", "kept_text", "text", "wanted"]

MEDIA_TYPE = "text/plain"
_FLAGS = {"showNamespace": "show_namespace", "showLabels": "show_labels", "showKind": "with_kind"}


@dataclass(frozen=True, slots=True)
class Printing:
    """How a list is printed: `ctl get`'s flags for its default table."""

    show_namespace: bool = False
    show_labels: bool = False
    with_kind: bool = False
    no_headers: bool = False


def wanted(accept: str, query: Mapping[str, str]) -> Printing | None:
    """The printing a request asks for (`Accept: text/plain;as=Table` first), else None."""
    first = (accept or "").split(",", 1)[0]
    media, *params = (p.strip() for p in first.split(";"))
    if media != MEDIA_TYPE or "as=Table" not in params:
        return None
    flags = {field: _flag(query, name) for name, field in _FLAGS.items()}
    return Printing(no_headers=_flag(query, "noHeaders"), **flags)


def _flag(query: Mapping[str, str], name: str) -> bool:
    value = query.get(name, "false").lower()
    if value not in ("true", "false"):
        raise KubeError(400, f'{name} must be true or false, not "{value}"')
    return value == "true"


def text(kind: str, items: list[dict[str, Any]], now: dt.datetime, printing: Printing) -> str:
    """Served objects of `kind` as `ctl get` prints them."""
    return _render(kind, items, now, printing, None)


def kept_text(kind: str, kept: list[KeptRow], now: dt.datetime, printing: Printing) -> str:
    """Kept rows of `kind` (`rows.listed_rows`) as `ctl get` prints them, made column by column."""
    if not kept:
        return ""
    at = now.timestamp()
    every = list(zip(*(r.cells for r in kept), strict=True))
    times = set().union(*(r.times for r in kept))  # the columns with `Since` cells (AGE, DURATION)
    since_text, since = output.since_text, output.Since
    columns: list[Sequence[str]] = [
        [since_text(c, at) if type(c) is since else c for c in every[i]] if i in times else every[i]
        for i in table.plain_columns(kind)
    ]
    return _render(kind, [{"metadata": r.metadata} for r in kept], now, printing, columns)


def _render(
    kind: str, items: list[dict[str, Any]], now: dt.datetime, printing: Printing, columns: list[Sequence[str]] | None
) -> str:
    printed = output.render(
        kind,
        items,
        None,
        now,
        show_namespace=printing.show_namespace and kinds.get(kind).namespaced,
        show_labels=printing.show_labels,
        with_kind=printing.with_kind,
        no_headers=printing.no_headers,
        cells=columns,
    )
    return printed + "\n" if printed else ""
