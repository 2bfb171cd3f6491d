"""Container events off a node's Docker event stream, and the run ends they tell.

A `die` event carries the run's exit code (attribute `exitCode`) and its time (`timeNano`).
For a run whose `start` this same stream delivered, with no `oom` since, that is all the
settle of a Never-restart pod needs: ExitLog keeps it until the settle takes it, and the
settle skips its inspect. Anything less certain leaves the inspect in place.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import urllib3.exceptions

from miniorch.nodes import records

#: Run ends nobody took (their pod was settled from an inspect): the oldest are dropped.
EXIT_LOG_LIMIT = 4096


@dataclass(frozen=True)
class ContainerEvent:
    action: str  # die, oom, kill, start, health_status (the part before ": healthy")
    container: str  # the container's name (miniorch names it after its pod)
    pod: str
    time: dt.datetime | None
    attributes: Mapping[str, str] = field(default_factory=dict)
    nano: int = 0  # the engine's timeNano


def parse(raw: Mapping[str, Any]) -> ContainerEvent:
    """One decoded event of the engine's /events stream."""
    attrs = {str(k): str(v) for k, v in (raw.get("Actor", {}).get("Attributes") or {}).items()}
    nano = raw.get("timeNano")
    when = dt.datetime.fromtimestamp(int(nano) / 1e9, dt.UTC) if isinstance(nano, int) and nano > 0 else None
    return ContainerEvent(
        action=str(raw.get("Action", raw.get("status", ""))).split(":")[0],
        container=attrs.get("name", ""),
        pod=attrs.get(records.POD, ""),
        time=when,
        attributes=attrs,
        nano=nano if isinstance(nano, int) else 0,
    )


@dataclass(frozen=True)
class RunEnd:
    """How one run of a container ended, as its node's event stream told it."""

    exit_code: int
    started_at: dt.datetime  # the `start` event's time (Docker's StartedAt, a few ms late on a quiet host)
    finished_at: dt.datetime  # the `die` event's time
    killed: bool = False  # a `kill` came during the run: a stop by us, by someone else, or the engine's shutdown
    oom: bool = False  # an `oom` came during the run (its inspect says whether it was OOMKilled)


@dataclass
class _Run:
    started_at: dt.datetime
    killed: bool = False
    oom: bool = False


class ExitLog:
    """Run ends per container, filled by the event thread and taken by settles (thread-safe)."""

    def __init__(self, limit: int = EXIT_LOG_LIMIT) -> None:
        self._lock = threading.Lock()
        self._limit = limit
        self._runs: dict[str, _Run] = {}  # container -> its run in progress, seen starting on this stream
        self._ends: OrderedDict[str, RunEnd] = OrderedDict()
        self._until = 0  # engine time (ns) of the last event noted

    def opened(self, resumed: bool = False) -> None:
        """A new stream: events of runs already going may have been missed, so they tell nothing;
        unless it `resumed` where the last one ended (Docker's `since`), missing nothing."""
        if resumed:
            return
        with self._lock:
            self._runs.clear()

    def since(self) -> str | None:
        """Docker's `since` for a stream that goes on after the last event noted (None: none yet)."""
        after = self._until + 1
        return f"{after // 10**9}.{after % 10**9:09d}" if self._until else None

    def note(self, event: ContainerEvent) -> None:
        self._until = max(self._until, event.nano)
        if not event.container:
            return
        with self._lock:
            match event.action:
                case "start" if event.time is not None:
                    self._ends.pop(event.container, None)
                    self._runs[event.container] = _Run(event.time)
                    while len(self._runs) > self._limit:
                        del self._runs[next(iter(self._runs))]
                case "kill" | "oom" if (run := self._runs.get(event.container)) is not None:
                    run.killed = run.killed or event.action == "kill"
                    run.oom = run.oom or event.action == "oom"
                case "die":
                    self._died(event)

    def _died(self, event: ContainerEvent) -> None:
        run = self._runs.pop(event.container, None)
        code = event.attributes.get("exitCode", "")
        self._ends.pop(event.container, None)
        if run is None or event.time is None or not code.lstrip("-").isdigit():
            return  # its start was not seen here, or the engine did not say: the settle inspects
        self._ends[event.container] = RunEnd(int(code), run.started_at, event.time, run.killed, run.oom)
        while len(self._ends) > self._limit:
            self._ends.popitem(last=False)

    def take(self, container: str) -> RunEnd | None:
        """The container's last run end the stream told, once (None: not known from events)."""
        with self._lock:
            return self._ends.pop(container, None)


def follow(
    stream: Iterable[Mapping[str, Any]], exits: ExitLog, on_event: Callable[[str, str], None], stop: threading.Event
) -> bool:
    """Note each event of an open stream in `exits`, then tell `on_event(action, pod)`, until `stop`
    is set or the stream ends; True when it ended by going quiet (its read timed out), which
    is not a lost engine: the heartbeat tells those."""
    try:
        for raw in stream:
            if stop.is_set():
                break
            event = parse(raw)
            exits.note(event)  # before the hint: the settle it wakes finds the run's end
            on_event(event.action, event.pod)
    except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
        return True
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            with contextlib.suppress(Exception):
                close()
    return False
