"""Docker event streams, one thread per node, that wake the controllers early.

Only a hint: the controllers re-read everything on each pass, so a missed or
duplicated event never changes an outcome, only how soon it is seen.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import structlog

from miniorch import supervise
from miniorch.controllers.nodes import NodeMonitor
from miniorch.nodes import records as nr

log = structlog.get_logger(__name__)

# Only what we did not cause ourselves; anything else is seen by the periodic resync.
_WAKE_ON = {"die", "oom", "health_status"}  # health_status: a DaemonSet pod became (un)ready
#: Followed without waking anyone: a run's `start` and any `kill` during it, so that its `die`
#: tells the whole run end (NodeClient.exits) and its settle needs no inspect.
_RUN_EVENTS = {"start", "kill"}
WAIT_REACHABLE_SECONDS = 0.25


class DockerEventWatcher:
    def __init__(self, monitor: NodeMonitor) -> None:
        self._monitor = monitor
        self._threads: dict[str, tuple[threading.Thread, threading.Event]] = {}
        self._notify: Callable[[str, str, str], None] = lambda node, action, pod: None

    def start(self, notify: Callable[[str, str, str], None]) -> None:
        """`notify(node, action, pod)` is called from the watcher threads."""
        self._notify = notify
        self.refresh()

    def refresh(self) -> None:
        """Follow the nodes of the current config (after a reload)."""
        for name in list(self._threads):
            if name not in self._monitor.nodes:
                self._threads.pop(name)[1].set()
        for name in self._monitor.nodes:
            if name not in self._threads:
                stop = threading.Event()
                self._threads[name] = (supervise.start_thread(self._watch, f"events:{name}", name, stop), stop)

    def stop(self) -> None:
        for _, stop in self._threads.values():
            stop.set()

    def _watch(self, name: str, stop: threading.Event) -> None:
        """Follow one node's events for good: a lost stream (dockerd restarted, connection reset)
        is logged with its cause once and reopened with backoff; anything else is a bug, and
        ends the thread through `miniorch.supervise` (which takes the daemon down)."""
        delay = 0.5
        lost_at: float | None = None

        def opened() -> None:
            nonlocal delay, lost_at
            if lost_at is not None:
                log.info("event_stream_resumed", node=name, down_seconds=round(time.monotonic() - lost_at, 1))
                self._notify(name, "resync", "")  # events may have been missed: look at everything
            delay, lost_at = 0.5, None

        while not stop.is_set():
            client = self._monitor.client(name)
            if client is None:
                return
            if not self._monitor.reachable(name):  # a connection now would only hang: wait for a probe
                stop.wait(WAIT_REACHABLE_SECONDS)
                continue
            try:
                idle = client.watch_events(
                    lambda action, pod: self._on_event(name, action, pod), stop, _WAKE_ON | _RUN_EVENTS, opened
                )
            except nr.NodeError as exc:
                if lost_at is None:
                    lost_at = time.monotonic()
                    log.warning("event_stream_lost", node=name, error=exc.detail, cause=supervise.cause_of(exc))
                else:
                    log.debug("event_stream_reopen_failed", node=name, error=exc.detail, retry_in=delay)
                stop.wait(delay)
                delay = min(delay * 2, 5.0)
            else:
                if idle:
                    continue  # quiet for a while: reopened at once, from its last event (nothing missed)
                if not stop.is_set() and lost_at is None:
                    lost_at = time.monotonic()
                    log.warning("event_stream_lost", node=name, error="the engine ended the stream", cause=None)
                stop.wait(0.1)

    def _on_event(self, node: str, action: str, pod: str) -> None:
        action = action.split(":")[0]
        if action in _WAKE_ON:
            log.debug("docker_event", node=node, action=action, pod=pod)
            self._notify(node, action, pod)
