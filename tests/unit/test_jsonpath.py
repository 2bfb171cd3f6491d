"""kubectl's JSONPath (client-go util/jsonpath) as `ctl get -o jsonpath=` runs it.

The tables are kubectl's documented examples (kubernetes.io/docs/reference/kubectl/jsonpath)
and the cases of client-go's own jsonpath tests, with the output kubectl prints.
"""

from __future__ import annotations

from typing import Any

import pytest

from miniorch.cli import gofmt, jsonpath

# The input of kubectl's JSONPath documentation.
DOC: dict[str, Any] = {
    "kind": "List",
    "items": [
        {
            "kind": "None",
            "metadata": {"name": "127.0.0.1", "labels": {"kubernetes.io/hostname": "127.0.0.1"}},
            "status": {
                "capacity": {"cpu": "4"},
                "ready": True,
                "addresses": [{"type": "LegacyHostIP", "address": "127.0.0.1"}],
            },
        },
        {
            "kind": "None",
            "metadata": {"name": "127.0.0.2", "labels": {"kubernetes.io/hostname": "127.0.0.2"}},
            "status": {
                "capacity": {"cpu": "8"},
                "ready": False,
                "addresses": [
                    {"type": "LegacyHostIP", "address": "127.0.0.2"},
                    {"type": "another", "address": "127.0.0.3"},
                ],
            },
        },
    ],
    "users": [
        {"name": "myself", "user": {}},
        {"name": "e2e", "user": {"username": "admin", "password": "secret"}},
    ],
}

JOB: dict[str, Any] = {
    "kind": "Job",
    "metadata": {"name": "hello", "labels": {"app.kubernetes.io/name": "greeter", "tier": "batch"}},
    "spec": {"completions": 3, "parallelism": 2},
    "status": {
        "succeeded": 3,
        "conditions": [
            {"type": "SuccessCriteriaMet", "status": "True"},
            {"type": "Complete", "status": "True", "reason": "CompletionsReached"},
        ],
    },
}

CONTAINERS: dict[str, Any] = {"spec": {"containers": [{"name": f"fake{i}"} for i in range(6)]}}
NUMBERS: dict[str, Any] = {
    "ints": [1, 2, 3, 4],
    "floats": [1.0, 2.2, 3.3, 4.0],
    "bools": [True, False, True, False],
    "mixed": [True, "one", 1, 1.1],
    "points": [{"id": "i1", "x": 4}, {"id": "i2", "x": -2, "z": 1}, {"id": "i3", "x": 8}, {"id": "i5", "x": 0, "z": 1}],
}


@pytest.mark.parametrize(
    ("template", "data", "expected"),
    [
        # kubectl's documentation table
        ("kind is {.kind}", DOC, "kind is List"),
        ("{.kind}", DOC, "List"),
        ("{['kind']}", DOC, "List"),
        ("{$.kind}", DOC, "List"),
        ("{..name}", DOC, "127.0.0.1 127.0.0.2 myself e2e"),
        ("{.items[*].metadata.name}", DOC, "127.0.0.1 127.0.0.2"),
        ("{.users[0].name}", DOC, "myself"),
        ("{.items[*]['metadata.name', 'status.capacity']}", DOC, '127.0.0.1 127.0.0.2 {"cpu":"4"} {"cpu":"8"}'),
        ('{.users[?(@.name=="e2e")].user.password}', DOC, "secret"),
        (
            "{range .items[*]}[{.metadata.name}, {.status.capacity}] {end}",
            DOC,
            '[127.0.0.1, {"cpu":"4"}] [127.0.0.2, {"cpu":"8"}] ',
        ),
        ("{.items[*]['metadata.name']}", DOC, "127.0.0.1 127.0.0.2"),
        ("{.items[0].metadata.labels.kubernetes\\.io/hostname}", DOC, "127.0.0.1"),
        ("{.items[0].metadata.labels['kubernetes.io/hostname']}", DOC, "127.0.0.1"),
        ('{.items[?(@.metadata.labels.kubernetes\\.io/hostname=="127.0.0.1")].kind}', DOC, "None"),
        ("{.items[?(@..ready==true)].metadata.name}", DOC, "127.0.0.1"),
        ("{.items[*].status.addresses[*].address}", DOC, "127.0.0.1 127.0.0.2 127.0.0.3"),
        ("{range .items[*]}{.metadata.name}, {end}{.kind}", DOC, "127.0.0.1, 127.0.0.2, List"),
        ('{range .items[*]}{.metadata.name}{"\\t"}{end}', DOC, "127.0.0.1\t127.0.0.2\t"),
        (
            "{range .items[*]}{range .status.addresses[*]}{.address}, {end}{end}",
            DOC,
            "127.0.0.1, 127.0.0.2, 127.0.0.3, ",
        ),
        # the Job of DESIGN section 13
        ('{.status.conditions[?(@.type=="Complete")].status}', JOB, "True"),
        ('{.status.conditions[?(@.type!="Complete")].type}', JOB, "SuccessCriteriaMet"),
        ("{.status.conditions[?(@.reason)].type}", JOB, "Complete"),
        ("{.status.conditions[-1:].type}", JOB, "Complete"),
        ("{.metadata.labels.app\\.kubernetes\\.io/name}", JOB, "greeter"),
        ("{.spec.completions}/{.status.succeeded}", JOB, "3/3"),
        ("{.metadata.labels}", JOB, '{"app.kubernetes.io/name":"greeter","tier":"batch"}'),
        ("{.missing}{.status.missing.deeper}", JOB, ""),
        # slices, steps and negative indices (client-go's tests)
        ("{.spec.containers[0:0].name}", CONTAINERS, ""),
        ("{.spec.containers[0:-1].name}", CONTAINERS, "fake0 fake1 fake2 fake3 fake4"),
        ("{.spec.containers[-2:].name}", CONTAINERS, "fake4 fake5"),
        ("{.spec.containers[-6].name}", CONTAINERS, "fake0"),
        ("{.spec.containers[5:5].name}", CONTAINERS, ""),
        ("{.spec.containers[1:4:2].name}", CONTAINERS, "fake1 fake3"),
        ("{.spec.containers[::5].name}", CONTAINERS, "fake0 fake5"),
        ("{.spec.containers[0:6:].name}", CONTAINERS, "fake0 fake1 fake2 fake3 fake4 fake5"),
        ("{.spec.containers[1,3].name}", CONTAINERS, "fake1 fake3"),
        # value types
        ("{.ints}", NUMBERS, "[1,2,3,4]"),
        ("{.floats[0:2]}", NUMBERS, "1 2.2"),
        ("{.bools[:4:2]}", NUMBERS, "true true"),
        ("{.mixed}", NUMBERS, '[true,"one",1,1.1]'),
        ("{.points[?(@.z)].id}", NUMBERS, "i2 i5"),
        ("{.points[?(@.x<1)].id}", NUMBERS, "i2 i5"),
        ("{.points[?(@.x>=4)].id}", NUMBERS, "i1 i3"),
        ("{.points[0]['id']}", NUMBERS, "i1"),
        ("{.ints[?(@<3)]}", NUMBERS, "1 2"),
        ("{..}", [1, 2, 3], "[1,2,3]"),
        ('{"{"}', {}, "{"),
        ("{@}", {"a": 1}, '{"a":1}'),
    ],
)
def test_templates_print_what_kubectl_prints(template: str, data: Any, expected: str) -> None:
    """Each template prints exactly kubectl's output for the same object."""
    assert jsonpath.render(template, data) == expected


def test_nested_ranges_with_trailing_text() -> None:
    """Ranges nest; text after an inner {end} belongs to the outer loop (client-go's nested-range case)."""
    data = {
        "items": [
            {"metadata": {"name": "pod1"}, "spec": {"containers": [{"name": "foo"}, {"name": "bar"}]}},
            {"metadata": {"name": "pod2"}, "spec": {"containers": [{"name": "baz"}]}},
        ]
    }
    template = '{range .items[*]}{.metadata.name}{":"}{range @.spec.containers[*]}{.name}{","}{end}{"+"}{end}'
    assert jsonpath.render(template, data) == "pod1:foo,bar,+pod2:baz,+"


def test_a_null_field_is_missing() -> None:
    """A JSON null prints nothing and fails an existence filter, as an absent Kubernetes field does."""
    data = {"items": [{"name": "a", "node": None}, {"name": "b", "node": "n1"}]}
    assert jsonpath.render("{.items[*].node}", data) == "n1"
    assert jsonpath.render("{.items[?(@.node)].name}", data) == "b"


@pytest.mark.parametrize(
    ("template", "data", "message"),
    [
        ("{.items[5].metadata.name}", DOC, "array index out of bounds: index 5, length 2"),
        ("{.items[0].metadata.name}", {"items": []}, "array index out of bounds: index 0, length 0"),
        ("{.spec.containers[3:1]}", CONTAINERS, "starting index 3 is greater than ending index 1"),
        ("{.spec.containers[0:6:0]}", CONTAINERS, "step must be > 0"),
        ("{.metadata[0]}", JOB, "map[string]interface {} is not array or slice"),
        ("{.kind[?(@.x)]}", JOB, "Job is not array or slice and cannot be filtered"),
        ("{hello}", JOB, "unrecognized identifier hello"),
        ("{range .items[*]}{@}{end}{end}", DOC, "not in range, nothing to end"),
        ("{.points[?(@.x<>1)]}", NUMBERS, "unrecognized filter operator <>"),
        ("{.points[?(@.x>1.5)]}", NUMBERS, "incompatible types for comparison"),
        ('{.points[?(@.id<"i3")].id}{.bools[?(@<true)]}', NUMBERS, "invalid type for comparison"),
        ('{.items[?(@.status.addresses[*].type=="x")]}', DOC, "can only compare one element at a time"),
    ],
)
def test_execution_errors_are_worded_as_kubectl(template: str, data: Any, message: str) -> None:
    """Errors while running read `error executing jsonpath "T": Error executing template: ...`."""
    with pytest.raises(jsonpath.JSONPathError) as err:
        jsonpath.render(template, data)
    assert str(err.value) == f"error executing jsonpath {gofmt.quote(template)}: Error executing template: {message}."


def test_missing_keys_are_errors_when_not_allowed() -> None:
    """--allow-missing-template-keys=false turns a missing field into kubectl's `is not found`."""
    with pytest.raises(jsonpath.JSONPathError, match=r"Error executing template: missing is not found\."):
        jsonpath.render("{.status.missing}", JOB, allow_missing_keys=False)
    assert jsonpath.render("{.status.succeeded}", JOB, allow_missing_keys=False) == "3"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{.items[?(@.x}", "unterminated filter"),
        ("{.items[0}", "unterminated array"),
        ("{.kind", "unclosed action"),
        ('{"abc}', "unterminated quoted string"),
        ("{.items[a]}", "invalid array index a"),
        ("{.items[*}", "unterminated array"),
        ("{....name}", "invalid multiple recursive descent"),
        ("{.a}{%}", "unrecognized character in action: U+0025 '%'"),
    ],
)
def test_parse_errors_are_worded_as_kubectl(template: str, message: str) -> None:
    """A template that does not parse reads `error parsing jsonpath T, reason`."""
    with pytest.raises(jsonpath.JSONPathError) as err:
        jsonpath.render(template, DOC)
    assert str(err.value) == f"error parsing jsonpath {template}, {message}"


@pytest.mark.parametrize(
    ("literal", "expected"), [('{"\\n"}', "\n"), ('{"\\t"}', "\t"), ("{'x-y'}", "x-y"), ('{"\\u00e9"}', "é")]
)
def test_quoted_literals_are_unescaped(literal: str, expected: str) -> None:
    """{"\\n"} prints a newline and {"\\t"} a tab, with Go's escapes."""
    assert jsonpath.render(literal, DOC) == expected


def test_find_returns_the_selected_values() -> None:
    """find() gives the raw values a path selects (what custom columns and --sort-by use)."""
    assert jsonpath.find("{.items[*].status.capacity.cpu}", DOC) == ["4", "8"]
    assert jsonpath.find("{.nope}", DOC) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.0, "1"),
        (2.5, "2.5"),
        (1e6, "1e+06"),
        (123456.0, "123456"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        ({"b": [1, True], "a": None}, "map[a:<nil> b:[1 true]]"),
    ],
)
def test_values_are_printed_as_go_prints_them(value: Any, expected: str) -> None:
    """Go's fmt.Sprint: floats in shortest form (1e+06), maps as map[k:v] with sorted keys."""
    assert gofmt.sprint(value) == expected


def test_marshal_escapes_html_as_go() -> None:
    """Go's json.Marshal escapes <, > and & inside strings."""
    assert gofmt.marshal({"a": "<b>&"}) == '{"a":"\\u003cb\\u003e\\u0026"}'


def test_jsonpath_as_json_prints_each_expression_as_an_indented_array() -> None:
    """-o jsonpath-as-json: every {...} (and literal) prints its results as MarshalIndent's JSON array."""
    text = jsonpath.render("{.items[*].metadata.name}{.kind}", DOC, as_json=True)
    assert text == '[\n    "127.0.0.1",\n    "127.0.0.2"\n]\n[\n    "List"\n]\n'
