"""`ctl diff`: a unified diff of an object as it is (LIVE) and as an apply would make it (MERGED).

Both sides are YAML with sorted keys, without status and server-managed metadata, so only what
the user's file changes shows; the headers follow `kubectl diff` (`diff -u -N LIVE/... MERGED/...`).
"""

from __future__ import annotations

import difflib
from typing import Any

SERVER_METADATA = (
    "uid",
    "generation",
    "creationTimestamp",
    "resourceVersion",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "ownerReferences",
)
SERVER_ANNOTATIONS = ("miniorch.io/source",)


def user_view(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    """`obj` without status and what the server manages (uid, generation, timestamps, source)."""
    if obj is None:
        return None
    out = {k: v for k, v in obj.items() if k != "status"}
    meta = {k: v for k, v in (out.get("metadata") or {}).items() if k not in SERVER_METADATA}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in SERVER_ANNOTATIONS}
    meta.pop("annotations", None)
    if annotations:
        meta["annotations"] = annotations
    if not meta.get("labels"):
        meta.pop("labels", None)
    out["metadata"] = meta
    return out


def file_name(api_version: str, kind: str, namespace: str, name: str) -> str:
    """kubectl's file name for an object: `batch.v1.Job.default.pi`."""
    return ".".join([api_version.replace("/", "."), kind, namespace, name])


def render(live: dict[str, Any] | None, merged: dict[str, Any] | None, name: str) -> str:
    """The unified diff of the two YAML views ("" when they are equal); a missing side is empty (diff -N)."""
    import yaml  # only `ctl diff` needs it

    def lines(obj: dict[str, Any] | None) -> list[str]:
        view = user_view(obj)
        return [] if view is None else yaml.safe_dump(view, sort_keys=True, default_flow_style=False).splitlines()

    before, after = lines(live), lines(merged)
    if before == after:
        return ""
    body = difflib.unified_diff(before, after, f"LIVE/{name}", f"MERGED/{name}", lineterm="")
    return "\n".join([f"diff -u -N LIVE/{name} MERGED/{name}", *body]) + "\n"
