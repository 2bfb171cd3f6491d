"""`ctl delete pod NAME` for every kind on real Docker nodes: the container goes, the owner
replaces the pod as Kubernetes would; and the Kubernetes docs' StatefulSet example applies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.daemon import Daemon, job_yaml
from test_daemonsets import ds_yaml, live_pods

DOCS_EXAMPLE = (Path(__file__).resolve().parents[1] / "fixtures" / "k8s-docs-statefulset.yaml").read_text()


def _running(daemon: Daemon, job: str) -> list[dict[str, Any]]:
    return [p for p in daemon.pods(job) if p["status"]["phase"] == "Running"]


def test_a_job_pod_deleted_by_hand_is_replaced_and_not_counted_as_failed(daemon: Daemon) -> None:
    """The deleted pod ends Failed with reason Deleted; a new pod runs; the Job completes with failed 0."""
    daemon.apply(job_yaml("hand", "sleep 3", backoff_limit=0))
    first = daemon.wait_for(lambda: _running(daemon, "hand"), timeout=30, what="a running pod")[0]["metadata"]["name"]
    out = daemon.ctl("delete", "pod", first, check=True).stdout
    assert out.strip() == f'pod "{first}" deleted'
    job = daemon.wait_job("hand", timeout=60)
    assert job["status"]["succeeded"] == 1 and job["status"].get("failed", 0) == 0
    deleted = next(p for p in daemon.pods("hand") if p["metadata"]["name"] == first)
    assert (deleted["status"]["phase"], deleted["status"]["reason"]) == ("Failed", "Deleted")


def test_a_daemonset_pod_under_on_delete_comes_back_with_the_new_template(daemon: Daemon) -> None:
    """OnDelete: a new template changes nothing until `delete pod`, whose replacement has it."""
    spec = {"updateStrategy": {"type": "OnDelete"}}
    daemon.apply(ds_yaml("od", env="1", spec=spec))
    daemon.wait_for(
        lambda: len([p for p in live_pods(daemon, "od") if p["status"]["phase"] == "Running"]) == 3,
        timeout=30,
        what="3 agents",
    )
    daemon.apply(ds_yaml("od", env="2", spec=spec))
    victim = live_pods(daemon, "od")[0]
    node, old_hash = victim["spec"]["nodeName"], victim["metadata"]["labels"]["controller-revision-hash"]
    daemon.ctl("delete", "pod", victim["metadata"]["name"], check=True)

    def replaced() -> bool:
        on_node = [p for p in live_pods(daemon, "od") if p["spec"]["nodeName"] == node]
        return (
            len(on_node) == 1
            and on_node[0]["status"]["phase"] == "Running"
            and (on_node[0]["metadata"]["labels"]["controller-revision-hash"] != old_hash)
        )

    daemon.wait_for(replaced, timeout=30, what="the node's new pod")
    hashes = {p["metadata"]["labels"]["controller-revision-hash"] for p in live_pods(daemon, "od")}
    assert len(hashes) == 2  # the other nodes keep the old template


def test_the_kubernetes_docs_statefulset_example_applies_but_for_its_image(daemon: Daemon) -> None:
    """The headless Service and the StatefulSet are stored with their warnings; web-0 is created
    first (the busybox image has no nginx, so it does not get ready and web-1 waits)."""
    result = daemon.apply(DOCS_EXAMPLE, "statefulset.yaml")
    assert "service/nginx created" in result.stdout and "statefulset.apps/web created" in result.stdout
    assert "spec.clusterIP" in result.stderr and "storageClassName" in result.stderr
    svc = daemon.ctl("get", "svc", check=True).stdout.split()
    assert svc[:6] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"] and svc[6:10] == [
        "nginx",
        "ClusterIP",
        "None",
        "<none>",
    ]

    def names() -> set[str]:
        return {
            p["metadata"]["name"]
            for p in daemon.api("GET", "/api/v1/pods", params={"labelSelector": "app=nginx"})["items"]
        }

    daemon.wait_for(lambda: "web-0" in names(), timeout=30, what="web-0")
    assert names() == {"web-0"}
    # The image's shell exits at once (no nginx), so web-0 crash-loops: Ready for an instant at most.
    shown = daemon.ctl("get", "sts", "web", check=True).stdout.split()
    assert shown[:3] == ["NAME", "READY", "AGE"] and shown[3] == "web" and shown[4] in ("0/3", "1/3")
