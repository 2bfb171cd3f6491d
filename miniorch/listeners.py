"""The API's listeners: the unix socket (file mode and group) and the optional TCP one (bearer
token, always TLS: the configured certificate or the daemon's own, `tlsca`), both uvicorn servers
that leave the process's signals to the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import stat
from pathlib import Path
from typing import Any

import structlog
import uvicorn

from miniorch import config as config_mod
from miniorch import supervise
from miniorch.api import auth
from miniorch.errors import MiniorchError

log = structlog.get_logger(__name__)

# SIGTERM lets requests finish this long; an open stream (`logs -f`, `get -w`) would otherwise hold
# the daemon up for as long as its client keeps it open.
GRACEFUL_SECONDS = 3


class DaemonError(MiniorchError):
    """The daemon cannot start; the message says why and what to do."""


class Server(uvicorn.Server):
    """uvicorn, minus its signal handling: the daemon owns the process's signals."""

    def install_signal_handlers(self) -> None:  # uvicorn < 0.29
        return None

    @contextlib.contextmanager
    def capture_signals(self) -> Any:  # uvicorn >= 0.29
        yield


def prepare_socket(path: Path, group: str | None) -> None:
    """Create the socket's folder safely and clear a stale socket file."""
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True, mode=0o750)
    mode = folder.stat().st_mode
    if mode & stat.S_IWOTH and not mode & stat.S_ISVTX:
        raise DaemonError(
            f"socket folder {folder} is world-writable and not sticky; "
            f"fix it with 'chmod o-w {folder}' or set api.socket elsewhere"
        )
    if path.exists() or path.is_symlink():
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
        except OSError:
            path.unlink()  # stale, left by a crash
        else:
            raise DaemonError(f"another miniorch daemon is already serving {path}; stop it first")
        finally:
            probe.close()


def secure_socket(path: Path, mode: int, group: str | None) -> None:
    if group:
        import grp

        os.chown(path, -1, grp.getgrnam(group).gr_gid)
    os.chmod(path, mode)


def guarded(app: Any, token: bytes, dashboard: bool) -> Any:
    if not dashboard:
        return auth.TokenAuth(app, token)
    from miniorch.ui import session

    return session.Gate(app, token)


def tls_files(api: config_mod.ApiConfig, host: str, state_dir: Path) -> tuple[str, str, bool]:
    """The listener's certificate and key: api.tls_cert/tls_key, else the daemon's own (tlsca), and
    whether they are the self-made ones."""
    if api.tls_cert and api.tls_key:
        return str(api.tls_cert), str(api.tls_key), False
    from miniorch import tlsca  # cryptography: only a TCP listener without its own certificate needs it

    try:
        made = tlsca.ensure(state_dir, host)
    except (OSError, ValueError) as exc:
        raise DaemonError(f"could not make the TCP listener's certificate in {state_dir / 'tls'}: {exc}") from exc
    return str(made.cert), str(made.key), True


async def serve_tcp(
    app: Any, api: config_mod.ApiConfig, tasks: list[asyncio.Task[Any]], state_dir: Path, dashboard: bool = False
) -> list[Server]:
    """Start the optional TCP listener (bearer token, always TLS); its task joins `tasks`.
    With the dashboard, `/ui` takes a login form and a session cookie instead of the bearer token."""
    if not api.tcp or not api.token_file:
        return []
    try:
        token = auth.read_token(api.token_file)
    except auth.TokenError as exc:
        raise DaemonError(str(exc)) from exc
    host, port = config_mod.parse_tcp(api.tcp)
    certfile, keyfile, self_made = tls_files(api, host, state_dir)
    tls = {"ssl_certfile": certfile, "ssl_keyfile": keyfile}
    server = Server(
        uvicorn.Config(
            guarded(app, token, dashboard),
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=GRACEFUL_SECONDS,
            **tls,  # type: ignore[arg-type]
        )
    )
    task = supervise.spawn(server.serve(), "api-tcp")
    tasks.append(task)
    while not server.started:
        if task.done():
            raise DaemonError(
                f"the API could not listen on tcp {api.tcp}; is the port in use or the TLS key unreadable?"
            )
        await asyncio.sleep(0.01)
    log.info("api_tcp_listening", address=api.tcp, tls=True, certificate=certfile, self_made=self_made)
    return [server]
