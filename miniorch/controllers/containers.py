"""The container to create on a node for a pod: its pod template translated into a ContainerSpec.

Labels make every container findable and adoptable after a daemon restart (DESIGN.md section 2).
Pure; it lives with the controllers because its output is the nodes layer's record.
"""

from __future__ import annotations

import posixpath

from miniorch.nodes import records as nr
from miniorch.reconcile import configrefs
from miniorch.spec import quantity
from miniorch.spec.container import Probe
from miniorch.spec.pod import PodTemplateSpec
from miniorch.store.records import PodRecord

POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"  # reconcile.statefulset's, without importing the planner


def labels_for(pod: PodRecord) -> dict[str, str]:
    labels = {
        **pod.labels,
        nr.MANAGED: "true",
        nr.OWNER_KIND: pod.owner_kind,
        nr.OWNER_NAME: pod.owner_name,
        nr.OWNER_UID: pod.owner_uid,
        nr.NAMESPACE: pod.namespace,
        nr.POD: pod.name,
        nr.POD_UID: pod.uid,
    }
    if pod.completion_index is not None:
        labels[nr.COMPLETION_INDEX] = str(pod.completion_index)
    return labels


def _index_env(pod: PodRecord) -> dict[str, str]:
    return {} if pod.completion_index is None else {"JOB_COMPLETION_INDEX": str(pod.completion_index)}


def _hostname(pod: PodRecord) -> str:
    """`<job>-<index>` for Indexed Jobs, as Kubernetes; else the pod name."""
    return pod.name if pod.completion_index is None else f"{pod.owner_name}-{pod.completion_index}"


def container_spec(pod: PodRecord, template: PodTemplateSpec, env: dict[str, str] | None = None) -> nr.ContainerSpec:
    spec = template.spec
    c = spec.containers[0]
    limits = c.resources.limits
    volumes = {v.name: v for v in spec.volumes}
    mounts = []
    for m in c.volume_mounts:
        vol = volumes.get(m.name)
        if vol is None:  # a StatefulSet's volumeClaimTemplates entry
            mounts.append(claim_mount(pod, m.name, m.mount_path, m.read_only))
        elif vol.holds_config:
            continue  # its files are put into the container before it starts (_config_step)
        elif vol.host_path is not None:
            # The normalised path is the one check_policy allowed; Docker must not see the '..' form.
            mounts.append(nr.Mount(posixpath.normpath(vol.host_path.path), m.mount_path, m.read_only))
        else:  # emptyDir: a Docker volume private to this pod, removed with the container
            mounts.append(nr.Mount(f"{pod.name}-{m.name}", m.mount_path, m.read_only, is_volume=True))
    sc = c.security_context
    return nr.ContainerSpec(
        name=pod.name,
        image=c.image,
        labels=labels_for(pod),
        command=tuple(c.command) if c.command is not None else None,
        args=tuple(c.args) if c.args is not None else None,
        env={**{e.name: e.value for e in c.env if e.value_from is None}, **_index_env(pod), **(env or {})},
        working_dir=c.working_dir,
        hostname=spec.hostname or _hostname(pod),
        nano_cpus=int(quantity.parse_cpu(limits.cpu) * 1e9) if limits.cpu else None,
        mem_limit=int(quantity.parse_memory(limits.memory)) if limits.memory else None,
        ports=tuple(nr.PortBinding(p.container_port, p.host_port, p.protocol.lower()) for p in c.ports),
        mounts=tuple(mounts),
        privileged=bool(sc and sc.privileged),
        user=str(sc.run_as_user) if sc and sc.run_as_user is not None else None,
        host_network=spec.host_network,
        pull=c.image_pull_policy,
        stop_grace_seconds=spec.termination_grace_period_seconds,
        # Long-running pods: the node restarts them itself, even while the daemon is down.
        restart_policy="unless-stopped" if spec.restart_policy == "Always" else None,
        healthcheck=_healthcheck(c.readiness_probe),
        config=_config_step(template),
    )


def _config_step(template: PodTemplateSpec) -> object | None:
    """The pod spec when it reads ConfigMaps or Secrets: the launch resolves it (controllers.configrefs)."""
    return template.spec if configrefs.wanted(template.spec) is not None else None


def claim_mount(pod: PodRecord, claim: str, path: str, read_only: bool) -> nr.Mount:
    """The replica's Docker named volume `<claim>-<statefulset>-<ordinal>` (Kubernetes' PVC name),
    created with the container on first use, labelled so that it can be found and removed."""
    ordinal = pod.labels.get(POD_INDEX_LABEL, pod.name.rpartition("-")[2])
    labels = (
        (nr.MANAGED, "true"),
        (nr.OWNER_KIND, pod.owner_kind),
        (nr.OWNER_NAME, pod.owner_name),
        (nr.OWNER_UID, pod.owner_uid),
        (nr.NAMESPACE, pod.namespace),
        (POD_INDEX_LABEL, ordinal),
    )
    return nr.Mount(f"{claim}-{pod.owner_name}-{ordinal}", path, read_only, is_volume=True, labels=labels)


def _healthcheck(probe: Probe | None) -> nr.HealthCheck | None:
    """readinessProbe.exec as a Docker healthcheck (successThreshold > 1 has no Docker equivalent)."""
    if probe is None:
        return None
    return nr.HealthCheck(
        command=tuple(probe.exec.command),
        interval_seconds=probe.period_seconds,
        timeout_seconds=probe.timeout_seconds,
        retries=probe.failure_threshold,
        start_period_seconds=probe.initial_delay_seconds,
    )
