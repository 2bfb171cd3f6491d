"""Trust rules for a node's config entry: which transport a URL means and what it needs.

`tcp://` is TLS with a CA, a client certificate and key; `ssh://` needs an identity
file nobody else can read; plain TCP only with `insecure: true`. `check` raises
ValueError with one line naming the node, the key and the fix (config exit 2).
"""

from __future__ import annotations

import os
import stat
import urllib.parse
from pathlib import Path
from typing import Protocol


class _Tls(Protocol):
    ca: Path | None
    cert: Path | None
    key: Path | None
    server_name: str | None


class _Ssh(Protocol):
    identity_file: Path | None
    known_hosts: Path | None


class _Node(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def tls(self) -> _Tls | None: ...
    @property
    def ssh(self) -> _Ssh | None: ...
    @property
    def insecure(self) -> bool: ...


def transport(url: str, insecure: bool) -> str:
    """unix | tls | ssh | tcp-insecure."""
    scheme = url.partition("://")[0]
    if scheme == "tcp":
        return "tcp-insecure" if insecure else "tls"
    return scheme


def check(node: _Node) -> None:
    """Refuse a node entry whose engine could not be trusted as written."""
    where = f"node {node.name!r} ({node.url})"
    scheme = node.url.partition("://")[0]
    _host_port(node, where, scheme)
    if node.insecure and scheme != "tcp":
        raise ValueError(f"{where}: insecure: true applies to tcp:// nodes only; remove it")
    if node.tls is not None and scheme != "tcp":
        raise ValueError(f"{where}: tls applies to tcp:// nodes only; remove the tls block")
    if node.ssh is not None and scheme != "ssh":
        raise ValueError(f"{where}: ssh applies to ssh:// nodes only; remove the ssh block")
    if scheme == "tcp":
        _check_tcp(node, where)
    elif scheme == "ssh":
        _check_ssh(node, where)


def _host_port(node: _Node, where: str, scheme: str) -> None:
    if scheme == "unix":
        return
    parsed = urllib.parse.urlsplit(node.url)
    try:
        port = parsed.port
    except ValueError:
        port = -1
    if not parsed.hostname or port == -1 or (parsed.path not in ("", "/")):
        form = "tcp://HOST:PORT" if scheme == "tcp" else "ssh://[USER@]HOST[:PORT]"
        raise ValueError(f"{where}: url is not of the form {form}")
    if scheme == "tcp" and port is None:
        raise ValueError(f"{where}: url needs a port, e.g. tcp://{parsed.hostname}:2376")


def _check_tcp(node: _Node, where: str) -> None:
    tls = node.tls
    if node.insecure:
        if tls is not None:
            raise ValueError(f"{where}: insecure: true and a tls block contradict; remove one of them")
        return
    fix = "set tls: {ca, cert, key} (see README, remote nodes), or insecure: true for plain TCP"
    if tls is None:
        raise ValueError(f"{where}: tcp:// means TLS, and the tls block is missing; {fix}")
    for key in ("ca", "cert", "key"):
        path = getattr(tls, key)
        if path is None:
            raise ValueError(f"{where}: tls.{key} is missing; tcp:// needs tls.ca, tls.cert and tls.key, or {fix}")
        _readable(path, where, f"tls.{key}")


def _check_ssh(node: _Node, where: str) -> None:
    ssh = node.ssh
    if ssh is None or ssh.identity_file is None:
        raise ValueError(
            f"{where}: ssh.identity_file is missing; set ssh: {{identity_file: PATH}} "
            "(the private key of the remote user; no SSH agent is used)"
        )
    _readable(ssh.identity_file, where, "ssh.identity_file")
    mode = ssh.identity_file.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ValueError(
            f"{where}: ssh.identity_file {ssh.identity_file} is readable by others (mode {stat.S_IMODE(mode):04o}); "
            f"run 'chmod 600 {ssh.identity_file}'"
        )
    if ssh.known_hosts is not None:
        _readable(ssh.known_hosts, where, "ssh.known_hosts")


def _readable(path: Path, where: str, key: str) -> None:
    try:
        with open(path, "rb") as f:
            f.read(1)
    except FileNotFoundError:
        raise ValueError(f"{where}: {key} {path} does not exist; fix the path") from None
    except IsADirectoryError:
        raise ValueError(f"{where}: {key} {path} is a directory; give the file") from None
    except OSError as exc:
        why = exc.strerror or "unreadable"
        raise ValueError(
            f"{where}: {key} {path} cannot be read ({why}); fix its permissions for the daemon's user"
        ) from None
    if not os.path.isfile(path):
        raise ValueError(f"{where}: {key} {path} is not a regular file")
