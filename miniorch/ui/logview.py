"""A pod's page: its state, and its log (the last lines from the server, then followed live by
static/follow.js). Both are answered as the API's `pods/log` route answers (`api.logsource`): live from the
node while the container exists, else the run history's stored tail.

The follow picks up exactly where the page ended: the page remembers the Docker timestamp of its
last line, the follow asks Docker for lines since a second before it and drops those not after it,
so no line is lost between the page and the follow, and none shown twice.
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
from collections.abc import AsyncIterable, AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response, StreamingResponse

from miniorch import logtail
from miniorch.api import logsource, render
from miniorch.api.context import Ctx
from miniorch.clock import utcnow
from miniorch.controllers.objects import NotFound
from miniorch.ui import html, views

router = APIRouter()

DEFAULT_LINES = 200
MAX_LINES = 5000
_STAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z ")


def stamp_key(line: str) -> tuple[str, int] | None:
    """A line's Docker timestamp as a sortable key, nanoseconds kept (Docker trims trailing zeros)."""
    found = _STAMP.match(line)
    if found is None:
        return None
    return found.group(1), int((found.group(2) or "0")[:9].ljust(9, "0"))


def split_log(text: str) -> tuple[str, str]:
    """(the text without timestamps, the timestamp of its last stamped line or "")."""
    last = ""
    out = []
    for line in logtail.lines_of(text):
        found = _STAMP.match(line)
        if found:
            last = line[: found.end() - 1]
        out.append(logtail.strip_stamp(line))
    return "".join(out), last


def after(lines: list[str], mark: tuple[str, int] | None, unstamped: bool = True) -> list[str]:
    """The lines stamped after `mark` (and, with `unstamped`, those without a stamp), unstamped."""
    out = []
    for line in lines:
        key = stamp_key(line)
        if (key is None and unstamped) or (key is not None and (mark is None or key > mark)):
            out.append(logtail.strip_stamp(line))
    return out


@router.get("/pods/{namespace}/{name}")
async def pod_page(request: Request, ctx: Ctx, namespace: str, name: str, tail: int = DEFAULT_LINES) -> HTMLResponse:
    rec = ctx.store.get_pod(namespace, name)
    if rec is None:
        raise NotFound(f'pod "{name}" not found in namespace "{namespace}"')
    now = utcnow()
    served = render.pods(ctx.store, [rec])[0]
    tail = min(max(1, tail), MAX_LINES)
    response = await logsource.answer(ctx, rec, tail, False, None, True, False)
    text, last = split_log(bytes(response.body).decode("utf-8", errors="replace"))
    if text and not text.endswith("\n"):
        text += "\n"  # what the follow appends starts a line of its own
    query = urllib.parse.urlencode({"after": last} if last else {})
    follow = f"/ui/pods/{namespace}/{name}/log/follow" + (f"?{query}" if query else "")
    owner_href = views.object_href(rec.owner_kind, rec.namespace, rec.owner_name)
    return html.page(
        request,
        "pod.html",
        title=f"Pod {name}",
        pod=served,
        rec=rec,
        owner_href=owner_href,
        cells=views.pod_table([served], now).rows[0],
        headers=views.POD_HEADERS,
        log=text,
        tail=tail,
        follow=follow if not rec.phase.terminal else "",
    )


@router.get("/pods/{namespace}/{name}/log/follow", response_model=None)
async def follow_log(
    ctx: Ctx, namespace: str, name: str, after_: Annotated[str, Query(alias="after")] = ""
) -> Response:
    """The log from just after the line stamped `after` on, live (plain text, no timestamps)."""
    mark = stamp_key(after_ + " ") if after_ else None
    rec = ctx.store.get_pod(namespace, name)
    if rec is None:
        raise NotFound(f'pod "{name}" not found in namespace "{namespace}"')
    since = None
    if mark is not None:
        then = dt.datetime.fromisoformat(mark[0] + "+00:00")
        since = min(then, utcnow()) - dt.timedelta(seconds=1)  # Docker's `since` is whole seconds
    response = await logsource.answer(ctx, rec, None, True, since, True, False)
    if isinstance(response, StreamingResponse):
        return StreamingResponse(_filtered(response.body_iterator, mark), media_type="text/plain; charset=utf-8")
    # No live stream (the container is gone, or its node unreachable): the stored tail, which the
    # page showed already but for lines stamped after its last (a tail with no stamps: nothing new).
    text = bytes(response.body).decode("utf-8", errors="replace")
    return PlainTextResponse("".join(after(logtail.lines_of(text), mark, unstamped=False)))


async def _filtered(
    chunks: AsyncIterable[str | bytes | memoryview], mark: tuple[str, int] | None
) -> AsyncIterator[bytes]:
    """Whole lines only (a stamp is read at a line's start), those after `mark`, unstamped."""
    pending = b""
    async for chunk in chunks:
        pending += chunk.encode() if isinstance(chunk, str) else bytes(chunk)
        complete, _, pending = pending.rpartition(b"\n")
        if complete:
            lines = logtail.lines_of(complete.decode("utf-8", errors="replace") + "\n")
            kept = after(lines, mark)
            if kept:
                yield "".join(kept).encode()
    if pending:
        yield "".join(after([pending.decode("utf-8", errors="replace")], mark)).encode()
