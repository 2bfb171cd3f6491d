"""The daemon's configuration file: where it is, keys, defaults and validation.

Every key has a default, so `miniorch daemon` with no file runs on the local
Docker socket. The file is `--config`, else `$MINIORCH_CONFIG`, else
/etc/miniorch/miniorch.yaml when it exists, else none (`resolve`). A bad file
raises `ConfigError` with one line per problem naming the file and key; the CLI
turns it into exit code 2. Checks of the files the keys name are in `preflight`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from miniorch import nodeconfig
from miniorch.alerts import receivers as alert_receivers
from miniorch.errors import MiniorchError
from miniorch.paths import default_socket, default_state_dir

DEFAULT_DOCKER_URL = "unix:///var/run/docker.sock"
#: The system-wide config file, read when neither --config nor $MINIORCH_CONFIG names one.
SYSTEM_CONFIG = Path("/etc/miniorch/miniorch.yaml")
ENV_CONFIG = "MINIORCH_CONFIG"


class ConfigError(MiniorchError):
    """The config cannot be used: one line per problem, each naming the file, the key and the fix."""

    def __init__(self, problems: str | Sequence[str]) -> None:
        self.problems = (problems,) if isinstance(problems, str) else tuple(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class Source:
    """Where the config comes from: a file (and what named it), or the embedded defaults."""

    path: Path | None
    origin: str  # "--config", "$MINIORCH_CONFIG", the system path, or "defaults"

    def __str__(self) -> str:
        return str(self.path) if self.path else "embedded defaults"

    @property
    def where(self) -> str:
        """How problems name it: `config file PATH` or `embedded defaults`."""
        return f"config file {self.path}" if self.path else "embedded defaults"


def resolve(path: Path | None, environ: Mapping[str, str] | None = None, system: Path = SYSTEM_CONFIG) -> Source:
    """`--config`, else `$MINIORCH_CONFIG`, else `system` when it exists, else the defaults."""
    if path is not None:
        return Source(path, "--config")
    env = (os.environ if environ is None else environ).get(ENV_CONFIG)
    if env:
        return Source(Path(env), f"${ENV_CONFIG}")
    if system.exists():
        return Source(system, str(system))
    return Source(None, "defaults")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ApiConfig(_Strict):
    socket: Path = Field(default_factory=default_socket)
    socket_mode: str = "0660"
    socket_group: str | None = None
    tcp: str | None = None
    token_file: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None

    @field_validator("socket_mode", mode="before")
    @classmethod
    def _mode_from_yaml_int(cls, value: object) -> object:
        # YAML reads an unquoted 0660 as the octal number 432.
        return f"0{value:o}" if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("socket_mode")
    @classmethod
    def _mode(cls, value: str) -> str:
        try:
            mode = int(value, 8)
        except ValueError as exc:
            raise ValueError(f'{value!r} is not an octal mode like "0660"') from exc
        if mode & 0o002:
            raise ValueError(f'{value!r} would make the socket world-writable; use "0660"')
        return value

    @model_validator(mode="after")
    def _token_with_tcp(self) -> ApiConfig:
        if self.tcp and not self.token_file:
            raise ValueError("api.tcp is set, so api.token_file is required (the TCP API needs a bearer token)")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("api.tls_cert and api.tls_key go together; set both or neither")
        if self.tcp:
            parse_tcp(self.tcp)  # any address: without tls_cert the daemon makes its own CA (miniorch.tlsca)
        return self

    @property
    def mode(self) -> int:
        return int(self.socket_mode, 8)


def parse_tcp(value: str) -> tuple[str, int]:
    """`host:port` or `[v6]:port` of the TCP listener."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not host or not 0 < int(port) < 65536:
        raise ValueError(f"api.tcp {value!r} is not HOST:PORT, e.g. 127.0.0.1:7390")
    return host.strip("[]"), int(port)


class TlsConfig(_Strict):
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    server_name: str | None = None  # the name the engine's certificate carries, when not the URL's host


class SshConfig(_Strict):
    identity_file: Path | None = None
    known_hosts: Path | None = None  # default: the daemon user's ~/.ssh/known_hosts


class NodeConfig(_Strict):
    """One Docker Engine. Trust comes from these keys alone (see `nodeconfig.check`)."""

    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)
    url: str = DEFAULT_DOCKER_URL
    labels: dict[str, str] = Field(default_factory=dict)
    tls: TlsConfig | None = None
    ssh: SshConfig | None = None
    insecure: bool = False

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if not value.startswith(("unix://", "tcp://", "ssh://")):
            raise ValueError(f"{value!r} is not a Docker URL; use unix://, tcp:// or ssh://")
        return value

    @model_validator(mode="after")
    def _trust(self) -> NodeConfig:
        nodeconfig.check(self)
        return self

    @property
    def transport(self) -> str:
        """unix | tls | ssh | tcp-insecure, as `ctl get nodes -o wide` shows it."""
        return nodeconfig.transport(self.url, self.insecure)


class PolicyConfig(_Strict):
    allow_privileged: bool = False
    allow_host_network: bool = False
    allowed_host_paths: list[str] = Field(default_factory=list)


class TimingConfig(_Strict):
    job_backoff_initial_seconds: float = Field(default=10, gt=0)
    job_backoff_max_seconds: float = Field(default=360, gt=0)
    node_heartbeat_seconds: float = Field(default=2, gt=0)
    node_timeout_seconds: float = Field(default=10, gt=0)


class LogConfig(_Strict):
    format: Literal["auto", "json", "console"] = "auto"
    level: Literal["debug", "info", "warning", "error"] = "info"


class HaConfig(_Strict):
    """Several daemons share one PostgreSQL database and the same nodes; one leads (DESIGN 8)."""

    enabled: bool = False
    name: str | None = None  # this daemon's name in the lease; default: the host name
    lease_seconds: float = Field(default=15, ge=1)


class DashboardConfig(_Strict):
    """The read-only web dashboard at `/ui` on the API listeners (DESIGN 12)."""

    enabled: bool = True


class SecretsConfig(_Strict):
    """Where the key that encrypts Secret data at rest lives (DESIGN 9); made 0600 at first start."""

    key_file: Path | None = None  # default: state_dir/secret.key


class Config(_Strict):
    state_dir: Path = Field(default_factory=default_state_dir)
    database: str | None = None
    database_password_file: Path | None = None
    ha: HaConfig = Field(default_factory=HaConfig)
    manifests_dir: Path = Path("./jobs.d")
    api: ApiConfig = Field(default_factory=ApiConfig)
    nodes: list[NodeConfig] = Field(default_factory=lambda: [NodeConfig(name="local")])
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    timing: TimingConfig = Field(default_factory=TimingConfig)
    log: LogConfig = Field(default_factory=LogConfig)
    dashboard: DashboardConfig = Field(default_factory=DashboardConfig)
    secrets: SecretsConfig = Field(default_factory=SecretsConfig)
    notify: list[alert_receivers.Receiver] = Field(default_factory=list)  # failure notifications (DESIGN 12)

    @field_validator("notify")
    @classmethod
    def _unique_receivers(cls, receivers: list[alert_receivers.Receiver]) -> list[alert_receivers.Receiver]:
        alert_receivers.unique_names(receivers)
        return receivers

    @field_validator("nodes")
    @classmethod
    def _unique_nodes(cls, nodes: list[NodeConfig]) -> list[NodeConfig]:
        seen: set[str] = set()
        for node in nodes:
            if node.name in seen:
                raise ValueError(f"node name {node.name!r} appears twice")
            seen.add(node.name)
        if not nodes:
            raise ValueError("at least one node is needed")
        return nodes

    @field_validator("database")
    @classmethod
    def _database(cls, value: str | None) -> str | None:
        if value and not value.startswith(("sqlite:", "postgresql")):
            raise ValueError(f"{value!r}: use null (SQLite in state_dir) or a postgresql:// URL")
        return value

    @model_validator(mode="after")
    def _ha_needs_postgresql(self) -> Config:
        if self.ha.enabled and not (self.database or "").startswith("postgresql"):
            raise ValueError(
                "ha.enabled needs a shared database: set `database: postgresql://...` "
                "(daemons cannot share a SQLite file), or set ha.enabled: false"
            )
        return self

    @property
    def secrets_key_file(self) -> Path:
        return self.secrets.key_file or self.state_dir / "secret.key"

    @property
    def database_url(self) -> str:
        return self.database or f"sqlite:///{self.state_dir / 'miniorch.db'}"


def _key(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def load(path: Path | None) -> Config:
    """Read and validate the config file; `None` gives the embedded defaults."""
    if path is None:
        return Config()
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path}: the top level must be a mapping of keys")
    try:
        return Config.model_validate(raw)
    except pydantic.ValidationError as exc:
        problems = []
        for error in exc.errors():
            msg = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                msg = "unknown key (see the config reference in README.md)"
            problems.append(f"config file {path}: {_key(error['loc'])}: {msg}")
        raise ConfigError(problems) from exc


def read_database_password(config: Config) -> str | None:
    """The password in `database_password_file` (first line), or None to leave it to libpq (.pgpass,
    PGPASSFILE, or none). Raises ConfigError for an unreadable file or one readable by everyone."""
    path = config.database_password_file
    if path is None:
        return None
    try:
        mode = path.stat().st_mode
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"database_password_file {path}: cannot read it ({exc.strerror})") from exc
    if mode & stat.S_IROTH:
        raise ConfigError(f"database_password_file {path} is readable by everyone; fix it with 'chmod 600 {path}'")
    lines = text.splitlines()
    if not lines or not lines[0]:
        raise ConfigError(f"database_password_file {path} is empty; write the password on its first line")
    return lines[0]
