"""StatefulSets and headless Services in `ctl`: their `get` rows, `describe sts`, rollout status.

Output follows kubectl (`READY 2/3`, StatefulSetStatusViewer's messages); `describe` adds the
daemon's per-replica view (`status.ordinals`: pod, node, state, why) and the replicas' volumes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from miniorch.cli import describe as describe_mod
from miniorch.cli import output
from miniorch.cli.client import Client


def row(sts: dict[str, Any], now: dt.datetime, wide: bool) -> list[str]:
    status, spec = sts.get("status", {}), sts.get("spec", {})
    cells = [
        sts["metadata"]["name"],
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
        output.age(sts["metadata"].get("creationTimestamp"), now),
    ]
    if wide:
        c = (spec.get("template", {}).get("spec", {}).get("containers") or [{}])[0]
        cells += [c.get("name", ""), c.get("image", "")]
    return cells


def service_row(svc: dict[str, Any], now: dt.datetime, wide: bool) -> list[str]:
    spec = svc.get("spec", {})
    ports = ",".join(f"{p['port']}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or []) or "<none>"
    cells = [
        svc["metadata"]["name"],
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP", "None"),
        "<none>",
        ports,
        output.age(svc["metadata"].get("creationTimestamp"), now),
    ]
    if wide:
        cells.append(",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items())) or "<none>")
    return cells


def status_message(sts: dict[str, Any]) -> tuple[str, bool]:
    """kubectl's StatefulSetStatusViewer: (message, done)."""
    spec, status = sts.get("spec", {}), sts.get("status", {})
    observed = status.get("observedGeneration", 0)
    if not observed or sts["metadata"].get("generation", 0) > observed:
        return "Waiting for statefulset spec update to be observed...", False
    replicas, ready = spec.get("replicas", 1), status.get("readyReplicas", 0)
    if ready < replicas:
        return f"Waiting for {replicas - ready} pods to be ready...", False
    rolling = (spec.get("updateStrategy") or {}).get("rollingUpdate")
    updated = status.get("updatedReplicas", 0)
    if rolling is not None:
        partition = rolling.get("partition", 0)
        if updated < replicas - partition:
            return (
                f"Waiting for partitioned roll out to finish: {updated} out of {replicas - partition} "
                "new pods have been updated...",
                False,
            )
        return f"partitioned roll out complete: {updated} new pods have been updated...", True
    if status.get("updateRevision") != status.get("currentRevision"):
        return (
            f"waiting for statefulset rolling update to complete {updated} pods at revision "
            f"{status.get('updateRevision')}...",
            False,
        )
    return (
        f"statefulset rolling update complete {status.get('currentReplicas', 0)} pods at revision "
        f"{status.get('currentRevision')}...",
        True,
    )


def _volumes(spec: dict[str, Any], name: str, pins: dict[str, str]) -> str:
    claims = spec.get("volumeClaimTemplates") or []
    if not claims:
        return "Volume Claims:  <none>"
    lines = ["Volume Claims:"]
    for claim in claims:
        cspec = claim.get("spec", {})
        lines += [
            f"  Name:          {claim['metadata']['name']}",
            f"  StorageClass:  {cspec.get('storageClassName') or '<none>'} (a Docker local volume)",
            f"  Capacity:      {cspec.get('resources', {}).get('requests', {}).get('storage', '<none>')} (not enforced)",
            f"  Access Modes:  {','.join(cspec.get('accessModes') or []) or '<none>'}",
        ]
    rows = [
        [f"{c['metadata']['name']}-{name}-{ordinal}", node]
        for ordinal, node in sorted(pins.items(), key=lambda kv: int(kv[0]))
        for c in claims
    ]
    if rows:
        lines.append(describe_mod._indent(output.table(["VOLUME", "NODE"], rows)))
    return "\n".join(lines)


def describe(c: Client, obj: dict[str, Any], now: dt.datetime) -> str:
    meta, spec, status = obj["metadata"], obj.get("spec", {}), obj.get("status", {})
    labels = spec.get("selector", {}).get("matchLabels") or {}
    pods = c.list_pods(owner=meta["uid"])
    phases = [p["status"]["phase"] for p in pods]
    strategy = spec.get("updateStrategy") or {}
    retention = spec.get("persistentVolumeClaimRetentionPolicy") or {}
    pairs: list[tuple[str, Any]] = [
        ("Name", meta["name"]),
        ("Namespace", meta.get("namespace")),
        ("CreationTimestamp", meta.get("creationTimestamp")),
        ("Selector", ",".join(f"{k}={v}" for k, v in sorted(labels.items()))),
        ("Labels", describe_mod._map(meta.get("labels"))),
        ("Annotations", describe_mod._map(meta.get("annotations"))),
        ("Replicas", f"{spec.get('replicas', 1)} desired | {status.get('replicas', 0)} total"),
        ("Update Strategy", strategy.get("type", "RollingUpdate")),
        ("  Partition", (strategy.get("rollingUpdate") or {}).get("partition", 0)),
        ("Pod Management Policy", spec.get("podManagementPolicy", "OrderedReady")),
        ("Min Ready Seconds", spec.get("minReadySeconds", 0)),
        (
            "PVC Retention Policy",
            f"whenDeleted {retention.get('whenDeleted', 'Retain')}, whenScaled {retention.get('whenScaled', 'Retain')}",
        ),
        ("Service Name", spec.get("serviceName") or "<none>"),
        (
            "Pods Status",
            f"{phases.count('Running')} Running / {phases.count('Pending')} Waiting / "
            f"{phases.count('Succeeded')} Succeeded / {phases.count('Failed')} Failed",
        ),
    ]
    lines = status.get("ordinals") or []
    rows = [
        [line.get("pod", ""), line.get("node") or "<none>", line.get("state", ""), line.get("message", "")]
        for line in lines
    ]
    replica_text = (
        "Replicas:\n" + describe_mod._indent(output.table(["POD", "NODE", "STATE", "MESSAGE"], rows))
        if rows
        else "Replicas:  <none>"
    )
    live = [p for p in pods if p["status"]["phase"] in ("Pending", "Running", "Unknown")]
    return "\n".join(
        [
            describe_mod._kv(pairs),
            describe_mod._template(spec),
            _volumes(spec, meta["name"], status.get("replicaNodes") or {}),
            replica_text,
            describe_mod._pods_table(live, now),
            describe_mod._events(c, meta["uid"], now),
        ]
    )
