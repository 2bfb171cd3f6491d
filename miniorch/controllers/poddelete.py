"""`ctl delete pod NAME` (and the Kubernetes `DELETE pods/{name}`): one pod of any kind.

The decision is recorded on the pod (`deletion_reason` Deleted); the next pass stops and removes
its container (PodSync, or the pod's own planner) and its controller replaces it as Kubernetes
would: a Job pod is not counted as failed, a DaemonSet pod under OnDelete comes back with the new
template, a StatefulSet pod comes back with its name, node and volumes.
"""

from __future__ import annotations

import dataclasses

import structlog

from miniorch.controllers.objects import NotFound
from miniorch.store.records import PodPhase, PodRecord
from miniorch.store.store import Store

log = structlog.get_logger(__name__)

DELETED = "Deleted"  # the pod's reason once its container is gone


def delete_pod(store: Store, namespace: str, name: str) -> PodRecord:
    """Mark the pod for deletion and return it as it now stands; NotFound when there is none.

    A finished pod whose container is already gone is forgotten at once; a pod never placed on a
    node has no container and finishes here.
    """
    pod = store.get_pod(namespace, name)
    if pod is None:
        raise NotFound(f'pods "{name}" not found')
    if pod.phase.terminal:
        if pod.container_removed:
            store.delete_pods([pod.uid])
        return pod
    if pod.deletion_reason:
        return pod  # already being stopped
    if pod.node is None:
        done = dataclasses.replace(
            pod, phase=PodPhase.FAILED, reason=DELETED, deletion_reason=DELETED, container_removed=True
        )
        store.save_pod(done)
        log.info("pod_deleted", pod=name, namespace=namespace, owner=pod.owner_name)
        return done
    marked = dataclasses.replace(pod, deletion_reason=DELETED)
    store.save_pod(marked)
    log.info("pod_delete_requested", pod=name, namespace=namespace, node=pod.node, owner=pod.owner_name)
    return marked
