"""`ctl get` options that pick, order and shape rows, pure: `--field-selector`, `--sort-by`,
`-o custom-columns=` / `custom-columns-file=` and `--show-labels`.

Each follows kubectl (apimachinery's field selector grammar, kubectl's sorter and its
custom-columns printer), with the same error texts; every error is a `ColumnsError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from miniorch import kinds
from miniorch.cli import gofmt
from miniorch.errors import MiniorchError


class ColumnsError(MiniorchError, ValueError):
    """A selector, sort key or column spec that kubectl would refuse; the text is kubectl's."""


# -- field selectors -----------------------------------------------------------
FIELDS: dict[str, tuple[str, ...]] = {info.kind: info.fields for info in kinds.REGISTRY}
_RESOURCE: dict[str, str] = {info.kind: info.resource for info in kinds.REGISTRY}
_PATHS = {"status.successful": ("status", "succeeded")}


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    equal: bool
    value: str


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts, cur, i = [], "", 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            cur += text[i : i + 2]
            i += 2
            continue
        if text[i] == sep:
            parts.append(cur)
            cur = ""
        else:
            cur += text[i]
        i += 1
    return [*parts, cur]


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def parse_field_selector(text: str | None) -> list[FieldRequirement]:
    """apimachinery's fields.ParseSelector: `a=b,c!=d` (`=`, `==`, `!=`; comma is AND; `\\,` escapes)."""
    if not text or not text.strip():
        return []
    out = []
    for term in _split_unescaped(text, ","):
        match = re.match(r"^(.*?)(!=|==|=)(.*)$", term, re.DOTALL)
        if match is None:
            raise ColumnsError(f"invalid selector: '{text}'; can't understand '{term}'")
        field, op, value = match.groups()
        out.append(FieldRequirement(field.strip(), op != "!=", _unescape(value)))
    return out


def check_fields(kind: str, reqs: Sequence[FieldRequirement], text: str, label_selector: str | None) -> None:
    """Refuse a field this kind cannot be selected by, in the API server's words."""
    for req in reqs:
        if req.field not in FIELDS[kind]:
            raise ColumnsError(
                f'Unable to find "{_RESOURCE[kind]}" that match label selector "{label_selector or ""}", '
                f'field selector "{text}": field label not supported: {req.field}'
            )


def _field_values(obj: dict[str, Any], keys: tuple[str, ...]) -> list[str]:
    """The field's values: one, or one per element where the path crosses a list (an owner's uid)."""
    values: list[Any] = [obj]
    for key in keys:
        values = [item for v in values for item in (v if isinstance(v, list) else [v])]
        values = [v.get(key) if isinstance(v, dict) else None for v in values]
    return ["" if v is None else ("true" if v else "false") if isinstance(v, bool) else str(v) for v in values]


def select_fields(items: list[dict[str, Any]], reqs: Sequence[FieldRequirement]) -> list[dict[str, Any]]:
    """The items that meet every requirement; an unset field has the value ""."""
    if not reqs:
        return items
    tests = [(_PATHS.get(r.field, tuple(r.field.split("."))), r.value, r.equal) for r in reqs]
    return [i for i in items if all((value in _field_values(i, keys)) == equal for keys, value, equal in tests)]


# -- JSONPath expressions in flags -----------------------------------------------
_RELAXED = re.compile(r"^\{\.?([^{}]+)\}$|^\.?([^{}]+)$")


def relaxed(path: str) -> str:
    """kubectl's RelaxedJSONPathExpression: `a.b`, `.a.b`, `{a.b}` and `{.a.b}` all mean `{.a.b}`."""
    if not path:
        return path
    m = _RELAXED.match(path)
    if m is None:
        raise ColumnsError(
            "unexpected path string, expected a 'name1.name2' or '.name1.name2' or '{name1.name2}' or '{.name1.name2}'"
        )
    return "{." + (m.group(1) or m.group(2)) + "}"


def _finder(path: str) -> Callable[[Any], list[Any]]:
    from miniorch.cli import jsonpath  # the template engine: only --sort-by and custom columns load it

    try:
        return jsonpath.finder(relaxed(path))
    except jsonpath.JSONPathError as exc:
        raise ColumnsError(str(exc)) from None


# -- --sort-by -------------------------------------------------------------------
_DIGITS = re.compile(r"[0-9]+")  # ASCII digits only, as Go's isdigit


def _digit_run(m: re.Match[str]) -> str:
    run = m.group()
    digits = run.lstrip("0")
    return f"\0{chr(len(digits) + 1)}{digits}{chr(len(run) - len(digits) + 1)}"


def _natural(text: str) -> str:
    """A key that orders as kubectl's sortorder.NaturalLess: digit runs by value (fewer leading zeros
    first) and before any other character, the rest by code point. Each digit run becomes NUL, its
    length, its digits and its count of zeros, so plain string comparison does the rest."""
    return _DIGITS.sub(_digit_run, text)


def _sort_key(value: Any) -> tuple[Any, ...]:
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, (int, float)):
        return (0, value)
    if isinstance(value, str):
        return (2, _natural(value))
    return (3, gofmt.marshal(value))


def sort_items(items: list[dict[str, Any]], path: str) -> list[dict[str, Any]]:
    """kubectl's --sort-by: by the first value the path selects; objects without it go last."""
    if not path or not items:
        return items
    find = _finder(path)
    found = [(find(i), i) for i in items]
    if not any(values for values, _ in found):
        raise ColumnsError(f"couldn't find any field with path {gofmt.quote(relaxed(path))} in the list of objects")
    with_value = sorted(((v, i) for v, i in found if v), key=lambda pair: _sort_key(pair[0][0]))
    return [i for _, i in with_value] + [i for v, i in found if not v]


# -- custom columns --------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    header: str
    path: str  # a template, e.g. {.metadata.name}


_FILE_FORMAT = "Expected format is one line of space separated headers, one line of space separated column specs."


def parse_custom_columns(spec: str) -> list[Column]:
    """`NAME:.metadata.name,STATUS:.status.phase`."""
    if not spec:
        raise ColumnsError("custom-columns format specified but no custom columns given")
    columns = []
    for part in spec.split(","):
        header, sep, path = part.partition(":")
        if not sep:
            raise ColumnsError(f"unexpected custom-columns spec: {part}, expected <header>:<json-path-expr>")
        columns.append(Column(header, relaxed(path)))
    return columns


def parse_custom_columns_file(text: str) -> list[Column]:
    """A file of two lines: the headers, then as many JSONPath expressions (whitespace-separated)."""
    lines = text.splitlines()
    if not lines:
        raise ColumnsError(f"invalid template, missing header line. {_FILE_FORMAT}")
    if len(lines) < 2:
        raise ColumnsError(f"invalid template, missing spec line. {_FILE_FORMAT}")
    headers, specs = lines[0].split(), lines[1].split()
    if len(headers) != len(specs):
        raise ColumnsError(f"number of headers ({len(headers)}) and field specifications ({len(specs)}) don't match")
    return [Column(h, relaxed(s)) for h, s in zip(headers, specs, strict=True)]


def custom_rows(columns: Sequence[Column], items: list[dict[str, Any]]) -> list[list[str]]:
    """One row per object; several values join with commas, none prints <none> (as kubectl)."""
    from miniorch.cli import jsonpath

    finders = [_finder(c.path) for c in columns]
    rows = []
    for item in items:
        row = []
        for find in finders:
            try:
                values = find(item)
            except jsonpath.JSONPathError as exc:
                raise ColumnsError(str(exc)) from None
            row.append(",".join(gofmt.sprint(v) for v in values) if values else "<none>")
        rows.append(row)
    return rows


def labels_text(labels: dict[str, str] | None) -> str:
    """The LABELS column of --show-labels: k=v pairs sorted by key, or <none>."""
    return ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items())) or "<none>"
