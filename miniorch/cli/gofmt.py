"""How Go prints JSON values, so `ctl` output matches kubectl's byte for byte.

`sprint` is Go's `fmt.Sprint` of a decoded JSON value (`map[a:b]`, `[x y]`, `1e+06`),
`marshal` is `json.Marshal` (compact, sorted keys, HTML-escaped), `type_name` the
Go type kubectl names in its errors. Pure.
"""

from __future__ import annotations

import json
from typing import Any

_HTML_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def go_float(value: float) -> str:
    """Go's %v of a float64 (strconv 'g', shortest): exponent form from 1e+06 up and below 1e-04."""
    if value != value:  # NaN
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    from decimal import Decimal  # 2 ms of start-up that only floats need

    sign, digits, exp = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exp, int)
    text = "".join(map(str, digits))
    point = len(text) + exp  # position of the decimal point in `text`
    x = point - 1  # the decimal exponent
    neg = "-" if sign else ""
    if x < -4 or x >= 6:
        mant = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{neg}{mant}e{'-' if x < 0 else '+'}{abs(x):02d}"
    if point <= 0:
        return f"{neg}0.{'0' * -point}{text}"
    if point >= len(text):
        return neg + text + "0" * (point - len(text))
    return f"{neg}{text[:point]}.{text[point:]}"


def sprint(value: Any) -> str:
    """fmt.Sprint of a JSON value as Go decodes it into interface{}."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{sprint(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(sprint(v) for v in value) + "]"
    return str(value)


def marshal(value: Any) -> str:
    """encoding/json.Marshal: compact, map keys sorted, <, > and & escaped as Go does."""
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    if any(c in text for c in _HTML_ESCAPES):
        text = "".join(_HTML_ESCAPES.get(c, c) for c in text)
    return text


def marshal_indent(value: Any) -> str:
    """encoding/json.MarshalIndent(v, "", "    ")."""
    text = json.dumps(value, indent=4, sort_keys=True, ensure_ascii=False)
    if any(c in text for c in _HTML_ESCAPES):
        text = "".join(_HTML_ESCAPES.get(c, c) for c in text)
    return text


def type_name(value: Any) -> str:
    """The Go type of a decoded JSON value, as in kubectl's errors."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    return "interface {}"


def quote(text: str) -> str:
    """Go's %q of a string (a double-quoted literal with backslash escapes)."""
    return json.dumps(text, ensure_ascii=False)
