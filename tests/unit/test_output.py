"""How `ctl get` prints: kubectl ages, table columns and the -o formats."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import yaml

from miniorch.cli import output

NOW = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)


def ts(seconds_ago: float) -> str:
    """An RFC 3339 timestamp `seconds_ago` before NOW."""
    return (NOW - dt.timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(
    name: str,
    phase: str,
    state: dict[str, Any],
    ready: bool,
    age: float,
    restarts: int = 0,
    node: str | None = "node0",
    namespace: str = "default",
) -> dict[str, Any]:
    """A Kubernetes-shaped pod dict."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": ts(age)},
        "spec": {"nodeName": node},
        "status": {"phase": phase, "containerStatuses": [{"ready": ready, "restartCount": restarts, "state": state}]},
    }


def job(
    name: str,
    succeeded: int,
    completions: int | None,
    age: float,
    duration: float | None,
    conditions: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A Kubernetes-shaped Job dict that started `age` seconds ago."""
    status: dict[str, Any] = {
        "succeeded": succeeded,
        "startTime": ts(age),
        "conditions": [{"type": c, "status": "True"} for c in conditions],
    }
    if duration is not None:
        status["completionTime"] = ts(age - duration)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": "default", "uid": "u-" + name, "creationTimestamp": ts(age)},
        "spec": {
            "completions": completions,
            "parallelism": 1,
            "template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}},
        },
        "status": status,
    }


RUNNING = pod("a", "Running", {"running": {}}, True, 5)
DONE = pod("longer-name", "Succeeded", {"terminated": {"reason": "Completed", "exitCode": 0}}, False, 150, node="node1")


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (-1, "0s"),
        (0, "0s"),
        (5, "5s"),
        (119, "119s"),
        (120, "2m"),
        (150, "2m30s"),
        (9 * 60 + 5, "9m5s"),
        (600, "10m"),
        (179 * 60 + 59, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 30 * 60, "3h30m"),
        (8 * 3600, "8h"),
        (26 * 3600, "26h"),
        (47 * 3600 + 3599, "47h"),
        (3 * 86400, "3d"),
        (3 * 86400 + 5 * 3600, "3d5h"),
        (8 * 86400, "8d"),
        (729 * 86400, "729d"),
        (800 * 86400, "2y70d"),
        (3 * 365 * 86400, "3y"),
        (9 * 365 * 86400, "9y"),
    ],
)
def test_human_duration_matches_kubectl(seconds: float, expected: str) -> None:
    """Ages and durations read exactly like kubectl's HumanDuration."""
    assert output.human_duration(seconds) == expected


def test_age_of_a_missing_timestamp_is_unknown() -> None:
    """Objects without a timestamp show <unknown> as their age."""
    assert output.age(None, NOW) == "<unknown>"
    assert output.age(ts(150), NOW) == "2m30s"


def test_pod_table_columns_are_aligned() -> None:
    """Columns are left-aligned, three spaces apart, with no trailing spaces (as kubectl's tabwriter)."""
    text = output.render("Pod", [RUNNING, DONE], None, NOW)
    assert text == (
        "NAME          READY   STATUS      RESTARTS   AGE\n"
        "a             1/1     Running     0          5s\n"
        "longer-name   0/1     Completed   0          2m30s"
    )


def test_wide_pod_table_adds_node_and_exit_code() -> None:
    """-o wide adds NODE and EXIT CODE columns; an unscheduled pod shows <none>."""
    waiting = pod("w", "Pending", {"waiting": {"reason": "ContainerCreating"}}, False, 1, node=None)
    lines = output.render("Pod", [DONE, waiting], "wide", NOW).splitlines()
    assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "NODE", "EXIT", "CODE"]
    assert lines[1].split() == ["longer-name", "0/1", "Completed", "0", "2m30s", "node1", "0"]
    assert lines[2].split() == ["w", "0/1", "ContainerCreating", "0", "1s", "<none>"]


def test_namespace_column_comes_first_when_asked() -> None:
    """With all namespaces the NAMESPACE column is prepended."""
    other = pod("b", "Running", {"running": {}}, True, 5, namespace="batch")
    lines = output.render("Pod", [RUNNING, other], None, NOW, show_namespace=True).splitlines()
    assert lines[0].startswith("NAMESPACE   NAME   READY")
    assert [line.split()[:2] for line in lines[1:]] == [["default", "a"], ["batch", "b"]]


def test_job_table_shows_status_completions_and_duration() -> None:
    """Job rows show STATUS from conditions, COMPLETIONS as done/wanted and DURATION from start to completion."""
    jobs = [job("pi", 1, 1, 600, 150, ("SuccessCriteriaMet", "Complete")), job("queue", 0, None, 30, None)]
    assert output.render("Job", jobs, None, NOW) == (
        "NAME    STATUS     COMPLETIONS   DURATION   AGE\n"
        "pi      Complete   1/1           2m30s      10m\n"
        "queue   Running    0/1 of 1      30s        30s"
    )


def test_kept_cells_of_a_running_job_read_their_age_and_duration_at_each_instant() -> None:
    """The cells by the object alone (what the API keeps per version) carry times, not text."""
    job: dict[str, Any] = {
        "metadata": {"name": "etl", "creationTimestamp": ts(100)},
        "spec": {"completions": 2},
        "status": {"startTime": ts(90), "succeeded": 1, "active": 1},
    }
    cells = output.job_cells(job, False)
    assert output.resolve(cells, NOW) == output._job_row(job, NOW, False) == ["etl", "Running", "1/2", "90s", "100s"]
    later = NOW + dt.timedelta(minutes=30)
    assert output.resolve(cells, later)[3:] == ["31m", "31m"]
    done = {**job, "status": {**job["status"], "completionTime": ts(30), "succeeded": 2}}
    assert output.resolve(output.job_cells(done, False), later)[3:] == ["60s", "31m"]


def test_empty_list_renders_nothing() -> None:
    """With no items the table is empty (the CLI prints 'No resources found')."""
    assert output.render("Pod", [], None, NOW) == ""


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("Job", "job.batch/pi"),
        ("CronJob", "cronjob.batch/pi"),
        ("DaemonSet", "daemonset.apps/pi"),
        ("Pod", "pod/pi"),
        ("Node", "node/pi"),
    ],
)
def test_output_name_uses_kubectl_resource_groups(kind: str, expected: str) -> None:
    """-o name prints kind.group/name, one per line, like kubectl."""
    items = [{"metadata": {"name": "pi"}}, {"metadata": {"name": "pi"}}]
    assert output.render(kind, items, "name", NOW) == f"{expected}\n{expected}"


def test_output_json_wraps_items_in_a_v1_list() -> None:
    """-o json of several objects is a v1 List holding them."""
    data = json.loads(output.render("Pod", [RUNNING, DONE], "json", NOW))
    assert (data["apiVersion"], data["kind"], data["items"]) == ("v1", "List", [RUNNING, DONE])


def test_output_json_of_one_named_object_is_the_object() -> None:
    """-o json for a single named object prints that object, not a List."""
    assert json.loads(output.render("Pod", [RUNNING], "json", NOW, single=True)) == RUNNING


def test_output_yaml_keeps_the_same_shape() -> None:
    """-o yaml prints the same List as -o json."""
    data = yaml.safe_load(output.render("Pod", [RUNNING], "yaml", NOW))
    assert (data["kind"], data["items"]) == ("List", [RUNNING])


@pytest.mark.parametrize(
    ("fmt", "single", "expected"),
    [
        ("jsonpath={.items[*].metadata.name}", False, "a longer-name"),
        ("jsonpath='{.items[0].spec.nodeName}'", False, "node0"),
        ("jsonpath={.kind}", False, "List"),
        ("jsonpath={.metadata.name}", True, "a"),
        ('jsonpath={range .items[*]}{.metadata.name}{"\\n"}{end}', False, "a\nlonger-name\n"),
    ],
)
def test_output_jsonpath_applies_to_the_list_or_single_object(fmt: str, single: bool, expected: str) -> None:
    """-o jsonpath= runs the template on the List (or the single object), quotes around it stripped."""
    assert output.render("Pod", [RUNNING, DONE], fmt, NOW, single=single) == expected


def test_unknown_output_format_is_rejected_with_the_allowed_list() -> None:
    """An unsupported -o value raises ValueError listing the allowed formats."""
    with pytest.raises(
        output.PrintError, match="allowed formats are: custom-columns,custom-columns-file,json,jsonpath,"
    ):
        output.render("Pod", [RUNNING], "csv", NOW)


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (
            pod("t", "Running", {"running": {}}, True, 1) | {"metadata": {"name": "t", "deletionTimestamp": ts(0)}},
            "Terminating",
        ),
        (pod("e", "Failed", {"terminated": {"reason": "Error", "exitCode": 1}}, False, 1), "Error"),
        (pod("o", "Failed", {"terminated": {"reason": "OOMKilled", "exitCode": 137}}, False, 1), "OOMKilled"),
        (pod("p", "Pending", {"waiting": {}}, False, 1), "Pending"),
        (pod("u", "Unknown", {}, False, 1), "Unknown"),
    ],
)
def test_pod_status_column_prefers_container_reasons(item: dict[str, Any], expected: str) -> None:
    """STATUS shows Terminating, then the container's terminated/waiting reason, then the phase."""
    assert output.pod_status(item) == expected


def test_table_pads_every_column_to_its_widest_cell() -> None:
    """table() sizes each column to its widest cell or header."""
    assert output.table(["A", "LONG HEADER", "C"], [["wide-cell", "x", ""], ["y", "z", "last"]]) == (
        "A           LONG HEADER   C\nwide-cell   x\ny           z             last"
    )


def test_show_labels_adds_a_sorted_labels_column() -> None:
    """--show-labels appends LABELS with k=v pairs sorted by key, <none> for an object without labels."""
    labelled = {**RUNNING, "metadata": {**RUNNING["metadata"], "labels": {"tier": "web", "app": "pi"}}}
    text = output.render("Pod", [labelled, DONE], None, NOW, show_labels=True)
    assert text.splitlines()[0].split()[-1] == "LABELS"
    assert text.splitlines()[1].endswith("   app=pi,tier=web")
    assert text.splitlines()[2].endswith("   <none>")


def test_with_kind_names_rows_kind_slash_name() -> None:
    """When several kinds are shown, NAME reads job.batch/NAME (as kubectl get jobs,cronjobs)."""
    text = output.render("Job", [job("pi", 1, 1, 60, 5, ("Complete",))], None, NOW, with_kind=True)
    assert text.splitlines()[1].startswith("job.batch/pi   Complete")


def test_no_headers_drops_the_header_line() -> None:
    """--no-headers prints only the rows, as wide as the rows need."""
    assert output.render("Pod", [RUNNING], None, NOW, no_headers=True) == "a   1/1   Running   0   5s"


def test_jsonpath_template_quotes_are_stripped_and_missing_keys_can_be_errors() -> None:
    """-o jsonpath='{...}' with its quotes still runs; allow_missing_keys=False reports kubectl's error."""
    assert output.render("Pod", [RUNNING], "jsonpath='{.metadata.name}'", NOW, single=True) == "a"
    with pytest.raises(ValueError, match="nope is not found"):
        output.render("Pod", [RUNNING], "jsonpath={.nope}", NOW, single=True, allow_missing_keys=False)
