"""One object's page, for any stored kind: its `ctl get -o wide` columns as fields, labels,
annotations, conditions, data keys (never values: a Secret's page shows what `ctl get` shows),
its pods, the objects it made (a CronJob's Jobs, with their timeline) and its recent events."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from miniorch import kinds
from miniorch.api import render
from miniorch.api.context import ApiContext
from miniorch.cli import output
from miniorch.controllers.objects import NotFound
from miniorch.ui import timeline, views
from miniorch.ui.views import Cell, Table

DATA_FIELDS = ("data", "stringData", "binaryData")
EVENTS_SHOWN = 20
CHILDREN_SHOWN = 50


@dataclass(frozen=True)
class Detail:
    kind: str
    plural: str
    namespace: str
    name: str
    fields: list[tuple[str, Cell]]
    labels: list[tuple[str, str]]
    annotations: list[tuple[str, str]]
    conditions: Table | None
    data_keys: list[str]
    pods: Table | None
    children: Table | None
    bars: list[timeline.Bar]
    events: Table | None


def _fields(kind: str, served: dict[str, Any], now: dt.datetime) -> list[tuple[str, Cell]]:
    columns = kinds.get(kind).columns
    headers = columns.wide or columns.headers
    cells = kinds.load(columns.row)(served, now, bool(columns.wide))
    out = [
        (h, Cell(str(c), cls=views.status_class(str(c)) if h == "STATUS" else ""))
        for h, c in zip(headers, cells, strict=True)
        if h != "NAME"
    ]
    summary = kinds.get(kind).summary
    if summary is not None and "STATUS" not in headers:
        word = summary(served)
        out.insert(0, ("STATUS", Cell(word, cls=views.status_class(word))))
    return out


def _cronjob_fields(served: dict[str, Any], now: dt.datetime) -> list[tuple[str, Cell]]:
    """The exact times behind LAST SCHEDULE and NEXT."""
    status = served.get("status") or {}
    nxt = output.next_schedule(served, now)
    return [
        ("LAST SCHEDULE TIME", Cell(status.get("lastScheduleTime") or "<none>")),
        ("LAST SUCCESSFUL TIME", Cell(status.get("lastSuccessfulTime") or "<none>")),
        ("NEXT SCHEDULE TIME", Cell(output.ts(nxt) if nxt else "<none>")),
    ]


def _conditions(served: dict[str, Any]) -> Table | None:
    conds = (served.get("status") or {}).get("conditions") or []
    if not conds:
        return None
    rows = [
        [
            Cell(str(c.get("type", ""))),
            Cell(str(c.get("status", ""))),
            Cell(str(c.get("reason", ""))),
            Cell(str(c.get("message", ""))),
            Cell(str(c.get("lastTransitionTime", ""))),
        ]
        for c in conds
    ]
    return Table(("TYPE", "STATUS", "REASON", "MESSAGE", "LAST TRANSITION"), rows, total=len(rows))


def _children(ctx: ApiContext, uid: str, now: dt.datetime) -> tuple[list[dict[str, Any]], Table | None]:
    """The objects this one made (a CronJob's Jobs), newest first, in their kind's columns."""
    owned: list[Any] = []
    for child_kind in kinds.WORKLOADS:  # in SQL, newest first: a CronJob may own 1,000s of Jobs
        owned += ctx.store.newest_objects(child_kind, owner_uid=uid, limit=CHILDREN_SHOWN)[1]
    if not owned:
        return [], None
    served = [render.obj(o) for o in owned]
    child_kind = owned[0].kind
    info = kinds.get(child_kind)
    printer = kinds.load(info.columns.row)
    headers = ["KIND", *info.columns.headers]
    rows = []
    for o, item in zip(owned, served, strict=True):
        cells = [Cell(str(c)) for c in printer(item, now, False)]
        if "STATUS" in info.columns.headers:
            at = info.columns.headers.index("STATUS")
            cells[at] = Cell(cells[at].text, cls=views.status_class(cells[at].text))
        cells[0] = Cell(cells[0].text, href=views.object_href(o.kind, o.namespace, o.name))
        rows.append([Cell(o.kind), *cells])
    return served, Table(headers, rows, total=len(owned))


def _events(ctx: ApiContext, uid: str, now: dt.datetime) -> Table | None:
    events = ctx.store.list_events(uid=uid)[-EVENTS_SHOWN:]
    if not events:
        return None
    rows = [
        [
            Cell(output.age(render.ts(e.last_timestamp), now) + (f" (x{e.count})" if e.count > 1 else "")),
            Cell(e.type, cls="failed" if e.type == "Warning" else ""),
            Cell(e.reason),
            Cell(e.message),
        ]
        for e in reversed(events)
    ]
    return Table(("LAST SEEN", "TYPE", "REASON", "MESSAGE"), rows, total=len(rows))


def detail(ctx: ApiContext, kind: str, namespace: str, name: str, now: dt.datetime) -> Detail:
    info = kinds.get(kind)
    rec = ctx.store.get_object(kind, namespace, name)
    if rec is None:
        raise NotFound(f'{info.group} "{name}" not found in namespace "{namespace}"')
    served = render.obj(rec)
    meta = served["metadata"]
    fields = _fields(kind, served, now)
    if kind == kinds.Kind.CRONJOB:
        fields += _cronjob_fields(served, now)
    pods = views.pods_of(ctx, rec.uid)
    children, child_table = _children(ctx, rec.uid, now)
    job_children = [c for c in children if c.get("kind") == kinds.Kind.JOB]
    prefix = f"/ui/k/{kinds.PLURAL[kinds.Kind.JOB]}/{namespace}/"
    return Detail(
        kind=kind,
        plural=info.plural,
        namespace=namespace,
        name=name,
        fields=fields,
        labels=sorted((meta.get("labels") or {}).items()),
        annotations=sorted((meta.get("annotations") or {}).items()),
        conditions=_conditions(served),
        data_keys=sorted({k for f in DATA_FIELDS for k in (rec.manifest.get(f) or {})}),
        pods=views.pod_table(pods, now) if pods or info.owns_pods else None,
        children=child_table,
        bars=timeline.bars(timeline.runs_of(job_children), now, prefix) if job_children else [],
        events=_events(ctx, rec.uid, now),
    )
