"""A Docker Engine in memory at the `nodes/` interface, for the component tests.

FakeNode answers the NodeClient methods the controllers call (run, create, start, stop,
inspect, logs, remove, list_managed, and the `exits` the event stream fills); its
containers only end when the test says so (`finish`), and it can hang, hold one kind of
call, refuse starts or lose containers. FakeMonitor stands in for NodeMonitor.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar, cast

from miniorch.clock import utcnow
from miniorch.controllers.nodes import NodeMonitor
from miniorch.nodes import events
from miniorch.nodes import records as nr
from miniorch.nodes.client import NodeClient
from miniorch.reconcile.placement import NodeView

P = ParamSpec("P")
T = TypeVar("T")
_ids = itertools.count(1)


@dataclass
class FakeContainer:
    name: str
    labels: dict[str, str]
    image: str = "busybox"
    id: str = field(default_factory=lambda: f"c{next(_ids):06d}")
    status: str = "created"
    exit_code: int | None = None
    oom_killed: bool = False
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    output: list[tuple[dt.datetime, str]] = field(default_factory=list)
    restart_count: int = 0  # the engine's own restarts (its restart policy)

    def state(self, node: str, inspected: bool = False) -> nr.ContainerState:
        return nr.ContainerState(
            id=self.id,
            name=self.name,
            node=node,
            labels=dict(self.labels),
            status=self.status,
            exit_code=self.exit_code if inspected else None,
            oom_killed=self.oom_killed and inspected,
            started_at=self.started_at if inspected else None,
            finished_at=self.finished_at if inspected else None,
            restart_count=self.restart_count if inspected else 0,
            inspected=inspected,
        )


class FakeNode:
    """One engine. `on_event(node, action, pod)` gets the `die`/`oom` hints the watcher would send."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.url = f"fake://{name}"
        self.containers: dict[str, FakeContainer] = {}
        self.calls: Counter[str] = Counter()  # Docker calls by method, as the engine would log them
        self.exits = events.ExitLog()
        self.streaming = True  # its event stream is open (the watcher sees events)
        self.hung = False  # every call waits until `unhang()`, then fails as NodeUnavailable
        self.refuse_start = ""  # the engine's words when it refuses every start ("" = it starts)
        self.busy: set[str] = set()  # methods whose calls the node's gate refuses (NodeBusy: all its calls taken)
        self.on_event: Callable[[str, str, str], None] = lambda node, action, pod: None
        self._unhung = asyncio.Event()
        self._held: dict[str, asyncio.Event] = {}
        self.exits.opened()

    # -- what the test drives ---------------------------------------------
    def hold(self, method: str) -> asyncio.Event:
        """Calls of `method` wait until the returned event is set (they are counted at once)."""
        self._held[method] = asyncio.Event()
        return self._held[method]

    def hang(self) -> None:
        self.hung = True
        self._unhung.clear()

    def unhang(self) -> None:
        self.hung = False
        self._unhung.set()

    def finish(self, name: str, code: int, *, oom: bool = False, output: str = "") -> None:
        """The container's process ends (with `output` printed first), as the engine tells it."""
        c = self.containers[name]
        now = utcnow()
        c.output += [(now, line) for line in output.splitlines()]
        if oom:
            c.oom_killed = True
            self._event("oom", c)
        c.status, c.exit_code, c.finished_at = "exited", code, now
        self._event("die", c, exitCode=str(code))

    def restart_in_place(self, name: str, code: int = 3) -> None:
        """The process ends with `code` and the engine starts it again itself (its restart
        policy, as for a restartPolicy Always pod): a `die`, then running with one more restart."""
        self.finish(name, code)
        c = self.containers[name]
        c.status, c.started_at, c.restart_count = "running", utcnow(), c.restart_count + 1
        self._event("start", c)

    def kill(self, name: str, code: int = 143) -> None:
        """Someone other than miniorch kills it (a user, or the engine's own shutdown)."""
        self._event("kill", self.containers[name], signal="15")
        self.finish(name, code)

    def vanish(self, name: str) -> None:
        """`docker rm -f` behind miniorch's back: no event the controllers follow."""
        del self.containers[name]

    def add(self, name: str, labels: dict[str, str], status: str = "running") -> FakeContainer:
        """A container that already exists (made by an earlier daemon)."""
        c = self.containers[name] = FakeContainer(name, labels, status=status, started_at=utcnow())
        return c

    def _event(self, action: str, c: FakeContainer, **attrs: str) -> None:
        if not self.streaming:
            return
        raw = {
            "Action": action,
            "timeNano": int(utcnow().timestamp() * 1e9),
            "Actor": {"Attributes": {"name": c.name, **c.labels, **attrs}},
        }
        self.exits.note(events.parse(raw))
        if action in ("die", "oom"):
            self.on_event(self.name, action, c.labels.get(nr.POD, c.name))

    # -- NodeClient -------------------------------------------------------
    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        method = getattr(fn, "__name__", "?")
        self.calls[method] += 1
        if method in self.busy:
            raise nr.NodeBusy(self.name, f"{method}: 32 Docker calls to it are still waiting for an answer")
        if self.hung:
            await self._unhung.wait()
            raise nr.NodeUnavailable(self.name, f"{method}: Docker at {self.url} did not answer (timed out)")
        held = self._held.get(method)
        if held is not None:
            await held.wait()
        await asyncio.sleep(0)  # a call is never synchronous for the caller
        return fn(*args, **kwargs)

    def create(self, spec: nr.ContainerSpec) -> str:
        if spec.name in self.containers:
            raise nr.ContainerConflict(self.name, f"create {spec.name}: the name is in use")
        c = self.containers[spec.name] = FakeContainer(spec.name, dict(spec.labels), spec.image)
        return c.id

    def start(self, name: str) -> None:
        c = self._get(name, "start")
        if self.refuse_start:
            raise nr.EngineError(self.name, f"start {name}: {self.refuse_start}")
        c.status, c.started_at, c.exit_code, c.finished_at = "running", utcnow(), None, None
        self._event("start", c)

    def stop(self, name: str, grace_seconds: float) -> None:
        c = self._get(name, "stop")
        if c.status == "running":
            self._event("kill", c, signal="15")
            self.finish(name, 143)

    def inspect(self, name: str) -> nr.ContainerState:
        return self._get(name, "inspect").state(self.name, inspected=True)

    def logs(self, name: str, tail: int | None = None, timestamps: bool = False, **_: Any) -> bytes:
        lines = self._get(name, "logs").output[-tail:] if tail else self._get(name, "logs").output
        stamp = (lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%f000Z ")) if timestamps else (lambda t: "")
        return "".join(f"{stamp(t)}{line}\n" for t, line in lines).encode()

    def remove(self, name: str) -> None:
        self.containers.pop(name, None)

    def list_managed(self) -> list[nr.ContainerState]:
        return [c.state(self.name) for c in self.containers.values()]

    def _get(self, name: str, what: str) -> FakeContainer:
        c = self.containers.get(name)
        if c is None:
            raise nr.ContainerNotFound(self.name, f"{what} {name}: No such container: {name}")
        return c

    def client(self) -> NodeClient:
        """Typed as the real client for the code under test."""
        return cast(NodeClient, self)


class FakeMonitor:
    """NodeMonitor's face to the pod controllers: clients, readiness, node views."""

    def __init__(self, *nodes: FakeNode) -> None:
        self.nodes: dict[str, FakeNode] = {n.name: n for n in nodes}
        self.ready: set[str] = set(self.nodes)
        self.quiet: set[str] = set()  # Ready, but not answering probes lately
        self.cordoned: set[str] = set()  # `ctl cordon`: no new pods

    def client(self, name: str) -> NodeClient | None:
        node = self.nodes.get(name)
        return node.client() if node else None

    def reachable(self, name: str) -> bool:
        return name in self.ready and name not in self.quiet

    def views(self) -> list[NodeView]:
        return [
            NodeView(name, name in self.ready, self._schedulable(name), {"kubernetes.io/hostname": name})
            for name in sorted(self.nodes)
        ]

    def _schedulable(self, name: str) -> bool:
        return name not in self.cordoned and (name not in self.ready or name not in self.quiet)

    def monitor(self) -> NodeMonitor:
        return cast(NodeMonitor, self)
