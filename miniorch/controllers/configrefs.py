"""The launch's ConfigMap/Secret step: read what a pod names from the store, resolve, fill its container spec.

Runs once per launch of a pod whose spec reads ConfigMaps or Secrets (`ContainerSpec.config` is
set by `containers.container_spec`), off the event loop. Each launch reads the objects afresh, so
a new pod sees the current data and a running one keeps what it started with. A missing object
or key leaves the spec unresolved: the runner keeps the pod Pending (CreateContainerConfigError).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from miniorch.nodes import records as nr
from miniorch.reconcile import configrefs
from miniorch.spec.configdata import decode
from miniorch.spec.pod import PodSpec
from miniorch.store.records import PodRecord
from miniorch.store.store import Store


def configmap_data(manifest: Mapping[str, Any]) -> configrefs.Data:
    data: dict[str, str] = dict(manifest.get("data") or {})
    files = {k: v.encode() for k, v in data.items()}
    files.update({k: decode(v) or b"" for k, v in (manifest.get("binaryData") or {}).items()})
    return configrefs.Data(env=data, files=files)


def secret_data(manifest: Mapping[str, Any]) -> configrefs.Data:
    files = {k: decode(v) or b"" for k, v in (manifest.get("data") or {}).items()}
    return configrefs.Data(env={k: v.decode("utf-8", errors="replace") for k, v in files.items()}, files=files)


def _read(store: Store, kind: str, namespace: str, names: frozenset[str]) -> dict[str, configrefs.Data]:
    found = {}
    for name in sorted(names):
        obj = store.get_object(kind, namespace, name)
        if obj is not None and not obj.deleting:
            found[name] = configmap_data(obj.manifest) if kind == "ConfigMap" else secret_data(obj.manifest)
    return found


def prepare(store: Store, pod: PodRecord, spec: nr.ContainerSpec) -> nr.ContainerSpec | configrefs.Missing:
    """`spec` with the env and files its pod's ConfigMaps and Secrets give it, or what is missing."""
    pod_spec = spec.config
    assert isinstance(pod_spec, PodSpec)
    wanted = configrefs.wanted(pod_spec)
    if wanted is None:
        return dataclasses.replace(spec, config=None)
    configmaps = _read(store, "ConfigMap", pod.namespace, wanted.configmaps)
    secrets = _read(store, "Secret", pod.namespace, wanted.secrets)
    result = configrefs.resolve(pod_spec, pod.namespace, configmaps, secrets)
    if isinstance(result, configrefs.Missing):
        return result
    own = {e.name for e in pod_spec.container.env}
    env = {**result.env, **{k: v for k, v in spec.env.items() if k not in own}}  # JOB_COMPLETION_INDEX etc.
    files = tuple(nr.ArchiveFile(f.path, f.data, f.mode, f.is_dir) for f in result.files)
    return dataclasses.replace(spec, env=env, files=files, config=None)
