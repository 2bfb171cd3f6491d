"""The node monitor: probes every node on a heartbeat and tracks readiness.

A node is Ready while its last answer is younger than `timing.node_timeout_seconds`,
judged on every heartbeat whether or not a probe is still waiting: a blackholed node
turns NotReady within the timeout plus one heartbeat. Each node is probed on a thread
of its own, one probe at a time, so probes never queue behind stuck calls.
Transitions are logged and recorded as events.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from miniorch import clock as clock_mod
from miniorch import supervise
from miniorch.config import Config, NodeConfig
from miniorch.controllers.storeio import store_io
from miniorch.nodes import records as node_records
from miniorch.nodes import transport
from miniorch.nodes.client import NodeClient
from miniorch.reconcile.placement import NodeView, Resources
from miniorch.store.errors import StoreUnavailable
from miniorch.store.records import EventRecord, NodeOverrides
from miniorch.store.store import Store

log = structlog.get_logger(__name__)

HOSTNAME_LABEL = "kubernetes.io/hostname"
INFO_REFRESH_SECONDS = 30.0
#: A node silent for this many heartbeats (plus SUSPECT_GRACE) is not asked anything more
#: until it answers a probe again; its pods show Unknown while Ready still holds.
SUSPECT_HEARTBEATS = 2
SUSPECT_GRACE_SECONDS = 0.5


@dataclass
class NodeState:
    config: NodeConfig
    client: NodeClient
    info: node_records.NodeInfo | None = None
    last_ok: dt.datetime | None = None
    info_at: dt.datetime | None = None
    last_error: str = ""  # of the last probe; "" when it answered
    ready: bool = False
    rtt_seconds: float | None = None  # the last heartbeat ping's round trip
    error_shown: str = ""  # the last probe error, kept after the node recovers (LAST ERROR)
    error_at: dt.datetime | None = None
    first_seen: dt.datetime = field(default_factory=clock_mod.utcnow)
    probing: asyncio.Future[object] | None = None  # the probe in flight, at most one
    quiet: bool = False  # Ready but silent past the suspect bound (see NodeMonitor.reachable)
    prober: concurrent.futures.ThreadPoolExecutor = field(
        default_factory=lambda: concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="probe")
    )

    @property
    def name(self) -> str:
        return self.config.name


class NodeMonitor:
    """Owns one NodeClient per configured node and their readiness."""

    def __init__(self, config: Config, store: Store, clock: clock_mod.Clock, on_change: Callable[[], None]) -> None:
        self._store = store
        self._clock = clock
        self._on_change = on_change
        self._timing = config.timing
        self._cluster = store.cluster_id()
        self.nodes: dict[str, NodeState] = {}
        # Who may act on the nodes: a daemon that does not lead (DESIGN 8) gets no client for its operations.
        self.fence: Callable[[], bool] = lambda: True
        self.apply_config(config)

    def apply_config(self, config: Config) -> None:
        """Add new nodes, drop removed ones, update labels (SIGHUP reload)."""
        self._timing = config.timing
        wanted = {n.name: n for n in config.nodes}
        for name in list(self.nodes):
            if name not in wanted:
                _close(self.nodes.pop(name))
                log.info("node_removed", node=name)
        for name, node_cfg in wanted.items():
            state = self.nodes.get(name)
            endpoint = endpoint_of(node_cfg)
            if state is None or state.client.endpoint != endpoint:
                if state is not None:
                    _close(state)
                if node_cfg.insecure:
                    log.warning(
                        "node_insecure",
                        node=name,
                        url=node_cfg.url,
                        hint="plain TCP: anyone on the path is root on that host",
                    )
                timeout = max(2.0, min(self._timing.node_timeout_seconds, 30.0))
                client = NodeClient(name, node_cfg.url, timeout=timeout, endpoint=endpoint, cluster=self._cluster)
                self.nodes[name] = NodeState(node_cfg, client)
            else:
                state.config = node_cfg

    def client(self, name: str) -> NodeClient | None:
        """The node's client for controller work; None for an unknown node, or while this daemon does not lead."""
        if not self.fence():
            return None
        state = self.nodes.get(name)
        return state.client if state else None

    def reachable(self, name: str) -> bool:
        """Answered its last probe, and recently (stricter than Ready, which has a grace period):
        a node that went quiet is not sent listings or stops that would only hang."""
        state = self.nodes.get(name)
        if not (state and state.ready and not state.last_error and state.last_ok):
            return False
        quiet = SUSPECT_HEARTBEATS * self._timing.node_heartbeat_seconds + SUSPECT_GRACE_SECONDS
        return (self._clock.now() - state.last_ok).total_seconds() <= quiet

    def views(self) -> list[NodeView]:
        overrides = self._store.node_overrides()
        out = []
        for name, state in sorted(self.nodes.items()):
            over = overrides.get(name)
            capacity = Resources(float(state.info.cpus), state.info.memory_bytes) if state.info else None
            # A Ready node that went quiet gets no new pods: they would only wait for it to turn NotReady.
            schedulable = not (over and over.unschedulable) and (not state.ready or self.reachable(name))
            out.append(NodeView(name, state.ready, schedulable, self.labels(name, overrides), capacity))
        return out

    def labels(self, name: str, overrides: dict[str, NodeOverrides] | None = None) -> dict[str, str]:
        """Config labels, then `ctl label` changes, then kubernetes.io/hostname."""
        state = self.nodes[name]
        labels = {**state.config.labels, HOSTNAME_LABEL: name}
        over = (overrides if overrides is not None else self._store.node_overrides()).get(name)
        if over:
            for key, value in over.labels.items():
                if value is None:
                    labels.pop(key, None)
                else:
                    labels[key] = value
        return labels

    async def probe_all(self) -> None:
        """Probe every node once and wait for the answers (at start and after a reload)."""
        probes = [p for state in list(self.nodes.values()) if (p := self._start_probe(state)) is not None]
        if probes:
            await asyncio.wait(probes, timeout=max(1.0, self._timing.node_timeout_seconds))

    async def run(self) -> None:
        """Every heartbeat: judge each node's silence, and probe those without a probe in flight.
        On a fixed schedule: a slow probe never delays the next judgement."""
        next_at = time.monotonic()
        while True:
            next_at += self._timing.node_heartbeat_seconds
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            next_at = max(next_at, time.monotonic() - self._timing.node_heartbeat_seconds)
            for state in list(self.nodes.values()):
                await self._judge(state)
                self._start_probe(state)

    async def _judge(self, state: NodeState) -> None:
        now = self._clock.now()
        silent_for = (now - state.last_ok).total_seconds() if state.last_ok else float("inf")
        quiet = state.ready and not self.reachable(state.name)
        if quiet and not state.quiet:
            log.info("node_quiet", node=state.name, silent_seconds=round(silent_for, 2))
            self._on_change()  # a pass marks its pods Unknown now, not at the next resync
        state.quiet = quiet
        if state.ready and silent_for >= self._timing.node_timeout_seconds:
            if not state.last_error:
                state.last_error = (
                    f"no answer from Docker at {state.config.url} for {silent_for:.1f}s "
                    f"(timing.node_timeout_seconds is {self._timing.node_timeout_seconds:g})"
                )
            await self._transition(state, False, now)

    def _start_probe(self, state: NodeState) -> asyncio.Future[object] | None:
        if state.probing is not None:
            if not state.probing.done():
                return None  # still waiting for the last one: the node's silence is judged anyway
            if (exc := state.probing.exception()) is not None:
                raise exc  # a bug, not a node failure: surfaces through the supervisor
        loop = asyncio.get_running_loop()
        state.probing = supervise.spawn(self._probe(state, loop), f"probe:{state.name}", quiet=True)
        return state.probing

    async def _probe(self, state: NodeState, loop: asyncio.AbstractEventLoop) -> object:
        start = self._clock.now()
        # A heartbeat is a ping; the heavier `docker info` (capacity, version) is refreshed
        # now and then, so a busy engine is not declared NotReady for a slow info call.
        stale = (
            state.info is None
            or state.info_at is None
            or (start - state.info_at).total_seconds() >= INFO_REFRESH_SECONDS
        )
        try:
            result, rtt = await loop.run_in_executor(state.prober, _timed_probe, state.client, stale)
        except node_records.NodeError as exc:
            state.last_error = str(exc)
            state.error_shown, state.error_at = state.last_error, self._clock.now()
            await self._judge(state)
            if state.ready:
                self._on_change()  # its pods show Unknown while Ready still holds
            return None
        now = self._clock.now()
        if isinstance(result, node_records.NodeInfo):
            state.info, state.info_at = result, now
        state.last_ok = now
        was_quiet = bool(state.last_error)
        state.last_error = ""
        state.rtt_seconds = rtt
        if not state.ready:
            await self._transition(state, True, now)
        elif was_quiet:
            self._on_change()
        return result

    async def _transition(self, state: NodeState, ready: bool, now: dt.datetime) -> None:
        state.ready = ready
        if ready:
            log.info("node_ready", node=state.name, docker=state.info.docker_version if state.info else None)
            reason, kind, msg = "NodeReady", "Normal", f"Node {state.name} status is now: NodeReady"
        else:
            log.warning("node_not_ready", node=state.name, error=state.last_error)
            reason, kind, msg = (
                "NodeNotReady",
                "Warning",
                f"Node {state.name} status is now: NodeNotReady ({state.last_error})",
            )
        event = EventRecord(
            "default",
            "Node",
            state.name,
            f"node:{state.name}",
            kind,
            reason,
            msg,
            first_timestamp=now,
            last_timestamp=now,
        )
        try:
            await store_io(self._store.record_event, event)
        except StoreUnavailable as exc:  # the node's state is ours in memory; only its event is lost
            log.warning("node_event_not_recorded", node=state.name, reason=reason, error=str(exc))
        self._on_change()

    def close(self) -> None:
        for state in self.nodes.values():
            _close(state)


def _close(state: NodeState) -> None:
    """Drop a node's client and threads; calls still waiting end at their own timeouts."""
    state.client.close()
    state.client.calls.close()
    state.prober.shutdown(wait=False, cancel_futures=True)


def endpoint_of(node: NodeConfig) -> transport.Endpoint:
    """The node's address and the trust settings of its config entry."""
    tls, ssh = node.tls, node.ssh
    return transport.Endpoint(
        url=node.url,
        transport=node.transport,
        ca=str(tls.ca) if tls and tls.ca else None,
        cert=str(tls.cert) if tls and tls.cert else None,
        key=str(tls.key) if tls and tls.key else None,
        server_name=tls.server_name if tls else None,
        identity_file=str(ssh.identity_file) if ssh and ssh.identity_file else None,
        known_hosts=str(ssh.known_hosts) if ssh and ssh.known_hosts else None,
    )


def _timed_probe(client: NodeClient, full: bool) -> tuple[node_records.NodeInfo | None, float]:
    """Ping (timed: the RTT shown by `ctl get nodes -o wide`), then `docker info` when `full`."""
    started = time.perf_counter()
    client.ping()
    rtt = time.perf_counter() - started
    return (client.info() if full else None), rtt
