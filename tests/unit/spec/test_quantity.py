"""Kubernetes quantity parsing for cpu and memory."""

from __future__ import annotations

import pytest

from miniorch.spec import quantity


@pytest.mark.parametrize(
    ("text", "cores"),
    [
        ("500m", 0.5),
        ("1", 1.0),
        ("0.5", 0.5),
        (2, 2.0),
        ("100m", 0.1),
        ("1.5", 1.5),
        ("2e0", 2.0),
        ("250000u", 0.25),
    ],
)
def test_parse_cpu_gives_cores(text: str | int, cores: float) -> None:
    """CPU quantities in millicores, cores and exponent form become float cores."""
    assert quantity.parse_cpu(text) == pytest.approx(cores)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("64Mi", 64 * 2**20),
        ("1G", 10**9),
        ("128974848", 128974848),
        ("1e3", 1000),
        ("129M", 129_000_000),
        ("123Mi", 123 * 2**20),
        ("1Ki", 1024),
        ("0.5Gi", 2**29),
        (4096, 4096),
        ("1k", 1000),
    ],
)
def test_parse_memory_gives_bytes(text: str | int, size: int) -> None:
    """Memory quantities with binary, decimal and exponent suffixes become bytes."""
    assert quantity.parse_memory(text) == size


@pytest.mark.parametrize("text", ["", "abc", "1Mb", "-1", "1.2.3", "Mi", "1 Gi", "1KI", "0x10"])
def test_bad_quantities_are_rejected(text: str) -> None:
    """Malformed and negative quantities raise QuantityError."""
    with pytest.raises(quantity.QuantityError):
        quantity.parse_memory(text)
    with pytest.raises(quantity.QuantityError):
        quantity.parse_cpu(text)


def test_memory_in_millibytes_is_rejected_with_a_suggestion() -> None:
    """ "500m" of memory is half a byte, a classic typo for 500Mi; say so."""
    with pytest.raises(quantity.QuantityError, match="500Mi"):
        quantity.parse_memory("500m")


def test_booleans_are_not_quantities() -> None:
    """YAML `true` is not a number of cores."""
    with pytest.raises(quantity.QuantityError):
        quantity.parse_cpu(True)
