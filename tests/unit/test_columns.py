"""`ctl get` row options: --field-selector, --sort-by, custom columns, and several kinds at once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from miniorch.cli import columns, getcmd
from miniorch.cli.client import CtlError

NOW = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)


def pod(
    name: str, phase: str, node: str | None, restarts: int = 0, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    """A pod dict with the fields the selectors and columns read."""
    return {
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "default",
            "labels": labels or {},
            "creationTimestamp": "2024-05-01T11:00:00Z",
        },
        "spec": {"nodeName": node, "restartPolicy": "Never"},
        "status": {"phase": phase, "containerStatuses": [{"restartCount": restarts, "ready": False, "state": {}}]},
    }


PODS = [
    pod("web-10", "Running", "node1", 2, {"app": "web"}),
    pod("web-9", "Succeeded", "node0", 0, {"app": "web", "tier": "x"}),
    pod("etl-1", "Failed", None, 5),
]


def names(items: list[dict[str, Any]]) -> list[str]:
    return [i["metadata"]["name"] for i in items]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("", ["web-10", "web-9", "etl-1"]),
        ("status.phase=Running", ["web-10"]),
        ("status.phase==Running", ["web-10"]),
        ("status.phase!=Running", ["web-9", "etl-1"]),
        ("spec.nodeName=node0", ["web-9"]),
        ("spec.nodeName=", ["etl-1"]),
        ("spec.nodeName!=,status.phase!=Running", ["web-9"]),
        ("metadata.name=etl-1", ["etl-1"]),
        ("metadata.namespace=default,metadata.name!=etl-1", ["web-10", "web-9"]),
        ("metadata.namespace=other", []),
    ],
)
def test_field_selector_filters_pods_as_the_api_server(selector: str, expected: list[str]) -> None:
    """=, == and != on the pod fields kubectl can select; comma is AND; an unset field equals ""."""
    reqs = columns.parse_field_selector(selector)
    columns.check_fields("Pod", reqs, selector, None)
    assert names(columns.select_fields(PODS, reqs)) == expected


def test_field_selector_by_owner_uid_looks_at_every_owner_reference() -> None:
    """`metadata.ownerReferences.uid`, which ctl sends the API for an owner's pods, filters the same here."""
    pods: list[dict[str, Any]] = [
        {"metadata": {"name": "a", "ownerReferences": [{"uid": "j1"}]}},
        {"metadata": {"name": "b", "ownerReferences": [{"uid": "j2"}]}},
    ]
    reqs = columns.parse_field_selector("metadata.ownerReferences.uid=j2")
    columns.check_fields("Pod", reqs, "metadata.ownerReferences.uid=j2", None)
    assert names(columns.select_fields(pods, reqs)) == ["b"]


def test_field_selector_on_jobs_and_nodes_compares_as_text() -> None:
    """status.successful is the Job's succeeded count; spec.unschedulable is true/false."""
    jobs: list[dict[str, Any]] = [
        {"metadata": {"name": "a"}, "status": {"succeeded": 3}},
        {"metadata": {"name": "b"}, "status": {}},
    ]
    assert names(columns.select_fields(jobs, columns.parse_field_selector("status.successful=3"))) == ["a"]
    nodes: list[dict[str, Any]] = [
        {"metadata": {"name": "n0"}, "spec": {"unschedulable": True}},
        {"metadata": {"name": "n1"}, "spec": {}},
    ]
    assert names(columns.select_fields(nodes, columns.parse_field_selector("spec.unschedulable!=true"))) == ["n1"]


@pytest.mark.parametrize(
    ("kind", "selector", "message"),
    [
        (
            "Pod",
            "foo=bar",
            'Unable to find "/v1, Resource=pods" that match label selector "app=x", field selector "foo=bar": '
            "field label not supported: foo",
        ),
        (
            "Job",
            "status.phase=Running",
            'Unable to find "batch/v1, Resource=jobs" that match label selector "app=x", field selector '
            '"status.phase=Running": field label not supported: status.phase',
        ),
    ],
)
def test_unknown_field_is_refused_in_the_api_servers_words(kind: str, selector: str, message: str) -> None:
    """A field the kind cannot be selected by names the resource, both selectors and the field."""
    with pytest.raises(columns.ColumnsError) as err:
        columns.check_fields(kind, columns.parse_field_selector(selector), selector, "app=x")
    assert str(err.value) == message


def test_a_term_without_operator_is_not_understood() -> None:
    """`abc` is not a requirement: apimachinery's wording."""
    with pytest.raises(columns.ColumnsError, match="invalid selector: 'a=b,abc'; can't understand 'abc'"):
        columns.parse_field_selector("a=b,abc")


def test_escaped_comma_belongs_to_the_value() -> None:
    """`\\,` is a comma inside a value, not the AND between terms."""
    assert columns.parse_field_selector("metadata.name=a\\,b") == [
        columns.FieldRequirement("metadata.name", True, "a,b")
    ]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("{.metadata.name}", ["etl-1", "web-9", "web-10"]),
        (".metadata.name", ["etl-1", "web-9", "web-10"]),
        ("metadata.name", ["etl-1", "web-9", "web-10"]),
        (".status.containerStatuses[0].restartCount", ["web-9", "web-10", "etl-1"]),
        (".spec.nodeName", ["web-9", "web-10", "etl-1"]),  # etl-1 has no node: last
        (".metadata.labels.tier", ["web-9", "web-10", "etl-1"]),
    ],
)
def test_sort_by_orders_naturally_with_missing_values_last(path: str, expected: list[str]) -> None:
    """--sort-by: strings in natural order (web-9 before web-10), numbers by value, objects without the field last."""
    assert names(columns.sort_items(PODS, path)) == expected


def test_sort_by_a_field_no_object_has_is_an_error() -> None:
    """kubectl refuses to sort by a path that matches nothing."""
    with pytest.raises(
        columns.ColumnsError, match='couldn\'t find any field with path "{.nope}" in the list of objects'
    ):
        columns.sort_items(PODS, ".nope")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["a10", "a9", "a1"], ["a1", "a9", "a10"]),
        (["b", "a2", "a10b", "a10a"], ["a2", "a10a", "a10b", "b"]),
        (["x01", "x1", "x001"], ["x1", "x01", "x001"]),
        (["1x", "x"], ["1x", "x"]),
    ],
)
def test_natural_order_matches_kubectls_sortorder(values: list[str], expected: list[str]) -> None:
    """Digit runs compare by value, fewer leading zeros first, digits before letters."""
    items = [{"v": v} for v in values]
    assert [i["v"] for i in columns.sort_items(items, ".v")] == expected


def test_custom_columns_print_values_as_kubectl() -> None:
    """Several values join with commas, none prints <none>, maps print as Go's map[k:v]."""
    cols = columns.parse_custom_columns(
        "NAME:.metadata.name,NODE:.spec.nodeName,LABELS:.metadata.labels,ALL:.metadata.labels.*"
    )
    rows = columns.custom_rows(cols, PODS[1:])
    assert rows == [["web-9", "node0", "map[app:web tier:x]", "web,x"], ["etl-1", "<none>", "map[]", "<none>"]]


def test_custom_columns_table_and_file() -> None:
    """The file form is a header line and a path line; --no-headers drops the header."""
    cols = columns.parse_custom_columns_file("NAME      PHASE\n.metadata.name   {.status.phase}\n")
    assert getcmd.custom_table(cols, PODS[:2], False) == "NAME     PHASE\nweb-10   Running\nweb-9    Succeeded"
    assert getcmd.custom_table(cols, PODS[:2], True) == "web-10   Running\nweb-9    Succeeded"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "custom-columns format specified but no custom columns given"),
        ("NAME", "unexpected custom-columns spec: NAME, expected <header>:<json-path-expr>"),
        ("NAME:{.a}{.b}", "unexpected path string, expected a 'name1.name2' or '.name1.name2'"),
    ],
)
def test_bad_custom_columns_are_refused_with_kubectls_words(spec: str, message: str) -> None:
    with pytest.raises(columns.ColumnsError, match=message.replace(".", "\\.")):
        columns.parse_custom_columns(spec)


@pytest.mark.parametrize(
    ("args", "expected", "several"),
    [
        (["jobs"], [("Job", [])], False),
        (["job", "a", "b"], [("Job", ["a", "b"])], False),
        (["jobs,cronjobs"], [("Job", []), ("CronJob", [])], True),
        (["cj,jobs,cronjob"], [("CronJob", []), ("Job", [])], True),
        (
            ["all"],
            [("Pod", []), ("Service", []), ("DaemonSet", []), ("StatefulSet", []), ("CronJob", []), ("Job", [])],
            True,
        ),
        (["job/a", "job/b", "cronjob/c"], [("Job", ["a", "b"]), ("CronJob", ["c"])], True),
        (["ds/x"], [("DaemonSet", ["x"])], False),
    ],
)
def test_resource_arguments_name_kinds_in_print_order(
    args: list[str], expected: list[tuple[str, list[str]]], several: bool
) -> None:
    """KIND[,KIND] [NAME...], all (pods, services, daemonsets, statefulsets, cronjobs, jobs as kubectl) or TYPE/NAME."""
    assert getcmd.targets(args) == (expected, several)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["jobs,foo"], 'the server doesn\'t have a resource type "foo"'),
        (["job/a", "b"], "there is no need to specify a resource type as a separate argument"),
    ],
)
def test_bad_resource_arguments_are_sentences(args: list[str], message: str) -> None:
    with pytest.raises(CtlError, match=message):
        getcmd.targets(args)


def test_several_kinds_print_one_table_each_with_kind_prefixed_names() -> None:
    """`get jobs,cronjobs`: a block per kind with its header, a blank line between, names as kind.group/NAME."""
    q = getcmd.Query(["pods,jobs"], "default", None, None)
    job = {
        "kind": "Job",
        "metadata": {"name": "pi", "creationTimestamp": "2024-05-01T11:00:00Z"},
        "spec": {},
        "status": {},
    }
    text = getcmd.render(
        q,
        [("Pod", PODS[:1]), ("Job", [job])],
        None,
        None,
        NOW,
        all_namespaces=False,
        show_labels=False,
        show_kind=False,
        no_headers=False,
        allow_missing_template_keys=True,
    )
    first, second = text.split("\n\n")
    assert first.splitlines()[0].startswith("NAME ") and first.splitlines()[1].startswith("pod/web-10 ")
    assert second.splitlines()[0].startswith("NAME ") and second.splitlines()[1].startswith("job.batch/pi ")
