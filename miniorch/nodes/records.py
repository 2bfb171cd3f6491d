"""Plain frozen records that cross the Docker boundary, and our own errors.

Nothing outside `miniorch.nodes` sees a docker-py object or exception.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from miniorch.errors import MiniorchError, TemporaryError

MANAGED = "miniorch.io/managed"
#: Which miniorch (its store) owns a container: daemons sharing a Docker host never touch each other's.
CLUSTER = "miniorch.io/cluster"
OWNER_KIND = "miniorch.io/owner-kind"
OWNER_NAME = "miniorch.io/owner-name"
OWNER_UID = "miniorch.io/owner-uid"
NAMESPACE = "miniorch.io/namespace"
POD = "miniorch.io/pod"
POD_UID = "miniorch.io/pod-uid"
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"


class NodeError(MiniorchError):
    """Base of every error raised by `miniorch.nodes`."""

    def __init__(self, node: str, message: str) -> None:
        super().__init__(f"node {node!r}: {message}")
        self.node = node
        self.detail = message


class NodeUnavailable(NodeError, TemporaryError):
    """The node's Docker Engine did not answer; temporary, retry later."""


class NodeBusy(NodeUnavailable):
    """The call was not sent: as many calls to the node as its gate allows still wait for an
    answer (a burst, or a hung engine). Nothing is known of the node from it either way."""


class EngineError(NodeUnavailable):
    """The engine answered with a server error (HTTP 5xx, e.g. its bridge is gone): the node is
    up but could not do it. A NodeUnavailable for every caller but the pod launch, which counts
    it as a refused try (`reconcile.startretry`)."""


class NodeUntrusted(NodeUnavailable):
    """Trust failed: a certificate or host key did not verify, or a login was refused.
    Retrying does not help until the config or the host is fixed; the message says which."""

    temporary = False  # a NodeUnavailable to the controllers (the node is probed on), yet only a fix helps


class ImageNotFound(NodeError):
    """The image is not on the node and could not be pulled or copied."""


class ContainerConflict(NodeError):
    """A container with that name already exists on the node."""


class ContainerNotFound(NodeError):
    """No such container on the node."""


class DockerRejected(NodeError):
    """Docker refused the request (bad parameter, resource limits...); permanent."""


@dataclass(frozen=True)
class NodeInfo:
    name: str
    docker_version: str
    api_version: str
    cpus: int
    memory_bytes: int
    os: str
    kernel: str
    architecture: str


@dataclass(frozen=True)
class ContainerState:
    """What `docker ps -a` plus, for stopped ones, `docker inspect` tell."""

    id: str
    name: str
    node: str
    labels: dict[str, str]
    status: str  # created | running | paused | restarting | removing | exited | dead
    exit_code: int | None = None
    oom_killed: bool = False
    error: str = ""
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    inspected: bool = False
    health: str = ""  # "" (no healthcheck) | starting | healthy | unhealthy
    restart_count: int = 0  # Docker's own restarts (restart policy); from inspect only

    @property
    def pod(self) -> str:
        return self.labels.get(POD, self.name)

    @property
    def running(self) -> bool:
        return self.status in ("running", "restarting", "paused")

    @property
    def exited(self) -> bool:
        return self.status in ("exited", "dead")


@dataclass(frozen=True)
class PortBinding:
    container_port: int
    host_port: int | None
    protocol: str = "tcp"


@dataclass(frozen=True)
class Mount:
    source: str  # host path, or a volume name for emptyDir
    target: str
    read_only: bool = False
    is_volume: bool = False
    labels: tuple[tuple[str, str], ...] = ()  # of a named volume Docker creates on first use


@dataclass(frozen=True)
class HealthCheck:
    """A Docker healthcheck: `command` run in the container (exec form)."""

    command: tuple[str, ...]
    interval_seconds: float = 10
    timeout_seconds: float = 1
    retries: int = 3
    start_period_seconds: float = 0


@dataclass(frozen=True)
class ArchiveFile:
    """A file (or folder) written into a created container before it starts (ConfigMap/Secret volumes)."""

    path: str  # absolute, in the container
    data: bytes = field(default=b"", repr=False)
    mode: int = 0o644
    is_dir: bool = False


@dataclass(frozen=True)
class ContainerSpec:
    """Everything needed to create one pod's container, already validated."""

    name: str
    image: str
    labels: dict[str, str]
    command: tuple[str, ...] | None = None  # entrypoint override
    args: tuple[str, ...] | None = None
    env: dict[str, str] = field(default_factory=dict, repr=False)  # may hold Secret values: never printed
    working_dir: str | None = None
    hostname: str | None = None
    nano_cpus: int | None = None
    mem_limit: int | None = None
    ports: tuple[PortBinding, ...] = ()
    mounts: tuple[Mount, ...] = ()
    privileged: bool = False
    user: str | None = None
    host_network: bool = False
    pull: str = "IfNotPresent"  # Always | IfNotPresent | Never
    stop_grace_seconds: int = 30
    restart_policy: str | None = None  # Docker's: "unless-stopped" for long-running pods, None = never
    healthcheck: HealthCheck | None = None
    files: tuple[ArchiveFile, ...] = field(default=(), repr=False)  # put into the container before its start
    # What the launch must still read (the pod spec, when it names ConfigMaps or Secrets): resolved by
    # controllers.configrefs into env and files before the create; the nodes layer never reads it.
    config: object | None = field(default=None, repr=False)
