"""StatefulSets end to end on real Docker nodes: ports of Kubernetes' StatefulSet e2e scenarios
(test/e2e/apps/statefulset.go): ordered creation and scale-down, stable names, hostnames and
volumes across pod deletion, crashes and daemon restarts, reverse-order rolling updates with a
partition, Parallel management, and a replica whose node goes away."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import docker.errors
import pytest
import yaml
from support import dockernodes
from support.daemon import Daemon

IMAGE = "miniorch.local/busybox:latest"
# Writes one line per start into its volume, then serves until told to stop; ready once /tmp/ready exists.
SERVER = "trap 'exit 0' TERM; echo \"start $(hostname) $VERSION\" >> /data/log; sleep $DELAY; touch /tmp/ready; " \
    "while true; do sleep 0.2; done"


def sts_yaml(
    name: str = "web",
    replicas: int = 3,
    *,
    version: str = "1",
    delay: str = "0.5",
    spec: dict[str, Any] | None = None,
) -> str:
    body: dict[str, Any] = {
        "serviceName": name,
        "replicas": replicas,
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {
                "terminationGracePeriodSeconds": 2,
                "containers": [
                    {
                        "name": "server",
                        "image": IMAGE,
                        "imagePullPolicy": "Never",
                        "command": ["sh", "-c", SERVER],
                        "env": [{"name": "VERSION", "value": version}, {"name": "DELAY", "value": delay}],
                        "volumeMounts": [{"name": "www", "mountPath": "/data"}],
                        "readinessProbe": {"exec": {"command": ["test", "-f", "/tmp/ready"]}, "periodSeconds": 1},
                    }
                ],
            },
        },
        "volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {"accessModes": ["ReadWriteOnce"]}}],
        **(spec or {}),
    }
    return yaml.safe_dump({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name}, "spec": body})


@pytest.fixture
def nodes(node_guard: list[dockernodes.DockerNode]) -> Iterator[list[dockernodes.DockerNode]]:
    """The test nodes; the StatefulSets' volumes are removed after the test (after its containers)."""
    yield node_guard
    for node in node_guard:
        if not node.is_running():
            continue
        with dockernodes.client(node.url) as c:
            for ctr in c.containers.list(all=True, filters={"label": "miniorch.io/managed=true"}, ignore_removed=True):
                with contextlib.suppress(docker.errors.NotFound):
                    ctr.remove(force=True)
            for vol in c.volumes.list(filters={"label": "miniorch.io/owner-kind=StatefulSet"}):
                with contextlib.suppress(docker.errors.APIError):
                    vol.remove(force=True)


def sts(daemon: Daemon, name: str = "web") -> dict[str, Any]:
    result: dict[str, Any] = daemon.api("GET", f"/api/objects/statefulsets/default/{name}")
    return result


def pods(daemon: Daemon, name: str = "web") -> dict[str, dict[str, Any]]:
    """Live pods by name."""
    items = daemon.api("GET", "/api/pods", params={"selector": f"app={name}"})["items"]
    return {p["metadata"]["name"]: p for p in items if p["status"]["phase"] in ("Pending", "Running", "Unknown")}


def ready(pod: dict[str, Any]) -> bool:
    cs = pod["status"].get("containerStatuses") or [{}]
    return pod["status"]["phase"] == "Running" and bool(cs[0].get("ready")) and not pod["metadata"].get("deletionTimestamp")


def ready_names(daemon: Daemon, name: str = "web") -> list[str]:
    return sorted(n for n, p in pods(daemon, name).items() if ready(p))


def all_ready(daemon: Daemon, want: list[str], name: str = "web") -> bool:
    status = sts(daemon, name)["status"]
    return ready_names(daemon, name) == want and status.get("readyReplicas") == len(want)


def volume_log(nodes: list[dockernodes.DockerNode], node: str, volume: str) -> list[str]:
    """The lines the replicas wrote into `volume` on `node`, read through a helper container."""
    target = next(n for n in nodes if n.name == node)
    with dockernodes.client(target.url) as c:
        out = c.containers.run(IMAGE, ["cat", "/data/log"], volumes={volume: {"bind": "/data"}}, remove=True)
    return out.decode().splitlines()


def volumes_on(nodes: list[dockernodes.DockerNode]) -> dict[str, str]:
    """volume name -> node of every StatefulSet volume."""
    out = {}
    for node in nodes:
        with dockernodes.client(node.url) as c:
            for vol in c.volumes.list(filters={"label": "miniorch.io/owner-kind=StatefulSet"}):
                out[vol.name] = node.name
    return out


def creation_order(daemon: Daemon) -> list[str]:
    events = daemon.api("GET", "/api/events")["items"]
    created = [e for e in events if e["reason"] == "SuccessfulCreate" and e["involvedObject"]["kind"] == "StatefulSet"]
    created.sort(key=lambda e: e["firstTimestamp"])
    return [e["message"].split()[2] for e in created]


def test_ordered_creation_stable_names_hostnames_labels_and_volumes(daemon: Daemon, nodes: list[Any]) -> None:
    """web-0, web-1, web-2 start in order, each once the one before is Running and Ready; each has
    hostname = pod name, the StatefulSet labels and its own volume www-web-N on its node."""
    started = time.monotonic()
    daemon.apply(sts_yaml(delay="1"))
    seen: list[list[str]] = []

    def progress() -> bool:
        live = sorted(pods(daemon))
        if not seen or seen[-1] != live:
            seen.append(live)
        return all_ready(daemon, ["web-0", "web-1", "web-2"])

    daemon.wait_for(progress, timeout=60, what="3 ready replicas")
    elapsed = time.monotonic() - started
    print(f"\nFIGURE apply to 3 Ready replicas: {elapsed:.2f}s")
    # Never a pod before its predecessors: the live set only ever grew as a prefix.
    assert all(names == [f"web-{i}" for i in range(len(names))] for names in seen), seen
    assert creation_order(daemon) == ["web-0", "web-1", "web-2"]
    live = pods(daemon)
    vols = volumes_on(nodes)
    for i in range(3):
        pod = live[f"web-{i}"]
        labels = pod["metadata"]["labels"]
        assert labels["statefulset.kubernetes.io/pod-name"] == f"web-{i}"
        assert labels["apps.kubernetes.io/pod-index"] == str(i)
        assert labels["controller-revision-hash"] == sts(daemon)["status"]["updateRevision"]
        assert vols[f"www-web-{i}"] == pod["spec"]["nodeName"]
        assert volume_log(nodes, pod["spec"]["nodeName"], f"www-web-{i}") == [f"start web-{i} 1"]
    status = sts(daemon)["status"]
    assert status["replicaNodes"] == {str(i): live[f"web-{i}"]["spec"]["nodeName"] for i in range(3)}
    out = daemon.ctl("get", "sts").stdout.split()
    assert out[:5] == ["NAME", "READY", "AGE", "web", "3/3"]
