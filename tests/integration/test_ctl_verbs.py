"""kubectl's writing verbs through `miniorch ctl` on real Docker nodes: delete -l/--all, create --image,
scale, rollout restart, apply --dry-run, diff (and their printed lines and exit codes)."""

from __future__ import annotations

from pathlib import Path

import yaml
from support.daemon import Daemon, job_yaml

IMAGE = "miniorch.local/busybox:latest"


def labelled_job(name: str, labels: dict[str, str], namespace: str = "default", command: str = "sleep 30") -> str:
    doc = yaml.safe_load(job_yaml(name, command))
    doc["metadata"].update(labels=labels, namespace=namespace)
    return yaml.safe_dump(doc)


def names(daemon: Daemon, plural: str, namespace: str = "default") -> set[str]:
    group = {"jobs": "batch/v1", "cronjobs": "batch/v1"}[plural]
    items = daemon.api("GET", f"/apis/{group}/namespaces/{namespace}/{plural}")["items"]
    return {i["metadata"]["name"] for i in items}


def test_delete_by_selector_all_and_all_namespaces(daemon: Daemon) -> None:
    """-l deletes only the matching Jobs (one line each, as kubectl); no match says so; --all -A empties every namespace."""
    docs = [
        labelled_job("a1", {"app": "a"}),
        labelled_job("a2", {"app": "a"}),
        labelled_job("b1", {"app": "b"}),
        labelled_job("t1", {"app": "a"}, namespace="team"),
    ]
    daemon.apply("---\n".join(docs))
    out = daemon.ctl("delete", "jobs", "-l", "app=a", check=True)
    assert sorted(out.stdout.splitlines()) == ['job.batch "a1" deleted', 'job.batch "a2" deleted']
    assert names(daemon, "jobs") == {"b1"} and names(daemon, "jobs", "team") == {"t1"}
    assert not [p for p in daemon.pods("a1") + daemon.pods("a2") if p["status"]["phase"] == "Running"]
    none = daemon.ctl("delete", "jobs", "-l", "app=nothing")
    assert none.returncode == 0 and none.stdout.strip() == "No resources found"
    both = daemon.ctl("delete", "job", "b1", "--all")
    assert both.returncode == 2 and "cannot be combined" in both.stderr
    out = daemon.ctl("delete", "jobs", "--all", "-A", check=True)
    assert sorted(out.stdout.splitlines()) == ['job.batch "b1" deleted', 'job.batch "t1" deleted']
    assert names(daemon, "jobs") == set() and names(daemon, "jobs", "team") == set()
    assert daemon.ctl("delete", "jobs").returncode == 2


def test_create_job_and_cronjob_from_an_image(daemon: Daemon) -> None:
    """create job/cronjob --image -- CMD: kubectl's objects (container named NAME, restart policies), and they run."""
    out = daemon.ctl("create", "job", "hello", f"--image={IMAGE}", "--", "sh", "-c", "echo hi from $0", check=True)
    assert out.stdout.strip() == "job.batch/hello created"
    daemon.wait_job("hello")
    job = daemon.job("hello")
    assert job is not None
    pod_spec = job["spec"]["template"]["spec"]
    assert pod_spec["restartPolicy"] == "Never"
    assert pod_spec["containers"][0]["name"] == "hello"
    assert pod_spec["containers"][0]["command"] == ["sh", "-c", "echo hi from $0"]
    assert daemon.ctl("logs", "job/hello", check=True).stdout.strip() == "hi from sh"
    again = daemon.ctl("create", "job", "hello", f"--image={IMAGE}")
    assert again.returncode == 1 and 'jobs.batch "hello" already exists' in again.stderr

    out = daemon.ctl(
        "create",
        "cronjob",
        "tick",
        f"--image={IMAGE}",
        "--schedule=*/30 * * * *",
        "--",
        "sh",
        "-c",
        "echo tock",
        check=True,
    )
    assert out.stdout.strip() == "cronjob.batch/tick created"
    never = daemon.ctl(
        "create", "cronjob", "tock", f"--image={IMAGE}", "--schedule=@daily", "--restart=Never", check=True
    )
    assert never.stdout.strip() == "cronjob.batch/tock created"
    cj = daemon.api("GET", "/apis/batch/v1/namespaces/default/cronjobs/tick")
    assert cj["spec"]["schedule"] == "*/30 * * * *"
    template = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert template["restartPolicy"] == "OnFailure" and template["containers"][0]["name"] == "tick"
    tock = daemon.api("GET", "/apis/batch/v1/namespaces/default/cronjobs/tock")
    assert tock["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    manual = daemon.ctl("create", "job", "manual", "--from=cronjob/tick", check=True)
    assert manual.stdout.strip() == "job.batch/manual created"
    daemon.wait_job("manual")
    assert daemon.ctl("logs", "job/manual", check=True).stdout.strip() == "tock"
    bad = daemon.ctl("create", "cronjob", "x", f"--image={IMAGE}")
    assert bad.returncode == 2 and "--schedule is required" in bad.stderr


def test_create_dry_runs_print_the_object_and_store_nothing(daemon: Daemon) -> None:
    """create --dry-run=client -o yaml writes kubectl's manifest; --dry-run=server -o yaml adds the daemon's
    defaults; neither stores anything, and the printed manifest applies as it is."""
    local = daemon.ctl(
        "create",
        "job",
        "gen",
        f"--image={IMAGE}",
        "--dry-run=client",
        "-o",
        "yaml",
        "--",
        "echo",
        "generated",
        check=True,
    )
    doc = yaml.safe_load(local.stdout)
    assert doc["kind"] == "Job" and doc["spec"]["template"]["spec"]["containers"][0]["name"] == "gen"
    assert "backoffLimit" not in doc["spec"]
    server = daemon.ctl("create", "job", "gen", f"--image={IMAGE}", "--dry-run=server", "-o", "yaml", check=True)
    assert yaml.safe_load(server.stdout)["spec"]["backoffLimit"] == 6  # Kubernetes' default, filled by the daemon
    line = daemon.ctl("create", "job", "gen", f"--image={IMAGE}", "--dry-run=server", check=True)
    assert line.stdout.strip() == "job.batch/gen created (server dry run)"
    assert daemon.job("gen") is None
    assert daemon.apply(local.stdout).stdout.strip() == "job.batch/gen created"
    daemon.wait_job("gen")
    assert daemon.ctl("logs", "job/gen", check=True).stdout.strip() == "generated"
    pod = daemon.pods("gen")[0]["metadata"]["name"]
    patched = daemon.ctl("patch", "pod", pod, "-p", "{}")
    assert patched.returncode == 1 and patched.stderr.startswith("error: pods cannot be patched")


def test_scale_sets_a_jobs_parallelism_and_refuses_kinds_without_replicas(daemon: Daemon) -> None:
    """scale job/NAME --replicas=2 (and `scale job NAME`): spec.parallelism 2, two pods run; a CronJob cannot scale."""
    daemon.apply(job_yaml("wide", "sleep 20", parallelism=1, completions=4))
    daemon.wait_for(lambda: len(daemon.pods("wide")) == 1, what="one pod")
    out = daemon.ctl("scale", "job/wide", "--replicas=2", check=True)
    assert out.stdout.strip() == "job.batch/wide scaled"
    job = daemon.job("wide")
    assert job is not None and job["spec"]["parallelism"] == 2
    running = daemon.wait_for(
        lambda: (
            [p for p in daemon.pods("wide") if p["status"]["phase"] == "Running"]
            if len([p for p in daemon.pods("wide") if p["status"]["phase"] == "Running"]) == 2
            else None
        ),
        timeout=20,
        what="two running pods",
    )
    assert len(running) == 2
    assert daemon.ctl("scale", "job", "wide", "--replicas=3", check=True).stdout.strip() == "job.batch/wide scaled"
    assert (daemon.job("wide") or {})["spec"]["parallelism"] == 3
    daemon.ctl("create", "cronjob", "cj", f"--image={IMAGE}", "--schedule=@daily", check=True)
    refused = daemon.ctl("scale", "cronjob/cj", "--replicas=2")
    assert refused.returncode == 1 and "cronjobs cannot be scaled" in refused.stderr
    missing = daemon.ctl("scale", "job/nope", "--replicas=2")
    assert missing.returncode == 1 and "nope" in missing.stderr


def _ds(name: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": name},
            "spec": {
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {
                        "terminationGracePeriodSeconds": 1,
                        "containers": [
                            {
                                "name": "agent",
                                "image": IMAGE,
                                "imagePullPolicy": "Never",
                                "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"],
                            }
                        ],
                    },
                },
            },
        }
    )


def _ds_pods(daemon: Daemon, name: str) -> dict[str, str]:
    """node -> name of the Running, ready, not terminating pods."""
    items = daemon.api("GET", "/api/v1/pods", params={"labelSelector": f"app={name}"})["items"]
    return {
        p["spec"]["nodeName"]: p["metadata"]["name"]
        for p in items
        if p["status"]["phase"] == "Running"
        and p["status"]["containerStatuses"][0]["ready"]
        and not p["metadata"].get("deletionTimestamp")
    }


def test_rollout_restart_replaces_every_daemonset_pod(daemon: Daemon) -> None:
    """rollout restart ds/NAME: restartedAt on the template, a new revision, a new pod on every node."""
    daemon.apply(_ds("agent"))
    before = daemon.wait_for(lambda: (p := _ds_pods(daemon, "agent")) and len(p) == 3 and p, what="3 pods")
    out = daemon.ctl("rollout", "restart", "ds/agent", check=True)
    assert out.stdout.strip() == "daemonset.apps/agent restarted"
    ds = daemon.api("GET", "/apis/apps/v1/namespaces/default/daemonsets/agent")
    assert "kubectl.kubernetes.io/restartedAt" in ds["spec"]["template"]["metadata"]["annotations"]

    def replaced() -> dict[str, str] | None:
        now = _ds_pods(daemon, "agent")
        return now if len(now) == 3 and not set(now.values()) & set(before.values()) else None

    daemon.wait_for(replaced, timeout=40, what="every pod replaced")
    status = daemon.ctl("rollout", "status", "ds/agent", "--timeout=30s", check=True)
    assert 'daemon set "agent" successfully rolled out' in status.stdout
    history = daemon.ctl("rollout", "history", "ds/agent", check=True).stdout.split()
    assert "1" in history and "2" in history
    bad = daemon.ctl("rollout", "restart", "job/x")
    assert bad.returncode == 2


def test_apply_dry_run_server_and_client_store_nothing(daemon: Daemon, tmp_path: Path) -> None:
    """--dry-run=server: created / unchanged / configured (server dry run), server errors, nothing stored;
    --dry-run=client: checked locally."""
    path = tmp_path / "job.yaml"
    path.write_text(job_yaml("dry", "sleep 30", parallelism=1))
    out = daemon.ctl("apply", "-f", str(path), "--dry-run=server", check=True)
    assert out.stdout.strip() == "job.batch/dry created (server dry run)"
    assert daemon.job("dry") is None
    client = daemon.ctl("apply", "-f", str(path), "--dry-run=client", check=True)
    assert client.stdout.strip() == "job.batch/dry created (dry run)" and daemon.job("dry") is None
    assert daemon.ctl("apply", "-f", str(path), check=True).stdout.strip() == "job.batch/dry created"
    same = daemon.ctl("apply", "-f", str(path), "--dry-run=server", check=True)
    assert same.stdout.strip() == "job.batch/dry unchanged (server dry run)"
    path.write_text(job_yaml("dry", "sleep 30", parallelism=2))
    changed = daemon.ctl("apply", "-f", str(path), "--dry-run=server", check=True)
    assert changed.stdout.strip() == "job.batch/dry configured (server dry run)"
    assert (daemon.job("dry") or {})["spec"]["parallelism"] == 1
    assert daemon.ctl("apply", "-f", str(path), "--dry-run=client", check=True).stdout.strip() == (
        "job.batch/dry configured (dry run)"
    )
    path.write_text(job_yaml("dry", "sleep 31"))  # a Job's template is immutable: the server says so
    immutable = daemon.ctl("apply", "-f", str(path), "--dry-run=server")
    assert immutable.returncode == 1 and "field is immutable" in immutable.stderr
    policy = tmp_path / "priv.yaml"  # policy is the daemon's: only the server dry run sees it
    policy.write_text(job_yaml("priv", "true", container={"securityContext": {"privileged": True}}))
    assert daemon.ctl("apply", "-f", str(policy), "--dry-run=client").returncode == 0
    refused = daemon.ctl("apply", "-f", str(policy), "--dry-run=server")
    assert refused.returncode == 1 and "privileged" in refused.stderr and daemon.job("priv") is None
    invalid = tmp_path / "bad.yaml"
    invalid.write_text(job_yaml("bad", "true", pod_spec={"volumes": [{"name": "v", "persistentVolumeClaim": {}}]}))
    for mode in ("server", "client"):
        result = daemon.ctl("apply", "-f", str(invalid), f"--dry-run={mode}")
        assert result.returncode == 1 and "persistentVolumeClaim" in result.stderr
    assert daemon.ctl("apply", "-f", str(path), "--dry-run=maybe").returncode == 2
    path.write_text(job_yaml("dry", "sleep 30", parallelism=2))
    shown = yaml.safe_load(daemon.ctl("apply", "-f", str(path), "--dry-run=server", "-o", "yaml", check=True).stdout)
    assert shown["spec"]["parallelism"] == 2 and shown["spec"]["backoffLimit"] == 6 and "status" not in shown
    assert (daemon.job("dry") or {})["spec"]["parallelism"] == 1


def test_diff_exits_0_same_1_different_2_error(daemon: Daemon, tmp_path: Path) -> None:
    """diff -f: a new object is all additions (1), an applied one shows no difference (0), a changed field shows
    as -/+ without server fields (1), an error exits 2; a folder diffs every file."""
    path = tmp_path / "d" / "job.yaml"
    path.parent.mkdir()
    path.write_text(job_yaml("cmp", "sleep 30", parallelism=1))
    new = daemon.ctl("diff", "-f", str(path))
    assert new.returncode == 1, new.stderr
    assert new.stdout.startswith("diff -u -N LIVE/batch.v1.Job.default.cmp MERGED/batch.v1.Job.default.cmp\n")
    assert "+kind: Job" in new.stdout.splitlines()
    daemon.ctl("apply", "-f", str(path), check=True)
    same = daemon.ctl("diff", "-f", str(path))
    assert (same.returncode, same.stdout) == (0, "")
    path.write_text(job_yaml("cmp", "sleep 30", parallelism=2))
    changed = daemon.ctl("diff", "-f", str(path.parent))
    assert changed.returncode == 1
    lines = changed.stdout.splitlines()
    assert "-  parallelism: 1" in lines and "+  parallelism: 2" in lines
    assert not [x for x in lines if x[:1] in "+-" and x[:3] not in ("+++", "---") and "parallelism" not in x]
    assert (daemon.job("cmp") or {})["spec"]["parallelism"] == 1
    assert daemon.ctl("diff", "-f", str(tmp_path / "missing.yaml")).returncode == 2
    path.write_text("kind: Job\nmetadata: {name: cmp}\n")
    assert daemon.ctl("diff", "-f", str(path)).returncode == 2


def test_file_managed_objects_diff_but_refuse_api_writes(daemon: Daemon, tmp_path: Path) -> None:
    """A Job from the watched folder: diff compares a draft with it (exit 1); apply --dry-run=server, scale and
    rollout-style patches through the API are refused naming the file (exit 1)."""
    managed = daemon.manifests / "folder.yaml"
    managed.write_text(job_yaml("folder", "sleep 30", parallelism=1, completions=2))
    daemon.wait_for(lambda: daemon.job("folder"), what="the folder's Job")
    draft = tmp_path / "draft.yaml"
    draft.write_text(job_yaml("folder", "sleep 30", parallelism=2, completions=2))
    diff = daemon.ctl("diff", "-f", str(draft))
    assert diff.returncode == 1 and "+  parallelism: 2" in diff.stdout.splitlines(), diff.stderr
    assert daemon.ctl("diff", "-f", str(managed)).returncode == 0
    for args in (("apply", "-f", str(draft), "--dry-run=server"), ("scale", "job/folder", "--replicas=2")):
        refused = daemon.ctl(*args)
        assert refused.returncode == 1 and f"managed by the file {managed}" in refused.stderr, args
    assert (daemon.job("folder") or {})["spec"]["parallelism"] == 1
