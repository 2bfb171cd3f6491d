"""The node monitor: probes every node on a heartbeat and tracks readiness.

A node is Ready while its last good probe is younger than
`timing.node_timeout_seconds`; transitions are logged and recorded as events.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from miniorch import clock as clock_mod
from miniorch.config import Config, NodeConfig
from miniorch.nodes import records as node_records
from miniorch.nodes import transport
from miniorch.nodes.client import NodeClient
from miniorch.reconcile.placement import NodeView, Resources
from miniorch.store.records import EventRecord, NodeOverrides
from miniorch.store.store import Store

log = structlog.get_logger(__name__)

HOSTNAME_LABEL = "kubernetes.io/hostname"
INFO_REFRESH_SECONDS = 30.0


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
                self.nodes.pop(name).client.close()
                log.info("node_removed", node=name)
        for name, node_cfg in wanted.items():
            state = self.nodes.get(name)
            endpoint = endpoint_of(node_cfg)
            if state is None or state.client.endpoint != endpoint:
                if state is not None:
                    state.client.close()
                if node_cfg.insecure:
                    log.warning("node_insecure", node=name, url=node_cfg.url, hint="plain TCP: anyone on the path is root on that host")
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
        """Answered its last probe (stricter than Ready, which has a grace period)."""
        state = self.nodes.get(name)
        return bool(state and state.ready and not state.last_error)

    def views(self) -> list[NodeView]:
        overrides = self._store.node_overrides()
        out = []
        for name, state in sorted(self.nodes.items()):
            over = overrides.get(name)
            capacity = Resources(float(state.info.cpus), state.info.memory_bytes) if state.info else None
            out.append(
                NodeView(name, state.ready, not (over and over.unschedulable), self.labels(name, overrides), capacity)
            )
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
        await asyncio.gather(*(self._probe(state) for state in list(self.nodes.values())))

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._timing.node_heartbeat_seconds)
            await self.probe_all()

    async def _probe(self, state: NodeState) -> None:
        now = self._clock.now()
        # A heartbeat is a ping; the heavier `docker info` (capacity, version) is refreshed
        # now and then, so a busy engine is not declared NotReady for a slow info call.
        stale = (
            state.info is None or state.info_at is None or (now - state.info_at).total_seconds() >= INFO_REFRESH_SECONDS
        )
        try:
            result, rtt = await asyncio.wait_for(
                asyncio.to_thread(_timed_probe, state.client, stale), timeout=max(1.0, self._timing.node_timeout_seconds)
            )
        except (node_records.NodeError, TimeoutError) as exc:
            state.last_error = str(exc) or "probe timed out"
            state.error_shown, state.error_at = state.last_error, now
            silent_for = (now - state.last_ok).total_seconds() if state.last_ok else float("inf")
            if state.ready and silent_for >= self._timing.node_timeout_seconds:
                self._transition(state, False, now)
            elif state.ready:
                self._on_change()
            return
        if isinstance(result, node_records.NodeInfo):
            state.info, state.info_at = result, now
        state.last_ok = now
        state.last_error = ""
        state.rtt_seconds = rtt
        if not state.ready:
            self._transition(state, True, now)

    def _transition(self, state: NodeState, ready: bool, now: dt.datetime) -> None:
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
        self._store.record_event(
            EventRecord(
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
        )
        self._on_change()

    def close(self) -> None:
        for state in self.nodes.values():
            state.client.close()


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
