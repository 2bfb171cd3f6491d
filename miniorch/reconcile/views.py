"""What the planners see of pods and containers: their own frozen input views.

The controllers build these from store records and node listings (controllers/podrecords.py)
and write the planners' results back; nothing here knows the store or Docker. A `PodView` has
no default clock: whoever makes one says when the pod was created.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from miniorch.spec.enums import PodPhase

__all__ = ["READY_SINCE", "ContainerView", "PodPhase", "PodView"]

#: Pod annotation: when it last became ready (DaemonSet and StatefulSet pods, whose planners
#: judge readiness: running, healthy with a probe; the minReadySeconds clock counts from it).
READY_SINCE = "miniorch.io/ready-since"


@dataclass(frozen=True)
class PodView:
    """One pod and what is known of its runs (the store's PodRecord without its logs).

    `failures` counts the failed runs that count against backoffLimit: 0 or 1 for
    restartPolicy Never, any number for OnFailure (restarts in place). `deletion_reason` set
    means we decided to stop it; it is then terminating. `start_attempts` / `last_attempt_at`
    count refused tries to create or start its container (`reconcile.startretry`).
    """

    uid: str
    name: str
    namespace: str
    owner_kind: str
    owner_name: str
    owner_uid: str
    node: str | None
    created_at: dt.datetime
    phase: PodPhase = PodPhase.PENDING
    reason: str = ""
    message: str = ""
    exit_code: int | None = None
    last_exit_code: int | None = None
    restart_count: int = 0
    failures: int = 0
    restart_pending: bool = False
    deletion_reason: str = ""
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    last_failure_at: dt.datetime | None = None
    completion_index: int | None = None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    cpu_request: float = 0.0
    memory_request: int = 0
    run_started_at: dt.datetime | None = None  # the latest recorded run (Docker's StartedAt)
    previous_run_started_at: dt.datetime | None = None  # the run before it (None: from the beginning)
    start_attempts: int = 0
    last_attempt_at: dt.datetime | None = None

    @property
    def terminating(self) -> bool:
        return bool(self.deletion_reason) and not self.phase.terminal

    @property
    def active(self) -> bool:
        return not self.phase.terminal and not self.deletion_reason


@dataclass(frozen=True)
class ContainerView:
    """A pod's container as its node last reported it (listing, plus inspect for stopped ones)."""

    status: str  # created | running | paused | restarting | removing | exited | dead
    exit_code: int | None = None
    oom_killed: bool = False
    error: str = ""
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    health: str = ""  # "" (no healthcheck) | starting | healthy | unhealthy
    restart_count: int = 0  # Docker's own restarts (restart policy)

    @property
    def running(self) -> bool:
        return self.status in ("running", "restarting", "paused")

    @property
    def exited(self) -> bool:
        return self.status in ("exited", "dead")
