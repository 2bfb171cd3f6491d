"""Writes of workload objects through the Kubernetes API: create, update, patch, delete, generic over
the registry and all through the applier, so validation, generation and the controllers' wake-up
are those of `ctl apply`. Blocking: the routes run these on a worker thread.

A POSTed Job controlled by a CronJob (`kubectl create job x --from=cronjob/y`) is that CronJob's
manual run, as `ctl create job --from` makes it.
"""

from __future__ import annotations

import secrets
from typing import Any

from miniorch import kinds
from miniorch.api import render
from miniorch.api.context import ApiContext
from miniorch.api.kube import patch, status
from miniorch.api.kube.discovery import Resource
from miniorch.api.kube.status import KubeError
from miniorch.clock import utcnow
from miniorch.controllers import cronjobs
from miniorch.controllers import objects as objects_mod
from miniorch.spec import loader
from miniorch.spec.errors import ManifestInvalid
from miniorch.store.records import ObjectRecord

Served = dict[str, Any]
_CONFLICT = "the object has been modified; please apply your changes to the latest version and try again"


def _conflict(resource: Resource, name: str) -> KubeError:
    """kube-apiserver's 409 for a write made from an older resourceVersion."""
    return KubeError(409, f'Operation cannot be fulfilled on {resource_name(resource)} "{name}": {_CONFLICT}')


def resource_name(resource: Resource) -> str:
    """`jobs.batch`, `pods`: how the API server names a resource in its messages."""
    return f"{resource.plural}.{resource.group}" if resource.group else resource.plural


def existing(ctx: ApiContext, resource: Resource, namespace: str, name: str) -> ObjectRecord:
    rec = ctx.store.get_object(resource.kind, namespace, name)
    if rec is None:
        raise status.not_found(resource_name(resource), name)
    return rec


def _invalid(field: str, message: str) -> KubeError:
    cause = {"type": "FieldValueInvalid", "field": field, "message": message}
    return KubeError(422, f"{field}: Invalid value: {message}", "Invalid", {"causes": [cause]})


def check_metadata(obj: dict[str, Any]) -> dict[str, Any]:
    """The object's metadata, 422 unless it is an object whose labels and annotations are objects of
    strings and whose ownerReferences is a list of objects (what the code after this relies on)."""
    meta = obj.get("metadata")
    if meta is None:
        raise KubeError(422, "metadata: Required value", "Invalid")
    if not isinstance(meta, dict):
        raise _invalid("metadata", "must be an object")
    for key in ("labels", "annotations"):
        value = meta.get(key)
        if value is not None and not (isinstance(value, dict) and all(isinstance(v, str) for v in value.values())):
            raise _invalid(f"metadata.{key}", "must be an object of strings")
    refs = meta.get("ownerReferences")
    if refs is not None and not (isinstance(refs, list) and all(isinstance(r, dict) for r in refs)):
        raise _invalid("metadata.ownerReferences", "must be a list of objects")
    return meta


def _checked_body(resource: Resource, namespace: str, body: Any) -> dict[str, Any]:
    """The object of a POST or PUT, its kind, metadata and namespace checked, server-set fields dropped."""
    if not isinstance(body, dict):
        raise KubeError(400, "the request body must be a JSON object")
    if body.get("kind", resource.kind) != resource.kind:
        raise KubeError(400, f"the object's kind {body.get('kind')!r} does not match the resource {resource.plural}")
    meta = check_metadata(body)
    if (meta.get("namespace") or namespace) != namespace:
        raise KubeError(
            400, f"the namespace of the object ({meta['namespace']}) does not match the namespace of the request"
        )
    out = patch.spec_of(body)
    out.setdefault("apiVersion", f"{resource.group}/{resource.version}" if resource.group else resource.version)
    out.setdefault("kind", resource.kind)
    out["metadata"] = {**out["metadata"], "namespace": namespace}
    generated = out["metadata"].pop("generateName", None)
    if not out["metadata"].get("name") and isinstance(generated, str):
        out["metadata"]["name"] = generated + secrets.token_hex(3)[:5]
    return out


def _cronjob_owner(ctx: ApiContext, namespace: str, body: dict[str, Any]) -> ObjectRecord | None:
    """The CronJob a POSTed Job names as its controller (kubectl create job --from=cronjob/...), if any."""
    for ref in check_metadata(body).get("ownerReferences") or []:
        if ref.get("kind") == "CronJob" and ref.get("controller"):
            cj = ctx.store.get_object("CronJob", namespace, str(ref.get("name")))
            if cj is None or cj.deleting or ref.get("uid") not in (None, cj.uid):
                raise KubeError(422, f'ownerReferences: the cronjob "{ref.get("name")}" does not exist', "Invalid")
            return cj
    return None


def create(ctx: ApiContext, resource: Resource, namespace: str, body: Any) -> Served:
    manifest = _checked_body(resource, namespace, body)
    name = str(manifest["metadata"].get("name") or "")
    if not name:
        raise KubeError(422, "metadata.name: Required value: name or generateName is required", "Invalid")
    found = ctx.store.get_object(resource.kind, namespace, name)
    if found is not None:
        raise status.already_exists(resource_name(resource), name)
    owner = _cronjob_owner(ctx, namespace, body) if resource.kind == "Job" else None
    if owner is not None:
        annotations = dict(manifest["metadata"].get("annotations") or {})
        job = cronjobs.create_job(ctx.store, ctx.applier, owner, name, annotations, utcnow())
        if job is None:
            raise status.already_exists(resource_name(resource), name)
        ctx.wake()
        return render.obj(job)
    _apply(ctx, resource, manifest, name, create=True)
    return render.obj(existing(ctx, resource, namespace, name))


def _apply(
    ctx: ApiContext,
    resource: Resource,
    manifest: dict[str, Any],
    name: str,
    *,
    create: bool = False,
    resource_version: int | None = None,
) -> None:
    """Through the applier; a ManifestInvalid becomes kubectl's `The Job "x" is invalid: ...` with its
    causes. `create` and `resource_version` are checked with the write (AlreadyExists, Conflict)."""
    try:
        ctx.applier.apply(
            [loader.parse_object(manifest, source=f"{resource.kind.lower()}/{name}")],
            "api",
            create=create,
            resource_version=resource_version,
        )
    except objects_mod.AlreadyExists as exc:
        raise status.already_exists(resource_name(resource), name) from exc
    except objects_mod.Stale as exc:
        raise _conflict(resource, name) from exc
    except ManifestInvalid as exc:
        causes = status.invalid_causes(exc)
        details = {"name": name, "group": resource.group, "kind": resource.kind, "causes": causes}
        text = "; ".join(f"{c['field']}: {c['message']}" if c["field"] else c["message"] for c in causes)
        message = f'{resource.kind}.{resource.group or "core"} "{name}" is invalid: {text}'
        raise KubeError(422, message, "Invalid", details) from exc


def update(ctx: ApiContext, resource: Resource, namespace: str, name: str, body: Any) -> Served:
    rec = existing(ctx, resource, namespace, name)
    manifest = _checked_body(resource, namespace, body)  # from here body is an object with object metadata
    given = body["metadata"].get("resourceVersion")
    if given not in (None, "") and str(given) != str(rec.resource_version):
        raise _conflict(resource, name)
    if manifest["metadata"].get("name") != name:
        raise KubeError(400, "the name of the object does not match the name on the URL")
    _apply(ctx, resource, manifest, name, resource_version=rec.resource_version if given not in (None, "") else None)
    return render.obj(existing(ctx, resource, namespace, name))


def apply_patch(ctx: ApiContext, resource: Resource, namespace: str, name: str, body: Any, media: str) -> Served:
    served = render.obj(existing(ctx, resource, namespace, name))
    new = patched_object(served, body, media, resource.kind)
    meta = new.get("metadata") or {}
    if meta.get("resourceVersion") not in (None, served["metadata"]["resourceVersion"]):
        raise _conflict(resource, name)
    diff = patch.merge_diff(patch.spec_of(served), patch.spec_of(new))
    if diff:
        ctx.applier.patch(resource.kind, namespace, name, diff)  # merged into the stored spec of now
    return render.obj(existing(ctx, resource, namespace, name))


def patched_object(served: Served, body: Any, media: str, kind: str, strategic_as_merge: bool = False) -> Served:
    new = patch.patched(served, body, media, kind, strategic_as_merge)
    if not isinstance(new, dict):
        raise KubeError(422, "the patched object is not a JSON object", "Invalid")
    check_metadata(new)
    return new


def delete(ctx: ApiContext, resource: Resource, namespace: str, name: str, policy: str | None) -> Served:
    """Cascading: the object stays, with `metadata.deletionTimestamp`, until its controller removed its pods."""
    if policy not in (None, "", "Background", "Foreground"):
        raise KubeError(
            422,
            f"propagationPolicy {policy} is not supported: miniorch always removes an object's pods with it; "
            "use Background or Foreground",
            "Invalid",
        )
    existing(ctx, resource, namespace, name)
    rec = ctx.applier.delete(resource.kind, namespace, name)
    if kinds.get(resource.kind).controller is None:  # gone at once
        return status.success({"name": name, "group": resource.group, "kind": resource.plural, "uid": rec.uid})
    return render.obj(ctx.store.get_object(resource.kind, namespace, name) or rec)
