"""Pure podFailurePolicy classification and successPolicy evaluation (reconcile.policies)."""

from __future__ import annotations

import datetime as dt

import pytest

from miniorch.reconcile.policies import (
    FailureRule,
    Outcome,
    SuccessRule,
    classify,
    success_met,
    success_rules,
)
from miniorch.reconcile.views import PodPhase, PodView

NOW = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)


def pod(phase: PodPhase = PodPhase.FAILED, **fields: object) -> PodView:
    """A pod of the `pi` Job; Failed by default (set failures/exit_code/reason as needed)."""
    return PodView(
        uid="p1",
        name="pi-p1",
        namespace="default",
        owner_kind="Job",
        owner_name="pi",
        owner_uid="job-uid",
        node="node0",
        phase=phase,
        created_at=NOW,
        **fields,  # type: ignore[arg-type]
    )


def exited(code: int | None) -> PodView:
    """A restartPolicy Never pod that failed once with exit code `code`."""
    return pod(reason="Error", exit_code=code, failures=1, last_failure_at=NOW, finished_at=NOW)


def disrupted(reason: str) -> PodView:
    """A pod stopped by a disruption (NodeLost / Evicted): Failed, never a failed attempt by itself."""
    return pod(reason=reason, failures=0, finished_at=NOW)


def on_exit(action: str, operator: str, *values: int) -> FailureRule:
    """An onExitCodes rule."""
    return FailureRule(action, operator, frozenset(values))


def on_disruption(action: str, status: str = "True") -> FailureRule:
    """An onPodConditions rule on DisruptionTarget."""
    return FailureRule(action, conditions=(("DisruptionTarget", status),))


# --- classify: which pods are failures at all -------------------------------------------------------------------


@pytest.mark.parametrize(
    "subject",
    [
        pod(PodPhase.RUNNING),
        pod(PodPhase.PENDING),
        pod(PodPhase.UNKNOWN, reason="NodeUnreachable"),
        pod(PodPhase.SUCCEEDED, reason="Completed", exit_code=0),
        pod(PodPhase.RUNNING, restart_pending=True, failures=2, exit_code=1),
    ],
    ids=["running", "pending", "unknown", "succeeded", "onfailure-waiting-to-restart"],
)
def test_pods_not_in_phase_failed_are_never_failures(subject: PodView) -> None:
    """classify only judges pods in phase Failed; every other pod is NOT_A_FAILURE, whatever the rules say."""
    rules = (on_exit("FailJob", "NotIn", 7), on_disruption("Count"))
    assert classify(subject, rules) == (Outcome.NOT_A_FAILURE, -1)


@pytest.mark.parametrize("reason", ["Suspended", "ScaledDown", "DeadlineExceeded", "JobDeleted", "SuccessPolicy"])
def test_pods_stopped_by_miniorch_are_not_failures(reason: str) -> None:
    """A pod we stopped ourselves (failures 0, not a disruption) is not a failure, even if an exit-code rule would match."""
    stopped = pod(reason=reason, exit_code=137, failures=0, finished_at=NOW)
    assert classify(stopped, (on_exit("FailJob", "In", 137),)) == (Outcome.NOT_A_FAILURE, -1)
    assert classify(stopped, ()) == (Outcome.NOT_A_FAILURE, -1)


def test_failed_pod_without_rules_counts() -> None:
    """Without a podFailurePolicy every failed run counts."""
    assert classify(exited(1), ()) == (Outcome.COUNT, -1)


# --- classify: onExitCodes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "code", "expected"),
    [
        (on_exit("FailJob", "In", 1), 1, (Outcome.FAIL_JOB, 0)),
        (on_exit("FailJob", "In", 1), 2, (Outcome.COUNT, -1)),
        (on_exit("FailJob", "In", 1, 2, 3), 3, (Outcome.FAIL_JOB, 0)),
        (on_exit("Ignore", "In", 42), 42, (Outcome.IGNORE, 0)),
        (on_exit("Ignore", "In", 42), 41, (Outcome.COUNT, -1)),
        (on_exit("Count", "In", 5), 5, (Outcome.COUNT, 0)),
        (on_exit("FailIndex", "In", 9), 9, (Outcome.FAIL_INDEX, 0)),
        (on_exit("FailJob", "NotIn", 1, 2), 3, (Outcome.FAIL_JOB, 0)),
        (on_exit("FailJob", "NotIn", 1, 2), 2, (Outcome.COUNT, -1)),
        (on_exit("Ignore", "NotIn", 1), 137, (Outcome.IGNORE, 0)),
        (on_exit("FailJob", "In", 1), None, (Outcome.COUNT, -1)),
        (on_exit("FailJob", "NotIn", 1), None, (Outcome.COUNT, -1)),
    ],
    ids=[
        "In-match",
        "In-miss",
        "In-several-values",
        "Ignore-match",
        "Ignore-miss",
        "Count-match",
        "FailIndex-match",
        "NotIn-match",
        "NotIn-miss",
        "NotIn-Ignore-match",
        "In-no-exit-code",
        "NotIn-no-exit-code",
    ],
)
def test_exit_code_rules_follow_in_and_notin(
    rule: FailureRule, code: int | None, expected: tuple[Outcome, int]
) -> None:
    """onExitCodes In matches listed codes, NotIn matches any other non-zero code; a pod without exit code matches neither."""
    assert classify(exited(code), (rule,)) == expected


@pytest.mark.parametrize("values", [(1,), (1, 2), (7, 42, 255)])
def test_exit_code_zero_never_matches_a_notin_rule(values: tuple[int, ...]) -> None:
    """NotIn matches only non-zero exit codes outside its values: a container that exited 0 never satisfies it."""
    rule = on_exit("FailJob", "NotIn", *values)
    assert not rule.matches(exited(0), disrupted=False)
    assert classify(exited(0), (rule,)) == (Outcome.COUNT, -1)


@pytest.mark.parametrize(
    ("rules", "code", "expected"),
    [
        ((on_exit("Ignore", "In", 42), on_exit("FailJob", "NotIn", 7)), 42, (Outcome.IGNORE, 0)),
        ((on_exit("Ignore", "In", 42), on_exit("FailJob", "NotIn", 7)), 3, (Outcome.FAIL_JOB, 1)),
        ((on_exit("Ignore", "In", 42), on_exit("FailJob", "NotIn", 7)), 7, (Outcome.COUNT, -1)),
        ((on_exit("FailJob", "NotIn", 7), on_exit("Ignore", "In", 42)), 42, (Outcome.FAIL_JOB, 0)),
        ((on_exit("Count", "In", 1), on_exit("FailJob", "In", 1)), 1, (Outcome.COUNT, 0)),
        ((on_disruption("Ignore"), on_exit("Ignore", "In", 2), on_exit("FailJob", "In", 1, 2)), 2, (Outcome.IGNORE, 1)),
        (
            (on_disruption("Ignore"), on_exit("Ignore", "In", 2), on_exit("FailJob", "In", 1, 2)),
            1,
            (Outcome.FAIL_JOB, 2),
        ),
    ],
)
def test_first_matching_rule_wins(rules: tuple[FailureRule, ...], code: int, expected: tuple[Outcome, int]) -> None:
    """Rules are evaluated in order; the first one that matches decides, and its index is reported."""
    assert classify(exited(code), rules) == expected


# --- classify: DisruptionTarget ---------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["NodeLost", "Evicted"])
def test_disrupted_pods_are_not_failures_by_default(reason: str) -> None:
    """A NodeLost / Evicted pod is not the workload's fault: not counted unless a rule says so (DESIGN 4.2)."""
    assert classify(disrupted(reason), ()) == (Outcome.NOT_A_FAILURE, -1)
    assert classify(disrupted(reason), (on_exit("FailJob", "NotIn", 1),)) == (Outcome.NOT_A_FAILURE, -1)


@pytest.mark.parametrize("reason", ["NodeLost", "Evicted"])
@pytest.mark.parametrize(
    ("action", "outcome"),
    [
        ("Count", Outcome.COUNT),
        ("Ignore", Outcome.IGNORE),
        ("FailJob", Outcome.FAIL_JOB),
        ("FailIndex", Outcome.FAIL_INDEX),
    ],
)
def test_disruption_target_rule_decides_for_disrupted_pods(reason: str, action: str, outcome: Outcome) -> None:
    """An onPodConditions DisruptionTarget rule applies its action to NodeLost / Evicted pods."""
    assert classify(disrupted(reason), (on_disruption(action),)) == (outcome, 0)


def test_exit_code_rules_do_not_match_disrupted_pods() -> None:
    """A disrupted pod's exit code (e.g. 137 from the kill) is not matched by onExitCodes rules; the DisruptionTarget rule after them is."""
    pod_ = pod(reason="Evicted", exit_code=137, failures=0, finished_at=NOW)
    rules = (on_exit("FailJob", "In", 137), on_disruption("Count"))
    assert classify(pod_, rules) == (Outcome.COUNT, 1)


def test_disruption_target_rule_does_not_match_ordinary_failures() -> None:
    """A DisruptionTarget=True rule leaves a pod that simply exited non-zero to the next rules (or Count)."""
    assert classify(exited(1), (on_disruption("Ignore"),)) == (Outcome.COUNT, -1)
    assert classify(exited(1), (on_disruption("Ignore"), on_exit("FailJob", "In", 1))) == (Outcome.FAIL_JOB, 1)


def test_disruption_target_false_pattern_does_not_match_pods_without_the_condition() -> None:
    """A DisruptionTarget status=False pattern needs the condition present with False; an ordinary failure lacks it and is counted."""
    assert classify(exited(1), (on_disruption("Ignore", status="False"),)) == (Outcome.COUNT, -1)


def test_rules_on_other_condition_types_never_match() -> None:
    """Only DisruptionTarget is modelled: a ConfigIssue rule matches neither ordinary nor disrupted pods."""
    rule = FailureRule("Ignore", conditions=(("ConfigIssue", "True"),))
    assert classify(exited(1), (rule,)) == (Outcome.COUNT, -1)
    assert classify(disrupted("NodeLost"), (rule,)) == (Outcome.NOT_A_FAILURE, -1)


# --- successPolicy -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "succeeded", "met"),
    [
        ((SuccessRule(frozenset({0})),), {0}, True),
        ((SuccessRule(frozenset({0})),), {1, 2}, False),
        ((SuccessRule(frozenset({0})),), set(), False),
        ((SuccessRule(frozenset({0, 1, 2})),), {0, 1}, False),
        ((SuccessRule(frozenset({0, 1, 2})),), {0, 1, 2, 5}, True),
        ((SuccessRule(count=2),), {3}, False),
        ((SuccessRule(count=2),), {3, 7}, True),
        ((SuccessRule(count=2),), {0, 1, 2}, True),
        ((SuccessRule(frozenset({0, 1, 2}), count=2),), {0, 5, 6}, False),
        ((SuccessRule(frozenset({0, 1, 2}), count=2),), {0, 2}, True),
        ((SuccessRule(frozenset({0, 1, 2}), count=2),), {1, 2, 9}, True),
        ((SuccessRule(frozenset({0})), SuccessRule(count=3)), {1, 2, 3}, True),
        ((SuccessRule(frozenset({0})), SuccessRule(count=3)), {1, 2}, False),
        ((), {0, 1, 2}, False),
    ],
    ids=[
        "indexes-met",
        "indexes-other-succeeded",
        "indexes-none-succeeded",
        "indexes-partial",
        "indexes-superset",
        "count-short",
        "count-met",
        "count-exceeded",
        "both-outside-set-ignored",
        "both-met",
        "both-met-with-extra",
        "second-rule-met",
        "no-rule-met",
        "no-rules",
    ],
)
def test_success_policy_rules(rules: tuple[SuccessRule, ...], succeeded: set[int], met: bool) -> None:
    """Only indexes: all listed succeeded; only count: that many succeeded; both: that many within the set; any rule suffices."""
    assert success_met(rules, succeeded) is met


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ([("0", None)], (SuccessRule(frozenset({0}), None),)),
        ([(None, 3)], (SuccessRule(None, 3),)),
        ([("0-2,5", 2)], (SuccessRule(frozenset({0, 1, 2, 5}), 2),)),
        ([("0,1", None), (None, 1)], (SuccessRule(frozenset({0, 1}), None), SuccessRule(None, 1))),
        ([], ()),
    ],
)
def test_success_rules_parse_succeeded_indexes(
    raw: list[tuple[str | None, int | None]], expected: tuple[SuccessRule, ...]
) -> None:
    """success_rules turns (succeededIndexes, succeededCount) pairs into SuccessRules, expanding the interval string."""
    assert success_rules(raw) == expected
