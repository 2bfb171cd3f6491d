"""The typed edges: RestartPolicy, ConditionType, EventReason and PodPhase are the Kubernetes strings."""

from __future__ import annotations

import json
from typing import get_args

import pytest

from miniorch.reconcile import views
from miniorch.spec import enums, pod
from miniorch.store import records


@pytest.mark.parametrize(
    ("member", "text"),
    [
        (enums.RestartPolicy.ALWAYS, "Always"),
        (enums.RestartPolicy.ON_FAILURE, "OnFailure"),
        (enums.RestartPolicy.NEVER, "Never"),
        (enums.ConditionType.COMPLETE, "Complete"),
        (enums.ConditionType.FAILED, "Failed"),
        (enums.ConditionType.SUCCESS_CRITERIA_MET, "SuccessCriteriaMet"),
        (enums.ConditionType.FAILURE_TARGET, "FailureTarget"),
        (enums.ConditionType.SUSPENDED, "Suspended"),
        (enums.EventReason.SUCCESSFUL_CREATE, "SuccessfulCreate"),
        (enums.EventReason.BACKOFF_LIMIT_EXCEEDED, "BackoffLimitExceeded"),
        (enums.EventReason.FAILED_DAEMON_POD, "FailedDaemonPod"),
        (enums.PodPhase.SUCCEEDED, "Succeeded"),
    ],
)
def test_members_equal_the_strings_kubernetes_writes_and_serialise_as_them(member: str, text: str) -> None:
    """A member == its string, hashes like it and is written as it in JSON (status dicts, events)."""
    assert member == text and hash(member) == hash(text) and {text: 1}[member] == 1
    assert json.dumps({"reason": member}) == json.dumps({"reason": text})


def test_the_manifest_literal_allows_exactly_the_restart_policies() -> None:
    """spec.pod's Literal (kept for pydantic's messages) and RestartPolicy cannot drift apart."""
    assert set(get_args(pod.RestartPolicyName)) == {p.value for p in enums.RestartPolicy}


def test_pod_phase_has_one_definition() -> None:
    """The store's records and the planners' views share spec.enums.PodPhase (identity checks work across)."""
    assert records.PodPhase is enums.PodPhase is views.PodPhase
    assert enums.PodPhase.FAILED.terminal and not enums.PodPhase.UNKNOWN.terminal
