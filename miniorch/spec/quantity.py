"""Kubernetes resource quantities ("500m", "1.5", "64Mi", "1G", "1e3").

`parse_cpu` gives cores as a float and `parse_memory` gives bytes as an int;
both raise `QuantityError` (a ValueError) on malformed or negative input.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

from miniorch.errors import MiniorchError

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
_QUANTITY = re.compile(
    r"^(?P<num>[+-]?(?:\d+(?:\.\d*)?|\.\d+))"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$"
)


class QuantityError(MiniorchError, ValueError):
    """A string that is not a valid Kubernetes quantity."""


def parse_quantity(quantity: str | int | float) -> Decimal:
    """Return the exact value of a quantity; the suffix grammar follows Kubernetes."""
    if isinstance(quantity, bool):
        raise QuantityError(f"quantity must be a string or a number, not {quantity!r}")
    text = quantity if isinstance(quantity, str) else str(quantity)
    match = _QUANTITY.match(text)
    if match is None:
        raise QuantityError(
            f"quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$', got {text!r}"
        )
    try:
        number = Decimal(match["num"])
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only decimals
        raise QuantityError(f"invalid quantity {text!r}") from exc
    suffix = match["suffix"] or ""
    if suffix in _BINARY:
        value = number * _BINARY[suffix]
    elif suffix in _DECIMAL:
        value = number * _DECIMAL[suffix]
    else:
        value = number.scaleb(int(suffix[1:]))
    if value < 0:
        raise QuantityError(f"quantity must not be negative, got {text!r}")
    return value


def parse_cpu(quantity: str | int | float) -> float:
    """CPU quantity in cores: "500m" -> 0.5, "2" -> 2.0."""
    return float(parse_quantity(quantity))


def parse_memory(quantity: str | int | float) -> int:
    """Memory quantity in bytes: "64Mi" -> 67108864, "1G" -> 10**9, "1e3" -> 1000."""
    value = parse_quantity(quantity)
    if value != value.to_integral_value():
        raise QuantityError(
            f"memory quantity {quantity!r} is a fraction of a byte "
            f"(the 'm' suffix means milli); did you mean {str(quantity)[:-1]}Mi?"
            if str(quantity).endswith("m")
            else f"memory quantity {quantity!r} is a fraction of a byte"
        )
    return math.ceil(value)
