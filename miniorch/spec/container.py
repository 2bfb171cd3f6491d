"""The container of a pod template (core/v1 Container), as far as Docker can run it.

Supported: image, command, args, env (values, and valueFrom / envFrom ConfigMaps and Secrets), workingDir, cpu/memory resources,
ports, volumeMounts, imagePullPolicy, securityContext.privileged/runAsUser and
an exec readinessProbe. Other Kubernetes container fields are rejected.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from miniorch.spec import quantity
from miniorch.spec.base import (
    CpuQuantity,
    DnsLabel,
    Ignored,
    Issue,
    K8sModel,
    MemoryQuantity,
    NotSupported,
    fail,
)

PullPolicy = Literal["Always", "IfNotPresent", "Never"]
Port = Annotated[int, Field(ge=1, le=65535)]
NonNegative = Annotated[int, Field(ge=0)]
Positive = Annotated[int, Field(ge=1)]
#: More env entries than this are refused (a guard against runaway generated manifests).
MAX_ENV = 1000


def default_pull_policy(image: str) -> PullPolicy:
    """Kubernetes' default: Always for `:latest` or an untagged, undigested image."""
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        name, _, _ = last.partition("@")
        tag = name.partition(":")[2]
        return "Always" if tag == "latest" else "IfNotPresent"
    tag = last.partition(":")[2]
    return "Always" if tag in ("", "latest") else "IfNotPresent"


class KeySelector(K8sModel):
    """One key of a ConfigMap or Secret in the pod's namespace (`configMapKeyRef` / `secretKeyRef`)."""

    name: DnsLabel
    key: Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")]
    optional: bool = False


class EnvVarSource(K8sModel):
    """Where an env value comes from: a key of a ConfigMap or a Secret (resolved at each pod's start)."""

    config_map_key_ref: KeySelector | None = None
    secret_key_ref: KeySelector | None = None
    field_ref: NotSupported = None
    resource_field_ref: NotSupported = None

    @model_validator(mode="after")
    def _one_source(self) -> EnvVarSource:
        if (self.config_map_key_ref is None) == (self.secret_key_ref is None):
            fail("EnvVarSource", [Issue((), "must specify exactly one of: `configMapKeyRef` or `secretKeyRef`")])
        return self


class EnvVar(K8sModel):
    """An environment variable: a literal `value`, or `valueFrom` a ConfigMap or Secret key."""

    name: Annotated[str, Field(min_length=1)]
    value: str = ""
    value_from: EnvVarSource | None = None

    @model_validator(mode="after")
    def _value_or_source(self) -> EnvVar:
        if self.value and self.value_from is not None:
            fail("EnvVar", [Issue(("valueFrom",), "Invalid value: may not be specified when `value` is not empty")])
        return self


class ObjectRef(K8sModel):
    """A whole ConfigMap or Secret (`envFrom[].configMapRef` / `secretRef`)."""

    name: DnsLabel
    optional: bool = False


class EnvFromSource(K8sModel):
    """Every key of a ConfigMap or Secret as a variable, each name after `prefix`."""

    prefix: str = ""
    config_map_ref: ObjectRef | None = None
    secret_ref: ObjectRef | None = None

    @model_validator(mode="after")
    def _one_source(self) -> EnvFromSource:
        if (self.config_map_ref is None) == (self.secret_ref is None):
            fail("EnvFromSource", [Issue((), "must specify exactly one of: `configMapRef` or `secretRef`")])
        return self


class ResourceList(K8sModel):
    """cpu and memory quantities, kept in their original notation."""

    cpu: CpuQuantity | None = None
    memory: MemoryQuantity | None = None
    ephemeral_storage: NotSupported = Field(default=None, alias="ephemeral-storage")

    @property
    def cpu_cores(self) -> float | None:
        """cpu in cores, or None when unset."""
        return None if self.cpu is None else quantity.parse_cpu(self.cpu)

    @property
    def memory_bytes(self) -> int | None:
        """memory in bytes, or None when unset."""
        return None if self.memory is None else quantity.parse_memory(self.memory)


class ResourceRequirements(K8sModel):
    """limits become Docker limits; requests are used for placement."""

    limits: ResourceList = Field(default_factory=ResourceList)
    requests: ResourceList = Field(default_factory=ResourceList)
    claims: NotSupported = None

    @model_validator(mode="after")
    def _requests_within_limits(self) -> ResourceRequirements:
        issues = []
        lim, req = self.limits, self.requests
        if lim.cpu_cores is not None and req.cpu_cores is not None and req.cpu_cores > lim.cpu_cores:
            issues.append(
                Issue(
                    ("requests", "cpu"),
                    f"Invalid value: {req.cpu!r}: must be less than or equal to cpu limit of {lim.cpu}",
                )
            )
        if lim.memory_bytes is not None and req.memory_bytes is not None and req.memory_bytes > lim.memory_bytes:
            issues.append(
                Issue(
                    ("requests", "memory"),
                    f"Invalid value: {req.memory!r}: must be less than or equal to memory limit of {lim.memory}",
                )
            )
        fail("ResourceRequirements", issues)
        return self


class ContainerPort(K8sModel):
    """A port; with hostPort it is published on the node."""

    container_port: Port
    host_port: Port | None = None
    protocol: Literal["TCP", "UDP"] = "TCP"
    name: Annotated[str, Field(max_length=15, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")] | None = None
    host_ip: NotSupported = Field(default=None, alias="hostIP")


class VolumeMount(K8sModel):
    """Mount of a pod volume (hostPath or emptyDir) into the container."""

    name: str
    mount_path: Annotated[str, Field(min_length=1, pattern=r"^/")]
    read_only: bool = False
    sub_path: Annotated[str, Field(min_length=1)] | None = None  # configMap and secret volumes only (PodSpec)
    sub_path_expr: NotSupported = None
    mount_propagation: NotSupported = None
    recursive_read_only: NotSupported = None


class SecurityContext(K8sModel):
    """Container securityContext: privileged (subject to daemon policy) and runAsUser."""

    privileged: bool = False
    run_as_user: NonNegative | None = None
    run_as_group: NotSupported = None
    run_as_non_root: NotSupported = None
    read_only_root_filesystem: NotSupported = None
    allow_privilege_escalation: NotSupported = None
    capabilities: NotSupported = None
    se_linux_options: NotSupported = Field(default=None, alias="seLinuxOptions")
    seccomp_profile: NotSupported = None
    app_armor_profile: NotSupported = None
    proc_mount: NotSupported = None
    windows_options: NotSupported = None


class ExecAction(K8sModel):
    """Command run inside the container; exit code 0 means success."""

    command: Annotated[list[str], Field(min_length=1)]


class Probe(K8sModel):
    """readinessProbe with an exec handler (Kubernetes defaults for timings)."""

    exec: ExecAction
    initial_delay_seconds: NonNegative = 0
    period_seconds: Positive = 10
    timeout_seconds: Positive = 1
    success_threshold: Positive = 1
    failure_threshold: Positive = 3
    http_get: NotSupported = None
    tcp_socket: NotSupported = None
    grpc: NotSupported = None
    termination_grace_period_seconds: NotSupported = None


class Container(K8sModel):
    """The one container of a pod."""

    name: DnsLabel
    image: Annotated[str, Field(min_length=1)]
    command: list[str] | None = None
    args: list[str] | None = None
    env: list[EnvVar] = Field(default_factory=list, max_length=MAX_ENV)
    env_from: list[EnvFromSource] = Field(default_factory=list, max_length=MAX_ENV)
    working_dir: str | None = None
    resources: ResourceRequirements = Field(default_factory=ResourceRequirements)
    ports: list[ContainerPort] = Field(default_factory=list)
    volume_mounts: list[VolumeMount] = Field(default_factory=list)
    image_pull_policy: PullPolicy = "IfNotPresent"
    security_context: SecurityContext | None = None
    readiness_probe: Probe | None = None

    termination_message_path: Ignored[str | None] = None
    termination_message_policy: Ignored[str | None] = None

    liveness_probe: NotSupported = None
    startup_probe: NotSupported = None
    lifecycle: NotSupported = None
    stdin: NotSupported = None
    stdin_once: NotSupported = None
    tty: NotSupported = None
    volume_devices: NotSupported = None
    resize_policy: NotSupported = None
    restart_policy: NotSupported = None

    @model_validator(mode="before")
    @classmethod
    def _default_pull_policy(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("image"), str):
            return data
        if data.get("imagePullPolicy") is None and data.get("image_pull_policy") is None:
            data = {**data, "imagePullPolicy": default_pull_policy(data["image"])}
        return data

    @model_validator(mode="after")
    def _unique_mounts(self) -> Container:
        issues: list[Issue] = []
        seen: set[str] = set()
        for i, mount in enumerate(self.volume_mounts):
            if mount.mount_path in seen:
                issues.append(
                    Issue(
                        ("volumeMounts", i, "mountPath"),
                        f"Invalid value: {mount.mount_path!r}: must be unique",
                    )
                )
            seen.add(mount.mount_path)
        fail("Container", issues)
        return self
