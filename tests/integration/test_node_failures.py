"""Nodes fail, get drained, or lack an image: Jobs carry on elsewhere, counts stay exact."""

from __future__ import annotations

import subprocess
import time
from typing import Any

from conftest import managed_containers
from support import dockernodes
from support.daemon import Daemon, job_yaml


def _node(nodes: list[Any], name: str) -> Any:
    return next(n for n in nodes if n.name == name)


def test_lost_node_pods_are_replaced_elsewhere_and_fenced_when_it_returns(
    daemon: Daemon, node_guard: list[Any]
) -> None:
    """Kill node2's dockerd mid-Job: its pods turn NodeLost, are replaced, the Job completes with failed 0;
    when node2 returns its old containers are removed without being counted."""
    daemon.apply(job_yaml("lossy", "sleep 4", parallelism=3, completions=3))
    daemon.wait_for(
        lambda: len([p for p in daemon.pods("lossy") if p["status"]["phase"] == "Running"]) == 3, what="3 running pods"
    )
    node2 = _node(node_guard, "node2")
    # The host goes away: engine and containers at once. (Killing the containers first while the engine
    # still answers is a different story: their `die` events say exit 137, a counted failure.)
    node2.kill()
    job = daemon.wait_job("lossy", timeout=60)
    pods = daemon.pods("lossy")
    lost = [p for p in pods if p["status"].get("reason") == "NodeLost"]
    assert len(lost) == 1 and lost[0]["spec"]["nodeName"] == "node2"
    assert {"type": "DisruptionTarget", "status": "True"}.items() <= lost[0]["status"]["conditions"][0].items()
    assert job["status"]["succeeded"] == 3 and job["status"]["failed"] == 0
    node2.start()
    daemon.wait_for(lambda: not managed_containers(node_guard)["node2"], timeout=20, what="fenced containers removed")
    time.sleep(1)
    again = daemon.job("lossy")
    assert again is not None and again["status"]["succeeded"] == 3 and again["status"]["failed"] == 0


def test_drain_evicts_job_pods_which_are_replaced_and_not_counted(daemon: Daemon) -> None:
    """ctl drain node1: cordoned, its Job pods evicted (DisruptionTarget) and re-placed; failed stays 0."""
    daemon.apply(job_yaml("drained", "sleep 3", parallelism=3, completions=3))
    daemon.wait_for(
        lambda: len([p for p in daemon.pods("drained") if p["status"]["phase"] == "Running"]) == 3,
        what="3 running pods",
    )
    result = daemon.ctl("drain", "node1", "--timeout", "60s")
    assert result.returncode == 0, result.stderr
    assert "node/node1 drained" in result.stdout and "evicting pod drained-" in result.stdout
    job = daemon.wait_job("drained", timeout=60)
    evicted = [p for p in daemon.pods("drained") if p["status"].get("reason") == "Evicted"]
    assert len(evicted) == 1
    assert evicted[0]["status"]["conditions"][0]["type"] == "DisruptionTarget"
    assert job["status"]["failed"] == 0 and job["status"]["succeeded"] == 3
    assert all(p["spec"]["nodeName"] != "node1" for p in daemon.pods("drained") if p["status"]["phase"] == "Succeeded")
    assert "SchedulingDisabled" in daemon.ctl("get", "nodes").stdout
    daemon.ctl("uncordon", "node1", check=True)


def test_image_on_one_node_only_is_copied_to_the_node_that_needs_it(daemon: Daemon, docker_nodes: list[Any]) -> None:
    """An image present only on node0, no registry: a pod pinned to node2 gets it copied (save | load) and runs."""
    image = "miniorch.local/only-on-node0:1"
    with dockernodes.client(_node(docker_nodes, "node0").url) as c:
        c.images.get(dockernodes.TEST_IMAGE).tag(image)
    for name in ("node1", "node2"):
        subprocess.run(
            ["docker", "-H", _node(docker_nodes, name).url, "rmi", "-f", image], capture_output=True, check=False
        )
    try:
        daemon.apply(
            job_yaml(
                "copied",
                "echo copied",
                image=image,
                parallelism=2,
                completions=2,
                pod_spec={"nodeSelector": {"kubernetes.io/hostname": "node2"}},
                container={"imagePullPolicy": "IfNotPresent"},
            )
        )
        job = daemon.wait_job("copied", timeout=60)
        assert job["status"]["succeeded"] == 2
        events = daemon.events(job["metadata"]["uid"])
        copies = [e for e in events if e["reason"] == "ImageCopied"]
        assert len(copies) == 1 and copies[0]["count"] == 1  # two pods, one copy
        assert "from node node0 to node node2" in copies[0]["message"]
        assert daemon.ctl("logs", "job/copied").stdout.strip() == "copied"
    finally:
        for n in docker_nodes:
            subprocess.run(["docker", "-H", n.url, "rmi", "-f", image], capture_output=True, check=False)


def test_image_pull_policy_never_does_not_copy(daemon: Daemon) -> None:
    """imagePullPolicy Never with the image missing on the node: ErrImageNeverPull, no copy."""
    daemon.apply(
        job_yaml(
            "never", "true", image="miniorch.local/absent:1", backoff_limit=0, container={"imagePullPolicy": "Never"}
        )
    )
    daemon.wait_job("never", "Failed")
    assert daemon.pods("never")[0]["status"]["reason"] == "ErrImageNeverPull"
