"""Kubernetes label selector parsing and matching."""

from __future__ import annotations

import pytest

from miniorch import selectors
from miniorch.selectors import Requirement


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, ()),
        ("", ()),
        ("app=web", (Requirement("app", "=", ("web",)),)),
        ("app==web", (Requirement("app", "=", ("web",)),)),
        ("app = web", (Requirement("app", "=", ("web",)),)),
        ("tier!=db", (Requirement("tier", "!=", ("db",)),)),
        ("app=", (Requirement("app", "=", ("",)),)),
        ("env in (a, b)", (Requirement("env", "in", ("a", "b")),)),
        ("env notin (a,b)", (Requirement("env", "notin", ("a", "b")),)),
        ("legacy", (Requirement("legacy", "exists"),)),
        ("!legacy", (Requirement("legacy", "!exists"),)),
        ("example.com/team=x", (Requirement("example.com/team", "=", ("x",)),)),
        (
            "app=x,tier!=db,env in (a,b),!legacy",
            (
                Requirement("app", "=", ("x",)),
                Requirement("tier", "!=", ("db",)),
                Requirement("env", "in", ("a", "b")),
                Requirement("legacy", "!exists"),
            ),
        ),
    ],
)
def test_parse_understands_kubectl_selector_syntax(text: str | None, expected: tuple[Requirement, ...]) -> None:
    """parse handles =, ==, !=, in, notin, key and !key, comma separated."""
    assert selectors.parse(text) == expected


LABELS = {"app": "web", "tier": "front", "example.com/team": "x"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", True),
        ("app=web", True),
        ("app=db", False),
        ("app!=db", True),
        ("app!=web", False),
        ("missing!=x", True),
        ("tier in (front,back)", True),
        ("tier in (back)", False),
        ("missing in (a)", False),
        ("tier notin (back)", True),
        ("tier notin (front)", False),
        ("missing notin (a)", True),
        ("app", True),
        ("missing", False),
        ("!missing", True),
        ("!app", False),
        ("example.com/team=x", True),
        ("app=web,tier=front", True),
        ("app=web,tier=back", False),
    ],
)
def test_matches_follows_kubernetes_semantics(text: str, expected: bool) -> None:
    """All requirements must hold; != and notin also match when the key is absent."""
    assert selectors.matches(selectors.parse(text), LABELS) is expected


@pytest.mark.parametrize(
    ("text", "bad_part"),
    [
        ("app=web,=x", "=x"),
        ("a b", "a b"),
        ("env in (a,b", "env in (a,b"),
        ("app=x=y", "app=x=y"),
        ("app~=x", "app~=x"),
        ("!app=x", "!app=x"),
        ("app=web, tier=in valid", "tier=in valid"),
    ],
)
def test_parse_rejects_malformed_parts_and_names_them(text: str, bad_part: str) -> None:
    """A malformed requirement raises ValueError quoting the offending part and the accepted forms."""
    with pytest.raises(ValueError, match="invalid label selector") as info:
        selectors.parse(text)
    assert repr(bad_part) in str(info.value)
    assert "key=value" in str(info.value)


@pytest.mark.parametrize("text", ["env in ()", "env notin ( )"])
def test_parse_rejects_an_empty_value_set(text: str) -> None:
    """`key in ()` is an error, as in kubectl ("values set can't be empty"), not a selector matching nothing."""
    with pytest.raises(ValueError):
        selectors.parse(text)
