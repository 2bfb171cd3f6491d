"""core/v1 ConfigMap and Secret: configuration and credentials that pods read (DESIGN 9).

A Secret's `stringData` is merged into `data` (base64) when parsed, so what is stored and served
has `data` only, as the Kubernetes API server keeps it. Errors about a Secret's content never
echo a value (a bad manifest's error lands in events and logs); they name the key and the rule.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal

from pydantic import BeforeValidator, model_validator

from miniorch.spec.base import Issue, K8sModel, ServerSet, fail
from miniorch.spec.meta import ObjectMeta

#: Kubernetes' rule for ConfigMap and Secret keys (IsConfigMapKey).
CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
#: The total size limit of the data of one object (Kubernetes: 1 MiB).
MAX_DATA_BYTES: Final = 1024 * 1024
#: Secret types miniorch stores, with the keys Kubernetes requires for each (one of them for basic-auth).
SECRET_TYPES: Final[dict[str, tuple[str, ...]]] = {
    "Opaque": (),
    "kubernetes.io/basic-auth": (),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/dockercfg": (".dockercfg",),
}
_KEY_HINT = "keys are letters, digits, '-', '_' and '.' (at most 253 characters)"


def key_problem(key: str) -> str | None:
    """Why `key` is not a valid ConfigMap/Secret key, or None (Kubernetes' IsConfigMapKey)."""
    if len(key) > 253:
        return "Invalid value: must be no more than 253 characters"
    if not CONFIG_KEY.match(key):
        return "Invalid value: a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
    if key in (".", "..") or key.startswith(".."):
        return "Invalid value: must not be '.' or '..', nor start with '..'"
    return None


def _mapping_issues(field: str, value: Any, base64_values: bool) -> list[Issue]:
    """Problems of a key -> value mapping, without ever quoting a value."""
    if not isinstance(value, Mapping):
        return [
            Issue((field,), f"Invalid value: must be a mapping of keys to {'base64 ' if base64_values else ''}strings")
        ]
    issues = []
    for key, item in value.items():
        if not isinstance(key, str):
            issues.append(Issue((field,), "Invalid value: every key must be a string"))
            continue
        problem = key_problem(key)
        if problem:
            issues.append(Issue((field, key), problem, _KEY_HINT))
        elif not isinstance(item, str):
            issues.append(Issue((field, key), "Invalid value: must be a string", "quote the value"))
        elif base64_values and decode(item) is None:
            issues.append(Issue((field, key), "Invalid value: illegal base64 data", "base64-encode the value"))
    return issues


def decode(value: str) -> bytes | None:
    """The bytes of a base64 value (standard alphabet, padded), or None when it is not base64."""
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None


def encode(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _checked(field: str, base64_values: bool) -> Any:
    def check(value: Any) -> Any:
        if value is None:
            return None
        # A field validator's errors are placed under the field already: its issues drop the field name.
        fail(field, [i._replace(loc=i.loc[1:]) for i in _mapping_issues(field, value, base64_values)])
        return value

    return BeforeValidator(check)


def _size_issues(sizes: int) -> list[Issue]:
    if sizes > MAX_DATA_BYTES:
        return [Issue((), f"Too long: the data may be at most {MAX_DATA_BYTES} bytes in all, not {sizes}")]
    return []


class ConfigMap(K8sModel):
    """v1 ConfigMap: `data` (UTF-8 strings) and `binaryData` (base64), keys unique across both."""

    api_version: Literal["v1"] = "v1"
    kind: Literal["ConfigMap"] = "ConfigMap"
    metadata: ObjectMeta
    data: Annotated[dict[str, str] | None, _checked("data", False)] = None
    binary_data: Annotated[dict[str, str] | None, _checked("binaryData", True)] = None
    immutable: bool | None = None
    status: ServerSet = None

    @model_validator(mode="after")
    def _keys_once(self) -> ConfigMap:
        data, binary = self.data or {}, self.binary_data or {}
        issues = [
            Issue(("binaryData", key), "Invalid value: duplicate of key present in data")
            for key in binary
            if key in data
        ]
        size = sum(len(v.encode()) for v in data.values()) + sum(len(decode(v) or b"") for v in binary.values())
        fail("ConfigMap", [*issues, *_size_issues(size)])
        return self

    def files(self) -> dict[str, bytes]:
        """Every key with its content, as a volume shows them."""
        out = {k: v.encode() for k, v in (self.data or {}).items()}
        out.update({k: decode(v) or b"" for k, v in (self.binary_data or {}).items()})
        return out


def _merge_string_data(data: Any) -> Any:
    """`stringData` into `data` (base64; stringData wins on a shared key), as the API server does on write."""
    if not isinstance(data, dict) or data.get("stringData") is None:
        return data
    fail("Secret", _mapping_issues("stringData", data["stringData"], False))
    fail("Secret", _mapping_issues("data", data.get("data") or {}, True))
    merged = dict(data.get("data") or {})
    merged.update({k: encode(v.encode()) for k, v in data["stringData"].items()})
    return {**{k: v for k, v in data.items() if k != "stringData"}, "data": merged}


class Secret(K8sModel):
    """v1 Secret: `data` in base64 (`stringData` merged in), a type of SECRET_TYPES, `immutable`."""

    api_version: Literal["v1"] = "v1"
    kind: Literal["Secret"] = "Secret"
    metadata: ObjectMeta
    type: str = "Opaque"
    data: Annotated[dict[str, str] | None, _checked("data", True)] = None
    immutable: bool | None = None
    status: ServerSet = None

    @model_validator(mode="before")
    @classmethod
    def _string_data(cls, data: Any) -> Any:
        return _merge_string_data(data)

    @model_validator(mode="after")
    def _type_and_size(self) -> Secret:
        issues: list[Issue] = []
        values = {k: decode(v) or b"" for k, v in (self.data or {}).items()}
        if self.type not in SECRET_TYPES:
            supported = ", ".join(f'"{t}"' for t in SECRET_TYPES)
            issues.append(Issue(("type",), f"Unsupported value: {self.type!r}: supported values: {supported}", None))
        else:
            for key in SECRET_TYPES[self.type]:
                if key not in values:
                    issues.append(Issue(("data", key), f"Required value: a {self.type} Secret needs the key {key!r}"))
            if self.type == "kubernetes.io/basic-auth" and not {"username", "password"} & set(values):
                issues.append(Issue(("data",), "Required value: a basic-auth Secret needs username or password"))
        fail("Secret", [*issues, *_size_issues(sum(len(v) for v in values.values()))])
        return self

    def files(self) -> dict[str, bytes]:
        """Every key with its decoded value, as a volume shows them."""
        return {k: decode(v) or b"" for k, v in (self.data or {}).items()}
