"""Desired-state writes: apply, patch and delete workload objects.

The one path through which manifests become stored objects, used by the API
and by the manifests folder loader. Policy and immutability are checked here;
the controllers do the rest on their next pass.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from miniorch import kinds
from miniorch.config import PolicyConfig
from miniorch.errors import MiniorchError, TemporaryError
from miniorch.reconcile import podspec
from miniorch.spec import loader
from miniorch.spec.errors import ManifestError, ManifestInvalid
from miniorch.store.records import EventRecord, ObjectRecord
from miniorch.store.store import Store

log = structlog.get_logger(__name__)

#: kinds this daemon runs (the registry's kinds with a spec model); others validate but are refused at apply time.
RUNNABLE = set(kinds.WORKLOADS)


class Conflict(MiniorchError):
    """The change is valid YAML but cannot be applied to the existing object."""


class Immutable(Conflict):
    """The change touches a field that cannot change after creation (e.g. a Job's template)."""


class Busy(Conflict, TemporaryError):
    """The object is being deleted; the same change can succeed once it is gone."""


class AlreadyExists(Conflict):
    """A create of a name that is taken (a Kubernetes POST)."""


class Stale(Conflict):
    """An update made from an older resourceVersion than the object's (a Kubernetes PUT)."""


def _file_of(source: str) -> str | None:
    """The manifest file that manages an object (`file:<path>` sources), else None."""
    return source.removeprefix("file:") if source.startswith("file:") else None


def _refuse_file_managed(existing: ObjectRecord, verb: str, extra: str = "") -> None:
    path = _file_of(existing.source)
    if path is not None:
        raise Conflict(
            f'{existing.kind.lower()} "{existing.name}" is managed by the file {path} '
            f"(annotation miniorch.io/source); cannot {verb} it through the API: "
            f"edit or remove that file instead{extra}"
        )


class NotFound(MiniorchError):
    pass


def _check_version(kind: str, name: str, existing: ObjectRecord | None, resource_version: int | None) -> None:
    if resource_version is not None and existing is not None and existing.resource_version != resource_version:
        raise Stale(
            f'{kind.lower()} "{name}" was changed since resourceVersion {resource_version} '
            f"(it is at {existing.resource_version}): read it again and retry"
        )


@dataclass(frozen=True)
class Applied:
    kind: str
    namespace: str
    name: str
    action: str  # created | configured | unchanged


def _ts(now: dt.datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def normalized(m: loader.Manifest) -> dict[str, Any]:
    """The manifest as stored: defaults applied, camelCase, server fields dropped."""
    data = m.obj.model_dump(by_alias=True, exclude_none=True, mode="json")
    data.pop("status", None)
    meta = data.get("metadata", {})
    data["metadata"] = {k: v for k, v in meta.items() if k in ("name", "namespace", "labels", "annotations")}
    data["metadata"]["namespace"] = m.namespace
    return data


class Applier:
    def __init__(
        self, store: Store, policy: PolicyConfig, wake: Callable[[], None], now: Callable[[], dt.datetime]
    ) -> None:
        self._store = store
        self._policy = policy
        self._wake = wake
        self._now = now
        # One change at a time: the API's requests run in threads, beside the folder's sync, and an
        # object's lookup and its write must not interleave with another's (two applies of a new
        # name each created an object of it: a client's retry doubled a Job and ran it twice).
        self._lock = threading.RLock()

    def set_policy(self, policy: PolicyConfig) -> None:
        self._policy = policy

    def check(self, manifests: Sequence[loader.Manifest], source: str = "api", *, new: bool = False) -> None:
        """Raise ManifestInvalid / Conflict for anything that cannot be applied; changes nothing.

        `source` is who applies: "api" may not change objects managed by a file. `new`: the objects
        are only ever created (a CronJob's Jobs), so an existing one is the caller's, not an update.
        """
        errors: list[ManifestError] = []
        for m in manifests:
            if m.kind not in RUNNABLE:
                errors.append(
                    ManifestError(
                        m.source,
                        m.line or None,
                        None,
                        "kind",
                        f"{m.kind} is not yet supported by this miniorch daemon",
                        "batch/v1 Job and CronJob and apps/v1 DaemonSet run in this version",
                    )
                )
                continue
            template, where = kinds.pod_template(m.kind, m.obj), kinds.get(m.kind).template
            policy = self._policy
            problems = (
                podspec.check_policy(
                    template,
                    allow_host_network=policy.allow_host_network,
                    allow_privileged=policy.allow_privileged,
                    allowed_host_paths=policy.allowed_host_paths,
                )
                if template is not None
                else []
            )
            for problem in problems:
                errors.append(
                    ManifestError(
                        m.source,
                        m.line or None,
                        None,
                        f"{where}.{problem}",
                        "",
                        "ask the operator to change the daemon's policy section",
                    )
                )
            existing = None if new else self._store.get_object(m.kind, m.namespace, m.name)
            if existing is not None and not existing.deleting:
                if source == "api":
                    _refuse_file_managed(existing, "apply")
                self._check_update(existing, m, source)
        if errors:
            raise ManifestInvalid(errors)

    def _check_update(self, existing: ObjectRecord, m: loader.Manifest, source: str = "api") -> None:
        """Refuse a change to a spec field the kind fixes at creation (a Job's template, a DaemonSet's selector)."""
        info = kinds.get(existing.kind)
        if info.update_check is not None and (why := kinds.load(info.update_check)(existing.manifest, normalized(m))):
            raise Immutable(f'The {info.kind} "{m.name}" is invalid: {why}')
        old, new = existing.manifest.get("spec", {}), normalized(m).get("spec", {})
        changed = sorted(
            k
            for k in set(old) | set(new)
            if old.get(k) != new.get(k)
            and (k in info.immutable_spec or (info.mutable_spec is not None and k not in info.mutable_spec))
        )
        if changed and info.mutable_spec is None:  # mutable but for a few fields: a new template rolls out
            raise Immutable(f'{info.group} "{m.name}" is invalid: spec.{changed[0]}: field is immutable')
        path = _file_of(source)
        if changed and path is not None:
            raise Immutable(
                f'{info.group} "{m.name}" is invalid: spec.{changed[0]}: field is immutable; the {info.kind} keeps '
                f"running as before. To run the new version, rename the {info.kind} (metadata.name) in {path}, "
                f"or remove it from the file, wait until it is gone (miniorch ctl get {info.plural}), and add it back"
            )
        if changed:
            raise Immutable(
                f'{info.group} "{m.name}" is invalid: spec.{changed[0]}: field is immutable; delete it first '
                f"(miniorch ctl delete {info.singular} {m.name} -n {m.namespace}) or apply it under a new name"
            )

    def apply(
        self,
        manifests: Sequence[loader.Manifest],
        source: str,
        *,
        create: bool = False,
        resource_version: int | None = None,
    ) -> list[Applied]:
        """Check everything first, so a bad object leaves every object of the batch untouched.
        `create`: each object must be new (AlreadyExists); `resource_version`: each must still be
        at that version (Stale), checked with the write, as the API server's optimistic locking."""
        with self._lock:
            self.check(manifests, source)
            out = [self._apply_one(m, source, create, resource_version) for m in manifests]
        self._wake()
        return out

    def _apply_one(
        self, m: loader.Manifest, source: str, create: bool = False, resource_version: int | None = None
    ) -> Applied:
        now = self._now()
        data = normalized(m)
        existing = self._store.get_object(m.kind, m.namespace, m.name)
        if existing is not None and existing.deleting:
            raise Busy(f'{m.kind.lower()} "{m.name}" is being deleted; try again when it is gone')
        if existing is not None and create:
            raise AlreadyExists(f'{m.kind.lower()} "{m.name}" already exists')
        _check_version(m.kind, m.name, existing, resource_version)
        if existing is None:
            uid = str(uuid.uuid4())
            data["metadata"].update(uid=uid, creationTimestamp=_ts(now), generation=1)
            self._store.add_object(ObjectRecord(uid, m.kind, m.namespace, m.name, data, {}, source, 1, created_at=now))
            log.info("object_created", kind=m.kind, name=m.name, namespace=m.namespace, source=source)
            return Applied(m.kind, m.namespace, m.name, "created")
        _keep_runtime_suspend(existing, m, data, source)
        meta = existing.manifest.get("metadata", {})
        if unchanged(existing, data):
            if existing.source != source:  # another file took it over (e.g. the file was renamed)
                self._store.save_manifest(existing.uid, existing.manifest, existing.generation, source)
                log.info("object_source_changed", kind=m.kind, name=m.name, namespace=m.namespace, source=source)
            return Applied(m.kind, m.namespace, m.name, "unchanged")
        generation = existing.generation + 1
        data["metadata"].update(
            uid=existing.uid, creationTimestamp=meta.get("creationTimestamp"), generation=generation
        )
        self._store.save_manifest(existing.uid, data, generation, source)
        log.info("object_updated", kind=m.kind, name=m.name, namespace=m.namespace, generation=generation)
        return Applied(m.kind, m.namespace, m.name, "configured")

    def patch(self, kind: str, namespace: str, name: str, patch: dict[str, Any]) -> Applied:
        """A merge patch of the manifest as stored when it is written."""
        with self._lock:
            result = self._patch(kind, namespace, name, patch)
        self._wake()
        return result

    def _patch(self, kind: str, namespace: str, name: str, patch: dict[str, Any]) -> Applied:
        existing = self._store.get_object(kind, namespace, name)
        if existing is None or existing.deleting:
            raise NotFound(f'{kind.lower()} "{name}" not found in namespace "{namespace}"')
        if set(patch) != {"spec"} or not isinstance(patch["spec"], dict) or set(patch["spec"]) != {"suspend"}:
            _refuse_file_managed(existing, "patch", "; only spec.suspend may be patched at runtime")
        merged = merge_patch(copy.deepcopy(existing.manifest), patch)
        for key in ("uid", "creationTimestamp", "generation"):
            merged.get("metadata", {}).pop(key, None)
        if (
            merged.get("metadata", {}).get("name") != name
            or merged["metadata"].get("namespace", namespace) != namespace
        ):
            raise Conflict("metadata.name and metadata.namespace cannot be changed by a patch")
        manifest = loader.parse_object(merged, source=f"patch of {kind.lower()}/{name}")
        self.check([manifest], existing.source)
        result = self._apply_one(manifest, existing.source)
        return Applied(kind, namespace, name, "patched" if result.action != "unchanged" else "unchanged")

    def delete(self, kind: str, namespace: str, name: str, source: str = "api") -> ObjectRecord:
        """Mark for deletion (the controllers cascade); "api" may not delete what a file manages."""
        with self._lock:
            deleted = self._delete(kind, namespace, name, source)
        self._wake()
        return deleted

    def _delete(self, kind: str, namespace: str, name: str, source: str) -> ObjectRecord:
        existing = self._store.get_object(kind, namespace, name)
        if existing is None:
            raise NotFound(f'{kind.lower()} "{name}" not found in namespace "{namespace}"')
        if source == "api" and not existing.deleting:
            _refuse_file_managed(existing, "delete")
        if not existing.deleting and kinds.get(kind).controller is None:
            self._store.delete_object(existing.uid)  # nothing cascades a data-only kind: it goes at once
            log.info("object_deleted", kind=kind, name=name, namespace=namespace)
        elif not existing.deleting:
            self._store.mark_deleting(existing.uid)
            now = self._now()
            self._store.record_event(
                EventRecord(
                    namespace,
                    kind,
                    name,
                    existing.uid,
                    "Normal",
                    "Deleting",
                    f"{kind} deletion requested",
                    first_timestamp=now,
                    last_timestamp=now,
                )
            )
            log.info("object_deletion_requested", kind=kind, name=name, namespace=namespace)
        return dataclasses.replace(existing, deleting=True)


def unchanged(existing: ObjectRecord, data: dict[str, Any]) -> bool:
    """Applying `data` (a `normalized` manifest) to `existing` would change nothing."""
    current = {k: v for k, v in existing.manifest.items() if k != "metadata"}
    meta = existing.manifest.get("metadata", {})
    return current == {k: v for k, v in data.items() if k != "metadata"} and all(
        meta.get(k) == data["metadata"].get(k) for k in ("labels", "annotations")
    )


def _keep_runtime_suspend(existing: ObjectRecord, m: loader.Manifest, data: dict[str, Any], source: str) -> None:
    """A file that leaves spec.suspend out keeps the value set at runtime (`ctl patch`)."""
    spec = getattr(m.obj, "spec", None)
    old = existing.manifest.get("spec", {})
    if (
        source.startswith("file:")
        and spec is not None
        and "suspend" in old
        and "suspend" in data.get("spec", {})
        and "suspend" not in spec.model_fields_set
    ):
        data["spec"]["suspend"] = old["suspend"]


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    if not isinstance(target, dict):
        target = {}
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = merge_patch(target.get(key), value)
    return target
