"""The closed set of actions planners return, and the events they emit.

Controllers execute them with `match`; planners never act themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from miniorch.reconcile.views import PodView


@dataclass(frozen=True)
class CreatePod:
    """Record a new pod, then (if it has a node) create and start its container."""

    pod: PodView


@dataclass(frozen=True)
class BindPod:
    """Give an unscheduled pod a node and start its container there."""

    pod_uid: str
    node: str


@dataclass(frozen=True)
class RestartPod:
    """Start the exited container of an OnFailure pod again, in place."""

    pod_uid: str


@dataclass(frozen=True)
class DeletePod:
    """Stop (grace period, then kill) and remove a pod's container; not a failure."""

    pod_uid: str
    reason: str


Action = CreatePod | BindPod | RestartPod | DeletePod


@dataclass(frozen=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str
