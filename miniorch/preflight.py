"""Pre-flight: every config problem found before the daemon does anything.

`validate(source)` loads the config and checks the files and folders its keys
name (token file, TLS pair, socket folder and group, state_dir, manifests_dir,
the SQLite file's folder) without touching a node, so `miniorch daemon
--check-config`, start-up and SIGHUP reload refuse a bad config the same way,
with one line per problem naming the file, the key and the fix.
"""

from __future__ import annotations

import grp
import os
import ssl
import stat
from pathlib import Path

from miniorch import config as config_mod
from miniorch.api import auth


def validate(source: config_mod.Source) -> config_mod.Config:
    """The config of `source`, or `ConfigError` listing every problem."""
    try:
        config = config_mod.load(source.path)
    except config_mod.ConfigError as exc:
        if source.origin == f"${config_mod.ENV_CONFIG}" and source.path and not source.path.exists():
            raise config_mod.ConfigError(
                [f"{exc} (named by ${config_mod.ENV_CONFIG}; unset it or point it at a file)"]
            ) from exc
        raise
    problems = [f"{source.where}: {p}" for p in check(config)]
    if problems:
        raise config_mod.ConfigError(problems)
    return config


def check(config: config_mod.Config) -> list[str]:
    """Problems with the files and folders the config names (`key: what is wrong; fix`)."""
    api = config.api
    problems = [
        *_writable_dir("state_dir", config.state_dir),
        *_manifests_dir(config.manifests_dir),
        *_socket(api),
        *_sqlite(config.database),
    ]
    if api.tcp and api.token_file:
        try:
            auth.read_token(api.token_file)
        except auth.TokenError as exc:
            problems.append(str(exc))
    if api.tls_cert and api.tls_key:
        problems += _tls_pair(api.tls_cert, api.tls_key)
    try:
        config_mod.read_database_password(config)
    except config_mod.ConfigError as exc:
        problems += exc.problems
    problems += _secrets_key(config)
    return problems


def _secrets_key(config: config_mod.Config) -> list[str]:
    """An existing key file must be private and hold a key; a missing one needs a folder to be made in."""
    from miniorch.store import secretbox  # cryptography: only the daemon pays for it

    path = config.secrets_key_file
    problem = secretbox.key_file_problem(path)
    if problem:
        return [problem]
    if not path.exists() and config.secrets.key_file is not None:
        return _writable_dir("secrets.key_file", path.parent)
    return []


def _writable_dir(key: str, path: Path) -> list[str]:
    """`path` is a folder we can write, or one we can create (its nearest existing parent is writable)."""
    if path.exists():
        if not path.is_dir():
            return [f"{key}: {path} is not a folder; point {key} at a folder"]
        if not os.access(path, os.W_OK | os.X_OK):
            return [
                f"{key}: {path} is not writable by uid {os.geteuid()}; fix its owner or mode, or set {key} elsewhere"
            ]
        return []
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return [f"{key}: {path} cannot be created: {parent} is not a folder; set {key} elsewhere"]
    if not os.access(parent, os.W_OK | os.X_OK):
        return [
            f"{key}: {path} does not exist and {parent} is not writable by uid {os.geteuid()} to create it; "
            f"create it (install -d {path}) or set {key} elsewhere"
        ]
    return []


def _manifests_dir(path: Path) -> list[str]:
    """A missing watched folder is allowed (a warning at start); one that exists must be a readable folder."""
    if not path.exists():
        return []
    if not path.is_dir():
        return [f"manifests_dir: {path} is not a folder; point manifests_dir at the folder of your manifests"]
    if not os.access(path, os.R_OK | os.X_OK):
        return [f"manifests_dir: {path} is not readable by uid {os.geteuid()}; fix its mode (chmod u+rx) or owner"]
    return []


def _socket(api: config_mod.ApiConfig) -> list[str]:
    folder = api.socket.parent
    problems = _writable_dir("api.socket", folder)
    if folder.is_dir():
        mode = folder.stat().st_mode
        if mode & stat.S_IWOTH and not mode & stat.S_ISVTX:
            problems.append(
                f"api.socket: the folder {folder} is world-writable and not sticky; "
                f"fix it with 'chmod o-w {folder}' or set api.socket elsewhere"
            )
    if api.socket_group:
        try:
            grp.getgrnam(api.socket_group)
        except KeyError:
            problems.append(
                f"api.socket_group: there is no group {api.socket_group!r}; create it (groupadd) or set another"
            )
    return problems


def _sqlite(url: str | None) -> list[str]:
    """The folder of an SQLite file given in `database` must be writable (SQLite's WAL files live there)."""
    prefix = "sqlite:///"
    if not url or not url.startswith(prefix) or ":memory:" in url:
        return []
    folder = Path(url.removeprefix(prefix).split("?", 1)[0]).parent
    return _writable_dir("database", folder)


def _tls_pair(cert: Path, key: Path) -> list[str]:
    """The TCP listener's certificate and key can be read and belong together."""
    problems = []
    for name, path in (("api.tls_cert", cert), ("api.tls_key", key)):
        try:
            with path.open("rb"):
                pass
        except OSError as exc:
            problems.append(f"{name}: cannot read {path}: {exc.strerror}; check the path and its mode")
    if problems:
        return problems
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(str(cert), str(key))
    except ssl.SSLError as exc:
        return [
            f"api.tls_cert/api.tls_key: {cert} and {key} are not a PEM certificate and its private key "
            f"({exc.reason or exc}); give the pair the listener should serve"
        ]
    return []
