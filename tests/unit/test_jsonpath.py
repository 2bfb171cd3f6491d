"""The kubectl-compatible JSONPath subset used by `ctl get -o jsonpath=`."""

from __future__ import annotations

from typing import Any

import pytest

from miniorch.cli import jsonpath

POD_LIST: dict[str, Any] = {
    "kind": "List",
    "items": [
        {
            "metadata": {"name": "pi-a", "labels": {"app": "pi", "kubernetes.io/hostname": "node0"}},
            "status": {"phase": "Succeeded", "succeeded": 1, "ready": False},
            "spec": {"containers": [{"name": "pi", "image": "perl"}, {"name": "side", "image": "busybox"}]},
        },
        {
            "metadata": {"name": "pi-b", "labels": {"app": "pi", "kubernetes.io/hostname": "node1"}},
            "status": {"phase": "Failed", "succeeded": 0, "ready": True},
            "spec": {"containers": [{"name": "pi", "image": "perl"}]},
        },
    ],
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{.kind}", "List"),
        ("{$.kind}", "List"),
        ("{.items[0].metadata.name}", "pi-a"),
        ("{.items[1].metadata.name}", "pi-b"),
        ("{.items[-1].metadata.name}", "pi-b"),
        ("{.items[5].metadata.name}", ""),
        ("{.items[*].metadata.name}", "pi-a pi-b"),
        ("{.items[*].spec.containers[*].image}", "perl busybox perl"),
        ("{.items[0].status.succeeded}", "1"),
        ("{.items[0].status.ready}", "false"),
        ("{.items[1].status.ready}", "true"),
        ("{.missing.field}", ""),
        ("{ .items[0].metadata.name }", "pi-a"),
    ],
)
def test_field_paths_index_and_wildcard(template: str, expected: str) -> None:
    """Fields, [n] (also negative), [*] joined by spaces; missing paths print nothing; bools in lower case."""
    assert jsonpath.render(template, POD_LIST) == expected


@pytest.mark.parametrize(
    "template",
    [
        "{.items[0].metadata.labels['kubernetes.io/hostname']}",
        '{.items[0].metadata.labels["kubernetes.io/hostname"]}',
        "{.items[0].metadata.labels.kubernetes\\.io/hostname}",
    ],
)
def test_keys_with_dots_by_quoting_or_escaping(template: str) -> None:
    """A label key containing dots is reached with ['k.io/x'] or with escaped dots."""
    assert jsonpath.render(template, POD_LIST) == "node0"


def test_literal_text_around_expressions_is_kept() -> None:
    """Text outside braces is copied as is."""
    assert jsonpath.render("name={.items[0].metadata.name};", POD_LIST) == "name=pi-a;"


@pytest.mark.parametrize(("literal", "expected"), [('{"\\n"}', "\n"), ('{"\\t"}', "\t"), ("{'x-y'}", "x-y")])
def test_quoted_literals_are_unescaped(literal: str, expected: str) -> None:
    """{"\\n"} prints a newline and {"\\t"} a tab, as in kubectl."""
    assert jsonpath.render(literal, POD_LIST) == expected


def test_quoted_literal_keeps_non_ascii_text() -> None:
    """A quoted literal with non-ASCII characters prints them unchanged."""
    assert jsonpath.render('{.kind}{" → "}{"é"}', POD_LIST) == "List → é"


def test_range_iterates_items_until_end() -> None:
    """{range .items[*]}...{end} renders the body once per item, relative to it."""
    template = '{range .items[*]}{.metadata.name}{"\\t"}{.status.phase}{"\\n"}{end}'
    assert jsonpath.render(template, POD_LIST) == "pi-a\tSucceeded\npi-b\tFailed\n"


def test_nested_ranges() -> None:
    """A range inside a range iterates the inner list for each outer item."""
    template = '{range .items[*]}{.metadata.name}:{range .spec.containers[*]} {.name}{end}{"\\n"}{end}'
    assert jsonpath.render(template, POD_LIST) == "pi-a: pi side\npi-b: pi\n"


def test_text_after_range_end_is_rendered_once() -> None:
    """Anything after {end} is printed once, after the loop."""
    assert jsonpath.render("{range .items[*]}[{.metadata.name}]{end} done", POD_LIST) == "[pi-a][pi-b] done"


def test_map_values_print_as_compact_json() -> None:
    """A map prints as compact JSON, like kubectl's `{.metadata.labels}` ({"app":"pi"})."""
    assert jsonpath.render("{.labels}", {"labels": {"app": "pi"}}) == '{"app":"pi"}'


def test_unexpected_character_is_an_error() -> None:
    """A path that does not start with . or [ is rejected with ValueError."""
    with pytest.raises(ValueError, match="unexpected"):
        jsonpath.render("{items}", POD_LIST)
