"""Pure parts of the ctl verbs: durations, the create generators, diff rendering."""

from __future__ import annotations

import pytest

from miniorch.cli import generators, yamldiff
from miniorch.cli.durations import DurationError, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("10s", 10),
        ("5m", 300),
        ("1h", 3600),
        ("1h30m", 5400),
        ("1.5h", 5400),
        ("500ms", 0.5),
        ("2m3s", 123),
        ("30", 30),
        ("0", 0),
        (".5s", 0.5),
        ("1us", 1e-6),
        ("100ns", 1e-7),
    ],
)
def test_durations_parse_as_go_does(text: str, seconds: float) -> None:
    """kubectl's durations (Go's ParseDuration), and a bare number as seconds."""
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "s", "10x", "5 m", "1h-5m", "m5", "1d", "abc"])
def test_bad_durations_are_refused_with_the_form_to_use(text: str) -> None:
    """Anything Go would refuse is an error naming the text and an example."""
    with pytest.raises(DurationError, match="e.g. 10s, 5m"):
        parse_duration(text)


def test_create_job_makes_kubectls_job() -> None:
    """kubectl create job: container named NAME, the command after --, restartPolicy Never."""
    job = generators.job("hello", "team", "busybox", ["sh", "-c", "echo hi"])
    assert job["metadata"] == {"name": "hello", "namespace": "team"}
    pod = job["spec"]["template"]["spec"]
    assert pod == {
        "containers": [{"name": "hello", "image": "busybox", "command": ["sh", "-c", "echo hi"]}],
        "restartPolicy": "Never",
    }
    assert "command" not in generators.job("x", "default", "busybox", [])["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize(("restart", "expected"), [(None, "OnFailure"), ("Never", "Never"), ("OnFailure", "OnFailure")])
def test_create_cronjob_defaults_to_on_failure(restart: str | None, expected: str) -> None:
    """kubectl create cronjob: schedule, container named NAME, restartPolicy OnFailure unless --restart."""
    kw = {"restart": restart} if restart else {}
    cj = generators.cronjob("tick", "default", "busybox", "*/5 * * * *", ["date"], **kw)
    assert cj["kind"] == "CronJob" and cj["spec"]["schedule"] == "*/5 * * * *"
    template = cj["spec"]["jobTemplate"]
    assert set(template) == {"spec"}
    assert template["spec"]["template"]["spec"]["restartPolicy"] == expected
    assert template["spec"]["template"]["spec"]["containers"][0] == {
        "name": "tick",
        "image": "busybox",
        "command": ["date"],
    }


def test_create_cronjob_refuses_restart_always() -> None:
    """Only OnFailure and Never, as kubectl."""
    with pytest.raises(ValueError, match="OnFailure or Never"):
        generators.cronjob("tick", "default", "busybox", "* * * * *", [], restart="Always")


LIVE = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {
        "name": "pi",
        "namespace": "default",
        "uid": "u-1",
        "generation": 3,
        "creationTimestamp": "2026-01-01T00:00:00Z",
        "labels": {},
        "annotations": {"miniorch.io/source": "api"},
    },
    "spec": {"parallelism": 1, "backoffLimit": 6},
    "status": {"active": 1},
}


def test_diff_of_equal_objects_is_empty_despite_server_fields() -> None:
    """Status, uid, generation, timestamps and the source annotation never show as differences."""
    merged = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "pi", "namespace": "default"},
        "spec": {"backoffLimit": 6, "parallelism": 1},
    }
    assert yamldiff.render(LIVE, merged, "batch.v1.Job.default.pi") == ""


def test_diff_shows_a_changed_field_as_kubectl_diff_does() -> None:
    """Headers name LIVE and MERGED files; the changed line is - then +."""
    merged = {**LIVE, "spec": {"parallelism": 3, "backoffLimit": 6}}
    text = yamldiff.render(LIVE, merged, "batch.v1.Job.default.pi")
    lines = text.splitlines()
    assert lines[:3] == [
        "diff -u -N LIVE/batch.v1.Job.default.pi MERGED/batch.v1.Job.default.pi",
        "--- LIVE/batch.v1.Job.default.pi",
        "+++ MERGED/batch.v1.Job.default.pi",
    ]
    assert "-  parallelism: 1" in lines and "+  parallelism: 3" in lines
    assert not [x for x in lines if x[:1] in "+-" and ("uid" in x or "status" in x or "active" in x)]


def test_diff_of_a_new_object_adds_every_line() -> None:
    """No live object: the whole merged YAML is added (diff -N)."""
    text = yamldiff.render(None, {"apiVersion": "v1", "kind": "Job", "metadata": {"name": "x"}}, "f")
    assert [x for x in text.splitlines() if x.startswith("+") and not x.startswith("+++")] == [
        "+apiVersion: v1",
        "+kind: Job",
        "+metadata:",
        "+  name: x",
    ]
    assert yamldiff.file_name("batch/v1", "Job", "default", "pi") == "batch.v1.Job.default.pi"
