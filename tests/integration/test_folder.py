"""The watched folder on a real daemon and real nodes: files in, objects out, bad files harmless."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import managed_containers
from support import dockernodes
from support.daemon import MINIORCH, Daemon, job_yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "examples"
#: commands the busybox test image lacks (perl), replaced by one that prints the same kind of result.
BUSYBOX_COMMANDS = {"pi": ["sh", "-c", "echo 3.14159265358979323846"]}


def events(daemon: Daemon, reason: str) -> list[dict[str, Any]]:
    return [e for e in daemon.api("GET", "/api/v1/events")["items"] if e["reason"] == reason]


def spec_of(daemon: Daemon, name: str) -> dict[str, Any]:
    job = daemon.job(name)
    assert job is not None, f"job {name} is gone"
    spec: dict[str, Any] = job["spec"]
    return spec


def write_atomically(path: Path, text: str) -> None:
    """As editors, Ansible and `sed -i` do: a hidden temporary file renamed over the target."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def test_a_dropped_file_is_applied_and_its_job_runs(daemon: Daemon) -> None:
    """A file written into the folder becomes a Job (source annotation = the file) that runs to Complete."""
    path = daemon.manifests / "drop.yaml"
    path.write_text(job_yaml("dropped", "echo hi"))
    daemon.wait_for(lambda: daemon.job("dropped"), what="the dropped file's Job")
    job = daemon.wait_job("dropped")
    assert job["metadata"]["annotations"]["miniorch.io/source"] == f"file:{path}"
    assert daemon.ctl("get", "jobs").stdout.count("dropped") == 1


def test_an_edited_file_updates_its_object(daemon: Daemon) -> None:
    """Changing a mutable field in the file configures the running Job (next generation)."""
    path = daemon.manifests / "edit.yaml"
    path.write_text(job_yaml("edited", "sleep 30", parallelism=1, completions=4))
    daemon.wait_for(lambda: daemon.job("edited"), what="the Job")
    path.write_text(job_yaml("edited", "sleep 30", parallelism=2, completions=4))
    daemon.wait_for(lambda: spec_of(daemon, "edited").get("parallelism") == 2, what="parallelism 2")
    assert daemon.job("edited")["metadata"]["generation"] == 2  # type: ignore[index]
    daemon.wait_for(lambda: len(daemon.pods("edited")) == 2, what="a second pod")


def test_an_immutable_edit_keeps_the_job_and_an_event_says_what_to_do(daemon: Daemon) -> None:
    """A new template for a file-defined Job leaves it running and records a FieldImmutable warning."""
    path = daemon.manifests / "imm.yaml"
    path.write_text(job_yaml("imm", "sleep 30"))
    daemon.wait_for(lambda: daemon.pods("imm"), what="the Job's pod")
    path.write_text(job_yaml("imm", "sleep 31"))
    [event] = daemon.wait_for(lambda: events(daemon, "FieldImmutable")[:1], what="a FieldImmutable event")
    assert event["type"] == "Warning" and "rename the Job" in event["message"] and str(path) in event["message"]
    assert spec_of(daemon, "imm")["template"]["spec"]["containers"][0]["command"][-1] == "sleep 30"


def test_a_deleted_file_deletes_its_job_and_containers(daemon: Daemon, docker_nodes: list[Any]) -> None:
    """Removing the file deletes its Job, cascading to the containers on every node."""
    path = daemon.manifests / "del.yaml"
    path.write_text(job_yaml("doomed", "sleep 300", parallelism=3, completions=3))
    daemon.wait_for(
        lambda: sum(p["status"]["phase"] == "Running" for p in daemon.pods("doomed")) == 3, what="3 running pods"
    )
    path.unlink()
    daemon.wait_for(lambda: daemon.job("doomed") is None, timeout=30, what="the Job to be gone")

    def doomed_containers() -> int:
        found = managed_containers(docker_nodes).values()
        return sum(c.labels.get("job-name") == "doomed" for cs in found for c in cs)

    assert doomed_containers() == 0
    assert daemon.ctl("get", "job", "doomed").returncode == 1


INVALID = {
    "syntax": ("  parallelism: 2\n", "  parallelism: [2\n", "invalid YAML"),
    "unknown-field": ("  parallelism: 2\n", "  parallelism: 2\n  paralelism: 3\n", 'unknown field "paralelism"'),
    "bad-value": ("  parallelism: 2\n", "  parallelism: -3\n", "spec.parallelism: Invalid value: -3"),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_an_invalid_edit_is_reported_with_file_and_line_and_the_old_version_stays(daemon: Daemon, case: str) -> None:
    """A broken edit: Warning event and log line with file:line:column, the Job unchanged, the daemon healthy."""
    old, new, what = INVALID[case]
    path = daemon.manifests / f"{case}.yaml"
    good = job_yaml("steady", "sleep 30", parallelism=2, completions=2)
    path.write_text(good)
    daemon.wait_for(lambda: len(daemon.pods("steady")) == 2, what="the Job's pods")
    uid = daemon.job("steady")["metadata"]["uid"]  # type: ignore[index]
    path.write_text(good.replace(old, new))
    [event] = daemon.wait_for(lambda: events(daemon, "InvalidManifest")[:1], what="an InvalidManifest event")
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "arallelism" in text)
    assert event["type"] == "Warning" and event["message"].startswith(f"{path}:"), event
    assert what in event["message"]
    if case != "syntax":  # a syntax error is reported where the parser gave up
        assert f"{path}:{line + (case == 'unknown-field')}:" in event["message"], event["message"]
    logged = [e for e in daemon.log_events() if e.get("event") == "manifest_file_invalid"]
    assert logged and logged[-1]["file"] == str(path) and logged[-1]["line"] and logged[-1]["column"]
    job = daemon.job("steady")
    assert job is not None and job["metadata"]["uid"] == uid and job["spec"]["parallelism"] == 2
    assert daemon.ctl("version").returncode == 0
    assert "InvalidManifest" in daemon.ctl("get", "events").stdout
    path.write_text(good.replace("parallelism: 2", "parallelism: 1"))  # fixed: applied
    daemon.wait_for(lambda: spec_of(daemon, "steady")["parallelism"] == 1, what="the fixed file applied")


def test_an_atomic_rename_write_is_applied_once(daemon: Daemon) -> None:
    """A file written under a temporary name and renamed creates its Job once, with one pod."""
    path = daemon.manifests / "atomic.yaml"
    write_atomically(path, job_yaml("atomic", "echo once"))
    daemon.wait_job("atomic")
    write_atomically(path, job_yaml("atomic", "echo once"))  # the same content again: nothing happens
    time.sleep(1)
    created = [e for e in daemon.log_events() if e.get("event") == "object_created" and e.get("name") == "atomic"]
    assert len(created) == 1
    assert len(daemon.pods("atomic")) == 1
    assert daemon.job("atomic")["metadata"]["generation"] == 1  # type: ignore[index]


def test_two_hundred_files_dropped_at_once_are_all_applied(daemon: Daemon) -> None:
    """A burst of 200 new files (suspended Jobs) ends with 200 Jobs, each from its own file."""
    staging = daemon.workdir / "staging"
    staging.mkdir()
    for i in range(200):
        (staging / f"job-{i:03}.yaml").write_text(job_yaml(f"bulk-{i:03}", "true", extra_spec={"suspend": True}))
    for file in sorted(staging.iterdir()):
        os.replace(file, daemon.manifests / file.name)

    def bulk() -> int:
        return sum(j["metadata"]["name"].startswith("bulk-") for j in daemon.api("GET", "/apis/batch/v1/jobs")["items"])

    daemon.wait_for(lambda: bulk() == 200, timeout=60, what="200 Jobs")
    sources = {
        j["metadata"]["annotations"]["miniorch.io/source"] for j in daemon.api("GET", "/apis/batch/v1/jobs")["items"]
    }
    assert len(sources) == 200


def test_api_writes_to_file_managed_jobs_are_refused_except_suspend(daemon: Daemon) -> None:
    """ctl apply, delete and patch on a file's Job exit 1 naming the file; patching suspend works."""
    path = daemon.manifests / "owned.yaml"
    path.write_text(job_yaml("owned", "sleep 30"))
    daemon.wait_for(lambda: daemon.job("owned"), what="the Job")
    other = daemon.workdir / "owned.yaml"
    other.write_text(job_yaml("owned", "sleep 30", parallelism=2))
    for args in (
        ["apply", "-f", str(other)],
        ["delete", "job", "owned"],
        ["patch", "job", "owned", "-p", '{"spec":{"parallelism":3}}'],
    ):
        result = daemon.ctl(*args)
        assert result.returncode == 1 and str(path) in result.stderr, (args, result.stderr)
        assert result.stderr.startswith("error: ")
    daemon.ctl("patch", "job", "owned", "-p", '{"spec":{"suspend":true}}', check=True)
    assert spec_of(daemon, "owned")["suspend"] is True


def test_a_finished_file_job_does_not_run_again_after_a_restart(daemon: Daemon) -> None:
    """Restarting the daemon reloads the folder without re-running a completed Job."""
    (daemon.manifests / "once.yaml").write_text(job_yaml("once", "echo once"))
    daemon.wait_job("once")
    daemon.stop()
    daemon.start()
    time.sleep(1.5)
    assert len(daemon.pods("once")) == 1
    assert daemon.job("once")["metadata"]["generation"] == 1  # type: ignore[index]


# -- config/examples ---------------------------------------------------------------


def example_files() -> list[Path]:
    return sorted(EXAMPLES.rglob("*.yaml"))


def test_every_example_passes_miniorch_validate() -> None:
    """`miniorch validate config/examples/` exits 0 and names every example object."""
    result = subprocess.run([MINIORCH, "validate", str(EXAMPLES)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(" valid") == sum(len(list(yaml.safe_load_all(p.read_text()))) for p in example_files())


def _runnable_jobs(path: Path, image: str) -> list[dict[str, Any]]:
    """The example's Jobs (a CronJob's jobTemplate as a Job) with the test image substituted."""
    out = []
    for doc in yaml.safe_load_all(path.read_text()):
        if doc["kind"] == "Job":
            job = doc
        elif doc["kind"] == "CronJob":
            job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": doc["metadata"]["name"]}}
            job["spec"] = doc["spec"]["jobTemplate"]["spec"]
        else:
            continue  # DaemonSets: validated above
        for container in job["spec"]["template"]["spec"]["containers"]:
            container["image"] = image
            if job["metadata"]["name"] in BUSYBOX_COMMANDS:
                container["command"] = BUSYBOX_COMMANDS[job["metadata"]["name"]]
        out.append(job)
    return out


@pytest.mark.parametrize("example", [p.name for p in example_files() if _runnable_jobs(p, "any")])
def test_every_job_example_runs_on_the_test_nodes(daemon: Daemon, test_image: str, example: str) -> None:
    """Each example Job (and each CronJob's Job template) completes when dropped into the folder."""
    path = next(p for p in example_files() if p.name == example)
    jobs = _runnable_jobs(path, test_image)
    # the ConfigMaps and Secrets the example's pods read come along (they are applied, not run)
    data = [d for d in yaml.safe_load_all(path.read_text()) if d["kind"] in ("ConfigMap", "Secret")]
    (daemon.manifests / example).write_text(yaml.safe_dump_all([*data, *jobs], sort_keys=False))
    for job in jobs:
        done = daemon.wait_job(job["metadata"]["name"], timeout=90)
        assert done["status"]["succeeded"] == job["spec"].get("completions", 1)


def test_etl_example_shards_split_the_rows_without_overlap(daemon: Daemon, test_image: str) -> None:
    """The nightly ETL's Indexed pods each print their own range of rows, covering all of them once."""
    [job] = _runnable_jobs(EXAMPLES / "etl-nightly-cronjob.yaml", test_image)
    (daemon.manifests / "etl.yaml").write_text(yaml.safe_dump(job, sort_keys=False))
    daemon.wait_job("etl-nightly", timeout=90)
    ranges = []
    for pod in daemon.pods("etl-nightly"):
        log = daemon.ctl("logs", f"pod/{pod['metadata']['name']}", check=True).stdout
        words = log.split()
        ranges.append((int(words[words.index("rows") + 1]), int(words[words.index("to") + 1])))
    assert sorted(ranges) == [(0, 249999), (250000, 499999), (500000, 749999), (750000, 999999)]


def test_the_examples_use_the_image_the_quickstart_builds_where_they_can() -> None:
    """Examples other than the Kubernetes docs' ones run on the quickstart's local image."""
    for path in example_files():
        if path.name in ("pi-job.yaml", "hello-cronjob.yaml"):
            continue
        assert dockernodes.TEST_IMAGE in path.read_text(), path


def test_sighup_re_applies_files_a_changed_policy_now_allows(daemon: Daemon) -> None:
    """A file refused by the policy (hostPath) is applied after the policy allows it and SIGHUP."""
    volume = {"volumes": [{"name": "h", "hostPath": {"path": "/tmp"}}]}
    mount = {"volumeMounts": [{"name": "h", "mountPath": "/h"}]}
    path = daemon.manifests / "hostpath.yaml"
    path.write_text(job_yaml("hostpath", "true", pod_spec=volume, container=mount))
    [event] = daemon.wait_for(lambda: events(daemon, "InvalidManifest")[:1], what="the policy refusal")
    assert "allowed_host_paths" in event["message"] and daemon.job("hostpath") is None
    config = yaml.safe_load(daemon.config_path.read_text())
    config["policy"] = {"allowed_host_paths": ["/tmp"]}
    daemon.config_path.write_text(yaml.safe_dump(config))
    assert daemon.proc is not None
    daemon.proc.send_signal(signal.SIGHUP)
    daemon.wait_job("hostpath")
