"""Prometheus metrics of one daemon, served as `GET /metrics`.

The daemon builds one `Metrics` (its own CollectorRegistry, no global registry,
with the process, platform and GC collectors and `miniorch_build_info`) and
passes it down. Event counts and histograms are recorded where things happen;
every labelled counter starts at 0 for its known label values, so a rate() or
an alert sees 0 rather than nothing. Counts of objects by state, node readiness
and Docker errors are read at scrape time from callables the daemon supplies.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import platform
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

import miniorch
from miniorch import kinds

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Seconds between a cron slot's scheduled time and the creation of its Job.
CRON_DELAY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300)
#: Seconds of one reconcile pass (observe every node, plan every object, act).
PASS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
#: Seconds from a Job's start to its end (Complete or Failed): batch work runs seconds to hours.
JOB_DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400)
#: Owner kinds of pods (a CronJob's pods belong to its Jobs): the pod counters start at 0 for each.
POD_OWNER_KINDS = kinds.POD_OWNERS

ObjectStates = Callable[[], Iterable[tuple[str, str]]]  # (kind, state) per object
NodeReadiness = Callable[[], Mapping[str, bool]]
DockerErrors = Callable[[], Mapping[tuple[str, str], int]]  # (node, error) -> count
NodeCalls = Callable[[], Mapping[str, tuple[int, int]]]  # node -> (calls in flight, calls refused)
CronTimes = Callable[[], Iterable[tuple[str, str, float | None, float | None]]]  # ns, name, last schedule, success
NotificationCounts = Callable[[], Mapping[tuple[str, str], int]]  # (receiver, state) -> deliveries


def object_state(kind: str, manifest: Mapping[str, Any], status: Mapping[str, Any]) -> str:
    """One word for an object's state: Jobs complete/failed/suspended/active; others suspended/active."""
    return kinds.get(kind).state(manifest, status)


class _StateCollector(Collector):
    """Reads the daemon's current state on each scrape."""

    def __init__(self) -> None:
        self.objects: ObjectStates = lambda: ()
        self.nodes: NodeReadiness = lambda: {}
        self.docker_errors: DockerErrors = lambda: {}
        self.docker_error_kinds: Sequence[str] = ()
        self.node_calls: NodeCalls = lambda: {}
        self.node_dials: Callable[[], Mapping[str, int]] = lambda: {}

    def collect(self) -> Iterator[Metric]:
        objects = GaugeMetricFamily(
            "miniorch_objects",
            "Workload objects (Job, CronJob, DaemonSet) by kind and state.",
            labels=["kind", "state"],
        )
        counts: dict[tuple[str, str], int] = {}
        for kind, state in self.objects():
            counts[(kind, state)] = counts.get((kind, state), 0) + 1
        for info in kinds.REGISTRY:
            for state in info.states:  # always present, so a rate() or alert sees 0 rather than nothing
                counts.setdefault((info.kind.value, state), 0)
        for (kind, state), n in sorted(counts.items()):
            objects.add_metric([kind, state], n)
        yield objects
        ready = GaugeMetricFamily("miniorch_node_ready", "1 if the node is Ready, else 0.", labels=["node"])
        for node, is_ready in sorted(self.nodes().items()):
            ready.add_metric([node], 1.0 if is_ready else 0.0)
        yield ready
        errors = CounterMetricFamily(
            "miniorch_docker_api_errors",
            "Failed Docker API calls by node and error (NodeUnavailable, DockerRejected, ContainerNotFound, ...).",
            labels=["node", "error"],
        )
        error_counts = {(node, kind): 0 for node in self.nodes() for kind in self.docker_error_kinds}
        error_counts.update(self.docker_errors())
        for (node, error), n in sorted(error_counts.items()):
            errors.add_metric([node, error], n)
        yield errors
        yield from _node_call_metrics(self.node_calls())
        dials = CounterMetricFamily(
            "miniorch_node_connections_opened",
            "Connections opened to the node's engine (over TLS each is a handshake, over SSH a dial-stdio channel).",
            labels=["node"],
        )
        for node, n in sorted(self.node_dials().items()):
            dials.add_metric([node], n)
        yield dials


def _node_call_metrics(calls: Mapping[str, tuple[int, int]]) -> Iterator[Metric]:
    in_flight = GaugeMetricFamily(
        "miniorch_node_docker_calls_in_flight",
        "Docker calls to the node still waiting for an answer (bounded per node).",
        labels=["node"],
    )
    refused = CounterMetricFamily(
        "miniorch_node_docker_calls_refused",
        "Docker calls not sent because the node already had its maximum waiting (hung or unreachable).",
        labels=["node"],
    )
    for node, (waiting, n) in sorted(calls.items()):
        in_flight.add_metric([node], waiting)
        refused.add_metric([node], n)
    yield in_flight
    yield refused


def cron_times(
    cronjobs: Iterable[tuple[str, str, Mapping[str, Any]]],
) -> list[tuple[str, str, float | None, float | None]]:
    """(namespace, name, lastScheduleTime, lastSuccessfulTime as unix times) of each (namespace, name, status)."""

    def unix(value: object) -> float | None:
        if not isinstance(value, str) or not value:
            return None
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()

    return [
        (ns, name, unix(status.get("lastScheduleTime")), unix(status.get("lastSuccessfulTime")))
        for ns, name, status in cronjobs
    ]


class _AlertingCollector(Collector):
    """Scrape-time values to alert on (DESIGN 12): each CronJob's last run times, the notification queue."""

    def __init__(self) -> None:
        self.cronjobs: CronTimes = lambda: ()
        self.notifications: NotificationCounts = lambda: {}

    def collect(self) -> Iterator[Metric]:
        scheduled = GaugeMetricFamily(
            "miniorch_cronjob_last_schedule_timestamp_seconds",
            "Unix time of the CronJob's last scheduled run (status.lastScheduleTime).",
            labels=["namespace", "cronjob"],
        )
        succeeded = GaugeMetricFamily(
            "miniorch_cronjob_last_successful_timestamp_seconds",
            "Unix time the CronJob's last Job completed successfully (status.lastSuccessfulTime).",
            labels=["namespace", "cronjob"],
        )
        for namespace, name, last_schedule, last_success in sorted(self.cronjobs(), key=lambda c: c[:2]):
            if last_schedule is not None:
                scheduled.add_metric([namespace, name], last_schedule)
            if last_success is not None:
                succeeded.add_metric([namespace, name], last_success)
        yield scheduled
        yield succeeded
        counts = self.notifications()
        pending = GaugeMetricFamily(
            "miniorch_notifications_pending",
            "Notification deliveries waiting to be sent or retried.",
            labels=["receiver"],
        )
        failed = CounterMetricFamily(
            "miniorch_notifications_failed",
            "Notification deliveries given up (refused, or retried for 24 h), still on record.",
            labels=["receiver"],
        )
        for receiver in sorted({r for r, _ in counts}):
            pending.add_metric([receiver], counts.get((receiver, "pending"), 0))
            failed.add_metric([receiver], counts.get((receiver, "failed"), 0))
        yield pending
        yield failed


class Metrics:
    """Every metric of one daemon, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        Info("miniorch_build", "The running miniorch: its version and Python's.", registry=self.registry).info(
            {"version": miniorch.__version__, "python": platform.python_version()}
        )
        self.pods_started = Counter(
            "miniorch_pods_started", "Pods whose container was started.", ["owner_kind"], registry=self.registry
        )
        self.pods_succeeded = Counter(
            "miniorch_pods_succeeded", "Pod runs that exited 0.", ["owner_kind"], registry=self.registry
        )
        self.pods_failed = Counter(
            "miniorch_pods_failed",
            "Pod runs that failed (non-zero exit, or could not start).",
            ["owner_kind"],
            registry=self.registry,
        )
        self.cron_fire_delay = Histogram(
            "miniorch_cron_fire_delay_seconds",
            "Delay between a CronJob slot's scheduled time and the creation of its Job.",
            buckets=CRON_DELAY_BUCKETS,
            registry=self.registry,
        )
        self.reconcile_duration = Histogram(
            "miniorch_reconcile_pass_duration_seconds",
            "Duration of one reconcile pass over every node and workload object.",
            buckets=PASS_BUCKETS,
            registry=self.registry,
        )
        for counter in (self.pods_started, self.pods_succeeded, self.pods_failed):
            for kind in POD_OWNER_KINDS:
                counter.labels(kind)
        self._state = _StateCollector()
        self.registry.register(self._state)
        self.leader = Gauge(
            "miniorch_leader",
            "1 while this daemon leads (acts on the nodes), 0 as a standby (DESIGN 8).",
            registry=self.registry,
        )
        self.leader.set(1)
        self._add_alerting()

    def _add_alerting(self) -> None:
        """Per-Job durations and the scrape-time values of `_AlertingCollector` (DESIGN 12)."""
        self.job_duration = Histogram(
            "miniorch_job_duration_seconds",
            "Duration of finished Jobs, labelled by the CronJob that made them (else the Job's own name).",
            ["namespace", "owner", "condition"],
            buckets=JOB_DURATION_BUCKETS,
            registry=self.registry,
        )
        self._job_series: dict[tuple[str, str], set[str]] = {}  # (namespace, owner) -> conditions observed
        self._alerting = _AlertingCollector()
        self.registry.register(self._alerting)

    def job_finished(self, namespace: str, owner: str, condition: str, seconds: float) -> None:
        """A Job reached Complete or Failed after `seconds`; `owner` is its CronJob's name or its own."""
        self.job_duration.labels(namespace, owner, condition).observe(max(0.0, seconds))
        self._job_series.setdefault((namespace, owner), set()).add(condition)

    def job_forgotten(self, namespace: str, owner: str) -> None:
        """A Job labelled by its own name is deleted: its duration series go with it. (Kept, every
        one-off Job ever run stayed in /metrics and in the daemon's memory, without bound.)"""
        for condition in self._job_series.pop((namespace, owner), set()):
            with contextlib.suppress(KeyError):  # removed already (older clients raise)
                self.job_duration.remove(namespace, owner, condition)

    def watch_cronjobs(self, cronjobs: CronTimes) -> None:
        self._alerting.cronjobs = cronjobs

    def watch_notifications(self, counts: NotificationCounts) -> None:
        self._alerting.notifications = counts

    def watch(
        self,
        objects: ObjectStates,
        nodes: NodeReadiness,
        docker_errors: DockerErrors,
        docker_error_kinds: Sequence[str] = (),
        node_calls: NodeCalls | None = None,
        node_dials: Callable[[], Mapping[str, int]] | None = None,
    ) -> None:
        """Where scrape-time values come from (the daemon wires its store and node monitor here).

        `docker_error_kinds` are the error names each node's error counter shows at 0 until one happens.
        """
        self._state.objects = objects
        self._state.nodes = nodes
        self._state.docker_errors = docker_errors
        self._state.docker_error_kinds = tuple(docker_error_kinds)
        self._state.node_calls = node_calls or (lambda: {})
        self._state.node_dials = node_dials or (lambda: {})

    def watch_leadership(self, acting: Callable[[], bool]) -> None:
        self.leader.set_function(lambda: 1.0 if acting() else 0.0)

    def pod_started(self, owner_kind: str) -> None:
        self.pods_started.labels(owner_kind).inc()

    def pod_finished(self, owner_kind: str, phase: str, exit_code: int | None) -> None:
        """A run ended: Succeeded counts as success; Failed, or a non-zero exit restarted in place, as failure."""
        if phase == "Succeeded":
            self.pods_succeeded.labels(owner_kind).inc()
        elif phase == "Failed" or exit_code not in (None, 0):
            self.pods_failed.labels(owner_kind).inc()

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
