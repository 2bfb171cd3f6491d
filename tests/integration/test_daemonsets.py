"""DaemonSets end to end on real Docker nodes: one pod per matching node, relabels,
revival, rolling updates and rollbacks, NotReady nodes, healthchecks, restarts."""

from __future__ import annotations

import time
from typing import Any

import yaml
from conftest import managed_containers
from support import dockernodes
from support.daemon import Daemon

IMAGE = "miniorch.local/busybox:latest"
# PID 1 in busybox ignores SIGTERM unless trapped: stop in well under a second.
AGENT = "trap 'exit 0' TERM; echo agent $VERSION; while true; do sleep 0.2; done"


def ds_yaml(
    name: str,
    *,
    env: str = "1",
    image: str = IMAGE,
    pod_spec: dict[str, Any] | None = None,
    spec: dict[str, Any] | None = None,
    container: dict[str, Any] | None = None,
) -> str:
    body: dict[str, Any] = {
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {
                "terminationGracePeriodSeconds": 2,
                "containers": [
                    {
                        "name": "agent",
                        "image": image,
                        "imagePullPolicy": "Never",
                        "command": ["sh", "-c", AGENT],
                        "env": [{"name": "VERSION", "value": env}],
                        **(container or {}),
                    }
                ],
                **(pod_spec or {}),
            },
        },
        **(spec or {}),
    }
    return yaml.safe_dump({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name}, "spec": body})


def ds(daemon: Daemon, name: str) -> dict[str, Any]:
    result: dict[str, Any] = daemon.api("GET", f"/apis/apps/v1/namespaces/default/daemonsets/{name}")
    return result


def live_pods(daemon: Daemon, name: str) -> list[dict[str, Any]]:
    """Pods of the DaemonSet that are not finished, oldest first."""
    items = daemon.api("GET", "/api/v1/pods", params={"labelSelector": f"app={name}"})["items"]
    live = [p for p in items if p["status"]["phase"] in ("Pending", "Running", "Unknown")]
    return sorted(live, key=lambda p: p["metadata"]["creationTimestamp"])


def by_node(daemon: Daemon, name: str) -> dict[str, str]:
    """node -> pod name of running, ready pods (fails the wait if a node has two)."""
    out: dict[str, str] = {}
    for pod in live_pods(daemon, name):
        cs = pod["status"]["containerStatuses"][0]
        if pod["status"]["phase"] == "Running" and cs["ready"] and not pod["metadata"].get("deletionTimestamp"):
            out[pod["spec"]["nodeName"]] = pod["metadata"]["name"]
    return out


def settled(daemon: Daemon, name: str, nodes: set[str], revision_hash: str | None = None) -> dict[str, str] | None:
    """One ready pod on exactly `nodes`, status in agreement; returns node -> pod name."""
    pods = live_pods(daemon, name)
    ready = by_node(daemon, name)
    status = ds(daemon, name)["status"]
    if len(pods) != len(nodes) or set(ready) != nodes:
        return None
    if revision_hash and any(p["metadata"]["labels"].get("controller-revision-hash") != revision_hash for p in pods):
        return None
    n = len(nodes)
    want = {"desiredNumberScheduled": n, "currentNumberScheduled": n, "numberReady": n, "numberMisscheduled": 0}
    if any(status.get(k) != v for k, v in want.items()):
        return None
    return ready


def containers_by_node(docker_nodes: list[dockernodes.DockerNode], name: str) -> dict[str, list[Any]]:
    found = managed_containers(docker_nodes)
    return {node: [c for c in cs if c.labels.get("miniorch.io/owner-name") == name] for node, cs in found.items()}


ALL = {"node0", "node1", "node2"}


def test_one_pod_per_node_with_restart_policy_and_status(daemon: Daemon, docker_nodes: list[Any]) -> None:
    """A DaemonSet runs exactly one pod on each of 3 nodes, each container with a Docker restart policy;
    status counts agree and `get ds` prints kubectl's columns."""
    daemon.apply(ds_yaml("agent"))
    pods = daemon.wait_for(lambda: settled(daemon, "agent", ALL), timeout=20, what="3 agent pods")
    status = ds(daemon, "agent")["status"]
    assert status["numberAvailable"] == 3 and status["updatedNumberScheduled"] == 3
    assert status["numberUnavailable"] == 0
    for node, found in containers_by_node(docker_nodes, "agent").items():
        assert [c.name for c in found] == [pods[node]]
        assert found[0].attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
        assert found[0].labels["controller-revision-hash"]
    out = daemon.ctl("get", "ds", check=True).stdout.splitlines()
    assert out[0].split() == [
        "NAME",
        "DESIRED",
        "CURRENT",
        "READY",
        "UP-TO-DATE",
        "AVAILABLE",
        "NODE",
        "SELECTOR",
        "AGE",
    ]
    assert out[1].split()[:7] == ["agent", "3", "3", "3", "3", "3", "<none>"]


def test_removed_or_crashed_container_is_revived_on_the_same_node(
    daemon: Daemon, docker_nodes: list[dockernodes.DockerNode]
) -> None:
    """`docker rm -f` of a daemon pod's container: a new pod on the same node within seconds.
    A container that exits on its own is restarted in place by Docker's restart policy (restartCount 1)."""
    daemon.apply(ds_yaml("revive"))
    before = daemon.wait_for(lambda: settled(daemon, "revive", ALL), timeout=20, what="3 pods")
    node1 = next(n for n in docker_nodes if n.name == "node1")
    with dockernodes.client(node1.url) as c:
        c.containers.get(before["node1"]).remove(force=True)
    after = daemon.wait_for(
        lambda: (s := settled(daemon, "revive", ALL)) and s["node1"] != before["node1"] and s,
        timeout=15,
        what="a new pod on node1",
    )
    assert after["node0"] == before["node0"] and after["node2"] == before["node2"]
    old = daemon.api("GET", f"/api/v1/namespaces/default/pods/{before['node1']}")
    assert old["status"]["phase"] == "Failed" and old["status"]["reason"] == "ContainerRemoved"
    with dockernodes.client(node1.url) as c:  # the agent exits by itself (not `docker kill`, a manual stop)
        c.containers.get(after["node1"]).exec_run(["kill", "-TERM", "1"])

    def restarted() -> bool:
        pod = daemon.api("GET", f"/api/v1/namespaces/default/pods/{after['node1']}")
        return pod["status"]["containerStatuses"][0]["restartCount"] >= 1 and bool(settled(daemon, "revive", ALL))

    daemon.wait_for(restarted, timeout=15, what="restartCount 1 on the same pod")
    assert by_node(daemon, "revive")["node1"] == after["node1"]


def test_node_selector_follows_relabels(daemon: Daemon) -> None:
    """nodeSelector color=blue: no pods; label node1 blue -> a pod there; relabel green -> gone,
    numberMisscheduled back to 0. A cordoned node keeps and still gets its pod."""
    daemon.apply(ds_yaml("picky", pod_spec={"nodeSelector": {"daemonset-color": "blue"}}))
    daemon.wait_for(lambda: ds(daemon, "picky")["status"].get("observedGeneration") == 1, timeout=10, what="status")
    assert live_pods(daemon, "picky") == [] and ds(daemon, "picky")["status"]["desiredNumberScheduled"] == 0
    daemon.ctl("cordon", "node1", check=True)
    start = time.monotonic()
    daemon.ctl("label", "node", "node1", "daemonset-color=blue", check=True)
    daemon.wait_for(lambda: settled(daemon, "picky", {"node1"}), timeout=10, what="a pod on blue node1")
    assert time.monotonic() - start < 5
    daemon.ctl("label", "node", "node1", "daemonset-color=green", check=True)
    daemon.wait_for(
        lambda: live_pods(daemon, "picky") == [] and ds(daemon, "picky")["status"]["numberMisscheduled"] == 0,
        timeout=10,
        what="the pod gone from green node1",
    )
    daemon.ctl(
        "patch",
        "ds",
        "picky",
        "-p",
        '{"spec":{"template":{"spec":{"nodeSelector":{"daemonset-color":"green"}}}}}',
        check=True,
    )
    daemon.wait_for(lambda: settled(daemon, "picky", {"node1"}), timeout=10, what="a pod on green node1")
    daemon.ctl("uncordon", "node1", check=True)


def test_required_node_affinity_operators(daemon: Daemon) -> None:
    """In / NotIn / Exists / DoesNotExist terms pick the matching nodes and follow relabels."""
    daemon.ctl("label", "node", "node0", "disk=nvme", check=True)
    daemon.ctl("label", "node", "node1", "disk=hdd", check=True)

    def affinity(*exprs: dict[str, Any]) -> dict[str, Any]:
        term = {"matchExpressions": list(exprs)}
        return {
            "affinity": {
                "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}
            }
        }

    daemon.apply(ds_yaml("in", pod_spec=affinity({"key": "disk", "operator": "In", "values": ["nvme"]})), "in.yaml")
    daemon.apply(
        ds_yaml("notin", pod_spec=affinity({"key": "disk", "operator": "NotIn", "values": ["nvme"]})), "ni.yaml"
    )
    daemon.apply(ds_yaml("exists", pod_spec=affinity({"key": "disk", "operator": "Exists"})), "ex.yaml")
    daemon.apply(ds_yaml("absent", pod_spec=affinity({"key": "disk", "operator": "DoesNotExist"})), "dne.yaml")
    daemon.wait_for(lambda: settled(daemon, "in", {"node0"}), timeout=15, what="In")
    daemon.wait_for(lambda: settled(daemon, "notin", {"node1", "node2"}), timeout=15, what="NotIn")
    daemon.wait_for(lambda: settled(daemon, "exists", {"node0", "node1"}), timeout=15, what="Exists")
    daemon.wait_for(lambda: settled(daemon, "absent", {"node2"}), timeout=15, what="DoesNotExist")
    daemon.ctl("label", "node", "node0", "disk-", check=True)
    daemon.wait_for(lambda: settled(daemon, "in", set()) is not None, timeout=10, what="In gone from node0")
    daemon.wait_for(lambda: settled(daemon, "absent", {"node0", "node2"}), timeout=10, what="DoesNotExist on node0")


def test_deleting_the_daemonset_removes_its_containers_everywhere(
    daemon: Daemon, docker_nodes: list[dockernodes.DockerNode]
) -> None:
    """`ctl delete ds` waits until every node's container is gone; no pod records or revisions stay."""
    daemon.apply(ds_yaml("gone"))
    daemon.wait_for(lambda: settled(daemon, "gone", ALL), timeout=20, what="3 pods")
    daemon.ctl("delete", "ds", "gone", check=True)
    assert all(not cs for cs in containers_by_node(docker_nodes, "gone").values())
    assert ds(daemon, "gone") is None
    assert daemon.api("GET", "/api/v1/pods", params={"labelSelector": "app=gone"})["items"] == []


def _hash(daemon: Daemon, name: str, revision: int) -> str:
    items = daemon.api("GET", f"/apis/apps/v1/namespaces/default/daemonsets/{name}/revisions")["items"]
    return str(next(r for r in items if r["revision"] == revision)["metadata"]["labels"]["controller-revision-hash"])


def _roll(daemon: Daemon, name: str, new_hash: str, timeout: float = 30) -> tuple[int, int, int]:
    """Poll until every node runs a ready pod of `new_hash`:
    (most unavailable, fewest ready nodes, most pods not terminating)."""
    worst, fewest, most = 0, 3, 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = by_node(daemon, name)
        status = ds(daemon, name)["status"]
        worst = max(worst, 3 - len(ready), status["numberUnavailable"])
        fewest = min(fewest, len(ready))
        most = max(most, sum(not p["metadata"].get("deletionTimestamp") for p in live_pods(daemon, name)))
        if settled(daemon, name, ALL, new_hash) and status.get("updatedNumberScheduled") == 3:
            return worst, fewest, most
        time.sleep(0.05)
    raise AssertionError(f"rollout of {name} did not finish in {timeout}s\n{daemon.log_text()[-3000:]}")


def test_rolling_update_keeps_at_most_max_unavailable_and_rollout_status_follows(daemon: Daemon) -> None:
    """Changing an env value rolls one node at a time (maxUnavailable 1, polled); pods end on revision 2
    and `rollout status` exits 0; `rollout history` lists both revisions."""
    daemon.apply(ds_yaml("roll"))
    daemon.wait_for(lambda: settled(daemon, "roll", ALL), timeout=20, what="3 pods")
    start = time.monotonic()
    daemon.apply(ds_yaml("roll", env="2"))
    worst, _, most = _roll(daemon, "roll", _hash(daemon, "roll", 2))
    took = time.monotonic() - start
    assert worst <= 1 and most <= 3, (worst, most)
    status = daemon.ctl("rollout", "status", "ds/roll", "--timeout=20s")
    assert status.returncode == 0 and 'daemon set "roll" successfully rolled out' in status.stdout
    history = daemon.ctl("rollout", "history", "ds/roll", check=True).stdout.split()
    assert history[:6] == ["daemonset.apps/roll", "REVISION", "CHANGE-CAUSE", "1", "<none>", "2"]
    pod = live_pods(daemon, "roll")[0]["metadata"]["name"]
    assert daemon.ctl("logs", pod).stdout.strip() == "agent 2"
    print(f"rolling update across 3 nodes took {took:.2f}s")


def test_surge_starts_the_new_pod_before_stopping_the_old_one(daemon: Daemon) -> None:
    """maxSurge 1 / maxUnavailable 0: every node keeps a ready pod throughout; nodes briefly run two."""
    strategy = {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}}
    daemon.apply(ds_yaml("surge", spec=strategy))
    daemon.wait_for(lambda: settled(daemon, "surge", ALL), timeout=20, what="3 pods")
    daemon.apply(ds_yaml("surge", env="2", spec=strategy))
    worst, fewest, most = _roll(daemon, "surge", _hash(daemon, "surge", 2))
    assert fewest == 3 and most == 4, (worst, fewest, most)


def test_on_delete_keeps_old_pods_until_they_are_removed(
    daemon: Daemon, docker_nodes: list[dockernodes.DockerNode]
) -> None:
    """OnDelete: a template change makes revision 2 but restarts nothing; a removed pod comes back on revision 2."""
    strategy = {"updateStrategy": {"type": "OnDelete"}}
    daemon.apply(ds_yaml("lazy", spec=strategy))
    before = daemon.wait_for(lambda: settled(daemon, "lazy", ALL), timeout=20, what="3 pods")
    first = _hash(daemon, "lazy", 1)
    daemon.apply(ds_yaml("lazy", env="2", spec=strategy))
    daemon.wait_for(lambda: ds(daemon, "lazy")["status"]["observedGeneration"] == 2, timeout=10, what="generation 2")
    time.sleep(3)
    assert settled(daemon, "lazy", ALL, first) == before
    assert ds(daemon, "lazy")["status"]["updatedNumberScheduled"] == 0
    with dockernodes.client(docker_nodes[0].url) as c:
        c.containers.get(before["node0"]).remove(force=True)
    second = _hash(daemon, "lazy", 2)
    daemon.wait_for(
        lambda: (
            any(p["metadata"]["labels"]["controller-revision-hash"] == second for p in live_pods(daemon, "lazy"))
            and settled(daemon, "lazy", ALL)
        ),
        timeout=15,
        what="node0's replacement on revision 2",
    )
    after = by_node(daemon, "lazy")
    assert after["node1"] == before["node1"] and after["node2"] == before["node2"]
    assert ds(daemon, "lazy")["status"]["updatedNumberScheduled"] == 1


def test_rollout_undo_mid_rollout_keeps_untouched_pods(daemon: Daemon) -> None:
    """An update to an image no node has stalls after one node; `rollout undo` brings that node back
    on the old template and never restarts the two pods that were not replaced."""
    daemon.apply(ds_yaml("undo"))
    before = daemon.wait_for(lambda: settled(daemon, "undo", ALL), timeout=20, what="3 pods")
    daemon.apply(ds_yaml("undo", image="miniorch.local/no-such-image:1"))
    daemon.wait_for(
        lambda: ds(daemon, "undo")["status"]["observedGeneration"] == 2 and len(by_node(daemon, "undo")) == 2,
        timeout=15,
        what="one node replaced with a failing pod",
    )
    time.sleep(2)
    assert len(by_node(daemon, "undo")) == 2 and ds(daemon, "undo")["status"]["numberUnavailable"] == 1
    untouched = {n: p for n, p in by_node(daemon, "undo").items()}
    out = daemon.ctl("rollout", "undo", "ds/undo", check=True).stdout
    assert out.strip() == "daemonset.apps/undo rolled back"
    after = daemon.wait_for(lambda: settled(daemon, "undo", ALL, _hash(daemon, "undo", 3)), timeout=20, what="undo")
    assert all(after[n] == p for n, p in untouched.items())
    assert len(set(after.values()) - set(before.values())) == 1
    history = daemon.ctl("rollout", "history", "ds/undo", check=True).stdout.split()
    assert history[3::2] == ["2", "3"]  # revision 1 was renumbered 3
    skipped = daemon.ctl("rollout", "undo", "ds/undo", "--to-revision=3", check=True).stdout
    assert "skipped rollback" in skipped
    missing = daemon.ctl("rollout", "undo", "ds/undo", "--to-revision=9")
    assert missing.returncode == 1 and "unable to find specified revision 9" in missing.stderr


def test_not_ready_node_does_not_stall_a_rollout_and_keeps_its_pod(daemon: Daemon, node_guard: list[Any]) -> None:
    """node2's dockerd stopped: the update completes on node0 and node1; node2's pod is kept (restarted by
    Docker when the engine returns) and only then replaced by the rollout."""
    daemon.apply(ds_yaml("nr"))
    before = daemon.wait_for(lambda: settled(daemon, "nr", ALL), timeout=20, what="3 pods")
    node2 = next(n for n in node_guard if n.name == "node2")
    node2.stop()
    daemon.wait_for(
        lambda: daemon.api("GET", "/api/v1/nodes/node2")["status"]["conditions"][0]["status"] == "False",
        timeout=10,
        what="node2 NotReady",
    )
    daemon.apply(ds_yaml("nr", env="2"))
    second = _hash(daemon, "nr", 2)

    def others_updated() -> bool:
        pods = {p["spec"]["nodeName"]: p for p in live_pods(daemon, "nr")}
        ready = by_node(daemon, "nr")
        return set(ready) == {"node0", "node1"} and all(
            pods[n]["metadata"]["labels"]["controller-revision-hash"] == second for n in ready
        )

    daemon.wait_for(others_updated, timeout=20, what="node0 and node1 on revision 2")
    kept = daemon.api("GET", f"/api/v1/namespaces/default/pods/{before['node2']}")
    assert kept["status"]["phase"] == "Unknown" and not kept["metadata"].get("deletionTimestamp")
    status = ds(daemon, "nr")["status"]
    assert status["desiredNumberScheduled"] == 3 and status["updatedNumberScheduled"] == 2
    node2.start()
    daemon.wait_for(lambda: settled(daemon, "nr", ALL, second), timeout=30, what="node2 on revision 2")
    old = daemon.api("GET", f"/api/v1/namespaces/default/pods/{before['node2']}")
    assert old["status"]["phase"] == "Failed" and old["status"]["reason"] == "RollingUpdate"


def test_readiness_probe_is_a_docker_healthcheck_and_min_ready_seconds_delays_availability(
    daemon: Daemon, docker_nodes: list[dockernodes.DockerNode]
) -> None:
    """readinessProbe.exec becomes the container's healthcheck: pods are not ready until it passes,
    and available minReadySeconds later."""
    probe = {"exec": {"command": ["test", "-f", "/tmp/ready"]}, "periodSeconds": 1}
    script = "trap 'exit 0' TERM; sleep 8; touch /tmp/ready; while true; do sleep 0.2; done"
    daemon.apply(
        ds_yaml(
            "probed", spec={"minReadySeconds": 3}, container={"readinessProbe": probe, "command": ["sh", "-c", script]}
        )
    )
    daemon.wait_for(lambda: len(live_pods(daemon, "probed")) == 3, timeout=15, what="3 pods")
    daemon.wait_for(
        lambda: all(p["status"]["phase"] == "Running" for p in live_pods(daemon, "probed")), timeout=15, what="running"
    )
    assert ds(daemon, "probed")["status"]["numberReady"] == 0
    assert daemon.ctl("get", "pods", "-l", "app=probed").stdout.count(" 0/1 ") == 3
    daemon.wait_for(lambda: ds(daemon, "probed")["status"]["numberReady"] == 3, timeout=20, what="ready")
    assert ds(daemon, "probed")["status"]["numberAvailable"] < 3
    daemon.wait_for(lambda: ds(daemon, "probed")["status"]["numberAvailable"] == 3, timeout=10, what="available")
    health = containers_by_node(docker_nodes, "probed")["node0"][0].attrs["Config"]["Healthcheck"]
    assert health["Test"] == ["CMD", "test", "-f", "/tmp/ready"] and health["Interval"] == 1_000_000_000


def test_daemon_restart_keeps_daemon_pods_running(daemon: Daemon, docker_nodes: list[dockernodes.DockerNode]) -> None:
    """SIGTERM the daemon: pods keep running; one that exits meanwhile is restarted by Docker itself;
    the restarted daemon adopts the same pods (same names), none recreated."""
    daemon.apply(ds_yaml("steady"))
    before = daemon.wait_for(lambda: settled(daemon, "steady", ALL), timeout=20, what="3 pods")
    assert daemon.stop() == 0
    with dockernodes.client(docker_nodes[1].url) as c:
        ctr = c.containers.get(before["node1"])
        ctr.exec_run(["kill", "-TERM", "1"])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and c.containers.get(before["node1"]).attrs["RestartCount"] < 1:
            time.sleep(0.1)
        assert c.containers.get(before["node1"]).attrs["RestartCount"] >= 1
        assert c.containers.get(before["node1"]).status in ("running", "restarting")
    daemon.start()
    after = daemon.wait_for(lambda: settled(daemon, "steady", ALL), timeout=20, what="3 pods again")
    time.sleep(2)
    assert settled(daemon, "steady", ALL) == before == after


def test_node_added_by_sighup_gets_its_pod_and_removed_node_is_cleaned(
    docker_nodes: list[dockernodes.DockerNode], tmp_path: Any
) -> None:
    """A node added to the config (SIGHUP) gets the pod within seconds; a node removed from it has its
    container stopped and leaves the counts."""
    import signal

    from conftest import _remove_managed_containers

    d = Daemon(tmp_path, [(n.name, n.url) for n in docker_nodes[:2]])
    d.start()
    try:
        d.apply(ds_yaml("grow"))
        d.wait_for(lambda: settled(d, "grow", {"node0", "node1"}), timeout=20, what="2 pods")
        config = yaml.safe_load(d.config_path.read_text())
        config["nodes"] = [{"name": n.name, "url": n.url} for n in docker_nodes]
        d.config_path.write_text(yaml.safe_dump(config))
        start = time.monotonic()
        assert d.proc is not None
        d.proc.send_signal(signal.SIGHUP)
        d.wait_for(lambda: settled(d, "grow", ALL), timeout=15, what="a pod on node2")
        print(f"node join -> pod ready: {time.monotonic() - start:.2f}s")
        config["nodes"] = [{"name": n.name, "url": n.url} for n in docker_nodes if n.name != "node1"]
        d.config_path.write_text(yaml.safe_dump(config))
        d.proc.send_signal(signal.SIGHUP)
        d.wait_for(lambda: settled(d, "grow", {"node0", "node2"}), timeout=15, what="node1 gone from the counts")
        assert containers_by_node(docker_nodes, "grow")["node1"] == []
    finally:
        d.stop()
        _remove_managed_containers(docker_nodes)
