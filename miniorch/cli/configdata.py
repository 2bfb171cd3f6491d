"""`ctl` for ConfigMaps and Secrets: their table rows, `describe` (keys and sizes only) and `create`.

`ctl create secret generic NAME --from-literal=k=v --from-file=[key=]path --from-env-file=path` and
`ctl create configmap NAME ...` build the object as kubectl does (a Secret's values in base64) and
send it as `ctl create` sends any object. Standard library only: `ctl` imports this on start-up paths.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from miniorch.cli import output
from miniorch.cli.client import Client, CtlError

_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


def _count(obj: dict[str, Any]) -> int:
    return len(obj.get("data") or {}) + len(obj.get("binaryData") or {})


def configmap_row(cm: dict[str, Any], now: dt.datetime, wide: bool) -> list[str]:
    return [cm["metadata"]["name"], str(_count(cm)), output.age(cm["metadata"].get("creationTimestamp"), now)]


def secret_row(secret: dict[str, Any], now: dt.datetime, wide: bool) -> list[str]:
    meta = secret["metadata"]
    return [
        meta["name"],
        str(secret.get("type", "Opaque")),
        str(_count(secret)),
        output.age(meta.get("creationTimestamp"), now),
    ]


def _header(obj: dict[str, Any]) -> list[str]:
    meta = obj["metadata"]
    labels = meta.get("labels") or {}
    annotations = {
        k: v for k, v in (meta.get("annotations") or {}).items() if not k.startswith("kubectl.kubernetes.io/")
    }
    return [
        f"Name:         {meta['name']}",
        f"Namespace:    {meta.get('namespace', 'default')}",
        "Labels:       " + (", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "<none>"),
        "Annotations:  " + (", ".join(f"{k}: {v}" for k, v in sorted(annotations.items())) or "<none>"),
    ]


def describe_secret(c: Client, obj: dict[str, Any], now: dt.datetime) -> str:
    """kubectl's: the keys with their sizes in bytes, never a value."""
    lines = [*_header(obj), "", f"Type:  {obj.get('type', 'Opaque')}", "", "Data", "===="]
    for key, value in sorted((obj.get("data") or {}).items()):
        lines.append(f"{key}:  {len(base64.b64decode(value))} bytes")
    return "\n".join(lines)


def describe_configmap(c: Client, obj: dict[str, Any], now: dt.datetime) -> str:
    """The keys with their sizes (kubectl prints ConfigMap values; here only the sizes, as for Secrets)."""
    lines = [*_header(obj), "", "Data", "===="]
    for key, value in sorted((obj.get("data") or {}).items()):
        lines.append(f"{key}:  {len(value.encode())} bytes")
    lines += ["", "BinaryData", "===="]
    for key, value in sorted((obj.get("binaryData") or {}).items()):
        lines.append(f"{key}:  {len(base64.b64decode(value))} bytes")
    return "\n".join(lines)


def _put(out: dict[str, bytes], key: str, value: bytes, where: str) -> None:
    if not _KEY.match(key) or len(key) > 253:
        raise CtlError(f"{key!r} ({where}) is not a valid key name: use letters, digits, '-', '_' and '.'")
    if key in out:
        raise CtlError(f"cannot add key {key}, another key by that name already exists")
    out[key] = value


def _from_file(out: dict[str, bytes], spec: str) -> None:
    key, sep, path = spec.partition("=")
    file = Path(path if sep else spec)
    if file.is_dir():
        for child in sorted(file.iterdir()):
            if child.is_file():
                _put(out, child.name, child.read_bytes(), f"--from-file={spec}")
        return
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise CtlError(f"error reading {file}: {exc.strerror}") from exc
    _put(out, key if sep else file.name, data, f"--from-file={spec}")


def _from_env_file(out: dict[str, bytes], path: str) -> None:
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise CtlError(f"error reading {path}: {exc.strerror}") from exc
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise CtlError(f"{path}:{number}: a line must be KEY=VALUE")  # never the line: it may hold a secret
        _put(out, key, value.encode(), f"{path}:{number}")


def collect(literals: Sequence[str], files: Sequence[str], env_files: Sequence[str]) -> dict[str, bytes]:
    """The keys and values of kubectl's --from-literal, --from-file and --from-env-file, in that order."""
    out: dict[str, bytes] = {}
    for literal in literals:
        key, sep, value = literal.partition("=")
        if not sep or not key:
            raise CtlError(f"--from-literal for key {key!r} must be KEY=VALUE")
        _put(out, key, value.encode(), "--from-literal")
    for spec in files:
        _from_file(out, spec)
    for path in env_files:
        _from_env_file(out, path)
    return out


def secret(name: str, namespace: str, values: dict[str, bytes], type_: str = "Opaque") -> dict[str, Any]:
    data = {k: base64.b64encode(v).decode("ascii") for k, v in values.items()}
    meta = {"name": name, "namespace": namespace}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": type_, "data": data}


def configmap(name: str, namespace: str, values: dict[str, bytes]) -> dict[str, Any]:
    data: dict[str, str] = {}
    binary: dict[str, str] = {}
    for key, value in values.items():
        try:
            data[key] = value.decode("utf-8")
        except UnicodeDecodeError:
            binary[key] = base64.b64encode(value).decode("ascii")  # kubectl: non-UTF-8 files go to binaryData
    manifest: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
    }
    if data:
        manifest["data"] = data
    if binary:
        manifest["binaryData"] = binary
    return manifest


def masked(live: dict[str, Any] | None, merged: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """A Secret's diff sides with kubectl's masks: `***` for a value that stays, `*** (before)` /
    `*** (after)` for one that changes; other kinds unchanged."""
    if merged.get("kind") != "Secret":
        return live, merged
    old, new = dict((live or {}).get("data") or {}), dict(merged.get("data") or {})
    for key in set(old) | set(new):
        same = old.get(key) == new.get(key)
        if key in old:
            old[key] = "***" if same else "*** (before)"
        if key in new:
            new[key] = "***" if same else "*** (after)"
    return ({**live, "data": old} if live is not None else None), {**merged, "data": new}
