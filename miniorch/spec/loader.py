"""Load manifests from YAML text or parsed dicts into validated models (files: `spec.files`).

Every error of every document is collected and raised together as
`ManifestInvalid`, each with file, line, column and field path; fields that are
accepted but have no effect become `ManifestWarning`s on the `Manifest`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import pydantic
from pydantic.json_schema import models_json_schema

from miniorch import kinds
from miniorch.spec import models
from miniorch.spec.base import warning_of
from miniorch.spec.errors import (
    MAX_MANIFEST_BYTES,
    ManifestError,
    ManifestInvalid,
    ManifestWarning,
    duplicate_error,
    format_path,
    too_big,
)
from miniorch.spec.unicode import not_unicode
from miniorch.spec.yamlpos import Document, parse_documents

#: (apiVersion, kind) -> spec model, from the kind registry, in its order.
SUPPORTED: dict[tuple[str, str], type[pydantic.BaseModel]] = {
    (api, info.kind): kinds.load(info.model) for info in kinds.REGISTRY if info.model for api in info.api_versions
}
SUPPORTED_TEXT = ", ".join(f"{api} {kind}" for api, kind in SUPPORTED)
_GENERIC_TYPES = {"missing": "Required value"}


@dataclass(frozen=True)
class Manifest:
    """One validated object and where it came from (line 0 when parsed from a dict)."""

    kind: str
    api_version: str
    name: str
    namespace: str
    obj: models.ObjectModel
    source: str
    line: int
    warnings: tuple[ManifestWarning, ...]


def _at(
    doc: Document,
    source: str,
    path: tuple[str | int, ...],
    message: str,
    hint: str | None = None,
    at_key: bool = False,
) -> ManifestError:
    line, column = doc.position(path, at_key) or (None, None)
    return ManifestError(source, line, column, format_path(path), message, hint)


def _kind_errors(doc: Document, source: str) -> list[ManifestError]:
    data = doc.data
    api, kind = data.get("apiVersion"), data.get("kind")
    hint = f"supported: {SUPPORTED_TEXT}"
    if not isinstance(kind, str) or not kind:
        return [_at(doc, source, ("kind",), "Required value: kind", hint)]
    versions = [a for a, k in SUPPORTED if k == kind]
    if not versions:
        return [
            _at(
                doc,
                source,
                ("kind",),
                f'Unsupported value: "{kind}": supported kinds: {", ".join(kinds.WORKLOADS)}',
                hint,
            )
        ]
    if not isinstance(api, str) or not api:
        return [_at(doc, source, ("apiVersion",), "Required value: apiVersion", hint)]
    if (api, kind) not in SUPPORTED:
        allowed = ", ".join(f'"{a}"' for a in versions)
        return [
            _at(
                doc,
                source,
                ("apiVersion",),
                f'Unsupported value: "{api}" for kind {kind}: supported values: {allowed}',
                hint,
            )
        ]
    return []


def _message(err: Any) -> tuple[str, str | None]:
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "extra_forbidden":
        return f'unknown field "{err["loc"][-1]}"', None
    if kind in ("not_supported", "miniorch"):
        return err["msg"], ctx.get("hint")
    if kind == "literal_error":
        allowed = ", ".join(f'"{v}"' for v in re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))
        return f"Unsupported value: {json.dumps(err['input'], default=str)}: supported values: {allowed}", None
    if kind in _GENERIC_TYPES:
        return _GENERIC_TYPES[kind], None
    msg = str(err["msg"])
    return f"Invalid value: {json.dumps(err['input'], default=str)}: {msg[:1].lower()}{msg[1:]}", None


def _errors_of(exc: pydantic.ValidationError, doc: Document, source: str) -> list[ManifestError]:
    errors = []
    for err in exc.errors(include_url=False):
        message, hint = _message(err)
        errors.append(_at(doc, source, tuple(err["loc"]), message, hint, err["type"] == "extra_forbidden"))
    return errors


def _ignored_paths(
    model: pydantic.BaseModel, path: tuple[str | int, ...]
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(path, warning) of every field set that is ignored, or kept with a warning."""
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        if value is None:
            continue
        child = (*path, info.alias or name)
        warning = warning_of(info.metadata)
        if warning is not None:
            yield child, warning
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            if isinstance(item, pydantic.BaseModel):
                yield from _ignored_paths(item, (*child, index) if isinstance(value, list) else child)


#: env names that suggest a credential: a literal value there belongs in a Secret (DESIGN 9).
_CREDENTIAL = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|KEY", re.IGNORECASE)


def _credential_warnings(obj: models.ObjectModel, doc: Document, source: str) -> Iterator[ManifestWarning]:
    """A literal env value under a credential-like name: accepted (Kubernetes allows it), with a warning
    that names the variable, never its value."""
    template, where = kinds.pod_template(obj.kind, obj), kinds.get(obj.kind).template
    if template is None or where is None:
        return
    base = tuple(where.split("."))
    for c, container in enumerate(template.spec.containers):
        for e, var in enumerate(container.env):
            if var.value and _CREDENTIAL.search(var.name):
                path: tuple[str | int, ...] = (*base, "spec", "containers", c, "env", e, "value")
                line, column = doc.position(path) or (None, None)
                message = (
                    f"{var.name} looks like a credential in plain text; put it in a Secret and use "
                    "env[].valueFrom.secretKeyRef (the manifest, its file and `ctl get -o yaml` show it as written)"
                )
                yield ManifestWarning(source, line, column, format_path(path), message)


def _validate(doc: Document, source: str) -> Manifest | list[ManifestError]:
    errors = _kind_errors(doc, source)
    if errors:
        return errors
    where = not_unicode(doc.data)
    if where is not None:  # stored, it would break every answer that lists the object
        message = "holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not valid Unicode"
        return [ManifestError(source, None, None, where, message)]
    model = SUPPORTED[(doc.data["apiVersion"], doc.data["kind"])]
    try:
        validated = model.model_validate(doc.data)
    except pydantic.ValidationError as exc:
        return _errors_of(exc, doc, source)
    obj = cast(models.ObjectModel, validated)
    warnings = []
    for path, warning in _ignored_paths(validated, ()):
        line, column = doc.position(path) or (None, None)
        warnings.append(ManifestWarning(source, line, column, format_path(path), warning))
    warnings.extend(_credential_warnings(obj, doc, source))
    warnings.sort(key=lambda w: (w.line or 0, w.column or 0))
    return Manifest(
        obj.kind,
        obj.api_version,
        obj.metadata.name,
        obj.metadata.namespace,
        obj,
        source,
        doc.line,
        tuple(warnings),
    )


def _load(text: str, source: str) -> tuple[list[Manifest], list[ManifestError]]:
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_MANIFEST_BYTES:
        return [], [too_big(source, size)]
    documents, errors = parse_documents(text, source)
    manifests: list[Manifest] = []
    for doc in documents:
        result = _validate(doc, source)
        if isinstance(result, Manifest):
            manifests.append(result)
        else:
            errors.extend(result)
    errors.sort(key=lambda e: (e.line or 0, e.column or 0))
    return manifests, errors


def _duplicates(manifests: Iterable[Manifest]) -> list[ManifestError]:
    """Objects a text defines twice (across files: `spec.files.find_duplicates`)."""
    first: dict[tuple[str, str, str], Manifest] = {}
    errors = []
    for m in manifests:
        key = (m.kind, m.namespace, m.name)
        if key in first:
            errors.append(duplicate_error(m, first[key].source, first[key].line))
        else:
            first[key] = m
    return errors


def load_text(text: str, source: str) -> list[Manifest]:
    """Every object in a (multi-document) YAML text; raises ManifestInvalid with all errors."""
    manifests, errors = _load(text, source)
    errors.extend(_duplicates(manifests))
    if errors:
        raise ManifestInvalid(errors)
    return manifests


def parse_object(data: dict[str, Any], source: str = "<api>") -> Manifest:
    """Validate an already-parsed object (e.g. after a JSON merge patch); errors have no lines."""
    doc = Document(data=data, line=0)
    if not isinstance(data, dict):
        raise ManifestInvalid([ManifestError(source, None, None, "", "a manifest must be a mapping")])
    result = _validate(doc, source)
    if isinstance(result, list):
        raise ManifestInvalid(result)
    return result


def json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a manifest: one of Job, CronJob or DaemonSet."""
    types = list(dict.fromkeys(SUPPORTED.values()))
    refs, top = models_json_schema([(k, "validation") for k in types], by_alias=True, title="miniorch manifest")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "miniorch manifest",
        "description": f"A Kubernetes-style manifest: {SUPPORTED_TEXT}",
        "oneOf": [refs[(k, "validation")] for k in types],
        "$defs": top.get("$defs", {}),
    }
