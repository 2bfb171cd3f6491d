"""The kind registry: every kind miniorch knows, each declared once in `REGISTRY`.

An entry holds the names (plural, aliases, `job.batch` group), the API versions a
manifest may use, the printer columns and field selectors of `ctl get`, the status
rules (finished, STATUS word, metrics state), and for stored kinds the spec model,
the controller and the pod template. The loader, the applier, the model cache, the
API, the printers and the metrics read it; adding a kind is its own modules plus one
entry here.

Light and heavy halves: `ctl` imports this module on start-up, so it and
`kinds.status` import nothing but the standard library. The heavy parts (spec
model, controller, printer row) are dotted paths `"module:attribute"` that `load()`
imports on first use: the daemon pays for pydantic, `ctl version` does not.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from miniorch.kinds import status

__all__ = ["GROUPS", "PLURAL", "POD_OWNERS", "REGISTRY", "WORKLOADS", "Columns", "Kind", "KindInfo", "get"]


class Kind(StrEnum):
    JOB = "Job"
    CRONJOB = "CronJob"
    DAEMONSET = "DaemonSet"
    STATEFULSET = "StatefulSet"
    SERVICE = "Service"
    POD = "Pod"
    NODE = "Node"
    EVENT = "Event"
    CONFIGMAP = "ConfigMap"
    SECRET = "Secret"


@dataclass(frozen=True)
class Columns:
    """`ctl get`'s table for a kind: headers, the headers of `-o wide`, and the row printer."""

    headers: tuple[str, ...]
    wide: tuple[str, ...]  # all the headers of -o wide, in order
    row: str  # "module:function", (served object, now, wide) -> one cell per header
    # "module:function", (served object, wide) -> the cells by the object alone, times as
    # `output.Since`: the API keeps these per resourceVersion and reads the times per answer.
    cells: str | None = None


Outcome = Callable[[Mapping[str, Any]], str | None]
Summary = Callable[[Mapping[str, Any]], str]
_COMMON_FIELDS = ("metadata.name", "metadata.namespace")
_WIDE = ("CONTAINERS", "IMAGES", "SELECTOR")


@dataclass(frozen=True)
class KindInfo:
    """One kind, as every part of miniorch sees it."""

    kind: Kind
    api_versions: tuple[str, ...]  # the first is the one served
    plural: str
    columns: Columns
    fields: tuple[str, ...] = _COMMON_FIELDS  # what --field-selector accepts
    short: tuple[str, ...] = ()  # kubectl's short names (cj, ds)
    namespaced: bool = True
    model: str | None = None  # "module:Class" of the spec model: set for kinds applied from manifests
    controller: str | None = None  # "module:Class" that reconciles its objects
    template: str | None = None  # where its pod template is in a manifest (camelCase path)
    owns_pods: bool = False  # its controller runs pods from that template (else it makes objects that do)
    lost_with_node: bool = False  # its pods on a NotReady node are NodeLost and replaced elsewhere
    evicted_by_drain: bool = False  # `ctl drain` evicts its pods (else they stay, --ignore-daemonsets)
    immutable_spec: tuple[str, ...] = ()  # spec fields fixed at creation
    mutable_spec: tuple[str, ...] | None = None  # when set, the only spec fields that may change
    outcome: Outcome = status.never  # "finished" rule over a stored status: its final word, or None
    summary: Summary | None = None  # the STATUS column of a served object
    describe: str | None = None  # "module:function" of `ctl describe`, (client, served object, now) -> text
    states: tuple[str, ...] = ()  # metrics states shown at 0 before any object has them
    update_check: str | None = None  # "module:function", (stored manifest, new manifest) -> why refused, or None

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def aliases(self) -> tuple[str, ...]:
        """Every resource name `ctl` accepts for the kind (`job.batch` too: the group is cut off)."""
        return (self.plural, self.singular, *self.short)

    @property
    def api_version(self) -> str:
        return self.api_versions[0]

    @property
    def version(self) -> str:
        """`v1` of `batch/v1`."""
        return self.api_version.rpartition("/")[2]

    @property
    def api_group(self) -> str:
        """`batch`, `apps`, or "" for the core group."""
        return self.api_version.rpartition("/")[0]

    @property
    def group(self) -> str:
        """kubectl's qualified name: `job.batch`, `daemonset.apps`, `pod`."""
        return f"{self.singular}.{self.api_group}" if self.api_group else self.singular

    @property
    def resource(self) -> str:
        """The API server's name of the resource in errors: `batch/v1, Resource=jobs`."""
        return f"{self.api_group}/{self.version}, Resource={self.plural}"

    @property
    def workload(self) -> bool:
        """Applied from manifests and stored as objects (has a spec model)."""
        return self.model is not None

    def finished(self, stored_status: Mapping[str, Any]) -> bool:
        return self.outcome(stored_status) is not None

    def state(self, manifest: Mapping[str, Any], stored_status: Mapping[str, Any]) -> str:
        """One word for the metrics: its outcome (lower case), else suspended or active."""
        return status.workload_state(self.outcome(stored_status), manifest)


REGISTRY: tuple[KindInfo, ...] = (
    KindInfo(
        Kind.JOB,
        ("batch/v1",),
        "jobs",
        Columns(
            ("NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"),
            ("NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE", *_WIDE),
            "miniorch.cli.output:_job_row",
            "miniorch.cli.output:job_cells",
        ),
        fields=(*_COMMON_FIELDS, "status.successful"),
        model="miniorch.spec.job:Job",
        controller="miniorch.controllers.jobs:JobPlanner",
        template="spec.template",
        owns_pods=True,
        lost_with_node=True,
        evicted_by_drain=True,
        mutable_spec=("parallelism", "suspend", "activeDeadlineSeconds", "ttlSecondsAfterFinished", "maxFailedIndexes"),
        outcome=status.job_outcome,
        summary=status.job_status,
        describe="miniorch.cli.describe:job",
        states=("active", "suspended", "complete", "failed"),
    ),
    KindInfo(
        Kind.CRONJOB,
        ("batch/v1", "batch/v1beta1"),
        "cronjobs",
        Columns(
            ("NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE", "NEXT"),
            ("NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE", "NEXT", *_WIDE[:2]),
            "miniorch.cli.output:_cronjob_row",
        ),
        short=("cj",),
        model="miniorch.spec.workloads:CronJob",
        controller="miniorch.controllers.cronjobs:CronJobController",
        template="spec.jobTemplate.spec.template",
        describe="miniorch.cli.describe:cronjob",
        states=("active", "suspended"),
    ),
    KindInfo(
        Kind.DAEMONSET,
        ("apps/v1",),
        "daemonsets",
        Columns(
            ("NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR", "AGE"),
            ("NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR", "AGE", *_WIDE),
            "miniorch.cli.output:_daemonset_row",
        ),
        short=("ds",),
        model="miniorch.spec.workloads:DaemonSet",
        controller="miniorch.controllers.daemonsets:DaemonSetPlanner",
        template="spec.template",
        owns_pods=True,
        immutable_spec=("selector",),
        describe="miniorch.cli.daemonsets:describe",
    ),
    KindInfo(
        Kind.STATEFULSET,
        ("apps/v1",),
        "statefulsets",
        Columns(("NAME", "READY", "AGE"), ("NAME", "READY", "AGE", *_WIDE[:2]), "miniorch.cli.statefulsets:row"),
        short=("sts",),
        model="miniorch.spec.statefulset:StatefulSet",
        controller="miniorch.controllers.statefulsets:StatefulSetPlanner",
        template="spec.template",
        owns_pods=True,
        # A replica stays with its node and its volume: Unknown while the node is away, and
        # drain leaves it (it would come back on the same node, where its data is).
        immutable_spec=(
            "selector",
            "serviceName",
            "volumeClaimTemplates",
            "podManagementPolicy",
            "revisionHistoryLimit",
        ),
        describe="miniorch.cli.statefulsets:describe",
    ),
    KindInfo(
        Kind.SERVICE,
        ("v1",),
        "services",
        Columns(
            ("NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"),
            ("NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"),
            "miniorch.cli.statefulsets:service_row",
        ),
        short=("svc",),
        model="miniorch.spec.service:Service",
    ),
    KindInfo(
        Kind.POD,
        ("v1",),
        "pods",
        Columns(
            ("NAME", "READY", "STATUS", "RESTARTS", "AGE"),
            ("NAME", "READY", "STATUS", "RESTARTS", "AGE", "NODE", "EXIT CODE"),
            "miniorch.cli.output:_pod_row",
            "miniorch.cli.output:pod_cells",
        ),
        fields=(*_COMMON_FIELDS, "metadata.ownerReferences.uid", "spec.nodeName", "spec.restartPolicy", "status.phase"),
        short=("po",),
        outcome=status.pod_outcome,
        summary=status.pod_status,
        describe="miniorch.cli.describe:pod",
    ),
    KindInfo(
        Kind.NODE,
        ("v1",),
        "nodes",
        Columns(
            ("NAME", "STATUS", "VERSION", "CPU", "MEMORY", "AGE", "LABELS"),
            ("NAME", "STATUS", "VERSION", "CPU", "MEMORY", "AGE", "URL", "TRANSPORT", "RTT", "LABELS", "LAST ERROR"),
            "miniorch.cli.output:_node_row",
        ),
        fields=("metadata.name", "spec.unschedulable"),
        short=("no",),
        namespaced=False,
        summary=status.node_status,
        describe="miniorch.cli.describe:node",
    ),
    KindInfo(
        Kind.EVENT,
        ("v1",),
        "events",
        Columns(("LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"), (), "miniorch.cli.output:_event_row"),
        fields=(
            *_COMMON_FIELDS,
            "involvedObject.kind",
            "involvedObject.name",
            "involvedObject.namespace",
            "involvedObject.uid",
            "reason",
            "type",
        ),
        short=("ev",),
    ),
    # Data kinds (DESIGN 9): applied and stored, no controller; pods read them at their start.
    KindInfo(
        Kind.CONFIGMAP,
        ("v1",),
        "configmaps",
        Columns(("NAME", "DATA", "AGE"), (), "miniorch.cli.configdata:configmap_row"),
        short=("cm",),
        model="miniorch.spec.configdata:ConfigMap",
        describe="miniorch.cli.configdata:describe_configmap",
        update_check="miniorch.kinds.status:immutable_data",
    ),
    KindInfo(
        Kind.SECRET,
        ("v1",),
        "secrets",
        Columns(("NAME", "TYPE", "DATA", "AGE"), (), "miniorch.cli.configdata:secret_row"),
        fields=(*_COMMON_FIELDS, "type"),
        model="miniorch.spec.configdata:Secret",
        describe="miniorch.cli.configdata:describe_secret",
        update_check="miniorch.kinds.status:immutable_data",
    ),
)

_BY_KIND: dict[str, KindInfo] = {info.kind: info for info in REGISTRY}
_BY_ALIAS = {alias: info.kind for info in REGISTRY for alias in info.aliases}

#: Kinds applied from manifests and stored as objects, in registry order.
WORKLOADS: tuple[Kind, ...] = tuple(info.kind for info in REGISTRY if info.workload)
#: Kinds whose controller runs pods (owner kinds of pods).
POD_OWNERS: tuple[Kind, ...] = tuple(info.kind for info in REGISTRY if info.owns_pods)
PLURAL: dict[str, str] = {info.kind: info.plural for info in REGISTRY}
GROUPS: dict[str, str] = {info.kind: info.group for info in REGISTRY}


def get(kind: str) -> KindInfo:
    """The entry of a kind by its name (`Job`); KeyError for a kind miniorch does not know."""
    return _BY_KIND[kind]


def resolve(name: str) -> Kind | None:
    """The kind for a resource name as kubectl accepts it (`jobs`, `job.batch`, `ds`), or None."""
    return _BY_ALIAS.get(name.lower().split(".")[0])


@functools.cache
def load(path: str) -> Any:
    """The attribute a dotted `"module:attribute"` path names, imported on first use."""
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


def _attribute(segment: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", segment).lower()


def pod_template(kind: str, obj: Any) -> Any:
    """The pod template of a manifest (a dict) or a spec model of `kind`, or None (no template)."""
    path = get(kind).template
    value = obj
    for segment in path.split(".") if path else ():
        if value is None:
            return None
        value = value.get(segment) if isinstance(value, Mapping) else getattr(value, _attribute(segment), None)
    return value if path else None
