"""ConfigMap and Secret references resolved into a container's env and files (reconcile.configrefs): pure, table-driven."""

from __future__ import annotations

from typing import Any

import pytest

from miniorch.reconcile import configrefs
from miniorch.reconcile.configrefs import Data, File, Missing, Resolved
from miniorch.spec.pod import PodSpec

CM = {"app": Data(env={"mode": "fast", "level": "3"}, files={"mode": b"fast", "level": b"3", "logo.png": b"\x89PNG"})}
SECRETS = {"db": Data(env={"password": "s3cret", "user": "etl"}, files={"password": b"s3cret", "user": b"etl"})}


def pod(container: dict[str, Any] | None = None, volumes: list[dict[str, Any]] | None = None) -> PodSpec:
    c = {"name": "c", "image": "busybox", **(container or {})}
    return PodSpec.model_validate({"containers": [c], "volumes": volumes or []})


def env(*items: dict[str, Any]) -> dict[str, Any]:
    return {"env": list(items)}


def key_ref(kind: str, name: str, key: str, optional: bool = False) -> dict[str, Any]:
    return {kind: {"name": name, "key": key, "optional": optional}}


@pytest.mark.parametrize(
    ("container", "expected"),
    [
        pytest.param(
            env({"name": "PW", "valueFrom": key_ref("secretKeyRef", "db", "password")}, {"name": "X", "value": "1"}),
            {"PW": "s3cret", "X": "1"},
            id="secretKeyRef-and-a-literal",
        ),
        pytest.param(
            env({"name": "M", "valueFrom": key_ref("configMapKeyRef", "app", "mode")}),
            {"M": "fast"},
            id="configMapKeyRef",
        ),
        pytest.param(
            env({"name": "M", "valueFrom": key_ref("configMapKeyRef", "gone", "mode", optional=True)}),
            {},
            id="optional-object-missing-leaves-the-variable-out",
        ),
        pytest.param(
            env({"name": "M", "valueFrom": key_ref("secretKeyRef", "db", "nope", optional=True)}),
            {},
            id="optional-key-missing-leaves-the-variable-out",
        ),
        pytest.param(
            {
                "envFrom": [{"configMapRef": {"name": "app"}, "prefix": "APP_"}, {"secretRef": {"name": "db"}}],
                "env": [{"name": "user", "value": "override"}],
            },
            {"APP_mode": "fast", "APP_level": "3", "password": "s3cret", "user": "override"},
            id="envFrom-with-prefix-then-env-wins",
        ),
        pytest.param(
            {"envFrom": [{"secretRef": {"name": "gone", "optional": True}}]}, {}, id="optional-envFrom-missing"
        ),
    ],
)
def test_env_is_resolved_as_the_kubelet_does(container: dict[str, Any], expected: dict[str, str]) -> None:
    """envFrom first (prefix), then env in order, later names winning; optional refs may be absent."""
    result = configrefs.resolve(pod(container), "default", CM, SECRETS)
    assert isinstance(result, Resolved) and result.env == expected and result.files == ()


@pytest.mark.parametrize(
    ("container", "volumes", "message"),
    [
        pytest.param(
            env({"name": "PW", "valueFrom": key_ref("secretKeyRef", "gone", "password")}),
            [],
            'secret "gone" not found',
            id="secret-missing",
        ),
        pytest.param(
            env({"name": "PW", "valueFrom": key_ref("secretKeyRef", "db", "token")}),
            [],
            "couldn't find key token in Secret default/db",
            id="secret-key-missing",
        ),
        pytest.param(
            env({"name": "M", "valueFrom": key_ref("configMapKeyRef", "app", "logo.png")}),
            [],
            "couldn't find key logo.png in ConfigMap default/app",
            id="binaryData-is-no-env-value",
        ),
        pytest.param(
            {"envFrom": [{"configMapRef": {"name": "gone"}}]}, [], 'configmap "gone" not found', id="envFrom-missing"
        ),
        pytest.param(
            {},
            [{"name": "cfg", "configMap": {"name": "gone"}}],
            'MountVolume.SetUp failed for volume "cfg" : configmap "gone" not found',
            id="volume-object-missing",
        ),
        pytest.param(
            {},
            [{"name": "s", "secret": {"secretName": "db", "items": [{"key": "token", "path": "t"}]}}],
            'MountVolume.SetUp failed for volume "s" : secret references non-existent config key: token',
            id="volume-item-key-missing",
        ),
    ],
)
def test_a_missing_object_or_key_is_named(
    container: dict[str, Any], volumes: list[dict[str, Any]], message: str
) -> None:
    """What is missing is worded as the kubelet words it, naming the object and key (never a value)."""
    assert configrefs.resolve(pod(container, volumes), "default", CM, SECRETS) == Missing(message)


def test_volume_files_take_items_paths_modes_and_defaultMode() -> None:
    """All keys at defaultMode, or only `items` at their paths (own mode wins); folders are read-only."""
    volumes = [
        {"name": "cfg", "configMap": {"name": "app", "defaultMode": 0o440}},
        {"name": "s", "secret": {"secretName": "db", "items": [{"key": "password", "path": "db/pw", "mode": 0o400}]}},
    ]
    mounts = {"volumeMounts": [{"name": "cfg", "mountPath": "/etc/app"}, {"name": "s", "mountPath": "/run/s"}]}
    result = configrefs.resolve(pod(mounts, volumes), "default", CM, SECRETS)
    assert isinstance(result, Resolved)
    assert result.files == (
        File("/etc/app", mode=0o555, is_dir=True),
        File("/etc/app/level", b"3", 0o440),
        File("/etc/app/logo.png", b"\x89PNG", 0o440),
        File("/etc/app/mode", b"fast", 0o440),
        File("/run/s", mode=0o555, is_dir=True),
        File("/run/s/db", mode=0o555, is_dir=True),
        File("/run/s/db/pw", b"s3cret", 0o400),
    )


def test_a_subpath_mounts_one_file_and_optional_volumes_may_be_missing() -> None:
    """subPath puts one key at mountPath; an optional volume whose object is missing gives an empty folder."""
    volumes = [
        {"name": "s", "secret": {"secretName": "db"}},
        {"name": "o", "configMap": {"name": "gone", "optional": True}},
    ]
    mounts = {
        "volumeMounts": [
            {"name": "s", "mountPath": "/etc/pw", "subPath": "password"},
            {"name": "o", "mountPath": "/opt/o"},
        ]
    }
    result = configrefs.resolve(pod(mounts, volumes), "default", CM, SECRETS)
    assert isinstance(result, Resolved)
    assert result.files == (File("/etc/pw", b"s3cret", 0o644), File("/opt/o", mode=0o555, is_dir=True))


def test_wanted_names_what_a_pod_reads_or_none() -> None:
    """The objects a spec reads, by kind; a pod that reads none needs no store read at its launch."""
    assert configrefs.wanted(pod(env({"name": "A", "value": "1"}))) is None
    spec = pod(
        {
            "envFrom": [{"secretRef": {"name": "db"}}],
            "env": [{"name": "M", "valueFrom": key_ref("configMapKeyRef", "a", "k")}],
        },
        [{"name": "v", "configMap": {"name": "b"}}],
    )
    assert configrefs.wanted(spec) == configrefs.Wanted(frozenset({"a", "b"}), frozenset({"db"}))


def test_resolved_values_are_not_in_reprs() -> None:
    """A log line that prints a resolution shows no value."""
    result = configrefs.resolve(
        pod(env({"name": "PW", "valueFrom": key_ref("secretKeyRef", "db", "password")})), "default", CM, SECRETS
    )
    assert "s3cret" not in repr(result) and "s3cret" not in repr(SECRETS)
