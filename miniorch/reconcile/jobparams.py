"""What the Job planner needs of a Job spec, and its timing settings (pure values).

The controller (controllers/jobs.py) builds `JobParams` from the manifest; `reconcile.job`
re-exports both names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from miniorch.reconcile import placement, policies
from miniorch.spec.enums import RestartPolicy


@dataclass(frozen=True)
class JobParams:
    """The parts of a Job spec the planner needs."""

    uid: str
    namespace: str
    name: str
    parallelism: int = 1
    completions: int | None = 1
    backoff_limit: int = 6
    restart_policy: str = RestartPolicy.NEVER
    suspend: bool = False
    indexed: bool = False
    backoff_limit_per_index: int | None = None
    max_failed_indexes: int | None = None
    failure_rules: tuple[policies.FailureRule, ...] = ()
    success_rules: tuple[policies.SuccessRule, ...] = ()
    active_deadline_seconds: int | None = None
    ttl_seconds_after_finished: int | None = None
    selection: placement.NodeSelection = field(default_factory=placement.NodeSelection)
    requests: placement.Resources = field(default_factory=placement.Resources)
    pod_labels: Mapping[str, str] = field(default_factory=dict)
    pod_annotations: Mapping[str, str] = field(default_factory=dict)
    container_name: str = ""


@dataclass(frozen=True)
class Timing:
    backoff_initial: float = 10.0
    backoff_max: float = 360.0
