"""`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`: a list as a `meta.k8s.io/v1` Table.

kubectl asks the server for its rows and prints them as they come: the columns are the kind's
registry `Columns` (the ones `ctl get` prints), the cells come from the same row printers in
`miniorch.cli.output`, so `ctl get` and `kubectl get` print one table. Columns only in `-o wide`
have priority 1 (kubectl shows them with `-o wide`). Each row carries the object's metadata as a
PartialObjectMetadata (or the whole object with `includeObject=Object`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from miniorch import kinds
from miniorch.cli import output

__all__ = ["KeptRow", "as_table", "kept_row", "kept_table", "plain_columns", "wants_table"]

_NAME_DOC = (
    "Name must be unique within a namespace. Is required when creating resources, although some resources may "
    "allow a client to request the generation of an appropriate name automatically."
)
_AGE_DOC = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. "
    "It is represented in RFC3339 form and is in UTC."
)
#: Column descriptions, in Kubernetes' printers' words where they have one.
DESCRIPTIONS = {
    "NAME": _NAME_DOC,
    "AGE": _AGE_DOC,
    "STATUS": "The status of the object.",
    "COMPLETIONS": "The number of pods that succeeded, of those the Job needs.",
    "DURATION": "Time the Job took to finish (or has run so far).",
    "CONTAINERS": "Names of each container in the template.",
    "IMAGES": "Images referenced by each container in the template.",
    "SELECTOR": "A label query over pods that should match the pod count.",
    "READY": "The aggregate readiness state of this pod for accepting traffic.",
    "RESTARTS": "The number of times the containers in this pod have been restarted.",
    "NODE": "NodeName is the node the pod was scheduled onto.",
    "EXIT CODE": "The exit code of the pod's container, once it has terminated.",
    "SCHEDULE": "The schedule in Cron format.",
    "TIMEZONE": "The time zone name for the given schedule.",
    "SUSPEND": "Whether the controller suspends subsequent executions.",
    "ACTIVE": "The number of pointers to currently running jobs.",
    "LAST SCHEDULE": "Information when was the last time the job was successfully scheduled.",
    "NEXT": "When the schedule fires next.",
    "DESIRED": "The total number of nodes that should be running the daemon pod.",
    "CURRENT": "The number of nodes that are running at least one daemon pod and are supposed to.",
    "UP-TO-DATE": "The total number of nodes that are running an updated daemon pod.",
    "AVAILABLE": "The number of nodes that should be running the daemon pod and have one or more available.",
    "NODE SELECTOR": "NodeSelector is a selector which must be true for the pod to fit on a node.",
    "VERSION": "The Docker Engine version of the node.",
    "CPU": "The node's CPUs.",
    "MEMORY": "The node's memory.",
    "LABELS": "The node's labels.",
    "URL": "The Docker URL the daemon reaches the node by.",
    "TRANSPORT": "How the daemon reaches the node: unix, tls, ssh or tcp-insecure.",
    "RTT": "The round trip time of the last call to the node.",
    "LAST ERROR": "The node's last error, and how long ago it happened.",
    "LAST SEEN": "The time at which the most recent occurrence of this event was recorded.",
    "TYPE": "Type of this event (Normal, Warning).",
    "REASON": "A short, machine understandable string that gives the reason for the event.",
    "OBJECT": "The object that this event is about.",
    "MESSAGE": "A human-readable description of the status of this operation.",
    "DATA": "The number of keys in the object's data.",
}
#: Columns whose cells are counts: integers in the Table when every cell is one.
_COUNTS = frozenset({"DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "ACTIVE", "DATA", "RESTARTS"})
_WORDS = {"CPU": "CPU", "URL": "URL", "RTT": "RTT", "IP": "IP"}


def wants_table(accept: str) -> bool:
    """Does an Accept header ask for a `meta.k8s.io/v1` Table (as kubectl get does)?"""
    for media in (accept or "").split(","):
        _, *params = (p.strip() for p in media.split(";"))
        values = dict(p.partition("=")[::2] for p in params)
        table = values.get("as") == "Table" and values.get("g", "meta.k8s.io") == "meta.k8s.io"
        if table and values.get("v", "v1") == "v1":
            return True
    return False


def column_name(header: str) -> str:
    """kubectl upper-cases column names; the Table carries them as Kubernetes names them (`Up-to-date`)."""
    if header == "UP-TO-DATE":
        return "Up-to-date"
    return " ".join(_WORDS.get(word, word.capitalize()) for word in header.split(" "))


def _columns(info: kinds.KindInfo) -> tuple[list[str], list[str]]:
    """Every header of the Table in `-o wide` order, and the ones kubectl shows without `-o wide`."""
    normal = list(info.columns.headers)
    return (list(info.columns.wide) if info.columns.wide else normal), normal


def plain_columns(kind: str) -> list[int]:
    """Where the plain columns (what `get` prints) are among a row's cells (every header, `-o wide` order)."""
    every, normal = _columns(kinds.get(kind))
    return [every.index(h) for h in normal]


RowMaker = Callable[[dict[str, Any], bool], list[Any]]  # (object, wide) -> cells


def _cells_of(info: kinds.KindInfo, headers: list[str], row: RowMaker) -> Callable[[dict[str, Any]], list[Any]]:
    """One row's maker: the plain printer's cells for its columns, the wide printer's for the others
    (where each header's cell comes from is worked out once per table, not per row)."""
    plain = {h: i for i, h in enumerate(info.columns.headers)}
    wide = {h: i for i, h in enumerate(info.columns.wide or ())}
    picks = [(False, plain[h]) if h in plain else (True, wide[h]) if h in wide else (None, 0) for h in headers]
    if any(source is True for source, _ in picks):

        def both(obj: dict[str, Any]) -> list[Any]:
            cells = (row(obj, False), row(obj, True))
            return [cells[source][i] if source is not None else "" for source, i in picks]

        return both
    order = [i for _, i in picks]

    def plain_only(obj: dict[str, Any]) -> list[Any]:
        cells = row(obj, False)
        return [cells[i] for i in order]

    return plain_only


def _row_object(kind: str, info: kinds.KindInfo, obj: dict[str, Any], include: str) -> dict[str, Any] | None:
    if include == "None":
        return None
    if include == "Object":
        return {"apiVersion": info.api_version, "kind": kind, **obj}
    return partial_metadata(obj.get("metadata", {}))


def partial_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": metadata}


@dataclass(frozen=True, slots=True)
class KeptRow:
    """A row by its object alone (`Columns.cells`: times as `output.Since`), with the object's metadata:
    what the API keeps of a Job or pod per resourceVersion to answer Tables without the object."""

    cells: list[output.Cell]
    metadata: dict[str, Any]
    times: tuple[int, ...]  # where the `Since` cells are

    def at(self, at: float) -> list[Any]:
        """The cells at POSIX time `at` (a new list)."""
        cells: list[Any] = self.cells.copy()
        for i in self.times:
            cells[i] = output.since_text(cells[i], at)
        return cells


def kept_row(kind: str) -> Callable[[dict[str, Any]], KeptRow]:
    """The maker of `KeptRow`s of `kind`'s served objects (a kind with `Columns.cells`)."""
    info = kinds.get(kind)
    assert info.columns.cells, f"{kind} has no cells printer"
    cells_of = _cells_of(info, _columns(info)[0], kinds.load(info.columns.cells))

    def make(obj: dict[str, Any]) -> KeptRow:
        cells = cells_of(obj)
        times = tuple(i for i, c in enumerate(cells) if type(c) is output.Since)
        return KeptRow(cells, obj.get("metadata", {}), times)

    return make


def as_table(
    kind: str,
    objects: list[dict[str, Any]],
    now: dt.datetime,
    *,
    include: str = "Metadata",
    list_meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`objects` of `kind` (served shape) as the Table kubectl prints; `include` is `includeObject`
    (None, Metadata or Object), `list_meta` the list's metadata (resourceVersion, continue)."""
    info = kinds.get(kind)
    headers, _ = _columns(info)
    printer = kinds.load(info.columns.row)
    cells_of = _cells_of(info, headers, lambda obj, wide: printer(obj, now, wide))
    rows = [cells_of(obj) for obj in objects]
    return _table(info, rows, [_row_object(kind, info, obj, include) for obj in objects], list_meta)


def kept_table(
    kind: str, kept: list[KeptRow], now: dt.datetime, *, include: str, list_meta: dict[str, Any] | None = None
) -> dict[str, Any]:
    """`as_table` from kept rows (their times read at `now`); `include` None or Metadata."""
    assert include in ("None", "Metadata"), include
    at = now.timestamp()
    rows = [r.at(at) for r in kept]
    objects: list[dict[str, Any] | None] = [None if include == "None" else partial_metadata(r.metadata) for r in kept]
    return _table(kinds.get(kind), rows, objects, list_meta)


def _table(
    info: kinds.KindInfo,
    rows: list[list[Any]],
    objects: list[dict[str, Any] | None],
    list_meta: dict[str, Any] | None,
) -> dict[str, Any]:
    headers, normal = _columns(info)
    types = [
        "integer" if h in _COUNTS and all(str(r[i]).isdigit() for r in rows) else "string"
        for i, h in enumerate(headers)
    ]
    integers = [i for i, t in enumerate(types) if t == "integer"]
    columns = [
        {
            "name": column_name(h),
            "type": t,
            "format": "name" if h == "NAME" else "",
            "description": DESCRIPTIONS.get(h, ""),
            "priority": 0 if h in normal else 1,
        }
        for h, t in zip(headers, types, strict=True)
    ]
    table_rows = []
    for row_object, cells in zip(objects, rows, strict=True):
        for i in integers:
            cells[i] = int(cells[i])
        entry: dict[str, Any] = {"cells": cells}
        if row_object is not None:
            entry["object"] = row_object
        table_rows.append(entry)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": dict(list_meta or {"resourceVersion": ""}),
        "columnDefinitions": columns,
        "rows": table_rows,
    }
