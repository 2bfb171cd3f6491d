"""The notifier: one supervised loop that collects new facts and POSTs the due deliveries.

Every `POLL_SECONDS` (while this daemon leads) it runs a collector pass off the event loop
when anything was written since the last one, then starts an HTTP task per due delivery,
bounded overall and per receiver, each with the receiver's timeout: a hanging receiver holds
its own slots only, and no controller ever waits for one. Each attempt's outcome (`retry.decide`) is committed before the next.
Logs name the receiver and its host, never its URL's path or query (they often hold a token).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence

import httpx
import structlog

from miniorch.alerts import collector as collector_mod
from miniorch.alerts import facts, formats, retry
from miniorch.alerts.receivers import Receiver, display_url
from miniorch.controllers.nodes import NodeMonitor
from miniorch.controllers.storeio import store_io
from miniorch.nodes import records as nr
from miniorch.store import notifications as nq
from miniorch.store.errors import StoreUnavailable
from miniorch.store.store import Store

log = structlog.get_logger(__name__)

POLL_SECONDS = 0.25
MAX_IN_FLIGHT = 16  # POSTs at once, over every receiver
PER_RECEIVER = 4  # POSTs at once to one receiver: a hanging one holds no more than this
DUE_EVERY = dt.timedelta(seconds=1)  # retries are looked for this often; new facts at once
PRUNE_EVERY = dt.timedelta(hours=1)
KEEP_SETTLED = dt.timedelta(days=7)
LOG_READ_SECONDS = 3.0  # a crash-looping pod's log, read from its node: never longer than this

#: (node, pod name) -> the container's last log lines ("" when the node cannot say).
LogReader = Callable[[str, str], Awaitable[str]]


def node_log_reader(monitor: NodeMonitor) -> LogReader:
    """Reads a container's last lines through the node layer (its bounded calls and timeouts)."""

    async def read(node: str, pod: str) -> str:
        client = monitor.client(node)
        if client is None:
            return ""
        try:
            raw = await client.run(client.logs, pod, facts.LOG_LINES)
        except nr.NodeError as exc:
            log.info("notification_log_unread", node=node, pod=pod, error=str(exc))
            return ""
        return raw.decode("utf-8", errors="replace")

    return read


def _scrub(text: str, url: str) -> str:
    """An error's words without the receiver's URL (httpx may quote it)."""
    return text.replace(url, display_url(url)) if url else text


class Notifier:
    """Collects facts and delivers them; `run()` is the daemon's supervised task."""

    def __init__(
        self,
        store: Store,
        receivers: Sequence[Receiver],
        now: Callable[[], dt.datetime],
        acting: Callable[[], bool] = lambda: True,
        poll: float = POLL_SECONDS,
        transport: httpx.AsyncBaseTransport | None = None,
        logs: LogReader | None = None,
    ) -> None:
        self._store = store
        self._logs = logs
        self._receivers: dict[str, Receiver] = {}
        self._now = now
        self._acting = acting
        self._poll = poll
        self._transport = transport
        self._collector = collector_mod.Collector(store, lambda: list(self._receivers.values()), now)
        self._tasks: dict[str, tuple[str, asyncio.Task[None]]] = {}  # delivery id -> (receiver, task)
        self._delivered: set[str] = set()  # 2xx seen, not yet committed: never POSTed again
        self._failures: list[BaseException] = []
        self._pruned_at: dt.datetime | None = None
        self._due_at: dt.datetime | None = None  # when to look for due retries next (None: now)
        self._freed = False  # a POST ended since the last look: its slot can take the next one
        self.set_receivers(receivers)
        # httpx logs each request's full URL at info: a receiver's URL often holds its token.
        logging.getLogger("httpx").setLevel(logging.WARNING)

    def set_receivers(self, receivers: Sequence[Receiver]) -> None:
        """The `notify:` list, at start and after a reload; new facts go to these receivers (pending
        deliveries of a receiver that left the list are failed at the next tick)."""
        self._receivers = {r.name: r for r in receivers}
        self._pruned_at = None

    async def run(self) -> None:
        async with httpx.AsyncClient(transport=self._transport, follow_redirects=False) as client:
            try:
                while True:
                    if self._failures:
                        raise self._failures[0]
                    if self._acting():
                        await self.tick(client)
                    await asyncio.sleep(self._poll)
            finally:
                await self._cancel()

    async def tick(self, client: httpx.AsyncClient) -> None:
        """One collector pass, then start the due deliveries (not waiting for their answers)."""
        try:
            queued = 0
            if not await store_io(self._collector.unchanged):  # an idle daemon: one read a tick
                crashing = await store_io(self._collector.restarting)
                logs = await self._read_logs(crashing)
                queued = await store_io(self._collector.collect, crashing, logs)
            now = self._now()
            if not (queued or self._freed) and self._due_at is not None and now < self._due_at:
                return
            self._due_at, self._freed = now + DUE_EVERY, False
            due = await store_io(self._due, self._rooms(), list(self._tasks))
            await self._maybe_prune()
        except StoreUnavailable as exc:
            log.warning("notifications_deferred", error=str(exc))
            return
        for delivery, fact in due:
            receiver = self._receivers.get(delivery.receiver)
            if receiver is None or delivery.id in self._tasks:
                continue  # removed by a reload meanwhile: failed at the next prune
            task = asyncio.create_task(self._deliver(client, receiver, delivery, fact), name=f"notify:{delivery.id}")
            task.add_done_callback(self._ended)
            self._tasks[delivery.id] = (receiver.name, task)

    def _rooms(self) -> dict[str, int]:
        """Free POST slots per receiver: at most PER_RECEIVER each, MAX_IN_FLIGHT in all."""
        free, rooms = MAX_IN_FLIGHT - len(self._tasks), {}
        for name in sorted(self._receivers):
            room = min(free, PER_RECEIVER - sum(1 for r, _ in self._tasks.values() if r == name))
            if room > 0:
                rooms[name], free = room, free - room
        return rooms

    def _due(self, rooms: dict[str, int], in_flight: list[str]) -> list[tuple[nq.DeliveryRecord, nq.FactRecord]]:
        """Due deliveries, read per receiver: a backlog of one never hides another's."""
        now = self._now()
        return [
            row for name, room in rooms.items() for row in self._store.notifications.due(now, room, in_flight, name)
        ]

    async def _read_logs(self, pods: Sequence[facts.RestartingPod]) -> dict[str, str]:
        """The last lines of each crash-looping pod's container, read at once, within LOG_READ_SECONDS."""
        reader = self._logs
        if reader is None or not pods:
            return {}

        async def one(pod: facts.RestartingPod) -> tuple[str, str]:
            try:
                async with asyncio.timeout(LOG_READ_SECONDS):
                    return pod.uid, await reader(pod.node or "", pod.name)
            except TimeoutError:
                return pod.uid, ""

        return dict(await asyncio.gather(*(one(p) for p in pods[:MAX_IN_FLIGHT])))

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._freed = True
        self._tasks = {k: v for k, v in self._tasks.items() if v[1] is not task}
        if not task.cancelled() and task.exception() is not None:
            self._failures.append(task.exception())  # type: ignore[arg-type]  # surfaces through run()

    async def _cancel(self) -> None:
        tasks = [t for _, t in self._tasks.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _deliver(
        self, client: httpx.AsyncClient, receiver: Receiver, delivery: nq.DeliveryRecord, rec: nq.FactRecord
    ) -> None:
        if delivery.id in self._delivered:
            await self._settle(dataclasses.replace(delivery, state=nq.DELIVERED, delivered_at=self._now()))
            return
        fact = collector_mod.fact_of(rec)
        body = formats.body(receiver.format, fact, delivery.id)
        status, error, retry_after = await self._post(client, receiver, body)
        now = self._now()
        attempts = delivery.attempts + 1
        outcome = retry.decide(status, error, attempts, delivery.created_at, now, retry_after)
        fields = {"receiver": receiver.name, "host": receiver.where, "id": delivery.id, "fact": rec.type}
        match outcome:
            case retry.Delivered():
                self._delivered.add(delivery.id)
                done = dataclasses.replace(
                    delivery, state=nq.DELIVERED, attempts=attempts, delivered_at=now, last_error=""
                )
                log.info(
                    "notification_delivered",
                    attempts=attempts,
                    latency=(now - rec.created_at).total_seconds(),
                    **fields,
                )
            case retry.Retry(at=at, error=why):
                done = dataclasses.replace(delivery, attempts=attempts, next_attempt_at=at, last_error=why)
                log.warning("notification_retry", attempts=attempts, error=why, retry_at=at.isoformat(), **fields)
            case retry.GiveUp(error=why):
                done = dataclasses.replace(delivery, state=nq.FAILED, attempts=attempts, last_error=why)
                log.error("notification_failed", attempts=attempts, error=why, **fields)
        await self._settle(done)

    async def _post(
        self, client: httpx.AsyncClient, receiver: Receiver, body: dict[str, object]
    ) -> tuple[int | None, str, float]:
        """(status or None, error words, Retry-After seconds) of one POST, within the receiver's timeout."""
        try:
            async with asyncio.timeout(receiver.timeout_seconds + 1):  # httpx's timeouts are per phase
                resp = await client.post(
                    receiver.url, json=body, headers=receiver.headers, timeout=receiver.timeout_seconds
                )
        except (TimeoutError, httpx.TimeoutException):
            return None, f"no answer within {receiver.timeout_seconds:g} s", 0.0
        except httpx.HTTPError as exc:
            return None, _scrub(f"{type(exc).__name__}: {exc}", receiver.url), 0.0
        after = resp.headers.get("retry-after", "")
        return resp.status_code, resp.reason_phrase, float(after) if after.isdigit() else 0.0

    async def _settle(self, delivery: nq.DeliveryRecord) -> None:
        try:
            await store_io(self._store.notifications.settle, delivery)
        except StoreUnavailable as exc:  # stays pending; a 2xx is remembered in `_delivered`
            log.warning("notification_not_recorded", id=delivery.id, error=str(exc))
            return
        self._delivered.discard(delivery.id)

    async def _maybe_prune(self) -> None:
        now = self._now()
        if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
            self._pruned_at = now
            await store_io(self._store.notifications.prune, now - KEEP_SETTLED)
            failed = await store_io(
                self._store.notifications.fail_unconfigured, list(self._receivers), "receiver not in the config"
            )
            if failed:
                log.warning("notifications_for_removed_receivers_failed", deliveries=failed)
