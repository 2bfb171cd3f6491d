"""The manifest models in one namespace: `models.Job`, `models.CronJob`, `models.DaemonSet`.

Definitions live in `meta`, `container`, `pod`, `job` and `workloads`; this
module re-exports them so that other packages import one module. Which model
parses which kind is the kind registry's (`miniorch.kinds`); `ObjectModel` is
what every one of them offers to code that handles any kind.
"""

from __future__ import annotations

from typing import Any, Protocol

from miniorch.spec.container import (
    Container,
    ContainerPort,
    EnvVar,
    ExecAction,
    Probe,
    ResourceList,
    ResourceRequirements,
    SecurityContext,
    VolumeMount,
    default_pull_policy,
)
from miniorch.spec.job import (
    Job,
    JobSpec,
    JobTemplateSpec,
    PodFailurePolicy,
    PodFailurePolicyOnExitCodes,
    PodFailurePolicyOnPodCondition,
    PodFailurePolicyRule,
    SuccessPolicy,
    SuccessPolicyRule,
    parse_index_set,
)
from miniorch.spec.meta import LabelSelector, LabelSelectorRequirement, ObjectMeta, TemplateMeta
from miniorch.spec.pod import (
    Affinity,
    EmptyDirVolumeSource,
    HostPathVolumeSource,
    NodeAffinity,
    NodeSelector,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    PodSpec,
    PodTemplateSpec,
    Volume,
)
from miniorch.spec.workloads import (
    CronJob,
    CronJobSpec,
    DaemonSet,
    DaemonSetSpec,
    DaemonSetUpdateStrategy,
    RollingUpdateDaemonSet,
    scaled_value,
)


class ObjectModel(Protocol):
    """A validated top-level object of any kind (the model a `KindInfo.model` names)."""

    @property
    def api_version(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def metadata(self) -> ObjectMeta: ...

    def model_dump(self, *, mode: str = ..., by_alias: bool = ..., exclude_none: bool = ...) -> dict[str, Any]: ...


__all__ = [
    "Affinity",
    "Container",
    "ContainerPort",
    "CronJob",
    "CronJobSpec",
    "DaemonSet",
    "DaemonSetSpec",
    "DaemonSetUpdateStrategy",
    "EmptyDirVolumeSource",
    "EnvVar",
    "ExecAction",
    "HostPathVolumeSource",
    "Job",
    "JobSpec",
    "JobTemplateSpec",
    "LabelSelector",
    "LabelSelectorRequirement",
    "NodeAffinity",
    "NodeSelector",
    "NodeSelectorRequirement",
    "NodeSelectorTerm",
    "ObjectMeta",
    "ObjectModel",
    "PodFailurePolicy",
    "PodFailurePolicyOnExitCodes",
    "PodFailurePolicyOnPodCondition",
    "PodFailurePolicyRule",
    "PodSpec",
    "PodTemplateSpec",
    "Probe",
    "ResourceList",
    "ResourceRequirements",
    "RollingUpdateDaemonSet",
    "SecurityContext",
    "SuccessPolicy",
    "SuccessPolicyRule",
    "TemplateMeta",
    "Volume",
    "VolumeMount",
    "default_pull_policy",
    "parse_index_set",
    "scaled_value",
]
