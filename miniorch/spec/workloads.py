"""batch/v1 CronJob and apps/v1 DaemonSet, with Kubernetes defaults and validation.

Schedules are parsed by `miniorch.reconcile.cron` at apply time (errors name the
cron field); CRON_TZ=/TZ= prefixes are refused (spec.timeZone replaces them).
"""

from __future__ import annotations

import json
import math
import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from miniorch.spec import cron
from miniorch.spec.base import MAX_INT32, Issue, K8sModel, NotSupported, ServerSet, fail
from miniorch.spec.enums import RestartPolicy
from miniorch.spec.job import JobTemplateSpec
from miniorch.spec.meta import LabelSelector, ObjectMeta
from miniorch.spec.pod import PodTemplateSpec

NonNegative = Annotated[int, Field(ge=0, le=MAX_INT32)]
CRONJOB_NAME_MAX = 52  # the Job name adds "-" and up to 10 digits
_TZ_PREFIX = re.compile(r"^\s*(CRON_TZ|TZ)=")
_PERCENT = re.compile(r"^(\d+)%$")


def _schedule(value: Any) -> Any:
    if isinstance(value, str):
        if not value.strip():
            raise PydanticCustomError("miniorch", "Required value", {"hint": 'e.g. "*/5 * * * *"'})
        if _TZ_PREFIX.match(value):
            raise PydanticCustomError(
                "miniorch",
                "Invalid value: cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
                {"hint": 'move the zone to spec.timeZone, e.g. timeZone: "Europe/Berlin"'},
            )
        try:
            cron.parse(value)
        except ValueError as exc:
            raise PydanticCustomError(
                "miniorch",
                "Invalid value: {value}: {reason}",
                {
                    "value": json.dumps(value),
                    "reason": str(exc),
                    "hint": 'minute hour day-of-month month day-of-week, e.g. "*/5 * * * *", '
                    'a macro such as "@hourly", or 6 fields with seconds first',
                },
            ) from exc
    return value


def _time_zone(value: Any) -> Any:
    if isinstance(value, str):
        try:
            cron.zone(value)  # the one check, shared with `miniorch schedule --tz`
        except ValueError as exc:
            raise PydanticCustomError("miniorch", "{reason}", {"reason": str(exc), "hint": cron.ZONE_HINT}) from exc
    return value


def _int_or_percent(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        match = _PERCENT.match(value)
        if match and int(match[1]) <= 100:
            return value
    raise PydanticCustomError(
        "miniorch",
        "Invalid value: {value}: must be a non-negative integer or a percentage of at most 100%",
        {"value": json.dumps(value, default=str), "hint": 'e.g. 1 or "25%"'},
    )


IntOrPercent = Annotated[int | str, BeforeValidator(_int_or_percent)]


def scaled_value(value: int | str, total: int, round_up: bool) -> int:
    """Resolve an int-or-percent against `total`, as Kubernetes' GetScaledValueFromIntOrPercent."""
    if isinstance(value, int):
        return value
    exact = int(value[:-1]) * total / 100
    return math.ceil(exact) if round_up else math.floor(exact)


class CronJobSpec(K8sModel):
    """batch/v1 CronJobSpec."""

    schedule: Annotated[str, BeforeValidator(_schedule)]
    time_zone: Annotated[str, BeforeValidator(_time_zone)] | None = None
    concurrency_policy: Literal["Allow", "Forbid", "Replace"] = "Allow"
    suspend: bool = False
    starting_deadline_seconds: NonNegative | None = None
    successful_jobs_history_limit: NonNegative = 3
    failed_jobs_history_limit: NonNegative = 1
    job_template: JobTemplateSpec


class CronJob(K8sModel):
    """batch/v1 (or the old batch/v1beta1) CronJob."""

    api_version: Literal["batch/v1", "batch/v1beta1"] = "batch/v1"
    kind: Literal["CronJob"] = "CronJob"
    metadata: ObjectMeta
    spec: CronJobSpec
    status: ServerSet = None

    @model_validator(mode="after")
    def _name_fits(self) -> CronJob:
        if len(self.metadata.name) > CRONJOB_NAME_MAX:
            fail(
                "CronJob",
                [
                    Issue(
                        ("metadata", "name"),
                        f"Invalid value: {self.metadata.name!r}: must be no more than {CRONJOB_NAME_MAX} characters",
                    )
                ],
            )
        return self


class RollingUpdateDaemonSet(K8sModel):
    """How many nodes may be without a ready pod, or have two, during an update."""

    max_unavailable: IntOrPercent = 1
    max_surge: IntOrPercent = 0

    @model_validator(mode="after")
    def _exactly_one_non_zero(self) -> RollingUpdateDaemonSet:
        unavailable_zero = self.max_unavailable in (0, "0%")
        surge_zero = self.max_surge in (0, "0%")
        if unavailable_zero and surge_zero:
            fail(
                "rollingUpdate",
                [Issue(("maxUnavailable",), "Invalid value: may not be 0 when maxSurge is 0")],
            )
        if not unavailable_zero and not surge_zero:
            fail(
                "rollingUpdate",
                [Issue(("maxUnavailable",), "Invalid value: must be 0 when maxSurge is non-zero")],
            )
        return self


class DaemonSetUpdateStrategy(K8sModel):
    """RollingUpdate (default) or OnDelete."""

    type: Literal["RollingUpdate", "OnDelete"] = "RollingUpdate"
    rolling_update: RollingUpdateDaemonSet | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_rolling_update(cls, data: Any) -> Any:
        if (
            isinstance(data, dict)
            and data.get("type", "RollingUpdate") == "RollingUpdate"
            and data.get("rollingUpdate") is None
            and data.get("rolling_update") is None
        ):
            data = {**data, "rollingUpdate": {}}
        return data

    @model_validator(mode="after")
    def _check(self) -> DaemonSetUpdateStrategy:
        if self.type == "OnDelete" and self.rolling_update is not None:
            fail(
                "updateStrategy",
                [
                    Issue(
                        ("rollingUpdate",),
                        "Forbidden: may not be specified when strategy `type` is 'OnDelete'",
                    )
                ],
            )
        return self


class DaemonSetSpec(K8sModel):
    """apps/v1 DaemonSetSpec."""

    selector: LabelSelector
    template: PodTemplateSpec
    update_strategy: DaemonSetUpdateStrategy = Field(default_factory=DaemonSetUpdateStrategy)
    min_ready_seconds: NonNegative = 0
    revision_history_limit: NonNegative = 10
    template_generation: NotSupported = None

    @model_validator(mode="before")
    @classmethod
    def _default_restart_policy(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        template = data.get("template")
        spec = template.get("spec") if isinstance(template, dict) else None
        if (
            isinstance(template, dict)
            and isinstance(spec, dict)
            and spec.get("restartPolicy") is None
            and spec.get("restart_policy") is None
        ):
            data = {**data, "template": {**template, "spec": {**spec, "restartPolicy": RestartPolicy.ALWAYS.value}}}
        return data

    @model_validator(mode="after")
    def _check(self) -> DaemonSetSpec:
        issues: list[Issue] = []
        policy = self.template.spec.restart_policy
        if policy not in (None, RestartPolicy.ALWAYS.value):
            issues.append(
                Issue(
                    ("template", "spec", "restartPolicy"),
                    f'Unsupported value: "{policy}": supported values: "Always"',
                    "daemon pods run until deleted; remove restartPolicy",
                )
            )
        if self.selector.is_empty():
            issues.append(Issue(("selector",), "Invalid value: empty selector is invalid for daemonset"))
        elif not self.selector.matches(self.template.metadata.labels):
            issues.append(
                Issue(
                    ("template", "metadata", "labels"),
                    f"Invalid value: {self.template.metadata.labels!r}: selector does not match template labels",
                    "give the template the labels listed in spec.selector.matchLabels",
                )
            )
        fail("DaemonSetSpec", issues)
        return self


class DaemonSet(K8sModel):
    """apps/v1 DaemonSet."""

    api_version: Literal["apps/v1"] = "apps/v1"
    kind: Literal["DaemonSet"] = "DaemonSet"
    metadata: ObjectMeta
    spec: DaemonSetSpec
    status: ServerSet = None
