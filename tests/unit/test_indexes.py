"""Pure interval strings of Indexed Jobs: status.completedIndexes / failedIndexes and successPolicy indexes."""

from __future__ import annotations

import itertools

import pytest

from miniorch.reconcile.indexes import format_intervals, parse_intervals


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (set(), ""),
        ({0}, "0"),
        ({0, 1}, "0,1"),
        ({0, 1, 2}, "0-2"),
        ({0, 1, 2, 5}, "0-2,5"),
        ({1, 3, 4, 5, 7}, "1,3-5,7"),
        ({3, 4}, "3,4"),
        ({0, 2, 4}, "0,2,4"),
        ({0, 1, 3, 4}, "0,1,3,4"),
        ({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, "0-9"),
        ({9, 10, 11, 100}, "9-11,100"),
        ({99998, 99999}, "99998,99999"),
    ],
)
def test_format_intervals_writes_kubernetes_interval_lists(values: set[int], expected: str) -> None:
    """Ascending, comma-separated; two neighbours stay a list ("0,1"), three or more become a range ("0-2")."""
    assert format_intervals(values) == expected


def test_format_intervals_ignores_order_and_duplicates() -> None:
    """Any iterable is accepted; the output is sorted and each index appears once."""
    assert format_intervals([5, 2, 1, 0, 2, 5]) == "0-2,5"
    assert format_intervals(iter([4, 3])) == "3,4"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, set()),
        ("", set()),
        ("0", {0}),
        ("0,1", {0, 1}),
        ("0-2", {0, 1, 2}),
        ("0-2,5", {0, 1, 2, 5}),
        ("1,3-5,7", {1, 3, 4, 5, 7}),
        ("3-3", {3}),
        (" 1 , 4-5 ", {1, 4, 5}),
        ("0,,2", {0, 2}),
        ("2,0-1", {0, 1, 2}),
    ],
)
def test_parse_intervals_reads_interval_lists(text: str | None, expected: set[int]) -> None:
    """parse_intervals expands single indexes and inclusive ranges; empty or missing text is the empty set."""
    assert parse_intervals(text) == expected


@pytest.mark.parametrize("size", range(0, 8))
def test_every_subset_of_small_ranges_round_trips(size: int) -> None:
    """parse_intervals(format_intervals(s)) == s for every subset of 0..6 of the given size."""
    for combo in itertools.combinations(range(7), size):
        values = set(combo)
        assert parse_intervals(format_intervals(values)) == values


@pytest.mark.parametrize("text", ["0", "0,1", "0-2", "0-2,5", "1,3-5,7", "0,2,4-9,11,12"])
def test_canonical_strings_round_trip(text: str) -> None:
    """A canonical interval string reads back and writes out unchanged."""
    assert format_intervals(parse_intervals(text)) == text


@pytest.mark.parametrize(("text", "canonical"), [("0-1", "0,1"), ("2,0,1", "0-2"), ("1-2,3", "1-3"), ("5,5", "5")])
def test_non_canonical_strings_are_normalised(text: str, canonical: str) -> None:
    """Reading then writing a non-canonical string gives the canonical Kubernetes form."""
    assert format_intervals(parse_intervals(text)) == canonical
