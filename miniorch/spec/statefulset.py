"""apps/v1 StatefulSet, with Kubernetes defaults and validation.

Each replica gets one Docker named volume per `volumeClaimTemplates` entry; the claim's
`accessModes`, `storageClassName` and `resources.requests.storage` are kept and shown with
a warning (Docker local volumes, no size). Fields miniorch does not implement are rejected.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, ModelWrapValidatorHandler, model_validator

from miniorch.spec import pod as pod_mod
from miniorch.spec.base import (
    MAX_INT32,
    DnsLabel,
    Issue,
    K8sModel,
    Labels,
    MemoryQuantity,
    NotSupported,
    ServerSet,
    Warn,
    fail,
)
from miniorch.spec.enums import RestartPolicy
from miniorch.spec.meta import LabelSelector, ObjectMeta
from miniorch.spec.pod import PodTemplateSpec

NonNegative = Annotated[int, Field(ge=0, le=MAX_INT32)]
LOCAL_VOLUME = "kept and shown: miniorch uses a Docker local volume on the replica's node"
NO_SIZE = "kept and shown: Docker local volumes have no size"
AccessMode = Literal["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"]
#: Kubernetes' limit: the pod name gets "-<ordinal>" and its labels must stay valid.
NAME_MAX = 52


class ClaimRequests(K8sModel):
    storage: Annotated[MemoryQuantity | None, Warn(NO_SIZE)] = None


class ClaimResources(K8sModel):
    requests: ClaimRequests = Field(default_factory=ClaimRequests)
    limits: NotSupported = None


class ClaimSpec(K8sModel):
    """A PersistentVolumeClaimSpec, as far as a Docker named volume can honour it."""

    access_modes: Annotated[list[AccessMode] | None, Warn(LOCAL_VOLUME)] = None
    storage_class_name: Annotated[str | None, Warn(LOCAL_VOLUME)] = None
    resources: ClaimResources = Field(default_factory=ClaimResources)
    volume_mode: Literal["Filesystem"] | None = None
    claim_selector: NotSupported = Field(default=None, alias="selector")
    volume_name: NotSupported = None
    data_source: NotSupported = None
    data_source_ref: NotSupported = None
    volume_attributes_class_name: NotSupported = None


class ClaimMeta(K8sModel):
    name: DnsLabel
    labels: Labels = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    namespace: NotSupported = None
    creation_timestamp: ServerSet = None


class ClaimTemplate(K8sModel):
    """One `volumeClaimTemplates` entry: a volume `<name>-<statefulset>-<ordinal>` per replica."""

    api_version: Literal["v1"] | None = None
    kind: Literal["PersistentVolumeClaim"] | None = None
    metadata: ClaimMeta
    spec: ClaimSpec = Field(default_factory=ClaimSpec)
    status: ServerSet = None


class RollingUpdateStatefulSet(K8sModel):
    partition: NonNegative = 0
    max_unavailable: NotSupported = None


class StatefulSetUpdateStrategy(K8sModel):
    type: Literal["RollingUpdate", "OnDelete"] = "RollingUpdate"
    rolling_update: RollingUpdateStatefulSet | None = None

    @model_validator(mode="after")
    def _check(self) -> StatefulSetUpdateStrategy:
        if self.type == "OnDelete" and self.rolling_update is not None:
            fail(
                "updateStrategy",
                [Issue(("rollingUpdate",), "Forbidden: only allowed for updateStrategy 'RollingUpdate'")],
            )
        return self

    @property
    def partition(self) -> int:
        return self.rolling_update.partition if self.rolling_update else 0


class RetentionPolicy(K8sModel):
    """Whether a replica's volumes outlive it: on StatefulSet deletion, and on scale-down."""

    when_deleted: Literal["Retain", "Delete"] = "Retain"
    when_scaled: Literal["Retain", "Delete"] = "Retain"


class StatefulSetSpec(K8sModel):
    """apps/v1 StatefulSetSpec."""

    service_name: str | None = None
    replicas: NonNegative = 1
    selector: LabelSelector
    template: PodTemplateSpec
    min_ready_seconds: NonNegative = 0
    pod_management_policy: Literal["OrderedReady", "Parallel"] = "OrderedReady"
    update_strategy: StatefulSetUpdateStrategy = Field(default_factory=StatefulSetUpdateStrategy)
    revision_history_limit: NonNegative = 10
    persistent_volume_claim_retention_policy: RetentionPolicy = Field(default_factory=RetentionPolicy)
    volume_claim_templates: list[ClaimTemplate] = Field(default_factory=list)
    ordinals: NotSupported = None

    @model_validator(mode="wrap")
    @classmethod
    def _claims_are_volumes(cls, data: Any, handler: ModelWrapValidatorHandler[StatefulSetSpec]) -> StatefulSetSpec:
        """The template's volumeMounts may name the claim templates (as in Kubernetes)."""
        claims = data.get("volumeClaimTemplates") if isinstance(data, dict) else None
        names = frozenset(
            str(c["metadata"]["name"])
            for c in claims or []
            if isinstance(c, dict) and isinstance(c.get("metadata"), dict) and "name" in c["metadata"]
        )
        token = pod_mod.CLAIM_NAMES.set(names)
        try:
            return handler(_default_restart_policy(data))
        finally:
            pod_mod.CLAIM_NAMES.reset(token)

    @model_validator(mode="after")
    def _check(self) -> StatefulSetSpec:
        issues: list[Issue] = []
        policy = self.template.spec.restart_policy
        if policy not in (None, RestartPolicy.ALWAYS.value):
            issues.append(
                Issue(
                    ("template", "spec", "restartPolicy"),
                    f'Unsupported value: "{policy}": supported values: "Always"',
                    "StatefulSet pods run until deleted; remove restartPolicy",
                )
            )
        if self.selector.is_empty():
            issues.append(Issue(("selector",), "Invalid value: empty selector is invalid for statefulset"))
        elif not self.selector.matches(self.template.metadata.labels):
            issues.append(
                Issue(
                    ("template", "metadata", "labels"),
                    f"Invalid value: {self.template.metadata.labels!r}: `selector` does not match template `labels`",
                    "give the template the labels listed in spec.selector.matchLabels",
                )
            )
        volumes = {v.name for v in self.template.spec.volumes}
        seen: set[str] = set()
        for i, claim in enumerate(self.volume_claim_templates):
            name = claim.metadata.name
            if name in seen or name in volumes:
                issues.append(Issue(("volumeClaimTemplates", i, "metadata", "name"), f"Duplicate value: {name!r}"))
            seen.add(name)
        fail("StatefulSetSpec", issues)
        return self

    def volume_name(self, claim: str, statefulset: str, ordinal: int) -> str:
        """The Docker named volume of one replica's claim: Kubernetes' PVC name."""
        return f"{claim}-{statefulset}-{ordinal}"


def _default_restart_policy(data: Any) -> Any:
    template = data.get("template") if isinstance(data, dict) else None
    spec = template.get("spec") if isinstance(template, dict) else None
    if (
        isinstance(template, dict)
        and isinstance(spec, dict)
        and spec.get("restartPolicy") is None
        and spec.get("restart_policy") is None
    ):
        return {**data, "template": {**template, "spec": {**spec, "restartPolicy": RestartPolicy.ALWAYS.value}}}
    return data


class StatefulSet(K8sModel):
    """apps/v1 StatefulSet."""

    api_version: Literal["apps/v1"] = "apps/v1"
    kind: Literal["StatefulSet"] = "StatefulSet"
    metadata: ObjectMeta
    spec: StatefulSetSpec
    status: ServerSet = None

    @model_validator(mode="after")
    def _name_fits(self) -> StatefulSet:
        if len(self.metadata.name) > NAME_MAX:
            fail(
                "StatefulSet",
                [
                    Issue(
                        ("metadata", "name"),
                        f"Invalid value: {self.metadata.name!r}: must be no more than {NAME_MAX} characters",
                    )
                ],
            )
        return self
