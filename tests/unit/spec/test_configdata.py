"""ConfigMap and Secret manifests: defaults, Kubernetes' rules, and errors that never echo a value."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import yaml

from miniorch.kinds import status
from miniorch.spec import configdata, errors, loader

VALUE = "hunter2-very-secret"


def load(doc: dict[str, Any]) -> loader.Manifest:
    return loader.load_text(yaml.safe_dump(doc), "s.yaml")[0]


def problems(doc: dict[str, Any]) -> list[str]:
    try:
        loader.load_text(yaml.safe_dump(doc), "s.yaml")
    except errors.ManifestInvalid as exc:
        return [f"{e.path}: {e.message}" for e in exc.errors]
    raise AssertionError("loaded without errors")


def secret(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, **fields}


def configmap(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, **fields}


def test_string_data_is_merged_into_base64_data_and_wins() -> None:
    """As the API server stores it: stringData encoded into data, over a data key of the same name."""
    obj = load(secret(data={"pw": base64.b64encode(b"old").decode(), "u": "ZXRs"}, stringData={"pw": VALUE})).obj
    assert isinstance(obj, configdata.Secret)
    assert obj.type == "Opaque" and obj.files() == {"pw": VALUE.encode(), "u": b"etl"}
    assert "stringData" not in obj.model_dump(by_alias=True)


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (secret(data={"pw": VALUE}), ["data.pw: Invalid value: illegal base64 data"]),
        (secret(stringData={"pw": 12345}), ["stringData.pw: Invalid value: must be a string"]),
        (
            secret(stringData={"bad key": VALUE}),
            [
                "stringData[\"bad key\"]: Invalid value: a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
            ],
        ),
        (secret(data=VALUE), ["data: Invalid value: must be a mapping of keys to base64 strings"]),
        (
            secret(type="kubernetes.io/tls", stringData={"tls.crt": VALUE}),
            ["data[\"tls.key\"]: Required value: a kubernetes.io/tls Secret needs the key 'tls.key'"],
        ),
        (
            configmap(data={"a": "1"}, binaryData={"a": "MQ=="}),
            ["binaryData.a: Invalid value: duplicate of key present in data"],
        ),
        (configmap(data={"..": "x"}), ["data[\"..\"]: Invalid value: must not be '.' or '..', nor start with '..'"]),
    ],
)
def test_bad_content_is_named_by_key_without_its_value(doc: dict[str, Any], expected: list[str]) -> None:
    """Each problem names the key and the rule; the value never appears in the message."""
    found = problems(doc)
    assert found == expected
    assert not any(VALUE in p for p in found) and not any("12345" in p for p in found)


def test_an_unknown_secret_type_is_refused_by_path() -> None:
    """Types miniorch keeps are Kubernetes' data types; a service-account token or a custom type is refused."""
    [found] = problems(secret(type="kubernetes.io/service-account-token"))
    assert found.startswith(
        "type: Unsupported value: 'kubernetes.io/service-account-token': supported values: \"Opaque\""
    )


@pytest.mark.parametrize(
    ("old", "new", "refused"),
    [
        ({"kind": "ConfigMap", "data": {"a": "1"}}, {"kind": "ConfigMap", "data": {"a": "2"}}, None),
        (
            {"kind": "ConfigMap", "immutable": True, "data": {"a": "1"}},
            {"kind": "ConfigMap", "immutable": True, "data": {"a": "2"}},
            "data: Forbidden: field is immutable when `immutable` is set",
        ),
        (
            {"kind": "ConfigMap", "immutable": True},
            {"kind": "ConfigMap"},
            "immutable: Forbidden: field is immutable when `immutable` is set",
        ),
        (
            {"kind": "Secret", "type": "Opaque"},
            {"kind": "Secret", "type": "kubernetes.io/basic-auth"},
            "type: Invalid value: field is immutable",
        ),
        ({"kind": "Secret", "data": {}}, {"kind": "Secret", "immutable": True, "data": {"a": "MQ=="}}, None),
    ],
)
def test_immutable_data_and_a_secrets_type_cannot_change(
    old: dict[str, Any], new: dict[str, Any], refused: str | None
) -> None:
    assert status.immutable_data(old, new) == refused


def test_a_credential_looking_literal_env_value_is_a_warning_naming_the_variable() -> None:
    """Accepted, as Kubernetes accepts it; the warning names the variable and never the value."""
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "j"},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "c",
                            "image": "busybox",
                            "env": [
                                {"name": "MODE", "value": "x"},
                                {"name": "api_token", "value": VALUE},
                                {"name": "DB_PASSWORD", "value": ""},
                            ],
                        }
                    ],
                }
            }
        },
    }
    [warning] = [w for w in load(job).warnings if "credential" in w.message]
    assert warning.path == "spec.template.spec.containers[0].env[1].value"
    assert "api_token looks like a credential" in warning.message and VALUE not in str(warning)


def test_value_and_value_from_exclude_each_other_and_subpath_needs_a_config_volume() -> None:
    ref = {"secretKeyRef": {"name": "db", "key": "pw"}}
    job: dict[str, Any] = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "j"},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "volumes": [{"name": "scratch", "emptyDir": {}}],
                    "containers": [
                        {
                            "name": "c",
                            "image": "busybox",
                            "env": [{"name": "PW", "value": "x", "valueFrom": ref}],
                        }
                    ],
                }
            }
        },
    }
    assert problems(job) == [
        "spec.template.spec.containers[0].env[0].valueFrom: Invalid value: may not be specified when `value` is not empty",
    ]
    container = job["spec"]["template"]["spec"]["containers"][0]
    container["env"] = [{"name": "PW", "valueFrom": ref}]
    container["volumeMounts"] = [{"name": "scratch", "mountPath": "/s", "subPath": "a"}]
    assert problems(job) == [
        "spec.template.spec.containers[0].volumeMounts[0].subPath: not supported for hostPath and emptyDir volumes",
    ]
