"""How miniorch reaches one Docker Engine: a unix socket, TLS, SSH or plain TCP.

`connect(endpoint, timeout)` builds the docker-py client of a node whose trust comes
from the node's config alone: no REQUESTS_CA_BUNDLE, SSL_CERT_FILE, proxy variable,
~/.ssh/config or SSH agent changes which engine is trusted; `nodes.trust` words its
ssl and paramiko failures (wrong CA, expired certificate, host key...) for the user.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import ssl
import threading
import urllib.parse
from dataclasses import dataclass
from typing import Any

import docker
import docker.transport.basehttpadapter
import docker.transport.sshconn
import docker.transport.unixconn
import paramiko
import requests.adapters
import urllib3
import urllib3.util.ssl_match_hostname

from miniorch.errors import MiniorchError, TemporaryError
from miniorch.nodes.calls import MAX_IN_FLIGHT

UNIX, TLS, SSH, TCP_INSECURE = "unix", "tls", "ssh", "tcp-insecure"
_PLACEHOLDER_VERSION = "1.41"  # replaced by the engine's own before the first real call
#: Channels open at once on a node's one SSH connection: sshd refuses a session past its
#: MaxSessions (10 by default) with "Connect failed", so one stays free for `_diagnose`.
SSH_CHANNELS = 9


@dataclass(frozen=True)
class Endpoint:
    """Where a node's engine is and what proves it is the right one."""

    url: str
    transport: str = UNIX  # unix | tls | ssh | tcp-insecure
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    server_name: str | None = None
    identity_file: str | None = None
    known_hosts: str | None = None  # None: the daemon user's ~/.ssh/known_hosts

    @property
    def host(self) -> str:
        return urllib.parse.urlsplit(self.url).hostname or "localhost"

    @property
    def port(self) -> int:
        return urllib.parse.urlsplit(self.url).port or (22 if self.transport == SSH else 2376)

    @property
    def user(self) -> str:
        return urllib.parse.urlsplit(self.url).username or getpass.getuser()


def kind_of(url: str) -> str:
    """The transport a bare URL means when no config entry says more (tcp:// is then plain)."""
    scheme = url.partition("://")[0]
    return {"unix": UNIX, "ssh": SSH}.get(scheme, TCP_INSECURE)


class Dials:
    """New connections opened to one engine (thread-safe count): over TLS each costs a
    handshake, over SSH a channel running `docker system dial-stdio` on the host. Pooled
    connections are reused, so this stays flat while pods come and go."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def add(self) -> None:
        with self._lock:
            self.count += 1


def _counted(pool: Any, dials: Dials | None) -> Any:
    """`pool` (a urllib3 connection pool), its new connections counted in `dials` from now on."""
    if dials is not None and getattr(pool, "_miniorch_dials", None) is None:
        new_conn = pool._new_conn

        def counted() -> Any:
            dials.add()
            return new_conn()

        pool._new_conn = counted
        pool._miniorch_dials = dials
    return pool


def connect(
    endpoint: Endpoint,
    timeout: float,
    pool_size: int = 10,
    share: docker.DockerClient | None = None,
    dials: Dials | None = None,
) -> docker.DockerClient:
    """A DockerClient for the endpoint, API version agreed with the engine (one call); the new
    connections it opens are counted in `dials`.

    With `share` (the node's main client), an SSH endpoint's client rides on that client's
    SSH connection (a channel of its own, no new login, no version call)."""
    shared = share.api.adapters.get("http+docker://ssh") if share is not None else None
    if endpoint.transport == SSH and isinstance(shared, SshAdapter):
        api = _ssh_api(_Borrowed(shared), timeout)
        api._version = share.api._version if share is not None else _PLACEHOLDER_VERSION
        api.trust_env = False
    else:
        api = _api(endpoint, timeout, pool_size, dials)
        try:
            api._version = api._retrieve_server_version()
        except BaseException:
            api.close()
            raise
    client = docker.DockerClient.__new__(docker.DockerClient)
    client.api = api
    return client


def _ssh_api(adapter: requests.adapters.BaseAdapter, timeout: float) -> docker.APIClient:
    # base_url must not be ssh:// here: docker-py would build its own adapter, which
    # reads ~/.ssh/config, asks the SSH agent and never reconnects a dead transport.
    api = docker.APIClient(base_url="tcp://127.0.0.1:9", version=_PLACEHOLDER_VERSION, timeout=timeout)
    api.mount("http+docker://ssh", adapter)
    api._custom_adapter = adapter
    api._unmount("http://", "https://")
    api.base_url = "http+docker://ssh"
    return api


def _api(endpoint: Endpoint, timeout: float, pool_size: int, dials: Dials | None = None) -> docker.APIClient:
    t = endpoint.transport
    if t == UNIX:
        api = docker.APIClient(base_url=endpoint.url, version=_PLACEHOLDER_VERSION, timeout=timeout)
        sdk_adapter = api._custom_adapter
        api._custom_adapter = UnixAdapter(sdk_adapter.socket_path, timeout, dials)
        api.mount("http+docker://", api._custom_adapter)
        sdk_adapter.close()
    elif t == TCP_INSECURE:
        api = docker.APIClient(base_url=endpoint.url, version=_PLACEHOLDER_VERSION, timeout=timeout)
        api.mount("http://", _PlainAdapter(dials, pool_connections=1, pool_maxsize=pool_size))
    elif t == TLS:
        api = docker.APIClient(base_url=endpoint.url, version=_PLACEHOLDER_VERSION, timeout=timeout, tls=True)
        name = endpoint.server_name or endpoint.host
        api.mount("https://", TlsAdapter(tls_context(endpoint), name, pool_size, dials))
        api.verify = endpoint.ca  # unused by TlsAdapter; set so nothing reads requests' default
    elif t == SSH:
        api = _ssh_api(SshAdapter(endpoint, timeout, pool_size, dials), timeout)
    else:
        raise ValueError(f"unknown transport {t!r}")
    # Environment variables never choose the CA, a proxy or credentials for an engine.
    api.trust_env = False
    return api


# -- unix socket --------------------------------------------------------------


class UnixAdapter(docker.transport.unixconn.UnixHTTPAdapter):  # type: ignore[misc]
    """The engine's socket through one connection pool, its new connections counted.

    docker-py keys its unix pools by the whole request URL: every container a call names got a
    pool and a connection of its own (the last 25 kept, the rest garbage that only a full
    collection frees), so keep-alive served nothing and a busy daemon's memory grew."""

    def __init__(self, socket_path: str, timeout: float, dials: Dials | None) -> None:
        # Room for every call the node's gate lets through at once (a connection is only made
        # when that many run): a full pool would discard connections, with a warning each.
        super().__init__(f"http+unix://{socket_path}", timeout, pool_connections=1, max_pool_size=MAX_IN_FLIGHT)
        self._dials = dials

    def get_connection(self, url: str, proxies: Any = None) -> Any:
        return _counted(super().get_connection("http+docker://localhost", proxies), self._dials)


# -- TLS ----------------------------------------------------------------------


def tls_context(endpoint: Endpoint) -> ssl.SSLContext:
    """Trust exactly `tls.ca`; present `tls.cert`/`tls.key`. No default or env CA bundle."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_verify_locations(cafile=endpoint.ca)
    if endpoint.cert and endpoint.key:
        ctx.load_cert_chain(endpoint.cert, endpoint.key)
    return ctx


class TlsAdapter(requests.adapters.HTTPAdapter):
    """HTTPS with one fixed SSL context and the name the certificate must carry.

    requests would otherwise merge `verify` from REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE and
    load it into the context (a wrong CA accepted, the right one refused)."""

    def __init__(self, context: ssl.SSLContext, server_name: str, pool_size: int, dials: Dials | None = None) -> None:
        self._context = context
        self._server_name = server_name
        self._dials = dials
        super().__init__(pool_connections=1, pool_maxsize=pool_size)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **_: Any) -> None:
        self.poolmanager = urllib3.PoolManager(
            num_pools=connections,
            maxsize=maxsize,
            block=block,
            ssl_context=self._context,
            cert_reqs="CERT_REQUIRED",
            server_hostname=self._server_name,
            assert_hostname=self._server_name,
        )

    def get_connection_with_tls_context(
        self, request: Any, verify: Any, proxies: Any = None, cert: Any = None
    ) -> urllib3.HTTPConnectionPool:
        parts = urllib.parse.urlsplit(request.url)
        pool = self.poolmanager.connection_from_host(parts.hostname, parts.port, scheme="https")
        return _counted(pool, self._dials)  # type: ignore[no-any-return]

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        """Nothing: the context fixed at construction is the only source of trust."""


class _PlainAdapter(requests.adapters.HTTPAdapter):
    """Plain HTTP (`insecure: true`), its new connections counted."""

    def __init__(self, dials: Dials | None, **kw: Any) -> None:
        self._dials = dials
        super().__init__(**kw)

    def get_connection_with_tls_context(
        self, request: Any, verify: Any, proxies: Any = None, cert: Any = None
    ) -> urllib3.HTTPConnectionPool:
        pool = super().get_connection_with_tls_context(request, verify, proxies, cert)
        return _counted(pool, self._dials)  # type: ignore[no-any-return]


# -- SSH ----------------------------------------------------------------------


class SshAdapter(docker.transport.basehttpadapter.BaseHTTPAdapter):  # type: ignore[misc]
    """Docker over one SSH connection (paramiko): each HTTP connection is a channel
    running `docker system dial-stdio`, pooled and reused. The host key must be in
    known_hosts (never added on the fly); the key is `ssh.identity_file` only (no
    agent, no ~/.ssh/config); a dropped connection is opened again on the next call."""

    def __init__(self, endpoint: Endpoint, timeout: float, pool_size: int, dials: Dials | None = None) -> None:
        super().__init__()
        self._dials = dials
        self._endpoint = endpoint
        self._timeout = timeout
        self._pool_size = pool_size
        self._lock = threading.Lock()
        self._ssh: paramiko.SSHClient | None = None
        self._pool: docker.transport.sshconn.SSHConnectionPool | None = None

    def _open(self) -> paramiko.SSHClient:
        ep = self._endpoint
        client = paramiko.SSHClient()
        if ep.known_hosts:
            client.load_host_keys(ep.known_hosts)
        else:
            client.load_system_host_keys()
        client.set_missing_host_key_policy(_RejectUnknown())
        try:
            client.connect(
                ep.host,
                port=ep.port,
                username=ep.user,
                key_filename=ep.identity_file,
                allow_agent=False,
                look_for_keys=False,
                timeout=self._timeout,
                banner_timeout=self._timeout,
                auth_timeout=self._timeout,
                channel_timeout=self._timeout,
            )
        except BaseException:
            client.close()
            raise
        transport = client.get_transport()
        if transport is not None:
            transport.set_keepalive(max(1, int(self._timeout)))
        return client

    def _current_pool(self) -> docker.transport.sshconn.SSHConnectionPool:
        with self._lock:
            transport = self._ssh.get_transport() if self._ssh else None
            if self._pool is None or transport is None or not transport.is_active():
                self._drop()
                self._ssh = self._open()
                self._pool = _ChannelPool(self._ssh, self._timeout, min(self._pool_size, SSH_CHANNELS))
                _counted(self._pool, self._dials)
            return self._pool

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().send(request, *args, **kwargs)
        except requests.exceptions.ConnectionError as exc:
            why = self._diagnose()
            if why:
                raise DialStdioFailed(self._endpoint, why) from exc
            raise

    def _diagnose(self) -> str:
        """Why `docker system dial-stdio` fails on the host (its stderr), or "" if it works."""
        with self._lock:
            transport = self._ssh.get_transport() if self._ssh else None
        if transport is None or not transport.is_active():
            return ""
        budget = min(self._timeout, 2.0)  # on top of the failed call: keep it short
        try:
            chan = transport.open_session(timeout=budget)
            chan.settimeout(budget)
            chan.exec_command("docker system dial-stdio")
            chan.shutdown_write()  # with stdin closed a working dial-stdio exits 0 at once
            err = b""
            while len(err) < 4096 and (chunk := chan.recv_stderr(4096)):
                err += chunk
            status = chan.recv_exit_status()
            chan.close()
        except (OSError, paramiko.SSHException):
            return ""
        lines = err.decode(errors="replace").strip().splitlines()
        return (lines[0] if lines else f"exit status {status}") if status != 0 else ""

    def get_connection(self, url: Any, proxies: Any = None) -> docker.transport.sshconn.SSHConnectionPool:
        return self._current_pool()

    def get_connection_with_tls_context(
        self, request: Any, verify: Any, proxies: Any = None, cert: Any = None
    ) -> docker.transport.sshconn.SSHConnectionPool:
        return self._current_pool()

    def _drop(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if self._ssh is not None:
            self._ssh.close()
            self._ssh = None

    def close(self) -> None:
        super().close()
        with self._lock:
            self._drop()


class _ChannelPool(docker.transport.sshconn.SSHConnectionPool):  # type: ignore[misc]
    """docker-py's channel pool, bounded: at most `maxsize` channels exist at once (docker-py's
    opens one more whenever all are busy, until sshd refuses it), and a call waits for a free
    one up to the timeout, never forever (urllib3's default wait), then fails as the node's."""

    def __init__(self, ssh: paramiko.SSHClient, timeout: float, maxsize: int) -> None:
        super().__init__(ssh_client=ssh, timeout=timeout, maxsize=maxsize)
        self.block = True

    def _get_conn(self, timeout: float | None = None) -> Any:
        return super()._get_conn(self.timeout if timeout is None else timeout)


class DialStdioFailed(TemporaryError, ConnectionError):
    """The SSH login worked but `docker system dial-stdio` did not reach Docker on the host."""

    def __init__(self, endpoint: Endpoint, why: str) -> None:
        super().__init__(
            f"SSH: 'docker system dial-stdio' failed on {endpoint.host} as {endpoint.user!r}: {why}; "
            f"the docker CLI must be installed there and {endpoint.user!r} in the docker group "
            f"(try: ssh {endpoint.user}@{endpoint.host} docker version)"
        )


class _Borrowed(requests.adapters.BaseAdapter):
    """Another client's SSH adapter, used but not owned: closing this client leaves it open."""

    def __init__(self, owner: SshAdapter) -> None:
        super().__init__()
        self._owner = owner

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        return self._owner.send(request, *args, **kwargs)

    def close(self) -> None:
        """Nothing: the owner's client closes the connection."""


class UnknownHostKey(MiniorchError, paramiko.SSHException):
    """The server's host key is not in known_hosts."""

    def __init__(self, host: str, key_type: str, fingerprint: str) -> None:
        super().__init__(f"{host} not found in known_hosts")
        self.host, self.key_type, self.fingerprint = host, key_type, fingerprint


class _RejectUnknown(paramiko.MissingHostKeyPolicy):
    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        raise UnknownHostKey(hostname, key.get_name(), fingerprint(key))


def fingerprint(key: paramiko.PKey) -> str:
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def end_stream(stream: Any, client: docker.DockerClient) -> None:
    """Shut a streaming response's socket from another thread, so that its blocked reader wakes
    (docker-py's CancellableStream; over SSH closing the client ends the channel)."""
    try:
        stream.close()
    except Exception:  # a transport whose socket CancellableStream cannot reach
        client.close()
