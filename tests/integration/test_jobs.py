"""Jobs end to end on real Docker nodes: completions, parallelism, retries, backoff, spread."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from conftest import managed_containers
from support.daemon import Daemon, job_yaml

pytestmark = pytest.mark.both_backends  # the Store behaves alike on both (DESIGN 8)


def _ts(value: str) -> dt.datetime:
    return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


def _exit_code(pod: dict[str, Any]) -> int | None:
    state = pod["status"]["containerStatuses"][0]["state"]
    code = state.get("terminated", {}).get("exitCode")
    return None if code is None else int(code)


def test_parallel_job_runs_completions_pods_and_completes(daemon: Daemon, docker_nodes: list[Any]) -> None:
    """p=2 c=4: exactly 4 Succeeded pods, Complete/CompletionsReached, spread over nodes, no containers left."""
    daemon.apply(job_yaml("p2c4", "echo done; sleep 1", parallelism=2, completions=4))
    job = daemon.wait_job("p2c4")
    pods = daemon.pods("p2c4")
    assert [p["status"]["phase"] for p in pods] == ["Succeeded"] * 4
    assert job["status"]["succeeded"] == 4 and job["status"]["failed"] == 0 and job["status"]["active"] == 0
    complete = next(c for c in job["status"]["conditions"] if c["type"] == "Complete")
    assert complete["reason"] == "CompletionsReached"
    assert job["status"]["startTime"] and job["status"]["completionTime"]
    assert len({p["spec"]["nodeName"] for p in pods}) > 1
    reasons = [e["reason"] for e in daemon.events(job["metadata"]["uid"])]
    assert reasons.count("SuccessfulCreate") == 4 and "Completed" in reasons
    # a finished pod is recorded (and its Job may complete) before its log is kept and its container goes
    daemon.wait_for(
        lambda: all(not cs for cs in managed_containers(docker_nodes).values()), timeout=15, what="no containers left"
    )
    assert daemon.ctl("get", "job", "p2c4", "-o", "jsonpath={.status.succeeded}").stdout == "4"


def test_failing_job_runs_backoff_limit_plus_one_pods_and_keeps_their_logs(
    daemon: Daemon, docker_nodes: list[Any]
) -> None:
    """exit 1 with backoffLimit 1: exactly 2 pods, Failed/BackoffLimitExceeded; each attempt's log and exit code stay readable."""
    daemon.apply(job_yaml("fails", "echo attempt $(hostname); exit 1", backoff_limit=1))
    job = daemon.wait_job("fails", "Failed")
    pods = daemon.pods("fails")
    assert len(pods) == 2
    assert all(p["status"]["phase"] == "Failed" and _exit_code(p) == 1 for p in pods)
    failed = next(c for c in job["status"]["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "BackoffLimitExceeded"
    assert job["status"]["failed"] == 2 and job["status"]["succeeded"] == 0
    for pod in pods:
        name = pod["metadata"]["name"]
        assert daemon.ctl("logs", name).stdout.strip() == f"attempt {name}"
    # a finished pod is recorded (and its Job may complete) before its log is kept and its container goes
    daemon.wait_for(
        lambda: all(not cs for cs in managed_containers(docker_nodes).values()), timeout=15, what="no containers left"
    )


def test_on_failure_restarts_the_same_container_in_place(daemon: Daemon) -> None:
    """OnFailure: a failed run restarts the same container (its filesystem survives); one pod, restartCount 1."""
    script = "if [ -f /tmp/marker ]; then echo second; exit 0; fi; touch /tmp/marker; echo first; exit 2"
    daemon.apply(job_yaml("inplace", script, restart="OnFailure", backoff_limit=3))
    job = daemon.wait_job("inplace")
    pods = daemon.pods("inplace")
    assert len(pods) == 1
    status = pods[0]["status"]["containerStatuses"][0]
    assert status["restartCount"] == 1 and _exit_code(pods[0]) == 0
    assert job["status"]["failed"] == 1 and job["status"]["succeeded"] == 1
    assert daemon.ctl("logs", pods[0]["metadata"]["name"]).stdout.split() == ["first", "second"]


def test_on_failure_backoff_limit_allows_exactly_limit_plus_one_runs(daemon: Daemon) -> None:
    """OnFailure with backoffLimit 2 runs 3 times in all (not 2 as in Kubernetes), then fails."""
    daemon.apply(job_yaml("inplace-fail", "echo run; exit 7", restart="OnFailure", backoff_limit=2))
    job = daemon.wait_job("inplace-fail", "Failed")
    pods = daemon.pods("inplace-fail")
    assert len(pods) == 1
    assert daemon.ctl("logs", "job/inplace-fail").stdout.split() == ["run"] * 3
    assert job["status"]["failed"] == 3
    assert pods[0]["status"]["phase"] == "Failed"


def test_retries_wait_an_exponential_backoff(daemon: Daemon) -> None:
    """With an initial backoff of 1s, the 2nd pod starts >=1s after the 1st failed, the 3rd >=2s after the 2nd."""
    daemon.apply(job_yaml("backoff", "exit 1", backoff_limit=2))
    daemon.wait_job("backoff", "Failed", timeout=30)
    pods = daemon.pods("backoff")
    assert len(pods) == 3
    events = [
        e
        for e in daemon.log_events()
        if e.get("event") in ("pod_started", "pod_finished") and e.get("owner", "backoff")
    ]
    starts = {e["pod"]: dt.datetime.fromisoformat(e["timestamp"]) for e in events if e["event"] == "pod_started"}
    finishes = {e["pod"]: dt.datetime.fromisoformat(e["timestamp"]) for e in events if e["event"] == "pod_finished"}
    names = [p["metadata"]["name"] for p in pods]
    gap1 = (starts[names[1]] - finishes[names[0]]).total_seconds()
    gap2 = (starts[names[2]] - finishes[names[1]]).total_seconds()
    assert 0.9 <= gap1 < 3.0, gap1
    assert 1.9 <= gap2 < 4.0, gap2


def test_pods_spread_over_nodes_by_load(daemon: Daemon) -> None:
    """Three long pods of one Job land on three different nodes."""
    daemon.apply(job_yaml("spread", "sleep 2", parallelism=3, completions=3))
    daemon.wait_job("spread")
    assert sorted(p["spec"]["nodeName"] for p in daemon.pods("spread")) == ["node0", "node1", "node2"]


def test_node_selector_places_pods_only_on_matching_nodes(daemon: Daemon) -> None:
    """nodeSelector kubernetes.io/hostname=node1 keeps every pod on node1."""
    daemon.apply(
        job_yaml(
            "pinned",
            "true",
            parallelism=2,
            completions=4,
            pod_spec={"nodeSelector": {"kubernetes.io/hostname": "node1"}},
        )
    )
    daemon.wait_job("pinned")
    assert {p["spec"]["nodeName"] for p in daemon.pods("pinned")} == {"node1"}


def test_work_queue_job_completes_when_one_succeeded_and_none_active(daemon: Daemon) -> None:
    """completions unset, parallelism 3: no pod is started after the first success; Complete once all stopped."""
    daemon.apply(job_yaml("queue", "sleep 1", parallelism=3))
    job = daemon.wait_job("queue")
    assert len(daemon.pods("queue")) == 3
    assert job["status"]["succeeded"] == 3 and job["status"]["active"] == 0


def test_unpullable_image_fails_attempts_with_err_image_pull(daemon: Daemon) -> None:
    """An image no node has and none can pull: each attempt fails ErrImagePull naming image and node; bounded by backoffLimit."""
    daemon.apply(job_yaml("noimage", "true", image="registry.invalid/nothing:1", backoff_limit=1))
    job = daemon.wait_job("noimage", "Failed")
    pods = daemon.pods("noimage")
    assert len(pods) == 2
    for pod in pods:
        assert pod["status"]["reason"] == "ErrImagePull"
        assert "registry.invalid/nothing:1" in pod["status"]["message"]
        assert pod["spec"]["nodeName"] in pod["status"]["message"]
    assert job["status"]["failed"] == 2


def test_delete_job_stops_and_removes_its_containers_on_every_node(daemon: Daemon, docker_nodes: list[Any]) -> None:
    """ctl delete job: running containers on all nodes are stopped and removed, and the Job is gone."""
    daemon.apply(job_yaml("long", "sleep 300", parallelism=3, completions=3))
    daemon.wait_for(lambda: sum(len(c) for c in managed_containers(docker_nodes).values()) == 3, what="3 containers")
    result = daemon.ctl("delete", "job", "long")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == 'job.batch "long" deleted'
    # a finished pod is recorded (and its Job may complete) before its log is kept and its container goes
    daemon.wait_for(
        lambda: all(not cs for cs in managed_containers(docker_nodes).values()), timeout=15, what="no containers left"
    )
    assert daemon.job("long") is None
    assert daemon.ctl("get", "job", "long").returncode == 1


def test_pod_waits_pending_until_a_node_matches_then_starts(daemon: Daemon) -> None:
    """No node matches the nodeSelector: the pod is Pending with the reason; labelling a node starts it there."""
    daemon.apply(job_yaml("waits", "true", pod_spec={"nodeSelector": {"disk": "nvme"}}))
    pod = daemon.wait_for(lambda: next(iter(daemon.pods("waits")), None), what="a pod record")
    assert pod["status"]["phase"] == "Pending" and pod["spec"]["nodeName"] is None
    assert "didn't match Pod's node affinity/selector" in pod["status"]["message"]
    assert daemon.ctl("label", "node", "node2", "disk=nvme", check=True).stdout.strip() == "node/node2 labeled"
    daemon.wait_job("waits")
    assert daemon.pods("waits")[0]["spec"]["nodeName"] == "node2"
    daemon.ctl("label", "node", "node2", "disk-", check=True)
    assert "disk" not in daemon.api("GET", "/api/v1/nodes/node2")["metadata"]["labels"]


def test_cordoned_nodes_get_no_new_pods(daemon: Daemon) -> None:
    """With node0 and node1 cordoned every pod of a new Job lands on node2."""
    daemon.ctl("cordon", "node0", check=True)
    daemon.ctl("cordon", "node1", check=True)
    assert "SchedulingDisabled" in daemon.ctl("get", "nodes").stdout
    daemon.apply(job_yaml("cordoned", "true", parallelism=2, completions=3))
    daemon.wait_job("cordoned")
    assert {p["spec"]["nodeName"] for p in daemon.pods("cordoned")} == {"node2"}


def test_ctl_output_formats_follow_kubectl(daemon: Daemon) -> None:
    """get -o name/yaml/json/wide, get events and describe job show what kubectl users expect."""
    import json

    import yaml

    daemon.apply(job_yaml("fmt", "echo hi", completions=2))
    daemon.wait_job("fmt")
    assert daemon.ctl("get", "jobs", "-o", "name").stdout.split() == ["job.batch/fmt"]
    listed = json.loads(daemon.ctl("get", "pods", "-l", "job-name=fmt", "-o", "json").stdout)
    assert listed["kind"] == "List" and len(listed["items"]) == 2
    pod = listed["items"][0]
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "Job"
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
    one = yaml.safe_load(daemon.ctl("get", "job", "fmt", "-o", "yaml").stdout)
    assert one["kind"] == "Job" and one["status"]["succeeded"] == 2
    wide = daemon.ctl("get", "pods", "-o", "wide").stdout.splitlines()
    assert wide[0].split()[-3:] == ["NODE", "EXIT", "CODE"] and all(" Completed " in line for line in wide[1:])
    events = daemon.ctl("get", "events").stdout
    assert "SuccessfulCreate" in events and "job/fmt" in events
    text = daemon.ctl("describe", "job", "fmt").stdout
    assert "Pods Statuses:   0 Active (0 Ready) / 2 Succeeded / 0 Failed" in text
    assert "Completed" in text and "Events:" in text
    assert daemon.ctl("get", "job", "nothere").returncode == 1
    assert daemon.ctl("get", "frobs").returncode == 1  # kubectl: unknown resource type is an error, not usage
