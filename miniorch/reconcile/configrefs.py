"""Pure resolution of a pod's ConfigMap and Secret references into its environment and files (DESIGN 9).

`wanted(spec)` says which objects a pod spec reads; `resolve(spec, namespace, configmaps, secrets)`
turns the spec and the objects found into the container's env (envFrom first, then env in order,
later names winning, as the kubelet does) and the files of its configMap/secret volume mounts,
or the first missing object or key that is not optional, worded as the kubelet words it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from miniorch.errors import MiniorchError
from miniorch.spec.container import Container
from miniorch.spec.pod import ConfigMapVolumeSource, KeyToPath, PodSpec, SecretVolumeSource, Volume

#: The pod's waiting reason while a reference cannot be resolved (Kubernetes').
REASON = "CreateContainerConfigError"
#: Folders made for config volumes: readable and searchable, not writable (by non-root processes).
DIR_MODE = 0o555


@dataclass(frozen=True)
class Data:
    """One ConfigMap's or Secret's content: `env` the values env may read (a ConfigMap's `data`,
    a Secret's decoded `data`), `files` every key as a volume shows it."""

    env: Mapping[str, str] = field(repr=False)
    files: Mapping[str, bytes] = field(repr=False)


@dataclass(frozen=True)
class Wanted:
    """The ConfigMaps and Secrets (names in the pod's namespace) a pod spec reads."""

    configmaps: frozenset[str]
    secrets: frozenset[str]


@dataclass(frozen=True)
class File:
    path: str  # absolute, in the container
    data: bytes = field(default=b"", repr=False)
    mode: int = 0o644
    is_dir: bool = False


@dataclass(frozen=True)
class Resolved:
    env: dict[str, str] = field(repr=False)  # the container's env from its template (literals included)
    files: tuple[File, ...] = ()


@dataclass(frozen=True)
class Missing:
    """A reference that is not optional and not there: the pod waits (REASON, `message`)."""

    message: str


class _Missing(MiniorchError):
    """Raised inside `resolve` only, and returned from it as a Missing."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def wanted(spec: PodSpec) -> Wanted | None:
    """What `spec` reads, or None when it reads no ConfigMap or Secret (the launch does nothing more)."""
    configmaps: set[str] = set()
    secrets: set[str] = set()
    for c in spec.containers:
        for env in c.env:
            source = env.value_from
            if source is not None and source.config_map_key_ref is not None:
                configmaps.add(source.config_map_key_ref.name)
            elif source is not None and source.secret_key_ref is not None:
                secrets.add(source.secret_key_ref.name)
        for env_from in c.env_from:
            if env_from.config_map_ref is not None:
                configmaps.add(env_from.config_map_ref.name)
            elif env_from.secret_ref is not None:
                secrets.add(env_from.secret_ref.name)
    for volume in spec.volumes:
        if volume.config_map is not None:
            configmaps.add(volume.config_map.name)
        elif volume.secret is not None:
            secrets.add(volume.secret.secret_name)
    if not configmaps and not secrets:
        return None
    return Wanted(frozenset(configmaps), frozenset(secrets))


def resolve(
    spec: PodSpec, namespace: str, configmaps: Mapping[str, Data], secrets: Mapping[str, Data]
) -> Resolved | Missing:
    """The container's env and files; Missing for the first reference that cannot be met."""
    try:
        env = _env(spec.container, namespace, configmaps, secrets)
        volumes = {v.name: _volume_files(v, configmaps, secrets) for v in spec.volumes if v.holds_config}
    except _Missing as missing:
        return Missing(missing.message)
    return Resolved(env, tuple(_mounted(spec.container, volumes)))


def _env(c: Container, namespace: str, configmaps: Mapping[str, Data], secrets: Mapping[str, Data]) -> dict[str, str]:
    env: dict[str, str] = {}
    for source in c.env_from:
        ref, kind, found = (
            (source.config_map_ref, "configmap", configmaps)
            if source.config_map_ref is not None
            else (source.secret_ref, "secret", secrets)
        )
        assert ref is not None
        data = found.get(ref.name)
        if data is None:
            if ref.optional:
                continue
            raise _Missing(f'{kind} "{ref.name}" not found')
        # Keys that cannot be variable names are left out, as the kubelet does.
        env.update({source.prefix + k: v for k, v in data.env.items() if "=" not in source.prefix + k})
    for var in c.env:
        if var.value_from is None:
            env[var.name] = var.value
            continue
        key_ref, kind, found = (
            (var.value_from.config_map_key_ref, "ConfigMap", configmaps)
            if var.value_from.config_map_key_ref is not None
            else (var.value_from.secret_key_ref, "Secret", secrets)
        )
        assert key_ref is not None
        data = found.get(key_ref.name)
        if data is None:
            if not key_ref.optional:
                raise _Missing(f'{kind.lower()} "{key_ref.name}" not found')
        elif key_ref.key in data.env:
            env[var.name] = data.env[key_ref.key]
        elif not key_ref.optional:
            raise _Missing(f"couldn't find key {key_ref.key} in {kind} {namespace}/{key_ref.name}")
    return env


def _volume_files(
    volume: Volume, configmaps: Mapping[str, Data], secrets: Mapping[str, Data]
) -> dict[str, tuple[bytes, int]]:
    """The volume's files by their path inside it, with their modes."""
    source: ConfigMapVolumeSource | SecretVolumeSource
    if volume.config_map is not None:
        source, kind, name, found = volume.config_map, "configmap", volume.config_map.name, configmaps
    else:
        assert volume.secret is not None
        source, kind, name, found = volume.secret, "secret", volume.secret.secret_name, secrets
    data = found.get(name)
    if data is None:
        if source.optional:
            return {}
        raise _Missing(f'MountVolume.SetUp failed for volume "{volume.name}" : {kind} "{name}" not found')
    items: list[KeyToPath] = source.items or [KeyToPath(key=k, path=k) for k in sorted(data.files)]
    files: dict[str, tuple[bytes, int]] = {}
    for item in items:
        if item.key not in data.files:
            if source.optional:
                continue
            raise _Missing(
                f'MountVolume.SetUp failed for volume "{volume.name}" : {kind} references non-existent '
                f"config key: {item.key}"
            )
        mode = item.mode if item.mode is not None else source.default_mode
        files[posixpath.normpath(item.path)] = (data.files[item.key], mode)
    return files


def _mounted(c: Container, volumes: Mapping[str, dict[str, tuple[bytes, int]]]) -> Iterator[File]:
    """The files of each config volume mount at its mountPath (a subPath picks a file or folder of it)."""
    for mount in c.volume_mounts:
        if mount.name not in volumes:
            continue
        root = posixpath.normpath(mount.mount_path)
        files = volumes[mount.name]
        if mount.sub_path is not None:
            sub = posixpath.normpath(mount.sub_path)
            if sub in files:
                data, mode = files[sub]
                yield File(root, data, mode)
                continue
            files = {p[len(sub) + 1 :]: v for p, v in files.items() if p.startswith(sub + "/")}
        yield File(root, mode=DIR_MODE, is_dir=True)
        folders: set[str] = set()
        for path, (data, mode) in sorted(files.items()):
            parent = posixpath.dirname(path)
            while parent and parent not in folders:
                folders.add(parent)
                yield File(posixpath.join(root, parent), mode=DIR_MODE, is_dir=True)
                parent = posixpath.dirname(parent)
            yield File(posixpath.join(root, path), data, mode)
