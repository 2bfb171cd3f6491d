"""The Job planner: plans each Job with `reconcile.job`; PodSync carries it out.

Runs inside the workload loop (controllers/workloads.py), which observes
containers and records once per pass for every kind.
"""

from __future__ import annotations

import datetime as dt
import secrets
import string
import uuid

import structlog

from miniorch import kinds
from miniorch.config import Config
from miniorch.controllers import jobviews
from miniorch.controllers.models import ModelCache
from miniorch.controllers.podsync import Observed, PodSync
from miniorch.metrics import Metrics
from miniorch.reconcile import job as job_logic
from miniorch.reconcile import placement, policies
from miniorch.spec import job as job_spec
from miniorch.spec import quantity
from miniorch.spec.enums import RestartPolicy
from miniorch.store.records import ObjectRecord
from miniorch.store.store import Store

log = structlog.get_logger(__name__)

_ALPHABET = string.ascii_lowercase + string.digits


def new_pod_id() -> tuple[str, str]:
    return "".join(secrets.choice(_ALPHABET) for _ in range(5)), str(uuid.uuid4())


def job_params(obj: ObjectRecord, job: job_spec.Job) -> job_logic.JobParams:
    spec = job.spec
    pod = spec.template.spec
    container = pod.containers[0]
    terms: tuple[tuple[placement.MatchExpression, ...], ...] = ()
    affinity = pod.affinity.node_affinity if pod.affinity else None
    required = affinity.required_during_scheduling_ignored_during_execution if affinity else None
    if required:
        terms = tuple(
            tuple(placement.MatchExpression(e.key, e.operator, tuple(e.values)) for e in t.match_expressions)
            for t in required.node_selector_terms
        )
    requests = container.resources.requests
    rules = spec.pod_failure_policy.rules if spec.pod_failure_policy else []
    return job_logic.JobParams(
        uid=obj.uid,
        namespace=obj.namespace,
        name=obj.name,
        parallelism=spec.parallelism if spec.parallelism is not None else 1,
        completions=spec.completions,
        backoff_limit=spec.backoff_limit,
        restart_policy=pod.restart_policy or RestartPolicy.NEVER,
        suspend=spec.suspend,
        indexed=spec.completion_mode == "Indexed",
        backoff_limit_per_index=spec.backoff_limit_per_index,
        max_failed_indexes=spec.max_failed_indexes,
        failure_rules=tuple(
            policies.FailureRule(
                r.action,
                r.on_exit_codes.operator if r.on_exit_codes else None,
                frozenset(r.on_exit_codes.values) if r.on_exit_codes else frozenset(),
                tuple((c.type, c.status) for c in r.on_pod_conditions or ()),
            )
            for r in rules
        ),
        success_rules=policies.success_rules(
            [(r.succeeded_indexes, r.succeeded_count) for r in spec.success_policy.rules] if spec.success_policy else []
        ),
        active_deadline_seconds=spec.active_deadline_seconds,
        ttl_seconds_after_finished=spec.ttl_seconds_after_finished,
        selection=placement.NodeSelection(dict(pod.node_selector), terms),
        requests=placement.Resources(
            quantity.parse_cpu(requests.cpu) if requests.cpu else 0.0,
            quantity.parse_memory(requests.memory) if requests.memory else 0,
        ),
        pod_labels=dict(spec.template.metadata.labels or {}),
        pod_annotations=dict(spec.template.metadata.annotations or {}),
        container_name=container.name,
    )


class JobPlanner:
    """Plans Jobs with `reconcile.job` and has PodSync carry the plan out."""

    kind = "Job"

    def __init__(
        self, config: Config, store: Store, pods: PodSync, models: ModelCache, metrics: Metrics | None = None
    ) -> None:
        self._metrics = metrics
        self._store = store
        self._pods = pods
        self._models = models
        self._views = jobviews.JobViews(store)
        self.apply_config(config)

    def apply_config(self, config: Config) -> None:
        self._timing = job_logic.Timing(
            config.timing.job_backoff_initial_seconds, config.timing.job_backoff_max_seconds
        )

    def begin_pass(self, seen: Observed) -> None:
        """The Jobs this pass no longer plans (deleted, or finished with their last container
        gone) are forgotten here and their pods' copies in the store's memory go."""
        self._views.keep(seen.owners)

    async def cancel(self) -> None:
        """Nothing runs off the pass: a Job's work is the pods' (PodRunner)."""

    def delete(self, obj: ObjectRecord, seen: Observed) -> None:
        if self._pods.delete_pods(obj, "JobDeleted"):
            self._store.delete_object(obj.uid)
            if self._metrics is not None and not (obj.owner_kind == "CronJob" and obj.owner_name):
                self._metrics.job_forgotten(obj.namespace, obj.name)  # a CronJob's series outlive its Jobs
            log.info("job_deleted", job=obj.name, namespace=obj.namespace)

    def reconcile(self, obj: ObjectRecord, seen: Observed) -> dt.datetime | None:
        now = seen.now
        job = self._models.job(obj)
        if _finished(obj) and obj.uid not in seen.live_owners and job.spec.ttl_seconds_after_finished is None:
            return None
        params = job_params(obj, job)
        previous = job_logic.status_from_dict(obj.status)
        pods = self._views.pods(obj.uid)  # the finished summed up: a pass walks the unfinished only
        plan = job_logic.plan_job(
            params, previous, pods.views, seen.nodes, seen.load, now, self._timing, new_pod_id, pods.settled
        )
        seen.load = plan.load  # the next Job of this pass sees the pods placed here
        self._pods.act(obj, plan.actions, pods.records)  # a plan acts on unfinished pods only
        for ev in plan.events:
            self._pods.event(obj, ev, now)
        if plan.delete_job:
            self._store.mark_deleting(obj.uid)
            log.info("job_expired", job=obj.name, namespace=obj.namespace, ttl=params.ttl_seconds_after_finished)
            return None
        status = job_logic.status_to_dict(plan.status)
        if status != obj.status:
            # A Job waiting for its TTL stays in the passes until it is deleted.
            done = plan.status.finished and params.ttl_seconds_after_finished is None
            self._store.save_status(obj.uid, status, finished=done)
            if plan.status.finished and not previous.finished:
                log.info(
                    "job_finished",
                    job=obj.name,
                    namespace=obj.namespace,
                    succeeded=plan.status.succeeded,
                    failed=plan.status.failed,
                    condition=plan.status.conditions[-1].type,
                )
                self._observe_duration(obj, plan.status, now)
        return plan.wake_at

    def _observe_duration(self, obj: ObjectRecord, status: job_logic.JobStatus, now: dt.datetime) -> None:
        """miniorch_job_duration_seconds: labelled by the CronJob (bounded), else by the Job's name."""
        if self._metrics is None or status.start_time is None:
            return
        end = status.completion_time or now
        owner = obj.owner_name if obj.owner_kind == "CronJob" and obj.owner_name else obj.name
        condition = str(status.conditions[-1].type)
        self._metrics.job_finished(obj.namespace, owner, condition, (end - status.start_time).total_seconds())


def _finished(obj: ObjectRecord) -> bool:
    return kinds.get(obj.kind).finished(obj.status)
