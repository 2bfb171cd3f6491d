"""What a Job's pods add up to, and whether the Job has failed or succeeded by now (pure).

`tally` counts the pods after the podFailurePolicy (DESIGN.md 4.1: every failed run counts);
`failure` and `success` give the FailureTarget / SuccessCriteriaMet reason and message in
Kubernetes' order of precedence.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from miniorch.reconcile import jobsettled, policies, startretry
from miniorch.reconcile.jobparams import JobParams
from miniorch.reconcile.views import PodPhase, PodView
from miniorch.spec.enums import EventReason, RestartPolicy

REACHED = "Reached expected number of succeeded pods"


@dataclass(frozen=True)
class Tally:
    """What the Job's pods add up to, after the podFailurePolicy."""

    active: list[PodView]
    terminating: list[PodView]
    succeeded: int
    failed: int
    ready: int
    succeeded_indexes: set[int]
    index_failures: dict[int, int]
    fail_index: set[int]
    fail_job: str | None  # message of the first FailJob match
    settled: jobsettled.Settled  # the finished pods (succeeded_indexes is its set: read it only)


def _fail_job_message(job: JobParams, pod: PodView, rule: int) -> str:
    """Kubernetes' wording for a FailJob match, by exit code or by pod condition."""
    if pod.reason in policies.DISRUPTIONS:
        return f"Pod {pod.namespace}/{pod.name} has condition DisruptionTarget matching FailJob rule at index {rule}"
    return (
        f"Container {job.container_name} for pod {pod.namespace}/{pod.name} failed with exit code "
        f"{pod.exit_code} matching FailJob rule at index {rule}"
    )


def tally(job: JobParams, pods: Sequence[PodView], settled: jobsettled.Settled | None = None) -> Tally:
    """The Job's pods counted. `pods` in pod order; with `settled` (the finished pods summed up),
    `pods` are only the unfinished ones: a pass then walks those and the notable finished pods,
    not the thousands of a big Job."""
    if settled is None:
        settled, pods = jobsettled.split(pods)
    active: list[PodView] = []
    terminating: list[PodView] = []
    ready, failed = 0, 0
    index_failures: dict[int, int] = {}
    fail_index: set[int] = set()
    fail_job = None
    on_failure = job.restart_policy == RestartPolicy.ON_FAILURE
    # Only a Failed pod meets the podFailurePolicy, and those are all notable: the first FailJob
    # match in pod order is the first among them.
    for pod in itertools.chain(settled.notable, pods):
        phase = pod.phase
        if phase is PodPhase.SUCCEEDED:  # counted, with its index, by `settled`
            if not (on_failure and pod.failures):
                continue  # nothing of it counts as a failure
        elif not phase.terminal:
            if not pod.deletion_reason:
                active.append(pod)
                ready += phase is PodPhase.RUNNING and not pod.restart_pending
            else:
                terminating.append(pod)
        if on_failure:
            counted = pod.failures
        else:
            outcome, rule = policies.classify(pod, job.failure_rules)
            counted = (
                0 if outcome in (policies.Outcome.IGNORE, policies.Outcome.NOT_A_FAILURE) else max(1, pod.failures)
            )
            if outcome is policies.Outcome.FAIL_JOB and fail_job is None:
                fail_job = _fail_job_message(job, pod, rule)
            if outcome is policies.Outcome.FAIL_INDEX and pod.completion_index is not None:
                fail_index.add(pod.completion_index)
        failed += counted
        if counted and pod.completion_index is not None:
            index_failures[pod.completion_index] = index_failures.get(pod.completion_index, 0) + counted
    return Tally(
        active=active,
        terminating=terminating,
        succeeded=settled.succeeded,
        failed=failed,
        ready=ready,
        succeeded_indexes=settled.succeeded_indexes,
        index_failures=index_failures,
        fail_index=fail_index,
        fail_job=fail_job,
        settled=settled,
    )


def failed_indexes(job: JobParams, counted: Tally) -> set[int]:
    if job.backoff_limit_per_index is None:
        return set()
    over = {i for i, n in counted.index_failures.items() if n > job.backoff_limit_per_index}
    return (over | counted.fail_index) - counted.succeeded_indexes


def deadline(job: JobParams, start: dt.datetime | None) -> dt.datetime | None:
    if start is None or job.active_deadline_seconds is None or job.suspend:
        return None
    try:
        return start + dt.timedelta(seconds=job.active_deadline_seconds)
    except OverflowError:  # after the year 9999 (activeDeadlineSeconds is an int64): never
        return None


def failure(
    job: JobParams,
    counted: Tally,
    failed_idx: set[int],
    start: dt.datetime | None,
    now: dt.datetime,
    pods: Sequence[PodView],
) -> tuple[EventReason, str] | None:
    """Why the Job fails now, in Kubernetes' order of precedence, or None. `pods`: the unfinished
    ones (the finished are `counted.settled`)."""
    if counted.fail_job:
        return EventReason.POD_FAILURE_POLICY, counted.fail_job
    if counted.failed > job.backoff_limit:
        # A refused start leaves the pod Failed: notable, so the finished ones to look at are those.
        refusal = startretry.last_refusal([*counted.settled.notable, *pods])
        message = "Job has reached the specified backoff limit" + refusal
        return EventReason.BACKOFF_LIMIT_EXCEEDED, message
    ends = deadline(job, start)
    if ends is not None and now >= ends:
        return EventReason.DEADLINE_EXCEEDED, "Job was active longer than specified deadline"
    if job.max_failed_indexes is not None and len(failed_idx) > job.max_failed_indexes:
        message = "Job has exceeded the specified maximal number of failed indexes"
        return EventReason.MAX_FAILED_INDEXES_EXCEEDED, message
    if job.indexed and failed_idx and job.completions is not None:
        done = len(counted.succeeded_indexes) + len(failed_idx - counted.succeeded_indexes)  # the union's size
        if done >= job.completions:
            return EventReason.FAILED_INDEXES, "Job has failed indexes"
    return None


def success(job: JobParams, counted: Tally) -> tuple[str, str] | None:
    """The SuccessCriteriaMet reason and message, or None while the Job is not done."""
    if job.indexed:
        rule = policies.matching_success_rule(job.success_rules, counted.succeeded_indexes)
        if rule is not None:
            return "SuccessPolicy", f"Matched rules at index {rule}"
        if job.completions is not None and len(counted.succeeded_indexes) >= job.completions:
            return "CompletionsReached", REACHED
        return None
    if job.completions is None:
        ok = counted.succeeded > 0 and not counted.active
    else:
        ok = counted.succeeded >= job.completions
    return ("CompletionsReached", REACHED) if ok else None
