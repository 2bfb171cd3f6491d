"""`ctl explain KIND[.FIELD...]`: a field's type, description and sub-fields, from the manifest JSON Schema.

The layout is kubectl's (GROUP, KIND, VERSION, FIELD: name <type>, DESCRIPTION, FIELDS), with
its type names (`<JobSpec>`, `<[]Container>`, `<map[string]string>`) and its error for a
field that does not exist. `text()` is pure; the schema is `miniorch schema`'s.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from miniorch import kinds
from miniorch.cli.client import CtlError

#: Kinds with a manifest schema (the workloads, and the Pod of their templates) -> (group, version).
VERSIONS: dict[str, tuple[str, str]] = {
    info.kind: (info.api_group, info.version) for info in kinds.REGISTRY if info.workload or info.kind == kinds.Kind.POD
}
SCALARS = {"string": "string", "integer": "integer", "number": "number", "boolean": "boolean"}
_WIDTH = 80


def _one(prop: dict[str, Any]) -> dict[str, Any]:
    """The schema of an optional field without its `null` alternative."""
    options = [o for o in prop.get("anyOf", []) if o.get("type") != "null"]
    if len(options) == 1:
        return {**{k: v for k, v in prop.items() if k != "anyOf"}, **options[0]}
    return prop


def _deref(prop: dict[str, Any], defs: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    prop = _one(prop)
    ref = prop.get("$ref")
    if ref:
        name = ref.rsplit("/", 1)[-1]
        return name, {**defs[name], **{k: v for k, v in prop.items() if k != "$ref"}}
    return None, prop


def type_name(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    """kubectl's name for a field's type."""
    name, prop = _deref(prop, defs)
    if name:
        return name
    kinds_ = {o.get("type") for o in prop.get("anyOf", [])}
    if kinds_ == {"integer", "string"}:
        return "IntOrString"
    t = prop.get("type")
    if t == "array":
        return "[]" + type_name(prop.get("items", {}), defs)
    if t == "object":
        extra = prop.get("additionalProperties")
        if isinstance(extra, dict):
            return "map[string]" + type_name(extra, defs)
        return "Object"
    return SCALARS.get(str(t), "Object")


def _fields_of(prop: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """The properties under a field (through arrays, as kubectl explains the items of a list)."""
    _, prop = _deref(prop, defs)
    while prop.get("type") == "array":
        _, prop = _deref(prop.get("items", {}), defs)
    return dict(prop.get("properties") or {})


def _description(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    """The field's own description, its type's (also of a list's items), and its default."""
    name, resolved = _deref(prop, defs)
    item = resolved
    while name is None and item.get("type") == "array":
        name, item = _deref(item.get("items", {}), defs)
    parts = [d for d in (prop.get("description"), defs[name].get("description") if name else None) if d]
    default = _one(prop).get("default", resolved.get("default"))
    if default not in (None, "", [], {}):
        parts.append(f"Defaults to {str(default).lower() if isinstance(default, bool) else default}.")
    return "\n".join(parts)


def _enum(prop: dict[str, Any]) -> list[str]:
    one = _one(prop)
    values = one.get("enum") or ([one["const"]] if "const" in one else [])
    return sorted(str(v) for v in values)


def _wrap(text: str, indent: int) -> list[str]:
    import textwrap  # explain only

    lines: list[str] = []
    for para in text.splitlines() or [""]:
        lines += textwrap.wrap(para, _WIDTH - indent) or [""]
    return [" " * indent + line if line else "" for line in lines]


def _field_lines(
    props: dict[str, Any], required: set[str], defs: dict[str, Any], recursive: bool, depth: int
) -> list[str]:
    out: list[str] = []
    pad = "  " * (depth + 1)
    for name in sorted(props):
        prop = props[name]
        out.append(f"{pad}{name}\t<{type_name(prop, defs)}>" + (" -required-" if name in required else ""))
        if recursive:
            _, sub = _deref(prop, defs)
            while sub.get("type") == "array":
                _, sub = _deref(sub.get("items", {}), defs)
            out += _field_lines(_fields_of(prop, defs), set(sub.get("required", [])), defs, True, depth + 1)
            continue
        if _enum(prop):
            out.append(f"{pad}enum: {', '.join(_enum(prop))}")
        description = _description(prop, defs)
        out += _wrap(description, len(pad) + 2) if description else []
        out.append("")
    return out


def root_schema(kind: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The schema of a whole object of `kind`; a Pod is its metadata and a PodSpec."""
    defs = schema["$defs"]
    if kind == "Pod":
        return {
            "description": "A pod: one container that miniorch runs on a node for a Job or DaemonSet.",
            "properties": {
                "apiVersion": {"type": "string", "const": "v1"},
                "kind": {"type": "string", "const": "Pod"},
                "metadata": {"$ref": "#/$defs/ObjectMeta"},
                "spec": {"$ref": "#/$defs/PodSpec"},
            },
        }
    return dict(defs[kind])


def text(schema: dict[str, Any], kind: str, path: list[str], recursive: bool = False) -> str:
    """What `kubectl explain KIND.PATH` prints for this schema."""
    defs = schema["$defs"]
    prop: dict[str, Any] = root_schema(kind, schema)
    for field in path:
        props = _fields_of(prop, defs)
        if field not in props:
            raise CtlError(f'field "{field}" does not exist')
        prop = props[field]
    group, version = VERSIONS[kind]
    lines = [f"GROUP:      {group}"] if group else []
    lines += [f"KIND:       {kind}", f"VERSION:    {version}", ""]
    if path:
        lines += [f"FIELD: {path[-1]} <{type_name(prop, defs)}>", ""]
        if _enum(prop):
            lines += [f"ENUM: {', '.join(_enum(prop))}", ""]
    description = _description(prop, defs) if path else str(prop.get("description", ""))
    lines += ["DESCRIPTION:", *(_wrap(description, 4) if description else ["    <empty>"]), "    "]
    fields = _fields_of(prop, defs)
    if fields:
        _, resolved = _deref(prop, defs)
        while resolved.get("type") == "array":
            _, resolved = _deref(resolved.get("items", {}), defs)
        required = set(resolved.get("required", []))
        lines += ["FIELDS:", *_field_lines(fields, required, defs, recursive, 0)]
    return "\n".join(lines).rstrip() + "\n"


def explain(
    resource: Annotated[str, typer.Argument(help="KIND or KIND.FIELD.FIELD, e.g. jobs.spec.backoffLimit")],
    recursive: Annotated[bool, typer.Option(help="Print every field below, without descriptions.")] = False,
) -> None:
    """Describe a kind's fields, from the manifest schema (as `kubectl explain`)."""
    first, *path = [p for p in resource.split(".") if p]
    kind = kinds.resolve(first) if first else None
    if kind is None:
        raise CtlError(f'the server doesn\'t have a resource type "{first}"')
    if kind not in VERSIONS:
        raise CtlError(
            f"{kind} objects have no manifest schema to explain (they come from the daemon, not from a manifest); "
            "explain knows jobs, cronjobs, daemonsets and pods"
        )
    from miniorch.spec import loader  # pydantic models: only explain needs them

    typer.echo(text(loader.json_schema(), kind, path, recursive), nl=False)
