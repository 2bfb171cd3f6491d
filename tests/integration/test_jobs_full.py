"""Jobs in full on real nodes: Indexed work, failure and success policies, deadlines, suspend, TTL, resources."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from conftest import managed_containers
from support.daemon import Daemon, job_yaml

FAIL_ODD = "if [ $(expr ${JOB_COMPLETION_INDEX} % 2) -ne 0 ]; then exit 1; else exit 0; fi"


def _cond(job: dict[str, Any], type_: str) -> dict[str, Any]:
    return next(c for c in job["status"]["conditions"] if c["type"] == type_)


def test_indexed_job_runs_each_index_once_with_its_env_hostname_and_labels(daemon: Daemon) -> None:
    """Indexed c=4 p=2: indexes 0-3 succeed once each; env, hostname <job>-<i>, label and annotation carry the index."""
    daemon.apply(
        job_yaml(
            "idx",
            'echo "$JOB_COMPLETION_INDEX $(hostname)"',
            parallelism=2,
            completions=4,
            extra_spec={"completionMode": "Indexed"},
        )
    )
    job = daemon.wait_job("idx")
    assert job["status"]["completedIndexes"] == "0-3" and job["status"]["succeeded"] == 4
    pods = daemon.pods("idx")
    assert len(pods) == 4
    seen = set()
    for pod in pods:
        index = pod["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"]
        assert pod["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] == index
        assert pod["metadata"]["name"].startswith(f"idx-{index}-")
        assert daemon.ctl("logs", pod["metadata"]["name"]).stdout.split() == [index, f"idx-{index}"]
        seen.add(int(index))
    assert seen == {0, 1, 2, 3}


def test_backoff_limit_per_index_runs_every_index_and_fails_the_odd_ones(daemon: Daemon) -> None:
    """backoffLimitPerIndex 1, odd indexes fail: failedIndexes "1,3", completedIndexes "0,2", failed 4, FailedIndexes."""
    daemon.apply(
        job_yaml(
            "perindex",
            FAIL_ODD,
            parallelism=2,
            completions=4,
            extra_spec={"completionMode": "Indexed", "backoffLimitPerIndex": 1},
        )
    )
    job = daemon.wait_job("perindex", "Failed", timeout=60)
    status = job["status"]
    assert (status["failedIndexes"], status["completedIndexes"]) == ("1,3", "0,2")
    assert (status["failed"], status["succeeded"]) == (4, 2)
    assert _cond(job, "Failed")["reason"] == "FailedIndexes"
    counts = sorted(
        p["metadata"]["annotations"].get("batch.kubernetes.io/job-index-failure-count")
        for p in daemon.pods("perindex")
        if p["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"] == "1"
    )
    assert counts == ["0", "1"]


def test_max_failed_indexes_stops_the_job_at_the_first_failed_index(daemon: Daemon) -> None:
    """backoffLimitPerIndex 0 and maxFailedIndexes 0: only index 0 ever runs; MaxFailedIndexesExceeded."""
    daemon.apply(
        job_yaml(
            "maxfail",
            "exit 1",
            parallelism=1,
            completions=4,
            extra_spec={"completionMode": "Indexed", "backoffLimitPerIndex": 0, "maxFailedIndexes": 0},
        )
    )
    job = daemon.wait_job("maxfail", "Failed")
    assert _cond(job, "Failed")["reason"] == "MaxFailedIndexesExceeded"
    assert job["status"]["failedIndexes"] == "0" and job["status"]["failed"] == 1
    assert len(daemon.pods("maxfail")) == 1


def test_fail_job_rule_fails_the_job_after_the_first_matching_exit(daemon: Daemon) -> None:
    """podFailurePolicy FailJob on exit 1: Failed (reason PodFailurePolicy) after one pod, not after backoffLimit+1."""
    policy = {"podFailurePolicy": {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [1]}}]}}
    daemon.apply(job_yaml("failjob", "exit 1", backoff_limit=6, extra_spec=policy))
    job = daemon.wait_job("failjob", "Failed")
    assert _cond(job, "FailureTarget")["reason"] == "PodFailurePolicy"
    assert _cond(job, "Failed")["reason"] == "PodFailurePolicy"
    assert len(daemon.pods("failjob")) == 1


def test_ignore_rule_does_not_count_exit_42(daemon: Daemon, docker_nodes: list[Any], tmp_path: Path) -> None:
    """Ignore on exit 42 (first attempt of each index exits 42): Complete although failures exceed backoffLimit."""
    marker_root = tmp_path / "markers"
    marker_root.mkdir()
    daemon.stop()
    d = Daemon(
        tmp_path / "d2",
        [(n.name, n.url) for n in docker_nodes],
        extra={"policy": {"allowed_host_paths": [str(tmp_path)]}},
    )
    d.start()
    try:
        script = "f=/data/m$JOB_COMPLETION_INDEX; if [ -e $f ]; then exit 0; else touch $f; exit 42; fi"
        policy = {
            "completionMode": "Indexed",
            "podFailurePolicy": {"rules": [{"action": "Ignore", "onExitCodes": {"operator": "In", "values": [42]}}]},
        }
        d.apply(
            job_yaml(
                "ignore42",
                script,
                parallelism=3,
                completions=3,
                backoff_limit=0,
                extra_spec=policy,
                pod_spec={
                    "nodeSelector": {"kubernetes.io/hostname": "node1"},
                    "volumes": [{"name": "data", "hostPath": {"path": str(marker_root)}}],
                },
                container={"volumeMounts": [{"name": "data", "mountPath": "/data"}]},
            )
        )
        job = d.wait_job("ignore42", timeout=60)
        assert job["status"]["failed"] == 0 and job["status"]["succeeded"] == 3
        assert len(d.pods("ignore42")) == 6
    finally:
        d.stop()


def test_success_policy_completes_with_index_zero_and_stops_the_rest(daemon: Daemon, docker_nodes: list[Any]) -> None:
    """successPolicy succeededIndexes "0": Complete (SuccessPolicy) with completedIndexes "0"; other pods are stopped."""
    script = 'if [ "$JOB_COMPLETION_INDEX" = 0 ]; then exit 0; fi; sleep 300'
    policy = {"completionMode": "Indexed", "successPolicy": {"rules": [{"succeededIndexes": "0"}]}}
    daemon.apply(job_yaml("succpol", script, parallelism=2, completions=5, extra_spec=policy))
    job = daemon.wait_job("succpol", timeout=30)
    assert _cond(job, "SuccessCriteriaMet")["reason"] == "SuccessPolicy"
    assert _cond(job, "Complete")["reason"] == "SuccessPolicy"
    assert job["status"]["completedIndexes"] == "0" and job["status"]["active"] == 0
    # a finished pod is recorded (and its Job may complete) before its log is kept and its container goes
    daemon.wait_for(
        lambda: all(not cs for cs in managed_containers(docker_nodes).values()), timeout=15, what="no containers left"
    )


def test_active_deadline_stops_running_pods_and_fails_the_job(daemon: Daemon, docker_nodes: list[Any]) -> None:
    """activeDeadlineSeconds 2 on sleep 300: DeadlineExceeded, and no container is left within 15 s."""
    daemon.apply(
        job_yaml("deadline", "sleep 300", parallelism=2, completions=2, extra_spec={"activeDeadlineSeconds": 2})
    )
    started = time.monotonic()
    job = daemon.wait_job("deadline", "Failed", timeout=15)
    assert _cond(job, "Failed")["reason"] == "DeadlineExceeded"
    assert job["status"]["failed"] == 0
    daemon.wait_for(
        lambda: all(not cs for cs in managed_containers(docker_nodes).values()),
        timeout=15 - (time.monotonic() - started),
        what="no container left",
    )


def test_suspend_at_creation_then_resume_and_suspend_a_running_job(daemon: Daemon) -> None:
    """Suspended at creation: no pods; resume: it runs; suspend while running: pods stopped, not counted as failed."""
    daemon.apply(job_yaml("susp", "true", extra_spec={"suspend": True}))
    time.sleep(1.5)
    job = daemon.job("susp")
    assert job is not None and _cond(job, "Suspended")["status"] == "True" and not daemon.pods("susp")
    assert daemon.ctl("patch", "job", "susp", "-p", '{"spec":{"suspend":false}}').returncode == 0
    daemon.wait_job("susp")

    daemon.apply(job_yaml("susp2", "sleep 300", parallelism=2, completions=2), name="susp2.yaml")
    daemon.wait_for(lambda: (daemon.job("susp2") or {}).get("status", {}).get("ready") == 2, what="2 ready pods")
    daemon.ctl("patch", "job", "susp2", "-p", '{"spec":{"suspend":true}}', check=True)
    job = daemon.wait_job("susp2", "Suspended", timeout=20)
    daemon.wait_for(
        lambda: (
            (daemon.job("susp2") or {})["status"]["active"] == 0
            and (daemon.job("susp2") or {})["status"]["terminating"] == 0
        ),
        what="no active pod",
    )
    job = daemon.job("susp2")
    assert job is not None and job["status"]["failed"] == 0
    assert all(p["status"]["phase"] == "Failed" and p["status"]["reason"] == "Suspended" for p in daemon.pods("susp2"))


def test_ttl_after_finished_deletes_the_job_and_its_records(daemon: Daemon) -> None:
    """ttlSecondsAfterFinished 2: the Job and its pods are gone 2 s after it finished (not before)."""
    daemon.apply(job_yaml("ttl", "true", extra_spec={"ttlSecondsAfterFinished": 2}))
    daemon.wait_job("ttl")
    finished = time.monotonic()
    daemon.wait_for(lambda: daemon.job("ttl") is None, timeout=10, what="job deleted by TTL")
    assert time.monotonic() - finished >= 1.0
    assert daemon.pods("ttl") == []


def test_memory_limit_kills_the_container_with_reason_oom_killed(daemon: Daemon) -> None:
    """resources.limits.memory is applied: a pod using more is reported OOMKilled."""
    # tail buffers /dev/zero (no newline ever comes) as the container's main process
    daemon.apply(
        job_yaml(
            "oom",
            "",
            backoff_limit=0,
            container={"command": ["tail", "/dev/zero"], "resources": {"limits": {"memory": "16Mi"}}},
        )
    )
    daemon.wait_job("oom", "Failed", timeout=30)
    pod = daemon.pods("oom")[0]
    assert pod["status"]["reason"] == "OOMKilled"
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["reason"] == "OOMKilled"


def test_cpu_requests_queue_pods_until_room_frees_up(daemon: Daemon) -> None:
    """Pods requesting 1 CPU each, pinned to a 2-CPU node: at most 2 run at once, the rest wait Pending, all succeed."""
    daemon.apply(
        job_yaml(
            "cpu",
            "sleep 1",
            parallelism=6,
            completions=6,
            backoff_limit=0,
            pod_spec={"nodeSelector": {"kubernetes.io/hostname": "node0"}},
            container={"resources": {"requests": {"cpu": "1"}}},
        )
    )
    peak = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = daemon.job("cpu")
        assert job is not None
        running = [p for p in daemon.pods("cpu") if p["status"]["phase"] == "Running"]
        peak = max(peak, len(running))
        pending = [p for p in daemon.pods("cpu") if p["status"]["phase"] == "Pending" and not p["spec"]["nodeName"]]
        if pending:
            assert "Insufficient cpu" in pending[0]["status"]["message"]
        if any(c["type"] == "Complete" for c in job["status"].get("conditions", [])):
            break
        time.sleep(0.2)
    assert (daemon.job("cpu") or {})["status"]["succeeded"] == 6
    assert peak <= 2
