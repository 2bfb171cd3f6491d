"""A pod's log, live from its node or from the store: what the `pods/log` route and the dashboard answer.

As the Kubernetes `pods/log` subresource: a tail, a follow, a start time, timestamps, and the
previous run (the one before the latest of a container restarted in place). A gone container (or
an unreachable node) answers from the run history's stored tail.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import AsyncIterator, Callable

import structlog
from fastapi.responses import PlainTextResponse, Response, StreamingResponse

from miniorch import logtail, supervise
from miniorch.api.context import ApiContext
from miniorch.nodes import records as nr
from miniorch.nodes.client import NodeClient
from miniorch.store.records import PodRecord

log = structlog.get_logger(__name__)


async def answer(
    ctx: ApiContext,
    rec: PodRecord,
    tail: int | None,
    follow: bool,
    since: dt.datetime | None,
    timestamps: bool,
    previous: bool,
) -> Response:
    """A pod's log: streamed (`follow`) or whole, live from its node, else from the stored tail."""
    name = rec.name
    if previous and rec.restart_count < 1:
        raise ValueError(f'previous terminated container of pod "{name}" not found: it has not been restarted')
    monitor = ctx.monitor
    client = monitor.client(rec.node) if rec.node else None
    if client is not None and not rec.container_removed and monitor.reachable(rec.node or ""):
        if follow and not previous:
            return StreamingResponse(_follow(client, name, tail, timestamps, since), media_type="text/plain")
        try:
            return PlainTextResponse(await _live(client, rec, tail, since, timestamps, previous))
        except nr.NodeError:
            pass  # gone meanwhile, or the node stopped answering: the stored tail below
    return PlainTextResponse(_stored(rec, tail, since, timestamps, previous))


async def _live(
    client: NodeClient, rec: PodRecord, tail: int | None, since: dt.datetime | None, timestamps: bool, previous: bool
) -> str:
    if not previous:
        raw = await client.run(client.logs, rec.name, tail, timestamps, since)
        return raw.decode("utf-8", errors="replace")
    state = await client.run(client.inspect, rec.name)
    window = logtail.previous_run(rec.run_started_at, rec.previous_run_started_at, state.started_at)
    bounds = [d for d in (window.start, since) if d is not None]
    raw = await client.run(client.logs, rec.name, None, True, max(bounds, default=None), window.end)
    text = raw.decode("utf-8", errors="replace")
    return logtail.select(text, window=window, since=since, tail=tail, timestamps=timestamps)


def _stored(rec: PodRecord, tail: int | None, since: dt.datetime | None, timestamps: bool, previous: bool) -> str:
    """From the run history: every run, as Docker shows a container restarted in place, or only
    the run before the latest one (`previous`)."""
    if rec.log_timestamped:
        window = logtail.previous_run(rec.run_started_at, rec.previous_run_started_at, None) if previous else None
        return logtail.select(rec.log_tail, window=window, since=since, tail=tail, timestamps=timestamps)
    # Recorded by an older miniorch: plain text, no times to pick runs or lines by.
    if previous:
        raise ValueError(
            f'the stored log of pod "{rec.name}" has no timestamps (recorded by an older miniorch), so its runs '
            "cannot be told apart; drop --previous to see all of it"
        )
    if since is not None and (rec.finished_at is None or rec.finished_at < since):
        return ""
    return logtail.select(rec.log_tail, tail=tail, timestamps=True)  # nothing to strip


async def _follow(
    client: NodeClient, name: str, tail: int | None, timestamps: bool, since: dt.datetime | None
) -> AsyncIterator[bytes]:
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    closers: list[Callable[[], None]] = []  # ends the node's stream: the reader went away
    gone = threading.Event()

    def pump() -> None:
        try:
            for chunk in client.follow_logs(name, tail, timestamps, since, on_open=closers.append):
                loop.call_soon_threadsafe(queue.put_nowait, chunk)
        except nr.NodeError as exc:  # the node or the container went away: the stream ends
            if not gone.is_set():
                log.info("log_follow_ended", pod=name, error=exc.detail, cause=supervise.cause_of(exc))
        finally:
            if gone.is_set():
                log.info("log_follow_ended", pod=name, cause="the client went away")
            loop.call_soon_threadsafe(queue.put_nowait, None)

    # Scoped to this request: a crash of the follow is logged and ends this stream only.
    worker = asyncio.create_task(asyncio.to_thread(pump), name=f"logs:{name}")
    worker.add_done_callback(lambda task: supervise.log_failure(task, "log_follow_crashed", pod=name))
    try:
        while (chunk := await queue.get()) is not None:
            yield chunk
    finally:
        if not worker.done():  # the client disconnected: the thread must not read on for it
            gone.set()
            for close in closers:  # a socket shutdown, at once: an await here would be cancelled with us
                close()
        await asyncio.shield(worker) if worker.done() else None
