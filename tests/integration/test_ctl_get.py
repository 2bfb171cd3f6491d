"""kubectl's read habits against real Jobs on the real nodes: several kinds, selectors, sorting, columns, JSONPath.

One daemon for the module runs a Job that succeeds (3 pods), one that fails (exit 3, no retry)
and a suspended CronJob; each test runs `miniorch ctl` as a user would and checks what it
printed against the objects the API serves.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.daemon import Daemon, job_yaml

CRONJOB = {
    "apiVersion": "batch/v1",
    "kind": "CronJob",
    "metadata": {"name": "tick", "labels": {"app": "tick"}},
    "spec": {
        "schedule": "*/5 * * * *",
        "suspend": True,
        "jobTemplate": {
            "spec": {
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "c", "image": "miniorch.local/busybox:latest", "command": ["true"]}],
                    }
                }
            }
        },
    },
}


@pytest.fixture(scope="module")
def d(docker_nodes: list[Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """A daemon with the finished Jobs `ok` (3 pods, exit 0) and `bad` (1 pod, exit 3) and the CronJob `tick`."""
    from conftest import _remove_managed_containers

    daemon = Daemon(tmp_path_factory.mktemp("ctlget"), [(n.name, n.url) for n in docker_nodes])
    daemon.start()
    try:
        daemon.apply(
            job_yaml("ok", "echo ok", completions=3, parallelism=3)
            + "---\n"
            + job_yaml("bad", "exit 3", backoff_limit=0)
            + "---\n"
            + yaml.safe_dump(CRONJOB)
        )
        daemon.wait_job("ok")
        daemon.wait_job("bad", "Failed")
        yield daemon
    finally:
        daemon.stop()
        _remove_managed_containers(docker_nodes)


def out(d: Daemon, *args: str) -> str:
    result = d.ctl(*args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_jsonpath_filter_reads_a_condition(d: Daemon) -> None:
    """The DESIGN's example: `{.status.conditions[?(@.type=="Complete")].status}` prints True; filters work on Failed too."""
    assert out(d, "get", "job", "ok", "-o", 'jsonpath={.status.conditions[?(@.type=="Complete")].status}') == "True"
    reason = out(d, "get", "job", "bad", "-o", 'jsonpath={.status.conditions[?(@.type=="Failed")].reason}')
    assert reason == "BackoffLimitExceeded"
    names = out(d, "get", "jobs", "-o", "jsonpath={range .items[*]}{.metadata.name}{'\\n'}{end}").split()
    assert sorted(names) == ["bad", "ok"]
    assert out(d, "get", "jobs", "-o", "jsonpath={.items[-1:].metadata.name}") in ("bad", "ok")
    assert out(d, "get", "job", "ok", "-o=jsonpath={.metadata.name}") == "ok"  # kubectl's -o=FORMAT spelling


def test_several_kinds_print_one_block_each_with_kind_names(d: Daemon) -> None:
    """`get jobs,cronjobs`: a table per kind, a blank line between, names as job.batch/NAME and cronjob.batch/NAME."""
    jobs, cronjobs = out(d, "get", "jobs,cronjobs").rstrip("\n").split("\n\n")
    assert jobs.splitlines()[0].split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert sorted(line.split()[0] for line in jobs.splitlines()[1:]) == ["job.batch/bad", "job.batch/ok"]
    assert cronjobs.splitlines()[0].startswith("NAME ") and cronjobs.splitlines()[1].startswith("cronjob.batch/tick ")


def test_get_all_shows_pods_cronjobs_and_jobs_in_kubectls_order(d: Daemon) -> None:
    """`get all`: pods first, then cronjobs, then jobs (no DaemonSet exists, so no block for it)."""
    blocks = out(d, "get", "all").rstrip("\n").split("\n\n")
    prefixes = [b.splitlines()[1].split("/")[0] for b in blocks]
    assert prefixes == ["pod", "cronjob.batch", "job.batch"]
    pods = {line.split()[0] for line in blocks[0].splitlines()[1:]}
    assert pods == {f"pod/{p['metadata']['name']}" for p in d.pods("ok") + d.pods("bad")}


def test_field_selector_picks_pods_by_phase_and_node(d: Daemon) -> None:
    """--field-selector status.phase=Failed gives the failed pod; spec.nodeName=N the pods on N, filtered by the API."""
    failed = out(d, "get", "pods", "--field-selector", "status.phase=Failed", "-o", "name").split()
    assert failed == [f"pod/{p['metadata']['name']}" for p in d.pods("bad")]
    node = d.pods("ok")[0]["spec"]["nodeName"]
    on_node = out(d, "get", "pods", "--field-selector", f"spec.nodeName={node},status.phase!=Failed", "-o", "name")
    expected = {p["metadata"]["name"] for p in d.pods("ok") if p["spec"]["nodeName"] == node}
    assert {n.removeprefix("pod/") for n in on_node.split()} == expected
    fields = f"spec.nodeName={node},status.phase=Succeeded"  # what ctl asks for
    served = d.api("GET", "/api/v1/pods", params={"fieldSelector": fields})["items"]
    assert {p["metadata"]["name"] for p in served} == expected


def test_custom_columns_sort_by_and_show_labels(d: Daemon) -> None:
    """-o custom-columns prints the chosen fields; --sort-by orders rows; --show-labels adds LABELS."""
    text = out(
        d,
        "get",
        "pods",
        "-o",
        "custom-columns=NAME:.metadata.name,JOB:.metadata.labels.job-name,EXIT:.status.containerStatuses[0].state.terminated.exitCode",
        "--sort-by=.metadata.labels.job-name",
    )
    rows = [line.split() for line in text.splitlines()]
    assert rows[0] == ["NAME", "JOB", "EXIT"]
    assert [r[1:] for r in rows[1:]] == [["bad", "3"], ["ok", "0"], ["ok", "0"], ["ok", "0"]]
    labelled = out(d, "get", "pods", "-l", "job-name=ok", "--show-labels", "--sort-by", "{.metadata.name}")
    lines = labelled.splitlines()
    assert lines[0].split()[-1] == "LABELS" and all("job-name=ok" in line for line in lines[1:])

    # kubectl sorts strings naturally (digit runs as numbers: ok-1kstn before ok-17j1x), as does ctl
    def key(name: str) -> list[tuple[int, int | str]]:
        return [(0, int(t)) if t.isdigit() else (1, t) for t in re.split(r"(\d+)", name) if t]

    names = [p["metadata"]["name"] for p in d.pods("ok")]
    assert [line.split()[0] for line in lines[1:]] == sorted(names, key=key)


def test_bad_flags_are_refused_in_kubectls_words(d: Daemon) -> None:
    """An unknown field selector or a missing template key with --allow-missing-template-keys=false: exit 1, one sentence."""
    result = d.ctl("get", "jobs", "--field-selector", "status.phase=Running")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        'error: Unable to find "batch/v1, Resource=jobs" that match label selector "", field selector '
        '"status.phase=Running": field label not supported: status.phase'
    )
    result = d.ctl("get", "job", "ok", "-o", "jsonpath={.status.nope}", "--allow-missing-template-keys=false")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        'error: error executing jsonpath "{.status.nope}": Error executing template: nope is not found.'
    )


BAD_INPUTS = [
    ["patch", "pod", "x", "-p", "{}"],
    ["patch", "job", "ok", "-p", "[]"],
    ["patch", "job", "missing", "-p", "{}"],
    ["get", "job", "missing"],
    ["get", "jobs,nope"],
    ["get", "pods", "-o", "jsonpath={.items[9].metadata.name}"],
    ["get", "pods", "-o", "jsonpath={.items[?(@.x}"],
    ["get", "pods", "-o", "custom-columns=NAME"],
    ["get", "pods", "--sort-by", ".nope"],
    ["get", "pods", "-o", "jsonpath-file=/nonexistent/t"],
    ["describe", "job", "missing"],
    ["explain", "jobs.spec.nope"],
    ["logs", "missing"],
    ["logs", "job/missing"],
    ["delete", "job", "missing"],
    ["wait", "--for=condition=Complete", "job/missing", "--timeout=1s"],
    ["label", "node", "missing", "a=b"],
    ["cordon", "missing"],
    ["rollout", "status", "ds/missing"],
    ["create", "job", "x", "--from=cronjob/missing"],
    ["apply", "-f", "/nonexistent.yaml"],
    ["completion", "tcsh"],
]


def _assert_sentences(stderr: str) -> None:
    assert "Traceback" not in stderr
    assert not re.search(r"\b\w+(Error|Exception)\b", stderr), stderr  # KeyError, ConnectError, ...
    for line in stderr.splitlines():
        if line.startswith("error:"):
            assert not re.fullmatch(r"error: '[^']*'", line), line  # a bare KeyError, e.g. error: 'Pod'
            assert len(line.split()) >= 4, line


@pytest.mark.parametrize("args", BAD_INPUTS, ids=lambda a: " ".join(a))
def test_every_error_reaches_the_user_as_a_sentence(d: Daemon, args: list[str], tmp_path: Path) -> None:
    """Bad input to any verb exits non-zero with sentences on stderr: no traceback, no bare exception text."""
    result = d.ctl(*args, timeout=60)
    assert result.returncode != 0, result.stdout
    assert result.stderr.strip()
    _assert_sentences(result.stderr)
