"""The closed string sets of the Kubernetes API that miniorch speaks: phases, policies, reasons.

StrEnums, so each member equals the string Kubernetes writes ("OnFailure" == RestartPolicy.ON_FAILURE)
and status dicts, events and manifests keep their exact text. The pure layer (`reconcile/`) and the
manifest models share them; nothing here imports the rest of miniorch.
"""

from __future__ import annotations

import enum


class PodPhase(enum.StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    UNKNOWN = "Unknown"

    @property
    def terminal(self) -> bool:
        return self in (PodPhase.SUCCEEDED, PodPhase.FAILED)


class RestartPolicy(enum.StrEnum):
    """A pod template's restartPolicy: Always for DaemonSets, Never or OnFailure for Jobs."""

    ALWAYS = "Always"
    ON_FAILURE = "OnFailure"
    NEVER = "Never"


class ConditionType(enum.StrEnum):
    """Job condition types (status.conditions[].type), plus the pod condition podFailurePolicy matches."""

    COMPLETE = "Complete"
    FAILED = "Failed"
    SUCCESS_CRITERIA_MET = "SuccessCriteriaMet"
    FAILURE_TARGET = "FailureTarget"
    SUSPENDED = "Suspended"
    DISRUPTION_TARGET = "DisruptionTarget"  # a pod condition: the pod was removed by a disruption


class EventReason(enum.StrEnum):
    """The reasons of the events the planners emit (as the Kubernetes controllers word them)."""

    SUCCESSFUL_CREATE = "SuccessfulCreate"
    SUCCESSFUL_DELETE = "SuccessfulDelete"
    FAILED_SCHEDULING = "FailedScheduling"
    COMPLETED = "Completed"
    SUSPENDED = "Suspended"
    RESUMED = "Resumed"
    # Job failures: the FailureTarget/Failed condition's reason, also sent as a Warning event
    POD_FAILURE_POLICY = "PodFailurePolicy"
    BACKOFF_LIMIT_EXCEEDED = "BackoffLimitExceeded"
    DEADLINE_EXCEEDED = "DeadlineExceeded"
    MAX_FAILED_INDEXES_EXCEEDED = "MaxFailedIndexesExceeded"
    FAILED_INDEXES = "FailedIndexes"
    # DaemonSet
    FAILED_DAEMON_POD = "FailedDaemonPod"
    # CronJob
    MISSING_JOB = "MissingJob"
    SAW_COMPLETED_JOB = "SawCompletedJob"
    MISS_SCHEDULE = "MissSchedule"
    JOB_ALREADY_ACTIVE = "JobAlreadyActive"
