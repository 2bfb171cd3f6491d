"""Unmodified /usr/bin/kubectl and the official `kubernetes` Python client drive a real daemon on the
real Docker test nodes, over the TCP listener with TLS and a bearer token (DESIGN 11).

Each test is a user's session, command by command, asserting what the user checks: the printed
lines, the exit code, the object's status. kubectl missing is a failure, not a skip.
"""

from __future__ import annotations

import importlib.util
import json
import select
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import dockernodes
from support.daemon import Daemon, cronjob_yaml, job_yaml
from support.kubectl import TOKEN, Kubectl, tls_daemon

IMAGE = "miniorch.local/busybox:latest"
# kubectl validates manifests against /openapi/v3 (served by miniorch.api.kube.openapi once merged).
VALIDATE = [] if importlib.util.find_spec("miniorch.api.kube.openapi") else ["--validate=false"]


@pytest.fixture
def kube(docker_nodes: list[dockernodes.DockerNode], tmp_path: Path) -> Iterator[tuple[Daemon, Kubectl]]:
    """A daemon whose TCP listener speaks TLS (a trustme CA) with a token, and kubectl configured for it."""
    with tls_daemon(tmp_path, docker_nodes) as (d, url, ca):
        yield d, Kubectl(tmp_path, url, ca)


def _write(d: Daemon, name: str, text: str) -> str:
    path = d.workdir / name
    path.write_text(text)
    return str(path)


def test_kubectl_version_and_api_resources(kube: tuple[Daemon, Kubectl]) -> None:
    _, k = kube
    assert "Server Version: v1.32.0-miniorch" in k.run("version").stdout
    rows = {line.split()[0]: line.split() for line in k.run("api-resources").stdout.splitlines()[1:]}
    assert {"jobs", "cronjobs", "daemonsets", "pods", "nodes", "events", "namespaces"} <= set(rows)
    assert rows["cronjobs"][1:3] == ["cj", "batch/v1"] and rows["daemonsets"][1:3] == ["ds", "apps/v1"]
    bad = k.run("get", "frobs", check=False)
    assert bad.returncode == 1 and 'the server doesn\'t have a resource type "frobs"' in bad.stderr


def test_kubectl_refuses_a_wrong_token_with_unauthorized(kube: tuple[Daemon, Kubectl]) -> None:
    d, k = kube
    (d.workdir / "wrong").mkdir()
    wrong = Kubectl(d.workdir / "wrong", _server(k), _ca(k), token="not-the-token-at-all")
    result = wrong.run("get", "jobs", check=False)
    assert result.returncode == 1 and "You must be logged in to the server" in result.stderr  # kubectl's 401


def _server(k: Kubectl) -> str:
    return str(yaml.safe_load(k.path.read_text())["clusters"][0]["cluster"]["server"])


def _ca(k: Kubectl) -> Path:
    return Path(yaml.safe_load(k.path.read_text())["clusters"][0]["cluster"]["certificate-authority"])


def test_a_job_applied_with_kubectl_runs_is_waited_for_read_and_deleted(kube: tuple[Daemon, Kubectl]) -> None:
    d, k = kube
    path = _write(d, "job.yaml", job_yaml("pi", "echo computed", completions=2))
    assert k.run("apply", *VALIDATE, "-f", path).stdout.strip() == "job.batch/pi created"
    assert k.run("apply", *VALIDATE, "-f", path).stdout.strip() == "job.batch/pi unchanged"
    waited = k.run("wait", "--for=condition=complete", "job/pi", "--timeout=90s", timeout=120)
    assert waited.stdout.strip() == "job.batch/pi condition met"
    job = json.loads(k.run("get", "job", "pi", "-o", "json").stdout)
    assert job["status"]["succeeded"] == 2 and job["metadata"]["resourceVersion"]
    assert k.run("get", "job", "pi", "-o", "jsonpath={.status.succeeded}").stdout == "2"
    assert yaml.safe_load(k.run("get", "job", "pi", "-o", "yaml").stdout)["metadata"]["name"] == "pi"
    pods = k.run("get", "pods", "-l", "job-name=pi", "-o", "name").stdout.split()
    assert len(pods) == 2 and all(p.startswith("pod/pi-") for p in pods)
    done = k.run("get", "pods", "--field-selector", "status.phase=Succeeded", "-o", "name").stdout.split()
    assert sorted(done) == sorted(pods)
    assert k.run("get", "pods", "--field-selector", "status.phase=Running", "-o", "name").stdout == ""
    described = k.run("describe", "job", "pi").stdout
    assert "Name:             pi" in described and "2 Succeeded" in described
    pod_described = k.run("describe", pods[0]).stdout
    assert "Status:" in pod_described and "Succeeded" in pod_described
    deleted = k.run("delete", "job", "pi", "--wait", "--timeout=60s", timeout=90)
    assert deleted.stdout.strip() == 'job.batch "pi" deleted'
    gone = k.run("get", "job", "pi", check=False)
    assert gone.returncode == 1 and 'jobs.batch "pi" not found' in gone.stderr
    assert k.run("get", "pods", "-l", "job-name=pi", "-o", "name").stdout == ""


def test_an_invalid_job_is_refused_with_the_field_kubectl_prints(kube: tuple[Daemon, Kubectl]) -> None:
    d, k = kube
    doc = yaml.safe_load(job_yaml("bad", "true"))
    doc["spec"]["parallelism"] = -1
    result = k.run("create", "--validate=false", "-f", _write(d, "bad.yaml", yaml.safe_dump(doc)), check=False)
    assert result.returncode == 1
    assert 'The Job "bad" is invalid: spec.parallelism: Invalid value: -1' in result.stderr


def test_kubectl_get_watch_prints_a_job_applied_after_it_started(kube: tuple[Daemon, Kubectl]) -> None:
    d, k = kube
    with k.popen("get", "jobs", "-w", "-o", "name") as watcher:
        try:
            time.sleep(1.5)  # the watch is open (list, then watch from its version)
            k.run("apply", *VALIDATE, "-f", _write(d, "w.yaml", job_yaml("watched", "sleep 1")))
            assert watcher.stdout is not None
            ready, _, _ = select.select([watcher.stdout], [], [], 20)
            assert ready, "no line from kubectl get -w within 20 s"
            assert watcher.stdout.readline().strip() == "job.batch/watched"
        finally:
            watcher.kill()


def test_kubectl_labels_cordons_and_uncordons_a_node(kube: tuple[Daemon, Kubectl]) -> None:
    _, k = kube
    assert k.run("label", "node", "node0", "disk=ssd").stdout.strip() == "node/node0 labeled"
    assert k.run("get", "nodes", "-l", "disk=ssd", "-o", "name").stdout.split() == ["node/node0"]
    assert k.run("cordon", "node0").stdout.strip() == "node/node0 cordoned"
    assert k.run("get", "node", "node0", "-o", "jsonpath={.spec.unschedulable}").stdout == "true"
    assert k.run("uncordon", "node0").stdout.strip() == "node/node0 uncordoned"
    assert k.run("get", "node", "node0", "-o", "jsonpath={.spec.unschedulable}").stdout in ("", "false")
    assert k.run("label", "node", "node0", "disk-").stdout.strip() == "node/node0 unlabeled"
    assert k.run("get", "nodes", "-l", "disk=ssd", "-o", "name").stdout == ""


def test_kubectl_create_job_from_a_cronjob_is_a_manual_run(kube: tuple[Daemon, Kubectl]) -> None:
    d, k = kube
    text = cronjob_yaml("0 3 * * *", name="nightly").replace("image: busybox", f"image: {IMAGE}")
    assert k.run("apply", *VALIDATE, "-f", _write(d, "cj.yaml", text)).stdout.strip() == "cronjob.batch/nightly created"
    assert k.run("create", "job", "now", "--from=cronjob/nightly").stdout.strip() == "job.batch/now created"
    k.run("wait", "--for=condition=complete", "job/now", "--timeout=90s", timeout=120)
    job = json.loads(k.run("get", "job", "now", "-o", "json").stdout)
    assert job["metadata"]["ownerReferences"][0]["name"] == "nightly"
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"


def test_kubectl_rollout_status_waits_for_a_daemonset(kube: tuple[Daemon, Kubectl]) -> None:
    d, k = kube
    body = {
        "selector": {"matchLabels": {"app": "agent"}},
        "template": {
            "metadata": {"labels": {"app": "agent"}},
            "spec": {
                "terminationGracePeriodSeconds": 1,
                "containers": [
                    {"name": "agent", "image": IMAGE, "imagePullPolicy": "Never", "command": ["sleep", "600"]}
                ],
            },
        },
    }
    text = yaml.safe_dump({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"}, "spec": body})
    assert k.run("apply", *VALIDATE, "-f", _write(d, "ds.yaml", text)).stdout.strip() == "daemonset.apps/agent created"
    out = k.run("rollout", "status", "ds/agent", "--timeout=90s", timeout=120).stdout
    assert 'daemon set "agent" successfully rolled out' in out
    pods = k.run("get", "pods", "-l", "app=agent", "-o", "jsonpath={.items[*].spec.nodeName}").stdout.split()
    assert sorted(pods) == ["node0", "node1", "node2"]


def test_kubectl_apply_again_after_an_edit_configures_the_job(kube: tuple[Daemon, Kubectl]) -> None:
    """Client-side apply of a built-in kind sends a strategic merge patch (runs green once smp.py is merged)."""
    d, k = kube
    path = _write(d, "job.yaml", job_yaml("edit", "sleep 30", parallelism=1, completions=4))
    k.run("apply", *VALIDATE, "-f", path)
    _write(d, "job.yaml", job_yaml("edit", "sleep 30", parallelism=2, completions=4))
    assert k.run("apply", *VALIDATE, "-f", path).stdout.strip() == "job.batch/edit configured"
    assert k.run("get", "job", "edit", "-o", "jsonpath={.spec.parallelism}").stdout == "2"


# -- the official Python client --------------------------------------------------------------
def _client(k: Kubectl) -> Any:
    client: Any = importlib.import_module("kubernetes.client")  # Any: its models type every field Optional
    config = client.Configuration()
    config.host = _server(k)
    config.ssl_ca_cert = str(_ca(k))
    config.api_key = {"authorization": f"Bearer {TOKEN}"}
    return client.ApiClient(config)


def test_the_python_client_creates_lists_reads_patches_watches_and_deletes_jobs(kube: tuple[Daemon, Kubectl]) -> None:
    client: Any = importlib.import_module("kubernetes.client")
    watch: Any = importlib.import_module("kubernetes.watch")
    _, k = kube
    with _client(k) as api_client:
        batch, core = client.BatchV1Api(api_client), client.CoreV1Api(api_client)
        made = batch.create_namespaced_job("default", yaml.safe_load(job_yaml("py", "echo from python")))
        assert made.metadata.name == "py" and made.metadata.resource_version
        assert [j.metadata.name for j in batch.list_namespaced_job("default").items] == ["py"]
        assert batch.list_namespaced_cron_job("default").items == []
        stream = watch.Watch().stream(
            batch.list_namespaced_job, "default", field_selector="metadata.name=py", timeout_seconds=60
        )
        for event in stream:
            if event["object"].status.succeeded == 1:
                break
        job = batch.read_namespaced_job("py", "default")
        assert job.status.succeeded == 1
        patched = batch.patch_namespaced_job(
            "py", "default", [{"op": "add", "path": "/metadata/labels", "value": {"x": "y"}}]
        )
        assert patched.metadata.labels == {"x": "y"}
        pods = core.list_namespaced_pod("default", label_selector="job-name=py").items
        assert len(pods) == 1 and pods[0].status.phase == "Succeeded"
        names = {n.metadata.name for n in core.list_node().items}
        assert names == {"node0", "node1", "node2"}
        since = core.list_namespaced_pod("default").metadata.resource_version
        batch.delete_namespaced_job("py", "default", propagation_policy="Foreground")
        seen = []
        stream = watch.Watch().stream(core.list_namespaced_pod, "default", resource_version=since, timeout_seconds=30)
        for event in stream:
            seen.append(event["type"])
            if event["type"] == "DELETED":
                break
        assert seen[-1] == "DELETED"
