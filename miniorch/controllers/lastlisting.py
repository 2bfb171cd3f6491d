"""The containers as the last listing saw them, for planners that judge readiness every pass.

The DaemonSet and StatefulSet planners mark pods ready from a listing; a plan-only pass (after
our own operation) lists nothing and reads the last one. Either may predate what the pod
records have learnt since: those runs are taken from the records.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from miniorch.controllers.listing import Listing
from miniorch.controllers.podsync import Observed
from miniorch.nodes import records as nr
from miniorch.store.records import PodPhase, PodRecord

_NEVER = dt.datetime.min.replace(tzinfo=dt.UTC)


class LastListing:
    def __init__(self) -> None:
        self._containers: Listing = {}
        self._listed_at: dict[str, dt.datetime] = {}  # node -> when its listing was asked for

    def containers(self, seen: Observed, pods: Sequence[PodRecord]) -> Listing:
        """This pass's containers: its listing, or the last one on a plan-only pass (a node slow
        to list this pass keeps its last listing: its pods are not unready for it). A pod whose
        run was recorded as started since its node's listing was asked for runs, health unknown,
        whatever that listing said: a container started since (or while the listing was under
        way), or one Docker restarted in place (listed `restarting` or `exited` a moment before
        it ran again). Such a pod, marked ready, must not be marked unready by an older look."""
        if seen.listed:
            for node in seen.containers:
                self._listed_at[node] = seen.now
            late = {node: self._containers[node] for node in seen.late if node in self._containers}
            self._containers = {**late, **seen.containers}
        out = self._containers
        for pod in pods:
            if pod.node not in out or pod.phase is not PodPhase.RUNNING or pod.restart_pending:
                continue
            started = pod.run_started_at or pod.started_at
            listed = out[pod.node].get(pod.name)
            if not started or started < self._listed_at.get(pod.node, _NEVER):
                continue
            if listed is None or listed.status != "running":
                if out is self._containers:
                    out = {node: dict(found) for node, found in self._containers.items()}
                out[pod.node][pod.name] = nr.ContainerState(
                    "", pod.name, pod.node, {}, "running", started_at=started, health="starting"
                )
        return out
