"""Kubernetes API discovery, built from the kind registry: `/api`, `/api/v1`, `/apis`, `/apis/{group}/{version}`.

Plain (unaggregated) discovery documents: kubectl asks for the aggregated kind first and reads
these when the answer's content type says they are plain. `served` is the one table of what each
resource answers (the routes in `resources` consult it), so discovery never promises more.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter

from miniorch import kinds
from miniorch.api.kube.status import KubeError

router = APIRouter()

KUBE_MINOR = "32"  # the kubectl minor version miniorch speaks to (Google's dispatcher picks kubectl 1.32)
WORKLOAD_VERBS = ("create", "delete", "get", "list", "patch", "update", "watch")
SPECIAL_VERBS = {
    "Pod": ("delete", "get", "list", "watch"),
    "Event": ("list", "watch"),
    "Node": ("get", "list", "patch", "watch"),
}


@dataclass(frozen=True)
class Resource:
    """One served resource: its name, kind, group/version, scope and verbs."""

    plural: str
    kind: str
    group: str
    version: str
    namespaced: bool
    verbs: tuple[str, ...]
    singular: str
    short: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    def entry(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(self.verbs),
        }
        if self.short:
            out["shortNames"] = list(self.short)
        if self.categories:
            out["categories"] = list(self.categories)
        return out


NAMESPACES = Resource("namespaces", "Namespace", "", "v1", False, ("get", "list"), "namespace", ("ns",))


def _from_registry(info: kinds.KindInfo) -> Resource | None:
    verbs = WORKLOAD_VERBS if info.workload else SPECIAL_VERBS.get(info.kind)
    if verbs is None:
        return None
    categories = ("all",) if info.workload or info.kind == "Pod" else ()
    return Resource(
        info.plural,
        info.kind,
        info.api_group,
        info.version,
        info.namespaced,
        verbs,
        info.singular,
        info.short,
        categories,
    )


def served() -> list[Resource]:
    """Every resource the Kubernetes API serves, registry order, namespaces last."""
    found = [r for r in (_from_registry(info) for info in kinds.REGISTRY) if r is not None]
    return [*found, NAMESPACES]


def lookup(group: str, version: str, plural: str) -> Resource:
    """The served resource `plural` of `group/version`, else a 404 Status."""
    for resource in served():
        if resource.group == group and resource.version == version and resource.plural == plural:
            return resource
    where = f"{group}/{version}" if group else version
    raise KubeError(404, f"the server could not find the requested resource ({plural} in {where})")


def require(resource: Resource, verb: str) -> None:
    """405 MethodNotAllowed for a verb the resource does not serve."""
    if verb not in resource.verbs:
        name = f"{resource.plural}.{resource.group}" if resource.group else resource.plural
        raise KubeError(405, f'{verb} is not supported on resources of kind "{name}"')


def _groups() -> dict[str, list[str]]:
    """Named groups and their versions, in registry order (the core group "" is `/api`)."""
    out: dict[str, list[str]] = {}
    for resource in served():
        if resource.group and resource.version not in out.setdefault(resource.group, []):
            out[resource.group].append(resource.version)
    return out


def _resource_list(group: str, version: str) -> dict[str, Any]:
    resources = [r for r in served() if r.group == group and r.version == version]
    if not resources:
        raise KubeError(404, f"the server could not find the requested resource ({group}/{version})")
    entries = [r.entry() for r in resources]
    if group == "" and any(r.plural == "pods" for r in resources):
        entries.append({"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]})
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": entries,
    }


def version_info(miniorch_version: str) -> dict[str, str]:
    """`/version`'s Kubernetes fields (kubectl version, client libraries' version checks)."""
    return {
        "major": "1",
        "minor": KUBE_MINOR,
        "gitVersion": f"v1.{KUBE_MINOR}.0-miniorch",
        "gitCommit": miniorch_version,
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": "",
        "compiler": "",
        "platform": "linux/amd64",
    }


@router.get("/api")
async def core_versions() -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}],
    }


@router.get("/api/v1")
async def core_resources() -> dict[str, Any]:
    return _resource_list("", "v1")


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    listed = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": listed, "preferredVersion": listed[0]}


@router.get("/apis")
async def group_list() -> dict[str, Any]:
    groups = [_group(name, versions) for name, versions in _groups().items()]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


@router.get("/apis/{group}")
async def group(group: str) -> dict[str, Any]:
    versions = _groups().get(group)
    if versions is None:
        raise KubeError(404, f"the server could not find the requested resource (group {group})")
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(group, versions)}


@router.get("/apis/{group}/{version}")
async def group_resources(group: str, version: str) -> dict[str, Any]:
    return _resource_list(group, version)
