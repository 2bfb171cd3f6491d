"""Pure evaluation of a Job's podFailurePolicy and successPolicy.

`classify` decides what one finished pod means for the Job (count it, ignore
it, fail the Job or its index); `success_met` checks the successPolicy rules.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from miniorch.reconcile.indexes import parse_intervals
from miniorch.reconcile.views import PodPhase, PodView
from miniorch.spec.enums import ConditionType

#: Reasons of pods removed by a disruption: they carry the DisruptionTarget condition.
DISRUPTIONS = frozenset({"NodeLost", "Evicted"})


class Outcome(enum.Enum):
    NOT_A_FAILURE = "none"  # succeeded, or stopped by us (suspend, scale-down, Job finished)
    COUNT = "Count"
    IGNORE = "Ignore"
    FAIL_JOB = "FailJob"
    FAIL_INDEX = "FailIndex"


@dataclass(frozen=True)
class FailureRule:
    action: str  # FailJob | FailIndex | Ignore | Count
    exit_operator: str | None = None  # In | NotIn
    exit_values: frozenset[int] = frozenset()
    conditions: tuple[tuple[str, str], ...] = ()  # (type, status)

    def matches(self, pod: PodView, disrupted: bool) -> bool:
        if self.exit_operator is not None:
            if disrupted or pod.exit_code is None:
                return False
            inside = pod.exit_code in self.exit_values
            return inside if self.exit_operator == "In" else (not inside and pod.exit_code != 0)
        # The pod must carry the condition with that status; we only ever set DisruptionTarget=True.
        return disrupted and any(t == ConditionType.DISRUPTION_TARGET and s == "True" for t, s in self.conditions)


@dataclass(frozen=True)
class SuccessRule:
    indexes: frozenset[int] | None = None
    count: int | None = None


def classify(pod: PodView, rules: Sequence[FailureRule]) -> tuple[Outcome, int]:
    """What a pod's failure means, and which rule (index) decided it (-1: none)."""
    if pod.phase is not PodPhase.FAILED:
        return Outcome.NOT_A_FAILURE, -1
    disrupted = pod.reason in DISRUPTIONS
    if not disrupted and not pod.failures:
        return Outcome.NOT_A_FAILURE, -1
    for i, rule in enumerate(rules):
        if rule.matches(pod, disrupted):
            return Outcome(rule.action), i
    # DESIGN 4.2: a disruption is not the workload's fault unless a rule says so.
    return (Outcome.NOT_A_FAILURE, -1) if disrupted else (Outcome.COUNT, -1)


def success_met(rules: Sequence[SuccessRule], succeeded: set[int]) -> bool:
    return matching_success_rule(rules, succeeded) is not None


def matching_success_rule(rules: Sequence[SuccessRule], succeeded: set[int]) -> int | None:
    """Index of the first successPolicy rule the succeeded indexes satisfy, or None."""
    for i, rule in enumerate(rules):
        scope = succeeded & rule.indexes if rule.indexes is not None else succeeded
        if rule.indexes is not None and rule.count is None and not rule.indexes <= succeeded:
            continue
        if rule.count is not None and len(scope) < rule.count:
            continue
        return i
    return None


def success_rules(raw: Sequence[tuple[str | None, int | None]]) -> tuple[SuccessRule, ...]:
    return tuple(SuccessRule(frozenset(parse_intervals(ix)) if ix is not None else None, count) for ix, count in raw)
