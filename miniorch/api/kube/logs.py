"""`GET /api/v1/namespaces/{ns}/pods/{name}/log`: the `pods/log` subresource, as kubectl logs asks it.

The Kubernetes parameters (`container`, `follow`, `tailLines`, `sinceSeconds`, `sinceTime`,
`timestamps`, `previous`, `limitBytes`) checked as the API server checks them, then answered by
`api.logsource` (live from the node, else the stored tail). Errors are `KubeError` and ValueError,
which the kube handlers turn into Status objects.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse, Response, StreamingResponse

from miniorch.api import logsource, render
from miniorch.api.context import Ctx
from miniorch.api.kube import status
from miniorch.clock import utcnow

router = APIRouter()


def parse_since_time(value: str) -> dt.datetime:
    """An RFC 3339 `sinceTime` (`2026-01-02T03:04:05Z`), as a UTC datetime; ValueError naming it."""
    try:
        parsed = dt.datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise ValueError(f'sinceTime "{value}" is not an RFC 3339 time, e.g. 2026-01-02T03:04:05Z') from None
    if parsed.tzinfo is None:
        raise ValueError(f'sinceTime "{value}" has no time zone; end it with Z for UTC')
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError:  # 9999-12-31T23:00:00-05:00 is in the year 10000
        raise ValueError(f'sinceTime "{value}" is out of range') from None


def since(since_seconds: int | None, since_time: str | None, now: dt.datetime) -> dt.datetime | None:
    """The first moment of log asked for, checked as the API server's PodLogOptions validation."""
    if since_seconds is not None and since_time is not None:
        raise ValueError("at most one of sinceTime or sinceSeconds may be specified")
    if since_seconds is not None:
        if since_seconds < 1:
            raise ValueError(f"sinceSeconds: Invalid value: {since_seconds}: must be greater than 0")
        try:
            return now - dt.timedelta(seconds=since_seconds)
        except OverflowError:  # more seconds than a datetime holds: the whole log
            return None
    return parse_since_time(since_time) if since_time is not None else None


def check_counts(tail_lines: int | None, limit_bytes: int | None) -> None:
    if tail_lines is not None and tail_lines < 0:
        raise ValueError(f"tailLines: Invalid value: {tail_lines}: must be greater than or equal to 0")
    if limit_bytes is not None and limit_bytes < 1:
        raise ValueError(f"limitBytes: Invalid value: {limit_bytes}: must be greater than 0")


async def _capped(chunks: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    left = limit
    async for chunk in chunks:
        yield chunk[:left]
        left -= len(chunk)
        if left <= 0:
            return


def limited(response: Response, limit: int | None) -> Response:
    """At most `limit` bytes of the log (`limitBytes`), whole or streamed."""
    if limit is None:
        return response
    if isinstance(response, StreamingResponse):
        response.body_iterator = _capped(response.body_iterator, limit)  # type: ignore[arg-type]
        return response
    return PlainTextResponse(bytes(response.body)[:limit])


@router.get("/api/v1/namespaces/{namespace}/pods/{name}/log", response_model=None)
async def pod_log(
    ctx: Ctx,
    namespace: str,
    name: str,
    container: str | None = None,
    follow: bool = False,
    tail_lines: Annotated[int | None, Query(alias="tailLines")] = None,
    since_seconds: Annotated[int | None, Query(alias="sinceSeconds")] = None,
    since_time: Annotated[str | None, Query(alias="sinceTime")] = None,
    timestamps: bool = False,
    previous: bool = False,
    limit_bytes: Annotated[int | None, Query(alias="limitBytes")] = None,
) -> Response:
    check_counts(tail_lines, limit_bytes)
    start = since(since_seconds, since_time, utcnow())
    rec = ctx.store.get_pod(namespace, name)
    if rec is None:
        raise status.not_found("pods", name)
    if container:
        served = render.pods(ctx.store, [rec])[0]
        names = [c.get("name") for c in served.get("status", {}).get("containerStatuses", [])]
        if container not in names:
            raise ValueError(f"container {container} is not valid for pod {name}")
    response = await logsource.answer(ctx, rec, tail_lines, follow, start, timestamps, previous)
    return limited(response, limit_bytes)
