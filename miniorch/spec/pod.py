"""The pod template (core/v1 PodTemplateSpec) shared by Job, CronJob and DaemonSet.

One container per pod; volumes are hostPath, emptyDir, configMap or secret; placement uses
nodeSelector and required nodeAffinity terms. Pod fields with no effect on a
Docker host are accepted with a warning (`Ignored`): serviceAccountName,
serviceAccount, automountServiceAccountToken, dnsPolicy, priorityClassName,
priority, preemptionPolicy, tolerations, securityContext, schedulerName,
enableServiceLinks, imagePullSecrets, subdomain, shareProcessNamespace (and,
on the container, terminationMessagePath and terminationMessagePolicy).
"""

from __future__ import annotations

import contextvars
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from miniorch.spec.base import DnsLabel, Ignored, Issue, K8sModel, MemoryQuantity, NotSupported, fail
from miniorch.spec.container import Container
from miniorch.spec.meta import TemplateMeta, operator_issues

#: The values of `spec.enums.RestartPolicy`, spelled as a Literal so pydantic's messages and the
#: JSON schema stay those of a string field (tests/unit/test_enums.py keeps the two equal).
RestartPolicyName = Literal["Always", "OnFailure", "Never"]
#: Names a volumeMount may use besides spec.volumes: a StatefulSet's volumeClaimTemplates, set by
#: its spec model while its template is validated (spec.statefulset).
CLAIM_NAMES: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar("claim_names", default=frozenset())


class HostPathVolumeSource(K8sModel):
    """A directory or file of the node (allowed prefixes are daemon policy)."""

    path: Annotated[str, Field(pattern=r"^/")]
    type: Literal[
        "", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", "BlockDevice"
    ] = ""


class EmptyDirVolumeSource(K8sModel):
    """A scratch volume that lives as long as the pod; medium Memory is a tmpfs."""

    medium: Literal["", "Memory"] = ""
    size_limit: MemoryQuantity | None = None


FileMode = Annotated[int, Field(ge=0, le=0o777)]


class KeyToPath(K8sModel):
    """One key of a ConfigMap or Secret volume, at a relative `path` (no '..'), with its own `mode`."""

    key: Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")]
    path: Annotated[str, Field(min_length=1, max_length=4096)]
    mode: FileMode | None = None

    @model_validator(mode="after")
    def _relative(self) -> KeyToPath:
        parts = self.path.split("/")
        if self.path.startswith("/") or ".." in parts:
            fail("KeyToPath", [Issue(("path",), f"Invalid value: {self.path!r}: must be a relative path without '..'")])
        return self


class ConfigMapVolumeSource(K8sModel):
    """The keys of a ConfigMap as files (all of them, or `items`), read-only, `defaultMode` 0644."""

    name: DnsLabel
    items: list[KeyToPath] = Field(default_factory=list)
    default_mode: FileMode = 0o644
    optional: bool = False


class SecretVolumeSource(K8sModel):
    """The keys of a Secret as files (all of them, or `items`), read-only, `defaultMode` 0644."""

    secret_name: DnsLabel
    items: list[KeyToPath] = Field(default_factory=list)
    default_mode: FileMode = 0o644
    optional: bool = False


class Volume(K8sModel):
    """A named pod volume with exactly one source."""

    name: DnsLabel
    host_path: HostPathVolumeSource | None = None
    empty_dir: EmptyDirVolumeSource | None = None
    config_map: ConfigMapVolumeSource | None = None
    secret: SecretVolumeSource | None = None

    persistent_volume_claim: NotSupported = None
    projected: NotSupported = None
    downward_api: NotSupported = Field(default=None, alias="downwardAPI")
    nfs: NotSupported = None
    csi: NotSupported = None
    ephemeral: NotSupported = None
    image: NotSupported = None
    git_repo: NotSupported = None
    iscsi: NotSupported = None
    glusterfs: NotSupported = None
    rbd: NotSupported = None
    cephfs: NotSupported = None
    cinder: NotSupported = None
    fc: NotSupported = None
    flex_volume: NotSupported = None
    flocker: NotSupported = None
    aws_elastic_block_store: NotSupported = None
    gce_persistent_disk: NotSupported = None
    azure_disk: NotSupported = None
    azure_file: NotSupported = None
    vsphere_volume: NotSupported = None
    quobyte: NotSupported = None
    photon_persistent_disk: NotSupported = None
    portworx_volume: NotSupported = None
    scale_io: NotSupported = Field(default=None, alias="scaleIO")
    storageos: NotSupported = None

    @model_validator(mode="after")
    def _one_source(self) -> Volume:
        sources = [self.host_path, self.empty_dir, self.config_map, self.secret]
        if sum(source is not None for source in sources) != 1:
            fail("Volume", [Issue((), "must specify exactly one of: `hostPath`, `emptyDir`, `configMap` or `secret`")])
        return self

    @property
    def holds_config(self) -> bool:
        """A configMap or secret volume: its files are written into the container before it starts."""
        return self.config_map is not None or self.secret is not None


class NodeSelectorRequirement(K8sModel):
    """A node label requirement (Gt/Lt are not supported)."""

    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_values(self) -> NodeSelectorRequirement:
        fail("NodeSelectorRequirement", operator_issues(self.operator, self.values))
        return self


class NodeSelectorTerm(K8sModel):
    """Requirements ANDed together; the terms of a NodeSelector are ORed."""

    match_expressions: list[NodeSelectorRequirement] = Field(default_factory=list)
    match_fields: NotSupported = None


class NodeSelector(K8sModel):
    """requiredDuringSchedulingIgnoredDuringExecution."""

    node_selector_terms: Annotated[list[NodeSelectorTerm], Field(min_length=1)]


class NodeAffinity(K8sModel):
    """Only the required (hard) node affinity is implemented."""

    required_during_scheduling_ignored_during_execution: NodeSelector | None = None
    preferred_during_scheduling_ignored_during_execution: NotSupported = None


class Affinity(K8sModel):
    """Pod affinity and anti-affinity need pods to schedule against: not supported."""

    node_affinity: NodeAffinity | None = None
    pod_affinity: NotSupported = None
    pod_anti_affinity: NotSupported = None


class PodSpec(K8sModel):
    """core/v1 PodSpec restricted to one container on a Docker host."""

    containers: list[Container]
    restart_policy: RestartPolicyName | None = None  # defaulted by the workload kind
    node_selector: dict[str, str] = Field(default_factory=dict)
    affinity: Affinity | None = None
    hostname: DnsLabel | None = None
    host_network: bool = False
    termination_grace_period_seconds: Annotated[int, Field(ge=0)] = 30
    volumes: list[Volume] = Field(default_factory=list)

    service_account_name: Ignored[str | None] = None
    service_account: Ignored[str | None] = None
    automount_service_account_token: Ignored[bool | None] = None
    dns_policy: Ignored[str | None] = None
    priority_class_name: Ignored[str | None] = None
    priority: Ignored[int | None] = None
    preemption_policy: Ignored[str | None] = None
    tolerations: Ignored[list[dict[str, Any]] | None] = None
    security_context: Ignored[dict[str, Any] | None] = None
    scheduler_name: Ignored[str | None] = None
    enable_service_links: Ignored[bool | None] = None
    image_pull_secrets: Ignored[list[dict[str, Any]] | None] = None
    subdomain: Ignored[str | None] = None
    share_process_namespace: Ignored[bool | None] = None

    init_containers: NotSupported = None
    ephemeral_containers: NotSupported = None
    node_name: NotSupported = None
    host_pid: NotSupported = Field(default=None, alias="hostPID")
    host_ipc: NotSupported = Field(default=None, alias="hostIPC")
    host_users: NotSupported = None
    host_aliases: NotSupported = None
    dns_config: NotSupported = None
    active_deadline_seconds: NotSupported = None
    readiness_gates: NotSupported = None
    runtime_class_name: NotSupported = None
    overhead: NotSupported = None
    topology_spread_constraints: NotSupported = None
    scheduling_gates: NotSupported = None
    resource_claims: NotSupported = None
    os: NotSupported = None
    set_hostname_as_fqdn: NotSupported = Field(default=None, alias="setHostnameAsFQDN")

    @property
    def container(self) -> Container:
        """The pod's single container."""
        return self.containers[0]

    @model_validator(mode="after")
    def _check(self) -> PodSpec:
        issues: list[Issue] = []
        if len(self.containers) != 1:
            issues.append(
                Issue(
                    ("containers",),
                    "Required value: one container"
                    if not self.containers
                    else "only one container per pod is supported",
                    None if not self.containers else "run the other containers as their own Job or DaemonSet",
                )
            )
        names: set[str] = set()
        for i, volume in enumerate(self.volumes):
            if volume.name in names:
                issues.append(Issue(("volumes", i, "name"), f"Duplicate value: {volume.name!r}"))
            names.add(volume.name)
        by_name = {v.name: v for v in self.volumes}
        names |= CLAIM_NAMES.get()
        for c, container in enumerate(self.containers):
            for m, mount in enumerate(container.volume_mounts):
                if mount.name not in names:
                    issues.append(
                        Issue(
                            ("containers", c, "volumeMounts", m, "name"),
                            f"Not found: {mount.name!r}",
                            "declare the volume under spec.template.spec.volumes",
                        )
                    )
                elif mount.sub_path is not None and not ((v := by_name.get(mount.name)) is not None and v.holds_config):
                    issues.append(
                        Issue(
                            ("containers", c, "volumeMounts", m, "subPath"),
                            "not supported for hostPath and emptyDir volumes",
                            "mount the folder itself, or a configMap or secret volume",
                        )
                    )
                elif mount.sub_path is not None and (
                    mount.sub_path.startswith("/") or ".." in mount.sub_path.split("/")
                ):
                    issues.append(
                        Issue(
                            ("containers", c, "volumeMounts", m, "subPath"),
                            f"Invalid value: {mount.sub_path!r}: must be a relative path without '..'",
                        )
                    )
        fail("PodSpec", issues)
        return self


class PodTemplateSpec(K8sModel):
    """metadata (labels, annotations) and spec of the pods a workload creates."""

    metadata: TemplateMeta = Field(default_factory=TemplateMeta)
    spec: PodSpec
