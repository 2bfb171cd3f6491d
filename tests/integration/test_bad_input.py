"""Bad manifests get a clear answer (file, line, field path, hint) and change nothing."""

from __future__ import annotations

import pytest
from support.daemon import Daemon, job_yaml

GOOD = job_yaml("good", "true")

CASES = {
    "yaml-syntax": ("apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: x\n spec: [\n", ":5:", "yaml"),
    "unknown-field": (GOOD.replace("backoffLimit", "x") + "", None, None),
    "restart-always": (job_yaml("always", "true", restart="Always"), ":", "spec.template.spec.restartPolicy"),
    "bad-name": (job_yaml("Bad_Name", "true"), ":4:", "metadata.name"),
    "unsupported-volume": (
        job_yaml("vol", "true", pod_spec={"volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "c"}}]}),
        ":",
        "spec.template.spec.volumes[0].persistentVolumeClaim: not supported",
    ),
}


def _unknown_field_manifest() -> str:
    return GOOD.replace("  template:\n", "  templat: 1\n  template:\n")


@pytest.mark.parametrize("case", ["yaml-syntax", "unknown-field", "restart-always", "bad-name", "unsupported-volume"])
def test_invalid_manifest_is_refused_with_location_and_nothing_is_applied(daemon: Daemon, case: str) -> None:
    """ctl apply exits 1 naming the file, line and field; the good Job in the same file is not created either."""
    text, where, what = CASES[case]
    if case == "unknown-field":
        text, where, what = _unknown_field_manifest(), ":", 'unknown field "templat"'
    path = daemon.workdir / f"{case}.yaml"
    first = job_yaml("first-ok", "true") + "---\n"
    path.write_text(first + text)
    if where and where.strip(":").isdigit():  # a line of the bad document, counted in the whole file
        where = f":{int(where.strip(':')) + len(first.splitlines())}:"
    result = daemon.ctl("apply", "-f", str(path))
    assert result.returncode == 1, result.stdout
    assert where is not None and what is not None
    assert str(path) in result.stderr and where in result.stderr
    assert what in (result.stderr.lower() if what == "yaml" else result.stderr)
    assert "Traceback" not in result.stderr
    assert daemon.job("first-ok") is None
    assert daemon.ctl("version").returncode == 0  # the daemon keeps running


def test_restart_policy_always_error_says_what_is_allowed(daemon: Daemon) -> None:
    """restartPolicy Always in a Job: the message lists OnFailure and Never, as Kubernetes does."""
    path = daemon.workdir / "always.yaml"
    path.write_text(job_yaml("always", "true", restart="Always"))
    result = daemon.ctl("apply", "-f", str(path))
    assert result.returncode == 1
    assert '"OnFailure", "Never"' in result.stderr and "spec.template.spec.restartPolicy" in result.stderr
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "restartPolicy" in text)
    assert f"{path}:{line}:" in result.stderr


def test_changing_an_immutable_job_field_is_refused_with_what_to_do(daemon: Daemon) -> None:
    """Re-applying a Job with a different template is a conflict that says to delete or rename."""
    daemon.apply(job_yaml("imm", "sleep 30"))
    path = daemon.workdir / "imm2.yaml"
    path.write_text(job_yaml("imm", "sleep 31"))
    result = daemon.ctl("apply", "-f", str(path))
    assert result.returncode == 1
    assert "immutable" in result.stderr and "delete" in result.stderr
    assert daemon.ctl("apply", "-f", str(daemon.workdir / "manifest.yaml")).stdout.strip() == "job.batch/imm unchanged"


def test_policy_refuses_privileged_and_host_paths_by_default(daemon: Daemon) -> None:
    """privileged and hostPath are refused unless the daemon's policy allows them."""
    spec = {"volumes": [{"name": "h", "hostPath": {"path": "/etc"}}]}
    text = job_yaml("hp", "true", pod_spec=spec, container={"volumeMounts": [{"name": "h", "mountPath": "/h"}]})
    path = daemon.workdir / "hp.yaml"
    path.write_text(text)
    result = daemon.ctl("apply", "-f", str(path))
    assert result.returncode == 1 and "allowed_host_paths" in result.stderr, result.stderr


def test_validate_checks_files_offline_with_the_same_messages(daemon: Daemon) -> None:
    """`miniorch validate` needs no daemon and exits 1 with file:line: path for a bad file, 0 for a good one."""
    import subprocess

    from support.daemon import MINIORCH

    bad = daemon.workdir / "bad.yaml"
    bad.write_text(job_yaml("always", "true", restart="Always"))
    good = daemon.workdir / "good.yaml"
    good.write_text(GOOD)
    result = subprocess.run([MINIORCH, "validate", str(bad)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 1 and f"{bad}:" in result.stderr and "restartPolicy" in result.stderr
    assert subprocess.run([MINIORCH, "validate", str(good)], capture_output=True, text=True, timeout=30).returncode == 0


def test_a_bad_folder_gets_the_same_messages_from_apply_validate_and_the_watcher(daemon: Daemon) -> None:
    """One reader: `ctl apply -f DIR` sends nothing and prints what `miniorch validate` prints, and the
    daemon's watched folder refuses the same files with the same messages (the good file is applied)."""
    import os
    import subprocess

    from support.daemon import MINIORCH

    staging = daemon.manifests / ".staging"  # hidden: ignored until renamed into place (one pass)
    staging.mkdir()
    (staging / "a.yaml").write_text(job_yaml("first", "true"))
    (staging / "b.yaml").write_text(job_yaml("first", "true") + "---\n" + job_yaml("second", "true"))
    (staging / "c.yaml").write_text("apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: [x\n")
    (staging / "c.yaml~").write_text("kind: [\n")
    folder = daemon.manifests / "bad"
    os.rename(staging, folder)

    def refused() -> list[dict[str, object]]:
        items = daemon.api("GET", "/api/v1/events")["items"]
        return [e for e in items if e["reason"] == "InvalidManifest"]

    watcher = daemon.wait_for(lambda: len(refused()) == 2 and refused(), what="two refused files")
    applied = daemon.ctl("apply", "-f", str(folder))
    validated = subprocess.run([MINIORCH, "validate", str(folder)], capture_output=True, text=True, timeout=30)
    assert applied.returncode == validated.returncode == 1
    lines = sorted(applied.stderr.splitlines())
    assert lines == sorted(validated.stderr.splitlines())
    assert lines == sorted(f"error: {line}" for e in watcher for line in str(e["message"]).splitlines())
    assert [line.split(":")[0] for line in lines] == ["error", "error"]
    assert any(f"{folder / 'b.yaml'}:1:" in line and "also defined at" in line for line in lines)
    assert any(f"{folder / 'c.yaml'}:" in line for line in lines)
    assert daemon.job("first") is not None and daemon.job("second") is None
