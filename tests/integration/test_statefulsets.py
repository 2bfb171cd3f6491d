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
# `touch /tmp/crash` (docker exec) makes it exit 3: a crash.
SERVER = (
    "trap 'exit 0' TERM; echo \"start $(hostname) $VERSION\" >> /data/log; sleep $DELAY; touch /tmp/ready; "
    "while true; do if [ -f /tmp/crash ]; then rm /tmp/crash; exit 3; fi; sleep 0.2; done"
)


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
def nodes(daemon: Daemon, node_guard: list[dockernodes.DockerNode]) -> Iterator[list[dockernodes.DockerNode]]:
    """The test nodes; after the test the daemon stops (it would recreate the replicas), then the
    StatefulSets' containers and volumes are removed."""
    clean(node_guard)
    yield node_guard
    if daemon.proc is not None and daemon.proc.poll() is None:
        daemon.stop()
    clean(node_guard)


def clean(nodes: list[dockernodes.DockerNode]) -> None:
    for node in nodes:
        if not node.is_running():
            continue
        with dockernodes.client(node.url) as c:
            for ctr in c.containers.list(all=True, filters={"label": "miniorch.io/owner-kind=StatefulSet"}):
                with contextlib.suppress(docker.errors.NotFound):
                    ctr.remove(force=True)
            for vol in c.volumes.list(filters={"label": "miniorch.io/owner-kind=StatefulSet"}):
                with contextlib.suppress(docker.errors.APIError):
                    vol.remove(force=True)


def sts(daemon: Daemon, name: str = "web") -> dict[str, Any]:
    result: dict[str, Any] = daemon.api("GET", f"/apis/apps/v1/namespaces/default/statefulsets/{name}")
    return result


def pods(daemon: Daemon, name: str = "web") -> dict[str, dict[str, Any]]:
    """Live pods by name."""
    items = daemon.api("GET", "/api/v1/pods", params={"labelSelector": f"app={name}"})["items"]
    return {p["metadata"]["name"]: p for p in items if p["status"]["phase"] in ("Pending", "Running", "Unknown")}


def ready(pod: dict[str, Any]) -> bool:
    cs = pod["status"].get("containerStatuses") or [{}]
    return (
        pod["status"]["phase"] == "Running"
        and bool(cs[0].get("ready"))
        and not pod["metadata"].get("deletionTimestamp")
    )


def ready_names(daemon: Daemon, name: str = "web") -> list[str]:
    return sorted(n for n, p in pods(daemon, name).items() if ready(p))


def all_ready(daemon: Daemon, want: list[str], name: str = "web") -> bool:
    status = sts(daemon, name)["status"]
    return ready_names(daemon, name) == want and status.get("readyReplicas") == len(want)


def volume_log(nodes: list[dockernodes.DockerNode], node: str, volume: str) -> list[str]:
    """The lines the replicas wrote into `volume` on `node`, read through a helper container."""
    target = next(n for n in nodes if n.name == node)
    with dockernodes.client(target.url) as c:
        out: bytes = c.containers.run(IMAGE, ["cat", "/data/log"], volumes={volume: {"bind": "/data"}}, remove=True)
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
    events = daemon.api("GET", "/api/v1/events")["items"]
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


def uid_of(daemon: Daemon, pod: str) -> str:
    return str(pods(daemon)[pod]["metadata"]["uid"])


def container_of(nodes: list[dockernodes.DockerNode], node: str, name: str) -> Any:
    target = next(n for n in nodes if n.name == node)
    with dockernodes.client(target.url) as c:
        return c.containers.get(name)


def _three(daemon: Daemon, **kw: Any) -> dict[str, dict[str, Any]]:
    daemon.apply(sts_yaml(**kw))
    daemon.wait_for(lambda: all_ready(daemon, ["web-0", "web-1", "web-2"]), timeout=60, what="3 ready replicas")
    return pods(daemon)


def test_deleted_crashed_and_adopted_replicas_keep_name_node_and_data(daemon: Daemon, nodes: list[Any]) -> None:
    """`ctl delete pod web-1`: it comes back as web-1 on the same node with the same volume; a crash
    restarts it in place; a daemon restart adopts it (same container, not started again)."""
    live = _three(daemon)
    node, old_uid = live["web-1"]["spec"]["nodeName"], live["web-1"]["metadata"]["uid"]
    started = time.monotonic()
    out = daemon.ctl("delete", "pod", "web-1", check=True).stdout
    assert out.strip() == 'pod "web-1" deleted'
    daemon.wait_for(
        lambda: "web-1" in ready_names(daemon) and uid_of(daemon, "web-1") != old_uid, timeout=30, what="web-1 back"
    )
    print(f"\nFIGURE delete pod to Ready again: {time.monotonic() - started:.2f}s")
    again = pods(daemon)["web-1"]
    assert again["spec"]["nodeName"] == node
    assert volume_log(nodes, node, "www-web-1") == ["start web-1 1", "start web-1 1"]
    assert sorted(p for p in pods(daemon)) == ["web-0", "web-1", "web-2"]  # one record per name
    # A crash: the container restarts in place (restart count 1), on its node, with its data.
    container = container_of(nodes, node, "web-1")
    container.exec_run(["touch", "/tmp/crash"])
    daemon.wait_for(
        lambda: (
            (pods(daemon)["web-1"]["status"]["containerStatuses"][0].get("restartCount") or 0) >= 1
            and "web-1" in ready_names(daemon)
        ),
        timeout=30,
        what="web-1 restarted in place",
    )
    assert container_of(nodes, node, "web-1").id == container.id
    assert len(volume_log(nodes, node, "www-web-1")) == 3
    # A daemon restart adopts every replica: same pods, same containers, no new start.
    ids = {name: container_of(nodes, p["spec"]["nodeName"], name).id for name, p in pods(daemon).items()}
    uids = {name: p["metadata"]["uid"] for name, p in pods(daemon).items()}
    daemon.stop()
    daemon.start()
    daemon.wait_for(lambda: all_ready(daemon, ["web-0", "web-1", "web-2"]), timeout=30, what="ready after restart")
    time.sleep(1)
    assert {name: p["metadata"]["uid"] for name, p in pods(daemon).items()} == uids
    assert {name: container_of(nodes, p["spec"]["nodeName"], name).id for name, p in pods(daemon).items()} == ids
    assert len(volume_log(nodes, node, "www-web-1")) == 3


def test_ordered_scale_down_then_up_reattaches_retained_volumes(daemon: Daemon, nodes: list[Any]) -> None:
    """`scale --replicas=1` removes web-2, then web-1 (each gone before the next); volumes stay
    (Retain); scaling up again brings web-1 and web-2 back on their nodes with their data."""
    live = _three(daemon)
    where = {name: p["spec"]["nodeName"] for name, p in live.items()}
    assert daemon.ctl("scale", "sts", "web", "--replicas=1", check=True).stdout.strip() == "statefulset.apps/web scaled"
    overlap: list[list[str]] = []

    def down() -> bool:
        now = pods(daemon)  # one listing: two would race the controller between them
        names = sorted(now)
        if "web-1" in names and "web-2" in names and now["web-1"]["metadata"].get("deletionTimestamp"):
            overlap.append(names)
        return names == ["web-0"]

    daemon.wait_for(down, timeout=30, what="scaled down to web-0")
    assert not overlap, "web-1 was stopped while web-2 was still there"
    events = [e for e in daemon.api("GET", "/api/v1/events")["items"] if e["reason"] == "SuccessfulDelete"]
    assert [e["message"].split()[2] for e in sorted(events, key=lambda e: e["firstTimestamp"])] == ["web-2", "web-1"]
    assert {"www-web-0", "www-web-1", "www-web-2"} <= set(volumes_on(nodes))
    daemon.ctl("scale", "sts", "web", "--replicas=3", check=True)
    daemon.wait_for(lambda: all_ready(daemon, ["web-0", "web-1", "web-2"]), timeout=60, what="scaled up again")
    for name, p in pods(daemon).items():
        assert p["spec"]["nodeName"] == where[name]
    assert volume_log(nodes, where["web-2"], "www-web-2") == ["start web-2 1", "start web-2 1"]


def test_retention_policy_delete_removes_the_volumes_on_scale_down_and_deletion(
    daemon: Daemon, nodes: list[Any]
) -> None:
    """persistentVolumeClaimRetentionPolicy whenScaled: Delete: scale-down takes the volumes along;
    whenDeleted: Delete: deleting the StatefulSet takes the rest."""
    policy = {"whenScaled": "Delete", "whenDeleted": "Delete"}
    _three(daemon, spec={"persistentVolumeClaimRetentionPolicy": policy})
    daemon.ctl("scale", "sts/web", "--replicas=1", check=True)
    daemon.wait_for(lambda: set(volumes_on(nodes)) == {"www-web-0"}, timeout=30, what="volumes of web-1, web-2 removed")
    assert sorted(pods(daemon)) == ["web-0"]
    daemon.ctl("delete", "sts", "web", check=True)
    daemon.wait_for(lambda: not volumes_on(nodes), timeout=30, what="www-web-0 removed")


def test_rolling_update_goes_in_reverse_order_and_honours_the_partition(daemon: Daemon, nodes: list[Any]) -> None:
    """A new template replaces web-2 then web-1 (each Ready before the next), not web-0 below the
    partition; lowering the partition updates web-0; rollout history and undo work on sts/web."""
    _three(daemon, spec={"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}})
    first = sts(daemon)["status"]["updateRevision"]
    daemon.apply(sts_yaml(version="2", spec={"updateStrategy": {"rollingUpdate": {"partition": 1}}}))
    out = daemon.ctl("rollout", "status", "sts/web", "--timeout=60s", check=True).stdout
    assert "partitioned roll out complete: 2 new pods have been updated..." in out
    second = sts(daemon)["status"]["updateRevision"]
    revs = {n: p["metadata"]["labels"]["controller-revision-hash"] for n, p in pods(daemon).items()}
    assert revs == {"web-0": first, "web-1": second, "web-2": second}
    events = [e for e in daemon.api("GET", "/api/v1/events")["items"] if e["reason"] == "SuccessfulDelete"]
    assert [e["message"].split()[2] for e in sorted(events, key=lambda e: e["firstTimestamp"])] == ["web-2", "web-1"]
    where = {n: p["spec"]["nodeName"] for n, p in pods(daemon).items()}
    assert volume_log(nodes, where["web-2"], "www-web-2") == ["start web-2 1", "start web-2 2"]
    daemon.apply(sts_yaml(version="2", spec={"updateStrategy": {"rollingUpdate": {"partition": 0}}}))
    daemon.ctl("rollout", "status", "sts/web", "--timeout=60s", check=True)
    daemon.wait_for(lambda: sts(daemon)["status"].get("currentRevision") == second, timeout=30, what="current revision")
    assert volume_log(nodes, where["web-0"], "www-web-0") == ["start web-0 1", "start web-0 2"]
    history = daemon.ctl("rollout", "history", "sts/web", check=True).stdout
    assert history.splitlines()[0] == "statefulset.apps/web" and len(history.splitlines()) == 4
    assert daemon.ctl("rollout", "undo", "sts/web", check=True).stdout.strip() == "statefulset.apps/web rolled back"
    daemon.wait_for(
        lambda: (
            all_ready(daemon, ["web-0", "web-1", "web-2"])
            and {p["metadata"]["labels"]["controller-revision-hash"] for p in pods(daemon).values()} == {first}
        ),
        timeout=60,
        what="rolled back",
    )
    assert volume_log(nodes, where["web-1"], "www-web-1")[-1] == "start web-1 1"


def test_on_delete_waits_for_delete_pod_which_brings_the_new_template(daemon: Daemon, nodes: list[Any]) -> None:
    """updateStrategy OnDelete: a new template changes no pod until `ctl delete pod` replaces it."""
    _three(daemon, spec={"updateStrategy": {"type": "OnDelete"}})
    first = sts(daemon)["status"]["updateRevision"]
    daemon.apply(sts_yaml(version="2", spec={"updateStrategy": {"type": "OnDelete"}}))
    daemon.wait_for(lambda: sts(daemon)["status"]["updateRevision"] != first, timeout=10, what="new revision")
    time.sleep(2)
    assert {p["metadata"]["labels"]["controller-revision-hash"] for p in pods(daemon).values()} == {first}
    daemon.ctl("delete", "pod", "web-0", check=True)
    daemon.wait_for(
        lambda: (
            "web-0" in ready_names(daemon)
            and pods(daemon)["web-0"]["metadata"]["labels"]["controller-revision-hash"] != first
        ),
        timeout=30,
        what="web-0 on the new template",
    )
    node = pods(daemon)["web-0"]["spec"]["nodeName"]
    assert volume_log(nodes, node, "www-web-0") == ["start web-0 1", "start web-0 2"]


def test_parallel_policy_starts_and_stops_all_at_once(daemon: Daemon, nodes: list[Any]) -> None:
    """podManagementPolicy Parallel: the three pods are created without waiting for each other,
    and removed together."""
    daemon.apply(sts_yaml(delay="4", spec={"podManagementPolicy": "Parallel"}))
    daemon.wait_for(lambda: sorted(pods(daemon)) == ["web-0", "web-1", "web-2"], timeout=15, what="3 pods")
    assert ready_names(daemon) == []  # all there before the first is ready (each takes 4 s)
    daemon.wait_for(lambda: all_ready(daemon, ["web-0", "web-1", "web-2"]), timeout=60, what="3 ready")
    daemon.ctl("scale", "sts", "web", "--replicas=0", check=True)
    terminating: set[str] = set()

    def gone() -> bool:
        live = pods(daemon)
        terminating.update(n for n, p in live.items() if p["metadata"].get("deletionTimestamp"))
        return not live

    daemon.wait_for(gone, timeout=30, what="all removed")
    events = [e for e in daemon.api("GET", "/api/v1/events")["items"] if e["reason"] == "SuccessfulDelete"]
    stamps = sorted(e["firstTimestamp"] for e in events)
    assert len(stamps) == 3 and stamps[0][:19] == stamps[-1][:19]  # asked in one pass


def test_a_replica_whose_node_is_down_waits_for_it_and_returns_with_its_data(daemon: Daemon, nodes: list[Any]) -> None:
    """The node of web-1 stops: web-1 is not started elsewhere (its volume is there) and says which
    node it waits for; web-0 and web-2 carry on; when the node is back web-1 is Ready there."""
    live = _three(daemon)
    node_name = live["web-1"]["spec"]["nodeName"]
    others = {n: p["spec"]["nodeName"] for n, p in live.items() if n != "web-1"}
    node = next(n for n in nodes if n.name == node_name)
    node.stop()

    def waiting() -> bool:
        pod = pods(daemon).get("web-1")
        if pod is None:
            return False
        return pod["status"]["phase"] in ("Unknown", "Pending") and node_name in pod["status"].get("message", "")

    daemon.wait_for(waiting, timeout=90, what="web-1 waiting for its node")
    time.sleep(3)
    assert pods(daemon)["web-1"]["spec"]["nodeName"] == node_name
    assert [n for n in ready_names(daemon) if n != "web-1"] == sorted(n for n in others if others[n] != node_name)
    described = daemon.ctl("describe", "sts", "web", check=True).stdout
    assert node_name in described
    node.start()
    daemon.wait_for(lambda: all_ready(daemon, ["web-0", "web-1", "web-2"]), timeout=60, what="web-1 back")
    assert pods(daemon)["web-1"]["spec"]["nodeName"] == node_name
    assert volume_log(nodes, node_name, "www-web-1")[0] == "start web-1 1"


def test_a_statefulset_applied_again_after_deletion_reattaches_its_retained_volumes(
    daemon: Daemon, nodes: list[Any]
) -> None:
    """whenDeleted: Retain (default): the volumes outlive the StatefulSet; applied again under the
    same name, each replica comes back on the node of its volume, with its data."""
    live = _three(daemon)
    where = {name: p["spec"]["nodeName"] for name, p in live.items()}
    daemon.ctl("delete", "sts", "web", check=True)
    assert set(volumes_on(nodes)) == {"www-web-0", "www-web-1", "www-web-2"}
    # Another set takes the least loaded nodes first: placed afresh, web-0 would go elsewhere.
    daemon.apply(sts_yaml("other", 2), "other.yaml")
    daemon.wait_for(lambda: all_ready(daemon, ["other-0", "other-1"], "other"), timeout=60, what="other ready")
    _three(daemon)
    assert {name: p["spec"]["nodeName"] for name, p in pods(daemon).items()} == where
    assert volume_log(nodes, where["web-2"], "www-web-2") == ["start web-2 1", "start web-2 1"]
