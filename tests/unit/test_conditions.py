"""Kubernetes-style status conditions as immutable tuples."""

from __future__ import annotations

import datetime as dt

from miniorch.reconcile.conditions import Condition, has_condition, set_condition

T0 = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(minutes=5)


def test_set_condition_appends_a_new_type() -> None:
    """A condition type not yet present is appended with now as its transition time."""
    conds = set_condition((), "Suspended", "JobSuspended", "Job suspended", T0)
    assert conds == (Condition("Suspended", "True", "JobSuspended", "Job suspended", T0),)
    more = set_condition(conds, "Complete", "CompletionsReached", "done", T1)
    assert [c.type for c in more] == ["Suspended", "Complete"]


def test_same_status_keeps_last_transition_time_but_updates_text() -> None:
    """Setting a condition to the status it already has keeps lastTransitionTime; reason and message update."""
    conds = set_condition((), "Ready", "A", "first", T0)
    again = set_condition(conds, "Ready", "B", "second", T1)
    assert again == (Condition("Ready", "True", "B", "second", T0),)


def test_status_change_moves_last_transition_time_in_place() -> None:
    """Changing a condition's status moves its transition time and keeps its position."""
    conds = set_condition(set_condition((), "Suspended", "JobSuspended", "s", T0), "Other", "X", "x", T0)
    resumed = set_condition(conds, "Suspended", "JobResumed", "r", T1, status="False")
    assert resumed[0] == Condition("Suspended", "False", "JobResumed", "r", T1)
    assert resumed[1] == conds[1]


def test_set_condition_does_not_mutate_its_input() -> None:
    """The original tuple is unchanged; a new one is returned."""
    conds = set_condition((), "Ready", "A", "a", T0)
    set_condition(conds, "Ready", "B", "b", T1, status="False")
    assert conds == (Condition("Ready", "True", "A", "a", T0),)


def test_has_condition_needs_status_true() -> None:
    """has_condition is true only for a present condition whose status is True."""
    conds = (Condition("Suspended", "False", "JobResumed", "", T0), Condition("Complete", "True", "C", "", T0))
    assert has_condition(conds, "Complete")
    assert not has_condition(conds, "Suspended")
    assert not has_condition(conds, "Failed")


def test_condition_dict_round_trip_uses_kubernetes_field_names() -> None:
    """to_dict gives batch/v1 field names with RFC 3339 UTC times, and from_dict reads it back."""
    cond = Condition("Failed", "True", "BackoffLimitExceeded", "Job has reached the specified backoff limit", T1)
    data = cond.to_dict()
    assert data == {
        "type": "Failed",
        "status": "True",
        "reason": "BackoffLimitExceeded",
        "message": "Job has reached the specified backoff limit",
        "lastProbeTime": "2024-05-01T12:05:00Z",
        "lastTransitionTime": "2024-05-01T12:05:00Z",
    }
    assert Condition.from_dict(data) == cond
    assert Condition.from_dict({"type": "X", "status": "True", "lastTransitionTime": "2024-05-01T12:05:00Z"}) == (
        Condition("X", "True", "", "", T1)
    )
