"""How each list of miniorch's kinds merges in a strategic merge patch: the Kubernetes types' tags.

`patchStrategy`/`patchMergeKey` as k8s.io/api declares them (containers by `name`, env by `name`,
ports by `containerPort`, volumeMounts by `mountPath`, conditions by `type`, ...); a list without a
tag (tolerations, envFrom, args) is replaced whole. Kinds reach their pod template through the
registry's `template` path, so a kind added to the registry merges its containers by name too.
Read by `smp` (the merge) and `openapi` (`x-kubernetes-patch-merge-key`/`-strategy`).
"""

from __future__ import annotations

from dataclasses import dataclass

from miniorch import kinds


@dataclass(frozen=True)
class Field:
    """A field's type (a struct name below, for objects and lists of objects) and its patch tags."""

    type: str | None = None
    strategy: str = ""  # "merge" | "replace" | "" (maps merge, lists are replaced)
    key: str = ""  # the merge key of a merging list of objects
    retain_keys: bool = False  # `patchStrategy: merge,retainKeys` (kubectl sends `$retainKeys`)


def _merge(key: str = "", type_: str | None = None, retain_keys: bool = False) -> Field:
    return Field(type_, "merge", key, retain_keys)


STRUCTS: dict[str, dict[str, Field]] = {
    "ObjectMeta": {"ownerReferences": _merge("uid"), "finalizers": _merge()},
    "PodTemplateSpec": {"metadata": Field("ObjectMeta"), "spec": Field("PodSpec")},
    "PodSpec": {
        "containers": _merge("name", "Container"),
        "initContainers": _merge("name", "Container"),
        "ephemeralContainers": _merge("name", "Container"),
        "volumes": _merge("name", "Volume", retain_keys=True),
        "imagePullSecrets": _merge("name"),
        "hostAliases": _merge("ip"),
        "topologySpreadConstraints": _merge("topologyKey"),
        "schedulingGates": _merge("name"),
        "resourceClaims": _merge("name", retain_keys=True),
    },
    "Volume": {},
    "Container": {
        "env": _merge("name"),
        "ports": _merge("containerPort"),
        "volumeMounts": _merge("mountPath"),
        "volumeDevices": _merge("devicePath"),
    },
    "JobTemplateSpec": {"metadata": Field("ObjectMeta"), "spec": Field("JobSpec")},
    "JobSpec": {"template": Field("PodTemplateSpec")},
    "CronJobSpec": {"jobTemplate": Field("JobTemplateSpec")},
    "DaemonSetSpec": {"template": Field("PodTemplateSpec")},
    "StatefulSetSpec": {"template": Field("PodTemplateSpec")},
    "ServiceSpec": {"ports": _merge("port")},
    "NodeSpec": {"podCIDRs": _merge()},
    "Status": {"conditions": _merge("type"), "addresses": _merge("type")},
}

#: The spec struct of kinds whose spec is more than the path to a pod template.
SPECS = {"Pod": "PodSpec", "Node": "NodeSpec", "Service": "ServiceSpec", "CronJob": "CronJobSpec", "Job": "JobSpec"}


def _template_chain(kind: str, path: str) -> str:
    """Structs for a kind's spec that reach its pod template along the registry's path."""
    parts = path.split(".")[1:]  # after "spec"
    name = f"{kind}Spec"
    struct = STRUCTS.setdefault(name, {})
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        child = "PodTemplateSpec" if last else f"{kind}Spec.{'.'.join(parts[: depth + 1])}"
        struct.setdefault(part, Field(child))
        struct = STRUCTS.setdefault(child, {})
    return name


def _roots() -> None:
    for info in kinds.REGISTRY:
        spec = SPECS.get(info.kind)
        if spec is None and info.template and info.template.startswith("spec."):
            spec = _template_chain(info.kind, info.template)
        STRUCTS[info.kind] = {"metadata": Field("ObjectMeta"), "status": Field("Status")}
        if spec:
            STRUCTS[info.kind]["spec"] = Field(spec)


STRUCTS["Service"] = {"metadata": Field("ObjectMeta"), "spec": Field("ServiceSpec")}  # until it is registered
_roots()
_PLAIN = Field()


def root(kind: str) -> str:
    """The struct of a whole object of `kind` (any kind: unknown ones get metadata's tags only)."""
    return kind if kind in STRUCTS and kind[:1].isupper() and "Spec" not in kind else "Object"


def field(struct: str | None, name: str) -> Field:
    """The tags of field `name` of `struct`; an unknown field merges as plain JSON."""
    if struct is None:
        return _PLAIN
    fields = STRUCTS.get(struct)
    if fields is None:
        return Field("ObjectMeta") if name == "metadata" else _PLAIN
    return fields.get(name, _PLAIN)
