"""Just enough of Kubernetes' protobuf encoding to read an object's kind and `metadata`, pure.

kubectl's typed clients POST `application/vnd.kubernetes.protobuf` bodies (`kubectl create job
--from=cronjob/x`) and do not fall back to JSON on a 415. miniorch has no protobuf schema of
the kinds' specs; it reads the envelope (`k8s\\0` + runtime.Unknown) and the ObjectMeta fields
(generated.proto field numbers), which is all a manual run of a CronJob needs.
"""

from __future__ import annotations

from typing import Any

CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"
_META_STRINGS = {1: "name", 2: "generateName", 3: "namespace", 5: "uid", 6: "resourceVersion"}
_OWNER_STRINGS = {1: "kind", 3: "name", 4: "uid", 5: "apiVersion"}
_OWNER_BOOLS = {6: "controller", 7: "blockOwnerDeletion"}


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated protobuf varint")
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return value, pos
        shift += 7


def fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """The (field number, value) pairs of a message: varints as int, length-delimited as bytes."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            out.append((number, value))
        elif wire == 2:
            size, pos = _varint(data, pos)
            if pos + size > len(data):
                raise ValueError("truncated protobuf field")
            out.append((number, data[pos : pos + size]))
            pos += size
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
    return out


def _text(value: int | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _map_entry(value: int | bytes) -> tuple[str, str]:
    entry = dict(fields(value)) if isinstance(value, bytes) else {}
    return _text(entry.get(1, b"")), _text(entry.get(2, b""))


def _owner(value: bytes) -> dict[str, Any]:
    ref: dict[str, Any] = {}
    for number, v in fields(value):
        if number in _OWNER_STRINGS:
            ref[_OWNER_STRINGS[number]] = _text(v)
        elif number in _OWNER_BOOLS:
            ref[_OWNER_BOOLS[number]] = bool(v)
    return ref


def object_meta(data: bytes) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for number, value in fields(data):
        if number in _META_STRINGS and _text(value):  # proto2 writes empty strings too: "" is unset
            meta[_META_STRINGS[number]] = _text(value)
        elif number in (11, 12) and isinstance(value, bytes):
            key, text = _map_entry(value)
            meta.setdefault("labels" if number == 11 else "annotations", {})[key] = text
        elif number == 13 and isinstance(value, bytes):
            meta.setdefault("ownerReferences", []).append(_owner(value))
    return meta


def decode(body: bytes) -> dict[str, Any]:
    """`{"apiVersion", "kind", "metadata"}` of a protobuf-encoded object; ValueError when it is not one."""
    if not body.startswith(MAGIC):
        raise ValueError("not a Kubernetes protobuf body (no k8s magic)")
    unknown = dict(fields(body[len(MAGIC) :]))
    envelope = unknown.get(1)
    type_meta = dict(fields(envelope)) if isinstance(envelope, bytes) else {}
    raw = unknown.get(2)
    if not isinstance(raw, bytes):
        raise ValueError("the protobuf body holds no object")
    obj = dict(fields(raw))
    meta = obj.get(1)
    return {
        "apiVersion": _text(type_meta.get(1, b"")),
        "kind": _text(type_meta.get(2, b"")),
        "metadata": object_meta(meta) if isinstance(meta, bytes) else {},
    }
