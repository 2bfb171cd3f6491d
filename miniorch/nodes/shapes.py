"""The Docker API's shapes and ours: container rows and inspects into `ContainerState`, a
`ContainerSpec` into docker-py's create arguments. Pure functions; `client.py` makes the calls.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import docker.types

from miniorch.nodes import records
from miniorch.nodes.records import ContainerSpec, ContainerState


def parse_time(value: str | None) -> dt.datetime | None:
    if not value or value.startswith("0001-"):
        return None
    # Docker gives nanoseconds; Python takes microseconds.
    head, _, rest = value.removesuffix("Z").partition(".")
    frac = "".join(ch for ch in rest if ch.isdigit())[:6]
    parsed = dt.datetime.fromisoformat(f"{head}.{frac or '0'}+00:00")
    return parsed.astimezone(dt.UTC)


def _health(status: str) -> str:
    """Health from `docker ps`'s Status text: "Up 5 seconds (healthy)", "(health: starting)"."""
    for marker, health in (("(healthy)", "healthy"), ("(unhealthy)", "unhealthy"), ("(health: starting)", "starting")):
        if marker in status:
            return health
    return ""


def _healthcheck(check: records.HealthCheck | None) -> dict[str, Any] | None:
    if check is None:
        return None
    ns = 1_000_000_000
    return {
        "test": ["CMD", *check.command],
        "interval": int(check.interval_seconds * ns),
        "timeout": int(check.timeout_seconds * ns),
        "retries": check.retries,
        "start_period": int(check.start_period_seconds * ns),
    }


def state_of_row(row: dict[str, Any], node: str) -> ContainerState:
    """One row of `GET /containers/json` (a listing: no exit code, health from the Status text)."""
    name = (row.get("Names") or ["/?"])[0].lstrip("/")
    return ContainerState(
        id=row["Id"],
        name=name,
        node=node,
        labels=dict(row.get("Labels") or {}),
        status=str(row.get("State", "unknown")),
        health=_health(str(row.get("Status", ""))),
    )


def state_of_inspect(data: dict[str, Any], node: str) -> ContainerState:
    """`GET /containers/{id}/json`: the whole state of one container."""
    state = data.get("State", {})
    return ContainerState(
        id=data["Id"],
        name=data["Name"].lstrip("/"),
        node=node,
        labels=dict(data.get("Config", {}).get("Labels") or {}),
        status=str(state.get("Status", "unknown")),
        exit_code=int(state.get("ExitCode", 0)) if state.get("Status") in ("exited", "dead") else None,
        oom_killed=bool(state.get("OOMKilled")),
        error=str(state.get("Error") or ""),
        started_at=parse_time(state.get("StartedAt")),
        finished_at=parse_time(state.get("FinishedAt")),
        inspected=True,
        health=str((state.get("Health") or {}).get("Status") or ""),
        restart_count=int(data.get("RestartCount") or 0),
    )


def host_config_args(spec: ContainerSpec) -> dict[str, Any]:
    """docker-py's `create_host_config` arguments for the spec."""
    return {
        "nano_cpus": spec.nano_cpus,
        "mem_limit": spec.mem_limit,
        "privileged": spec.privileged,
        "network_mode": "host" if spec.host_network else None,
        "port_bindings": {f"{p.container_port}/{p.protocol}": p.host_port for p in spec.ports if p.host_port} or None,
        "mounts": [
            docker.types.Mount(
                m.target,
                m.source,
                type="volume" if m.is_volume else "bind",
                read_only=m.read_only,
                labels=dict(m.labels) or None,
            )
            for m in spec.mounts
        ]
        or None,
        "restart_policy": {"Name": spec.restart_policy} if spec.restart_policy else None,
    }


def create_args(spec: ContainerSpec) -> dict[str, Any]:
    """docker-py's `create_container` arguments for the spec, but `host_config`."""
    return {
        "image": spec.image,
        "name": spec.name,
        "entrypoint": list(spec.command) if spec.command is not None else None,
        "command": list(spec.args) if spec.args is not None else None,
        "environment": spec.env or None,
        "working_dir": spec.working_dir,
        "hostname": None if spec.host_network else spec.hostname,
        "labels": spec.labels,
        "user": spec.user,
        "ports": [f"{p.container_port}/{p.protocol}" for p in spec.ports] or None,
        "stop_timeout": spec.stop_grace_seconds,
        "healthcheck": _healthcheck(spec.healthcheck),
    }
